//! The response body of the HTTP transports: a whole JSON body, or a
//! server-sent-events stream fed by a channel.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// A response body of the MCP HTTP service.
pub struct McpBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    /// Chunks from a channel; the guard lives as long as the body, so
    /// dropping the body (the client went away) runs the guard's `Drop`.
    Stream(
        mpsc::Receiver<Bytes>,
        #[allow(dead_code)] Option<Box<dyn Send + Sync>>,
    ),
}

impl McpBody {
    /// A body of these bytes.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        McpBody {
            kind: Kind::Full(Some(bytes.into())),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        McpBody {
            kind: Kind::Full(None),
        }
    }

    /// A streaming body: each chunk is sent as it arrives; the body ends when
    /// every sender is dropped.
    pub(crate) fn stream(rx: mpsc::Receiver<Bytes>) -> Self {
        McpBody {
            kind: Kind::Stream(rx, None),
        }
    }

    /// A streaming body that keeps `guard` alive until the body is dropped.
    pub(crate) fn stream_with_guard(
        rx: mpsc::Receiver<Bytes>,
        guard: Box<dyn Send + Sync>,
    ) -> Self {
        McpBody {
            kind: Kind::Stream(rx, Some(guard)),
        }
    }
}

impl std::fmt::Debug for McpBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            Kind::Full(_) => "McpBody::Full",
            Kind::Stream(..) => "McpBody::Stream",
        })
    }
}

impl Body for McpBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(rx, _) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Stream(..) => SizeHint::default(),
        }
    }
}
