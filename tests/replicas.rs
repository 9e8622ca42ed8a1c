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
use support::{
    http_client_in, http_server, redis_url, unique_prefix, HttpServer, TempDir, PATIENCE,
};
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
    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
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
    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
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

/// The next notification of `sub`, with a hang guard.
async fn next(sub: &mut mcp_sdk_client::Subscription) -> mcp_sdk::jsonrpc::Notification {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("a notification in time")
        .expect("the stream is open")
}

const WATCHED: &str = "test://replicated/resource";
const WATCHED_TOO: &str = "test://replicated/resource-too";

async fn read_watched(r: ResourceRequest) -> Result<ReadResourceResult, mcp_sdk::Error> {
    Ok(ReadResourceResult::text(r.uri, "text/plain", "v"))
}

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
    let channel = unique_prefix(test);
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
    let channel = unique_prefix(test);
    let dir = TempDir::new("replicas-redis-key");
    let key = &key_files(&dir, 1, true)[0];
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let args = [
            "--redis-url",
            &url,
            "--redis-channel",
            &channel,
            "--request-state-key-file",
            key,
        ];
        replicas.push(http_server("conformance_server", &args).await);
    }
    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
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
        .env(
            "MCP_REQUEST_STATE_KEY",
            "a-shared-secret-of-more-than-32-bytes",
        )
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

/// Replicas without a shared `requestState` key would refuse each other's
/// stateless retries: the conformance server and `replica_server` refuse to
/// start so, naming the flag and the variable that give the key.
#[test]
fn replicas_without_a_shared_key_refuse_to_start() {
    for example in ["conformance_server", "replica_server"] {
        let out = std::process::Command::new(support::example(example))
            .args([
                "--http",
                "127.0.0.1:0",
                "--redis-url",
                "redis://127.0.0.1:1",
            ])
            .env_remove("MCP_REQUEST_STATE_KEY")
            .output()
            .expect("the example runs");
        assert_eq!(out.status.code(), Some(2), "{example}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--request-state-key-file") && stderr.contains("MCP_REQUEST_STATE_KEY"),
            "{example}: {stderr}"
        );
    }
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
    /// Lets a `pause` call go on.
    resume: Arc<tokio::sync::Notify>,
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
        .resource(Resource::new(WATCHED, "Replicated"), read_watched)
        .resource(Resource::new(WATCHED_TOO, "Replicated too"), read_watched)
        .tool(
            Tool::named("touch", "Announces an update of WATCHED"),
            |_: NoArguments, ctx: mcp_sdk_server::RequestContext| async move {
                ctx.notifier().resource_updated(WATCHED);
                "touched"
            },
        )
        .tool(
            Tool::named("touch_too", "Announces an update of WATCHED_TOO"),
            |_: NoArguments, ctx: mcp_sdk_server::RequestContext| async move {
                ctx.notifier().resource_updated(WATCHED_TOO);
                "touched"
            },
        )
        .tool(
            Tool::named("change", "Announces a change of the tool list"),
            |_: NoArguments, ctx: mcp_sdk_server::RequestContext| async move {
                ctx.notifier().tool_list_changed();
                "changed"
            },
        )
        .tool(
            Tool::named("roots", "Asks the client for its roots"),
            |_: NoArguments, ctx: mcp_sdk_server::RequestContext| async move {
                let roots = ctx.peer().list_roots().await?;
                let uris: Vec<String> = roots.roots.into_iter().map(|r| r.uri).collect();
                Ok::<_, mcp_sdk::Error>(uris.join(" "))
            },
        )
        .tool(
            Tool::named("huge", "Logs a message too large to keep to the standalone stream"),
            |_: NoArguments, ctx: mcp_sdk_server::RequestContext| async move {
                let peer = ctx.peer().clone();
                tokio::spawn(async move {
                    let data = json!("x".repeat(2 * 1024 * 1024));
                    let _ = peer.log(LoggingLevel::Info, Some("huge"), data).await;
                });
                "sent"
            },
        )
        .tool(Tool::named("pause", "Logs, waits for the test, logs again"), {
            let resume = signals.resume.clone();
            move |_: NoArguments, ctx: mcp_sdk_server::RequestContext| {
                let resume = resume.clone();
                async move {
                    ctx.log(LoggingLevel::Info, "paused").await?;
                    resume.notified().await;
                    ctx.log(LoggingLevel::Info, "resumed").await?;
                    Ok::<_, mcp_sdk::Error>(format!("done on {name}"))
                }
            }
        })
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
    // Replicas of one server share the requestState key (each checks it
    // against the others' as it starts serving).
    let session = mcp_sdk_server::SessionConfig {
        request_state_key: mcp_sdk_server::RequestStateKey::from_bytes([7; 32]),
        ..Default::default()
    };
    let config = HttpConfig {
        replicas: Some(replicas),
        session,
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

/// [`session_replicas`] on `$REDIS_URL` behind HAProxy; `None` when the
/// test skips (no Redis or no HAProxy, said why).
async fn session_balancer(test: &str, signals: &Signals) -> Option<Balancer> {
    let url = redis_url(test)?;
    let backends = session_replicas(&url, test, signals).await;
    Balancer::start(test, &backends, HealthCheck::Tcp).await
}

async fn session_replicas(url: &str, test: &str, signals: &Signals) -> Vec<SocketAddr> {
    let prefix = unique_prefix(test);
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
        Raw::initialize_as(replica, "2025-11-25", json!({})).await
    }

    /// A session of revision `version`, the client declaring `capabilities`.
    async fn initialize_as(
        replica: SocketAddr,
        version: &str,
        capabilities: serde_json::Value,
    ) -> Raw {
        let http = reqwest::Client::new();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": capabilities,
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

/// The next SSE event of `stream` carrying a message (its id and data),
/// with a hang guard: a priming event (no data) is passed over.
async fn next_event(stream: &mut reqwest::Response, buffer: &mut String) -> (String, String) {
    loop {
        let (id, data) = next_raw_event(stream, buffer).await;
        if !data.is_empty() {
            return (id, data);
        }
    }
}

/// The next SSE event of `stream` with a `data` field (its id and data,
/// empty for a priming event), with a hang guard.
async fn next_raw_event(stream: &mut reqwest::Response, buffer: &mut String) -> (String, String) {
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
    let resumed = resume_until_an_event(&raw, b, &first_id).await;
    assert!(resumed.1.contains("later from c"), "{resumed:?}");
    assert_ne!(resumed.0, first_id);

    // A Last-Event-ID of no event kept: 410 (the session lives on), as in
    // one process.
    assert_eq!(raw.get(c, Some("0:1-0")).await.status(), 410);

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

/// A 2025-11-25 session's standalone stream opened on replica A starts
/// with a priming event (an event id, no data), as in one process: cut
/// before any message, it resumes from there on replica B and gets the
/// message a handler on C sent meanwhile. Before, the replicated stream
/// had no priming event, and a client cut before its first message had
/// no id to resume from: what came meanwhile was lost.
#[tokio::test]
async fn a_standalone_stream_cut_before_any_message_resumes_on_another_replica() {
    let test = "a_standalone_stream_cut_before_any_message_resumes_on_another_replica";
    let Some(url) = redis_url(test) else { return };
    let [a, b, c]: [SocketAddr; 3] = session_replicas(&url, test, &Signals::default())
        .await
        .try_into()
        .unwrap();
    let raw = Raw::initialize(c).await;

    let mut stream = raw.get(a, None).await;
    assert_eq!(stream.status(), 200);
    let (primed, data) = next_raw_event(&mut stream, &mut String::new()).await;
    assert_eq!(data, "", "a priming event first");
    assert!(primed.starts_with("0:"), "{primed}");
    drop(stream);

    assert_eq!(raw.call(c, "later").await.status(), 200);
    let resumed = resume_until_an_event(&raw, b, &primed).await;
    assert!(resumed.1.contains("later from c"), "{resumed:?}");

    // A session of an earlier revision gets no priming event: its first
    // event is the message.
    let old = Raw::initialize_as(c, "2025-03-26", json!({})).await;
    let mut stream = old.get(a, None).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(old.call(b, "later").await.status(), 200);
    let (_, first) = next_raw_event(&mut stream, &mut String::new()).await;
    assert!(first.contains("later from b"), "{first}");
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
    let channel = unique_prefix(test);
    let dir = TempDir::new("replicas-redis-key");
    let key = &key_files(&dir, 1, true)[0];
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let args = [
            "--redis-url",
            &url,
            "--redis-channel",
            &channel,
            "--request-state-key-file",
            key,
        ];
        replicas.push(http_server("conformance_server", &args).await);
    }
    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
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

/// The balancer's frontend, where a [`Raw`] client sends every request:
/// round-robin, each to the next replica.
fn frontend(balancer: &Balancer) -> SocketAddr {
    balancer.base.trim_start_matches("http://").parse().unwrap()
}

/// A JSON-RPC request of a raw client.
fn rpc(id: u64, method: &str, params: serde_json::Value) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The session era through HAProxy, each request to the next replica: the
/// subscription made on one replica, the GET stream open on the next, an
/// update announced by a handler on the one after reaches the stream, once
/// (the three replicas hold copies of the session, and each delivers what
/// it hears: the next event is the next change, not the update again); so
/// does a tool list change; after `resources/unsubscribe` on yet another
/// replica, updates no longer come.
#[tokio::test]
async fn changes_announced_on_one_replica_reach_a_sessions_stream_on_another_once() {
    let test = "changes_announced_on_one_replica_reach_a_sessions_stream_on_another_once";
    let Some(balancer) = session_balancer(test, &Signals::default()).await else {
        return;
    };
    let lb = frontend(&balancer);
    let raw = Raw::initialize(lb).await;
    let subscribe = rpc(1, "resources/subscribe", json!({"uri": WATCHED}));
    let answer = raw.post(lb, &subscribe).await;
    assert_eq!(answer.status(), 200);
    let answer = answer.text().await.unwrap();
    assert!(answer.contains("\"result\""), "{answer}");
    let mut stream = raw.get(lb, None).await;
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();

    assert_eq!(raw.call(lb, "touch").await.status(), 200);
    let (_, got) = next_event(&mut stream, &mut buffer).await;
    assert!(
        got.contains("notifications/resources/updated") && got.contains(WATCHED),
        "{got}\n{}",
        balancer.log()
    );
    assert_eq!(raw.call(lb, "change").await.status(), 200);
    let (_, got) = next_event(&mut stream, &mut buffer).await;
    assert!(got.contains("notifications/tools/list_changed"), "{got}");
    assert_eq!(raw.call(lb, "later").await.status(), 200);
    let (_, got) = next_event(&mut stream, &mut buffer).await;
    assert!(got.contains("later from"), "once each: {got}");

    let unsubscribe = rpc(2, "resources/unsubscribe", json!({"uri": WATCHED}));
    assert_eq!(raw.post(lb, &unsubscribe).await.status(), 200);
    assert_eq!(raw.call(lb, "touch").await.status(), 200);
    assert_eq!(raw.call(lb, "later").await.status(), 200);
    let (_, got) = next_event(&mut stream, &mut buffer).await;
    assert!(
        got.contains("later from"),
        "no update after unsubscribing: {got}"
    );
}

/// The stateless era on replicas that share sessions (`Replicas`, no bus
/// of the server's own): a `subscriptions/listen` stream open on one
/// replica hears the updates announced on the next, each once.
#[tokio::test]
async fn a_listen_stream_hears_the_changes_of_replicas_sharing_sessions_once() {
    let test = "a_listen_stream_hears_the_changes_of_replicas_sharing_sessions_once";
    let Some(balancer) = session_balancer(test, &Signals::default()).await else {
        return;
    };
    let client = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), User).await;
    let filter = SubscriptionFilter::default()
        .with_resource_subscriptions(vec![WATCHED.to_owned(), WATCHED_TOO.to_owned()]);
    let mut sub = support::listen(&client, filter).await;
    call(&client, "touch").await.expect("touch");
    let got = next(&mut sub).await;
    assert_eq!(got.method, "notifications/resources/updated", "{got:?}");
    assert_eq!(got.params.as_ref().unwrap()["uri"], WATCHED, "{got:?}");
    call(&client, "touch_too").await.expect("touch_too");
    let got = next(&mut sub).await;
    assert_eq!(
        got.params.as_ref().unwrap()["uri"],
        WATCHED_TOO,
        "the next update, not the first again: {got:?}"
    );
}

/// JSON-RPC batches of a 2025-03-26 session through HAProxy: a batch
/// POSTed to a replica that did not open the session is answered there; a
/// batch holding the client's answer to a request a handler on another
/// replica sent (`roots/list`) reaches that handler.
#[tokio::test]
async fn batches_work_on_any_replica_and_answers_in_them_reach_the_asking_one() {
    let test = "batches_work_on_any_replica_and_answers_in_them_reach_the_asking_one";
    let Some(balancer) = session_balancer(test, &Signals::default()).await else {
        return;
    };
    let lb = frontend(&balancer);
    let raw = Raw::initialize_as(lb, "2025-03-26", json!({"roots": {}})).await;
    let whoami = rpc(5, "tools/call", json!({"name": "whoami", "arguments": {}}));
    let answer = raw.post(lb, &json!([whoami])).await;
    assert_eq!(answer.status(), 200);
    let answers: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(answers[0]["id"], 5, "{answers}");
    assert!(
        answers[0]["result"]["content"][0]["text"].is_string(),
        "{answers}"
    );

    let mut asking = raw.call(lb, "roots").await;
    assert_eq!(asking.status(), 200);
    let mut buffer = String::new();
    let (_, request) = next_event(&mut asking, &mut buffer).await;
    let request: serde_json::Value = serde_json::from_str(&request).unwrap();
    assert_eq!(request["method"], "roots/list", "{request}");
    let roots = json!({"roots": [{"uri": "file:///ada", "name": "Ada"}]});
    let reply = json!([{"jsonrpc": "2.0", "id": request["id"], "result": roots}]);
    assert_eq!(raw.post(lb, &reply).await.status(), 202);
    let (_, result) = next_event(&mut asking, &mut buffer).await;
    assert!(
        result.contains("file:///ada") && result.contains("\"id\":7"),
        "{result}\n{}",
        balancer.log()
    );
}

/// A replica whose `requestState` key is not the others' stops at start
/// with an error saying so (never the secret); those with the same key
/// start and, through HAProxy, take each other's retries.
#[tokio::test]
async fn a_replica_with_another_request_state_key_refuses_to_start() {
    let test = "a_replica_with_another_request_state_key_refuses_to_start";
    let Some(url) = redis_url(test) else { return };
    let channel = unique_prefix(test);
    let dir = TempDir::new("replicas-key-check");
    let keys = key_files(&dir, 2, false);
    let args = |key: &str| {
        [
            "--redis-url".to_owned(),
            url.clone(),
            "--redis-channel".to_owned(),
            channel.clone(),
            "--request-state-key-file".to_owned(),
            key.to_owned(),
        ]
    };
    let args_of = |key: &str| args(key);
    let first = args_of(&keys[0]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let replicas = [
        http_server("conformance_server", &first).await,
        http_server("conformance_server", &first).await,
    ];
    let other = tokio::process::Command::new(support::example("conformance_server"))
        .args(args_of(&keys[1]))
        .args(["--http", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example runs");
    let out = tokio::time::timeout(PATIENCE, other.wait_with_output())
        .await
        .expect("the replica with another key stops at start")
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("requestState key differs")
            && stderr.contains(&format!("--request-state-key-file {}", keys[1])),
        "{stderr}"
    );
    assert!(
        !stderr.contains("replica-secret"),
        "never the secret: {stderr}"
    );

    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let client = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), User).await;
    let answered = call(&client, "test_input_required_result_elicitation")
        .await
        .unwrap_or_else(|e| panic!("the round trip across replicas: {e}\n{}", balancer.log()));
    assert_eq!(text(&answered), "Hello, Ada!");
}

/// Bad input through HAProxy: the event id of another session's stream
/// gets the answer a forged one gets (410, the same words); a message too
/// large to keep is left out of the stream, which goes on.
#[tokio::test]
async fn another_sessions_event_id_is_unknown_and_an_oversized_event_is_left_out() {
    let test = "another_sessions_event_id_is_unknown_and_an_oversized_event_is_left_out";
    let Some(balancer) = session_balancer(test, &Signals::default()).await else {
        return;
    };
    let lb = frontend(&balancer);
    let (alice, bob) = (Raw::initialize(lb).await, Raw::initialize(lb).await);
    let mut stream = alice.get(lb, None).await;
    let mut buffer = String::new();
    assert_eq!(alice.call(lb, "huge").await.status(), 200);
    assert_eq!(alice.call(lb, "later").await.status(), 200);
    let (id, got) = next_event(&mut stream, &mut buffer).await;
    assert!(
        got.contains("later from") && got.len() < 4096,
        "{}",
        got.len()
    );

    let forged = "0:1-0";
    let theirs = bob.get(lb, Some(&id)).await;
    let unknown = bob.get(lb, Some(forged)).await;
    assert_eq!(theirs.status(), 410);
    assert_eq!(unknown.status(), 410);
    let theirs = theirs.text().await.unwrap().replace(&id, "ID");
    let unknown = unknown.text().await.unwrap().replace(forged, "ID");
    assert_eq!(theirs, unknown);
}

/// A request's SSE stream (`tools/call` answered with events) cut on the
/// replica running the call and resumed with `Last-Event-ID` on another,
/// through HAProxy: the events after the last one seen, then the answer,
/// and the stream ends.
#[tokio::test]
async fn a_request_stream_cut_on_one_replica_is_resumed_on_another() {
    let test = "a_request_stream_cut_on_one_replica_is_resumed_on_another";
    let Some(url) = redis_url(test) else { return };
    let signals = Signals::default();
    let backends = session_replicas(&url, test, &signals).await;
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let lb = frontend(&balancer);
    let raw = Raw::initialize(lb).await;
    let mut post = raw.call(lb, "pause").await;
    assert_eq!(post.status(), 200);
    let mut buffer = String::new();
    let (seen, got) = loop {
        let (id, data) = next_event(&mut post, &mut buffer).await;
        if !data.is_empty() {
            break (id, data);
        }
    };
    assert!(got.contains("paused"), "{got}");
    assert!(!seen.starts_with("0:"), "a request stream's id: {seen}");
    drop(post);
    signals.resume.notify_one();

    let mut resumed = raw.get(lb, Some(&seen)).await;
    assert_eq!(resumed.status(), 200, "{}", balancer.log());
    let mut buffer = String::new();
    let (_, got) = next_event(&mut resumed, &mut buffer).await;
    assert!(got.contains("resumed"), "{got}");
    let (_, got) = next_event(&mut resumed, &mut buffer).await;
    assert!(got.contains("done on") && got.contains("\"id\":7"), "{got}");
    let end = tokio::time::timeout(PATIENCE, resumed.chunk())
        .await
        .expect("the stream ends after its answer")
        .unwrap();
    assert!(end.is_none(), "{end:?}");

    // Another session cannot resume it: the answer an unknown stream gets.
    let other = Raw::initialize(lb).await;
    let theirs = other.get(lb, Some(&seen)).await;
    assert_eq!(theirs.status(), 410);
}

/// The first event of the session's standalone stream resumed on
/// `replica` after `last_event_id` (a 200 each time): a message a handler
/// sent is stored a moment after it was sent, so this resumes until the
/// stream delivers one.
async fn resume_until_an_event(
    raw: &Raw,
    replica: SocketAddr,
    last_event_id: &str,
) -> (String, String) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let mut again = raw.get(replica, Some(last_event_id)).await;
            assert_eq!(again.status(), 200, "{last_event_id} resumes on {replica}");
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
    .expect("the resumed stream delivers the message sent while it was cut")
}
