//! Our client against a server we did not write: the official TypeScript
//! reference server `@modelcontextprotocol/server-everything`, over stdio,
//! Streamable HTTP and the legacy HTTP+SSE transport.
//!
//! `.ci/npm-tools` installs it (and Node 22) and `.ci/run` points
//! `MCP_EVERYTHING_SERVER` at its `dist/index.js` and `MCP_NODE` at the
//! Node binary; without them these tests skip, saying so.

use mcp_sdk::{
    ClientCapabilities, CreateMessageParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationCapability, Error, ListRootsResult, LoggingLevel,
    LoggingMessageNotificationParams, ResourceUpdatedNotificationParams, Root, RootsCapability,
    SamplingCapability,
};
use mcp_sdk_client::transport::{ChildProcess, HttpTransport};
use mcp_sdk_client::{async_trait, Client, ClientHandler, RequestContext, RequestOptions};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::mpsc;

/// A guard against hangs, not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(30);

fn everything() -> Option<(String, String)> {
    match (
        std::env::var("MCP_NODE"),
        std::env::var("MCP_EVERYTHING_SERVER"),
    ) {
        (Ok(node), Ok(server)) => Some((node, server)),
        _ => {
            eprintln!(
                "SKIPPED: MCP_NODE and MCP_EVERYTHING_SERVER are not set \
                 (.ci/run installs @modelcontextprotocol/server-everything and sets them)"
            );
            None
        }
    }
}

/// A handler that plays a host: a fake model, one root, a user who fills
/// in their name; and channels for what the server sends.
struct Host {
    logs: mpsc::UnboundedSender<LoggingMessageNotificationParams>,
    updates: mpsc::UnboundedSender<String>,
    sampled: AtomicUsize,
    elicited: Mutex<Option<Value>>,
}

#[async_trait]
impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
            .with_sampling(SamplingCapability::default())
            .with_roots(RootsCapability::default().with_list_changed(true))
            .with_elicitation(ElicitationCapability::default())
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        self.sampled.fetch_add(1, Ordering::SeqCst);
        let prompt = serde_json::to_value(&params.messages).unwrap();
        Ok(serde_json::from_value(json!({
            "role": "assistant",
            "content": {"type": "text", "text": format!("fake answer to {}", prompt[0]["content"]["text"])},
            "model": "interop-fake-model",
            "stopReason": "endTurn",
        }))
        .unwrap())
    }

    async fn list_roots(&self, _cx: RequestContext) -> Result<ListRootsResult, Error> {
        Ok(ListRootsResult::new(vec![Root::new(
            "file:///tmp/interop-root",
        )
        .with_name("interop")]))
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        *self.elicited.lock().unwrap() = Some(serde_json::to_value(&params).unwrap());
        Ok(ElicitResult::accept(
            json!({"name": "Ada Lovelace", "check": true})
                .as_object()
                .unwrap()
                .clone(),
        ))
    }

    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        let _ = self.logs.send(params);
    }

    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        let _ = self.updates.send(params.uri);
    }
}

struct Events {
    logs: mpsc::UnboundedReceiver<LoggingMessageNotificationParams>,
    updates: mpsc::UnboundedReceiver<String>,
}

fn host() -> (Arc<Host>, Events) {
    let (logs_tx, logs) = mpsc::unbounded_channel();
    let (updates_tx, updates) = mpsc::unbounded_channel();
    let host = Arc::new(Host {
        logs: logs_tx,
        updates: updates_tx,
        sampled: AtomicUsize::new(0),
        elicited: Mutex::new(None),
    });
    (host, Events { logs, updates })
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {PATIENCE:?}"))
}

fn texts(result: &mcp_sdk::CallToolResult) -> String {
    serde_json::to_value(&result.content)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything a client does with a server, against server-everything.
async fn exercise(client: Client, host: Arc<Host>, mut events: Events) {
    assert!(client.server().server_info.name.contains("everything"));
    client.set_logging_level(LoggingLevel::Debug).await.unwrap();

    // Its tools include those it registers once it knows our capabilities.
    let tools = within("tools/list", client.list_all_tools()).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for expected in [
        "echo",
        "get-sum",
        "trigger-sampling-request",
        "trigger-elicitation-request",
        "get-roots-list",
        "trigger-long-running-operation",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }

    let echo = client
        .call_tool("echo", json!({"message": "hello interop"}))
        .await
        .unwrap();
    assert!(texts(&echo).contains("hello interop"), "{}", texts(&echo));
    let sum = client
        .call_tool("get-sum", json!({"a": 2, "b": 40}))
        .await
        .unwrap();
    assert!(texts(&sum).contains("42"), "{}", texts(&sum));
    let invalid = client.call_tool("get-sum", json!({"a": "two"})).await;
    match invalid {
        Ok(result) => assert!(result.is_error(), "a wrong argument type is an error"),
        Err(e) => assert!(e.code().is_some(), "{e}"),
    }

    // Sampling: the server asks our fake model.
    let sampled = within(
        "sampling",
        client.call_tool(
            "trigger-sampling-request",
            json!({"prompt": "what is MCP?"}),
        ),
    )
    .await
    .unwrap();
    assert!(
        texts(&sampled).contains("fake answer to"),
        "{}",
        texts(&sampled)
    );
    assert!(host.sampled.load(Ordering::SeqCst) >= 1);

    // Elicitation: our user fills in two fields; the SDK adds the schema's
    // defaults for the rest (SEP-1034), and the server shows what it got.
    let elicited = within(
        "elicitation",
        client.call_tool("trigger-elicitation-request", json!({})),
    )
    .await
    .unwrap();
    let shown = texts(&elicited);
    assert!(shown.contains("Ada Lovelace"), "{shown}");
    assert!(
        shown.contains("It was a dark and stormy night."),
        "default applied: {shown}"
    );
    assert!(host.elicited.lock().unwrap().is_some());

    // Roots: the server asked for them after initialization.
    let roots = within("roots", client.call_tool("get-roots-list", json!({})))
        .await
        .unwrap();
    assert!(
        texts(&roots).contains("file:///tmp/interop-root"),
        "{}",
        texts(&roots)
    );
    client.notify_roots_list_changed().await.unwrap();

    // Progress for a long-running call.
    let progress = Arc::new(Mutex::new(Vec::new()));
    let options = RequestOptions::new().on_progress({
        let progress = progress.clone();
        move |p| progress.lock().unwrap().push(p.progress)
    });
    within(
        "long-running operation",
        client.call_tool_with(
            "trigger-long-running-operation",
            json!({"duration": 1, "steps": 3}),
            options,
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        progress.lock().unwrap().len(),
        3,
        "{:?}",
        progress.lock().unwrap()
    );

    // Resources, templates, subscriptions and their updates.
    let resources = client.list_all_resources().await.unwrap();
    assert!(!resources.is_empty());
    let templates = client.list_all_resource_templates().await.unwrap();
    assert!(templates
        .iter()
        .any(|t| t.uri_template.starts_with("demo://resource/dynamic/text/")));
    let read = client
        .read_resource("demo://resource/dynamic/text/1")
        .await
        .unwrap();
    assert_eq!(read.contents.len(), 1);
    let uri = "demo://resource/dynamic/text/1";
    client.subscribe(uri).await.unwrap();
    client
        .call_tool("toggle-subscriber-updates", json!({}))
        .await
        .unwrap();
    let updated = within("resource update", events.updates.recv())
        .await
        .unwrap();
    assert_eq!(updated, uri);
    client
        .call_tool("toggle-subscriber-updates", json!({}))
        .await
        .unwrap();
    client.unsubscribe(uri).await.unwrap();

    // Logging: simulated log messages reach the handler.
    client
        .call_tool("toggle-simulated-logging", json!({}))
        .await
        .unwrap();
    let log = within("log message", events.logs.recv()).await.unwrap();
    assert!(!log.data.is_null());
    client
        .call_tool("toggle-simulated-logging", json!({}))
        .await
        .unwrap();

    // Prompts and completion.
    let prompts = client.list_all_prompts().await.unwrap();
    assert!(prompts.iter().any(|p| p.name == "args-prompt"));
    let prompt = client
        .get_prompt("args-prompt", [("city", "Paris")])
        .await
        .unwrap();
    assert!(serde_json::to_string(&prompt.messages)
        .unwrap()
        .contains("Paris"));
    let completion = client
        .complete(
            serde_json::from_value(json!({
                "ref": {"type": "ref/prompt", "name": "completable-prompt"},
                "argument": {"name": "department", "value": "Eng"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(
        completion
            .completion
            .values
            .iter()
            .any(|v| v == "Engineering"),
        "{:?}",
        completion.completion.values
    );

    client.ping().await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn server_everything_over_stdio() {
    let Some((node, server)) = everything() else {
        return;
    };
    let (host, events) = host();
    let transport = ChildProcess::spawn(Command::new(node).arg(server).arg("stdio")).unwrap();
    let client = within(
        "connect",
        Client::builder().handler(host.clone()).connect(transport),
    )
    .await
    .unwrap();
    exercise(client, host, events).await;
}

/// Starts server-everything with `transport` on a free port; gives the
/// child (killed on drop) and the port.
async fn start_http(node: &str, server: &str, transport: &str) -> (tokio::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(node)
        .arg(server)
        .arg(transport)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    within("server start", async {
        loop {
            // A connection whose source port is the port itself is the
            // kernel connecting the socket to itself (TCP simultaneous
            // open), which happens for a port from the ephemeral range
            // with nobody listening yet: not the server.
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) if s.local_addr().map(|a| a.port()).ok() != Some(port) => break,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    (child, port)
}

#[tokio::test]
async fn server_everything_over_streamable_http() {
    let Some((node, server)) = everything() else {
        return;
    };
    let (_child, port) = start_http(&node, &server, "streamableHttp").await;
    let (host, events) = host();
    let transport = HttpTransport::new(format!("http://127.0.0.1:{port}/mcp")).unwrap();
    let client = within(
        "connect",
        Client::builder().handler(host.clone()).connect(transport),
    )
    .await
    .unwrap();
    exercise(client, host, events).await;
}

#[tokio::test]
async fn server_everything_over_legacy_http_sse() {
    let Some((node, server)) = everything() else {
        return;
    };
    let (_child, port) = start_http(&node, &server, "sse").await;
    let (host, events) = host();
    // The POST to /sse is refused; the client falls back to GET + endpoint.
    let transport = HttpTransport::new(format!("http://127.0.0.1:{port}/sse")).unwrap();
    let client = within(
        "connect",
        Client::builder().handler(host.clone()).connect(transport),
    )
    .await
    .unwrap();
    exercise(client, host, events).await;
}
