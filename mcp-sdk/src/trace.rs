//! W3C Trace Context in `_meta` (SEP-414): the `traceparent` and
//! `tracestate` a request carries, so that one trace follows a call from a
//! host through gateways to the server that answers it.
//!
//! The keys are the W3C header names, unprefixed, in the request's
//! `_meta`:
//!
//! ```
//! use mcp_sdk::trace::TraceContext;
//!
//! let meta = serde_json::json!({
//!     "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
//!     "tracestate": "congo=t61rcWkgMzE",
//! });
//! let parent = TraceContext::from_meta(meta.as_object().unwrap()).unwrap().unwrap();
//! assert_eq!(parent.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! // The callee's own span: the same trace, a new span id.
//! let child = parent.child();
//! assert_eq!(child.trace_id(), parent.trace_id());
//! assert_ne!(child.span_id(), parent.span_id());
//! ```

use crate::types::Meta;
use serde_json::Value;
use std::fmt;

/// The `_meta` key of the W3C `traceparent` (version, trace id, parent
/// span id, flags).
pub const TRACEPARENT_META_KEY: &str = "traceparent";
/// The `_meta` key of the W3C `tracestate` (vendor entries, passed on as
/// they came).
pub const TRACESTATE_META_KEY: &str = "tracestate";

/// The longest `tracestate` passed on (W3C: 32 entries of at most 256
/// characters each; propagators may drop a longer one, and we do, whole).
pub const MAX_TRACESTATE_LEN: usize = 8192;

/// A 16-byte trace id, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl SpanId {
    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

/// Lowercase hex in one write: every request's span formats both ids, and
/// a `{:02x}` per byte went through the formatting machinery 24 times
/// (a sixth of a `tools/call`'s instructions with a log subscriber on).
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    let hex = &out[..bytes.len().min(16) * 2];
    f.write_str(std::str::from_utf8(hex).expect("hex digits are ASCII"))
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// Why a `traceparent` was refused. A receiver ignores a malformed one and
/// starts a new trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// Not `version-traceid-spanid-flags` with lowercase hex fields of 2,
    /// 32, 16 and 2 characters.
    #[error("traceparent is not version-traceid-spanid-flags in lowercase hex")]
    Malformed,
    /// Version `ff`, which W3C forbids.
    #[error("traceparent version ff is invalid")]
    InvalidVersion,
    /// An all-zero trace id or span id.
    #[error("traceparent has an all-zero trace id or parent id")]
    ZeroId,
    /// Not a string.
    #[error("traceparent must be a string")]
    NotAString,
}

/// One span's place in a trace: what `traceparent` and `tracestate` carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
    tracestate: Option<String>,
}

/// The `sampled` bit of the trace flags.
const SAMPLED: u8 = 0x01;

fn hex_field<const N: usize>(s: &str) -> Result<[u8; N], TraceParentError> {
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return Err(TraceParentError::Malformed);
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(TraceParentError::Malformed),
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Ok(out)
}

/// `bytes`, or fresh random ones when they are all zero, which no id may be.
fn nonzero<const N: usize>(bytes: [u8; N]) -> [u8; N] {
    if bytes.iter().all(|b| *b == 0) {
        random()
    } else {
        bytes
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // An id must not be all zero: try again in the (2^-64 at worst) case.
    while bytes.iter().all(|b| *b == 0) {
        random_fill(&mut bytes);
    }
    bytes
}

/// Fills `out` from the operating system's random number generator, read
/// in blocks a thread keeps: every request starts a trace, and a system
/// call for each was a good part of a small request's cost.
fn random_fill(out: &mut [u8]) {
    use std::cell::RefCell;
    // A request's ids take 24 bytes: one system call per 170 requests.
    const BLOCK: usize = 4096;
    struct Pool {
        bytes: [u8; BLOCK],
        used: usize,
    }
    thread_local! {
        static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; BLOCK], used: BLOCK }) };
    }
    if out.len() > BLOCK {
        getrandom::fill(out).expect("the operating system's random number generator failed");
        return;
    }
    POOL.with_borrow_mut(|pool| {
        if BLOCK - pool.used < out.len() {
            getrandom::fill(&mut pool.bytes)
                .expect("the operating system's random number generator failed");
            pool.used = 0;
        }
        let taken = &mut pool.bytes[pool.used..pool.used + out.len()];
        out.copy_from_slice(taken);
        // Bytes handed out are not kept: no later reader of this thread's
        // memory learns an id from the pool.
        taken.fill(0);
        pool.used += out.len();
    });
}

impl TraceContext {
    /// Parses a `traceparent` (and the `tracestate` beside it, kept as it
    /// came when it is printable ASCII of at most [`MAX_TRACESTATE_LEN`],
    /// dropped otherwise). Version `00` must be exactly four fields; a
    /// later version may add fields after the flags, which are ignored, as
    /// W3C asks.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Result<Self, TraceParentError> {
        let mut fields = traceparent.split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(TraceParentError::Malformed);
        };
        let [version] = hex_field::<1>(version)?;
        if version == 0xff {
            return Err(TraceParentError::InvalidVersion);
        }
        if version == 0 && fields.next().is_some() {
            return Err(TraceParentError::Malformed);
        }
        let trace_id = hex_field::<16>(trace)?;
        let span_id = hex_field::<8>(span)?;
        let [flags] = hex_field::<1>(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return Err(TraceParentError::ZeroId);
        }
        let tracestate = tracestate
            .filter(|s| {
                s.len() <= MAX_TRACESTATE_LEN && s.bytes().all(|b| (b' '..=b'~').contains(&b))
            })
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned);
        Ok(TraceContext {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            flags: if version == 0 { flags } else { flags & SAMPLED },
            tracestate,
        })
    }

    /// The trace context in `meta`: `None` when it has no `traceparent`,
    /// `Some(Err(..))` when the one it has is malformed.
    pub fn from_meta(meta: &Meta) -> Option<Result<Self, TraceParentError>> {
        let traceparent = meta.get(TRACEPARENT_META_KEY)?;
        let Value::String(traceparent) = traceparent else {
            return Some(Err(TraceParentError::NotAString));
        };
        let tracestate = meta.get(TRACESTATE_META_KEY).and_then(Value::as_str);
        Some(Self::parse(traceparent, tracestate))
    }

    /// The trace context in a request's params (`params._meta`), as
    /// [`from_meta`](Self::from_meta).
    pub fn from_params(params: Option<&Value>) -> Option<Result<Self, TraceParentError>> {
        match params?.get("_meta")? {
            Value::Object(meta) => Self::from_meta(meta),
            _ => None,
        }
    }

    /// A new trace, sampled, with random ids.
    pub fn new_root() -> Self {
        // Both ids from one call to the operating system.
        let ids: [u8; 24] = random();
        let (trace_id, span_id) = ids.split_at(16);
        TraceContext {
            trace_id: TraceId(nonzero(trace_id.try_into().expect("16 bytes"))),
            span_id: SpanId(nonzero(span_id.try_into().expect("8 bytes"))),
            flags: SAMPLED,
            tracestate: None,
        }
    }

    /// A span beneath this one: the same trace, flags and `tracestate`, a
    /// new random span id.
    pub fn child(&self) -> Self {
        TraceContext {
            span_id: SpanId(random()),
            ..self.clone()
        }
    }

    /// The trace's id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Whether the trace is sampled (recorded by whoever started it).
    pub fn is_sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The vendors' `tracestate`, if one came.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The `traceparent` naming this span (version `00`).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }

    /// Writes `traceparent` (and `tracestate`, if any) into `meta`,
    /// replacing what was there.
    pub fn write_meta(&self, meta: &mut Meta) {
        meta.insert(TRACEPARENT_META_KEY.into(), self.traceparent().into());
        match &self.tracestate {
            Some(state) => {
                meta.insert(TRACESTATE_META_KEY.into(), state.clone().into());
            }
            None => {
                meta.remove(TRACESTATE_META_KEY);
            }
        }
    }
}

#[cfg(feature = "tokio")]
tokio::task_local! {
    static CURRENT: TraceContext;
}

#[cfg(feature = "tokio")]
impl TraceContext {
    /// The trace context of the task running now, set by
    /// [`scope`](Self::scope): the server SDK runs every request handler in
    /// its request's context, and the client SDK makes the requests it sends
    /// from there children of it, so a handler that calls another server
    /// (as a gateway does) carries the trace on by itself.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `work` with `self` as the [`current`](Self::current) trace
    /// context (tasks it spawns do not inherit it).
    pub async fn scope<F: std::future::Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_round_trips() {
        let t = TraceContext::parse(GOOD, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(t.traceparent(), GOOD);
        assert!(t.is_sampled());
        assert_eq!(t.tracestate(), Some("congo=t61rcWkgMzE"));
        let mut meta = Meta::new();
        t.write_meta(&mut meta);
        assert_eq!(TraceContext::from_meta(&meta), Some(Ok(t)));
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        let cases = [
            ("", TraceParentError::Malformed),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                TraceParentError::Malformed,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                TraceParentError::Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                TraceParentError::Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                TraceParentError::Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
                TraceParentError::Malformed,
            ),
            (
                "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                TraceParentError::Malformed,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                TraceParentError::InvalidVersion,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                TraceParentError::ZeroId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                TraceParentError::ZeroId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{e9}",
                TraceParentError::Malformed,
            ),
        ];
        for (input, why) in cases {
            assert_eq!(TraceContext::parse(input, None), Err(why), "{input:?}");
        }
        let not_a_string = serde_json::json!({"traceparent": 7});
        assert_eq!(
            TraceContext::from_meta(not_a_string.as_object().unwrap()),
            Some(Err(TraceParentError::NotAString))
        );
        assert_eq!(TraceContext::from_meta(&Meta::new()), None);
    }

    #[test]
    fn a_later_version_may_add_fields_and_keeps_only_known_flags() {
        let t = TraceContext::parse(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-extra",
            None,
        )
        .unwrap();
        assert_eq!(t.traceparent(), GOOD);
    }

    #[test]
    fn an_unusable_tracestate_is_dropped_not_the_trace() {
        let long = "a=".to_owned() + &"b".repeat(MAX_TRACESTATE_LEN);
        for state in [long.as_str(), "a=\u{1}", "   "] {
            let t = TraceContext::parse(GOOD, Some(state)).unwrap();
            assert_eq!(t.tracestate(), None, "{state:?}");
        }
    }

    #[test]
    fn new_traces_and_children_have_fresh_nonzero_ids() {
        let root = TraceContext::new_root();
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_ne!(child.span_id(), root.span_id());
        assert_ne!(TraceContext::new_root().trace_id(), root.trace_id());
        assert_eq!(TraceContext::parse(&root.traceparent(), None), Ok(root));
    }
}
