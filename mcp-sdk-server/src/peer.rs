//! [`Peer`]: the server's handle on the client, for requests and
//! notifications the server starts (sampling, roots, elicitation, list
//! changes, resource updates, log messages).

use crate::client_info::ClientInfo;
use crate::extensions::SessionExtensions;
use crate::notifier::Notifier;
use crate::offer::Offer;
use crate::sink::Outbound;
use crate::util::lock;
use async_trait::async_trait;
use mcp_sdk::{
    CreateMessageParams, CreateMessageResult, ElicitRequestParams, ElicitRequestUrlParams,
    ElicitResult, ElicitationCompleteNotificationParams, EmptyResult, Error, ErrorCode,
    InputRequest, InputResponse, ListRootsParams, ListRootsResult, LoggingLevel,
    LoggingMessageNotificationParams, Message, NotificationParams, PingParams,
    PromptListChangedNotificationParams, RequestId, RequestParams,
    ResourceListChangedNotificationParams, ResourceUpdatedNotificationParams,
    ToolListChangedNotificationParams,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Asks the client for input in a stateless request (2026-07-28), where the
/// server cannot send requests: the input round of a multi round-trip
/// request answers (see `stateless::input`).
#[async_trait]
pub(crate) trait Asker: Send + Sync + 'static {
    /// The next automatic key for a request of this kind.
    fn auto_key(&self, request: &InputRequest) -> String;
    /// The client's answer under `key`, once it gave one.
    async fn ask(&self, key: String, request: InputRequest) -> Value;
    /// The handler asks to go on as a task (tasks extension).
    fn want_task(&self);
}

/// The task a handler runs as (2025-11-25 tasks): what the handler sends is
/// tied to it, and while it waits for the client the task says so.
#[async_trait]
pub(crate) trait TaskBinding: Send + Sync + 'static {
    /// Stamps the related-task `_meta` on an outgoing message's params.
    fn stamp(&self, params: &mut Option<Value>);
    /// Where the task's messages go first (the client's latest
    /// `tasks/result` stream), if anywhere.
    fn route(&self) -> Option<Outbound>;
    /// The handler starts (`true`) or stops (`false`) waiting for the client.
    async fn waiting_for_input(&self, waiting: bool);
}

type PendingMap = HashMap<RequestId, oneshot::Sender<Result<Value, Error>>>;

/// How requests to the client are answered.
enum Ask {
    /// A session: the request goes to the client, whose answer comes back by
    /// its id.
    Client {
        pending: Mutex<PendingMap>,
        next_id: AtomicI64,
        timeout: Duration,
    },
    /// A stateless request: the input round answers.
    Round(Arc<dyn Asker>),
    /// A context built for a test: no one is there to answer.
    Nobody,
}

/// The narrow link from a [`Peer`] to its connection: who the client is,
/// what it lets through, whether it is still there, and how requests to it
/// are answered. A session keeps one for its life; a stateless request
/// makes one for itself.
pub(crate) struct Link {
    /// Boxed: it is large (the client's capabilities), and a stateless
    /// request's link is built for each request.
    client: OnceLock<Box<ClientInfo>>,
    /// Minimum level of `notifications/message` to send, as a [`LoggingLevel`] index.
    log_level: AtomicU8,
    closed: CancellationToken,
    extensions: SessionExtensions,
    /// Where messages go when their route has ended: a session's
    /// standalone stream.
    fallback: Option<Outbound>,
    offer: Arc<Offer>,
    ask: Ask,
}

impl Link {
    /// The link of a session, whose messages unrelated to any request go
    /// to `standalone`.
    pub fn session(offer: Arc<Offer>, standalone: Outbound, timeout: Duration) -> Self {
        Link {
            client: OnceLock::new(),
            log_level: AtomicU8::new(LoggingLevel::Debug as u8),
            closed: CancellationToken::new(),
            extensions: SessionExtensions::default(),
            fallback: Some(standalone),
            offer,
            ask: Ask::Client {
                pending: Mutex::new(HashMap::new()),
                next_id: AtomicI64::new(0),
                timeout,
            },
        }
    }

    /// The link of one stateless request: the client as its `_meta`
    /// describes it, log messages only at the level it asked for (none if
    /// it asked for none), requests to the client through `asker`.
    pub fn stateless(
        offer: Arc<Offer>,
        client: Box<ClientInfo>,
        log_level: Option<LoggingLevel>,
        asker: Arc<dyn Asker>,
    ) -> Self {
        Link {
            client: OnceLock::from(client),
            log_level: AtomicU8::new(log_level.map_or(u8::MAX, |l| l as u8)),
            closed: CancellationToken::new(),
            extensions: SessionExtensions::default(),
            fallback: None,
            offer,
            ask: Ask::Round(asker),
        }
    }

    /// The link of a context built for a test.
    fn detached(client: Option<ClientInfo>, extensions: SessionExtensions) -> Self {
        let offer = Offer::new(
            || mcp_sdk::ServerCapabilities::default().with_logging(),
            Notifier::default(),
        );
        Link {
            client: client
                .map(|c| OnceLock::from(Box::new(c)))
                .unwrap_or_default(),
            log_level: AtomicU8::new(LoggingLevel::Debug as u8),
            closed: CancellationToken::new(),
            extensions,
            fallback: None,
            offer: Arc::new(offer),
            ask: Ask::Nobody,
        }
    }

    /// What the client said about itself.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.client.get().map(|c| &**c)
    }

    /// Records the client's `initialize`; `false` if it was recorded before.
    pub fn set_client(&self, client: ClientInfo) -> bool {
        self.client.set(Box::new(client)).is_ok()
    }

    /// `logging/setLevel`.
    pub fn set_log_level(&self, level: LoggingLevel) {
        self.log_level.store(level as u8, Ordering::Relaxed);
    }

    /// The least severe level of log message sent, if any is.
    pub fn log_level(&self) -> Option<LoggingLevel> {
        LoggingLevel::ALL
            .get(self.log_level.load(Ordering::Relaxed) as usize)
            .copied()
    }

    /// Numbers our requests to the client from `first` on: replicas that
    /// each hold a copy of one session start at random points, so that the
    /// client's answer, forwarded to every replica, finds only the one
    /// request it answers.
    pub fn number_requests_from(&self, first: i64) {
        if let Ask::Client { next_id, .. } = &self.ask {
            next_id.store(first, Ordering::Relaxed);
        }
    }

    /// Whether we wait for the client's answer to our request `id`.
    pub fn is_waiting_for(&self, id: &RequestId) -> bool {
        match &self.ask {
            Ask::Client { pending, .. } => lock(pending).contains_key(id),
            _ => false,
        }
    }

    /// Cancelled when the link closes.
    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// The session's extensions.
    pub fn extensions(&self) -> &SessionExtensions {
        &self.extensions
    }

    /// Where messages unrelated to any request go, if anywhere.
    pub fn fallback(&self) -> Option<&Outbound> {
        self.fallback.as_ref()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// The connection ended: requests waiting for the client fail.
    pub fn close(&self) {
        self.closed.cancel();
        if let Ask::Client { pending, .. } = &self.ask {
            for (_, tx) in lock(pending).drain() {
                let _ = tx.send(Err(Error::new(
                    ErrorCode::CONNECTION_CLOSED,
                    "the session was closed",
                )));
            }
        }
    }

    /// The client's answer to one of our requests.
    pub fn resolve(&self, id: RequestId, answer: Result<Value, Error>) {
        let waiting = match &self.ask {
            Ask::Client { pending, .. } => lock(pending).remove(&id),
            _ => None,
        };
        match waiting {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None => tracing::debug!(%id, "a response for no request we are waiting on"),
        }
    }
}

/// A handle on the client of one session.
///
/// Inside a request handler, take it from
/// [`RequestContext::peer`](crate::RequestContext::peer): what it sends then
/// travels with that request's response (on the same SSE stream over HTTP).
/// Kept beyond the request, it still works and falls back to the session's
/// standalone stream.
#[derive(Clone)]
pub struct Peer {
    link: Arc<Link>,
    route: Outbound,
    /// The task the handler runs as, if it does (2025-11-25 tasks): what
    /// it sends is tied to the task, and its requests make the task wait
    /// for input.
    task: Option<Arc<dyn TaskBinding>>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("client", &self.client().map(|c| &c.implementation.name))
            .finish()
    }
}

impl Peer {
    /// A peer over `link` whose messages go to `route`.
    pub(crate) fn new(link: Arc<Link>, route: Outbound) -> Self {
        Peer {
            link,
            route,
            task: None,
        }
    }

    /// The peer of a [`RequestContext`](crate::RequestContext) built for a
    /// test: its messages go to `outbox` (or nowhere), its requests fail.
    pub(crate) fn detached(
        client: Option<ClientInfo>,
        extensions: SessionExtensions,
        outbox: Option<tokio::sync::mpsc::UnboundedSender<Message>>,
    ) -> Self {
        let out: Outbound = match outbox {
            Some(tx) => Arc::new(tx),
            None => Arc::new(crate::sink::Discard),
        };
        Peer::new(Arc::new(Link::detached(client, extensions)), out)
    }

    /// What the server keeps for this peer's session, by type (for a
    /// stateless request, for the request).
    pub fn session_extensions(&self) -> &SessionExtensions {
        self.link.extensions()
    }

    /// This peer for the handler of `task`.
    pub(crate) fn for_task(mut self, task: Arc<dyn TaskBinding>) -> Self {
        self.task = Some(task);
        self
    }

    /// The input round of a stateless request (2026-07-28), if this peer
    /// serves one.
    pub(crate) fn asker(&self) -> Option<&Arc<dyn Asker>> {
        match &self.link.ask {
            Ask::Round(asker) => Some(asker),
            _ => None,
        }
    }

    /// What the client said about itself in `initialize`.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.link.client()
    }

    /// The server's [`Notifier`](crate::Notifier) for `subscriptions/listen` streams.
    pub fn notifier(&self) -> &crate::Notifier {
        &self.link.offer.notifier
    }

    /// Whether two peers talk to the same session.
    pub fn same_session(&self, other: &Peer) -> bool {
        Arc::ptr_eq(&self.link, &other.link)
    }

    /// Whether the session has ended; a closed peer can be dropped.
    pub fn is_closed(&self) -> bool {
        self.link.is_closed()
    }

    /// Sends a typed request to the client and waits for its answer, at most
    /// the session's peer-request timeout.
    ///
    /// In a stateless request (2026-07-28) the server cannot send requests:
    /// `sampling/createMessage`, `roots/list` and `elicitation/create` become
    /// input requests of a multi round-trip request (the handler runs again
    /// once the client answered); other methods fail with -32601.
    pub async fn request<P: RequestParams>(&self, params: P) -> Result<P::Result, Error> {
        if self.link.is_closed() {
            return Err(closed());
        }
        let params = serde_json::to_value(params).map_err(Error::internal)?;
        let (pending, next_id, timeout) = match &self.link.ask {
            Ask::Client {
                pending,
                next_id,
                timeout,
            } => (pending, next_id, *timeout),
            Ask::Round(round) => {
                let request = input_request(P::METHOD, params)?;
                let key = round.auto_key(&request);
                let answer = round.ask(key, request).await;
                return serde_json::from_value(answer).map_err(Error::invalid_params);
            }
            Ask::Nobody => {
                return Err(Error::new(
                    ErrorCode::CONNECTION_CLOSED,
                    format!(
                        "no client is connected to ask {}: this context was built with \
                         RequestContext::builder",
                        P::METHOD
                    ),
                ))
            }
        };
        // Our ids are numbers, so they never collide with the client's own.
        let id = RequestId::Number(next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, answer) = oneshot::channel();
        lock(pending).insert(id.clone(), tx);
        let forget = || {
            lock(pending).remove(&id);
        };
        // A task waits for the client's answer as `input_required`.
        if let Some(task) = &self.task {
            task.waiting_for_input(true).await;
        }
        self.send(Message::request(id.clone(), P::METHOD, Some(params)))
            .await
            .inspect_err(|_| forget())?;
        let answered = tokio::time::timeout(timeout, answer).await;
        if let Some(task) = &self.task {
            task.waiting_for_input(false).await;
        }
        let result = match answered {
            Ok(Ok(answer)) => answer?,
            Ok(Err(_)) => return Err(closed()),
            Err(_) => {
                forget();
                let cancel = serde_json::json!({
                    "requestId": id,
                    "reason": "timed out waiting for the client",
                });
                let _ = self
                    .send(Message::notification(
                        "notifications/cancelled",
                        Some(cancel),
                    ))
                    .await;
                return Err(Error::new(
                    ErrorCode::REQUEST_TIMEOUT,
                    format!("the client did not answer {} within {timeout:?}", P::METHOD),
                ));
            }
        };
        serde_json::from_value(result).map_err(|e| {
            Error::internal(format_args!(
                "the client answered {} with a result of the wrong shape: {e}",
                P::METHOD
            ))
        })
    }

    /// Sends a typed notification to the client.
    pub async fn notify<P: NotificationParams>(&self, params: P) -> Result<(), Error> {
        let params = serde_json::to_value(params).map_err(Error::internal)?;
        self.send(Message::notification(P::METHOD, Some(params)))
            .await
    }

    /// Sends a raw message on this peer's route, falling back to the
    /// session's standalone stream when the request's own stream has ended.
    pub(crate) async fn send(&self, mut msg: Message) -> Result<(), Error> {
        if let Some(task) = &self.task {
            match &mut msg {
                Message::Request(r) => task.stamp(&mut r.params),
                Message::Notification(n) => task.stamp(&mut n.params),
                _ => {}
            }
            // The client's latest `tasks/result` stream comes first.
            if let Some(route) = task.route() {
                match route.send(msg).await {
                    Ok(()) => return Ok(()),
                    Err(back) => msg = back,
                }
            }
        }
        match self.route.send(msg).await {
            Ok(()) => Ok(()),
            Err(msg) => match self.link.fallback() {
                Some(fallback) => fallback.send(msg).await.map_err(|_| closed()),
                None => Err(closed()),
            },
        }
    }

    /// Asks the transport to close the connection of this peer's route,
    /// leaving its stream resumable (over HTTP; elsewhere nothing happens).
    pub(crate) async fn close_stream(&self) {
        self.route.close_stream().await
    }

    /// `ping`: checks that the client is there.
    pub async fn ping(&self) -> Result<(), Error> {
        self.request(PingParams::default())
            .await
            .map(|_: EmptyResult| ())
    }

    /// `sampling/createMessage`: asks the client's LLM for a completion.
    /// Fails with -32601 when the client did not offer sampling.
    pub async fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> Result<CreateMessageResult, Error> {
        self.require(|c| c.capabilities.sampling.is_some(), "sampling")?;
        self.request(params).await
    }

    /// `roots/list`: the directories or files the client exposes.
    pub async fn list_roots(&self) -> Result<ListRootsResult, Error> {
        self.require(|c| c.capabilities.roots.is_some(), "roots")?;
        self.request(ListRootsParams::default()).await
    }

    /// `elicitation/create`: asks the user for input through the client.
    pub async fn elicit(&self, params: ElicitRequestParams) -> Result<ElicitResult, Error> {
        self.require(|c| c.capabilities.elicitation.is_some(), "elicitation")?;
        self.request(params).await
    }

    /// `elicitation/create` in URL mode: asks the user to open a page (to
    /// sign in elsewhere, pay, give a secret the client must not see). The
    /// answer says only whether the user agreed to open it; the step itself
    /// happens out of band, and [`elicitation_complete`](Self::elicitation_complete)
    /// tells the client when it is done. Fails (-32601 in a session, -32021
    /// statelessly) when the client did not declare URL-mode elicitation:
    /// servers must not send a mode the client did not declare.
    pub async fn elicit_url(&self, params: ElicitRequestUrlParams) -> Result<ElicitResult, Error> {
        self.require(supports_url_elicitation, "elicitation.url")?;
        self.request(ElicitRequestParams::Url(params)).await
    }

    /// `notifications/elicitation/complete`: the out-of-band step of the
    /// URL-mode elicitation `elicitation_id` is done (2025-11-25), so the
    /// client may retry what waited for it. Revision 2026-07-28 has no such
    /// notification (the client retries its request once the user is back):
    /// statelessly this sends nothing.
    pub async fn elicitation_complete(
        &self,
        elicitation_id: impl Into<String>,
    ) -> Result<(), Error> {
        if self.asker().is_some() {
            return Ok(());
        }
        self.notify(ElicitationCompleteNotificationParams::new(elicitation_id))
            .await
    }

    /// `notifications/tools/list_changed`.
    pub async fn notify_tool_list_changed(&self) -> Result<(), Error> {
        self.notify(ToolListChangedNotificationParams::default())
            .await
    }

    /// `notifications/resources/list_changed`.
    pub async fn notify_resource_list_changed(&self) -> Result<(), Error> {
        self.notify(ResourceListChangedNotificationParams::default())
            .await
    }

    /// `notifications/prompts/list_changed`.
    pub async fn notify_prompt_list_changed(&self) -> Result<(), Error> {
        self.notify(PromptListChangedNotificationParams::default())
            .await
    }

    /// `notifications/resources/updated` for a subscribed URI.
    pub async fn notify_resource_updated(&self, uri: impl Into<String>) -> Result<(), Error> {
        self.notify(ResourceUpdatedNotificationParams::new(uri))
            .await
    }

    /// `notifications/message`: a log message, sent only if `level` is at or
    /// above the level the client set with `logging/setLevel`.
    pub async fn log(
        &self,
        level: LoggingLevel,
        logger: Option<&str>,
        data: Value,
    ) -> Result<(), Error> {
        if (level as u8) < self.link.log_level.load(Ordering::Relaxed)
            || self.link.offer.capabilities().logging.is_none()
        {
            return Ok(());
        }
        let mut params = LoggingMessageNotificationParams::new(level, data);
        params.logger = logger.map(str::to_owned);
        self.notify(params).await
    }

    /// Asks the client for one input and waits for the answer. In a
    /// stateless request (2026-07-28) `key` names the input request in the
    /// `InputRequiredResult` (the client answers under the same key); in a
    /// session the request goes to the client at once and `key` is unused.
    pub async fn input(
        &self,
        key: impl Into<String>,
        request: InputRequest,
    ) -> Result<InputResponse, Error> {
        if let Some(round) = self.asker() {
            let answer = round.ask(key.into(), request).await;
            return serde_json::from_value(answer).map_err(Error::invalid_params);
        }
        Ok(match request {
            InputRequest::CreateMessage(p) => {
                InputResponse::CreateMessage(Box::new(self.create_message(p).await?))
            }
            InputRequest::ListRoots(p) => {
                self.require(|c| c.capabilities.roots.is_some(), "roots")?;
                InputResponse::ListRoots(self.request(p).await?)
            }
            InputRequest::Elicit(p) => InputResponse::Elicit(self.elicit(p).await?),
        })
    }

    fn require(&self, has: impl Fn(&ClientInfo) -> bool, what: &str) -> Result<(), Error> {
        if self.asker().is_some() {
            // Stateless: the input round checks, and answers -32021.
            return Ok(());
        }
        match self.client() {
            Some(c) if has(c) => Ok(()),
            _ => Err(Error::method_not_found(what).with_data(serde_json::json!({
                "reason": format!("the client did not declare the {what} capability"),
            }))),
        }
    }
}

/// Whether the client declared URL-mode elicitation.
pub(crate) fn supports_url_elicitation(client: &ClientInfo) -> bool {
    client
        .capabilities
        .elicitation
        .as_ref()
        .is_some_and(|e| e.supports_url())
}

/// A request to the client as an input request of 2026-07-28.
fn input_request(method: &str, params: Value) -> Result<InputRequest, Error> {
    serde_json::from_value(serde_json::json!({ "method": method, "params": params })).map_err(|_| {
        Error::method_not_found(method).with_data(serde_json::json!({
            "reason": format!("{method} cannot be sent to the client in protocol revision 2026-07-28"),
        }))
    })
}

fn closed() -> Error {
    Error::new(ErrorCode::CONNECTION_CLOSED, "the session is closed")
}
