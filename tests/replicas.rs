//! More than one replica behind a real load balancer (HAProxy, round-robin,
//! no stickiness; see tests/support/haproxy.rs): what works across replicas.

mod support;

use mcp_sdk::{
    CallToolResult, ClientCapabilities, ContentBlock, ElicitRequestParams, ElicitResult,
    ElicitationCapability,
};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, RequestContext};
use serde_json::json;
use std::net::SocketAddr;
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
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
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
