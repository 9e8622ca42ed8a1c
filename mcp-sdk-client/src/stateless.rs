//! The client's side of the stateless era (revision `2026-07-28`): which
//! era to speak ([`Era`]), how a server's answer to the `server/discover`
//! probe is read, the result cache, and [`Subscription`]s.

use crate::client::Core;
use crate::ClientError;
use mcp_sdk::jsonrpc::Notification;
use mcp_sdk::{
    DiscoverResult, Error, ErrorCode, Implementation, InitializeResult, ProtocolVersion, RequestId,
    ResultType, SubscriptionFilter, SERVER_INFO_META_KEY,
};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Which era of MCP a client speaks.
///
/// The session era (revisions `2024-11-05` to `2025-11-25`) begins with the
/// `initialize` handshake; the stateless era (`2026-07-28`) has none: every
/// request carries the revision, the client's capabilities and its identity
/// in `_meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Era {
    /// Whichever the server speaks, the stateless era first: the client
    /// probes with `server/discover`. A `DiscoverResult` or a JSON-RPC error
    /// only a stateless server sends (-32022 with the revisions it speaks,
    /// -32020, -32021, or -32602 about the `io.modelcontextprotocol/` keys)
    /// means stateless; any other error, an HTTP 4xx without such an error,
    /// or no answer within the probe timeout means a session-era server,
    /// which then gets `initialize` (and, over HTTP, possibly the
    /// `2024-11-05` HTTP+SSE transport).
    #[default]
    Auto,
    /// Only the session era: `initialize` straight away, no probe.
    SessionOnly,
    /// Only the stateless era: the probe must find a stateless server.
    StatelessOnly,
}

/// The most rounds of input requests one call answers before giving up, so
/// that a server that keeps asking cannot keep the client busy forever.
pub const MAX_INPUT_ROUNDS: usize = 16;

/// The methods whose result may be an `InputRequiredResult`.
pub(crate) const INPUT_METHODS: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];

/// The methods whose results carry caching hints (besides `server/discover`).
const CACHEABLE: [&str; 5] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// The most results the cache holds.
const MAX_CACHE_ENTRIES: usize = 256;

/// Whether `e` is an error only a stateless-era server sends: then the
/// server is stateless, and the client corrects its request rather than
/// falling back to `initialize`.
pub(crate) fn is_stateless_error(e: &Error) -> bool {
    match e.code {
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION => supported_versions(e).is_some(),
        ErrorCode::HEADER_MISMATCH | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY => true,
        // Invalid params about the stateless `_meta` keys; a session-era
        // server may well answer an unknown method with -32602 too.
        ErrorCode::INVALID_PARAMS => {
            e.message.contains("io.modelcontextprotocol/")
                || e.data
                    .as_ref()
                    .is_some_and(|d| d.to_string().contains("io.modelcontextprotocol/"))
        }
        _ => false,
    }
}

/// The revisions an `UnsupportedProtocolVersionError` says the server speaks.
pub(crate) fn supported_versions(e: &Error) -> Option<Vec<String>> {
    let supported = e.data.as_ref()?.get("supported")?.as_array()?;
    Some(
        supported
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
    )
}

/// The newest of `ours` that `theirs` names.
pub(crate) fn newest_common(
    ours: &[ProtocolVersion],
    theirs: &[String],
) -> Option<ProtocolVersion> {
    theirs
        .iter()
        .filter_map(|v| v.parse::<ProtocolVersion>().ok())
        .filter(|v| ours.contains(v))
        .max()
}

/// The kind of a stateless-era result: `complete` when `resultType` is
/// absent (as from older servers).
pub(crate) fn result_type(method: &str, value: &Value) -> Result<ResultType, ClientError> {
    match value.get("resultType") {
        None | Some(Value::Null) => Ok(ResultType::Complete),
        Some(Value::String(t)) => Ok(serde_json::from_value(Value::String(t.clone()))
            .unwrap_or(ResultType::Other(t.clone()))),
        Some(other) => Err(ClientError::Protocol(format!(
            "the server answered {method} with a resultType that is not a string: {other}"
        ))),
    }
}

/// Reads a `server/discover` answer, forgiving what older drafts left out
/// (`resultType`, `ttlMs`, `cacheScope`) and a negative `ttlMs`.
pub(crate) fn parse_discover(mut value: Value) -> Result<DiscoverResult, String> {
    let Some(map) = value.as_object_mut() else {
        return Err(format!(
            "the answer to server/discover is not an object: {value}"
        ));
    };
    map.entry("resultType").or_insert_with(|| "complete".into());
    map.entry("cacheScope").or_insert_with(|| "private".into());
    let ttl = map.get("ttlMs").and_then(Value::as_f64).unwrap_or(0.0);
    map.insert("ttlMs".into(), Value::from(ttl.max(0.0) as u64));
    serde_json::from_value(value)
        .map_err(|e| format!("the answer to server/discover is not a DiscoverResult: {e}"))
}

/// The server's identity in a discovery result: `_meta`'s
/// `io.modelcontextprotocol/serverInfo`, or a top-level `serverInfo` as some
/// servers send.
pub(crate) fn server_info(discover: &DiscoverResult) -> Option<Implementation> {
    let info = discover
        .meta
        .as_ref()
        .and_then(|m| m.get(SERVER_INFO_META_KEY))
        .or_else(|| discover.extra.get("serverInfo"))?;
    serde_json::from_value(info.clone()).ok()
}

/// What [`Client::server`](crate::Client::server) gives for a stateless
/// connection: the discovery result in the shape of an `initialize` answer.
pub(crate) fn as_initialize_result(
    version: ProtocolVersion,
    discover: Option<&DiscoverResult>,
) -> InitializeResult {
    let server_info = discover
        .and_then(server_info)
        .unwrap_or_else(|| Implementation::new("unknown", "unknown"));
    let mut result = InitializeResult::new(
        version.as_str(),
        discover.map(|d| d.capabilities.clone()).unwrap_or_default(),
        server_info,
    );
    result.instructions = discover.and_then(|d| d.instructions.clone());
    result.meta = discover.and_then(|d| d.meta.clone());
    result
}

/// Results kept for their `ttlMs`, by method and params.
#[derive(Default)]
pub(crate) struct Cache {
    entries: HashMap<(String, String), (Instant, Value)>,
}

impl Cache {
    /// The key of a request, if its method's results may be cached: the
    /// method and the params without `_meta`.
    pub(crate) fn key(method: &str, params: &Value) -> Option<(String, String)> {
        if !CACHEABLE.contains(&method) {
            return None;
        }
        let mut params = params.clone();
        if let Some(map) = params.as_object_mut() {
            map.remove("_meta");
            if map.contains_key("inputResponses") || map.contains_key("requestState") {
                return None;
            }
            if map.is_empty() {
                params = Value::Null;
            }
        }
        Some((method.to_owned(), params.to_string()))
    }

    /// A fresh result for `key`.
    pub(crate) fn get(&mut self, key: &(String, String)) -> Option<Value> {
        match self.entries.get(key) {
            Some((until, value)) if Instant::now() < *until => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for its `ttlMs` (nothing when that is absent, zero or
    /// negative).
    pub(crate) fn put(&mut self, key: (String, String), value: &Value) {
        let ttl = value.get("ttlMs").and_then(Value::as_f64).unwrap_or(0.0);
        if ttl.is_nan() || ttl < 1.0 {
            return;
        }
        let until = Instant::now() + Duration::from_millis(ttl.min(u64::MAX as f64) as u64);
        if self.entries.len() >= MAX_CACHE_ENTRIES {
            let now = Instant::now();
            self.entries.retain(|_, (until, _)| *until > now);
        }
        if self.entries.len() >= MAX_CACHE_ENTRIES {
            let soonest = self
                .entries
                .iter()
                .min_by_key(|(_, (until, _))| *until)
                .map(|(k, _)| k.clone());
            if let Some(k) = soonest {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(key, (until, value.clone()));
    }

    /// Forgets every result of `method`.
    pub(crate) fn forget_method(&mut self, method: &str) {
        self.entries.retain(|(m, _), _| m != method);
    }

    /// Forgets what `resources/read` said about `uri`.
    pub(crate) fn forget_resource(&mut self, uri: &str) {
        self.entries.retain(|(m, params), _| {
            m != "resources/read"
                || serde_json::from_str::<Value>(params)
                    .ok()
                    .and_then(|p| p.get("uri").and_then(Value::as_str).map(|u| u != uri))
                    .unwrap_or(true)
        });
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The invalidation a notification brings.
    pub(crate) fn invalidate(&mut self, notification: &Notification) {
        match notification.method.as_str() {
            "notifications/tools/list_changed" => self.forget_method("tools/list"),
            "notifications/prompts/list_changed" => self.forget_method("prompts/list"),
            "notifications/resources/list_changed" => {
                self.forget_method("resources/list");
                self.forget_method("resources/templates/list");
            }
            "notifications/resources/updated" => {
                let uri = notification
                    .params
                    .as_ref()
                    .and_then(|p| p.get("uri"))
                    .and_then(Value::as_str);
                match uri {
                    Some(uri) => self.forget_resource(uri),
                    None => self.forget_method("resources/read"),
                }
            }
            _ => {}
        }
    }
}

/// An open `subscriptions/listen` stream (revision `2026-07-28`): the
/// notifications the server agreed to send, each tagged with this
/// subscription's id, until the server ends it or it is closed or dropped
/// (which cancels it: over HTTP its response stream is closed, over stdio
/// `notifications/cancelled` is sent).
///
/// Notifications on it also reach the client's
/// [`ClientHandler`](crate::ClientHandler) callbacks
/// (`on_tool_list_changed`, `on_resource_updated`, ...), and invalidate the
/// cached results they concern.
///
/// ```no_run
/// # async fn run(client: mcp_sdk_client::Client) -> Result<(), mcp_sdk_client::ClientError> {
/// use mcp_sdk::SubscriptionFilter;
///
/// let filter = SubscriptionFilter::default().with_tools_list_changed(true);
/// let mut subscription = client.listen(filter).await?;
/// println!("the server agreed to {:?}", subscription.acknowledged());
/// while let Some(notification) = subscription.next().await {
///     println!("{}", notification.method);
/// }
/// # Ok(()) }
/// ```
pub struct Subscription {
    pub(crate) id: RequestId,
    pub(crate) acknowledged: SubscriptionFilter,
    pub(crate) notifications: mpsc::Receiver<Notification>,
    /// What did not fit in `notifications`, one per kind and URI.
    pub(crate) overflow: Arc<Mutex<Overflow>>,
    pub(crate) end: oneshot::Receiver<Result<Value, ClientError>>,
    pub(crate) ended: Option<Result<(), ClientError>>,
    pub(crate) core: Arc<Core>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("acknowledged", &self.acknowledged)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The subscription's id: the JSON-RPC id of its `subscriptions/listen`
    /// request, which its notifications carry under
    /// `io.modelcontextprotocol/subscriptionId`.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// What the server agreed to send: the requested filter without the
    /// kinds it does not support.
    pub fn acknowledged(&self) -> &SubscriptionFilter {
        &self.acknowledged
    }

    /// The next notification; `None` once the subscription has ended (see
    /// [`end`](Self::end) for how).
    ///
    /// Notifications wait here for you, up to 256; past that, those of a
    /// kind (and URI) already waiting are told once (they carry nothing
    /// else, so nothing is lost), and a subscription that still falls
    /// behind ends with an error rather than skip any (see
    /// [`MAX_WAITING_KINDS`]).
    pub async fn next(&mut self) -> Option<Notification> {
        if let Ok(n) = self.notifications.try_recv() {
            return Some(n);
        }
        if let Some(n) = self.take_overflow() {
            return Some(n);
        }
        match self.notifications.recv().await {
            Some(n) => Some(n),
            None => {
                let rest = self.take_overflow();
                if rest.is_none() {
                    self.settle();
                }
                rest
            }
        }
    }

    fn take_overflow(&self) -> Option<Notification> {
        self.overflow
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
    }

    /// How the subscription ended, once it has: `Ok` when the server ended
    /// it gracefully (answering the `subscriptions/listen` request), the
    /// error when the connection or stream broke. `None` while it is open.
    pub fn end(&mut self) -> Option<Result<(), ClientError>> {
        self.settle();
        self.ended.clone()
    }

    fn settle(&mut self) {
        if self.ended.is_some() {
            return;
        }
        match self.end.try_recv() {
            Ok(answer) => self.ended = Some(answer.map(drop)),
            Err(oneshot::error::TryRecvError::Closed) => {
                self.ended = Some(Err(self
                    .core
                    .closed_reason()
                    .unwrap_or_else(|| ClientError::Closed("the subscription ended".into()))))
            }
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
    }

    /// Ends the subscription (what dropping it does too).
    pub fn close(self) {}
}

/// The most distinct notifications (by kind, and URI for
/// `notifications/resources/updated`) that may wait for a subscription that
/// is not read fast enough, beyond the 256 queued in order; one more ends
/// the subscription with [`ClientError::Protocol`] saying it fell behind,
/// so that its user reads again what it watches rather than believe it
/// heard of every change.
pub const MAX_WAITING_KINDS: usize = 4096;

/// The notifications of a subscription that did not fit in its queue, each
/// kind (and URI) once, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Overflow {
    waiting: VecDeque<Notification>,
    kinds: BTreeSet<(String, String)>,
}

impl Overflow {
    /// Keeps `n` unless one of its kind (and URI) waits already; `false`
    /// when [`MAX_WAITING_KINDS`] wait and `n` would be another.
    pub(crate) fn push(&mut self, n: Notification) -> bool {
        let uri = n
            .params
            .as_ref()
            .and_then(|p| p.get("uri"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = (n.method.clone(), uri.to_owned());
        if self.kinds.contains(&kind) {
            return true;
        }
        if self.kinds.len() >= MAX_WAITING_KINDS {
            return false;
        }
        self.kinds.insert(kind);
        self.waiting.push_back(n);
        true
    }

    fn pop(&mut self) -> Option<Notification> {
        let n = self.waiting.pop_front()?;
        let uri = n
            .params
            .as_ref()
            .and_then(|p| p.get("uri"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.kinds.remove(&(n.method.clone(), uri.to_owned()));
        Some(n)
    }
}

/// Where the notifications of one subscription go.
#[derive(Debug, Clone)]
pub(crate) struct Feed {
    pub(crate) tx: mpsc::Sender<Notification>,
    pub(crate) overflow: Arc<Mutex<Overflow>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.settle();
        if self.ended.is_some() {
            return;
        }
        self.core.end_subscription(&self.id);
    }
}
