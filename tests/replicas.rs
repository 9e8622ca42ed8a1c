//! More than one replica behind a real load balancer (HAProxy, round-robin,
//! no stickiness; see tests/support/haproxy.rs): what works across replicas.

mod support;

use mcp_sdk::{
    CallToolResult, ClientCapabilities, ContentBlock, ElicitRequestParams, ElicitResult,
    ElicitationCapability, LoggingLevel, ReadResourceResult, Resource, SubscriptionFilter, Tool,
};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, RequestContext};
use mcp_sdk_server::bus::RedisBus;
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::{NoArguments, Notifier, ResourceRequest, Router};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use support::haproxy::{Balancer, HealthCheck};
use support::{http_client_in, http_server, HttpServer, TempDir, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A backend that answers every HTTP request with its own `name`.
async fn named_backend(name: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                // One request per connection (HAProxy closes the server side).
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return, // a TCP health check
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn haproxy_spreads_requests_round_robin_without_stickiness() {
    let test = "haproxy_spreads_requests_round_robin_without_stickiness";
    let backends = [
        named_backend("a").await,
        named_backend("b").await,
        named_backend("c").await,
    ];
    // HTTP health checks: HAProxy asks each backend `GET /` too.
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Http("/")).await else {
        return;
    };
    // One client, keep-alive on its side: each request is balanced anew.
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let answer = tokio::time::timeout(PATIENCE, http.get(&balancer.base).send())
            .await
            .expect("an answer in time")
            .expect("the balancer answers");
        assert!(
            answer.status().is_success(),
            "{}\n{}",
            answer.status(),
            balancer.log()
        );
        seen.push(answer.text().await.unwrap());
    }
    // Round-robin: every replica in turn, each twice, never one twice in a row.
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "a", "b", "b", "c", "c"], "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    assert_eq!(seen[..3], seen[3..], "{seen:?}");
}

/// `--request-state-key-file` for each of `n` replicas: one shared secret,
/// or a secret of each replica's own.
fn key_files(dir: &TempDir, n: usize, shared: bool) -> Vec<String> {
    (0..n)
        .map(|i| {
            let which = if shared { 0 } else { i };
            let path = dir.write(
                &format!("key-{which}"),
                format!("replica-secret-{which}-0123456789abcdef0123456789\n").as_bytes(),
            );
            path.display().to_string()
        })
        .collect()
}

/// `n` conformance servers, each with its `--request-state-key-file`.
async fn conformance_replicas(keys: &[String]) -> Vec<HttpServer> {
    let mut replicas = Vec::new();
    for key in keys {
        replicas.push(http_server("conformance_server", &["--request-state-key-file", key]).await);
    }
    replicas
}

/// `host:port` of a replica.
fn addr(server: &HttpServer) -> SocketAddr {
    server.base.trim_start_matches("http://").parse().unwrap()
}

/// A user who answers every elicitation with the name "Ada".
struct User;

#[async_trait]
impl ClientHandler for User {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default().with_elicitation(ElicitationCapability::default().with_form())
    }

    async fn elicit(
        &self,
        _params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, mcp_sdk::Error> {
        let answer = json!({"name": "Ada"});
        Ok(ElicitResult::accept(answer.as_object().unwrap().clone()))
    }
}

async fn call(client: &Client, tool: &str) -> Result<CallToolResult, ClientError> {
    tokio::time::timeout(PATIENCE, client.call_tool(tool, json!({})))
        .await
        .expect("an answer in time")
}

fn text(result: &CallToolResult) -> &str {
    match result.content.first() {
        Some(ContentBlock::Text(text)) => &text.text,
        other => panic!("not text: {other:?}"),
    }
}

/// Three replicas behind HAProxy, a stateless client: `server/discover`,
/// the `tools/call` that asks the user, and its retry with the answer go to
/// three different replicas (round-robin, one request each); the retry is
/// accepted because the replicas share the `requestState` key.
#[tokio::test]
async fn stateless_calls_and_input_round_trips_work_across_replicas_sharing_the_key() {
    let test = "stateless_calls_and_input_round_trips_work_across_replicas_sharing_the_key";
    let dir = TempDir::new("replicas-shared-key");
    let replicas = conformance_replicas(&key_files(&dir, 3, true)).await;
    let backends: Vec<_> = replicas.iter().map(addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let client = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), User).await;
    assert!(client.is_stateless());
    for _ in 0..3 {
        let simple = call(&client, "test_simple_text")
            .await
            .expect("a plain call");
        assert_eq!(text(&simple), "This is a simple text response for testing.");
    }
    for _ in 0..3 {
        let answered = call(&client, "test_input_required_result_elicitation")
            .await
            .unwrap_or_else(|e| panic!("the round trip across replicas: {e}\n{}", balancer.log()));
        assert_eq!(text(&answered), "Hello, Ada!");
    }
}

/// The same with a key per replica (what each process draws by default):
/// the retry reaches a replica whose key did not seal the state, and the
/// client gets the spec's error for it (invalid params, saying why), not a
/// silent restart of the request.
#[tokio::test]
async fn replicas_with_different_keys_refuse_each_others_request_state() {
    let test = "replicas_with_different_keys_refuse_each_others_request_state";
    let dir = TempDir::new("replicas-own-keys");
    let replicas = conformance_replicas(&key_files(&dir, 3, false)).await;
    let backends: Vec<_> = replicas.iter().map(addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let client = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), User).await;
    // Calls without input need no key: any replica answers them.
    let simple = call(&client, "test_simple_text")
        .await
        .expect("a plain call");
    assert_eq!(text(&simple), "This is a simple text response for testing.");
    let error = call(&client, "test_input_required_result_elicitation")
        .await
        .expect_err("another replica's key cannot open the state");
    let ClientError::Server(error) = &error else {
        panic!("not the server's error: {error:?}");
    };
    assert_eq!(error.code, mcp_sdk::ErrorCode::INVALID_PARAMS, "{error:?}");
    assert!(
        error.message.contains("requestState refused")
            && error.message.contains("another server key sealed it"),
        "{error:?}"
    );
}

/// `$REDIS_URL`, or `None` after printing why the test skips.
fn redis_url(test: &str) -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: {test}: REDIS_URL is not set (a Redis to share changes through)");
            None
        }
    }
}

/// A Redis channel no other test (or test run) shares.
fn channel(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mcp-test:{test}:{}:{nanos}", std::process::id())
}

/// The next notification of `sub`, with a hang guard.
async fn next(sub: &mut mcp_sdk_client::Subscription) -> mcp_sdk::jsonrpc::Notification {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("a notification in time")
        .expect("the stream is open")
}

const WATCHED: &str = "test://replicated/resource";

/// A replica in this process: its own router, HTTP service and Redis bus
/// connection; only Redis joins it to the others.
async fn bus_replica(url: &str, channel: &str) -> (SocketAddr, Notifier) {
    let router = Router::new().resource(
        Resource::new(WATCHED, "Replicated"),
        |r: ResourceRequest| async move { Ok(ReadResourceResult::text(r.uri, "text/plain", "v")) },
    );
    let service = StreamableHttpService::new(router, Default::default());
    let bus = RedisBus::connect(url, channel)
        .await
        .expect("Redis at REDIS_URL");
    service.notifier().attach_bus(Arc::new(bus)).unwrap();
    let notifier = service.notifier().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener, "/mcp", service,
    ));
    (addr, notifier)
}

/// A resource updated on replica A reaches the `subscriptions/listen`
/// stream a client opened (through HAProxy) on replica B, through Redis.
#[tokio::test]
async fn a_resource_update_on_one_replica_reaches_a_listen_stream_on_another() {
    let test = "a_resource_update_on_one_replica_reaches_a_listen_stream_on_another";
    let Some(url) = redis_url(test) else { return };
    let channel = channel(test);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(bus_replica(&url, &channel).await);
    }
    let backends: Vec<_> = replicas.iter().map(|(addr, _)| *addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let client = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), User).await;
    let filter =
        SubscriptionFilter::default().with_resource_subscriptions(vec![WATCHED.to_owned()]);
    let mut sub = support::listen(&client, filter).await;
    let listening: Vec<usize> = replicas.iter().map(|(_, n)| n.listeners()).collect();
    assert_eq!(listening.iter().sum::<usize>(), 1, "{listening:?}");
    // The change happens on a replica the stream is not open on.
    let (_, elsewhere) = replicas.iter().find(|(_, n)| n.listeners() == 0).unwrap();
    elsewhere.resource_updated(WATCHED);
    let got = next(&mut sub).await;
    assert_eq!(got.method, "notifications/resources/updated", "{got:?}");
    assert_eq!(got.params.as_ref().unwrap()["uri"], WATCHED, "{got:?}");
}

/// Three conformance servers joined by `--redis-url`: a tool list change a
/// handler announces on one replica reaches a client's listen stream on
/// another, each request going to the next replica (round-robin).
#[tokio::test]
async fn a_list_change_announced_on_one_conformance_replica_reaches_the_others() {
    let test = "a_list_change_announced_on_one_conformance_replica_reaches_the_others";
    let Some(url) = redis_url(test) else { return };
    let channel = channel(test);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let args = ["--redis-url", &url, "--redis-channel", &channel];
        replicas.push(http_server("conformance_server", &args).await);
    }
    let backends: Vec<_> = replicas.iter().map(addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    // server/discover on replica 1, the stream on replica 2.
    let listener = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), User).await;
    let filter = SubscriptionFilter::default().with_tools_list_changed(true);
    let mut sub = support::listen(&listener, filter).await;
    // server/discover on replica 3, the call that announces on replica 1.
    let caller = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), User).await;
    call(&caller, "test_trigger_tool_change")
        .await
        .expect("the trigger");
    let got = next(&mut sub).await;
    assert_eq!(got.method, "notifications/tools/list_changed", "{got:?}");
}

/// Redis unreachable at start: the conformance server stops at once with
/// an error that names REDIS_URL and hides the password.
#[test]
fn an_unreachable_redis_stops_a_replica_with_a_clear_error() {
    let out = std::process::Command::new(support::example("conformance_server"))
        .args([
            "--http",
            "127.0.0.1:0",
            "--redis-url",
            "redis://:s3cret@127.0.0.1:1",
        ])
        .output()
        .expect("the example runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach Redis at REDIS_URL redis://:***@127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// A `--request-state-key-file` that is too short or absent stops the
/// conformance server, a reference server and the gateway at start, with an
/// error naming the flag and never the secret.
#[test]
fn a_short_or_missing_key_file_stops_servers_with_a_clear_error() {
    let dir = TempDir::new("replicas-bad-key");
    let short = dir.write("short", b"s3cret\n").display().to_string();
    let absent = dir.0.join("absent").display().to_string();
    for example in ["conformance_server", "tools_server", "session_manager"] {
        for (key, why) in [
            (&short, "6 bytes; it needs at least 32"),
            (&absent, "No such file"),
        ] {
            let out = std::process::Command::new(support::example(example))
                .args(["--http", "127.0.0.1:0", "--request-state-key-file", key])
                .output()
                .expect("the example runs");
            assert_eq!(out.status.code(), Some(2), "{example}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&format!("--request-state-key-file {key}")) && stderr.contains(why),
                "{example}: {stderr}"
            );
            assert!(!stderr.contains("s3cret"), "{example}: {stderr}");
        }
    }
}

// The session era across replicas: three replicas in this process, each
// with its own Redis connections (`Replicas::redis`), so that only Redis
// and the balancer join them.

/// What the session-era replicas' handlers tell the test.
#[derive(Clone, Default)]
struct Signals {
    /// A `slow` call saw its cancellation (on whichever replica it ran).
    cancelled: Arc<tokio::sync::Notify>,
}

/// Tells whoever waits on its `Notify` that it was dropped.
struct Dropped(Arc<tokio::sync::Notify>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// A session-era replica named `name`: `whoami` answers its name, `ask`
/// asks the user for theirs, `later` logs a message to the session's
/// standalone stream after its answer, `slow` logs once then waits to be
/// cancelled.
async fn session_replica(
    name: &'static str,
    url: &str,
    prefix: &str,
    signals: Signals,
) -> SocketAddr {
    let router = Router::new()
        .tool(Tool::named("whoami", "This replica's name"), move |_: NoArguments| async move { name })
        .tool(
            Tool::named("ask", "Asks the user's name"),
            |_: NoArguments, ctx: mcp_sdk_server::RequestContext| async move {
                let params: ElicitRequestParams = serde_json::from_value(json!({
                    "message": "Your name?",
                    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
                }))
                .map_err(mcp_sdk::Error::internal)?;
                let answer = ctx.elicit(params).await?;
                let name = answer
                    .content
                    .as_ref()
                    .and_then(|c| c.get("name"))
                    .and_then(|n| n.as_str())
                    .unwrap_or("nobody")
                    .to_owned();
                Ok::<_, mcp_sdk::Error>(format!("Hello, {name}!"))
            },
        )
        .tool(
            Tool::named("later", "Logs to the standalone stream after answering"),
            move |_: NoArguments, ctx: mcp_sdk_server::RequestContext| async move {
                let peer = ctx.peer().clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    let data = json!(format!("later from {name}"));
                    let _ = peer.log(LoggingLevel::Info, Some("later"), data).await;
                });
                "soon"
            },
        )
        .tool(Tool::named("slow", "Waits to be cancelled"), move |_: NoArguments, ctx: mcp_sdk_server::RequestContext| {
            // A cancelled handler is dropped where it waits: the guard
            // tells the test.
            let guard = Dropped(signals.cancelled.clone());
            async move {
                // Something before the answer: the answer is an SSE stream,
                // whose connection going away does not cancel the call.
                ctx.log(LoggingLevel::Info, "started").await?;
                tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                drop(guard);
                Ok::<_, mcp_sdk::Error>("finished")
            }
        });
    let replicas = Replicas::redis(url, prefix)
        .await
        .expect("Redis at REDIS_URL");
    let config = HttpConfig {
        replicas: Some(replicas),
        ..HttpConfig::default()
    };
    let service = StreamableHttpService::new(router, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener, "/mcp", service,
    ));
    addr
}

async fn session_replicas(url: &str, test: &str, signals: &Signals) -> Vec<SocketAddr> {
    let prefix = channel(test);
    let mut replicas = Vec::new();
    for name in ["a", "b", "c"] {
        replicas.push(session_replica(name, url, &prefix, signals.clone()).await);
    }
    replicas
}

/// A user who answers elicitations with "Ada" and passes on log messages.
struct Listener {
    logs: tokio::sync::mpsc::UnboundedSender<String>,
}

#[async_trait]
impl ClientHandler for Listener {
    fn capabilities(&self) -> ClientCapabilities {
        User.capabilities()
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        cx: RequestContext,
    ) -> Result<ElicitResult, mcp_sdk::Error> {
        User.elicit(params, cx).await
    }

    async fn on_log(&self, params: mcp_sdk::LoggingMessageNotificationParams) {
        let _ = self.logs.send(params.data.to_string());
    }
}

/// Our client in the session era, through HAProxy in front of three
/// replicas sharing Redis (round-robin, so `initialize`, `initialized`,
/// the GET stream and each call go to the next replica): calls are served
/// by every replica; a handler's elicitation is answered by a POST that
/// lands on another replica; a message a handler sends to the standalone
/// stream reaches the GET stream open elsewhere; a cancellation posted to
/// one replica stops the call running on another.
#[tokio::test]
async fn a_session_is_served_by_every_replica() {
    let test = "a_session_is_served_by_every_replica";
    let Some(url) = redis_url(test) else { return };
    let signals = Signals::default();
    let backends = session_replicas(&url, test, &signals).await;
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let (logs, mut logged) = tokio::sync::mpsc::unbounded_channel();
    let client = http_client_in(Era::SessionOnly, &balancer.mcp_url(), Listener { logs }).await;
    assert!(!client.is_stateless());

    let mut names = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let answer = call(&client, "whoami")
            .await
            .unwrap_or_else(|e| panic!("a call of the session: {e}\n{}", balancer.log()));
        names.insert(text(&answer).to_owned());
    }
    assert_eq!(
        names.len(),
        3,
        "every replica served the session: {names:?}"
    );

    for _ in 0..3 {
        let answer = call(&client, "ask")
            .await
            .unwrap_or_else(|e| panic!("an elicitation across replicas: {e}\n{}", balancer.log()));
        assert_eq!(text(&answer), "Hello, Ada!");
    }

    for _ in 0..3 {
        call(&client, "later").await.expect("later");
        let got = tokio::time::timeout(PATIENCE, logged.recv())
            .await
            .expect("the log message reaches the GET stream in time")
            .unwrap();
        assert!(got.contains("later from"), "{got}");
    }

    let options =
        mcp_sdk_client::RequestOptions::new().timeout(std::time::Duration::from_millis(500));
    let slow = client
        .call_tool_with("slow", json!({}), options)
        .await
        .expect_err("the client gives up");
    assert!(matches!(slow, ClientError::Timeout { .. }), "{slow:?}");
    tokio::time::timeout(PATIENCE, signals.cancelled.notified())
        .await
        .expect("the cancellation reaches the replica running the call");
    client.close().await;
}

/// A raw session-era client, straight to the replicas (no balancer), to
/// say which replica gets each request.
struct Raw {
    http: reqwest::Client,
    session: String,
}

const ACCEPT_BOTH: &str = "application/json, text/event-stream";

impl Raw {
    async fn initialize(replica: SocketAddr) -> Raw {
        let http = reqwest::Client::new();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}});
        let answer = http
            .post(format!("http://{replica}/mcp"))
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
            .body(init.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let session = answer.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let raw = Raw { http, session };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(raw.post(replica, &initialized).await.status(), 202);
        raw
    }

    async fn post(&self, replica: SocketAddr, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("http://{replica}/mcp"))
            .header("accept", ACCEPT_BOTH)
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", "2025-11-25")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn call(&self, replica: SocketAddr, tool: &str) -> reqwest::Response {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": tool, "arguments": {}}});
        self.post(replica, &body).await
    }

    async fn get(&self, replica: SocketAddr, last_event_id: Option<&str>) -> reqwest::Response {
        let mut get = self
            .http
            .get(format!("http://{replica}/mcp"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", "2025-11-25");
        if let Some(id) = last_event_id {
            get = get.header("last-event-id", id);
        }
        get.send().await.unwrap()
    }

    async fn delete(&self, replica: SocketAddr) -> reqwest::Response {
        self.http
            .delete(format!("http://{replica}/mcp"))
            .header("mcp-session-id", &self.session)
            .send()
            .await
            .unwrap()
    }
}

/// The next SSE event of `stream` (its id and data), with a hang guard.
async fn next_event(stream: &mut reqwest::Response, buffer: &mut String) -> (String, String) {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                event
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_owned())
            };
            if let Some(data) = field("data:") {
                return (field("id:").unwrap_or_default(), data);
            }
            continue;
        }
        let chunk = tokio::time::timeout(PATIENCE, stream.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream is open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The standalone stream of a session opened on replica C: open on A, a
/// message sent by a handler on B reaches it; cut, a message sent while no
/// stream is open, and the stream resumed with `Last-Event-ID` on B gets
/// it and nothing twice; `DELETE` on B ends the session on every replica.
#[tokio::test]
async fn a_standalone_stream_is_resumed_on_another_replica_and_delete_ends_it_everywhere() {
    let test = "a_standalone_stream_is_resumed_on_another_replica_and_delete_ends_it_everywhere";
    let Some(url) = redis_url(test) else { return };
    let [a, b, c]: [SocketAddr; 3] = session_replicas(&url, test, &Signals::default())
        .await
        .try_into()
        .unwrap();
    let raw = Raw::initialize(c).await;

    let mut stream = raw.get(a, None).await;
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    assert_eq!(raw.call(b, "later").await.status(), 200);
    let (first_id, first) = next_event(&mut stream, &mut buffer).await;
    assert!(first.contains("later from b"), "{first}");
    assert!(first_id.starts_with("0:"), "{first_id}");
    drop(stream);

    assert_eq!(raw.call(c, "later").await.status(), 200);
    // The message is stored once the handler sent it; resume until it is.
    let resumed = tokio::time::timeout(PATIENCE, async {
        loop {
            let mut again = raw.get(b, Some(&first_id)).await;
            assert_eq!(again.status(), 200);
            let mut buffer = String::new();
            let next = tokio::time::timeout(
                std::time::Duration::from_secs(1),
                next_event(&mut again, &mut buffer),
            )
            .await;
            if let Ok(event) = next {
                return event;
            }
        }
    })
    .await
    .expect("the resumed stream delivers the missed message");
    assert!(resumed.1.contains("later from c"), "{resumed:?}");
    assert_ne!(resumed.0, first_id);

    // A Last-Event-ID of no event kept: 404, as in one process.
    assert_eq!(raw.get(c, Some("0:1-0")).await.status(), 404);

    assert_eq!(raw.delete(b).await.status(), 200);
    for replica in [a, b, c] {
        // The bus tells the replicas' copies; until it has, they may answer.
        let gone = tokio::time::timeout(PATIENCE, async {
            loop {
                if raw.call(replica, "whoami").await.status() == 404 {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(gone.is_ok(), "the session still answers on {replica}");
    }
    assert_eq!(raw.delete(a).await.status(), 404);
}

/// A forged session id is 404 on every replica, as in one process.
#[tokio::test]
async fn a_forged_session_id_is_unknown_to_every_replica() {
    let test = "a_forged_session_id_is_unknown_to_every_replica";
    let Some(url) = redis_url(test) else { return };
    let replicas = session_replicas(&url, test, &Signals::default()).await;
    let forged = Raw {
        http: reqwest::Client::new(),
        session: "0123456789abcdef0123456789abcdef".into(),
    };
    for replica in replicas {
        assert_eq!(forged.call(replica, "whoami").await.status(), 404);
        assert_eq!(forged.get(replica, None).await.status(), 404);
        assert_eq!(forged.delete(replica).await.status(), 404);
    }
}

/// Three conformance servers with `--redis-url`, our client in the session
/// era through HAProxy: the session's calls reach all three.
#[tokio::test]
async fn conformance_replicas_share_sessions_through_redis() {
    let test = "conformance_replicas_share_sessions_through_redis";
    let Some(url) = redis_url(test) else { return };
    let channel = channel(test);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let args = ["--redis-url", &url, "--redis-channel", &channel];
        replicas.push(http_server("conformance_server", &args).await);
    }
    let backends: Vec<_> = replicas.iter().map(addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let client = http_client_in(Era::SessionOnly, &balancer.mcp_url(), User).await;
    for _ in 0..4 {
        let simple = call(&client, "test_simple_text")
            .await
            .unwrap_or_else(|e| panic!("a call of the session: {e}\n{}", balancer.log()));
        assert_eq!(text(&simple), "This is a simple text response for testing.");
    }
    client.close().await;
}
