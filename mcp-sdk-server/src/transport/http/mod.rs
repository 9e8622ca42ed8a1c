//! The Streamable HTTP transport (MCP 2025-03-26 and later) as a service
//! that mounts at any path of a hyper or axum app, plus [`serve`] to run it
//! on its own listener.
//!
//! - `POST` carries one JSON-RPC message. Notifications and responses get
//!   `202 Accepted`; a request gets `application/json` or, when the handler
//!   sends something before its result (progress, logs, requests to the
//!   client) and the client accepts it, a `text/event-stream`. Sessions of
//!   revision 2025-03-26 may also POST a JSON-RPC batch (an array), answered
//!   with an array of the answers (or 202 when it holds no request); other
//!   revisions refuse arrays with 400.
//! - `GET` opens the standalone SSE stream for server-initiated messages, or
//!   resumes any stream after `Last-Event-ID`.
//! - `DELETE` ends the session.
//!
//! Secure by default: `Origin` and `Host` must be loopback unless allowed
//! (403 otherwise), bodies are capped (413), session ids come from the
//! operating system's CSPRNG, idle sessions expire.

mod body;
pub(crate) mod cluster;
mod guard;
mod legacy;
mod request_body;
mod serve;
mod stateless;
mod streams;

pub use body::McpBody;
pub use cluster::notify_session;
pub use guard::OriginPolicy;
pub use serve::{
    serve, serve_app, serve_listener, serve_with_shutdown, ConnectionLimit, ConnectionPermit,
    ExtraRoutes, LEGACY_MESSAGE_PATH, LEGACY_SSE_PATH,
};
pub use stateless::{METHOD_HEADER, NAME_HEADER};

use crate::config::SessionConfig;
use crate::dispatch::{Era, ServerShared};
use crate::reply_queue::{reply_queue, ReplyReceiver};
use crate::request::InboundRequest;
use crate::server::Server;
use crate::session::{Pending, Running, Session};
use crate::sink::{MessageSink, Offer, Outbound, Outgoing};
use crate::util::{lock, start_here, IdMap};
use async_trait::async_trait;
use bytes::Bytes;
use guard::{accepts, is_json, Accepts};
use http::header::AsHeaderName;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use mcp_sdk::jsonrpc::{decode, decode_as, decode_batch, is_batch, Decoded, Incoming};
use mcp_sdk::{Error, ErrorCode, Message, ProtocolVersion, RequestId};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};
use streams::{ResumeError, Streams, STANDALONE};
use tokio::sync::{mpsc, Notify};

/// Any error a request body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The session header.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The protocol version header.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
const LAST_EVENT_ID: &str = "last-event-id";

/// The MCP headers read on every request, as built names: looked up by a
/// `&str`, a name is checked and lowered again on each look-up.
static SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);

/// A single message POSTed, as decoded: a request (a `tools/call` to a
/// session with its params typed), or anything else.
enum SessionMessage {
    Request(InboundRequest),
    Other(Message),
}
static PROTOCOL_VERSION: HeaderName = HeaderName::from_static(PROTOCOL_VERSION_HEADER);

/// How a POSTed request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// JSON when the handler sends nothing before its result, SSE as soon as
    /// it does (and the client accepts SSE). Fast for simple calls, streaming
    /// when needed.
    #[default]
    Auto,
    /// Always SSE (when the client accepts it), with a priming event first.
    Sse,
    /// Always JSON; messages sent while handling go to the GET stream.
    Json,
}

/// The default [`HttpConfig::max_body_bytes`]: 4 MiB. A larger body gets
/// 413 Payload Too Large.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The default [`HttpConfig::body_read_timeout`]: 30 s for the whole body
/// (4 MiB at 140 KB/s). A body not complete by then gets 408 Request
/// Timeout and the connection is closed, so a stalled upload holds no
/// memory or connection for longer.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The default [`HttpConfig::header_read_timeout`]: 30 s. A connection
/// whose request head is not complete by then is closed without an answer.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The default [`HttpConfig::max_connections`]: 1,000 open connections,
/// below the common limit of 1,024 file descriptors per process so that the
/// server keeps descriptors for its own files and outgoing connections.
/// One more connection is answered 503 Service Unavailable and closed.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// The default [`HttpConfig::max_batch_items`]: 100 messages in one
/// JSON-RPC batch. A longer batch is refused whole with 400 and a -32600
/// error.
pub const DEFAULT_MAX_BATCH_ITEMS: usize = 100;

/// The default [`HttpConfig::max_batch_answer_bytes`]: 16 MiB of answers to
/// one batch. Once the answers given reach it, each further answer is
/// replaced by a -32603 error saying so.
pub const DEFAULT_MAX_BATCH_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Settings of the Streamable HTTP service.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Limits and timeouts of each session.
    pub session: SessionConfig,
    /// Allowed `Origin` and `Host` values (loopback only by default).
    pub origins: OriginPolicy,
    /// The largest accepted request body, in bytes (default
    /// [`DEFAULT_MAX_BODY_BYTES`]); larger bodies get 413.
    pub max_body_bytes: usize,
    /// The time a whole request body may take to arrive (default
    /// [`DEFAULT_BODY_READ_TIMEOUT`]); later, 408 and the connection closes.
    pub body_read_timeout: Duration,
    /// The time a request's head may take to arrive on a connection that
    /// [`serve`] accepted (default [`DEFAULT_HEADER_READ_TIMEOUT`]); later,
    /// the connection closes.
    pub header_read_timeout: Duration,
    /// At most this many connections at once on a listener that [`serve`]
    /// runs (default [`DEFAULT_MAX_CONNECTIONS`]); one more is answered 503
    /// and closed. Raise the process's file descriptor limit with it.
    pub max_connections: usize,
    /// A session unused for this long is closed (default 30 minutes).
    pub session_idle_timeout: Duration,
    /// This long before an idle session is closed, a warning log message
    /// (`notifications/message`, logger `session`) goes to its standalone
    /// stream, where the client sees it if it opens one (default 1 minute;
    /// `None` for no warning).
    pub session_expiry_notice: Option<Duration>,
    /// At most this many messages in one JSON-RPC batch (default
    /// [`DEFAULT_MAX_BATCH_ITEMS`]); a longer batch gets 400 and -32600.
    /// The requests of a batch run at most
    /// [`SessionConfig::max_concurrent_requests`] at once, like all of the
    /// session's requests.
    pub max_batch_items: usize,
    /// At most this many bytes of answers to one batch (default
    /// [`DEFAULT_MAX_BATCH_ANSWER_BYTES`]): past it, each further answer is
    /// replaced by an error (-32603) saying the limit was reached.
    pub max_batch_answer_bytes: usize,
    /// At most this many sessions at once (default 100,000); beyond, new
    /// sessions get 503.
    pub max_sessions: usize,
    /// Events kept per SSE stream for replay after `Last-Event-ID` (default 256).
    pub replay_buffer_events: usize,
    /// How requests are answered.
    pub response_mode: ResponseMode,
    /// The `retry` hint, in the priming event and when the server closes a
    /// stream early.
    pub sse_retry: Duration,
    /// Close a request's SSE connection this long after it opened, leaving the
    /// stream resumable: the client reconnects with `Last-Event-ID` (SEP-1699
    /// polling). `None` (the default) keeps connections open.
    pub sse_poll_after: Option<Duration>,
    /// What the replicas of this server share, so that any of them answers
    /// any request of any session, behind a load balancer without
    /// stickiness (see [`Replicas`](crate::replicas::Replicas)). `None`
    /// (the default): a session lives in the process that opened it.
    pub replicas: Option<crate::replicas::Replicas>,
    /// The server as an OAuth resource server (feature `auth`): every MCP
    /// request needs a valid access token, the metadata is served at its
    /// well-known path, and the legacy HTTP+SSE transport is not offered.
    /// `None` (the default): no authorization.
    #[cfg(feature = "auth")]
    pub auth: Option<Arc<crate::auth::ResourceServer>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            session: SessionConfig::default(),
            origins: OriginPolicy::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_expiry_notice: Some(Duration::from_secs(60)),
            max_batch_items: DEFAULT_MAX_BATCH_ITEMS,
            max_batch_answer_bytes: DEFAULT_MAX_BATCH_ANSWER_BYTES,
            max_sessions: 100_000,
            replay_buffer_events: 256,
            response_mode: ResponseMode::Auto,
            sse_retry: Duration::from_millis(1000),
            sse_poll_after: None,
            replicas: None,
            #[cfg(feature = "auth")]
            auth: None,
        }
    }
}

/// One HTTP session: the MCP session and its SSE streams.
struct HttpSession {
    id: Arc<str>,
    session: Arc<Session>,
    streams: Mutex<Streams>,
    /// Milliseconds since the service started, at the last request.
    last_seen: AtomicU64,
    /// The `last_seen` the expiry warning was sent for, if any: a session
    /// used again is warned again when it next goes idle.
    warned_at: AtomicU64,
    /// POSTs waiting for their JSON answer: while one waits, the session is
    /// in use even with no SSE connection, and the idle sweeper keeps it.
    waiting: AtomicUsize,
    /// Who opened the session, on a protected server: only they may use it
    /// (anyone else gets the answer an unknown session id gets).
    owner: Option<String>,
    /// Replicas: the `last_seen` the shared store was last told of.
    store_touched: AtomicU64,
    /// Replicas: the session's `resources/subscribe` subscriptions (URI,
    /// key), as the session store and the bus tell them.
    subscriptions: Mutex<Vec<(String, String)>>,
}

/// A client waiting on its POST for a JSON answer to `pending`. Dropped
/// before every answer came (hyper drops the handler when the client
/// disconnects), it cancels the requests still running: nobody would read
/// their answers.
struct Waiting {
    hs: Arc<HttpSession>,
    pending: Pending,
    /// The service's clock, to mark the session used when the wait ends.
    epoch: Instant,
}

impl Waiting {
    fn new(hs: Arc<HttpSession>, pending: Pending, epoch: Instant) -> Self {
        hs.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting { hs, pending, epoch }
    }

    /// The answers still to come, which someone else now waits for.
    fn hand_over(mut self) -> Pending {
        std::mem::take(&mut self.pending)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        // Idle from now on, not from when the request came.
        let now = self.epoch.elapsed().as_millis() as u64;
        self.hs.last_seen.store(now, Ordering::Relaxed);
        self.hs.waiting.fetch_sub(1, Ordering::AcqRel);
        for id in self.pending.ids() {
            self.hs.session.cancel(id);
        }
    }
}

/// The standalone stream as a message destination.
struct StandaloneSink(Weak<HttpSession>);

#[async_trait]
impl MessageSink for StandaloneSink {
    fn offer(&self, msg: Message) -> Offer {
        let Some(hs) = self.0.upgrade() else {
            return Offer::Gone(msg);
        };
        let mut streams = lock(&hs.streams);
        streams.ensure_standalone();
        streams.push(STANDALONE, &msg, false);
        Offer::Taken
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        match self.offer(msg) {
            Offer::Taken => Ok(()),
            Offer::Gone(msg) | Offer::Later(msg) => Err(msg),
        }
    }
}

struct Inner {
    shared: Arc<ServerShared>,
    legacy: legacy::Legacy,
    config: HttpConfig,
    sessions: RwLock<IdMap<Arc<str>, Arc<HttpSession>>>,
    epoch: Instant,
    sweeper: AtomicBool,
    /// Requests being handled, for graceful shutdown.
    active: AtomicUsize,
    idle: Notify,
    /// Set by [`StreamableHttpService::shutdown`].
    shut_down: AtomicBool,
    /// What the replicas share, when there are replicas.
    cluster: Option<Arc<cluster::Cluster>>,
}

impl Inner {
    /// A new session `id`, for `owner`, whose standalone messages go to
    /// its own stream (one process) or to the shared event store.
    fn new_session(&self, id: Arc<str>, owner: Option<String>, now: u64) -> Arc<HttpSession> {
        let shared = self.shared.clone();
        let cluster = self.cluster.clone();
        Arc::new_cyclic(|weak: &Weak<HttpSession>| {
            let standalone: Outbound = match &cluster {
                Some(cluster) => cluster.standalone_sink(id.clone()),
                None => Arc::new(StandaloneSink(weak.clone())),
            };
            let store = shared.config.tasks.store.clone();
            let session = Session::new(shared, standalone);
            if cluster.is_some() {
                let shared_id = cluster::SharedSessionId(id.clone());
                session.link().extensions().insert(shared_id);
                // Any replica answers for the session's tasks.
                session.tasks.share(store, &id);
                // Below 2^52, so that every client reads it as an integer.
                let first = (uuid::Uuid::new_v4().as_u128() as u32 as i64) << 20;
                session.link().number_requests_from(first);
            }
            let mut streams = Streams::new(self.config.replay_buffer_events);
            if let Some(cluster) = &cluster {
                // Request streams resumable on any replica.
                streams.share(cluster.share_request_streams(id.clone()));
            }
            HttpSession {
                id,
                session,
                streams: Mutex::new(streams),
                last_seen: AtomicU64::new(now),
                warned_at: AtomicU64::new(u64::MAX),
                waiting: AtomicUsize::new(0),
                owner,
                store_touched: AtomicU64::new(now),
                subscriptions: Mutex::default(),
            }
        })
    }
}

/// The Streamable HTTP endpoint of one MCP server, as a hyper service and a
/// tower service. Cloning is cheap: clones share the sessions.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
/// let service = StreamableHttpService::new(mcp_sdk_server::Router::new(), HttpConfig::default());
/// // Serve it at http://127.0.0.1:3000/mcp ...
/// mcp_sdk_server::http::serve("127.0.0.1:3000".parse().unwrap(), "/mcp", service).await
/// // ... or mount it in an axum app: `Router::new().nest_service("/mcp", service)`,
/// // or call `service.handle(request)` from any router, at any path.
/// # }
/// ```
#[derive(Clone)]
pub struct StreamableHttpService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StreamableHttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamableHttpService")
            .field("sessions", &self.session_count())
            .finish()
    }
}

type HttpResponse = Response<McpBody>;

/// A refusal computed before the request is handled. Boxed: a response is
/// large and this travels in `Result::Err`.
type Refusal = Box<HttpResponse>;

/// The answers of one POST, in order, and what else came before them:
/// inline for the one answer most POSTs have.
type Answers = smallvec::SmallVec<[Outgoing; 1]>;

impl StreamableHttpService {
    /// A service for `server` with `config`.
    pub fn new(server: impl Server, config: HttpConfig) -> Self {
        // `serve` refuses to start with this; mounted in an app of your own,
        // the service says it here, and the server answers with it.
        if let Err(e) = server.check() {
            tracing::error!("{e}");
        }
        let shared = ServerShared::new(Arc::new(server), config.session.clone());
        let cluster = (config.replicas.clone())
            .map(|replicas| cluster::Cluster::new(replicas, config.session_idle_timeout));
        let inner = Arc::new(Inner {
            legacy: legacy::Legacy::new(shared.clone()),
            shared,
            config,
            sessions: RwLock::new(IdMap::default()),
            epoch: Instant::now(),
            sweeper: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            idle: Notify::new(),
            shut_down: AtomicBool::new(false),
            cluster,
        });
        if let Some(cluster) = &inner.cluster {
            // Changes reach the sessions of every replica through the
            // cluster, once each, not through this replica's announcer.
            let hooks = cluster.subscriptions(Arc::downgrade(&inner));
            if !inner.shared.notifier.deliver_to_sessions(hooks) {
                tracing::warn!(
                    "the server's notifier serves another service's replicas already; \
                     changes reach this service's sessions through that one"
                );
            }
        }
        StreamableHttpService { inner }
    }

    /// Checks what the replicas of this server must agree on, once at
    /// start: that they seal `requestState` with the same key
    /// ([`SessionConfig::request_state_key`](crate::SessionConfig::request_state_key)).
    /// Each replica keeps a check value (an HMAC of a fixed label under the
    /// key, never the key) in the shared session store; a replica whose key
    /// gives another value gets an error saying so, rather than refusing
    /// its clients' retries later. The value is renewed while the replica
    /// runs and kept for the `requestState` lifetime after, so a key
    /// changed on every replica at once is accepted that long after the
    /// last replica with the old one stopped. [`serve`] calls this; call it
    /// yourself when you mount the service in an app of your own. Without
    /// replicas there is nothing to check.
    pub async fn check_replicas(&self) -> Result<(), crate::replicas::ReplicaMismatch> {
        let Some(cluster) = &self.inner.cluster else {
            return Ok(());
        };
        let session = &self.inner.config.session;
        let check = session.request_state_key.check_value();
        let ttl = session.request_state_ttl.max(Duration::from_secs(60));
        cluster.agree_on_key(&check, ttl).await?;
        // Renewed while this replica runs (a third of its lifetime apart),
        // so that a replica started later is still checked.
        let (cluster, weak) = (cluster.clone(), Arc::downgrade(&self.inner));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                if weak
                    .upgrade()
                    .is_none_or(|inner| inner.shut_down.load(Ordering::Acquire))
                {
                    return;
                }
                if let Err(e) = cluster.agree_on_key(&check, ttl).await {
                    tracing::error!("{e}");
                }
            }
        });
        Ok(())
    }

    /// Announces list changes and resource updates to the stateless
    /// clients' `subscriptions/listen` streams.
    pub fn notifier(&self) -> &crate::Notifier {
        &self.inner.shared.notifier
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.inner
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Shuts the service down: every session closes (see
    /// [`close_all_sessions`](Self::close_all_sessions)) and every request
    /// from now on is refused with 503, so a service still mounted in an app
    /// says that it stopped instead of opening new sessions. [`serve`] and
    /// its kin call this once in-flight requests drained.
    pub fn shutdown(&self) {
        self.inner.shut_down.store(true, Ordering::Release);
        self.close_all_sessions();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }

    /// Closes every session: running requests are cancelled and SSE streams
    /// end. New sessions may still open; [`shutdown`](Self::shutdown) also
    /// refuses them.
    pub fn close_all_sessions(&self) {
        self.inner.shared.notifier.close();
        let sessions: Vec<_> = write(&self.inner.sessions)
            .drain()
            .map(|(_, s)| s)
            .collect();
        for hs in sessions {
            close(&hs);
        }
    }

    /// Waits until no request is being handled, or `timeout` passes.
    pub async fn drain(&self, timeout: Duration) {
        let wait = async {
            loop {
                let notified = self.inner.idle.notified();
                if self.inner.active.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
    }

    /// Answers one HTTP request. Works with any request body type, so the
    /// service can sit behind hyper directly or inside an axum router.
    pub async fn handle<B>(&self, req: Request<B>) -> HttpResponse
    where
        B: Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        let _active = ActiveGuard::new(&self.inner);
        if self.is_shut_down() {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: this MCP server has shut down",
            );
        }
        if let Err(why) = self.inner.config.origins.check(req.headers()) {
            return error_response(StatusCode::FORBIDDEN, &why);
        }
        if let Some(cluster) = &self.inner.cluster {
            cluster.listen(&self.inner);
        }
        #[cfg(feature = "auth")]
        let req = match self.authenticate(req).await {
            Ok(req) => req,
            Err(refusal) => return refusal,
        };
        match *req.method() {
            Method::POST => self.post(req).await,
            Method::GET => self.get(req).await,
            Method::DELETE => self.delete(req).await,
            _ => {
                let mut r = error_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Method not allowed: use POST, GET or DELETE",
                );
                r.headers_mut().insert(
                    http::header::ALLOW,
                    HeaderValue::from_static("GET, POST, DELETE"),
                );
                r
            }
        }
    }

    /// `req` with the caller's [`Identity`](crate::auth::Identity) in its
    /// extensions, or the refusal, when the service is protected.
    #[cfg(feature = "auth")]
    async fn authenticate<B>(&self, mut req: Request<B>) -> Result<Request<B>, HttpResponse> {
        if let Some(auth) = &self.inner.config.auth {
            let identity = auth
                .authenticate_request(req.method(), req.headers())
                .await?;
            req.extensions_mut().insert(identity);
        }
        Ok(req)
    }

    /// On a protected server, the 403 step-up challenge for a request (a
    /// tool's call, a prompt's get, a resource's read) that needs scopes
    /// the caller's token lacks ([`Server::required_scopes`]).
    #[cfg(feature = "auth")]
    fn scope_check(
        &self,
        msg: &SessionMessage,
        extensions: &http::Extensions,
    ) -> Option<HttpResponse> {
        let auth = self.inner.config.auth.as_ref()?;
        let SessionMessage::Request(req) = msg else {
            return None;
        };
        let params = req.params.as_json();
        let identity = extensions.get::<crate::auth::Identity>()?;
        let needed = self
            .inner
            .shared
            .server
            .required_scopes(&req.method, params.as_deref());
        let missing: Vec<&str> = needed
            .iter()
            .map(String::as_str)
            .filter(|s| !identity.has_scope(s))
            .collect();
        (!missing.is_empty()).then(|| auth.insufficient_scope(&missing))
    }

    /// The protection of this service, if any (feature `auth`).
    #[cfg(feature = "auth")]
    pub fn resource_server(&self) -> Option<&Arc<crate::auth::ResourceServer>> {
        self.inner.config.auth.as_ref()
    }

    /// The 2024-11-05 HTTP+SSE transport, `GET` side: opens a session whose
    /// messages the client posts to `message_path` (where
    /// [`handle_legacy_message`](Self::handle_legacy_message) must answer).
    pub fn handle_legacy_sse<B>(&self, req: Request<B>, message_path: &str) -> HttpResponse {
        self.inner
            .legacy
            .open(&req, &self.inner.config, message_path)
    }

    /// The 2024-11-05 HTTP+SSE transport, `POST` side.
    pub async fn handle_legacy_message<B>(&self, req: Request<B>) -> HttpResponse
    where
        B: Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        let _active = ActiveGuard::new(&self.inner);
        self.inner.legacy.message(req, &self.inner.config).await
    }

    async fn post<B>(&self, req: Request<B>) -> HttpResponse
    where
        B: Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        let config = &self.inner.config;
        let headers = req.headers();
        if !is_json(headers) {
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type: the body must be application/json",
            );
        }
        let accept = accepts(headers);
        if !accept.json || !accept.sse {
            return error_response(
                StatusCode::NOT_ACCEPTABLE,
                "Not Acceptable: the client must accept both application/json and text/event-stream",
            );
        }
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.max_body_bytes as u64) {
            return too_large(config.max_body_bytes);
        }
        let (parts, body) = req.into_parts();
        // Shared with the handlers, which may read the head and its extensions.
        let parts = Arc::new(parts);
        let headers = &parts.headers;
        let session_id = header_str(headers, &SESSION);
        let body =
            match request_body::read_body(body, config.max_body_bytes, config.body_read_timeout)
                .await
            {
                Ok(body) => body,
                Err(refusal) => return refusal,
            };
        if is_batch(&body) {
            let version = match check_protocol_version(headers) {
                Ok(version) => version,
                Err(resp) => return *resp,
            };
            // Boxed: a batch's future is the largest, and would make every
            // POST's that large (its state copied as it is built).
            return Box::pin(self.batch(session_id, version, &body, accept, &parts)).await;
        }
        // A `tools/call` has its params read typed, unless the method's
        // scopes are checked (which reads params as JSON).
        let decoded = if self.checks_scopes() {
            decode(&body).map(Decoded::Message)
        } else {
            decode_as(&body)
        };
        let msg: SessionMessage = match decoded {
            Ok(Decoded::Typed(id, params)) => {
                SessionMessage::Request(InboundRequest::call(id, params))
            }
            Ok(Decoded::Message(Message::Request(req))) => SessionMessage::Request(req.into()),
            Ok(Decoded::Message(other)) => SessionMessage::Other(other),
            Err(e) => return json_response(StatusCode::BAD_REQUEST, &e.into_message(), None),
        };
        #[cfg(feature = "auth")]
        if let Some(step_up) = self.scope_check(&msg, &parts.extensions) {
            return step_up;
        }

        // Without a session, a request that speaks 2026-07-28 (by its
        // `_meta` or its version header) is served statelessly.
        // The era is decided here, once: by the header or by the body.
        let era = match &msg {
            SessionMessage::Request(r) => Era::of(r),
            SessionMessage::Other(_) => Era::Session,
        };
        if session_id.is_none() {
            let stateless_header = stateless::header_is_stateless(headers);
            match msg {
                SessionMessage::Request(r) if stateless_header || era == Era::Stateless => {
                    // Boxed, so that the session path's future stays small.
                    return Box::pin(self.stateless(&parts, r, body)).await;
                }
                // Nothing to do: 2026-07-28 cancels by closing the stream.
                SessionMessage::Other(Message::Notification(_)) if stateless_header => {
                    return empty_response(StatusCode::ACCEPTED)
                }
                other => return self.session_message(None, other, era, accept, &parts).await,
            }
        }
        self.session_message(session_id, msg, era, accept, &parts)
            .await
    }

    /// Whether requests are checked against the scopes their method needs
    /// ([`Server::required_scopes`](crate::Server::required_scopes), which
    /// reads params as JSON).
    fn checks_scopes(&self) -> bool {
        #[cfg(feature = "auth")]
        return self.inner.config.auth.is_some();
        #[cfg(not(feature = "auth"))]
        false
    }

    /// A message of the session era: `initialize`, or one for a session.
    async fn session_message(
        &self,
        session_id: Option<&str>,
        msg: SessionMessage,
        era: Era,
        accept: Accepts,
        parts: &Arc<http::request::Parts>,
    ) -> HttpResponse {
        let version = match check_protocol_version(&parts.headers) {
            Ok(version) => version,
            Err(resp) => return *resp,
        };

        let msg = match msg {
            SessionMessage::Request(r) if r.method == "initialize" => {
                let msg = Message::Request(r.into_request());
                // Boxed: once per session, and as large as the rest.
                return Box::pin(self.initialize(msg, accept, owner(&parts.extensions))).await;
            }
            msg => msg,
        };
        let hs = match self.find_session(session_id, &parts.extensions).await {
            Ok(hs) => hs,
            Err(resp) => return *resp,
        };
        if era == Era::Session {
            if let Err(resp) = check_negotiated_version(&hs, version) {
                return *resp;
            }
        }
        match msg {
            SessionMessage::Request(req) => self.request(hs, era, req, accept, parts.clone()).await,
            SessionMessage::Other(other) => {
                let elsewhere =
                    (self.inner.cluster.as_ref()).is_some_and(|c| c.forward(&hs, &other));
                if elsewhere {
                    return empty_response(StatusCode::ACCEPTED);
                }
                let standalone = hs.session.standalone().clone();
                hs.session.handle(other, standalone).await;
                empty_response(StatusCode::ACCEPTED)
            }
        }
    }

    async fn initialize(
        &self,
        msg: Message,
        _accept: Accepts,
        owner: Option<String>,
    ) -> HttpResponse {
        if self.session_count() >= self.inner.config.max_sessions {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: too many sessions",
            );
        }
        let id = new_session_id();
        let hs = self.inner.new_session(id.clone(), owner, self.now_ms());
        let (tx, mut rx) = mpsc::channel(1);
        let reply: Outbound = Arc::new(tx);
        // `initialize` is answered inline, so the answer is already queued.
        let handled = hs.session.handle(msg, reply);
        let answer = match futures_util::FutureExt::now_or_never(handled) {
            Some(()) => rx.try_recv().ok(),
            None => None,
        };
        let Some(answer) = answer else {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "initialize did not answer",
            );
        };
        if matches!(answer, Message::Error(_)) {
            return json_response(StatusCode::OK, &answer, None);
        }
        if let Some(cluster) = &self.inner.cluster {
            if let Err(refusal) = cluster.created(&id, &hs).await {
                return *refusal;
            }
        }
        write(&self.inner.sessions).insert(id.clone(), hs);
        self.start_sweeper();
        json_response(StatusCode::OK, &answer, Some(&id))
    }

    async fn request(
        &self,
        hs: Arc<HttpSession>,
        era: Era,
        req: InboundRequest,
        accept: Accepts,
        parts: Arc<http::request::Parts>,
    ) -> HttpResponse {
        let pending = Pending::one(req.id.clone());
        let (tx, rx) = reply_queue::<Outgoing>(64);
        let sets_level = req.method == "logging/setLevel";
        let running = hs
            .session
            .start_request(era, req, Arc::new(tx), Some(parts), None)
            .await;
        if let (true, Some(cluster)) = (sets_level, &self.inner.cluster) {
            // Answered inline: the level is set by now.
            cluster.level_changed(&hs).await;
        }
        self.answer(hs, pending, Vec::new(), rx, running, accept, None)
            .await
    }

    /// A JSON-RPC batch, for sessions of revision 2025-03-26 only. Answered
    /// like a single request, with a JSON array of the answers in JSON; a
    /// batch of only notifications and responses gets 202.
    async fn batch(
        &self,
        session_id: Option<&str>,
        version: Option<ProtocolVersion>,
        body: &[u8],
        accept: Accepts,
        parts: &Arc<http::request::Parts>,
    ) -> HttpResponse {
        let items = match decode_batch(body) {
            Ok(Incoming::Batch(items)) => items,
            Ok(Incoming::Single(_)) => unreachable!("the body is an array"),
            Err(e) => return json_response(StatusCode::BAD_REQUEST, &e.into_message(), None),
        };
        let max_items = self.inner.config.max_batch_items;
        if items.len() > max_items {
            let err = Error::invalid_request(format_args!(
                "the batch holds {} messages; at most {max_items} are accepted",
                items.len()
            ));
            return json_response(StatusCode::BAD_REQUEST, &Message::error(None, err), None);
        }
        let initialize = items
            .iter()
            .any(|m| matches!(m, Ok(Message::Request(r)) if r.method == "initialize"));
        if initialize && session_id.is_none() {
            return error_response(
                StatusCode::BAD_REQUEST,
                "Bad Request: \"initialize\" must not be part of a JSON-RPC batch",
            );
        }
        let hs = match self.find_session(session_id, &parts.extensions).await {
            Ok(hs) => hs,
            Err(resp) => return *resp,
        };
        if let Err(resp) = check_negotiated_version(&hs, version) {
            return *resp;
        }
        if let Some(refusal) = hs.session.batch_refusal() {
            return json_response(
                StatusCode::BAD_REQUEST,
                &Message::error(None, refusal),
                None,
            );
        }
        // Answers to requests a handler on another replica sent, and
        // cancellations of requests running elsewhere, go there, as they
        // do when POSTed one at a time.
        let items: Vec<_> = match &self.inner.cluster {
            Some(cluster) => items
                .into_iter()
                .filter(|item| !matches!(item, Ok(msg) if cluster.forward(&hs, msg)))
                .collect(),
            None => items,
        };
        // Room for every answer given inline while the batch is dispatched.
        let (tx, rx) = reply_queue::<Outgoing>(items.len() + 64);
        let standalone = hs.session.standalone().clone();
        let batch = hs
            .session
            .handle_batch(items, Arc::new(tx), standalone, Some(parts.clone()))
            .await;
        if batch.pending.is_done() && batch.immediate.is_empty() {
            return empty_response(StatusCode::ACCEPTED);
        }
        let budget = AnswerBudget::new(self.inner.config.max_batch_answer_bytes);
        self.answer(
            hs,
            batch.pending,
            batch.immediate,
            rx,
            None,
            accept,
            Some(budget),
        )
        .await
    }

    /// Answers a POST whose requests run: with JSON once every answer came
    /// (the answer, or for a batch, which has a `budget`, an array of them),
    /// or with an SSE stream as the mode and the handlers' messages decide.
    /// A `running` request is run here while the answer is awaited, and on a
    /// task of its own once an SSE stream carries its messages.
    #[allow(clippy::too_many_arguments)]
    async fn answer(
        &self,
        hs: Arc<HttpSession>,
        pending: Pending,
        answers: Vec<Message>,
        mut rx: ReplyReceiver<Outgoing>,
        mut running: Option<Running>,
        accept: Accepts,
        mut budget: Option<AnswerBudget>,
    ) -> HttpResponse {
        let array = budget.is_some();
        let mode = self.inner.config.response_mode;
        let mut answers: Answers = answers.into_iter().map(Outgoing::Message).collect();
        if mode == ResponseMode::Sse && accept.sse {
            let mut pending = pending;
            if let Some(running) = running {
                start_here(running);
            }
            // A request that answered at once: its stream is written
            // whole now, without a task to feed it. (A batch's answers are
            // weighed against its budget as they come, by that task.)
            if budget.is_none() {
                while let Some(next) = rx.try_recv() {
                    if let Some(id) = next.answer_id() {
                        pending.take_id(id);
                    }
                    answers.push(next);
                }
            }
            return self.stream_response(hs, pending, rx, answers, budget);
        }
        let json = |answers: Answers| {
            let body = if array {
                // As `encode_batch` writes an array of messages.
                let mut out = Vec::with_capacity(256 * answers.len());
                out.push(b'[');
                for (i, answer) in answers.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    answer.write(&mut out);
                }
                out.push(b']');
                out
            } else {
                answers
                    .into_iter()
                    .next()
                    .map_or_else(Vec::new, Outgoing::into_vec)
            };
            json_bytes_response(StatusCode::OK, body, None)
        };
        let mut waiting = Waiting::new(hs.clone(), pending, self.inner.epoch);
        while !waiting.pending.is_done() {
            let next = match running.as_mut() {
                // Run here, not as a task of its own: most requests answer
                // at once, and a task (allocated, scheduled, its future
                // copied in) cost a tenth of a call. Ended, its answer is
                // in `rx`.
                Some(request) => {
                    let step = tokio::select! {
                        biased;
                        () = request => None,
                        next = rx.recv() => Some(next),
                    };
                    match step {
                        None => {
                            running = None;
                            continue;
                        }
                        Some(next) => next,
                    }
                }
                None => rx.recv().await,
            };
            match next {
                Some(next)
                    if next
                        .answer_id()
                        .is_some_and(|id| waiting.pending.take_id(id)) =>
                {
                    answers.push(AnswerBudget::admit(&mut budget, next));
                    if let Some(spent) = budget.as_ref().filter(|b| b.is_spent()) {
                        let refused = spent.refuse_rest(&hs, &mut waiting.pending);
                        answers.extend(refused.into_iter().map(Outgoing::Message));
                    }
                }
                Some(next) if mode == ResponseMode::Auto && accept.sse => {
                    if let Some(running) = running.take() {
                        tokio::spawn(running);
                    }
                    answers.push(next);
                    return self.stream_response(hs, waiting.hand_over(), rx, answers, budget);
                }
                // A JSON answer has no connection of its own to close.
                Some(Outgoing::CloseStream) => {}
                Some(next) => {
                    // JSON only: what the handler sends on the way goes
                    // to the standalone stream.
                    if let Some(m) = next.into_message() {
                        let _ = hs.session.standalone().send(m).await;
                    }
                }
                // The session closed while its request ran (deleted,
                // expired, or forgotten by the store replicas share): a
                // 404 as for any request of a closed session, so the
                // caller learns it rather than hearing nothing.
                None if answers.is_empty() && hs.session.link().closed().is_cancelled() => {
                    return error_response(
                        StatusCode::NOT_FOUND,
                        "Not Found: no such session (expired or closed)",
                    )
                }
                // Cancelled: there is no response to give.
                None if answers.is_empty() => return empty_response(StatusCode::ACCEPTED),
                None => return json(answers),
            }
        }
        json(answers)
    }

    /// Answers with an SSE stream: first `sent` (messages already received),
    /// then the requests' messages until every answer was sent, the answers
    /// of a batch within its `budget`.
    fn stream_response(
        &self,
        hs: Arc<HttpSession>,
        mut pending: Pending,
        mut rx: ReplyReceiver<Outgoing>,
        sent: Answers,
        mut budget: Option<AnswerBudget>,
    ) -> HttpResponse {
        let config = &self.inner.config;
        let primes = hs
            .session
            .client()
            .is_some_and(|c| c.protocol_version >= ProtocolVersion::V2025_11_25);
        let (stream, conn) = {
            let mut streams = lock(&hs.streams);
            let (stream, conn) = streams.open();
            if primes {
                streams.prime(stream, Some(config.sse_retry));
            }
            for out in sent {
                match out {
                    Outgoing::CloseStream => streams.disconnect(stream, Some(config.sse_retry)),
                    // Answers in `sent` were taken from `pending` already.
                    out => {
                        streams.push_json(stream, out.into_vec(), false);
                    }
                }
            }
            if pending.is_done() {
                streams.end(stream);
            }
            (stream, conn)
        };
        if !pending.is_done() {
            let poll_after = config.sse_poll_after.filter(|_| primes);
            let retry = config.sse_retry;
            let hs = hs.clone();
            tokio::spawn(async move {
                let deadline = poll_after.map(|d| tokio::time::Instant::now() + d);
                loop {
                    let next = match deadline {
                        Some(at) => match tokio::time::timeout_at(at, rx.recv()).await {
                            Ok(m) => m,
                            Err(_) => {
                                lock(&hs.streams).disconnect(stream, Some(retry));
                                rx.recv().await
                            }
                        },
                        None => rx.recv().await,
                    };
                    let m = match next {
                        Some(Outgoing::CloseStream) => {
                            lock(&hs.streams).disconnect(stream, Some(retry));
                            continue;
                        }
                        Some(m) => m,
                        None => {
                            lock(&hs.streams).end(stream);
                            return;
                        }
                    };
                    let is_answer = m.answer_id().is_some_and(|id| pending.take_id(id));
                    let m = if is_answer {
                        AnswerBudget::admit(&mut budget, m)
                    } else {
                        m
                    };
                    let mut rest = match budget.as_ref().filter(|b| is_answer && b.is_spent()) {
                        Some(spent) => spent.refuse_rest(&hs, &mut pending),
                        None => Vec::new(),
                    };
                    let fin = is_answer && pending.is_done() && rest.is_empty();
                    let mut streams = lock(&hs.streams);
                    streams.push_json(stream, m.into_vec(), fin);
                    let last = rest.pop();
                    for m in &rest {
                        streams.push(stream, m, false);
                    }
                    if let Some(m) = last {
                        streams.push(stream, &m, true);
                        return;
                    }
                    if fin {
                        return;
                    }
                }
            });
        }
        sse_response(conn)
    }

    async fn get<B>(&self, req: Request<B>) -> HttpResponse {
        let headers = req.headers();
        if !accepts(headers).sse {
            return error_response(
                StatusCode::NOT_ACCEPTABLE,
                "Not Acceptable: GET needs Accept: text/event-stream",
            );
        }
        let version = match check_protocol_version(headers) {
            Ok(version) => version,
            Err(resp) => return *resp,
        };
        let id = header_str(headers, &SESSION);
        let hs = match self.find_session(id, req.extensions()).await {
            Ok(hs) => hs,
            Err(resp) => return *resp,
        };
        if let Err(resp) = check_negotiated_version(&hs, version) {
            return *resp;
        }
        if let Some(cluster) = &self.inner.cluster {
            let last = header_str(headers, LAST_EVENT_ID);
            if last.is_none_or(cluster::Cluster::is_standalone_event) {
                return match cluster
                    .open_standalone(hs, last, self.inner.config.sse_retry, self.inner.epoch)
                    .await
                {
                    Ok(conn) => sse_response(conn),
                    Err(refusal) => *refusal,
                };
            }
            // A request stream another replica opened: from the store.
            if let Some(last) = last.filter(|last| lock(&hs.streams).is_elsewhere(last)) {
                return match cluster
                    .resume_request_stream(hs, last, self.inner.epoch)
                    .await
                {
                    Ok(conn) => sse_response(conn),
                    Err(refusal) => *refusal,
                };
            }
        }
        let conn = {
            let mut streams = lock(&hs.streams);
            match header_str(headers, LAST_EVENT_ID) {
                Some(last) => match streams.resume(last) {
                    Ok(conn) => conn,
                    Err(ResumeError::Malformed) => {
                        return error_response(
                            StatusCode::BAD_REQUEST,
                            &format!(
                            "Bad Request: Last-Event-ID {last:?} is not an event id of this server"
                        ),
                        )
                    }
                    Err(ResumeError::Gone) => return resumption_gone(last),
                },
                None => {
                    streams.ensure_standalone();
                    // The priming event, as on POST streams (2025-11-25 on).
                    let primes = hs
                        .session
                        .client()
                        .is_some_and(|c| c.protocol_version >= ProtocolVersion::V2025_11_25);
                    streams.attach_standalone(primes.then_some(self.inner.config.sse_retry))
                }
            }
        };
        sse_response(conn)
    }

    async fn delete<B>(&self, req: Request<B>) -> HttpResponse {
        let Some(id) = header_str(req.headers(), &SESSION) else {
            return error_response(
                StatusCode::BAD_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required",
            );
        };
        if let Some(cluster) = &self.inner.cluster {
            return cluster.delete(&self.inner, id, req.extensions()).await;
        }
        let mut sessions = write(&self.inner.sessions);
        let owned = sessions
            .get(id)
            .is_some_and(|hs| hs.owner.is_none() || hs.owner == owner(req.extensions()));
        match owned.then(|| sessions.remove(id)).flatten() {
            Some(hs) => {
                close(&hs);
                empty_response(StatusCode::OK)
            }
            None => error_response(
                StatusCode::NOT_FOUND,
                "Not Found: no such session (expired or closed)",
            ),
        }
    }

    /// The session `id` names, if the caller (the identity in `extensions`)
    /// may use it; with replicas, loaded from the shared store when another
    /// replica opened it.
    async fn find_session(
        &self,
        id: Option<&str>,
        extensions: &http::Extensions,
    ) -> Result<Arc<HttpSession>, Refusal> {
        let local = self.find_local_session(id, extensions);
        let (Some(cluster), Err(_), Some(id)) = (&self.inner.cluster, &local, id) else {
            if let (Some(cluster), Ok(hs)) = (&self.inner.cluster, &local) {
                cluster.touch(&self.inner, hs, self.now_ms());
            }
            return local;
        };
        if self.session_count() >= self.inner.config.max_sessions {
            return Err(Box::new(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: too many sessions",
            )));
        }
        let record = cluster.load(id, extensions).await?;
        let hs = self
            .inner
            .new_session(Arc::from(id), record.owner, self.now_ms());
        hs.session.restore(record.client, record.log_level);
        *lock(&hs.subscriptions) = record.subscriptions;
        let hs = write(&self.inner.sessions)
            .entry(hs.id.clone())
            .or_insert(hs)
            .clone();
        self.start_sweeper();
        Ok(hs)
    }

    /// The session `id` names in this process, if the caller may use it.
    fn find_local_session(
        &self,
        id: Option<&str>,
        extensions: &http::Extensions,
    ) -> Result<Arc<HttpSession>, Refusal> {
        let Some(id) = id else {
            return Err(Box::new(error_response(
                StatusCode::BAD_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required (send initialize first)",
            )));
        };
        let sessions = self
            .inner
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let caller = || owner(extensions);
        match sessions
            .get(id)
            .filter(|hs| hs.owner.is_none() || hs.owner == caller())
        {
            Some(hs) => {
                hs.last_seen.store(self.now_ms(), Ordering::Relaxed);
                Ok(hs.clone())
            }
            None => Err(Box::new(error_response(
                StatusCode::NOT_FOUND,
                "Not Found: no such session (expired or closed)",
            ))),
        }
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    /// Starts the task that closes idle sessions, once.
    fn start_sweeper(&self) {
        if self.inner.sweeper.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let idle = self.inner.config.session_idle_timeout;
        let notice = self
            .inner
            .config
            .session_expiry_notice
            .filter(|n| *n < idle);
        let period = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let now = inner.epoch.elapsed().as_millis() as u64;
                let limit = idle.as_millis() as u64;
                let expired: Vec<Arc<HttpSession>> = {
                    let mut sessions = write(&inner.sessions);
                    let ids: Vec<Arc<str>> = sessions
                        .iter()
                        .filter(|(_, hs)| {
                            now.saturating_sub(hs.last_seen.load(Ordering::Relaxed)) > limit
                                && is_unused(hs)
                                // With replicas, a copy whose tasks run
                                // here stays while the session is used
                                // elsewhere (its tasks end with their ttl).
                                && (inner.cluster.is_none() || !hs.session.tasks.running())
                        })
                        .map(|(id, _)| id.clone())
                        .collect();
                    ids.iter().filter_map(|id| sessions.remove(id)).collect()
                };
                for hs in expired {
                    tracing::debug!("closing an idle session");
                    close(&hs);
                }
                // With replicas, a copy idle here may be in use elsewhere.
                if let Some(notice) = notice.filter(|_| inner.cluster.is_none()) {
                    warn_idle_sessions(&inner, now, limit - notice.as_millis() as u64, notice);
                }
            }
        });
    }
}

/// Whether nothing holds `hs` open: no client waits on a POST's answer
/// and none of its streams is connected. Only such a session can be idle.
fn is_unused(hs: &HttpSession) -> bool {
    hs.waiting.load(Ordering::Acquire) == 0 && !lock(&hs.streams).has_connections()
}

/// Warns the sessions idle for longer than `after` ms, once per idle spell,
/// that they will be closed in `notice`. A session in use (a request
/// answering, a stream open) is not idle, however long ago it was last
/// stamped, and is not closed: it is not warned either.
fn warn_idle_sessions(inner: &Inner, now: u64, after: u64, notice: Duration) {
    let sessions = inner.sessions.read().unwrap_or_else(|e| e.into_inner());
    for hs in sessions.values() {
        let seen = hs.last_seen.load(Ordering::Relaxed);
        if now.saturating_sub(seen) <= after
            || !is_unused(hs)
            || hs.warned_at.swap(seen, Ordering::AcqRel) == seen
        {
            continue;
        }
        let peer = hs.session.peer();
        let message = serde_json::json!({
            "message": format!(
                "this session has been idle and will be closed in {}s unless it is used",
                notice.as_secs()
            ),
        });
        tokio::spawn(async move {
            let _ = peer
                .log(mcp_sdk::LoggingLevel::Warning, Some("session"), message)
                .await;
        });
    }
}

/// The running bound on the answers to one batch: once the answers given
/// add up to the limit, each further answer is replaced by an error, so a
/// small batch cannot make a huge answer. The requests still running then
/// are cancelled and those still waiting never start: their answers would
/// only be thrown away, after taking up memory.
struct AnswerBudget {
    limit: usize,
    left: usize,
}

impl AnswerBudget {
    fn new(limit: usize) -> Self {
        AnswerBudget { limit, left: limit }
    }

    /// `answer` if it fits in what is left of `budget` (or there is no
    /// budget), else an error with its id. An answer weighed is kept as
    /// the text it was weighed as, written once.
    fn admit(budget: &mut Option<AnswerBudget>, answer: Outgoing) -> Outgoing {
        let Some(budget) = budget else {
            return answer;
        };
        let id = match &answer {
            Outgoing::Message(Message::Error(e)) => e.id.clone(),
            other => match other.answer_id() {
                Some(id) => Some(id.clone()),
                None => return answer,
            },
        };
        let json = answer.into_vec();
        if json.len() <= budget.left {
            budget.left -= json.len();
            return Outgoing::Written { id, json };
        }
        // Whatever follows gets the error too, however small.
        budget.left = 0;
        Outgoing::Message(budget.refusal(id))
    }

    /// Whether no further answer fits (every answer has some bytes).
    fn is_spent(&self) -> bool {
        self.left == 0
    }

    /// The error that replaces the answer to request `id`.
    fn refusal(&self, id: Option<RequestId>) -> Message {
        let err = Error::internal(format_args!(
            "the answers to this batch exceed {} bytes; send this request on its own",
            self.limit
        ));
        Message::error(id, err)
    }

    /// Once the budget is spent: cancels the requests of `pending` (those
    /// running stop, those waiting for a turn never start) and answers
    /// each with the error at once, so `pending` is done.
    fn refuse_rest(&self, hs: &HttpSession, pending: &mut Pending) -> Vec<Message> {
        let ids = pending.take_all();
        for id in &ids {
            hs.session.cancel(id);
        }
        ids.into_iter().map(|id| self.refusal(Some(id))).collect()
    }
}

/// Who the request's identity is, on a protected server (else `None`):
/// the owner of what the request opens.
#[cfg(feature = "auth")]
fn owner(extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<crate::auth::Identity>()
        .and_then(crate::auth::Identity::principal)
}

/// Without the `auth` feature nobody owns anything.
#[cfg(not(feature = "auth"))]
fn owner(_: &http::Extensions) -> Option<String> {
    None
}

fn close(hs: &HttpSession) {
    hs.session.close();
    lock(&hs.streams).close_all();
}

struct ActiveGuard<'a>(&'a Inner);

impl<'a> ActiveGuard<'a> {
    fn new(inner: &'a Inner) -> Self {
        inner.active.fetch_add(1, Ordering::AcqRel);
        ActiveGuard(inner)
    }
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn header_str(headers: &http::HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The version a supported `MCP-Protocol-Version` header names, or none
/// without one (then 2025-03-26 is assumed, as the spec says); anything
/// else is 400.
fn check_protocol_version(headers: &http::HeaderMap) -> Result<Option<ProtocolVersion>, Refusal> {
    let Some(value) = headers.get(&PROTOCOL_VERSION) else {
        return Ok(None);
    };
    match value.to_str().ok().map(str::parse::<ProtocolVersion>) {
        Some(Ok(version)) => Ok(Some(version)),
        _ => Err(Box::new(error_response(
            StatusCode::BAD_REQUEST,
            &format!(
                "Bad Request: unsupported MCP-Protocol-Version {:?} (supported: {})",
                String::from_utf8_lossy(value.as_bytes()),
                ProtocolVersion::ALL.map(|v| v.as_str()).join(", ")
            ),
        ))),
    }
}

/// In a session of revision 2025-06-18 or later (where clients must send
/// `MCP-Protocol-Version`), a header (`header`, as
/// [`check_protocol_version`] read it) that names another version than the
/// one negotiated is 400, as the spec says for an invalid version. Without
/// the header the negotiated version holds; revision 2025-03-26 has no
/// such header, so its sessions are not checked.
fn check_negotiated_version(
    hs: &HttpSession,
    header: Option<ProtocolVersion>,
) -> Result<(), Refusal> {
    let Some(header) = header else {
        return Ok(());
    };
    let Some(negotiated) = hs.session.client().map(|c| c.protocol_version) else {
        return Ok(());
    };
    if negotiated < ProtocolVersion::V2025_06_18 || header == negotiated {
        return Ok(());
    }
    Err(Box::new(error_response(
        StatusCode::BAD_REQUEST,
        &format!(
            "Bad Request: MCP-Protocol-Version {:?} is not the version this session negotiated ({})",
            header.as_str(),
            negotiated.as_str()
        ),
    )))
}

/// 32 hex digits from the operating system's CSPRNG (UUID v4 draws its 122
/// random bits from `getrandom`).
fn new_session_id() -> Arc<str> {
    Arc::from(uuid::Uuid::new_v4().simple().to_string())
}

/// The answer to a `Last-Event-ID` whose following events are no longer
/// all kept: 410 Gone, not 404, which the spec keeps for a session that
/// is gone (the client must then start a new one). Here the session lives
/// on: the client may open the standalone stream afresh, without
/// `Last-Event-ID`, knowing that it missed some messages. Nothing is
/// replayed with a gap, which the client could not tell from a whole
/// replay.
pub(crate) fn resumption_gone(last_event_id: &str) -> HttpResponse {
    error_response(
        StatusCode::GONE,
        &format!(
            "Gone: the events after {last_event_id:?} are no longer kept, so the stream cannot \
             be resumed; the session is still open (a GET without Last-Event-ID opens its \
             standalone stream afresh)"
        ),
    )
}

fn too_large(limit: usize) -> HttpResponse {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("Payload Too Large: the body may be at most {limit} bytes"),
    )
}

/// An HTTP-level refusal, with a JSON-RPC error body a person can read.
fn error_response(status: StatusCode, message: &str) -> HttpResponse {
    let code = match status {
        StatusCode::BAD_REQUEST => ErrorCode::INVALID_REQUEST,
        _ => ErrorCode::CONNECTION_CLOSED,
    };
    let msg = Message::error(None, Error::new(code, message));
    json_response(status, &msg, None)
}

fn json_response(status: StatusCode, msg: &Message, session: Option<&str>) -> HttpResponse {
    json_bytes_response(status, msg.to_vec(), session)
}

fn json_bytes_response(status: StatusCode, body: Vec<u8>, session: Option<&str>) -> HttpResponse {
    let mut resp = Response::new(McpBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(id) = session.and_then(|s| HeaderValue::from_str(s).ok()) {
        resp.headers_mut().insert(SESSION.clone(), id);
    }
    resp
}

fn sse_response(conn: mpsc::Receiver<Bytes>) -> HttpResponse {
    let mut resp = Response::new(McpBody::stream(conn));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn empty_response(status: StatusCode) -> HttpResponse {
    let mut resp = Response::new(McpBody::empty());
    *resp.status_mut() = status;
    resp
}

/// What [`StreamableHttpService`] answers with, as a hyper or tower service.
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<HttpResponse, std::convert::Infallible>> + Send>>;

impl<B> hyper::service::Service<Request<B>> for StreamableHttpService
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

/// The service as a [`tower_service::Service`], so that an axum app mounts
/// it with `Router::nest_service("/mcp", service)` (behind the app's own
/// layers), or a tower stack wraps it. It is always ready; after
/// [`shutdown`](StreamableHttpService::shutdown) it answers 503.
impl<B> tower_service::Service<Request<B>> for StreamableHttpService
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}
