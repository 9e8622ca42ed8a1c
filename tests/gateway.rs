//! System tests of the gateway (session manager): the reference servers run
//! as real child processes over HTTP (or stdio), the gateway serves HTTP in
//! this process (or as its example), and our client drives it in both eras.

mod support;

use mcp_reference::gateway::config::{DownstreamSpec, GatewayConfig, Target, SEED_SERVERS};
use mcp_reference::gateway::{self, Gateway};
use mcp_sdk::{
    CallToolResult, ClientCapabilities, CreateMessageParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationCapability, Error, ErrorCode, ListRootsResult,
    LoggingLevel, LoggingMessageNotificationParams, ResourceUpdatedNotificationParams, Root,
    RootsCapability, SamplingCapability,
};
use mcp_sdk_client::RequestOptions;
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, RequestContext};
use mcp_sdk_server::http::HttpConfig;
use mcp_sdk_server::{NoArguments, RequestContext as ServerCx, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::relay::Relay;
use support::{example, health, http_client_in, http_server, HttpServer, TempDir, PATIENCE};

/// The upstream client: a fake model for sampling, one root.
#[derive(Clone)]
struct Host {
    root: Root,
    sampled: Arc<Mutex<Vec<CreateMessageParams>>>,
    /// How many `notifications/resources/list_changed` arrived.
    resources_changed: Arc<AtomicUsize>,
    /// The messages of the elicitations it answered (accepting, as the
    /// user "gw-user").
    elicited: Arc<Mutex<Vec<String>>>,
    /// The log messages it heard, as `logger: data`.
    logs: Arc<Mutex<Vec<String>>>,
    /// The URIs of the `notifications/resources/updated` it heard.
    updated: Arc<Mutex<Vec<String>>>,
    /// How long its model takes to answer.
    sampling_delay: Duration,
}

impl Host {
    fn new(dir: &TempDir) -> Self {
        let mut root = Root::new(file_uri(&dir.0));
        root.name = Some("workspace".into());
        Host {
            root,
            sampled: Arc::default(),
            resources_changed: Arc::default(),
            elicited: Arc::default(),
            logs: Arc::default(),
            updated: Arc::default(),
            sampling_delay: Duration::ZERO,
        }
    }
}

#[async_trait]
impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
            .with_sampling(SamplingCapability::default())
            .with_roots(RootsCapability::default())
            .with_elicitation(ElicitationCapability::default().with_form())
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        self.elicited
            .lock()
            .unwrap()
            .push(params.message().to_owned());
        let answer = json!({"username": "gw-user", "email": "gw@example.com"});
        Ok(ElicitResult::accept(answer.as_object().unwrap().clone()))
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        tokio::time::sleep(self.sampling_delay).await;
        self.sampled.lock().unwrap().push(params);
        Ok(CreateMessageResult::text("fake-llm", "A gateway summary."))
    }

    async fn list_roots(&self, _cx: RequestContext) -> Result<ListRootsResult, Error> {
        Ok(ListRootsResult::new(vec![self.root.clone()]))
    }

    async fn on_resource_list_changed(&self) {
        self.resources_changed.fetch_add(1, Ordering::SeqCst);
    }

    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        self.updated.lock().unwrap().push(params.uri);
    }

    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        let logger = params.logger.unwrap_or_default();
        let data = params.data.as_str().map(str::to_owned);
        let data = data.unwrap_or_else(|| params.data.to_string());
        self.logs.lock().unwrap().push(format!("{logger}: {data}"));
    }
}

fn file_uri(path: &std::path::Path) -> String {
    format!("file://{}", path.to_str().unwrap())
}

/// Downstream servers as child processes, the gateway in front of them.
struct System {
    gateway: Arc<Gateway>,
    url: String,
    base: String,
    servers: Vec<(&'static str, HttpServer)>,
    data: TempDir,
    _serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The command-line arguments each reference server gets here.
fn args_for(name: &str, data: &TempDir) -> Vec<String> {
    match name {
        "resources" => vec![
            "--dir".into(),
            data.0.join("files").to_str().unwrap().into(),
        ],
        "database" => vec![
            "--database-url".into(),
            data.0.join("db.sqlite").to_str().unwrap().into(),
        ],
        _ => Vec::new(),
    }
}

/// How the gateway of a [`System`] is set up beyond its reference servers.
#[derive(Default)]
struct Setup {
    /// More downstream servers (a [`Probe`], say).
    extra: Vec<DownstreamSpec>,
    /// The gateway's HTTP settings (its idle expiry, say).
    http: HttpConfig,
    /// The per-call timeout, when not the tests' 20 s.
    call_timeout: Option<Duration>,
    /// The page size of aggregated lists, when not the default.
    page_size: Option<usize>,
}

impl System {
    async fn start(names: &[&'static str]) -> System {
        Self::start_with(names, Setup::default()).await
    }

    async fn start_with(names: &[&'static str], setup: Setup) -> System {
        let data = TempDir::new("gateway");
        data.write("files/README.md", b"# Hello from the resources server\n");
        let started = futures_util::future::join_all(names.iter().map(|name| {
            let args = args_for(name, &data);
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                (*name, http_server(&format!("{name}_server"), &args).await)
            }
        }))
        .await;
        let specs = started
            .iter()
            .map(|(name, server)| DownstreamSpec {
                name: (*name).to_owned(),
                target: Target::Http {
                    url: server.url.clone(),
                },
                era: Era::Auto,
            })
            .chain(setup.extra)
            .collect();
        let mut config = GatewayConfig::new(specs).unwrap();
        config.min_backoff = Duration::from_millis(100);
        config.max_backoff = Duration::from_millis(500);
        config.call_timeout = setup.call_timeout.unwrap_or(Duration::from_secs(20));
        if let Some(size) = setup.page_size {
            config.page_size = size;
        }
        let gateway = Gateway::start(config).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(gateway::serve(
            gateway.clone(),
            listener,
            setup.http,
            std::future::pending(),
        ));
        System {
            gateway,
            url: format!("http://{addr}/mcp"),
            base: format!("http://{addr}"),
            servers: started,
            data,
            _serving: serving,
        }
    }

    /// Waits until the gateway has no call in flight to any server.
    async fn until_no_calls_in_flight(&self) {
        eventually("no call in flight downstream", || async {
            self.gateway
                .downstream()
                .iter()
                .all(|s| s.calls_in_flight() == 0)
        })
        .await;
    }

    async fn client(&self, era: Era) -> (Client, Host) {
        let host = Host::new(&self.data);
        (http_client_in(era, &self.url, host.clone()).await, host)
    }

    fn server(&mut self, name: &str) -> &mut HttpServer {
        &mut self.servers.iter_mut().find(|(n, _)| *n == name).unwrap().1
    }
}

async fn call(client: &Client, name: &str, args: Value) -> Result<CallToolResult, ClientError> {
    tokio::time::timeout(PATIENCE, client.call_tool(name, args))
        .await
        .expect("an answer in time")
}

async fn ok(client: &Client, name: &str, args: Value) -> Value {
    let result = call(client, name, args).await.expect("the call succeeds");
    assert_ne!(result.is_error, Some(true), "{name}: {result:?}");
    result
        .structured_content
        .unwrap_or_else(|| panic!("{name} answers structured content"))
}

fn server_error(e: ClientError) -> Error {
    match e {
        ClientError::Server(e) => e,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

fn downstream_state(health: &Value, name: &str) -> String {
    health["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {health}"))["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn seven_servers_through_the_gateway_session_era() {
    seven_servers(Era::SessionOnly).await;
}

#[tokio::test]
async fn seven_servers_through_the_gateway_stateless_era() {
    seven_servers(Era::StatelessOnly).await;
}

async fn seven_servers(era: Era) {
    let system = System::start(&SEED_SERVERS).await;
    let (client, host) = system.client(era).await;

    // One list, every server's tools under its prefix, in one page (the
    // seven servers have fewer than the default page size), and so every
    // prompt for a client that never passes a cursor.
    let first = client.list_tools(None).await.unwrap();
    assert_eq!(first.next_cursor, None, "one page holds them all");
    let prompts = client.list_prompts(None).await.unwrap();
    assert_eq!(prompts.next_cursor, None);
    let prompt_servers: std::collections::BTreeSet<&str> = prompts
        .prompts
        .iter()
        .map(|p| p.name.split_once("__").unwrap().0)
        .collect();
    assert!(prompt_servers.contains("prompts"), "{prompt_servers:?}");
    assert!(prompts.prompts.len() > 5, "{:?}", prompts.prompts);
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools, first.tools);
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for expected in [
        "tools__add",
        "database__list_tables",
        "resources__write_note",
        "sampling__summarize",
        "internet__fetch",
        "roots__list_roots",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for name in &names {
        let (server, _) = name.split_once("__").unwrap();
        assert!(SEED_SERVERS.contains(&server), "{name}");
    }
    let bad_cursor = client
        .list_tools(Some("OTk6MDp4".into()))
        .await
        .unwrap_err();
    assert_eq!(server_error(bad_cursor).code, ErrorCode::INVALID_PARAMS);

    // One call of each.
    assert_eq!(
        ok(&client, "tools__add", json!({"a": 2, "b": 3})).await["result"],
        json!(5)
    );
    let tables = ok(&client, "database__list_tables", json!({})).await;
    assert!(tables["tables"].is_array(), "{tables}");
    let refused = call(
        &client,
        "internet__fetch",
        json!({"url": "http://127.0.0.1:1/"}),
    )
    .await
    .unwrap();
    assert_eq!(
        refused.is_error,
        Some(true),
        "loopback is refused: {refused:?}"
    );
    let note = ok(
        &client,
        "resources__write_note",
        json!({"name": "gw", "text": "written through the gateway"}),
    )
    .await;
    assert_eq!(note["uri"], "notes://gw");

    // Resources: listed with their URIs, read from the server that owns them.
    let resources = client.list_all_resources().await.unwrap();
    let readme = resources
        .iter()
        .find(|r| r.uri.ends_with("/README.md"))
        .unwrap_or_else(|| panic!("README.md in {resources:?}"));
    let read = client.read_resource(&readme.uri).await.unwrap();
    assert!(
        format!("{read:?}").contains("Hello from the resources server"),
        "{read:?}"
    );
    // A note written after the listing is found through its template.
    let read = client.read_resource("notes://gw").await.unwrap();
    assert!(format!("{read:?}").contains("written through the gateway"));
    let templates = client.list_all_resource_templates().await.unwrap();
    assert!(templates
        .iter()
        .any(|t| t.uri_template.starts_with("notes://")));

    // Prompts.
    let prompts = client.list_all_prompts().await.unwrap();
    let prompt_names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert!(
        prompt_names.contains(&"prompts__explain_code"),
        "{prompt_names:?}"
    );
    assert!(
        prompt_names.contains(&"internet__fetch"),
        "{prompt_names:?}"
    );
    let prompt = client
        .get_prompt("prompts__explain_code", [("code", "x = 1")])
        .await
        .unwrap();
    assert_eq!(prompt.messages.len(), 2);

    // Sampling reaches this client's model, and its answer comes back.
    let summary = ok(
        &client,
        "sampling__summarize",
        json!({"text": "The quick brown fox jumps over the lazy dog. ".repeat(5)}),
    )
    .await;
    assert_eq!(summary["summary"], "A gateway summary.", "{summary}");
    assert_eq!(summary["model"], "fake-llm");
    assert!(!host.sampled.lock().unwrap().is_empty());

    // The roots server sees this client's roots.
    let roots = ok(&client, "roots__list_roots", json!({})).await;
    assert_eq!(roots["roots"][0]["name"], "workspace", "{roots}");
    assert_eq!(roots["roots"][0]["path"], system.data.0.to_str().unwrap());

    // Bad input: clear errors, nothing else disturbed.
    let e = server_error(call(&client, "nope__add", json!({})).await.unwrap_err());
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(
        e.message.contains("no downstream server is named \"nope\""),
        "{e:?}"
    );
    let e = server_error(call(&client, "add", json!({})).await.unwrap_err());
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(e.message.contains("<server>__<name>"), "{e:?}");
    let e = server_error(call(&client, "tools__nope", json!({})).await.unwrap_err());
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(e.message.starts_with("tools: "), "{e:?}");
    let e = server_error(
        client
            .get_prompt("nope__x", Vec::<(String, String)>::new())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    let e = server_error(
        client
            .read_resource("gopher://nowhere/x")
            .await
            .unwrap_err(),
    );
    let expected = match era {
        Era::StatelessOnly => ErrorCode::INVALID_PARAMS,
        _ => ErrorCode::RESOURCE_NOT_FOUND,
    };
    assert_eq!(e.code, expected, "{e:?}");
    assert!(e.message.contains("no downstream server lists"), "{e:?}");
    assert_eq!(
        ok(&client, "tools__add", json!({"a": 1, "b": 1})).await["result"],
        json!(2)
    );

    let h = health(&system.base).await;
    assert_eq!(h["status"], "healthy", "{h}");
    client.close().await;
}

/// Starts the example `name` over HTTP at `addr` (to restart a server where
/// the gateway expects it), waiting until it serves.
#[tokio::test]
async fn pages_are_filled_across_servers_and_cursors_are_stable() {
    let setup = Setup {
        page_size: Some(4),
        ..Setup::default()
    };
    let system = System::start_with(&["tools", "prompts", "resources"], setup).await;
    let (client, _host) = system.client(Era::SessionOnly).await;
    let mut all = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = client.list_tools(cursor.clone()).await.unwrap();
        pages += 1;
        assert!(page.tools.len() <= 4, "{} > 4", page.tools.len());
        if let Some(next) = &page.next_cursor {
            // Full pages but for the last, whatever server boundary
            // falls inside them.
            assert_eq!(page.tools.len(), 4, "a full page before {next}");
            // The same cursor gives the same page again.
            let again = client.list_tools(cursor.clone()).await.unwrap();
            assert_eq!(again.tools, page.tools);
            assert_eq!(again.next_cursor, page.next_cursor);
        }
        all.extend(page.tools);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 100, "the walk ends");
    }
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    let distinct: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(distinct.len(), names.len(), "no tool twice: {names:?}");
    // Both servers with tools are there, in configuration order.
    let first_resources = names.iter().position(|n| n.starts_with("resources__"));
    let last_tools = names.iter().rposition(|n| n.starts_with("tools__"));
    assert!(
        last_tools.unwrap() < first_resources.unwrap(),
        "tools before resources: {names:?}"
    );
    assert!(pages > 2, "{} tools over {pages} pages", names.len());
    // None lost: every tool each server lists itself, under its prefix.
    let mut expected = Vec::new();
    for (name, server) in &system.servers {
        let direct = http_client_in(Era::SessionOnly, &server.url, ()).await;
        if direct.server_capabilities().tools.is_none() {
            continue;
        }
        for tool in direct.list_all_tools().await.unwrap() {
            expected.push(format!("{name}__{}", tool.name));
        }
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
}

/// The official Python SDK's client (`mcp` on PyPI), installed by
/// `.ci/python-tools`, whose interpreter `MCP_PYTHON` names.
fn python_sdk() -> Option<String> {
    match std::env::var("MCP_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ => {
            eprintln!(
                "SKIPPED: MCP_PYTHON is not set (run .ci/python-tools and point it at \
                 .conformance/python/bin/python)"
            );
            None
        }
    }
}

#[tokio::test]
async fn one_list_prompts_of_the_python_sdk_gets_every_prompt_of_the_seven_servers() {
    let Some(python) = python_sdk() else { return };
    let system = System::start(&SEED_SERVERS).await;
    // One call, no cursor, as a client that does not paginate makes it.
    let script = r#"
import asyncio, json, sys
from mcp import Client

async def main():
    async with Client(sys.argv[1]) as client:
        listed = await client.list_prompts()
        print(json.dumps({"names": [p.name for p in listed.prompts],
                          "next": listed.next_cursor}))

asyncio.run(main())
"#;
    let output = tokio::time::timeout(
        PATIENCE,
        tokio::process::Command::new(&python)
            .args(["-c", script, &system.url])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client in time")
    .expect("the Python client runs");
    assert!(
        output.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(got["next"], Value::Null, "{got}");
    let mut names: Vec<String> = got["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    // Every prompt each server lists itself, under its prefix.
    let mut expected = Vec::new();
    for (name, server) in &system.servers {
        let direct = http_client_in(Era::SessionOnly, &server.url, ()).await;
        if direct.server_capabilities().prompts.is_none() {
            continue;
        }
        for prompt in direct.list_all_prompts().await.unwrap() {
            expected.push(format!("{name}__{}", prompt.name));
        }
    }
    names.sort_unstable();
    expected.sort_unstable();
    assert!(expected.len() > 1, "{expected:?}");
    assert_eq!(names, expected);
}

async fn http_server_at(name: &str, addr: &str) -> tokio::process::Child {
    http_server_at_with(name, &[], addr).await
}

/// [`http_server_at`] with arguments of its own.
async fn http_server_at_with(name: &str, args: &[&str], addr: &str) -> tokio::process::Child {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(example(name))
        .args(args)
        .args(["--http", addr])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("serving MCP at") {
                return;
            }
        }
        panic!("{name} exited without serving at {addr}");
    })
    .await
    .expect("serving in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// Polls `check` until it holds, at most [`PATIENCE`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_killed_server_is_named_and_comes_back_session_era() {
    killed_server_comes_back(Era::SessionOnly).await;
}

#[tokio::test]
async fn a_killed_server_is_named_and_comes_back_stateless_era() {
    killed_server_comes_back(Era::StatelessOnly).await;
}

async fn killed_server_comes_back(era: Era) {
    let mut system = System::start(&["tools", "database"]).await;
    let (client, _host) = system.client(era).await;
    ok(&client, "tools__add", json!({"a": 2, "b": 3})).await;

    let tools = system.server("tools");
    let addr = tools.base.trim_start_matches("http://").to_owned();
    tools.child.kill().await.unwrap();

    // Its calls fail naming it; the other server keeps working.
    let e = server_error(
        call(&client, "tools__add", json!({"a": 1, "b": 2}))
            .await
            .unwrap_err(),
    );
    assert!(e.message.contains("\"tools\""), "{e:?}");
    assert_eq!(e.data.as_ref().unwrap()["server"], "tools", "{e:?}");
    let tables = ok(&client, "database__list_tables", json!({})).await;
    assert!(tables["tables"].is_array());
    let h = health(&system.base).await;
    assert_eq!(downstream_state(&h, "tools"), "down", "{h}");
    assert_eq!(downstream_state(&h, "database"), "up", "{h}");
    assert_eq!(h["status"], "degraded");
    let listed = client.list_all_tools().await.unwrap();
    assert!(
        listed.iter().all(|t| !t.name.starts_with("tools__")),
        "{listed:?}"
    );
    assert!(listed.iter().any(|t| t.name.starts_with("database__")));

    // Restarted where it was, it is found again.
    let restarted = http_server_at("tools_server", &addr).await;
    system.server("tools").child = restarted;
    eventually("tools is back", || async {
        matches!(call(&client, "tools__add", json!({"a": 1, "b": 2})).await, Ok(r) if r.is_error != Some(true))
    })
    .await;
    let h = health(&system.base).await;
    assert_eq!(downstream_state(&h, "tools"), "up", "{h}");
    assert!(
        h["downstream"][0]["connection"]["protocolVersion"].is_string(),
        "{h}"
    );
    let listed = client.list_all_tools().await.unwrap();
    assert!(listed.iter().any(|t| t.name == "tools__add"));
    assert_eq!(system.gateway.downstream().len(), 2);
    client.close().await;
}

/// A file appearing in the resources server's folder: the server announces
/// it to the gateway, which announces it to its own clients (a session
/// client through its peer, a stateless one on its `subscriptions/listen`
/// stream).
#[tokio::test]
async fn list_changes_of_a_server_reach_the_clients_in_both_eras() {
    let system = System::start(&["resources"]).await;
    let (session, session_host) = system.client(Era::SessionOnly).await;
    let (stateless, _) = system.client(Era::StatelessOnly).await;
    // The session's notifications/initialized is handled in a task of its own.
    ok(
        &session,
        "resources__write_note",
        json!({"name": "a", "text": "a"}),
    )
    .await;
    let filter = mcp_sdk::SubscriptionFilter::default().with_resources_list_changed(true);
    let mut listening = support::listen(&stateless, filter).await;
    assert_eq!(listening.acknowledged().resources_list_changed, Some(true));
    let before = session_host.resources_changed.load(Ordering::SeqCst);

    system.data.write("files/new.txt", b"new");

    let heard = tokio::time::timeout(PATIENCE, listening.next())
        .await
        .expect("a notification in time")
        .expect("the stream stays open");
    assert_eq!(heard.method, "notifications/resources/list_changed");
    eventually("the session client hears it", || async {
        session_host.resources_changed.load(Ordering::SeqCst) > before
    })
    .await;
    let listed = session.list_all_resources().await.unwrap();
    assert!(
        listed.iter().any(|r| r.uri.ends_with("/new.txt")),
        "{listed:?}"
    );
}

/// The example, configured by a TOML file: a session-era HTTP server (whose
/// sampling requests come on the call's stream), a stdio server, and one
/// that is not there; `/health` says which is which.
#[tokio::test]
async fn the_example_serves_a_config_file_of_http_stdio_and_missing_servers() {
    let data = TempDir::new("gateway-example");
    let sampling = http_server("sampling_server", &[]).await;
    let config = format!(
        r#"
call_timeout_secs = 20

[[server]]
name = "sampling"
url = "{}"
era = "session"

[[server]]
name = "db"
command = "{}"
args = ["--stdio", "--database-url", "{}"]

[[server]]
name = "ghost"
url = "http://127.0.0.1:1/mcp"
"#,
        sampling.url,
        example("database_server").display(),
        data.0.join("db.sqlite").display()
    );
    let path = data.write("gateway.toml", config.as_bytes());
    let gateway = http_server("session_manager", &["--config", path.to_str().unwrap()]).await;

    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let host = Host::new(&data);
        let client = http_client_in(era, &gateway.url, host.clone()).await;
        let summary = ok(
            &client,
            "sampling__summarize",
            json!({"text": "Some text to shorten."}),
        )
        .await;
        assert_eq!(
            summary["summary"], "A gateway summary.",
            "{era:?}: {summary}"
        );
        assert_eq!(host.sampled.lock().unwrap().len(), 1, "{era:?}");
        let tables = ok(&client, "db__list_tables", json!({})).await;
        assert!(tables["tables"].is_array());
        let e = server_error(
            call(&client, "ghost__anything", json!({}))
                .await
                .unwrap_err(),
        );
        assert!(e.message.contains("\"ghost\""), "{e:?}");
        assert!(e.message.contains("unavailable"), "{e:?}");
        let names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(names.iter().any(|n| n.starts_with("db__")), "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with("ghost__")), "{names:?}");
        client.close().await;
    }

    let h = health(&gateway.base).await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(downstream_state(&h, "sampling"), "up", "{h}");
    assert_eq!(h["downstream"][0]["connection"]["stateless"], false, "{h}");
    assert_eq!(downstream_state(&h, "db"), "up", "{h}");
    assert_eq!(downstream_state(&h, "ghost"), "down", "{h}");
    assert!(
        h["downstream"][2]["lastError"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{h}"
    );
}

/// A config file that cannot be used stops the example with a message
/// saying what is wrong.
#[tokio::test]
async fn the_example_refuses_a_bad_config_file() {
    let data = TempDir::new("gateway-bad-config");
    let path = data.write(
        "bad.toml",
        b"[[server]]\nname = \"a__b\"\nurl = \"http://x\"\n",
    );
    let out = tokio::process::Command::new(example("session_manager"))
        .args(["--config", path.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad gateway configuration") && stderr.contains("a__b"),
        "{stderr}"
    );
}

#[tokio::test]
async fn progress_and_completion_pass_through_session_era() {
    progress_and_completion(Era::SessionOnly).await;
}

#[tokio::test]
async fn progress_and_completion_pass_through_stateless_era() {
    progress_and_completion(Era::StatelessOnly).await;
}

/// A long downstream call's progress reaches the upstream caller, in
/// order; completion is routed by the prompt's prefixed name.
async fn progress_and_completion(era: Era) {
    let system = System::start(&["tools", "prompts"]).await;
    let (client, _host) = system.client(era).await;

    let mut csv = String::from("id,name\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},name {i}\n"));
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = mcp_sdk_client::RequestOptions::new().on_progress(move |p| {
        sink.lock().unwrap().push(p.progress);
    });
    let result = tokio::time::timeout(
        PATIENCE,
        client.call_tool_with("tools__csv_to_json", json!({"csv_data": csv}), options),
    )
    .await
    .unwrap()
    .unwrap();
    assert_ne!(result.is_error, Some(true));
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 2, "{era:?}: progress relayed: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "growing: {seen:?}");
    assert_eq!(*seen.last().unwrap(), csv.len() as f64);

    let complete = |prompt: &str| {
        client.complete(mcp_sdk::CompleteParams::new(
            mcp_sdk::CompletionReference::prompt(prompt),
            "language",
            "py",
        ))
    };
    let values = complete("prompts__code_review")
        .await
        .unwrap()
        .completion
        .values;
    assert_eq!(values, ["python"]);
    let e = server_error(complete("nope__code_review").await.unwrap_err());
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
}

/// A server that accepts connections but never answers is reported down
/// after the connect timeout, without holding the others up.
#[tokio::test]
async fn a_server_that_never_answers_is_down_after_the_connect_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/mcp", silent.local_addr().unwrap());
    // Accepts and holds connections, answering nothing.
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let tools = http_server("tools_server", &[]).await;
    let specs = [("silent", silent_url), ("tools", tools.url.clone())]
        .into_iter()
        .map(|(name, url)| DownstreamSpec {
            name: name.into(),
            target: Target::Http { url },
            era: Era::Auto,
        })
        .collect();
    let mut config = GatewayConfig::new(specs).unwrap();
    config.connect_timeout = Duration::from_millis(500);
    let started = tokio::time::Instant::now();
    let gateway = Gateway::start(config).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let h = gateway.health();
    assert_eq!(downstream_state(&h, "silent"), "down", "{h}");
    assert_eq!(downstream_state(&h, "tools"), "up", "{h}");
    let why = h["downstream"][0]["lastError"].as_str().unwrap();
    assert!(why.contains("no connection within"), "{why}");
}

/// A server that is down when the gateway starts is offered all the same,
/// and its tools appear once it comes up.
#[tokio::test]
async fn a_server_down_at_the_start_joins_when_it_comes_up() {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let spec = DownstreamSpec {
        name: "tools".into(),
        target: Target::Http {
            url: format!("http://{addr}/mcp"),
        },
        era: Era::Auto,
    };
    let mut config = GatewayConfig::new(vec![spec]).unwrap();
    config.min_backoff = Duration::from_millis(100);
    config.max_backoff = Duration::from_millis(300);
    let gateway = Gateway::start(config).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(gateway::serve(
        gateway,
        listener,
        Default::default(),
        std::future::pending(),
    ));
    // The server, once started; killed when the test ends.
    let mut started = None;
    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let client = http_client_in(era, &url, ()).await;
        assert!(client.server_capabilities().tools.is_some(), "{era:?}");
        if era == Era::SessionOnly {
            assert!(client.list_all_tools().await.unwrap().is_empty());
            let e = server_error(call(&client, "tools__add", json!({})).await.unwrap_err());
            assert!(e.message.contains("unavailable"), "{e:?}");
            started = Some(http_server_at("tools_server", &addr).await);
            eventually("its tools appear", || async {
                let tools = client.list_all_tools().await.unwrap();
                tools.iter().any(|t| t.name == "tools__add")
            })
            .await;
        } else {
            assert_eq!(
                ok(&client, "tools__add", json!({"a": 1, "b": 2})).await,
                json!({"result": 3})
            );
        }
    }
    assert!(started.is_some());
}

/// Adds one to its counter when dropped: a tool handler holding it was
/// dropped before it finished, which is how the SDK cancels a handler.
struct CountOnDrop(Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A downstream server that shows what reaches it, served by our SDK in
/// this process on a socket of its own: its `wait` tool runs until it is
/// cancelled, counting starts and cancellations; `hello` answers at once.
/// The gateway reaches it twice, as `probe_s` in the session era and as
/// `probe_x` in the stateless era, so each test covers both downstream eras.
struct Probe {
    url: String,
    started: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
    _serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The two names the gateway knows a [`Probe`] by, one per downstream era.
const PROBES: [(&str, Era); 2] = [
    ("probe_s", Era::SessionOnly),
    ("probe_x", Era::StatelessOnly),
];

impl Probe {
    async fn start() -> Probe {
        let started = Arc::new(AtomicUsize::new(0));
        let cancelled = Arc::new(AtomicUsize::new(0));
        let (on_start, on_cancel) = (started.clone(), cancelled.clone());
        let router = Router::new()
            .tool(
                mcp_sdk::Tool::named("wait", "Runs until cancelled"),
                move |_: NoArguments, _ctx: ServerCx| {
                    on_start.fetch_add(1, Ordering::SeqCst);
                    let dropped = CountOnDrop(on_cancel.clone());
                    async move {
                        let _dropped = dropped;
                        std::future::pending::<&'static str>().await
                    }
                },
            )
            .tool(
                mcp_sdk::Tool::named("hello", "Answers at once"),
                |_: NoArguments| async { "hello" },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let service = mcp_sdk_server::http::StreamableHttpService::new(router, Default::default());
        let serving = tokio::spawn(mcp_sdk_server::http::serve_app(
            listener,
            "/mcp",
            service,
            None,
            std::future::pending(),
        ));
        Probe {
            url,
            started,
            cancelled,
            _serving: serving,
        }
    }

    /// The gateway's entries for it.
    fn specs(&self) -> Vec<DownstreamSpec> {
        PROBES
            .iter()
            .map(|(name, era)| DownstreamSpec {
                name: (*name).into(),
                target: Target::Http {
                    url: self.url.clone(),
                },
                era: *era,
            })
            .collect()
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    async fn until_started(&self, n: usize) {
        eventually(&format!("{n} waits started"), || async {
            self.started() >= n
        })
        .await;
    }

    async fn until_cancelled(&self, n: usize) {
        eventually(&format!("{n} waits cancelled"), || async {
            self.cancelled() >= n
        })
        .await;
    }
}

#[tokio::test]
async fn an_upstream_cancellation_cancels_the_downstream_call_session_era() {
    upstream_cancellation(Era::SessionOnly).await;
}

#[tokio::test]
async fn an_upstream_cancellation_cancels_the_downstream_call_stateless_era() {
    upstream_cancellation(Era::StatelessOnly).await;
}

/// A client that gives up on a call (its timeout passes, or it drops the
/// call) makes the gateway cancel the downstream call, which the probe
/// sees; downstream servers of both eras.
async fn upstream_cancellation(era: Era) {
    let probe = Probe::start().await;
    let setup = Setup {
        extra: probe.specs(),
        ..Default::default()
    };
    let system = System::start_with(&["tools"], setup).await;
    let (client, _host) = system.client(era).await;
    let mut expected = 0;
    for (server, _) in PROBES {
        let tool = format!("{server}__wait");

        // The client's own timeout.
        let options = RequestOptions::new().timeout(Duration::from_millis(500));
        let e = tokio::time::timeout(PATIENCE, client.call_tool_with(&tool, json!({}), options))
            .await
            .expect("the client's timeout")
            .unwrap_err();
        assert!(matches!(e, ClientError::Timeout { .. }), "{era:?}: {e:?}");
        expected += 1;
        probe.until_cancelled(expected).await;

        // The call dropped once the downstream server is running it.
        tokio::select! {
            r = client.call_tool(&tool, json!({})) => panic!("{tool} answered: {r:?}"),
            _ = probe.until_started(expected + 1) => {}
        }
        expected += 1;
        probe.until_cancelled(expected).await;
    }
    assert_eq!(probe.started(), expected);
    system.until_no_calls_in_flight().await;
    let h = health(&system.base).await;
    assert!(
        h["downstream"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["callsInFlight"] == 0),
        "{h}"
    );
    // The same client goes on.
    assert_eq!(
        ok(&client, "tools__add", json!({"a": 1, "b": 2})).await["result"],
        json!(3)
    );
    for (server, _) in PROBES {
        let hello = call(&client, &format!("{server}__hello"), json!({}))
            .await
            .unwrap();
        assert!(
            format!("{:?}", hello.content).contains("hello"),
            "{hello:?}"
        );
    }
    client.close().await;
}

#[tokio::test]
async fn a_vanished_client_has_its_downstream_calls_cancelled_session_era() {
    vanished_client(Era::SessionOnly).await;
}

#[tokio::test]
async fn a_vanished_client_has_its_downstream_calls_cancelled_stateless_era() {
    vanished_client(Era::StatelessOnly).await;
}

/// A client that vanishes (its connections close, without a cancellation
/// nor a DELETE) with calls in flight to both probes: the gateway cancels
/// them downstream, leaks nothing, and keeps serving another client. In the
/// stateless era the closed response stream is the cancellation; a session
/// may resume its streams, so its calls end when the idle session expires
/// (here after one second; the call timeout bounds them too).
async fn vanished_client(era: Era) {
    let probe = Probe::start().await;
    let setup = Setup {
        extra: probe.specs(),
        http: HttpConfig {
            session_idle_timeout: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let system = System::start_with(&["tools"], setup).await;
    let (other, _host) = system.client(era).await;

    let tools: Vec<String> = PROBES
        .iter()
        .map(|(server, _)| format!("{server}__wait"))
        .collect();
    let vanishing = match era {
        Era::SessionOnly => tokio::spawn(raw_session_calls(system.url.clone(), tools)),
        _ => {
            let client = http_client_in(era, &system.url, ()).await;
            tokio::spawn(async move {
                let calls = tools.iter().map(|t| client.call_tool(t, json!({})));
                let answers = futures_util::future::join_all(calls).await;
                panic!("answered: {answers:?}");
            })
        }
    };
    probe.until_started(2).await;
    // The gateway serves the other client meanwhile.
    assert_eq!(
        ok(&other, "tools__add", json!({"a": 2, "b": 2})).await["result"],
        json!(4)
    );
    assert_eq!(probe.cancelled(), 0);
    // Vanishing: the task's connections close with it.
    vanishing.abort();
    probe.until_cancelled(2).await;
    system.until_no_calls_in_flight().await;
    for (server, _) in PROBES {
        call(&other, &format!("{server}__hello"), json!({}))
            .await
            .unwrap();
    }
    assert_eq!(
        ok(&other, "tools__add", json!({"a": 3, "b": 3})).await["result"],
        json!(6)
    );
    other.close().await;
}

/// The revision the raw session-era requests speak.
const RAW_VERSION: &str = "2025-11-25";

/// A session-era client in raw HTTP, which can do what ours never does:
/// vanish as a killed process does, or leave its session idle without a
/// GET stream. It starts a session at `url` and gives the session id.
async fn raw_session(http: &reqwest::Client, url: &str) -> String {
    let init = raw_post(
        http,
        url,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": RAW_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        }}),
        None,
    )
    .await
    .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    init.text().await.unwrap();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let answer = raw_post(http, url, initialized, Some(&session))
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    session
}

/// POSTs one JSON-RPC message, in the session `session` if given.
fn raw_post(
    http: &reqwest::Client,
    url: &str,
    body: Value,
    session: Option<&str>,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    let mut req = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(session) = session {
        req = req
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", RAW_VERSION);
    }
    req.send()
}

/// A raw session that calls each tool of `tools` (each on a connection of
/// its own) and never returns; aborting it closes the connections without
/// cancelling anything or ending the session.
async fn raw_session_calls(url: String, tools: Vec<String>) {
    let http = reqwest::Client::new();
    let session = raw_session(&http, &url).await;
    let calls = tools.iter().enumerate().map(|(i, tool)| {
        let body = json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
            "params": {"name": tool, "arguments": {}}});
        let (http, url, session) = (&http, &url, &session);
        async move {
            let mut answer = raw_post(http, url, body, Some(session)).await.unwrap();
            while answer.chunk().await.unwrap().is_some() {}
        }
    });
    futures_util::future::join_all(calls).await;
    panic!("the calls ended");
}

#[tokio::test]
async fn a_hung_server_times_out_naming_it_session_era() {
    hung_server(Era::SessionOnly).await;
}

#[tokio::test]
async fn a_hung_server_times_out_naming_it_stateless_era() {
    hung_server(Era::StatelessOnly).await;
}

/// A downstream server that hangs mid-call: the real tools server behind a
/// frozen [`Relay`] (its sockets open, nothing passing; reached in both
/// downstream eras, as `tools` and `tools_s`), and the probe's `wait` tool.
/// Each call fails after the gateway's call timeout with an error naming
/// the server, the gateway cancels it downstream, the other servers keep
/// answering, and the hung server answers again once the relay thaws.
async fn hung_server(era: Era) {
    let probe = Probe::start().await;
    let tools = http_server("tools_server", &[]).await;
    let tools_addr = tools.base.trim_start_matches("http://").parse().unwrap();
    let relay = Relay::start(tools_addr).await;
    let mut extra = probe.specs();
    for (name, era) in [("tools", Era::Auto), ("tools_s", Era::SessionOnly)] {
        extra.push(DownstreamSpec {
            name: name.into(),
            target: Target::Http {
                url: format!("http://{}/mcp", relay.addr),
            },
            era,
        });
    }
    let setup = Setup {
        extra,
        call_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let system = System::start_with(&["database"], setup).await;
    let (client, _host) = system.client(era).await;
    for name in ["tools", "tools_s"] {
        ok(&client, &format!("{name}__add"), json!({"a": 1, "b": 1})).await;
    }

    relay.freeze();
    for name in ["tools", "tools_s", "probe_s", "probe_x"] {
        let tool = match name {
            "tools" | "tools_s" => format!("{name}__add"),
            _ => format!("{name}__wait"),
        };
        let asked = tokio::time::Instant::now();
        let e = server_error(
            call(&client, &tool, json!({"a": 1, "b": 2}))
                .await
                .unwrap_err(),
        );
        assert!(asked.elapsed() < Duration::from_secs(10), "{tool}: {e:?}");
        assert_eq!(e.code, ErrorCode::REQUEST_TIMEOUT, "{tool}: {e:?}");
        assert!(
            e.message
                .contains(&format!("{name:?} did not answer tools/call within 1s")),
            "{tool}: {e:?}"
        );
        assert_eq!(e.data.as_ref().unwrap()["server"], name, "{e:?}");
        // Meanwhile the others answer.
        let tables = ok(&client, "database__list_tables", json!({})).await;
        assert!(tables["tables"].is_array());
    }
    // The probe saw both of its calls cancelled by the gateway.
    probe.until_cancelled(2).await;

    relay.thaw();
    for name in ["tools", "tools_s"] {
        eventually(&format!("{name} answers again"), || async {
            matches!(call(&client, &format!("{name}__add"), json!({"a": 2, "b": 2})).await,
                Ok(r) if r.structured_content == Some(json!({"result": 4})))
        })
        .await;
    }
    system.until_no_calls_in_flight().await;
    client.close().await;
}

/// Text of a tool result's content, joined.
fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|c| c["text"].as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The conformance server's `test_elicitation` tool behind the example
/// gateway (a TOML file naming it over HTTP in the session era and over
/// stdio in the stateless era): its question reaches the upstream client's
/// handler and the answer comes back, for clients of both eras; a client
/// that cannot elicit gets a clear refusal.
#[tokio::test]
async fn elicitation_is_relayed_to_the_upstream_client_in_both_eras() {
    let data = TempDir::new("gateway-elicitation");
    let conformance = http_server("conformance_server", &[]).await;
    let config = format!(
        r#"
call_timeout_secs = 20

[[server]]
name = "conf"
url = "{}"
era = "session"

[[server]]
name = "conf_io"
command = "{}"
args = ["--stdio"]
era = "stateless"
"#,
        conformance.url,
        example("conformance_server").display(),
    );
    let path = data.write("gateway.toml", config.as_bytes());
    let gateway = http_server("session_manager", &["--config", path.to_str().unwrap()]).await;

    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let host = Host::new(&data);
        let client = http_client_in(era, &gateway.url, host.clone()).await;
        for server in ["conf", "conf_io"] {
            let tool = format!("{server}__test_elicitation");
            let message = format!("Who are you ({era:?}, {server})?");
            let result = call(&client, &tool, json!({"message": message}))
                .await
                .unwrap();
            assert_ne!(result.is_error, Some(true), "{era:?} {tool}: {result:?}");
            let text = text_of(&result);
            assert!(
                text.contains("accept") && text.contains("gw-user"),
                "{era:?} {tool}: {text}"
            );
            assert_eq!(host.elicited.lock().unwrap().last(), Some(&message));
        }
        client.close().await;

        // A client without the capability: the server is told so, and the
        // client gets an error (or a failed tool) saying what was missing.
        let plain = http_client_in(era, &gateway.url, ()).await;
        for server in ["conf", "conf_io"] {
            let tool = format!("{server}__test_elicitation");
            let said = match call(&plain, &tool, json!({"message": "Who?"})).await {
                Ok(result) => {
                    assert_eq!(result.is_error, Some(true), "{era:?} {tool}: {result:?}");
                    text_of(&result)
                }
                Err(e) => server_error(e).message,
            };
            assert!(said.contains("elicitation"), "{era:?} {tool}: {said}");
        }
        plain.close().await;
    }
}

#[tokio::test]
async fn downstream_log_messages_reach_the_caller_session_era() {
    downstream_logs(Era::SessionOnly).await;
}

#[tokio::test]
async fn downstream_log_messages_reach_the_caller_stateless_era() {
    downstream_logs(Era::StatelessOnly).await;
}

/// The gateway in front of the conformance server twice: as `conf`
/// reached in the session era and `conf_x` in the stateless era (the
/// server must live as long as the system).
async fn conformance_behind_gateway() -> (System, HttpServer) {
    let conformance = http_server("conformance_server", &[]).await;
    let extra = [("conf", Era::SessionOnly), ("conf_x", Era::StatelessOnly)]
        .into_iter()
        .map(|(name, era)| DownstreamSpec {
            name: name.into(),
            target: Target::Http {
                url: conformance.url.clone(),
            },
            era,
        })
        .collect();
    let setup = Setup {
        extra,
        ..Default::default()
    };
    (System::start_with(&[], setup).await, conformance)
}

/// The conformance server's `test_tool_with_logging` (three Info messages
/// during the call), reached in both downstream eras: its messages reach
/// the upstream caller under the server's name as logger, at the level the
/// caller asked for, and none once it asks for warnings only.
async fn downstream_logs(era: Era) {
    let (system, _conformance) = conformance_behind_gateway().await;
    let (client, host) = system.client(era).await;
    assert!(client.server_capabilities().logging.is_some());
    client.set_logging_level(LoggingLevel::Info).await.unwrap();
    for server in ["conf", "conf_x"] {
        host.logs.lock().unwrap().clear();
        let result = call(
            &client,
            &format!("{server}__test_tool_with_logging"),
            json!({}),
        )
        .await
        .unwrap();
        assert_ne!(result.is_error, Some(true), "{result:?}");
        // Messages sent during the call; the last one may come after the
        // answer, when no call is in flight to tie it to.
        let logs = host.logs.lock().unwrap().clone();
        for expected in ["Tool execution started", "Tool processing data"] {
            let line = format!("{server}: {expected}");
            assert!(logs.contains(&line), "{era:?}: {line:?} in {logs:?}");
        }
    }

    client
        .set_logging_level(LoggingLevel::Warning)
        .await
        .unwrap();
    host.logs.lock().unwrap().clear();
    for server in ["conf", "conf_x"] {
        call(
            &client,
            &format!("{server}__test_tool_with_logging"),
            json!({}),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = host.logs.lock().unwrap().clone();
    assert!(
        logs.is_empty(),
        "{era:?}: only warnings asked for: {logs:?}"
    );
    client.close().await;
}

/// Two upstream clients calling the same logging tool at once each hear
/// their own call's three messages, from a downstream server of either
/// era: the messages come on the call's own response stream, which ties
/// them to it (before, with two calls in flight, the gateway could not
/// tell whose they were and kept them to itself).
#[tokio::test]
async fn concurrent_callers_each_hear_their_own_calls_logs() {
    let (system, _conformance) = conformance_behind_gateway().await;
    let (first, first_host) = system.client(Era::SessionOnly).await;
    let (second, second_host) = system.client(Era::StatelessOnly).await;
    for client in [&first, &second] {
        client.set_logging_level(LoggingLevel::Info).await.unwrap();
    }
    for server in ["conf", "conf_x"] {
        first_host.logs.lock().unwrap().clear();
        second_host.logs.lock().unwrap().clear();
        let tool = format!("{server}__test_tool_with_logging");
        let (a, b) = tokio::join!(
            call(&first, &tool, json!({})),
            call(&second, &tool, json!({}))
        );
        assert_ne!(a.unwrap().is_error, Some(true));
        assert_ne!(b.unwrap().is_error, Some(true));
        let expected: Vec<String> = [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        .iter()
        .map(|m| format!("{server}: {m}"))
        .collect();
        for (who, host) in [("first", &first_host), ("second", &second_host)] {
            let logs = host.logs.lock().unwrap().clone();
            assert_eq!(logs, expected, "{server}, {who} client");
        }
    }
    first.close().await;
    second.close().await;
}

#[tokio::test]
async fn resource_updates_reach_subscribed_sessions() {
    for downstream in [Era::SessionOnly, Era::StatelessOnly] {
        resource_updates(Era::SessionOnly, downstream).await;
    }
}

#[tokio::test]
async fn resource_updates_reach_stateless_listeners() {
    for downstream in [Era::SessionOnly, Era::StatelessOnly] {
        resource_updates(Era::StatelessOnly, downstream).await;
    }
}

/// How many resource URIs the gateway watches at the server `name`.
fn watching_at(gateway: &Gateway, name: &str) -> u64 {
    let h = gateway.health();
    h["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .map(|d| d["watching"].as_u64().unwrap())
        .unwrap()
}

/// A note of the resources server (reached in the era `downstream`)
/// watched through the gateway: a session subscribes with
/// `resources/subscribe`, a stateless client listens with
/// `resourceSubscriptions`; `write_note` changes it, and each hears
/// `notifications/resources/updated` for it, until it unsubscribes.
async fn resource_updates(upstream: Era, downstream: Era) {
    let data = TempDir::new("gateway-subscribe");
    let dir = data.0.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let resources = http_server("resources_server", &["--dir", dir.to_str().unwrap()]).await;
    let spec = DownstreamSpec {
        name: "resources".into(),
        target: Target::Http {
            url: resources.url.clone(),
        },
        era: downstream,
    };
    let setup = Setup {
        extra: vec![spec],
        ..Default::default()
    };
    let system = System::start_with(&[], setup).await;
    let (client, host) = system.client(upstream).await;
    let offered = client.server_capabilities().resources.clone().unwrap();
    assert_eq!(offered.subscribe, Some(true), "{upstream:?}/{downstream:?}");
    let uri = "notes://watched";
    let write = |text: &'static str| {
        let client = client.clone();
        async move {
            ok(
                &client,
                "resources__write_note",
                json!({"name": "watched", "text": text}),
            )
            .await;
        }
    };
    write("first").await;

    // A stateless listener alone: the gateway watches the URI downstream
    // for it (it knows the owner from the templates the client listed).
    if upstream == Era::StatelessOnly {
        client.list_all_resource_templates().await.unwrap();
        let filter = mcp_sdk::SubscriptionFilter::default()
            .with_resource_subscriptions(vec![uri.to_owned()]);
        let mut alone = support::listen(&client, filter).await;
        // The gateway acknowledges the stream once the server watches the
        // URI for it (it acknowledged first, and a write right after the
        // acknowledgement was lost): `watching` counts the URI once the
        // server acknowledged the gateway's stream there (issue 17), and
        // the first write, made at once, is heard.
        assert_eq!(
            watching_at(&system.gateway, "resources"),
            1,
            "{downstream:?}: watched downstream before the acknowledgement"
        );
        write("heard alone").await;
        let heard = tokio::time::timeout(PATIENCE, alone.next())
            .await
            .expect("a notification in time")
            .expect("the stream stays open");
        assert_eq!(heard.params.as_ref().unwrap()["uri"], uri, "{heard:?}");
        drop(alone);
        let gateway = system.gateway.clone();
        eventually(
            "the gateway stops watching when the listener leaves",
            || {
                let gateway = gateway.clone();
                async move { watching_at(&gateway, "resources") == 0 }
            },
        )
        .await;
    }

    // A session subscribes.
    let (session, session_host) = system.client(Era::SessionOnly).await;
    session.subscribe(uri).await.unwrap();
    let mut listening = match upstream {
        Era::StatelessOnly => {
            let filter = mcp_sdk::SubscriptionFilter::default()
                .with_resource_subscriptions(vec![uri.to_owned()]);
            let listening = support::listen(&client, filter).await;
            assert_eq!(
                listening.acknowledged().resource_subscriptions,
                Some(vec![uri.to_owned()])
            );
            Some(listening)
        }
        _ => None,
    };

    write("second").await;
    eventually("the session hears of the change", || async {
        session_host
            .updated
            .lock()
            .unwrap()
            .iter()
            .any(|u| u == uri)
    })
    .await;
    if let Some(listening) = &mut listening {
        let heard = tokio::time::timeout(PATIENCE, listening.next())
            .await
            .expect("a notification in time")
            .expect("the stream stays open");
        assert_eq!(heard.method, "notifications/resources/updated");
        assert_eq!(heard.params.as_ref().unwrap()["uri"], uri, "{heard:?}");
    }

    // Unsubscribed, the session hears no more.
    session.unsubscribe(uri).await.unwrap();
    let heard = session_host.updated.lock().unwrap().len();
    write("third").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(session_host.updated.lock().unwrap().len(), heard);
    if upstream == Era::SessionOnly {
        let updated = host.updated.lock().unwrap().clone();
        assert!(
            updated.is_empty(),
            "only subscribed sessions hear: {updated:?}"
        );
    }

    // Bad input: a URI no server owns; subscribing in the stateless era.
    let e = server_error(session.subscribe("gopher://nowhere/x").await.unwrap_err());
    assert!(e.message.contains("no downstream server lists"), "{e:?}");
    if upstream == Era::StatelessOnly {
        let e = client.subscribe(uri).await.unwrap_err();
        assert!(matches!(e, ClientError::Unsupported(_)), "{e:?}");
    }
    // A session that ends takes its subscriptions along: the gateway stops
    // watching the URI downstream (once no listener wants it either).
    drop(listening);
    session.subscribe(uri).await.unwrap();
    assert_eq!(watching_at(&system.gateway, "resources"), 1);
    session.close().await;
    let gateway = system.gateway.clone();
    eventually("the closed session's subscription ends", || {
        let gateway = gateway.clone();
        async move { watching_at(&gateway, "resources") == 0 }
    })
    .await;
    client.close().await;
}

/// Sessions subscribing at once to many notes of a stateless server: each
/// new URI replaces the gateway's `subscriptions/listen` stream there, and
/// the streams are acknowledged in any order. Every URI stays watched, so
/// every subscriber hears of every write (issue 17: a stream built from an
/// older set of URIs, acknowledged last, replaced a newer one, and a
/// client of the soak never heard its warm-up note).
#[tokio::test]
async fn concurrent_subscriptions_through_a_stateless_server_all_stay_watched() {
    const CLIENTS: usize = 8;
    const NOTES: usize = 4;
    let data = TempDir::new("gateway-concurrent-subscribe");
    let dir = data.0.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let resources = http_server("resources_server", &["--dir", dir.to_str().unwrap()]).await;
    let spec = DownstreamSpec {
        name: "resources".into(),
        target: Target::Http {
            url: resources.url.clone(),
        },
        era: Era::StatelessOnly,
    };
    let setup = Setup {
        extra: vec![spec],
        ..Default::default()
    };
    let system = System::start_with(&[], setup).await;
    let note = |c: usize, n: usize| format!("together-{c}-{n}");
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (client, host) = system.client(Era::SessionOnly).await;
        for n in 0..NOTES {
            let args = json!({"name": note(c, n), "text": "created"});
            ok(&client, "resources__write_note", args).await;
        }
        clients.push((client, host));
    }
    // Every subscription at once: 32 listen streams replace each other.
    let subscribing = clients.iter().enumerate().flat_map(|(c, (client, _))| {
        (0..NOTES).map(move |n| async move {
            let uri = format!("notes://{}", note(c, n));
            client.subscribe(&uri).await.unwrap();
        })
    });
    futures_util::future::join_all(subscribing).await;
    assert_eq!(
        watching_at(&system.gateway, "resources"),
        (CLIENTS * NOTES) as u64
    );
    for (c, (client, _)) in clients.iter().enumerate() {
        for n in 0..NOTES {
            let args = json!({"name": note(c, n), "text": "changed"});
            ok(client, "resources__write_note", args).await;
        }
    }
    let missing = || {
        let mut missing = Vec::new();
        for (c, (_, host)) in clients.iter().enumerate() {
            let updated = host.updated.lock().unwrap();
            for n in 0..NOTES {
                let uri = format!("notes://{}", note(c, n));
                if !updated.contains(&uri) {
                    missing.push(uri);
                }
            }
        }
        missing
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !missing().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(missing(), Vec::<String>::new(), "updates never heard");
    for (client, _) in clients {
        client.close().await;
    }
}

/// `--session-idle-minutes` of the example: a session left idle (no
/// request, no open stream) past it is closed, and its next request gets
/// 404 (our client then says the session expired); a session whose client
/// holds its GET stream open is in use and stays; stateless clients have
/// no session to lose.
#[tokio::test]
async fn idle_sessions_expire_after_the_configured_time() {
    let data = TempDir::new("gateway-idle");
    let tools = http_server("tools_server", &[]).await;
    let config = format!("[[server]]\nname = \"tools\"\nurl = \"{}\"\n", tools.url);
    let path = data.write("gateway.toml", config.as_bytes());
    let args = [
        "--config",
        path.to_str().unwrap(),
        "--session-idle-minutes",
        "0.02",
    ];
    let gateway = http_server("session_manager", &args).await;

    let http = reqwest::Client::new();
    let idle = raw_session(&http, &gateway.url).await;
    let session = http_client_in(Era::SessionOnly, &gateway.url, ()).await;
    let stateless = http_client_in(Era::StatelessOnly, &gateway.url, ()).await;
    // 0.02 minutes is 1.2 s; the sweep runs every quarter of it.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let answer = raw_post(&http, &gateway.url, list, Some(&idle))
        .await
        .unwrap();
    assert_eq!(answer.status(), 404, "the idle session is gone");
    for client in [&session, &stateless] {
        assert_eq!(
            ok(client, "tools__add", json!({"a": 1, "b": 2})).await,
            json!({"result": 3})
        );
    }
    session.close().await;
}

#[tokio::test]
async fn a_relayed_answer_after_the_timeout_is_dropped_session_era() {
    late_relayed_answer(Era::SessionOnly).await;
}

#[tokio::test]
async fn a_slow_relayed_answer_between_rounds_is_no_timeout_stateless_era() {
    late_relayed_answer(Era::StatelessOnly).await;
}

/// The upstream client's model answers a relayed sampling request after
/// the gateway's call timeout (1 s). In a session the call is waiting for
/// it: the call fails naming the server, the late answer is dropped, and
/// the gateway goes on. A stateless client answers between two requests,
/// while no call is waiting, so the slow answer is no timeout.
async fn late_relayed_answer(era: Era) {
    let setup = Setup {
        call_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let system = System::start_with(&["sampling", "tools"], setup).await;
    let mut host = Host::new(&system.data);
    host.sampling_delay = Duration::from_millis(2000);
    let client = http_client_in(era, &system.url, host.clone()).await;
    let text = json!({"text": "Some text to shorten."});
    let answer = call(&client, "sampling__summarize", text).await;
    match era {
        Era::SessionOnly => {
            let e = server_error(answer.unwrap_err());
            assert_eq!(e.code, ErrorCode::REQUEST_TIMEOUT, "{e:?}");
            assert!(e.message.contains("\"sampling\" did not answer"), "{e:?}");
            // The model's answer comes after that, to nobody.
            eventually("the model answered", || async {
                !host.sampled.lock().unwrap().is_empty()
            })
            .await;
        }
        _ => {
            let summary = answer.unwrap().structured_content.unwrap();
            assert_eq!(summary["summary"], "A gateway summary.", "{summary}");
        }
    }
    system.until_no_calls_in_flight().await;
    assert_eq!(
        ok(&client, "tools__add", json!({"a": 1, "b": 2})).await["result"],
        json!(3)
    );
    client.close().await;
}

/// A server that answers every HTTP request with 200 and a body that is not
/// JSON-RPC.
async fn garbage_server() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 16 * 1024];
                let _ = socket.read(&mut buf).await;
                let body = "<html>this is not JSON-RPC</html>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, serving)
}

/// A downstream "server" answering garbage: it is down, named with the
/// reason, its calls fail naming it, and the others work, in both eras.
#[tokio::test]
async fn a_server_answering_garbage_is_named_and_the_others_work() {
    let (garbage, _serving) = garbage_server().await;
    let spec = DownstreamSpec {
        name: "garbage".into(),
        target: Target::Http { url: garbage },
        era: Era::Auto,
    };
    let setup = Setup {
        extra: vec![spec],
        ..Default::default()
    };
    let system = System::start_with(&["tools"], setup).await;
    let h = health(&system.base).await;
    assert_eq!(downstream_state(&h, "garbage"), "down", "{h}");
    let why = h["downstream"][1]["lastError"].as_str().unwrap().to_owned();
    assert!(
        why.contains("cannot connect") && why.contains("not JSON-RPC"),
        "{why}"
    );
    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let (client, _host) = system.client(era).await;
        let e = server_error(
            call(&client, "garbage__anything", json!({}))
                .await
                .unwrap_err(),
        );
        assert!(e.message.contains("\"garbage\""), "{era:?}: {e:?}");
        assert!(e.message.contains(&why), "{era:?}: {e:?}");
        assert_eq!(
            ok(&client, "tools__add", json!({"a": 1, "b": 2})).await["result"],
            json!(3)
        );
        client.close().await;
    }
}

/// Tasks through the gateway, for upstream clients of both eras, to a
/// downstream server reached in either era: a call made as a task becomes
/// a task of the gateway's, which calls the tool downstream (plainly, or as
/// a task there when the tool runs only as one) and ends with its result.
#[tokio::test]
async fn tasks_through_the_gateway_in_both_eras() {
    let (system, _conformance) = conformance_behind_gateway().await;
    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let (client, _host) = system.client(era).await;
        let tools = client.list_all_tools().await.unwrap();
        let slow = tools
            .iter()
            .find(|t| t.name == "conf__slow_compute")
            .unwrap();
        assert!(slow.runs_as_task(), "{era:?}: {slow:?}");
        for server in ["conf", "conf_x"] {
            let follow = |outcome: mcp_sdk_client::ToolTask| {
                let client = client.clone();
                async move {
                    match outcome {
                        mcp_sdk_client::ToolTask::Running(task) => tokio::time::timeout(
                            PATIENCE,
                            client.task_result::<CallToolResult>(&task.task_id),
                        )
                        .await
                        .expect("the task ends in time")
                        .unwrap(),
                        mcp_sdk_client::ToolTask::Finished(result) => {
                            panic!(
                                "{era:?} {server}: a one-second call answered at once: {result:?}"
                            )
                        }
                    }
                }
            };
            let started = client
                .call_tool_as_task(
                    &format!("{server}__slow_compute"),
                    json!({"seconds": 1, "label": "gw"}),
                    None,
                )
                .await
                .unwrap();
            let result = follow(started).await;
            assert_eq!(
                result.content[0].as_text(),
                Some("computed gw in 1 s"),
                "{era:?} {server}"
            );
            // Downstream the tool runs only as a task: the gateway follows it.
            let started = client
                .call_tool_as_task(&format!("{server}__failing_job"), json!({}), None)
                .await
                .unwrap();
            let result = follow(started).await;
            assert!(result.is_error(), "{era:?} {server}: {result:?}");
        }
        client.close().await;
    }
}

/// A 2025-03-26 session in raw HTTP (our client speaks no batches): its id.
async fn raw_batch_session(http: &reqwest::Client, url: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": BATCH_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "raw-batch", "version": "0"},
    }});
    let answer = raw_batch_post(http, url, None, init.to_string()).await;
    let session = answer.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    answer.text().await.unwrap();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let answer = raw_batch_post(http, url, Some(&session), initialized.to_string()).await;
    assert_eq!(answer.status(), 202);
    session
}

/// The one revision with JSON-RPC batches.
const BATCH_VERSION: &str = "2025-03-26";

async fn raw_batch_post(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut req = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body);
    if let Some(session) = session {
        req = req
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", BATCH_VERSION);
    }
    tokio::time::timeout(PATIENCE, req.send())
        .await
        .expect("an answer in time")
        .unwrap()
}

/// The answers to a batch, from a JSON body or the SSE event that holds
/// the array; and the size of the body.
async fn batch_answers(answer: reqwest::Response) -> (Vec<Value>, usize) {
    let sse = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream");
    let body = answer.text().await.unwrap();
    let json = if sse {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .find(|d| d.starts_with('['))
            .unwrap_or_else(|| panic!("no array in {body}"))
            .to_owned()
    } else {
        body.clone()
    };
    let answers: Vec<Value> = serde_json::from_str(&json).unwrap();
    (answers, body.len())
}

/// A 2025-03-26 batch through the gateway is bounded as one sent straight
/// to a server is (issue 17, defect 2: through the gateway, 11 KB in gave
/// 280 MB out): more than `max_batch_items` messages are refused whole
/// with 400 and -32600, and once the answers reach the answer budget each
/// further answer is a -32603 error saying so, so the body stays near the
/// budget whatever the batch asks for.
#[tokio::test]
async fn a_batch_through_the_gateway_is_bounded_in_items_and_answer_size() {
    const BUDGET: usize = 256 * 1024;
    const FILE: usize = 64 * 1024;
    const READS: usize = 20;
    let setup = Setup {
        http: HttpConfig {
            max_batch_answer_bytes: BUDGET,
            ..Default::default()
        },
        ..Default::default()
    };
    let system = System::start_with(&["resources"], setup).await;
    system.data.write("files/big.txt", &vec![b'a'; FILE]);
    let (client, _host) = system.client(Era::SessionOnly).await;
    let resources = client.list_all_resources().await.unwrap();
    let big = resources
        .iter()
        .find(|r| r.uri.ends_with("/big.txt"))
        .unwrap_or_else(|| panic!("big.txt in {resources:?}"))
        .uri
        .clone();
    client.close().await;

    let http = reqwest::Client::new();
    let session = raw_batch_session(&http, &system.url).await;
    let max_items = HttpConfig::default().max_batch_items;
    let pings: Vec<Value> = (0..=max_items)
        .map(|i| json!({"jsonrpc": "2.0", "id": i + 1, "method": "ping"}))
        .collect();
    let answer = raw_batch_post(&http, &system.url, Some(&session), json!(pings).to_string()).await;
    assert_eq!(answer.status(), 400);
    let refusal: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(refusal["error"]["code"], -32600, "{refusal}");

    let reads: Vec<Value> = (0..READS)
        .map(|i| {
            json!({"jsonrpc": "2.0", "id": i + 1, "method": "resources/read",
                "params": {"uri": big}})
        })
        .collect();
    let answer = raw_batch_post(&http, &system.url, Some(&session), json!(reads).to_string()).await;
    assert_eq!(answer.status(), 200);
    let (answers, body_bytes) = batch_answers(answer).await;
    assert_eq!(answers.len(), READS, "one answer per request");
    let read = answers
        .iter()
        .filter(|a| a["result"]["contents"][0]["text"].as_str().map(str::len) == Some(FILE))
        .count();
    let over_budget = answers
        .iter()
        .filter(|a| a["error"]["code"] == -32603)
        .count();
    assert_eq!(read + over_budget, READS, "{answers:?}");
    assert!(read >= 1, "the budget holds some answers");
    assert!(over_budget >= 1, "past the budget, errors");
    assert!(
        body_bytes <= BUDGET + 2 * FILE,
        "{body_bytes} bytes answered for a budget of {BUDGET}"
    );
}

/// Issue 17: `watching` in `/health` counted the URIs the gateway meant to
/// watch, not those the server watched for it: while the resources server
/// was down, and after it came back until the gateway's stream there was
/// acknowledged (or its subscription made again), it still said 1, though
/// no update could be heard. It counts live watchers now.
#[tokio::test]
async fn watching_counts_only_what_the_server_watches_now() {
    for era in [Era::StatelessOnly, Era::SessionOnly] {
        watching_follows_the_server(era).await;
    }
}

async fn watching_follows_the_server(downstream: Era) {
    let data = TempDir::new("gateway-watching");
    let dir = data.0.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap().to_owned();
    let mut resources = http_server("resources_server", &["--dir", &dir]).await;
    let addr = resources.base.trim_start_matches("http://").to_owned();
    let spec = DownstreamSpec {
        name: "resources".into(),
        target: Target::Http {
            url: resources.url.clone(),
        },
        era: downstream,
    };
    let setup = Setup {
        extra: vec![spec],
        ..Default::default()
    };
    let system = System::start_with(&[], setup).await;
    let (session, host) = system.client(Era::SessionOnly).await;
    let uri = "notes://watched";
    let args = json!({"name": "watched", "text": "first"});
    ok(&session, "resources__write_note", args).await;
    session.subscribe(uri).await.unwrap();
    assert_eq!(
        watching_at(&system.gateway, "resources"),
        1,
        "{downstream:?}"
    );

    resources.child.kill().await.unwrap();
    let gateway = system.gateway.clone();
    eventually("the gateway sees the server down", || {
        let (gateway, session) = (gateway.clone(), session.clone());
        async move {
            // A call finds it down in the session era (no stream tells).
            let args = json!({"name": "watched", "text": "while down"});
            let _ = call(&session, "resources__write_note", args).await;
            downstream_state(&gateway.health(), "resources") == "down"
        }
    })
    .await;
    assert_eq!(
        watching_at(&system.gateway, "resources"),
        0,
        "{downstream:?}: nothing is watched at a server that is down"
    );

    resources.child = http_server_at_with("resources_server", &["--dir", &dir], &addr).await;
    let gateway = system.gateway.clone();
    eventually("the gateway watches the URI there again", || {
        let gateway = gateway.clone();
        async move { watching_at(&gateway, "resources") == 1 }
    })
    .await;
    // Counted once watched: the first write after it is heard.
    let before = host.updated.lock().unwrap().len();
    let args = json!({"name": "watched", "text": "second"});
    ok(&session, "resources__write_note", args).await;
    eventually("the session hears of the change", || async {
        host.updated.lock().unwrap().len() > before
    })
    .await;
    session.close().await;
}
