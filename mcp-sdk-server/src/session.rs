//! One client's session: the lifecycle (`initialize`, `initialized`, `ping`),
//! dispatch of requests to the [`Server`], cancellation, logging level, and
//! the bookkeeping of requests the server sends to the client.
//!
//! A session knows nothing of its transport: messages come in through
//! [`Session::handle`] together with the [`Outbound`] where everything caused
//! by that message goes (the response, its progress, server-to-client
//! requests made while handling it).

use crate::context::RequestContext;
use crate::extensions::SessionExtensions;
use crate::peer::Peer;
use crate::server::Server;
use crate::sink::Outbound;
use crate::stateless::{self, input::InputRound, Notifier, RequestStateKey};
use crate::tasks::{self, TaskConfig, Tasks};
pub(crate) use crate::util::lock;
pub(crate) use crate::util::{parse, progress_token, to_value};
use futures_util::FutureExt;
use mcp_sdk::jsonrpc::{DecodeError, ErrorResponse, Notification, Request, Response};
use mcp_sdk::{
    CacheScope, CancelledNotificationParams, ClientCapabilities, Error, Implementation,
    InitializeParams, InitializeResult, LoggingLevel, Message, ProtocolVersion, RequestId,
    ServerCapabilities, SetLevelParams,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

/// Limits and timeouts of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How many requests of one session may run at once; more wait their turn.
    pub max_concurrent_requests: usize,
    /// How long a server-to-client request (sampling, roots, elicitation) may
    /// wait for the client's answer.
    pub peer_request_timeout: Duration,
    /// The revisions this server speaks: the session-era ones among them
    /// in `initialize`, the stateless ones (2026-07-28) per request. All of
    /// them by default.
    pub protocol_versions: Vec<ProtocolVersion>,
    /// Seals the `requestState` of multi round-trip requests (2026-07-28).
    /// Instances behind one load balancer need the same key; by default each
    /// process draws a random one.
    pub request_state_key: RequestStateKey,
    /// How long a `requestState` stays valid (default 10 minutes): the time a
    /// client has to answer the server's input requests.
    pub request_state_ttl: Duration,
    /// The `ttlMs` caching hint on list results, `resources/read` and
    /// `server/discover` when the handler gives none (default 0: re-fetch
    /// each time; list-changed notifications are the way to learn of changes).
    pub cache_ttl: Duration,
    /// The `cacheScope` caching hint when the handler gives none (default
    /// `private`: results may depend on who asks).
    pub cache_scope: CacheScope,
    /// Limits on each session's tasks (2025-11-25), for tools that may run
    /// as tasks.
    pub tasks: TaskConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_concurrent_requests: 64,
            peer_request_timeout: Duration::from_secs(300),
            protocol_versions: ProtocolVersion::ALL.to_vec(),
            request_state_key: RequestStateKey::random(),
            request_state_ttl: Duration::from_secs(600),
            cache_ttl: Duration::ZERO,
            cache_scope: CacheScope::Private,
            tasks: TaskConfig::default(),
        }
    }
}

/// What every session of one server shares: the server and what it offers,
/// computed once (the capabilities again when the server's [`Notifier`]
/// says they changed).
pub(crate) struct ServerShared {
    pub server: Arc<dyn Server>,
    capabilities: std::sync::RwLock<Arc<ServerCapabilities>>,
    pub info: Implementation,
    /// `info` as JSON, for the `serverInfo` of every stateless result.
    pub info_value: Value,
    pub instructions: Option<String>,
    pub config: SessionConfig,
    /// Feeds the `subscriptions/listen` streams of stateless clients.
    pub notifier: Notifier,
    /// The tasks of stateless requests (2026-07-28 tasks extension).
    pub extension_tasks: stateless::tasks::ExtensionTasks,
}

impl ServerShared {
    pub fn new(server: Arc<dyn Server>, config: SessionConfig) -> Arc<Self> {
        Arc::new(ServerShared {
            capabilities: std::sync::RwLock::new(Arc::new(server.capabilities())),
            info: server.info(),
            info_value: serde_json::to_value(server.info()).unwrap_or_default(),
            instructions: server.instructions(),
            notifier: server.notifier().unwrap_or_default(),
            extension_tasks: Default::default(),
            server,
            config,
        })
    }

    /// What the server offers now: read again from [`Server::capabilities`]
    /// after [`Notifier::capabilities_changed`], else as last read.
    pub fn capabilities(&self) -> Arc<ServerCapabilities> {
        if self.notifier.take_capabilities_changed() {
            let fresh = Arc::new(self.server.capabilities());
            *self.capabilities.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
            return fresh;
        }
        self.capabilities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What the client told us in `initialize`.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The revision both sides speak.
    pub protocol_version: ProtocolVersion,
    /// What the client can do (sampling, roots, elicitation...).
    pub capabilities: ClientCapabilities,
    /// The client's name and version.
    pub implementation: Implementation,
}

/// The head of the HTTP request a message came in, if it did.
pub(crate) type Http = Option<Arc<http::request::Parts>>;

type PendingMap = HashMap<RequestId, oneshot::Sender<Result<Value, Error>>>;

/// One client's session.
pub(crate) struct Session {
    pub(crate) shared: Arc<ServerShared>,
    client: OnceLock<ClientInfo>,
    initialized: AtomicBool,
    /// Minimum level of `notifications/message` to send, as a [`LoggingLevel`] index.
    log_level: AtomicU8,
    in_flight: Mutex<HashMap<RequestId, CancellationToken>>,
    pending: Mutex<PendingMap>,
    next_id: AtomicI64,
    permits: Semaphore,
    /// Wakes [`Session::drain`] when the last running request finishes.
    idle: tokio::sync::Notify,
    /// Where messages unrelated to any client request go.
    pub(crate) standalone: Outbound,
    closed: CancellationToken,
    /// Whether [`Server::on_session_closed`] was called.
    close_told: AtomicBool,
    /// For a stateless request (2026-07-28): its answers from the client,
    /// and what it asks for. Requests to the client go through it.
    pub(crate) input: Option<Arc<InputRound>>,
    /// The session's tasks (2025-11-25).
    pub(crate) tasks: Tasks,
    /// What the server keeps for this session, by type.
    pub(crate) extensions: SessionExtensions,
    /// A session of a context built for a test: no client is there to ask.
    pub(crate) detached: bool,
}

impl Session {
    pub fn new(shared: Arc<ServerShared>, standalone: Outbound) -> Arc<Self> {
        let permits = Semaphore::new(shared.config.max_concurrent_requests.max(1));
        Arc::new(Session {
            shared,
            client: OnceLock::new(),
            initialized: AtomicBool::new(false),
            log_level: AtomicU8::new(LoggingLevel::Debug as u8),
            in_flight: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(0),
            permits,
            idle: tokio::sync::Notify::new(),
            standalone,
            closed: CancellationToken::new(),
            close_told: AtomicBool::new(false),
            input: None,
            tasks: Tasks::default(),
            extensions: SessionExtensions::default(),
            detached: false,
        })
    }

    /// The session behind a [`RequestContext`] built for a test: `client`
    /// as given, its messages to `out`, no client to answer requests.
    pub(crate) fn detached(
        client: Option<ClientInfo>,
        extensions: SessionExtensions,
        out: Outbound,
    ) -> Arc<Self> {
        struct Detached;
        impl Server for Detached {
            fn capabilities(&self) -> ServerCapabilities {
                ServerCapabilities {
                    logging: Some(Default::default()),
                    ..Default::default()
                }
            }
        }
        let shared = ServerShared::new(Arc::new(Detached), SessionConfig::default());
        let mut session = Session::new(shared, out);
        let session_mut = Arc::get_mut(&mut session).expect("a new session is not shared");
        if let Some(client) = client {
            let _ = session_mut.client.set(client);
        }
        session_mut.extensions = extensions;
        session_mut.detached = true;
        session
    }

    /// The session-like context of one stateless request: the client as its
    /// `_meta` describes it, log messages only at the level it asked for
    /// (none if it asked for none), requests to the client through `input`.
    pub(crate) fn stateless(
        shared: Arc<ServerShared>,
        client: ClientInfo,
        log_level: Option<LoggingLevel>,
        route: Outbound,
        input: Arc<InputRound>,
    ) -> Arc<Self> {
        let session = Session {
            permits: Semaphore::new(1),
            log_level: AtomicU8::new(log_level.map_or(u8::MAX, |l| l as u8)),
            client: OnceLock::from(client),
            input: Some(input),
            initialized: AtomicBool::new(true),
            in_flight: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(0),
            idle: tokio::sync::Notify::new(),
            standalone: route,
            closed: CancellationToken::new(),
            close_told: AtomicBool::new(true),
            tasks: Tasks::default(),
            extensions: SessionExtensions::default(),
            detached: false,
            shared,
        };
        Arc::new(session)
    }

    /// The client's side of the handshake, once `initialize` succeeded.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.client.get()
    }

    /// Whether `initialize` has been answered.
    pub fn is_initialized(&self) -> bool {
        self.client.get().is_some()
    }

    /// A peer whose messages go to the standalone destination.
    pub fn peer(self: &Arc<Self>) -> Peer {
        Peer::new(self.clone(), self.standalone.clone())
    }

    /// Ends the session: running requests are cancelled, waiting
    /// server-to-client requests fail.
    pub fn close(self: &Arc<Self>) {
        // Told to the server once, for sessions that began (not for the
        // per-request contexts of stateless requests).
        let first = !self.close_told.swap(true, Ordering::AcqRel);
        self.closed.cancel();
        self.tasks.close();
        for (_, token) in lock(&self.in_flight).drain() {
            token.cancel();
        }
        for (_, tx) in lock(&self.pending).drain() {
            let _ = tx.send(Err(Error::new(
                mcp_sdk::ErrorCode::CONNECTION_CLOSED,
                "the session was closed",
            )));
        }
        if first && self.input.is_none() && self.is_initialized() {
            let server = self.shared.server.clone();
            let peer = self.peer();
            run_callback(async move { server.on_session_closed(peer).await });
        }
    }

    /// Waits until no request is running, or `timeout` passes.
    pub async fn drain(&self, timeout: Duration) {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if lock(&self.in_flight).is_empty() {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    pub(crate) fn min_log_level(&self) -> u8 {
        self.log_level.load(Ordering::Relaxed)
    }

    /// Takes one incoming message. Requests run on their own task (their
    /// response and everything they cause go to `reply`); notifications and
    /// responses are handled before this returns.
    pub async fn handle(self: &Arc<Self>, msg: Message, reply: Outbound) {
        self.handle_from(msg, reply, None).await
    }

    /// [`handle`](Self::handle) for a message that came in the HTTP request
    /// `http`, which its handler may read.
    pub async fn handle_from(self: &Arc<Self>, msg: Message, reply: Outbound, http: Http) {
        match msg {
            Message::Request(req) => self.handle_request(req, reply, http).await,
            Message::Notification(n) => self.handle_notification(n, reply).await,
            Message::Response(Response { id, result }) => self.resolve(id, Ok(result)),
            Message::Error(ErrorResponse {
                id: Some(id),
                error,
            }) => self.resolve(id, Err(error)),
            Message::Error(ErrorResponse { id: None, error }) => {
                tracing::warn!(%error, "the client reported an error without an id");
            }
        }
    }

    /// Why this session refuses a JSON-RPC batch, if it does: only
    /// revision 2025-03-26 has batches (2025-06-18 removed them), and a
    /// batch before `initialize` has no revision yet.
    pub fn batch_refusal(&self) -> Option<Error> {
        match self.client().map(|c| c.protocol_version) {
            Some(ProtocolVersion::V2025_03_26) => None,
            Some(v) => Some(Error::invalid_request(format_args!(
                "JSON-RPC batches are not supported in protocol revision {v} \
                 (only 2025-03-26 has them); send one message at a time"
            ))),
            None => Some(Error::invalid_request(
                "JSON-RPC batches are not supported before initialization: \
                 \"initialize\" must be sent on its own, and only protocol revision 2025-03-26 has batches",
            )),
        }
    }

    /// Takes the messages of a batch in order, as [`handle`](Self::handle)
    /// takes single ones: requests start (their answers and everything
    /// they cause go to `reply`), notifications and responses are handled
    /// with `elsewhere` as their destination. Elements that did not decode,
    /// and `initialize` (which must not be part of a batch), are answered at
    /// once in [`Batch::immediate`].
    pub async fn handle_batch(
        self: &Arc<Self>,
        items: Vec<Result<Message, DecodeError>>,
        reply: Outbound,
        elsewhere: Outbound,
        http: Http,
    ) -> Batch {
        let mut batch = Batch {
            pending: Pending::default(),
            immediate: Vec::new(),
        };
        for item in items {
            match item {
                Err(e) => batch.immediate.push(e.into_message()),
                Ok(Message::Request(req)) if req.method == "initialize" => {
                    batch.immediate.push(Message::error(
                        Some(req.id),
                        Error::invalid_request(
                            "\"initialize\" must not be part of a JSON-RPC batch",
                        ),
                    ));
                }
                Ok(Message::Request(req)) => {
                    batch.pending.ids.push(req.id.clone());
                    self.handle_request(req, reply.clone(), http.clone()).await;
                }
                Ok(other) => self.handle(other, elsewhere.clone()).await,
            }
        }
        batch
    }

    async fn handle_request(self: &Arc<Self>, req: Request, reply: Outbound, http: Http) {
        // A request of the stateless era needs no handshake: it is served on
        // its own, beside whatever session-era traffic this connection has.
        let stateless = stateless::is_stateless(&req);
        // The handshake and ping are answered inline: they are cheap, and
        // `initialize` must be settled before anything else runs.
        let mut req = req;
        let answer = match req.method.as_str() {
            _ if stateless => None,
            "initialize" => Some(self.initialize(req.params.take())),
            "ping" => Some(Ok(Value::Object(Default::default()))),
            _ if !self.is_initialized() => Some(Err(Error::invalid_request(
                "the session is not initialized: send \"initialize\" first",
            ))),
            "logging/setLevel" => Some(self.set_level(req.params.take())),
            _ => None,
        };
        if let Some(answer) = answer {
            let _ = reply.send(response(req.id, answer)).await;
            return;
        }

        // A token of its own, not a child of `closed`: children share their
        // parent's lock, which every request would then take twice.
        // `close` cancels what is in `in_flight`, and one registered after
        // `close` emptied it sees `closed` already set.
        let token = CancellationToken::new();
        let duplicate = {
            let mut in_flight = lock(&self.in_flight);
            let duplicate = in_flight.contains_key(&req.id);
            if !duplicate {
                in_flight.insert(req.id.clone(), token.clone());
                if self.closed.is_cancelled() {
                    token.cancel();
                }
            }
            duplicate
        };
        if duplicate {
            let err = Error::invalid_request(format_args!(
                "request id {} is already in use by a running request",
                req.id
            ));
            let _ = reply.send(Message::error(Some(req.id), err)).await;
            return;
        }
        let session = self.clone();
        tokio::spawn(async move {
            let id = req.id.clone();
            let outcome = {
                let _permit = tokio::select! {
                    biased;
                    _ = token.cancelled() => None,
                    p = session.permits.acquire() => p.ok(),
                };
                if token.is_cancelled() {
                    None
                } else {
                    let work = async {
                        if stateless {
                            let shared = &session.shared;
                            // Boxed: its state is large, and a session's
                            // requests should not carry it in their tasks.
                            let serve =
                                stateless::serve(shared, req, reply.clone(), token.clone(), http);
                            return Box::pin(serve).await;
                        }
                        let progress = progress_token(req.params.as_ref());
                        match req.method.as_str() {
                            "tools/call" => {
                                match tasks::task_for_call(&session, req.params.as_ref()) {
                                    Err(e) => return Err(e),
                                    Ok(Some(ttl)) => {
                                        return session.start_task(req.params, ttl, progress, http)
                                    }
                                    Ok(None) => {}
                                }
                            }
                            m if m.starts_with("tasks/") => {
                                return session.task_request(m, req.params, &reply, &token).await
                            }
                            _ => {}
                        }
                        let ctx = RequestContext::new(
                            id.clone(),
                            progress,
                            token.clone(),
                            Peer::new(session.clone(), reply.clone()),
                        )
                        .with_http(http);
                        dispatch(&session.shared, req.method, req.params, ctx).await
                    };
                    run_guarded(work, &token, &id).await
                }
            };
            let now_idle = {
                let mut in_flight = lock(&session.in_flight);
                in_flight.remove(&id);
                in_flight.is_empty()
            };
            // A cancelled request gets no response, as the spec says.
            if let Some(answer) = outcome {
                let _ = reply.send(response(id, answer)).await;
            }
            if now_idle {
                session.idle.notify_waiters();
            }
        });
    }

    /// Notifications from the client. The server's callbacks go on in tasks
    /// of their own once they wait ([`run_callback`]), so that one may await
    /// a request to the client (say, `roots/list` when the roots changed)
    /// while the session goes on reading: inline, over stdio, that answer
    /// could never be read.
    async fn handle_notification(self: &Arc<Self>, n: Notification, reply: Outbound) {
        let server = self.shared.server.clone();
        match n.method.as_str() {
            "notifications/initialized" => {
                if !self.initialized.swap(true, Ordering::AcqRel) {
                    let peer = self.peer();
                    run_callback(async move { server.on_initialized(peer).await });
                }
            }
            "notifications/cancelled" => match parse::<CancelledNotificationParams>(n.params) {
                Ok(p) => {
                    if let Some(token) = lock(&self.in_flight).get(&p.request_id) {
                        tracing::debug!(id = %p.request_id, reason = ?p.reason, "request cancelled by the client");
                        token.cancel();
                    }
                }
                Err(e) => tracing::debug!(%e, "ignoring a malformed cancellation"),
            },
            "notifications/roots/list_changed" => {
                let peer = self.peer();
                run_callback(async move { server.on_roots_list_changed(peer).await });
            }
            // Progress for our own requests to the client: nothing waits on it yet.
            "notifications/progress" => {}
            method => {
                let peer = Peer::new(self.clone(), reply);
                let method = method.to_owned();
                run_callback(async move { server.on_notification(&method, n.params, peer).await });
            }
        }
    }

    fn initialize(&self, params: Option<Value>) -> Result<Value, Error> {
        let params: InitializeParams = parse(params)?;
        let session_era: Vec<ProtocolVersion> = (self.shared.config.protocol_versions.iter())
            .copied()
            .filter(|v| v.is_session_era())
            .collect();
        if session_era.is_empty() {
            return Err(Error::invalid_request(format_args!(
                "this server speaks only protocol revision(s) {}, which have no initialize: \
                 send each request with its protocol version in params._meta",
                stateless::supported_versions(&self.shared).join(", ")
            )));
        }
        let version = ProtocolVersion::negotiate(&params.protocol_version, &session_era);
        let info = ClientInfo {
            protocol_version: version,
            capabilities: params.capabilities,
            implementation: params.client_info,
        };
        if self.client.set(info).is_err() {
            return Err(Error::invalid_request(
                "the session is already initialized; \"initialize\" may be sent only once",
            ));
        }
        let shared = &self.shared;
        let mut capabilities = (*shared.capabilities()).clone();
        if version < ProtocolVersion::V2025_11_25 {
            // Tasks came with 2025-11-25: older clients do not know them.
            capabilities.tasks = None;
        }
        to_value(InitializeResult {
            protocol_version: version.as_str().to_owned(),
            capabilities,
            server_info: shared.info.clone(),
            instructions: shared.instructions.clone(),
            ..Default::default()
        })
    }

    fn set_level(&self, params: Option<Value>) -> Result<Value, Error> {
        if self.shared.capabilities().logging.is_none() {
            return Err(Error::method_not_found("logging/setLevel"));
        }
        let p: SetLevelParams = parse(params)?;
        self.log_level.store(p.level as u8, Ordering::Relaxed);
        Ok(Value::Object(Default::default()))
    }

    /// The id for our next request to the client; our ids are numbers, so
    /// they never collide with the client's own.
    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn register_pending(
        &self,
        id: RequestId,
    ) -> oneshot::Receiver<Result<Value, Error>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        rx
    }

    pub(crate) fn forget_pending(&self, id: &RequestId) {
        lock(&self.pending).remove(id);
    }

    fn resolve(&self, id: RequestId, answer: Result<Value, Error>) {
        match lock(&self.pending).remove(&id) {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None => tracing::debug!(%id, "a response for no request we are waiting on"),
        }
    }
}

/// Runs a notification callback: at once up to its first wait, so that
/// what it does without waiting (forgetting a cache, say) happens before the
/// next message is read, and in a task of its own from there, so that it may
/// wait for the client without stopping the session from reading.
fn run_callback(callback: impl Future<Output = ()> + Send + 'static) {
    let mut callback = Box::pin(callback);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if callback.as_mut().poll(&mut cx).is_pending() {
        // The task polls it again at once, with a waker that works.
        tokio::spawn(callback);
    }
}

/// Runs a request's work until it answers or `token` cancels it (then
/// `None`: a cancelled request gets no response). A panicking handler must
/// not leave its client waiting: it becomes -32603.
pub(crate) async fn run_guarded(
    work: impl Future<Output = Result<Value, Error>>,
    token: &CancellationToken,
    id: &RequestId,
) -> Option<Result<Value, Error>> {
    let work = AssertUnwindSafe(work).catch_unwind();
    tokio::select! {
        biased;
        _ = token.cancelled() => None,
        answer = work => Some(answer.unwrap_or_else(|_| {
            tracing::error!(%id, "a request handler panicked");
            Err(Error::internal("the handler failed unexpectedly"))
        })),
    }
}

/// A batch once its messages were handed to the session.
pub(crate) struct Batch {
    /// The answers still to come, one per request.
    pub pending: Pending,
    /// Answers known at once: errors for elements that were not valid.
    pub immediate: Vec<Message>,
}

/// The requests whose answers a response still waits for (a batch may
/// repeat an id: then each occurrence waits for an answer of its own).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    ids: Vec<RequestId>,
}

impl Pending {
    /// Waiting for the answer to one request.
    pub fn one(id: RequestId) -> Pending {
        Pending { ids: vec![id] }
    }

    /// Whether `msg` is one of the awaited answers; if so it no longer is.
    pub fn take(&mut self, msg: &Message) -> bool {
        let id = match msg {
            Message::Response(r) => &r.id,
            Message::Error(ErrorResponse { id: Some(id), .. }) => id,
            _ => return false,
        };
        match self.ids.iter().position(|p| p == id) {
            Some(i) => {
                self.ids.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Whether every answer came.
    pub fn is_done(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Routes one request to the server, refusing what is not advertised.
pub(crate) async fn dispatch(
    shared: &ServerShared,
    method: String,
    params: Option<Value>,
    ctx: RequestContext,
) -> Result<Value, Error> {
    let s = &*shared.server;
    let caps = shared.capabilities();
    let tools = caps.tools.is_some();
    let resources = caps.resources.is_some();
    let subscribe = caps
        .resources
        .as_ref()
        .is_some_and(|r| r.subscribe == Some(true));
    let prompts = caps.prompts.is_some();
    let completions = caps.completions.is_some();
    match method.as_str() {
        "tools/list" if tools => call(params, |p| s.list_tools(p, ctx)).await,
        "tools/call" if tools => call(params, |p| s.call_tool(p, ctx)).await,
        "resources/list" if resources => call(params, |p| s.list_resources(p, ctx)).await,
        "resources/templates/list" if resources => {
            call(params, |p| s.list_resource_templates(p, ctx)).await
        }
        "resources/read" if resources => call(params, |p| s.read_resource(p, ctx)).await,
        "resources/subscribe" if subscribe => call(params, |p| empty(s.subscribe(p, ctx))).await,
        "resources/unsubscribe" if subscribe => {
            call(params, |p| empty(s.unsubscribe(p, ctx))).await
        }
        "prompts/list" if prompts => call(params, |p| s.list_prompts(p, ctx)).await,
        "prompts/get" if prompts => call(params, |p| s.get_prompt(p, ctx)).await,
        "completion/complete" if completions => call(params, |p| s.complete(p, ctx)).await,
        m if is_mcp_method(m) => Err(Error::method_not_found(m)),
        m => s.custom_request(m, params, ctx).await,
    }
}

/// Methods MCP defines: these never reach [`Server::custom_request`].
fn is_mcp_method(m: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "tools/",
        "resources/",
        "prompts/",
        "completion/",
        "logging/",
        "sampling/",
        "roots/",
        "elicitation/",
        "tasks/",
    ];
    PREFIXES.iter().any(|p| m.starts_with(p)) || m == "initialize" || m == "ping"
}

async fn call<P, R, F, Fut>(params: Option<Value>, handler: F) -> Result<Value, Error>
where
    P: DeserializeOwned,
    R: Serialize,
    F: FnOnce(P) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
{
    let params = parse(params)?;
    to_value(handler(params).await?)
}

async fn empty(f: impl Future<Output = Result<(), Error>>) -> Result<Value, Error> {
    f.await.map(|()| Value::Object(Default::default()))
}

fn response(id: RequestId, answer: Result<Value, Error>) -> Message {
    match answer {
        Ok(result) => Message::response(id, result),
        Err(error) => Message::error(Some(id), error),
    }
}
