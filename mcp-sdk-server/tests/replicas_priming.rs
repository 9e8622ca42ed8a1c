//! The standalone stream of a session shared by replicas starts with a
//! priming event for clients of 2025-11-25 on, as in one process: a stream
//! cut before its first message resumes from it on any replica. In
//! process (two services sharing `Replicas::in_memory()`); tests/replicas.rs
//! does the same through Redis.

mod support;

use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use support::{body_text, request, Sse};

async fn replica(shared: &Replicas) -> (SocketAddr, StreamableHttpService) {
    // Replicas of one server share the requestState key (each checks it
    // against the others' as it starts serving).
    let session = mcp_sdk_server::SessionConfig {
        request_state_key: mcp_sdk_server::RequestStateKey::from_bytes([7; 32]),
        ..Default::default()
    };
    let config = HttpConfig {
        replicas: Some(shared.clone()),
        session,
        ..HttpConfig::default()
    };
    let service = StreamableHttpService::new(Router::new().with_list_changed(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener,
        "/mcp",
        service.clone(),
    ));
    (addr, service)
}

/// A session of revision `version` opened on `addr`.
async fn session(addr: SocketAddr, version: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "priming-test", "version": "1"}}});
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    let (opened, _) = request(addr, "POST", &headers, &init.to_string()).await;
    let id = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    body_text(opened).await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-session-id", id.as_str()),
        ("mcp-protocol-version", version),
    ];
    let (answer, _) = request(addr, "POST", &headers, &initialized.to_string()).await;
    assert_eq!(answer.status(), 202);
    id
}

async fn get(addr: SocketAddr, session: &str, version: &str, last: Option<&str>) -> Sse {
    let mut headers = vec![
        ("accept", "text/event-stream"),
        ("mcp-session-id", session),
        ("mcp-protocol-version", version),
    ];
    if let Some(last) = last {
        headers.push(("last-event-id", last));
    }
    Sse::new(request(addr, "GET", &headers, "").await.0)
}

fn method(data: Option<Value>) -> Value {
    data.expect("a message")["method"].clone()
}

/// Cut after its priming event on replica A, the stream resumes from it
/// on replica B and gets the change announced while it was cut. Before,
/// the replicated stream had no priming event: a client cut before its
/// first message had no id to resume from, and what came meanwhile was
/// lost. A session of an earlier revision gets no priming event.
#[tokio::test]
async fn a_replicated_standalone_stream_cut_before_any_message_resumes_from_its_priming_event() {
    let shared = Replicas::in_memory();
    let ((a, service), (b, _)) = (replica(&shared).await, replica(&shared).await);
    let s = session(a, "2025-11-25").await;
    let mut first = get(a, &s, "2025-11-25", None).await;
    let primed = first.next().await.expect("the priming event");
    assert!(primed.data.is_none(), "{primed:?}");
    let last = primed.id.expect("the priming event has an id");
    assert!(last.starts_with("0:"), "{last}");
    drop(first);

    service.notifier().tool_list_changed();
    let mut resumed = get(b, &s, "2025-11-25", Some(&last)).await;
    let event = resumed.next().await.expect("the change");
    assert_eq!(method(event.data), "notifications/tools/list_changed");
    assert_ne!(event.id.as_deref(), Some(last.as_str()));

    let old = session(a, "2025-06-18").await;
    let mut stream = get(b, &old, "2025-06-18", None).await;
    service.notifier().prompt_list_changed();
    let event = stream.next().await.expect("the change");
    assert_eq!(
        method(event.data),
        "notifications/prompts/list_changed",
        "a message first, no priming event"
    );
}
