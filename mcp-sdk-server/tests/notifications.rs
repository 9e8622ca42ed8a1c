//! The server's notification callbacks run in tasks of their own: one that
//! awaits a request to the client (here `roots/list` when the roots change)
//! gets its answer over stdio, where the session's reader must go on.

use mcp_sdk_server::{async_trait, stdio::serve_io, Peer, Server, SessionConfig};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// A guard against hangs, not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(10);

struct RootsWatcher {
    seen: mpsc::UnboundedSender<Vec<String>>,
}

#[async_trait]
impl Server for RootsWatcher {
    async fn on_roots_list_changed(&self, peer: Peer) {
        let roots = peer
            .list_roots()
            .await
            .expect("the client answers roots/list");
        let _ = self
            .seen
            .send(roots.roots.into_iter().map(|r| r.uri).collect());
    }
}

#[tokio::test]
async fn a_callback_may_await_the_client_while_the_session_reads_on() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(server_end);
    tokio::spawn(serve_io(
        RootsWatcher { seen: seen_tx },
        SessionConfig::default(),
        read,
        write,
    ));
    let (read, mut write) = tokio::io::split(client_end);
    let mut lines = BufReader::new(read).lines();
    let line = |v: Value| format!("{v}\n");
    for msg in [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",
            "capabilities":{"roots":{"listChanged":true}},"clientInfo":{"name":"t","version":"0"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","method":"notifications/roots/list_changed"}),
    ] {
        write.write_all(line(msg).as_bytes()).await.unwrap();
    }
    let first = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&first).unwrap()["id"], 1);
    let second = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let request: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(request["method"], "roots/list");
    let answer =
        json!({"jsonrpc":"2.0","id":request["id"],"result":{"roots":[{"uri":"file:///w"}]}});
    write.write_all(line(answer).as_bytes()).await.unwrap();
    let roots = tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(roots, ["file:///w"]);
}

/// Tells the test when its session ends, and whether its peer is closed by then.
struct CloseWatcher {
    closed: mpsc::UnboundedSender<bool>,
}

#[async_trait]
impl Server for CloseWatcher {
    async fn on_session_closed(&self, peer: Peer) {
        let _ = self.closed.send(peer.is_closed());
    }
}

#[tokio::test]
async fn the_server_hears_when_a_session_ends() {
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(server_end);
    let served = tokio::spawn(serve_io(
        CloseWatcher { closed: closed_tx },
        SessionConfig::default(),
        read,
        write,
    ));
    let (read, mut write) = tokio::io::split(client_end);
    let mut lines = BufReader::new(read).lines();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",
        "capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    write
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    let answer = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap();
    assert!(answer.unwrap().unwrap().contains("protocolVersion"));
    assert!(closed.try_recv().is_err(), "not before the end");

    // The client closes its end: the session ends, and the server hears of
    // it once, with a peer that says it is closed.
    drop(write);
    drop(lines);
    tokio::time::timeout(PATIENCE, served)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let peer_closed = tokio::time::timeout(PATIENCE, closed.recv()).await.unwrap();
    assert_eq!(peer_closed, Some(true));
    assert!(closed.recv().await.is_none(), "told once");
}
