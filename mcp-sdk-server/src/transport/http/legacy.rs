//! The HTTP+SSE transport of MCP 2024-11-05, for clients that predate
//! Streamable HTTP.
//!
//! A client opens `GET /sse`; the first event (`endpoint`) names the URL to
//! POST its messages to (`/message?sessionId=...`). Every POST is answered
//! `202 Accepted`; responses and server-initiated messages travel as
//! `message` events on the SSE stream. The session lives as long as that
//! stream.

use super::body::McpBody;
use super::guard::{accepts, is_json};
use super::request_body::read_body;
use super::{error_response, BoxError, HttpConfig, HttpResponse};
use crate::dispatch::ServerShared;
use crate::session::Session;
use crate::sink::MessageSink;
use crate::util::lock;
use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use mcp_sdk::jsonrpc::decode;
use mcp_sdk::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use tokio::sync::mpsc;

/// Events queued for one legacy SSE connection. A client that lets this
/// many go unread is disconnected and its session closed (this transport
/// cannot resume a stream), so that no sender ever waits on a slow client:
/// the policy of the Streamable HTTP streams.
const QUEUE: usize = 256;

type Sessions = Arc<RwLock<HashMap<String, LegacySession>>>;

struct LegacySession {
    session: Arc<Session>,
}

/// Sends messages as `message` events on the session's SSE stream, without
/// waiting: a full queue disconnects the client.
struct EventSink {
    /// `None` once the client was disconnected.
    tx: Mutex<Option<mpsc::Sender<Bytes>>>,
    id: String,
    /// Weak: the sessions hold this sink.
    sessions: Weak<RwLock<HashMap<String, LegacySession>>>,
}

#[async_trait]
impl MessageSink for EventSink {
    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        let json = msg.to_vec();
        let mut buf = BytesMut::with_capacity(json.len() + 24);
        buf.put_slice(b"event: message\ndata: ");
        buf.put_slice(&json);
        buf.put_slice(b"\n\n");
        {
            let mut tx = lock(&self.tx);
            let Some(sender) = tx.as_ref() else {
                return Err(msg);
            };
            match sender.try_send(buf.freeze()) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(msg),
                // Dropping the sender ends the stream after what is queued.
                Err(mpsc::error::TrySendError::Full(_)) => *tx = None,
            }
        }
        tracing::warn!(
            queued = QUEUE,
            "a 2024-11-05 SSE client is not reading its stream: closing its session"
        );
        if let Some(sessions) = self.sessions.upgrade() {
            let removed = sessions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.id);
            if let Some(s) = removed {
                // Not here: the caller may be one of the session's own tasks.
                tokio::spawn(async move { s.session.close() });
            }
        }
        Err(msg)
    }
}

pub(super) struct Legacy {
    shared: Arc<ServerShared>,
    sessions: Sessions,
}

/// Removes the session when its SSE stream's body is dropped (the client
/// went away).
struct SessionGuard {
    id: String,
    sessions: Sessions,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let removed = self
            .sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        if let Some(s) = removed {
            s.session.close();
        }
    }
}

impl Legacy {
    pub fn new(shared: Arc<ServerShared>) -> Self {
        Legacy {
            shared,
            sessions: Arc::default(),
        }
    }

    /// `GET` on the SSE path: opens a session and tells the client where to
    /// post (`message_path`, relative to this server).
    pub fn open<B>(
        &self,
        req: &Request<B>,
        config: &HttpConfig,
        message_path: &str,
    ) -> HttpResponse {
        if *req.method() != Method::GET {
            return error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed: open the stream with GET",
            );
        }
        if let Err(why) = config.origins.check(req.headers()) {
            return error_response(StatusCode::FORBIDDEN, &why);
        }
        if !accepts(req.headers()).sse {
            return error_response(
                StatusCode::NOT_ACCEPTABLE,
                "Not Acceptable: the stream needs Accept: text/event-stream",
            );
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = mpsc::channel(QUEUE);
        let endpoint = format!("event: endpoint\ndata: {message_path}?sessionId={id}\n\n");
        let _ = tx.try_send(Bytes::from(endpoint));
        let sink = EventSink {
            tx: Mutex::new(Some(tx)),
            id: id.clone(),
            sessions: Arc::downgrade(&self.sessions),
        };
        let session = Session::new(self.shared.clone(), Arc::new(sink));
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), LegacySession { session });
        let guard = SessionGuard {
            id,
            sessions: self.sessions.clone(),
        };
        let mut resp = Response::new(McpBody::stream_with_guard(rx, Box::new(guard)));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        resp
    }

    /// `POST` on the message path: one JSON-RPC message for a session.
    pub async fn message<B>(&self, req: Request<B>, config: &HttpConfig) -> HttpResponse
    where
        B: Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        if *req.method() != Method::POST {
            return error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed: post messages with POST",
            );
        }
        if let Err(why) = config.origins.check(req.headers()) {
            return error_response(StatusCode::FORBIDDEN, &why);
        }
        if !is_json(req.headers()) {
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type: the body must be application/json",
            );
        }
        let id = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("sessionId=")))
            .map(str::to_owned);
        let Some(id) = id else {
            return error_response(
                StatusCode::BAD_REQUEST,
                "Bad Request: the sessionId query parameter is required",
            );
        };
        let session = {
            let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
            match sessions.get(&id) {
                Some(s) => s.session.clone(),
                None => {
                    return error_response(
                        StatusCode::NOT_FOUND,
                        "Not Found: no such session (its stream closed)",
                    )
                }
            }
        };
        let body = match read_body(
            req.into_body(),
            config.max_body_bytes,
            config.body_read_timeout,
        )
        .await
        {
            Ok(body) => body,
            Err(refusal) => return refusal,
        };
        let out = session.standalone().clone();
        match decode(&body) {
            Ok(msg) => session.handle(msg, out).await,
            Err(e) => {
                let _ = out.send(e.into_message()).await;
            }
        }
        let mut resp = Response::new(McpBody::full("Accepted"));
        *resp.status_mut() = StatusCode::ACCEPTED;
        resp
    }
}
