//! Where outgoing messages go. A session writes every message it sends into
//! an [`Outbound`]: the stdio writer, the stream of one HTTP request, or the
//! standalone stream of an HTTP session. Dispatch never knows which.

use crate::reply::{response, RawAnswer, Reply};
use crate::reply_queue::{ReplySender, TryQueueError};
use async_trait::async_trait;
use mcp_sdk::{Error, Message, RequestId};
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

    /// Whether this destination writes a tool's result given as JSON text
    /// ([`offer_answer`](Self::offer_answer)) as it is: dispatch then
    /// serializes the result straight to text ([`Reply::tool_text`]).
    fn takes_raw(&self) -> bool {
        false
    }

    /// Takes an answer as JSON text now if it can (or drops it, if the
    /// destination is gone); else gives it back, for
    /// [`send_answer_waiting`](Self::send_answer_waiting).
    fn offer_answer(&self, answer: RawAnswer) -> Result<(), RawAnswer> {
        Err(answer)
    }

    /// Sends an answer as JSON text, waiting as long as the destination
    /// needs. The default sends it as a message (its text read back into a
    /// tree), for a destination that does not take text.
    async fn send_answer_waiting(&self, answer: RawAnswer) {
        let _ = self.send_waiting(answer.into_message()).await;
    }

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

    /// Sends the answer to request `id`: a result as JSON text as it is
    /// (when dispatch made it so, this destination [takes
    /// it](MessageSink::takes_raw)), else as a message.
    pub(crate) async fn answer(&self, id: RequestId, answer: Result<Reply, Error>) {
        let answer = match answer {
            Ok(Reply::Raw(result)) => match self.offer_answer(RawAnswer { id, result }) {
                Ok(()) => return,
                Err(answer) => return self.send_answer_waiting(answer).await,
            },
            Ok(reply) => reply.into_value(),
            Err(error) => Err(error),
        };
        let _ = self.send(response(id, answer)).await;
    }
}

/// What the stream of one HTTP request carries, in order: a message, or the
/// transport's own control to close the connection (never on the wire).
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A JSON-RPC message for the client.
    Message(Message),
    /// An answer whose result is JSON text already.
    Answer(RawAnswer),
    /// An answer to request `id` (`None`: an error to no request) written
    /// out whole already: one a batch's budget weighed.
    Written {
        id: Option<RequestId>,
        json: Vec<u8>,
    },
    /// Close the SSE connection now; the client resumes the stream.
    CloseStream,
}

impl Outgoing {
    /// The id of the request this answers, if it is an answer.
    pub fn answer_id(&self) -> Option<&RequestId> {
        match self {
            Outgoing::Message(Message::Response(r)) => Some(&r.id),
            Outgoing::Message(Message::Error(e)) => e.id.as_ref(),
            Outgoing::Answer(a) => Some(&a.id),
            Outgoing::Written { id, .. } => id.as_ref(),
            Outgoing::Message(_) | Outgoing::CloseStream => None,
        }
    }

    /// As a message (an answer's text read back into a tree); `None` for
    /// the transport's own control.
    pub fn into_message(self) -> Option<Message> {
        match self {
            Outgoing::Message(m) => Some(m),
            Outgoing::Answer(a) => Some(a.into_message()),
            // Our own writing: it reads back.
            Outgoing::Written { json, .. } => serde_json::from_slice(&json).ok(),
            Outgoing::CloseStream => None,
        }
    }

    /// Appends the message as JSON (nothing for the control).
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Outgoing::Message(m) => {
                // Our own envelopes always serialize.
                let _ = serde_json::to_writer(&mut *out, m);
            }
            Outgoing::Answer(a) => a.write(out),
            Outgoing::Written { json, .. } => out.extend_from_slice(json),
            Outgoing::CloseStream => {}
        }
    }

    /// The message as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Outgoing::Message(m) => m.to_vec(),
            Outgoing::Answer(a) => a.to_vec(),
            Outgoing::Written { json, .. } => json.clone(),
            Outgoing::CloseStream => Vec::new(),
        }
    }

    /// [`to_vec`](Self::to_vec), an answer written in its own buffer.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Outgoing::Answer(a) => a.into_vec(),
            Outgoing::Written { json, .. } => json,
            other => other.to_vec(),
        }
    }
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

    fn takes_raw(&self) -> bool {
        true
    }

    fn offer_answer(&self, answer: RawAnswer) -> Result<(), RawAnswer> {
        match self.try_send(Outgoing::Answer(answer)) {
            Ok(()) => Ok(()),
            Err(TryQueueError::Full(Outgoing::Answer(a))) => Err(a),
            // Nobody is left to read it, in either form.
            Err(TryQueueError::Closed(_)) => Ok(()),
            Err(_) => unreachable!("an answer was sent"),
        }
    }

    async fn send_answer_waiting(&self, answer: RawAnswer) {
        let _ = ReplySender::send(self, Outgoing::Answer(answer)).await;
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        ReplySender::send(self, Outgoing::Message(msg))
            .await
            .map_err(|back| match back {
                Outgoing::Message(msg) => msg,
                _ => unreachable!("a message was sent"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply_queue::reply_queue;
    use serde_json::json;

    /// A result as text waits for room as text: not read back into a tree
    /// (which a result nested deeper than serde_json reads could not be).
    #[tokio::test]
    async fn an_answer_as_text_waits_for_room_as_text() {
        let (tx, mut rx) = reply_queue::<Outgoing>(1);
        let sink: Outbound = Arc::new(tx);
        assert!(sink.takes_raw());
        let note = Message::notification("notifications/progress", None);
        assert!(matches!(sink.offer(note), Offer::Taken));
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let text =
            serde_json::to_string(&json!({"content": [], "structuredContent": deep})).unwrap();
        let answering = tokio::spawn({
            let sink = sink.clone();
            let text = text.clone();
            async move {
                sink.answer(RequestId::Number(3), Ok(Reply::Raw(text)))
                    .await
            }
        });
        assert!(matches!(rx.recv().await, Some(Outgoing::Message(_))));
        match rx.recv().await {
            Some(Outgoing::Answer(a)) => {
                assert_eq!(a.id, RequestId::Number(3));
                assert_eq!(a.result, text);
            }
            other => panic!("{other:?}"),
        }
        answering.await.unwrap();
    }
}
