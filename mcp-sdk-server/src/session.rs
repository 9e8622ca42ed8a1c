//! One client's session (the session era): the lifecycle (`initialize`,
//! `initialized`, `ping`, `logging/setLevel`), its running requests (their
//! concurrency, cancellation and drain), batches, and the notifications
//! the client sends. Requests go to [`dispatch`](crate::dispatch), tasks to
//! [`Tasks`], and a stateless request that arrives on the connection to
//! [`stateless`]. What a [`Peer`] needs of the session (the client, its log
//! level, the requests we sent it) is in its [`Link`].
//!
//! A session knows nothing of its transport: messages come in through
//! [`Session::handle`] together with the [`Outbound`] where everything caused
//! by that message goes (the response, its progress, server-to-client
//! requests made while handling it).

use crate::client_info::ClientInfo;
use crate::context::{Http, RequestContext};
use crate::dispatch::{dispatch_reply, run_guarded, Era, ServerShared};
use crate::peer::{Link, Peer};
use crate::reply::{response, Reply, ToolForm};
use crate::request::InboundRequest;
use crate::server::Server;
use crate::sink::Outbound;
use crate::stateless;
use crate::tasks::{self, Tasks};
/// The router still takes its lock helper from here.
pub(crate) use crate::util::lock;
use crate::util::{on_one_thread, parse, progress_token, start_here, to_value, IdMap};
use mcp_sdk::jsonrpc::{DecodeError, ErrorResponse, Notification, Response};
use mcp_sdk::{
    CancelledNotificationParams, Error, InitializeParams, InitializeResult, Message,
    ProtocolVersion, RequestId, SetLevelParams,
};
use serde_json::Value;
use smallvec::SmallVec;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// One client's session: its lifecycle and its running requests. What a
/// [`Peer`] needs of it is in its [`Link`].
pub(crate) struct Session {
    pub(crate) shared: Arc<ServerShared>,
    link: Arc<Link>,
    initialized: AtomicBool,
    in_flight: Mutex<IdMap<RequestId, CancellationToken>>,
    permits: Semaphore,
    /// Bounds the requests taken in (running or waiting for a permit), when
    /// the transport asks for it: past the bound, [`start_request`]
    /// waits, so a transport that awaits it reads no further
    /// (back-pressure). stdio sets it; over HTTP each waiting request is an
    /// open connection, which `max_connections` bounds.
    ///
    /// [`start_request`]: Session::start_request
    admission: Option<Arc<Semaphore>>,
    /// Wakes [`Session::drain`] when the last running request finishes.
    idle: tokio::sync::Notify,
    /// Whether [`Server::on_session_closed`] was called.
    close_told: AtomicBool,
    /// The session's tasks (2025-11-25).
    pub(crate) tasks: Tasks,
}

impl Session {
    pub fn new(shared: Arc<ServerShared>, standalone: Outbound) -> Arc<Self> {
        Self::build(shared, standalone, None)
    }

    /// A session that takes in at most `max_concurrent_requests` plus
    /// `waiting` requests at once: one more makes
    /// [`start_request`](Self::start_request) wait until one of them
    /// has finished.
    pub fn with_waiting_bound(
        shared: Arc<ServerShared>,
        standalone: Outbound,
        waiting: usize,
    ) -> Arc<Self> {
        let admitted = shared.config.max_concurrent_requests.max(1) + waiting;
        Self::build(shared, standalone, Some(Arc::new(Semaphore::new(admitted))))
    }

    fn build(
        shared: Arc<ServerShared>,
        standalone: Outbound,
        admission: Option<Arc<Semaphore>>,
    ) -> Arc<Self> {
        let permits = Semaphore::new(shared.config.max_concurrent_requests.max(1));
        let link = Link::session(
            shared.offer.clone(),
            standalone,
            shared.config.peer_request_timeout,
        );
        Arc::new(Session {
            shared,
            link: Arc::new(link),
            initialized: AtomicBool::new(false),
            in_flight: Mutex::new(IdMap::default()),
            permits,
            admission,
            idle: tokio::sync::Notify::new(),
            close_told: AtomicBool::new(false),
            tasks: Tasks::default(),
        })
    }

    /// The client's side of the handshake, once `initialize` succeeded.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.link.client()
    }

    /// Whether `initialize` has been answered.
    pub fn is_initialized(&self) -> bool {
        self.client().is_some()
    }

    /// Where messages unrelated to any client request go.
    pub fn standalone(&self) -> &Outbound {
        self.link
            .fallback()
            .expect("a session's link has its standalone stream")
    }

    /// A peer whose messages go to the standalone destination.
    pub fn peer(&self) -> Peer {
        Peer::new(self.link.clone(), self.standalone().clone())
    }

    /// A peer whose messages go to `route`.
    fn peer_on(&self, route: Outbound) -> Peer {
        Peer::new(self.link.clone(), route)
    }

    /// Ends the session: running requests are cancelled, waiting
    /// server-to-client requests fail.
    pub fn close(&self) {
        let first = !self.close_told.swap(true, Ordering::AcqRel);
        self.link.close();
        self.tasks.close();
        for (_, token) in lock(&self.in_flight).drain() {
            token.cancel();
        }
        if first && self.is_initialized() {
            let server = self.shared.server.clone();
            let peer = self.peer();
            run_callback(async move { server.on_session_closed(peer).await });
        }
    }

    /// A session another replica opened, as the shared store keeps it:
    /// initialized already, with the client's info and log level.
    pub fn restore(&self, client: ClientInfo, log_level: Option<mcp_sdk::LoggingLevel>) {
        self.link.set_client(client);
        if let Some(level) = log_level {
            self.link.set_log_level(level);
        }
    }

    /// What [`Peer`]s of this session share with the transport: the
    /// numbering of our requests, their pending answers, the log level.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Whether the request `id` runs here.
    pub fn is_running(&self, id: &RequestId) -> bool {
        lock(&self.in_flight).contains_key(id)
    }

    /// Cancels the running request `id`, if there is one: its handler's
    /// token is cancelled and it gets no answer.
    pub fn cancel(&self, id: &RequestId) {
        if let Some(token) = lock(&self.in_flight).get(id) {
            token.cancel();
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
            Message::Request(req) => self.handle_request(req.into(), reply, http).await,
            Message::Notification(n) => self.handle_notification(n, reply).await,
            Message::Response(Response { id, result }) => self.link.resolve(id, Ok(result)),
            Message::Error(ErrorResponse {
                id: Some(id),
                error,
            }) => self.link.resolve(id, Err(error)),
            Message::Error(ErrorResponse { id: None, error }) => {
                tracing::warn!(%error, "the client reported an error without an id");
            }
        }
    }

    /// Takes one request, of either era (its body says which), as
    /// [`handle_from`](Self::handle_from) does: for a transport that read
    /// a `tools/call`'s params typed.
    pub(crate) async fn handle_request(
        self: &Arc<Self>,
        req: InboundRequest,
        reply: Outbound,
        http: Http,
    ) {
        let era = Era::of(&req);
        if let Some(running) = self.start_request(era, req, reply, http, None).await {
            // On a runtime of one thread nothing runs beside this anyway: a
            // request that answers at once (most do) is run to its end here,
            // sparing a task (allocated, scheduled, entered) per call.
            // Elsewhere its task may run on another thread while this one
            // reads on.
            if on_one_thread() {
                start_here(running);
            } else {
                tokio::spawn(running);
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
        let turns = Arc::new(Semaphore::new(BATCH_CONCURRENCY));
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
                    let req = InboundRequest::from(req);
                    let era = Era::of(&req);
                    let started = self
                        .start_request(era, req, reply.clone(), http.clone(), Some(&turns))
                        .await;
                    if let Some(running) = started {
                        tokio::spawn(running);
                    }
                }
                Ok(other) => self.handle(other, elsewhere.clone()).await,
            }
        }
        batch
    }

    /// Takes one request whose era the transport decided, but leaves
    /// running it to the caller: `None` when it was answered at once (into
    /// `reply`), else the request to poll to its end, on the caller's task
    /// or on one of its own; its answer and everything it causes go to
    /// `reply`. A transport that waits for the answer anyway runs it in
    /// place and spares a task per request; it spawns it when it must stop
    /// waiting (the handler sent something on the way, which an SSE stream
    /// now carries). A request of a batch takes one of the batch's `turns`
    /// (at most [`BATCH_CONCURRENCY`] at once).
    pub async fn start_request(
        self: &Arc<Self>,
        era: Era,
        req: InboundRequest,
        reply: Outbound,
        http: Http,
        turns: Option<&Arc<Semaphore>>,
    ) -> Option<Running> {
        // A request of the stateless era needs no handshake: it is served on
        // its own, beside whatever session-era traffic this connection has.
        let stateless = era == Era::Stateless;
        // The handshake and ping are answered inline: they are cheap, and
        // `initialize` must be settled before anything else runs.
        let mut req = req;
        let answer = match &*req.method {
            _ if stateless => None,
            "initialize" => Some(self.initialize(req.params.take_json())),
            "ping" => Some(Ok(Value::Object(Default::default()))),
            _ if !self.is_initialized() => Some(Err(Error::invalid_request(
                "the session is not initialized: send \"initialize\" first",
            ))),
            "logging/setLevel" => Some(self.set_level(req.params.take_json())),
            _ => None,
        };
        if let Some(answer) = answer {
            let _ = reply.send(response(req.id, answer)).await;
            return None;
        }

        // Taken in, or (past the transport's bound) waiting here until a
        // request finishes; held until its answer is handed over.
        let admitted = match &self.admission {
            Some(admission) => match admission.clone().try_acquire_owned() {
                Ok(admitted) => Some(admitted),
                Err(_) => admission.clone().acquire_owned().await.ok(),
            },
            None => None,
        };

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
                if self.link.is_closed() {
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
            return None;
        }
        let mut place = InFlight {
            session: self.clone(),
            id: req.id.clone(),
            released: false,
        };
        let session = self.clone();
        let turns = turns.cloned();
        Some(Box::pin(async move {
            let id = req.id.clone();
            // A batch's turn first, held like the permit below (but for
            // at most `BATCH_TURN`).
            let mut turn = match turns {
                Some(turns) => tokio::select! {
                    biased;
                    _ = token.cancelled() => None,
                    t = turns.acquire_owned() => t.ok(),
                },
                None => None,
            };
            // The permit is held until the answer is handed to the
            // transport: released earlier, a client that pipelines requests
            // faster than it reads answers would have every answer built and
            // waiting in memory (20k `tools/list` over stdio took 1.8 GB).
            // Held, at most `max_concurrent_requests` answers wait beyond
            // the transport's own bounded queue.
            // Taken at once when one is free, as most are: the wait for
            // a cancellation is then never registered.
            let permit = match session.permits.try_acquire() {
                Ok(permit) => Some(permit),
                Err(_) => tokio::select! {
                    biased;
                    _ = token.cancelled() => None,
                    p = session.permits.acquire() => p.ok(),
                },
            };
            // A token cancelled by now stops the request before it runs
            // (`run_guarded` checks it first).
            let outcome = {
                // The stateless era's and the tasks' futures are boxed
                // apart: inline, the largest of them (4.7 KB) would set
                // the size of every request's future, made and copied
                // for each call.
                let work = async {
                    if stateless {
                        let shared = &session.shared;
                        return Box::pin(stateless::serve(
                            shared,
                            req,
                            reply.clone(),
                            token.clone(),
                            http,
                        ))
                        .await
                        .map(Reply::Value);
                    }
                    let progress = progress_token(req.params.meta());
                    match &*req.method {
                        "tools/call" => match tasks::task_for_call(&session.shared, &req.params) {
                            Err(e) => return Err(e),
                            Ok(Some(ttl)) => {
                                return Box::pin(session.tasks.start(
                                    &session.shared,
                                    session.peer(),
                                    req.params.into_json(),
                                    ttl,
                                    progress,
                                    http,
                                ))
                                .await
                                .map(Reply::Value)
                            }
                            Ok(None) => {}
                        },
                        m if m.starts_with("tasks/") => {
                            return Box::pin(session.tasks.request(
                                &session.shared,
                                m,
                                req.params.into_json(),
                                &reply,
                                &token,
                                &session.peer(),
                            ))
                            .await
                            .map(Reply::Value)
                        }
                        _ => {}
                    }
                    let ctx = RequestContext::new(
                        id.clone(),
                        progress,
                        token.clone(),
                        session.peer_on(reply.clone()),
                    )
                    .with_http(http);
                    // A tool's result as text, for a destination that
                    // writes it out as it is.
                    let tool_form = if reply.takes_raw() {
                        ToolForm::Text
                    } else {
                        ToolForm::Tree
                    };
                    dispatch_reply(&session.shared, req.method, req.params, ctx, tool_form).await
                };
                // Boxed: the handler's state is large, and a task's
                // future is copied whole as it is spawned and as it
                // finishes (a tenth of a call's instructions before).
                let mut guarded = Box::pin(run_guarded(Box::pin(work), &token, &id));
                if turn.is_some() {
                    tokio::select! {
                        outcome = &mut guarded => outcome,
                        () = tokio::time::sleep(BATCH_TURN) => {
                            // Waiting, most likely (on the client, or on
                            // another request of the batch): the next
                            // request takes the turn.
                            turn = None;
                            guarded.await
                        }
                    }
                } else {
                    guarded.await
                }
            };
            let now_idle = place.release();
            // A cancelled request gets no response, as the spec says.
            if let Some(answer) = outcome {
                reply.answer(id, answer).await;
            }
            drop(permit);
            drop(turn);
            drop(admitted);
            if now_idle {
                session.idle.notify_waiters();
            }
        }))
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
                    tracing::debug!(id = %p.request_id, reason = ?p.reason, "request cancelled by the client");
                    self.cancel(&p.request_id);
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
                let peer = self.peer_on(reply);
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
        if !self.link.set_client(info) {
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
        let mut result = InitializeResult::new(version.as_str(), capabilities, shared.info.clone());
        result.instructions = shared.instructions.clone();
        to_value(result)
    }

    fn set_level(&self, params: Option<Value>) -> Result<Value, Error> {
        if self.shared.capabilities().logging.is_none() {
            return Err(Error::method_not_found("logging/setLevel"));
        }
        let p: SetLevelParams = parse(params)?;
        self.link.set_log_level(p.level);
        Ok(Value::Object(Default::default()))
    }
}

/// A request taken in by [`Session::start_request`], to poll to its end.
/// Dropped before it ends (the HTTP client that waited for it went away),
/// it ends without an answer, as a cancelled request does.
pub(crate) type Running = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running request's entry in the session's `in_flight`, removed when the
/// request ends, or when its [`Running`] future is dropped before.
struct InFlight {
    session: Arc<Session>,
    id: RequestId,
    released: bool,
}

impl InFlight {
    /// Removes the entry, so that the id may be used again; whether no
    /// request runs any more.
    fn release(&mut self) -> bool {
        self.released = true;
        let mut in_flight = lock(&self.session.in_flight);
        in_flight.remove(&self.id);
        in_flight.is_empty()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.released && self.release() {
            self.session.idle.notify_waiters();
        }
    }
}

/// Runs a notification callback: at once up to its first wait, so that
/// what it does without waiting (forgetting a cache, say) happens before the
/// next message is read, and in a task of its own from there, so that it may
/// wait for the client without stopping the session from reading.
fn run_callback(callback: impl Future<Output = ()> + Send + 'static) {
    start_here(Box::pin(callback));
}

/// How many requests of one batch run at once. Their answers are built
/// before the transport can weigh them against the batch's answer budget;
/// run all at once (up to `max_concurrent_requests`), 64 answers of 2 MiB
/// reads were built although only 16 MiB of them could be sent.
pub const BATCH_CONCURRENCY: usize = 8;

/// How long a request of a batch keeps its turn (one of the
/// [`BATCH_CONCURRENCY`]): one still running after it lets the next
/// request of the batch start. Held until the end, nine requests that wait
/// on each other (or eight that wait on a client answer that another
/// request of the batch must bring about) would never finish; a quick
/// answer, which the turns are there to weigh one at a time, comes well
/// within it.
pub const BATCH_TURN: Duration = Duration::from_secs(1);

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
    /// Inline for the one request most responses wait for.
    ids: SmallVec<[RequestId; 1]>,
}

impl Pending {
    /// Waiting for the answer to one request.
    pub fn one(id: RequestId) -> Pending {
        Pending {
            ids: smallvec::smallvec![id],
        }
    }

    /// Whether `msg` is one of the awaited answers; if so it no longer is.
    pub fn take(&mut self, msg: &Message) -> bool {
        match msg {
            Message::Response(r) => self.take_id(&r.id),
            Message::Error(ErrorResponse { id: Some(id), .. }) => self.take_id(id),
            _ => false,
        }
    }

    /// Whether the answer to request `id` is awaited; if so it no longer is.
    pub fn take_id(&mut self, id: &RequestId) -> bool {
        match self.ids.iter().position(|p| p == id) {
            Some(i) => {
                self.ids.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// The requests whose answers did not come yet.
    pub fn ids(&self) -> &[RequestId] {
        &self.ids
    }

    /// The requests whose answers did not come yet, no longer awaited.
    pub fn take_all(&mut self) -> Vec<RequestId> {
        std::mem::take(&mut self.ids).into_vec()
    }

    /// Whether every answer came.
    pub fn is_done(&self) -> bool {
        self.ids.is_empty()
    }
}
