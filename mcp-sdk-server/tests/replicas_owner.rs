//! Two services sharing `Replicas::in_memory()` act as replicas of one
//! server: a session opened on one by a principal is served by the other
//! to that principal only; to anyone else it is unknown (404), as in one
//! process.
#![cfg(feature = "auth")]

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_sdk_server::auth::Identity;
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::Router;
use serde_json::json;

fn replica(shared: &Replicas) -> StreamableHttpService {
    let config = HttpConfig {
        replicas: Some(shared.clone()),
        ..HttpConfig::default()
    };
    StreamableHttpService::new(Router::new(), config)
}

fn as_user(subject: &str) -> Identity {
    let claims = json!({"sub": subject, "iss": "https://issuer.example"});
    Identity::from_claims(claims.as_object().unwrap().clone())
}

fn post(session: Option<&str>, who: &str, body: serde_json::Value) -> Request<Full<Bytes>> {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(id) = session {
        req = req.header("mcp-session-id", id);
    }
    let mut req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    req.extensions_mut().insert(as_user(who));
    req
}

#[tokio::test]
async fn a_session_is_served_on_another_replica_to_its_owner_only() {
    let shared = Replicas::in_memory();
    let (a, b) = (replica(&shared), replica(&shared));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "owner-test", "version": "1"}}});
    let opened = a.handle(post(None, "alice", init)).await;
    assert_eq!(opened.status(), StatusCode::OK);
    let id = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let foreign = b.handle(post(Some(&id), "mallory", ping.clone())).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let body = foreign.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("no such session"),
        "the same answer as an unknown id: {body:?}"
    );

    let owned = b.handle(post(Some(&id), "alice", ping)).await;
    assert_eq!(owned.status(), StatusCode::OK);
    assert_eq!(b.session_count(), 1, "replica b now holds a copy");
}
