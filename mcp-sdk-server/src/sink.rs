//! Where outgoing messages go. A session writes every message it sends into
//! an [`Outbound`]: the stdio writer, the stream of one HTTP request, or the
//! standalone stream of an HTTP session. Dispatch never knows which.

use crate::reply_queue::{ReplySender, TryQueueError};
use async_trait::async_trait;
use mcp_sdk::Message;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A destination for outgoing messages. Senders call the inherent
/// `send` (on `dyn MessageSink`, below), which tries [`offer`](Self::offer)
/// first and waits in [`send_waiting`](Self::send_waiting) only when it
/// must.
#[async_trait]
pub(crate) trait MessageSink: Send + Sync + 'static {
    /// Takes the message now if the destination can without waiting. The
    /// default cannot: every message goes through `send_waiting`.
    fn offer(&self, msg: Message) -> Offer {
        Offer::Later(msg)
    }

    /// Sends one message, waiting as long as the destination needs; gives
    /// it back if the destination is gone. A boxed future: most messages
    /// are taken by [`offer`](Self::offer) and never make one.
    async fn send_waiting(&self, msg: Message) -> Result<(), Message>;

    /// Asks the transport to close the connection of the stream this sink
    /// feeds, leaving the stream resumable (SEP-1699): the client reconnects
    /// with `Last-Event-ID`. Only the streams of HTTP requests can; other
    /// destinations ignore it.
    async fn close_stream(&self) {}
}

/// What [`MessageSink::offer`] did with a message.
pub(crate) enum Offer {
    /// Sent.
    Taken,
    /// The destination is gone; the message comes back.
    Gone(Message),
    /// Not now: send it with [`MessageSink::send_waiting`].
    Later(Message),
}

impl dyn MessageSink {
    /// Sends one message; gives it back if the destination is gone.
    pub(crate) async fn send(&self, msg: Message) -> Result<(), Message> {
        match self.offer(msg) {
            Offer::Taken => Ok(()),
            Offer::Gone(msg) => Err(msg),
            Offer::Later(msg) => self.send_waiting(msg).await,
        }
    }
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
impl MessageSink for ReplySender<Outgoing> {
    fn offer(&self, msg: Message) -> Offer {
        match self.try_send(Outgoing::Message(msg)) {
            Ok(()) => Offer::Taken,
            Err(TryQueueError::Full(Outgoing::Message(msg))) => Offer::Later(msg),
            Err(TryQueueError::Closed(Outgoing::Message(msg))) => Offer::Gone(msg),
            Err(_) => unreachable!("a message was sent"),
        }
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        ReplySender::send(self, Outgoing::Message(msg))
            .await
            .map_err(|back| match back {
                Outgoing::Message(msg) => msg,
                Outgoing::CloseStream => unreachable!("a message was sent"),
            })
    }

    async fn close_stream(&self) {
        let _ = ReplySender::send(self, Outgoing::CloseStream).await;
    }
}

/// The answer queue of one stateless HTTP request as a destination.
#[async_trait]
impl MessageSink for ReplySender<Message> {
    fn offer(&self, msg: Message) -> Offer {
        match self.try_send(msg) {
            Ok(()) => Offer::Taken,
            Err(TryQueueError::Full(msg)) => Offer::Later(msg),
            Err(TryQueueError::Closed(msg)) => Offer::Gone(msg),
        }
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        ReplySender::send(self, msg).await
    }
}

/// A shared handle on a [`MessageSink`].
pub(crate) type Outbound = Arc<dyn MessageSink>;

#[async_trait]
impl MessageSink for mpsc::Sender<Message> {
    fn offer(&self, msg: Message) -> Offer {
        match self.try_send(msg) {
            Ok(()) => Offer::Taken,
            Err(mpsc::error::TrySendError::Full(msg)) => Offer::Later(msg),
            Err(mpsc::error::TrySendError::Closed(msg)) => Offer::Gone(msg),
        }
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        mpsc::Sender::send(self, msg).await.map_err(|e| e.0)
    }
}

#[async_trait]
impl MessageSink for mpsc::UnboundedSender<Message> {
    fn offer(&self, msg: Message) -> Offer {
        match mpsc::UnboundedSender::send(self, msg) {
            Ok(()) => Offer::Taken,
            Err(e) => Offer::Gone(e.0),
        }
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        mpsc::UnboundedSender::send(self, msg).map_err(|e| e.0)
    }
}

/// A destination that takes every message and keeps none.
pub(crate) struct Discard;

#[async_trait]
impl MessageSink for Discard {
    fn offer(&self, _msg: Message) -> Offer {
        Offer::Taken
    }

    async fn send_waiting(&self, _msg: Message) -> Result<(), Message> {
        Ok(())
    }
}
