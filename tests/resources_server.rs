//! The resources server as a child process, over stdio and Streamable HTTP,
//! in both eras, serving a temporary directory: listing with MIME types and
//! pages, text and binary reads, notes, subscriptions and list changes (the
//! client's notifications arrive on channels, awaited with a hang guard;
//! a stateless client hears them on a `subscriptions/listen` stream), and
//! every way out of the directory refused.

mod support;

use mcp_reference::servers::resources::uri::{base64_encode, path_to_file_uri};
use mcp_sdk::{
    ErrorCode, Resource, ResourceContents, ResourceUpdatedNotificationParams, SubscriptionFilter,
};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, Subscription};
use serde_json::{json, Value};
use support::{
    http_client_in, http_server, listen, stdio_client_in, HttpServer, TempDir, PATIENCE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const EXAMPLE: &str = "resources_server";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe";

impl TempDir {
    fn uri(&self, rel: &str) -> String {
        path_to_file_uri(&self.0.join(rel)).unwrap()
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

/// What the server told the client, as it arrives.
struct Events {
    updated: mpsc::UnboundedSender<String>,
    list_changed: mpsc::UnboundedSender<()>,
}

#[async_trait]
impl ClientHandler for Events {
    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        let _ = self.updated.send(params.uri);
    }

    async fn on_resource_list_changed(&self) {
        let _ = self.list_changed.send(());
    }
}

/// A connected client, the HTTP server it talks to (if any), and the
/// notifications it hears.
struct Session {
    client: Client,
    _server: Option<HttpServer>,
    updated: mpsc::UnboundedReceiver<String>,
    list_changed: mpsc::UnboundedReceiver<()>,
    /// Stateless era: the URIs watched, and the stream that carries their
    /// updates and every list change.
    watched: Vec<String>,
    listening: Option<Subscription>,
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Stdio,
    Http,
}

const BOTH: [Via; 2] = [Via::Stdio, Via::Http];

/// Each transport in each era.
const CASES: [(Via, Era); 4] = [
    (Via::Stdio, Era::SessionOnly),
    (Via::Http, Era::SessionOnly),
    (Via::Stdio, Era::StatelessOnly),
    (Via::Http, Era::StatelessOnly),
];

async fn start(via: Via, era: Era, args: &[&str]) -> Session {
    let (updated_tx, updated) = mpsc::unbounded_channel();
    let (list_tx, list_changed) = mpsc::unbounded_channel();
    let events = Events {
        updated: updated_tx,
        list_changed: list_tx,
    };
    let mut args: Vec<&str> = args.to_vec();
    args.extend(["--poll-ms", "100"]);
    let (client, server) = match via {
        Via::Stdio => (stdio_client_in(era, EXAMPLE, &args, events).await, None),
        Via::Http => {
            let server = http_server(EXAMPLE, &args).await;
            (http_client_in(era, &server.url, events).await, Some(server))
        }
    };
    assert_eq!(client.is_stateless(), era == Era::StatelessOnly);
    let mut session = Session {
        client,
        _server: server,
        updated,
        list_changed,
        watched: Vec::new(),
        listening: None,
    };
    // Every session hears list changes unasked; a stateless client listens.
    session.relisten().await;
    session
}

impl Session {
    /// How "resource not found" is numbered: -32002 in sessions, -32602
    /// in revision 2026-07-28 (the error's `data.uri` still names it).
    fn not_found(&self) -> ErrorCode {
        if self.client.is_stateless() {
            ErrorCode::INVALID_PARAMS
        } else {
            ErrorCode::RESOURCE_NOT_FOUND
        }
    }

    /// Subscribes to `uri`: `resources/subscribe` in a session, a listen
    /// stream naming it (with the others) in the stateless era.
    async fn watch(&mut self, uri: &str) -> Result<(), ClientError> {
        if !self.client.is_stateless() {
            return self.client.subscribe(uri).await;
        }
        self.watched.push(uri.to_owned());
        self.relisten().await;
        Ok(())
    }

    /// Undoes [`watch`](Self::watch).
    async fn unwatch(&mut self, uri: &str) {
        if !self.client.is_stateless() {
            return self.client.unsubscribe(uri).await.unwrap();
        }
        self.watched.retain(|u| u != uri);
        self.relisten().await;
    }

    /// Stateless era: replaces the listen stream by one for list changes
    /// and the watched URIs, and checks that the server takes all of it.
    async fn relisten(&mut self) {
        if !self.client.is_stateless() {
            return;
        }
        let filter = SubscriptionFilter::default()
            .with_resources_list_changed(true)
            .with_resource_subscriptions(self.watched.clone());
        let sub = listen(&self.client, filter.clone()).await;
        assert_eq!(sub.acknowledged(), &filter, "the server honours it all");
        self.listening = Some(sub);
    }
}

/// Waits (with a hang guard) for an update of `uri`, skipping others.
async fn updated(session: &mut Session, uri: &str) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let got = session.updated.recv().await.expect("the client is alive");
            if got == uri {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no notifications/resources/updated for {uri}"));
}

async fn list_changed(session: &mut Session) {
    tokio::time::timeout(PATIENCE, session.list_changed.recv())
        .await
        .expect("a notifications/resources/list_changed in time")
        .expect("the client is alive");
}

fn code(err: ClientError) -> ErrorCode {
    err.code()
        .unwrap_or_else(|| panic!("not a JSON-RPC error: {err}"))
}

fn find<'a>(list: &'a [Resource], uri: &str) -> &'a Resource {
    list.iter()
        .find(|r| r.uri == uri)
        .unwrap_or_else(|| panic!("{uri} is not listed in {list:#?}"))
}

fn text_of(c: &ResourceContents) -> &str {
    match c {
        ResourceContents::Text(t) => &t.text,
        other => panic!("expected text contents, got {other:?}"),
    }
}

fn sample_dir() -> TempDir {
    let dir = TempDir::new("res-sample");
    dir.write("README.md", b"# Hello\n");
    dir.write("data/config.json", b"{\"a\": 1}\n");
    dir.write("images/logo.png", PNG);
    dir.write("Makefile", b"all:\n\techo hi\n");
    dir.write("blob.dat", b"\0\x01\x02binary");
    dir.write(".secret", b"password=hunter2\n");
    dir.write(".git/config", b"[core]\n");
    dir
}

#[tokio::test]
async fn lists_files_with_mime_types_and_reads_text_and_blobs() {
    for (via, era) in CASES {
        let dir = sample_dir();
        let s = start(via, era, &["--dir", dir.arg()]).await;
        let caps = s.client.server_capabilities().resources.clone().unwrap();
        assert_eq!(caps.subscribe, Some(true), "{via:?} {era:?}");
        assert_eq!(caps.list_changed, Some(true), "{via:?} {era:?}");

        let all = s.client.list_all_resources().await.unwrap();
        let readme = find(&all, &dir.uri("README.md"));
        assert_eq!(readme.mime_type.as_deref(), Some("text/markdown"));
        assert_eq!(readme.size, Some(8));
        assert_eq!(readme.name, "README.md");
        assert!(readme.annotations.as_ref().unwrap().last_modified.is_some());
        assert_eq!(
            find(&all, &dir.uri("data/config.json"))
                .mime_type
                .as_deref(),
            Some("application/json")
        );
        assert_eq!(
            find(&all, &dir.uri("images/logo.png")).mime_type.as_deref(),
            Some("image/png")
        );
        find(&all, "notes://welcome");
        assert!(
            all.iter()
                .all(|r| !r.uri.contains("secret") && !r.uri.contains(".git")),
            "hidden files are listed: {all:#?}"
        );
        assert_eq!(all.len(), 6, "{via:?} {era:?}: {all:#?}");

        let read = s.client.read_resource(&dir.uri("README.md")).await.unwrap();
        assert_eq!(read.contents.len(), 1);
        assert_eq!(text_of(&read.contents[0]), "# Hello\n");
        assert_eq!(read.contents[0].uri(), dir.uri("README.md"));

        let png = s
            .client
            .read_resource(&dir.uri("images/logo.png"))
            .await
            .unwrap();
        match &png.contents[0] {
            ResourceContents::Blob(b) => {
                assert_eq!(b.blob, base64_encode(PNG));
                assert_eq!(b.mime_type.as_deref(), Some("image/png"));
            }
            other => panic!("a PNG is a blob, got {other:?}"),
        }
        // No extension: sniffed.
        let make = s.client.read_resource(&dir.uri("Makefile")).await.unwrap();
        assert_eq!(text_of(&make.contents[0]), "all:\n\techo hi\n");
        let dat = s.client.read_resource(&dir.uri("blob.dat")).await.unwrap();
        match &dat.contents[0] {
            ResourceContents::Blob(b) => {
                assert_eq!(b.mime_type.as_deref(), Some("application/octet-stream"))
            }
            other => panic!("binary data is a blob, got {other:?}"),
        }
        let note = s.client.read_resource("notes://welcome").await.unwrap();
        assert!(text_of(&note.contents[0]).contains("write_note"));
    }
}

#[tokio::test]
async fn lists_in_pages_and_refuses_bad_cursors() {
    for (via, era) in CASES {
        let dir = TempDir::new("res-pages");
        for i in 0..7 {
            dir.write(&format!("f{i}.txt"), b"x");
        }
        let s = start(via, era, &["--dir", dir.arg(), "--page-size", "3"]).await;
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = s.client.list_resources(cursor).await.unwrap();
            assert!(page.resources.len() <= 3);
            seen.extend(page.resources.into_iter().map(|r| r.uri));
            pages += 1;
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        // 7 files and the welcome note, in pages of 3.
        assert_eq!(pages, 3, "{via:?} {era:?}");
        assert_eq!(seen.len(), 8);
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, seen, "pages are sorted and do not repeat");

        let err = s
            .client
            .list_resources(Some("not a cursor!".into()))
            .await
            .unwrap_err();
        assert_eq!(code(err), ErrorCode::INVALID_PARAMS);
    }
}

#[tokio::test]
async fn nothing_outside_the_directory_is_served() {
    for (via, era) in CASES {
        let outside = TempDir::new("res-outside");
        let secret = outside.write("secret.txt", b"top secret");
        let dir = sample_dir();
        dir.write("sub/inner.txt", b"inner");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&secret, dir.0.join("leak.txt")).unwrap();
            std::os::unix::fs::symlink(&outside.0, dir.0.join("leakdir")).unwrap();
            std::os::unix::fs::symlink(dir.0.join("README.md"), dir.0.join("alias.md")).unwrap();
        }
        let s = start(via, era, &["--dir", dir.arg()]).await;

        let root = path_to_file_uri(&dir.0).unwrap();
        let bad = [
            format!("{root}/missing.txt"),
            format!(
                "{root}/../{}/secret.txt",
                outside.0.file_name().unwrap().to_str().unwrap()
            ),
            format!("{root}/sub/../../etc/passwd"),
            path_to_file_uri(&secret).unwrap(),
            "file:///etc/passwd".to_owned(),
            format!("{root}/.secret"),
            format!("{root}/.git/config"),
            format!("{root}/sub"),
            root.clone(),
            format!("{root}/leak.txt"),
            format!("{root}/leakdir/secret.txt"),
            "file://evil.example/etc/passwd".to_owned(),
            "http://example.com/x".to_owned(),
            "notes://nobody".to_owned(),
            "notes://../x".to_owned(),
        ];
        for uri in &bad {
            let err = s.client.read_resource(uri).await.unwrap_err();
            let e = err.server_error().unwrap_or_else(|| panic!("{uri}: {err}"));
            assert_eq!(e.code, s.not_found(), "{via:?} {era:?} {uri}: {e:?}");
            assert!(e.message.contains(uri.as_str()), "{e:?}");
            assert_eq!(e.data.as_ref().unwrap()["uri"], uri.as_str(), "{e:?}");
            assert!(!e.message.contains("top secret"));
        }

        let all = s.client.list_all_resources().await.unwrap();
        assert!(
            all.iter().all(|r| !r.uri.contains("leak")),
            "links out are not listed: {all:#?}"
        );
        // A link that stays inside is served.
        #[cfg(unix)]
        {
            find(&all, &dir.uri("alias.md"));
            let alias = s.client.read_resource(&dir.uri("alias.md")).await.unwrap();
            assert_eq!(text_of(&alias.contents[0]), "# Hello\n");
        }
        // `.` segments and percent-escapes that stay inside are fine.
        let dotted = format!("{root}/./sub/%69nner.txt");
        let inner = s.client.read_resource(&dotted).await.unwrap();
        assert_eq!(text_of(&inner.contents[0]), "inner");
    }
}

#[tokio::test]
async fn big_files_are_refused_with_a_clear_error() {
    for (via, era) in CASES {
        let dir = TempDir::new("res-big");
        dir.write("big.txt", &[b'a'; 200]);
        dir.write("small.txt", &[b'a'; 100]);
        let s = start(via, era, &["--dir", dir.arg(), "--max-file-size", "100"]).await;
        let small = s.client.read_resource(&dir.uri("small.txt")).await.unwrap();
        assert_eq!(text_of(&small.contents[0]).len(), 100);
        let err = s
            .client
            .read_resource(&dir.uri("big.txt"))
            .await
            .unwrap_err();
        let e = err.server_error().unwrap();
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{via:?} {era:?}");
        assert!(e.message.contains("200 bytes"), "{e:?}");
        assert!(e.message.contains("--max-file-size"), "{e:?}");
        // It is still listed, with its size.
        let all = s.client.list_all_resources().await.unwrap();
        assert_eq!(find(&all, &dir.uri("big.txt")).size, Some(200));
    }
}

#[tokio::test]
async fn notes_template_and_write_note() {
    notes_template_and_write_note_in(Era::SessionOnly).await;
}

#[tokio::test]
async fn notes_template_and_write_note_stateless() {
    notes_template_and_write_note_in(Era::StatelessOnly).await;
}

async fn notes_template_and_write_note_in(era: Era) {
    for via in BOTH {
        let dir = TempDir::new("res-notes");
        let mut s = start(via, era, &["--dir", dir.arg()]).await;
        let templates = s.client.list_all_resource_templates().await.unwrap();
        assert_eq!(templates.len(), 1);
        assert_eq!(templates[0].uri_template, "notes://{name}");

        let tools = s.client.list_all_tools().await.unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].name, "write_note");

        let r = s
            .client
            .call_tool("write_note", json!({"name": "todo", "text": "buy milk"}))
            .await
            .unwrap();
        assert!(!r.is_error(), "{r:?}");
        let out = r.structured_content.unwrap();
        assert_eq!(out["uri"], "notes://todo");
        assert_eq!(out["created"], true);
        assert_eq!(out["bytes"], 8);
        list_changed(&mut s).await;
        let read = s.client.read_resource("notes://todo").await.unwrap();
        assert_eq!(text_of(&read.contents[0]), "buy milk");
        let all = s.client.list_all_resources().await.unwrap();
        find(&all, "notes://todo");

        // Replacing keeps the list and says so.
        let r = s
            .client
            .call_tool("write_note", json!({"name": "todo", "text": "buy bread"}))
            .await
            .unwrap();
        assert_eq!(r.structured_content.unwrap()["created"], false);
        let read = s.client.read_resource("notes://todo").await.unwrap();
        assert_eq!(text_of(&read.contents[0]), "buy bread");

        let bad_args: [Value; 5] = [
            json!({"name": 5, "text": "x"}),
            json!({"name": "x"}),
            json!({"name": "../etc", "text": "x"}),
            json!({"name": "", "text": "x"}),
            json!({"name": "big", "text": "x".repeat(64 * 1024 + 1)}),
        ];
        for args in bad_args {
            let r = s.client.call_tool("write_note", &args).await.unwrap();
            assert!(r.is_error(), "{via:?} {era:?} {args}: {r:?}");
        }
        let err = s.client.read_resource("notes://big").await.unwrap_err();
        assert_eq!(code(err), s.not_found());

        let err = s
            .client
            .call_tool("delete_everything", json!({}))
            .await
            .unwrap_err();
        assert_eq!(code(err), ErrorCode::INVALID_PARAMS);
    }
}

#[tokio::test]
async fn subscribers_hear_about_changes() {
    subscribers_hear_about_changes_in(Era::SessionOnly).await;
}

#[tokio::test]
async fn subscribers_hear_about_changes_stateless() {
    subscribers_hear_about_changes_in(Era::StatelessOnly).await;
}

async fn subscribers_hear_about_changes_in(era: Era) {
    for via in BOTH {
        let dir = TempDir::new("res-watch");
        let file = dir.write("watched.txt", b"one");
        dir.write("other.txt", b"other");
        let mut s = start(via, era, &["--dir", dir.arg()]).await;
        let uri = dir.uri("watched.txt");

        s.watch(&uri).await.unwrap();
        std::fs::write(&file, b"two, longer").unwrap();
        updated(&mut s, &uri).await;
        let read = s.client.read_resource(&uri).await.unwrap();
        assert_eq!(text_of(&read.contents[0]), "two, longer");

        // A new file changes the list.
        dir.write("new.txt", b"new");
        list_changed(&mut s).await;
        let all = s.client.list_all_resources().await.unwrap();
        find(&all, &dir.uri("new.txt"));

        // A note can be watched before it exists.
        s.watch("notes://later").await.unwrap();
        let r = s
            .client
            .call_tool("write_note", json!({"name": "later", "text": "now"}))
            .await
            .unwrap();
        assert!(!r.is_error());
        updated(&mut s, "notes://later").await;

        // A deleted file is an update for its subscribers and a list change.
        std::fs::remove_file(&file).unwrap();
        updated(&mut s, &uri).await;
        list_changed(&mut s).await;
        let err = s.client.read_resource(&uri).await.unwrap_err();
        assert_eq!(code(err), s.not_found());

        if s.client.is_stateless() {
            // Revision 2026-07-28 has no resources/subscribe.
            let err = s.client.subscribe(&dir.uri("other.txt")).await;
            assert!(matches!(err, Err(ClientError::Unsupported(_))), "{err:?}");
            continue;
        }
        // Only what exists (or could, for notes) can be subscribed to.
        for bad in [
            dir.uri("missing.txt"),
            "file:///etc/passwd".to_owned(),
            "notes://../x".to_owned(),
        ] {
            let err = s.client.subscribe(&bad).await.unwrap_err();
            assert_eq!(code(err), ErrorCode::RESOURCE_NOT_FOUND, "{via:?} {bad}");
        }
    }
}

#[tokio::test]
async fn unsubscribed_files_stay_quiet() {
    unsubscribed_files_stay_quiet_in(Era::SessionOnly).await;
}

#[tokio::test]
async fn unsubscribed_files_stay_quiet_stateless() {
    unsubscribed_files_stay_quiet_in(Era::StatelessOnly).await;
}

async fn unsubscribed_files_stay_quiet_in(era: Era) {
    let dir = TempDir::new("res-quiet");
    let a = dir.write("a.txt", b"a");
    let b = dir.write("b.txt", b"b");
    let mut s = start(Via::Stdio, era, &["--dir", dir.arg()]).await;
    s.watch(&dir.uri("a.txt")).await.unwrap();
    s.watch(&dir.uri("b.txt")).await.unwrap();
    s.unwatch(&dir.uri("a.txt")).await;
    std::fs::write(&a, b"a changed").unwrap();
    std::fs::write(&b, b"b changed").unwrap();
    // b's update arrives; a's, which would come in the same poll, must not.
    // A note update afterwards marks the end: notifications arrive in order.
    s.watch("notes://sync").await.unwrap();
    let mut heard = Vec::new();
    let wait = async {
        let mut wrote = false;
        loop {
            let uri = s.updated.recv().await.unwrap();
            if uri == dir.uri("b.txt") && !wrote {
                wrote = true;
                let args = json!({"name": "sync", "text": "x"});
                assert!(!s
                    .client
                    .call_tool("write_note", args)
                    .await
                    .unwrap()
                    .is_error());
            }
            if uri == "notes://sync" {
                return;
            }
            heard.push(uri);
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the updates in time");
    assert!(!heard.contains(&dir.uri("a.txt")), "{era:?}: {heard:?}");
}

#[tokio::test]
async fn a_missing_directory_is_refused_at_start() {
    let dir = TempDir::new("res-gone");
    let missing = dir.0.join("nope");
    let out = tokio::process::Command::new(support::example(EXAMPLE))
        .args(["--stdio", "--dir", missing.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output();
    let out = tokio::time::timeout(PATIENCE, out).await.unwrap().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot serve"), "{stderr}");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn without_dir_a_sample_folder_is_created_in_the_data_dir() {
    use mcp_sdk_client::transport::ChildProcess;
    let home = TempDir::new("res-home");
    let mut command = tokio::process::Command::new(support::example(EXAMPLE));
    command
        .arg("--stdio")
        .env("XDG_DATA_HOME", home.0.join("data"))
        .env("HOME", &home.0);
    let transport = ChildProcess::spawn(&mut command).unwrap();
    let client = tokio::time::timeout(PATIENCE, Client::connect(transport))
        .await
        .unwrap()
        .unwrap();
    let sample = home.0.join("data/mcp-reference/resources-sample");
    assert!(sample.join("README.md").is_file());
    let all = client.list_all_resources().await.unwrap();
    let png = path_to_file_uri(&sample.join("images/pixel.png")).unwrap();
    assert_eq!(find(&all, &png).mime_type.as_deref(), Some("image/png"));
    let read = client.read_resource(&png).await.unwrap();
    assert!(
        matches!(&read.contents[0], ResourceContents::Blob(b) if b.blob.starts_with("iVBORw0KGgo"))
    );
    client.close().await;
    // A second start leaves an edited sample alone.
    std::fs::write(sample.join("README.md"), b"mine").unwrap();
    let transport = ChildProcess::spawn(&mut command).unwrap();
    let client = tokio::time::timeout(PATIENCE, Client::connect(transport))
        .await
        .unwrap()
        .unwrap();
    let readme = path_to_file_uri(&sample.join("README.md")).unwrap();
    let read = client.read_resource(&readme).await.unwrap();
    assert_eq!(text_of(&read.contents[0]), "mine");
    client.close().await;
}

#[tokio::test]
async fn health_answers_with_the_seed_json() {
    let dir = TempDir::new("res-health");
    let server = http_server(EXAMPLE, &["--dir", dir.arg()]).await;
    let body = http_get(&server.base, "/health").await;
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["serverId"], "1");
    assert_eq!(health["capabilities"], json!(["resources"]));
    assert!(health["timestamp"].as_str().unwrap().ends_with('Z'));
}

/// A plain HTTP/1.1 GET; the body of the answer.
async fn http_get(base: &str, path: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    // A chunked body: take the JSON between the chunk sizes.
    match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => body[a..=b].to_owned(),
        _ => panic!("no JSON in {answer}"),
    }
}

/// A thread that keeps replacing `dir/name` (atomically, by rename) with a
/// regular file holding `inside`, then with a symbolic link to `outside`,
/// until `stop` is set.
#[cfg(unix)]
fn swap_file_and_link(
    dir: std::path::PathBuf,
    name: &'static str,
    inside: &'static [u8],
    outside: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut swaps = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let tmp = dir.join(format!(".swap-{swaps}"));
            if swaps % 2 == 0 {
                std::os::unix::fs::symlink(&outside, &tmp).unwrap();
            } else {
                std::fs::write(&tmp, inside).unwrap();
            }
            std::fs::rename(&tmp, dir.join(name)).unwrap();
            swaps += 1;
        }
        swaps
    })
}

/// A symbolic link swapped in after the path check must not lead a read
/// outside the directory: before, 559 of 20,000 reads returned the
/// outside file (issue 17, #6).
#[cfg(unix)]
#[tokio::test]
async fn a_link_swapped_in_after_the_check_reads_nothing_outside() {
    use futures_util::StreamExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let outside = TempDir::new("res-race-outside");
    let secret = outside.write("secret.txt", b"OUTSIDE SECRET");
    let dir = TempDir::new("res-race");
    dir.write("racy.txt", b"inside");
    let s = start(Via::Stdio, Era::SessionOnly, &["--dir", dir.arg()]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = swap_file_and_link(
        dir.0.clone(),
        "racy.txt",
        b"inside",
        secret.clone(),
        stop.clone(),
    );
    let uri = dir.uri("racy.txt");
    let outcomes: Vec<Result<String, ClientError>> = futures_util::stream::iter(0..5000)
        .map(|_| {
            let (client, uri) = (&s.client, uri.clone());
            async move {
                client
                    .read_resource(&uri)
                    .await
                    .map(|r| text_of(&r.contents[0]).to_owned())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    let leaked = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(t) if t.contains("OUTSIDE")))
        .count();
    let inside = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(t) if t == "inside"))
        .count();
    let refused = outcomes.iter().filter(|o| o.is_err()).count();
    assert_eq!(
        leaked, 0,
        "{leaked} of {} reads returned the outside file ({inside} inside, {refused} refused, {swaps} swaps)",
        outcomes.len()
    );
    assert!(
        inside > 0 && refused > 0,
        "the race ran: {inside} inside, {refused} refused"
    );
    for o in &outcomes {
        if let Err(e) = o {
            let e = e.server_error().unwrap_or_else(|| panic!("{e}"));
            assert_eq!(e.code, s.not_found(), "{e:?}");
        }
    }
}

/// A FIFO inside the directory is refused at once, never waited on
/// (issue 17, #7).
#[cfg(unix)]
#[tokio::test]
async fn a_fifo_inside_is_refused_not_waited_on() {
    let dir = TempDir::new("res-fifo");
    dir.write("plain.txt", b"plain");
    let fifo = dir.0.join("pipe.txt");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available here");
        return;
    }
    let s = start(Via::Stdio, Era::SessionOnly, &["--dir", dir.arg()]).await;
    let err = tokio::time::timeout(PATIENCE, s.client.read_resource(&dir.uri("pipe.txt")))
        .await
        .expect("a FIFO is refused, not read")
        .unwrap_err();
    let e = err.server_error().unwrap();
    assert_eq!(e.code, s.not_found(), "{e:?}");
    assert!(e.message.contains("not a regular file"), "{e:?}");
    let plain = s.client.read_resource(&dir.uri("plain.txt")).await.unwrap();
    assert_eq!(text_of(&plain.contents[0]), "plain");
}
