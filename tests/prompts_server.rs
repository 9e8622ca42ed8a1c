//! System tests of the prompts server: the `prompts_server` example as a
//! child process, driven by our client over stdio and over Streamable HTTP,
//! in the session and the stateless era, with a real folder of template
//! files that changes under it.

mod support;

use mcp_sdk::{
    CompleteParams, CompletionContext, CompletionReference, ContentBlock, ErrorCode, LoggingLevel,
    LoggingMessageNotificationParams, SubscriptionFilter,
};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, Subscription};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{example, http_client_in, http_server, listen, stdio_client_in, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::timeout;

const NAME: &str = "prompts_server";

const ERAS: [Era; 2] = [Era::SessionOnly, Era::StatelessOnly];

const BUILTINS: [&str; 7] = [
    "code_review",
    "summarize",
    "explain_code",
    "translate",
    "write_tests",
    "style_guide_review",
    "describe_image",
];

const BUG_REPORT: &str = "---\nname: bug_report\ntitle: Bug report\ndescription: Turns rough notes into a bug report\narguments:\n- notes (required): The raw notes\n- severity: How bad it is [low, medium, high, critical]\n---\nWrite a bug report from these notes:\n\n{{notes}}\n\nSeverity: {{ severity }}\n";

const BROKEN: &str = "---\nname: broken\ncolour: red\n---\nNever served.\n";

/// A fresh folder of templates, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(files: &[(&str, &str)]) -> Folder {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "prompts-server-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let folder = Folder(dir);
        for (name, text) in files {
            folder.write(name, text);
        }
        folder
    }

    /// Writes a file whole: into a name the server ignores, then renamed.
    fn write(&self, name: &str, text: &str) {
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.0.join(name)).unwrap();
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the client hears from the server.
#[derive(Debug)]
enum Heard {
    ListChanged,
    Log(String),
}

struct Listener(mpsc::UnboundedSender<Heard>);

#[async_trait]
impl ClientHandler for Listener {
    async fn on_prompt_list_changed(&self) {
        let _ = self.0.send(Heard::ListChanged);
    }

    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        let _ = self.0.send(Heard::Log(params.data.to_string()));
    }
}

fn listener() -> (Listener, mpsc::UnboundedReceiver<Heard>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Listener(tx), rx)
}

async fn next_heard(rx: &mut mpsc::UnboundedReceiver<Heard>) -> Heard {
    timeout(PATIENCE, rx.recv())
        .await
        .expect("the server spoke in time")
        .expect("the client is alive")
}

async fn names(client: &Client) -> Vec<String> {
    client
        .list_all_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

fn text(block: &ContentBlock) -> &str {
    block.as_text().expect("a text block")
}

/// A `prompts/get` that must fail with -32602; returns the message.
async fn invalid(client: &Client, name: &str, args: &[(&str, &str)]) -> String {
    let e = client
        .get_prompt(name, args.iter().copied())
        .await
        .expect_err("an error");
    assert_eq!(e.code(), Some(ErrorCode::INVALID_PARAMS), "{e}");
    e.server_error().unwrap().message.clone()
}

async fn complete(
    client: &Client,
    prompt: &str,
    argument: &str,
    typed: &str,
) -> Result<Vec<String>, ClientError> {
    client
        .complete(CompleteParams::new(
            CompletionReference::prompt(prompt),
            argument,
            typed,
        ))
        .await
        .map(|r| r.completion.values)
}

/// What every transport must show: the library, its checks, completion
/// and the templates of a folder holding one good and one broken file.
async fn exercise(client: &Client) {
    let caps = client.server_capabilities();
    assert_eq!(caps.prompts.as_ref().unwrap().list_changed, Some(true));
    assert!(caps.completions.is_some());

    let mut expected: Vec<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
    expected.push("bug_report".into());
    assert_eq!(
        names(client).await,
        expected,
        "the broken template is not served"
    );
    let listed = client.list_all_prompts().await.unwrap();
    let review = listed.iter().find(|p| p.name == "code_review").unwrap();
    let args = review.arguments.as_ref().unwrap();
    assert_eq!(args[0].name, "code");
    assert_eq!(args[0].required, Some(true));
    assert_eq!(args[1].required, Some(false));

    // Built-ins render their arguments.
    let r = client
        .get_prompt(
            "code_review",
            [
                ("code", "fn main() {}"),
                ("language", "rust"),
                ("focus", "Security"),
            ],
        )
        .await
        .unwrap();
    let t = text(&r.messages[0].content);
    assert!(t.contains("rust code, focusing on security"), "{t}");
    assert!(t.contains("```rust\nfn main() {}\n```"), "{t}");
    let r = client
        .get_prompt(
            "translate",
            [
                ("text", "Bonjour"),
                ("target_language", "German"),
                ("source_language", "French"),
            ],
        )
        .await
        .unwrap();
    assert!(text(&r.messages[0].content).contains("from French into German"));
    let r = client
        .get_prompt("explain_code", [("code", "x = 1")])
        .await
        .unwrap();
    assert_eq!(r.messages.len(), 2);

    // One prompt embeds a resource, one sends an image.
    let r = client
        .get_prompt(
            "style_guide_review",
            [("code", "def f(): pass"), ("language", "python")],
        )
        .await
        .unwrap();
    match &r.messages[0].content {
        ContentBlock::Resource(res) => {
            assert_eq!(res.resource.uri(), "prompts://style-guides/python");
            assert!(res.resource.as_text().unwrap().contains("PEP 8"));
        }
        other => panic!("expected an embedded resource, got {other:?}"),
    }
    let gif = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";
    let r = client
        .get_prompt(
            "describe_image",
            [("image", gif), ("question", "What colour?")],
        )
        .await
        .unwrap();
    match &r.messages[0].content {
        ContentBlock::Image(img) => {
            assert_eq!(img.mime_type, "image/gif");
            assert_eq!(img.data, gif);
        }
        other => panic!("expected an image, got {other:?}"),
    }
    assert!(text(&r.messages[1].content).ends_with("What colour?"));

    // Bad requests are -32602 with a sentence saying what is wrong.
    let m = invalid(client, "no_such_prompt", &[]).await;
    assert!(m.ends_with("Unknown prompt: no_such_prompt"), "{m}");
    let m = invalid(client, "code_review", &[("language", "rust")]).await;
    assert!(m.contains("needs the argument(s): code"), "{m}");
    let m = invalid(client, "translate", &[("text", "hi")]).await;
    assert!(m.contains("needs the argument(s): target_language"), "{m}");
    let m = invalid(client, "summarize", &[("text", "t"), ("style", "epic")]).await;
    assert!(
        m.contains("must be one of: brief, detailed, bullet-points (got `epic`)"),
        "{m}"
    );
    let m = invalid(client, "summarize", &[("text", "t"), ("max_words", "-3")]).await;
    assert!(m.contains("whole number from 10 to 2000"), "{m}");
    let m = invalid(client, "summarize", &[("text", "t"), ("tone", "dry")]).await;
    assert!(m.contains("no argument `tone`"), "{m}");
    let m = invalid(client, "describe_image", &[("image", "not an image!")]).await;
    assert!(m.contains("not valid base64"), "{m}");
    let m = invalid(client, "bug_report", &[("severity", "low")]).await;
    assert!(m.contains("needs the argument(s): notes"), "{m}");
    let m = invalid(client, "broken", &[]).await;
    assert!(m.ends_with("Unknown prompt: broken"), "{m}");

    // Templates render.
    let r = client
        .get_prompt(
            "bug_report",
            [("notes", "crashes on {{severity}}"), ("severity", "high")],
        )
        .await
        .unwrap();
    assert_eq!(
        r.description.as_deref(),
        Some("Turns rough notes into a bug report")
    );
    assert_eq!(
        text(&r.messages[0].content),
        "Write a bug report from these notes:\n\ncrashes on {{severity}}\n\nSeverity: high\n"
    );

    // Completion.
    assert_eq!(
        complete(client, "code_review", "language", "py")
            .await
            .unwrap(),
        ["python"]
    );
    assert_eq!(
        complete(client, "summarize", "style", "").await.unwrap(),
        ["brief", "detailed", "bullet-points"]
    );
    assert_eq!(
        complete(client, "explain_code", "audience", "EX")
            .await
            .unwrap(),
        ["expert"]
    );
    assert_eq!(
        complete(client, "translate", "target_language", "sw")
            .await
            .unwrap(),
        ["Swedish"]
    );
    assert_eq!(
        complete(client, "bug_report", "severity", "c")
            .await
            .unwrap(),
        ["critical"]
    );
    assert!(complete(client, "summarize", "text", "any")
        .await
        .unwrap()
        .is_empty());
    let mut with_context =
        CompleteParams::new(CompletionReference::prompt("write_tests"), "framework", "");
    with_context.context = Some(CompletionContext::default().with_argument("language", "python"));
    let frameworks = client
        .complete(with_context)
        .await
        .unwrap()
        .completion
        .values;
    assert_eq!(frameworks, ["hypothesis", "pytest", "unittest"]);
    let e = complete(client, "no_such_prompt", "x", "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::INVALID_PARAMS), "{e}");
    let e = complete(client, "summarize", "colour", "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::INVALID_PARAMS), "{e}");
    let e = client
        .complete(CompleteParams::new(
            CompletionReference::resource("file:///{path}"),
            "path",
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::INVALID_PARAMS), "{e}");
}

/// Stateless era: a listen stream for prompt list changes, which the
/// server honours when it watches a folder. (A session hears them unasked.)
async fn listen_for_prompts(client: &Client, folder: bool) -> Option<Subscription> {
    if !client.is_stateless() {
        return None;
    }
    let filter = SubscriptionFilter::default().with_prompts_list_changed(true);
    let sub = listen(client, filter.clone()).await;
    let honoured = if folder {
        filter
    } else {
        SubscriptionFilter::default()
    };
    assert_eq!(sub.acknowledged(), &honoured);
    Some(sub)
}

/// The warning about `file` a stateless client hears with `prompts/list`
/// once the server has read the file (it polls): never a list change.
async fn warned_with_the_list(
    client: &Client,
    rx: &mut mpsc::UnboundedReceiver<Heard>,
    file: &str,
) -> String {
    let wait = async {
        loop {
            names(client).await;
            // The log messages come before the answer; give the handler a
            // moment to take them.
            while let Ok(Some(heard)) = timeout(Duration::from_millis(200), rx.recv()).await {
                match heard {
                    Heard::Log(line) if line.contains(file) => return line,
                    Heard::Log(_) => {}
                    Heard::ListChanged => panic!("{file} does not change the list"),
                }
            }
        }
    };
    timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("no warning about {file} with prompts/list"))
}

/// Adding, breaking and removing templates while a client is connected.
async fn follows_the_folder(
    client: &Client,
    rx: &mut mpsc::UnboundedReceiver<Heard>,
    folder: &Folder,
) {
    let _listening = listen_for_prompts(client, true).await;
    client
        .set_logging_level(LoggingLevel::Warning)
        .await
        .unwrap();
    // A request first, so the server has surely seen `initialized`.
    assert!(names(client).await.contains(&"bug_report".to_owned()));

    folder.write("standup.md", "---\ndescription: Daily standup\narguments:\n- done (required)\n---\nYesterday: {{done}}\n");
    assert!(matches!(next_heard(rx).await, Heard::ListChanged));
    assert!(names(client).await.contains(&"standup".to_owned()));
    let r = client
        .get_prompt("standup", [("done", "tests")])
        .await
        .unwrap();
    assert_eq!(text(&r.messages[0].content), "Yesterday: tests\n");

    // A malformed file: a warning, and the list stays as it was.
    folder.write("zz_bad.md", "---\narguments:\n- a\n---\n{{b}}\n");
    let line = if client.is_stateless() {
        warned_with_the_list(client, rx, "zz_bad.md").await
    } else {
        loop {
            match next_heard(rx).await {
                Heard::Log(line) if line.contains("zz_bad.md") => break line,
                Heard::Log(_) => continue,
                Heard::ListChanged => panic!("a malformed file does not change the list"),
            }
        }
    };
    assert!(
        line.contains("`{{b}}` names no declared argument"),
        "{line}"
    );
    assert!(!names(client).await.contains(&"zz_bad".to_owned()));

    std::fs::remove_file(folder.0.join("standup.md")).unwrap();
    loop {
        match next_heard(rx).await {
            Heard::ListChanged => break,
            Heard::Log(_) => continue,
        }
    }
    let after = names(client).await;
    assert!(!after.contains(&"standup".to_owned()) && after.contains(&"bug_report".to_owned()));
}

#[tokio::test]
async fn stdio_library_checks_completion_and_templates() {
    for era in ERAS {
        let folder = Folder::new(&[("bug_report.md", BUG_REPORT), ("broken.md", BROKEN)]);
        let client = stdio_client_in(era, NAME, &["--prompts-dir", folder.path()], ()).await;
        assert_eq!(client.is_stateless(), era == Era::StatelessOnly);
        assert_eq!(client.server().server_info.name, "mcp-reference-prompts");
        exercise(&client).await;
        client.close().await;
    }
}

#[tokio::test]
async fn http_library_checks_completion_and_templates() {
    for era in ERAS {
        let folder = Folder::new(&[("bug_report.md", BUG_REPORT), ("broken.md", BROKEN)]);
        let server = http_server(NAME, &["--prompts-dir", folder.path()]).await;
        let client = http_client_in(era, &server.url, ()).await;
        assert_eq!(client.is_stateless(), era == Era::StatelessOnly);
        exercise(&client).await;
        client.close().await;
    }
}

async fn stdio_follows_the_folder(era: Era) {
    let folder = Folder::new(&[("bug_report.md", BUG_REPORT)]);
    let (handler, mut rx) = listener();
    let client = stdio_client_in(era, NAME, &["--prompts-dir", folder.path()], handler).await;
    follows_the_folder(&client, &mut rx, &folder).await;
    client.close().await;
}

async fn http_follows_the_folder(era: Era) {
    let folder = Folder::new(&[("bug_report.md", BUG_REPORT)]);
    let server = http_server(NAME, &["--prompts-dir", folder.path()]).await;
    let (handler, mut rx) = listener();
    let client = http_client_in(era, &server.url, handler).await;
    follows_the_folder(&client, &mut rx, &folder).await;
    client.close().await;
}

#[tokio::test]
async fn stdio_list_changed_when_the_folder_changes() {
    stdio_follows_the_folder(Era::SessionOnly).await;
}

#[tokio::test]
async fn http_list_changed_when_the_folder_changes() {
    http_follows_the_folder(Era::SessionOnly).await;
}

#[tokio::test]
async fn stdio_stateless_listeners_hear_when_the_folder_changes() {
    stdio_follows_the_folder(Era::StatelessOnly).await;
}

#[tokio::test]
async fn http_stateless_listeners_hear_when_the_folder_changes() {
    http_follows_the_folder(Era::StatelessOnly).await;
}

#[tokio::test]
async fn a_stateless_client_hears_the_warnings_with_the_list() {
    let folder = Folder::new(&[("bug_report.md", BUG_REPORT), ("broken.md", BROKEN)]);
    let (handler, mut rx) = listener();
    let args = ["--prompts-dir", folder.path()];
    let client = stdio_client_in(Era::StatelessOnly, NAME, &args, handler).await;
    // Without a log level in its requests' _meta, nothing is logged.
    names(&client).await;
    assert!(
        timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "a log message nobody asked for"
    );
    client
        .set_logging_level(LoggingLevel::Warning)
        .await
        .unwrap();
    let line = warned_with_the_list(&client, &mut rx, "broken.md").await;
    assert!(line.contains("unknown key `colour`"), "{line}");
    client.close().await;
}

#[tokio::test]
async fn without_a_folder_only_the_library_and_no_list_changes() {
    for era in ERAS {
        let client = stdio_client_in(era, NAME, &[], ()).await;
        assert_eq!(
            client
                .server_capabilities()
                .prompts
                .as_ref()
                .unwrap()
                .list_changed,
            Some(false)
        );
        // A stateless listener is told it will hear no list changes.
        let _listening = listen_for_prompts(&client, false).await;
        assert_eq!(names(&client).await, BUILTINS);
        client.close().await;
    }
}

#[tokio::test]
async fn a_malformed_template_is_reported_on_stderr_at_start() {
    let folder = Folder::new(&[("bug_report.md", BUG_REPORT), ("broken.md", BROKEN)]);
    let mut child = tokio::process::Command::new(example(NAME))
        .args(["--prompts-dir", folder.path(), "--http", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let before_serving = timeout(PATIENCE, async {
        let mut seen = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("serving MCP at") {
                return seen;
            }
            seen.push(line);
        }
        panic!("the server exited: {seen:?}");
    })
    .await
    .unwrap();
    let warning = before_serving
        .iter()
        .find(|l| l.contains("broken.md"))
        .unwrap_or_else(|| panic!("no warning about broken.md in {before_serving:?}"));
    assert!(
        warning.contains("WARN") && warning.contains("unknown key `colour`"),
        "{warning}"
    );
}

#[tokio::test]
async fn a_missing_folder_stops_the_server_with_a_clear_error() {
    let missing = Path::new("/nonexistent/prompts-folder");
    let out = tokio::process::Command::new(example(NAME))
        .args(["--stdio", "--prompts-dir", missing.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("prompts folder /nonexistent/prompts-folder"),
        "{stderr}"
    );
}

#[tokio::test]
async fn http_health_answers_as_the_seed() {
    let server = http_server(NAME, &[]).await;
    let health = support::health(&server.base).await;
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["serverId"], "7");
    assert_eq!(health["capabilities"], json!(["prompts"]));
}

/// A template that repeats one argument is refused when its rendering
/// would pass the bound, instead of building gigabytes (issue 17, #9).
#[tokio::test]
async fn a_rendering_over_the_bound_is_refused() {
    use mcp_reference::servers::prompts::library::MAX_ARG_BYTES;
    use mcp_reference::servers::prompts::template::MAX_RENDERED_BYTES;
    let value = "x".repeat(MAX_ARG_BYTES);
    // Enough placeholders to pass the bound by one argument's length.
    let copies = MAX_RENDERED_BYTES / MAX_ARG_BYTES + 1;
    let echo = format!(
        "---\nname: echo\narguments:\n- a (required): any text\n---\n{}\n",
        "{{a}}".repeat(copies)
    );
    let folder = Folder::new(&[("echo.md", &echo)]);
    let client = stdio_client_in(
        Era::SessionOnly,
        NAME,
        &["--prompts-dir", folder.path()],
        (),
    )
    .await;
    let m = invalid(&client, "echo", &[("a", &value)]).await;
    assert!(
        m.contains(&format!(
            "prompt echo would render to more than {MAX_RENDERED_BYTES} bytes"
        )),
        "{m}"
    );
    // A value short enough renders whole.
    let r = client.get_prompt("echo", [("a", "ab")]).await.unwrap();
    assert_eq!(text(&r.messages[0].content), "ab".repeat(copies) + "\n");
    client.close().await;
}
