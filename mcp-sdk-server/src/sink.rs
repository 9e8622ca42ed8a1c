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
}

/// A control message, never sent on the wire: asks the HTTP transport to
/// close the SSE connection of the request that sends it, leaving the stream
/// resumable (SEP-1699). Other transports drop it.
pub(crate) const CLOSE_SSE_STREAM: &str = "$/mcp-sdk/close-sse-stream";

/// Whether a message is the [`CLOSE_SSE_STREAM`] control.
pub(crate) fn is_close_control(msg: &Message) -> bool {
    msg.method() == Some(CLOSE_SSE_STREAM)
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
