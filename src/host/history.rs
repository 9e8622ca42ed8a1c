//! [`History`]: every JSON-RPC message the host exchanged with its
//! servers, kept for a person to inspect (the web UI's History pane), and
//! [`Recorded`], the transport wrapper that feeds it.
//!
//! Only the JSON-RPC messages are recorded, never the HTTP headers around
//! them, so an access token (sent in `Authorization`) never appears. The
//! history is bounded twice: the last [`CAPACITY`] messages, each cut to
//! [`MAX_RAW`] bytes of JSON.

use mcp_sdk::{Message, ProtocolVersion, RequestId};
use mcp_sdk_client::transport::{Incoming, Transport};
use mcp_sdk_client::{async_trait, ClientError};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// How many messages the history keeps; older ones are dropped.
pub const CAPACITY: usize = 500;

/// The most of one message's JSON kept (a large resource read is cut
/// here, and says so).
pub const MAX_RAW: usize = 64 * 1024;

/// How many requests a connection remembers the method of, for the
/// answers that come later (a request never answered is forgotten once
/// this many came after it).
const PENDING: usize = 1024;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the host to the server.
    Sent,
    /// From the server to the host.
    Received,
}

/// One message in the history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Counts up from 1 over the host's life.
    pub seq: u64,
    /// When it went, RFC 3339 UTC to the millisecond.
    pub time: String,
    /// Which way.
    pub direction: Direction,
    /// The server (its URL or command line).
    pub server: String,
    /// `request`, `notification`, `response` or `error`.
    pub kind: &'static str,
    /// The method; for an answer, the method of the request it answers
    /// (when that request was seen).
    pub method: Option<String>,
    /// The message's compact JSON, at most [`MAX_RAW`] bytes.
    pub raw: String,
    /// Whether `raw` was cut.
    pub truncated: bool,
}

/// Where the history's new entries go besides the history (the web UI
/// pushes them to its pages).
pub type Listener = Box<dyn Fn(&Entry) + Send + Sync>;

/// See the [module](self).
pub struct History {
    entries: Mutex<(u64, VecDeque<Entry>)>,
    listener: Option<Listener>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl History {
    /// An empty history; `listener` hears of each new entry.
    pub fn new(listener: Option<Listener>) -> Self {
        History {
            entries: Mutex::new((0, VecDeque::new())),
            listener,
        }
    }

    /// The entries kept, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        lock(&self.entries).1.iter().cloned().collect()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        lock(&self.entries).1.clear();
    }

    fn record(
        &self,
        server: &str,
        direction: Direction,
        message: &Message,
        method: Option<String>,
    ) {
        let mut raw = String::from_utf8(message.to_vec()).unwrap_or_default();
        let truncated = raw.len() > MAX_RAW;
        if truncated {
            let mut end = MAX_RAW;
            while !raw.is_char_boundary(end) {
                end -= 1;
            }
            raw.truncate(end);
        }
        let kind = match message {
            Message::Request(_) => "request",
            Message::Notification(_) => "notification",
            Message::Response(_) => "response",
            Message::Error(_) => "error",
        };
        let entry = {
            let mut entries = lock(&self.entries);
            entries.0 += 1;
            let entry = Entry {
                seq: entries.0,
                time: mcp_sdk::time::rfc3339_millis(SystemTime::now()),
                direction,
                server: server.to_owned(),
                kind,
                method: method.or_else(|| message.method().map(str::to_owned)),
                raw,
                truncated,
            };
            if entries.1.len() == CAPACITY {
                entries.1.pop_front();
            }
            entries.1.push_back(entry.clone());
            entry
        };
        if let Some(listener) = &self.listener {
            listener(&entry);
        }
    }
}

/// A transport that records every message it carries in a [`History`],
/// then hands it on unchanged.
pub struct Recorded<T> {
    inner: T,
    server: String,
    history: Arc<History>,
    /// The methods of requests not yet answered, by direction and id.
    pending: Mutex<VecDeque<(Direction, RequestId, String)>>,
}

impl<T> Recorded<T> {
    /// `inner`, recording into `history` as the server `server`.
    pub fn new(inner: T, server: String, history: Arc<History>) -> Self {
        Recorded {
            inner,
            server,
            history,
            pending: Mutex::new(VecDeque::new()),
        }
    }

    fn record(&self, direction: Direction, message: &Message) {
        let mut method = None;
        {
            let mut pending = lock(&self.pending);
            match message {
                Message::Request(request) => {
                    if pending.len() == PENDING {
                        pending.pop_front();
                    }
                    pending.push_back((direction, request.id.clone(), request.method.clone()));
                }
                Message::Response(mcp_sdk::jsonrpc::Response { id, .. })
                | Message::Error(mcp_sdk::jsonrpc::ErrorResponse { id: Some(id), .. }) => {
                    // An answer goes the other way from its request.
                    let asked = match direction {
                        Direction::Sent => Direction::Received,
                        Direction::Received => Direction::Sent,
                    };
                    if let Some(at) = pending.iter().position(|(d, i, _)| *d == asked && i == id) {
                        method = pending.remove(at).map(|(_, _, m)| m);
                    }
                }
                _ => {}
            }
        }
        self.history
            .record(&self.server, direction, message, method);
    }
}

#[async_trait]
impl<T: Transport> Transport for Recorded<T> {
    async fn send(&self, msg: Message) -> Result<(), ClientError> {
        self.record(Direction::Sent, &msg);
        self.inner.send(msg).await
    }

    async fn send_with_headers(
        &self,
        msg: Message,
        headers: Vec<(String, String)>,
    ) -> Result<(), ClientError> {
        self.record(Direction::Sent, &msg);
        self.inner.send_with_headers(msg, headers).await
    }

    async fn receive(&self) -> Option<Incoming> {
        let incoming = self.inner.receive().await;
        if let Some(Incoming::Message(message) | Incoming::Related { message, .. }) = &incoming {
            self.record(Direction::Received, message);
        }
        incoming
    }

    fn set_protocol_version(&self, version: ProtocolVersion) {
        self.inner.set_protocol_version(version)
    }

    fn clear_protocol_version(&self) {
        self.inner.clear_protocol_version()
    }

    fn mirrors_headers(&self) -> bool {
        self.inner.mirrors_headers()
    }

    fn user_activity(&self) -> u64 {
        self.inner.user_activity()
    }

    fn cancel(&self, id: &RequestId) -> bool {
        self.inner.cancel(id)
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_carry_their_requests_method_and_the_history_is_bounded() {
        let history = Arc::new(History::new(None));
        let transport = Recorded::new((), "test".into(), history.clone());
        transport.record(
            Direction::Sent,
            &Message::request(1i64, "tools/list", Some(json!({}))),
        );
        transport.record(
            Direction::Received,
            &Message::request(1i64, "roots/list", None),
        );
        transport.record(
            Direction::Sent,
            &Message::response(1i64.into(), json!({"roots": []})),
        );
        transport.record(
            Direction::Received,
            &Message::response(1i64.into(), json!({"tools": []})),
        );
        let methods: Vec<_> = history
            .entries()
            .iter()
            .map(|e| (e.direction, e.kind, e.method.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            methods,
            [
                (Direction::Sent, "request", "tools/list".to_owned()),
                (Direction::Received, "request", "roots/list".to_owned()),
                (Direction::Sent, "response", "roots/list".to_owned()),
                (Direction::Received, "response", "tools/list".to_owned()),
            ]
        );
        let big = "é".repeat(MAX_RAW);
        for _ in 0..CAPACITY + 5 {
            transport.record(
                Direction::Sent,
                &Message::notification("x", Some(json!({ "t": big }))),
            );
        }
        let entries = history.entries();
        assert_eq!(entries.len(), CAPACITY);
        assert_eq!(entries.last().unwrap().seq, (CAPACITY + 9) as u64);
        assert!(entries[0].truncated && entries[0].raw.len() <= MAX_RAW);
    }
}
