//! Each request as a span of its distributed trace (SEP-414): the
//! `traceparent` in the request's `_meta` is the parent; a request without
//! one, or with a malformed one, starts a new trace. The handler runs inside
//! a `tracing` span carrying the method, the tool, a digest of the HTTP
//! session id and the trace and span ids, with the request's [`TraceContext`] current, so the
//! requests it makes with the client SDK continue the trace.

use crate::context::RequestContext;
use mcp_sdk::trace::TraceContext;
use mcp_sdk::Meta;
use tracing::field::Empty;
use tracing::Span;

/// The HTTP header naming a Streamable HTTP session.
const SESSION_HEADER: &str = "mcp-session-id";

/// This server's span for a request whose params carry `meta`: a child of the
/// incoming trace context, or a new trace.
pub(crate) fn incoming(meta: Option<&Meta>) -> (TraceContext, Option<TraceContext>) {
    match meta.and_then(TraceContext::from_meta) {
        Some(Ok(parent)) => (parent.child(), Some(parent)),
        Some(Err(e)) => {
            tracing::debug!(reason = %e, "ignoring the request's traceparent; starting a new trace");
            (TraceContext::new_root(), None)
        }
        None => (TraceContext::new_root(), None),
    }
}

/// The request's span: its trace context, and the `tracing` span the
/// handler runs in (method, tool, a digest of the HTTP session id, trace,
/// span and parent ids).
pub(crate) fn request_span(
    method: &str,
    meta: Option<&Meta>,
    tool: Option<&str>,
    ctx: &RequestContext,
) -> (TraceContext, Span) {
    let (trace, parent) = incoming(meta);
    let span = tracing::info_span!(
        "mcp.request",
        mcp.method = method,
        mcp.tool = Empty,
        mcp.session = Empty,
        trace_id = %trace.trace_id(),
        span_id = %trace.span_id(),
        parent_span_id = Empty,
    );
    // Nobody listens at this level: the digest and the fields would be
    // work on every request for nothing.
    if span.is_disabled() {
        return (trace, span);
    }
    if let Some(name) = tool {
        span.record("mcp.tool", name);
    }
    if let Some(session) = ctx.http_parts().and_then(|p| p.headers.get(SESSION_HEADER)) {
        span.record("mcp.session", session_tag(session.as_bytes()).as_str());
    }
    if let Some(parent) = &parent {
        span.record("parent_span_id", tracing::field::display(parent.span_id()));
    }
    (trace, span)
}

/// What the span records of a session: the first 8 bytes of the SHA-256 of
/// its id, in hex. Enough to tell a session's requests apart from
/// another's, where the id itself would let whoever reads the logs use the
/// session.
fn session_tag(id: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(id)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_recorded_by_a_digest_not_its_id() {
        let id = b"3f2a9c0e-secret-session";
        let tag = session_tag(id);
        assert_eq!(tag.len(), 16);
        assert!(!tag.contains("secret"));
        assert_eq!(tag, session_tag(id), "the same session, the same tag");
        assert_ne!(tag, session_tag(b"another"));
    }
}
