//! Where outgoing messages go. A session writes every message it sends into
//! an [`Outbound`]: the stdio writer, the stream of one HTTP request, or the
//! standalone stream of an HTTP session. Dispatch never knows which.

use async_trait::async_trait;
use mcp_sdk::Message;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A destination for outgoing messages.
#[async_trait]
pub(crate) trait MessageSink: Send + Sync + 'static {
    /// Sends one message; gives it back if the destination is gone.
    async fn send(&self, msg: Message) -> Result<(), Message>;

    /// Asks the transport to close the connection of the stream this sink
    /// feeds, leaving the stream resumable (SEP-1699): the client reconnects
    /// with `Last-Event-ID`. Only the streams of HTTP requests can; other
    /// destinations ignore it.
    async fn close_stream(&self) {}
}

/// What the stream of one HTTP request carries, in order: a message, or the
/// transport's own control to close the connection (never on the wire).
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A JSON-RPC message for the client.
    Message(Message),
    /// Close the SSE connection now; the client resumes the stream.
    CloseStream,
}

/// The stream of one HTTP request as a destination.
#[async_trait]
impl MessageSink for mpsc::Sender<Outgoing> {
    async fn send(&self, msg: Message) -> Result<(), Message> {
        mpsc::Sender::send(self, Outgoing::Message(msg))
            .await
            .map_err(|e| match e.0 {
                Outgoing::Message(msg) => msg,
                Outgoing::CloseStream => unreachable!("a message was sent"),
            })
    }

    async fn close_stream(&self) {
        let _ = mpsc::Sender::send(self, Outgoing::CloseStream).await;
    }
}

/// A shared handle on a [`MessageSink`].
pub(crate) type Outbound = Arc<dyn MessageSink>;

#[async_trait]
impl MessageSink for mpsc::Sender<Message> {
    async fn send(&self, msg: Message) -> Result<(), Message> {
        mpsc::Sender::send(self, msg).await.map_err(|e| e.0)
    }
}

#[async_trait]
impl MessageSink for mpsc::UnboundedSender<Message> {
    async fn send(&self, msg: Message) -> Result<(), Message> {
        mpsc::UnboundedSender::send(self, msg).map_err(|e| e.0)
    }
}

/// A destination that takes every message and keeps none.
pub(crate) struct Discard;

#[async_trait]
impl MessageSink for Discard {
    async fn send(&self, _msg: Message) -> Result<(), Message> {
        Ok(())
    }
}
