//! [`RequestContext`]: what a handler gets besides its params.

use crate::client_info::ClientInfo;
use crate::extensions::SessionExtensions;
use crate::notifier::Notifier;
use crate::peer::Peer;
use mcp_sdk::trace::TraceContext;
use mcp_sdk::{
    CreateMessageParams, CreateMessageResult, ElicitRequestParams, ElicitRequestUrlParams,
    ElicitResult, Error, InputRequest, InputResponse, ListRootsResult, LoggingLevel, Message,
    ProgressNotificationParams, ProgressToken, ProtocolVersion, RequestId,
};
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The head of the HTTP request a message came in, if it did.
pub(crate) type Http = Option<Arc<http::request::Parts>>;

/// Who made the request, on a protected server (feature `auth`): its
/// identity's principal, the owner of what the request opens; else `None`.
pub(crate) fn principal(http: &Http) -> Option<String> {
    #[cfg(feature = "auth")]
    {
        http.as_ref()?
            .extensions
            .get::<crate::auth::Identity>()
            .and_then(crate::auth::Identity::principal)
    }
    #[cfg(not(feature = "auth"))]
    {
        let _ = http;
        None
    }
}

/// The context of one request: its id, its cancellation, its progress token,
/// the HTTP request it came in (if it did), and the [`Peer`] for calls back
/// to the client.
///
/// Cloning is cheap; clones share the cancellation.
#[derive(Clone, Debug)]
pub struct RequestContext {
    id: RequestId,
    progress_token: Option<ProgressToken>,
    cancel: CancellationToken,
    peer: Peer,
    /// The HTTP request's head (method, URI, headers, extensions), over HTTP.
    http: Option<Arc<http::request::Parts>>,
    /// Extensions given without an HTTP request (a context built for a test).
    extensions: Option<Arc<http::Extensions>>,
    /// This request's span in its trace (SEP-414), once dispatched.
    trace: Option<TraceContext>,
}

impl RequestContext {
    // Inlined: a call moves the whole context in and out again.
    #[inline]
    pub(crate) fn new(
        id: RequestId,
        progress_token: Option<ProgressToken>,
        cancel: CancellationToken,
        peer: Peer,
    ) -> Self {
        RequestContext {
            id,
            progress_token,
            cancel,
            peer,
            http: None,
            extensions: None,
            trace: None,
        }
    }

    /// This context for a request handled as `trace`'s span.
    // Inlined: a call moves the whole context in and out again.
    #[inline]
    pub(crate) fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }

    /// This request's span in its distributed trace (W3C Trace Context in
    /// `_meta`, SEP-414): a child of the `traceparent` the client sent, or
    /// the root of a new trace when it sent none or a malformed one. Requests
    /// this handler makes with the client SDK carry it on by themselves
    /// ([`TraceContext::current`]). `None` in a context built with
    /// [`builder`](Self::builder).
    pub fn trace_context(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// This context for a request that came in `http`.
    // Inlined: a call moves the whole context in and out again.
    #[inline]
    pub(crate) fn with_http(mut self, http: Option<Arc<http::request::Parts>>) -> Self {
        self.http = http;
        self
    }

    /// A builder for a context of your own, to unit-test a handler that
    /// takes one without a client or a transport.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use mcp_sdk_server::RequestContext;
    ///
    /// #[derive(Clone)]
    /// struct Claims { sub: String }
    ///
    /// let (ctx, mut sent) = RequestContext::builder()
    ///     .extension(Claims { sub: "alice".into() })
    ///     .progress_token(7)
    ///     .build_with_outbox();
    /// assert_eq!(ctx.extensions().get::<Claims>().unwrap().sub, "alice");
    /// ctx.progress(1.0, Some(2.0), None).await.unwrap();
    /// let progress = sent.recv().await.unwrap();
    /// assert_eq!(progress.method(), Some("notifications/progress"));
    /// // No client is there to ask: requests to it fail at once.
    /// assert!(ctx.list_roots().await.is_err());
    /// # }
    /// ```
    pub fn builder() -> RequestContextBuilder {
        RequestContextBuilder::default()
    }

    /// The head of the HTTP request this request came in (method, URI,
    /// headers such as `Authorization`, and the extensions middleware set),
    /// over Streamable HTTP; `None` over stdio and in-process transports.
    pub fn http_parts(&self) -> Option<&http::request::Parts> {
        self.http.as_deref()
    }

    /// The typed extensions of the HTTP request, which middleware set (say,
    /// `ctx.extensions().get::<Claims>()` after an authentication layer);
    /// empty when the request did not come over HTTP.
    pub fn extensions(&self) -> &http::Extensions {
        static EMPTY: OnceLock<http::Extensions> = OnceLock::new();
        match (&self.http, &self.extensions) {
            (Some(parts), _) => &parts.extensions,
            (None, Some(extensions)) => extensions,
            (None, None) => EMPTY.get_or_init(http::Extensions::new),
        }
    }

    /// Who made this request, when the server is protected (feature
    /// `auth`): the identity its access token stands for.
    #[cfg(feature = "auth")]
    pub fn identity(&self) -> Option<&crate::auth::Identity> {
        self.extensions().get::<crate::auth::Identity>()
    }

    /// Data kept for this request's session, by type; dropped when the
    /// session closes. In the stateless era (2026-07-28) there is no session:
    /// the map lives as long as the request.
    pub fn session_extensions(&self) -> &SessionExtensions {
        self.peer.session_extensions()
    }

    /// Whether the client declared sampling (`ctx.sample(..)` can work).
    pub fn can_sample(&self) -> bool {
        self.client()
            .is_some_and(|c| c.capabilities.sampling.is_some())
    }

    /// Whether the client declared elicitation (`ctx.elicit(..)` can work).
    pub fn can_elicit(&self) -> bool {
        self.client()
            .is_some_and(|c| c.capabilities.elicitation.is_some())
    }

    /// Whether the client declared URL-mode elicitation
    /// (`ctx.elicit_url(..)` can work).
    pub fn can_elicit_url(&self) -> bool {
        self.client()
            .is_some_and(crate::peer::supports_url_elicitation)
    }

    /// Whether the client declared roots (`ctx.list_roots()` can work).
    pub fn can_list_roots(&self) -> bool {
        self.client()
            .is_some_and(|c| c.capabilities.roots.is_some())
    }

    /// Answers the client now with a task and goes on in the background
    /// (the tasks extension of 2026-07-28): for a stateless `tools/call` of
    /// a tool with task support from a client that declared the extension;
    /// without a call, that happens anyway once the call has run for
    /// [`TaskConfig::grace`](crate::TaskConfig::grace). Input asked for
    /// before becomes a multi round-trip request, input asked for after is
    /// listed in the task and answered with `tasks/update`. Anywhere else
    /// this does nothing.
    pub fn continue_as_task(&self) {
        if let Some(round) = self.peer.asker() {
            round.want_task();
        }
    }

    /// The id of the request being handled.
    pub fn request_id(&self) -> &RequestId {
        &self.id
    }

    /// The client's handle: requests and notifications sent through it travel
    /// with this request's response.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// What the client said about itself in `initialize`.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.peer.client()
    }

    /// Whether the client cancelled this request (or the session ended).
    /// A cancelled handler is dropped at its next `.await`; long synchronous
    /// work can check this between steps.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the request is cancelled.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The token that fires on cancellation, to hand to other tasks.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The progress token the client sent, if it asked for progress.
    pub fn progress_token(&self) -> Option<&ProgressToken> {
        self.progress_token.as_ref()
    }

    /// Reports progress, if the client asked for it (sends nothing otherwise).
    /// `progress` must grow from one call to the next.
    pub async fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
    ) -> Result<(), Error> {
        let Some(token) = &self.progress_token else {
            return Ok(());
        };
        let mut p = ProgressNotificationParams::new(token.clone(), progress);
        p.total = total;
        p.message = message.map(str::to_owned);
        self.peer.notify(p).await
    }

    /// Sends an MCP log message (`notifications/message`) if the client's
    /// logging level lets it through.
    pub async fn log(&self, level: LoggingLevel, data: impl Into<Value>) -> Result<(), Error> {
        self.peer.log(level, None, data.into()).await
    }

    /// Over Streamable HTTP, closes this request's SSE connection now; the
    /// client reconnects with `Last-Event-ID` and receives the rest,
    /// including the result (SEP-1699 polling). Lets a long-running handler
    /// free the connection. Does nothing on other transports.
    pub async fn close_sse_stream(&self) {
        self.peer.close_stream().await
    }

    /// Asks the client's LLM for a message (`sampling/createMessage`).
    pub async fn sample(&self, params: CreateMessageParams) -> Result<CreateMessageResult, Error> {
        self.peer.create_message(params).await
    }

    /// Asks the client for its roots (`roots/list`).
    pub async fn list_roots(&self) -> Result<ListRootsResult, Error> {
        self.peer.list_roots().await
    }

    /// Asks the user for input through the client (`elicitation/create`).
    pub async fn elicit(&self, params: ElicitRequestParams) -> Result<ElicitResult, Error> {
        self.peer.elicit(params).await
    }

    /// Asks the user, through the client, to open `url` (URL-mode
    /// elicitation): for a step the client must not see, such as signing in
    /// to a third party or typing a secret. `elicitation_id` names the
    /// step; send [`elicitation_complete`](Self::elicitation_complete) with
    /// it once the step is done. The result says only whether the user
    /// agreed to open the page.
    ///
    /// In a session this sends `elicitation/create` with `mode: "url"`; in a
    /// stateless request (2026-07-28) it is an input request, as for
    /// [`elicit`](Self::elicit): the handler runs again with the answer.
    /// Without URL-mode elicitation declared by the client, this fails
    /// (-32601 in a session; statelessly the request ends with -32021).
    /// A handler that would rather not wait can end the call with the
    /// -32042 error instead ([`ProtocolError::url_elicitation_required`](crate::ProtocolError::url_elicitation_required)).
    pub async fn elicit_url(
        &self,
        message: impl Into<String>,
        url: impl Into<String>,
        elicitation_id: impl Into<String>,
    ) -> Result<ElicitResult, Error> {
        self.peer
            .elicit_url(ElicitRequestUrlParams::new(message, url, elicitation_id))
            .await
    }

    /// Tells the client that the URL-mode elicitation `elicitation_id` is
    /// done (`notifications/elicitation/complete`, 2025-11-25); sends nothing
    /// statelessly, where the revision has no such notification.
    pub async fn elicitation_complete(
        &self,
        elicitation_id: impl Into<String>,
    ) -> Result<(), Error> {
        self.peer.elicitation_complete(elicitation_id).await
    }

    /// Asks the client for one input under a key of your choosing (see
    /// [`Peer::input`]). [`sample`](Self::sample), [`elicit`](Self::elicit)
    /// and [`list_roots`](Self::list_roots) do the same with keys numbered in
    /// the order the handler asks (`sampling-1`, `elicitation-1`, ...).
    ///
    /// In a stateless request (2026-07-28) the first run of the handler
    /// stops at the first input the client has not given yet: the client
    /// gets an `InputRequiredResult`, answers, and sends the request again;
    /// the handler then runs from the start and finds the answers. So a
    /// handler that asks for input should do nothing irreversible before it
    /// has all its answers, and ask in the same order each run. Inputs the
    /// client did not declare the capability for end the request with
    /// -32021, whatever the handler does with the error.
    pub async fn input(
        &self,
        key: impl Into<String>,
        request: InputRequest,
    ) -> Result<InputResponse, Error> {
        self.peer.input(key, request).await
    }

    /// The revision this request speaks: the session's, or the one its
    /// `_meta` names in the stateless era.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.client().map(|c| c.protocol_version)
    }

    /// Announces changes to the `subscriptions/listen` streams of stateless
    /// clients. (Session-era clients hear of changes through their
    /// [`Peer`].)
    pub fn notifier(&self) -> &Notifier {
        self.peer.notifier()
    }
}

/// Builds a [`RequestContext`] without a client or a transport, to unit-test
/// a handler (see [`RequestContext::builder`]). What the handler sends
/// (progress, log messages, notifications) goes to the outbox of
/// [`build_with_outbox`](Self::build_with_outbox), or nowhere; requests to
/// the client (sampling, roots, elicitation) fail at once.
#[derive(Debug)]
pub struct RequestContextBuilder {
    id: RequestId,
    progress_token: Option<ProgressToken>,
    cancel: CancellationToken,
    client: Option<ClientInfo>,
    parts: Option<http::request::Parts>,
    extensions: http::Extensions,
    session_extensions: SessionExtensions,
}

impl Default for RequestContextBuilder {
    fn default() -> Self {
        RequestContextBuilder {
            id: RequestId::Number(1),
            progress_token: None,
            cancel: CancellationToken::new(),
            client: None,
            parts: None,
            extensions: http::Extensions::new(),
            session_extensions: SessionExtensions::default(),
        }
    }
}

impl RequestContextBuilder {
    /// The request's id (default `1`).
    pub fn request_id(mut self, id: impl Into<RequestId>) -> Self {
        self.id = id.into();
        self
    }

    /// The progress token, as if the client asked for progress.
    pub fn progress_token(mut self, token: impl Into<ProgressToken>) -> Self {
        self.progress_token = Some(token.into());
        self
    }

    /// The request's cancellation: cancel the token to cancel the request.
    pub fn cancellation_token(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// What the client said about itself (its revision, its capabilities).
    pub fn client(mut self, client: ClientInfo) -> Self {
        self.client = Some(client);
        self
    }

    /// The head of an HTTP request, as if the request came over HTTP.
    pub fn http_parts(mut self, parts: http::request::Parts) -> Self {
        self.parts = Some(parts);
        self
    }

    /// A typed extension, as middleware would set it.
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// The session's extensions, to share them between several contexts as
    /// one session would.
    pub fn session_extensions(mut self, extensions: SessionExtensions) -> Self {
        self.session_extensions = extensions;
        self
    }

    /// The context; what its handler sends is dropped.
    pub fn build(self) -> RequestContext {
        self.finish(None)
    }

    /// The context, and the receiver of every message its handler sends.
    pub fn build_with_outbox(self) -> (RequestContext, mpsc::UnboundedReceiver<Message>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (self.finish(Some(tx)), rx)
    }

    fn finish(self, outbox: Option<mpsc::UnboundedSender<Message>>) -> RequestContext {
        let peer = Peer::detached(self.client, self.session_extensions, outbox);
        let mut ctx = RequestContext::new(self.id, self.progress_token, self.cancel, peer);
        match self.parts {
            Some(mut parts) => {
                parts.extensions.extend(self.extensions);
                ctx.http = Some(Arc::new(parts));
            }
            None if !self.extensions.is_empty() => {
                ctx.extensions = Some(Arc::new(self.extensions));
            }
            None => {}
        }
        ctx
    }
}
