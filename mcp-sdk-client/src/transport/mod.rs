//! Transports: how messages travel between the client and a server.
//!
//! - [`IoTransport`]: newline-delimited JSON over any byte streams, such as an
//!   in-process `tokio::io::duplex` pair.
//! - [`ChildProcess`]: a server started as a child process, over its stdin and
//!   stdout.
//! - [`HttpTransport`] (feature `http`): Streamable HTTP, with the legacy
//!   HTTP+SSE transport of `2024-11-05` as a fallback.
//!
//! A transport only moves messages; the [`Client`](crate::Client) matches
//! answers to requests and runs the handler.

use crate::ClientError;
use async_trait::async_trait;
use mcp_sdk::{Message, ProtocolVersion, RequestId};
use tokio::sync::{mpsc, Mutex};

mod child;
#[cfg(feature = "http")]
pub mod http;
mod io;

pub use child::ChildProcess;
#[cfg(feature = "http")]
pub use http::{HttpTransport, HttpTransportBuilder};
pub use io::IoTransport;

/// What a transport hands to the client.
#[derive(Debug)]
pub enum Incoming {
    /// A message from the server.
    Message(Message),
    /// A message the server sent in the course of request `request`: on
    /// the response stream of its POST, over Streamable HTTP. Requests among
    /// them are answered by that call's own handler, if it has one (see
    /// [`RequestOptions::handler`](crate::RequestOptions::handler));
    /// everything else is taken as an [`Incoming::Message`]. Transports that
    /// cannot tell (stdio) deliver `Message`.
    Related {
        /// The client's request the message came with.
        request: RequestId,
        /// The message.
        message: Message,
    },
    /// The answer to this request will never come: its response stream broke
    /// and could not be resumed, or the server answered it with garbage.
    Failed {
        /// The request that failed.
        id: RequestId,
        /// Why.
        error: ClientError,
    },
    /// The connection ended; nothing more will arrive.
    Closed(ClientError),
}

/// A way to exchange JSON-RPC messages with one server.
///
/// Implement it to carry MCP over something new; the client calls `receive`
/// from one task only, and `send` from many.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends one message. An error means it did not reach the server; for a
    /// request, that error is the caller's answer.
    async fn send(&self, msg: Message) -> Result<(), ClientError>;

    /// Sends one message with extra HTTP headers: the `Mcp-Param-{Name}`
    /// headers a `tools/call` carries in revision `2026-07-28`. Transports
    /// without headers send the message alone.
    async fn send_with_headers(
        &self,
        msg: Message,
        _headers: Vec<(String, String)>,
    ) -> Result<(), ClientError> {
        self.send(msg).await
    }

    /// The next thing from the server; `None` once the transport has ended.
    async fn receive(&self) -> Option<Incoming>;

    /// Tells the transport which revision the handshake settled on (HTTP
    /// sends it in the `MCP-Protocol-Version` header).
    fn set_protocol_version(&self, _version: ProtocolVersion) {}

    /// Forgets the revision set before: the client probed for the stateless
    /// era (`2026-07-28`), found a session-era server, and is about to send
    /// `initialize`.
    fn clear_protocol_version(&self) {}

    /// Whether requests mirror their body into HTTP headers (Streamable
    /// HTTP): then, in revision `2026-07-28`, the client sends the
    /// `Mcp-Param-{Name}` headers that tools ask for with `x-mcp-header`, and
    /// drops tools whose annotations are invalid.
    fn mirrors_headers(&self) -> bool {
        false
    }

    /// Counts the starts and ends of waits for a person (the user's part
    /// of an OAuth sign-in, see [`auth`](crate::auth)): odd while one is
    /// under way. A request's timeout does not run out while a person is
    /// signing in, nor just after. `0` (the default) for transports that
    /// never wait for anyone.
    fn user_activity(&self) -> u64 {
        0
    }

    /// Cancels request `id` below JSON-RPC, if this transport does so:
    /// Streamable HTTP in revision `2026-07-28` closes the request's
    /// response stream. `false` (the default) means the client has to send
    /// `notifications/cancelled`.
    fn cancel(&self, _id: &RequestId) -> bool {
        false
    }

    /// Ends the connection: closes the session or stops the process.
    async fn close(&self) {}
}

/// The receiving half most transports share: a channel that their reader
/// tasks fill.
#[derive(Debug)]
pub(crate) struct Inbox(Mutex<mpsc::Receiver<Incoming>>);

impl Inbox {
    /// A new inbox and the sender its reader tasks use.
    pub(crate) fn new() -> (mpsc::Sender<Incoming>, Inbox) {
        let (tx, rx) = mpsc::channel(256);
        (tx, Inbox(Mutex::new(rx)))
    }

    pub(crate) async fn receive(&self) -> Option<Incoming> {
        self.0.lock().await.recv().await
    }
}
