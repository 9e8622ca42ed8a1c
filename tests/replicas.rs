//! More than one replica behind a real load balancer (HAProxy, round-robin,
//! no stickiness; see tests/support/haproxy.rs): what works across replicas.

mod support;

use mcp_sdk::{
    CallToolResult, ClientCapabilities, ContentBlock, ElicitRequestParams, ElicitResult,
    ElicitationCapability, ReadResourceResult, Resource, SubscriptionFilter,
};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, RequestContext};
use mcp_sdk_server::bus::RedisBus;
use mcp_sdk_server::http::StreamableHttpService;
use mcp_sdk_server::{Notifier, ResourceRequest, Router};
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
        ClientCapabilities {
            elicitation: Some(ElicitationCapability {
                form: Some(Default::default()),
                ..Default::default()
            }),
            ..Default::default()
        }
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
    let filter = SubscriptionFilter {
        resource_subscriptions: Some(vec![WATCHED.to_owned()]),
        ..Default::default()
    };
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
    let filter = SubscriptionFilter {
        tools_list_changed: Some(true),
        ..Default::default()
    };
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
