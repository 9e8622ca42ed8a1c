//! [`Client`]: one connection to one MCP server, with a typed method per
//! server operation.

use crate::handler::{apply_elicitation_defaults, ClientHandler, RequestContext};
use crate::request::{Progress, RequestOptions};
use crate::transport::{Incoming, Transport};
use crate::ClientError;
use mcp_sdk::jsonrpc::{ErrorResponse, Notification, Request, Response};
use mcp_sdk::{
    CallToolParams, CallToolResult, CancelledNotificationParams, CompleteParams, CompleteResult,
    CreateMessageParams, ElicitRequestParams, EmptyResult, Error, GetPromptParams, GetPromptResult,
    Implementation, InitializeParams, InitializeResult, InitializedNotificationParams, JsonObject,
    ListPromptsParams, ListPromptsResult, ListResourceTemplatesParams, ListResourceTemplatesResult,
    ListResourcesParams, ListResourcesResult, ListToolsParams, ListToolsResult, LoggingLevel,
    Message, NotificationParams, PingParams, ProgressNotificationParams, ProgressToken, Prompt,
    ProtocolVersion, ReadResourceParams, ReadResourceResult, RequestId, RequestParams, Resource,
    ResourceTemplate, RootsListChangedNotificationParams, ServerCapabilities, SetLevelParams,
    SubscribeParams, Tool, UnsubscribeParams,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a call waits for its answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The most pages a `list_all_*` helper follows, so that a server whose
/// cursors loop cannot keep the client busy forever.
const MAX_PAGES: usize = 10_000;

/// A connection to one MCP server, after the `initialize` handshake.
///
/// Cheap to clone; every clone talks to the same server. Calls may run
/// concurrently. Dropping the last clone stops the connection (a child
/// process is killed); [`close`](Self::close) ends it politely.
///
/// ```
/// # async fn run(transport: impl mcp_sdk_client::transport::Transport) -> Result<(), mcp_sdk_client::ClientError> {
/// use mcp_sdk_client::Client;
///
/// let client = Client::connect(transport).await?;
/// for tool in client.list_all_tools().await? {
///     println!("{}: {}", tool.name, tool.description.unwrap_or_default());
/// }
/// let result = client.call_tool("echo", serde_json::json!({"text": "hi"})).await?;
/// println!("{result:?}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.server.server_info.name)
            .field("protocol_version", &self.inner.version)
            .finish_non_exhaustive()
    }
}

/// Settings for a new [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    info: Implementation,
    handler: Arc<dyn ClientHandler>,
    timeout: Duration,
    versions: Vec<ProtocolVersion>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            info: Implementation::new("mcp-sdk-client", env!("CARGO_PKG_VERSION")),
            handler: Arc::new(()),
            timeout: DEFAULT_TIMEOUT,
            versions: ProtocolVersion::SESSION_ERA.to_vec(),
        }
    }
}

impl ClientBuilder {
    /// Who the client is, as `initialize` tells the server.
    pub fn info(mut self, info: Implementation) -> Self {
        self.info = info;
        self
    }

    /// Answers the server's requests and hears its notifications.
    pub fn handler(mut self, handler: impl ClientHandler) -> Self {
        self.handler = Arc::new(handler);
        self
    }

    /// How long calls wait for their answer unless their
    /// [`RequestOptions`] say otherwise; [`DEFAULT_TIMEOUT`] by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The protocol revisions the client accepts; the newest is offered.
    /// All session-era revisions by default.
    pub fn protocol_versions(mut self, versions: &[ProtocolVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Connects over `transport`: sends `initialize`, checks the revision
    /// the server chose, and sends `notifications/initialized`.
    pub async fn connect(self, transport: impl Transport) -> Result<Client, ClientError> {
        let transport: Arc<dyn Transport> = Arc::new(transport);
        let offered = self
            .versions
            .iter()
            .copied()
            .filter(|v| v.is_session_era())
            .max()
            .unwrap_or(ProtocolVersion::LATEST_SESSION);
        let core = Arc::new(Core {
            transport: transport.clone(),
            handler: self.handler.clone(),
            pending: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            serving: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(0),
            timeout: self.timeout,
            closed: Mutex::new(None),
            capabilities: self.handler.capabilities(),
        });
        let (notify_tx, notify_rx) = mpsc::channel(1024);
        let reader = tokio::spawn(read_loop(core.clone(), notify_tx));
        let notifier = tokio::spawn(notify_loop(core.handler.clone(), notify_rx));
        let tasks = Tasks([reader, notifier]);

        let params = InitializeParams::new(
            offered.as_str(),
            core.capabilities.clone(),
            self.info.clone(),
        );
        let answer = core
            .call(InitializeParams::METHOD, params, RequestOptions::default())
            .await;
        let server: InitializeResult = decode_result(InitializeParams::METHOD, answer?)?;
        let version = server
            .protocol_version
            .parse::<ProtocolVersion>()
            .ok()
            .filter(|v| self.versions.contains(v))
            .ok_or_else(|| ClientError::UnsupportedVersion {
                ours: self
                    .versions
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                theirs: server.protocol_version.clone(),
            });
        let version = match version {
            Ok(v) => v,
            Err(e) => {
                transport.close().await;
                return Err(e);
            }
        };
        transport.set_protocol_version(version);
        core.notify(InitializedNotificationParams::default())
            .await?;
        Ok(Client {
            inner: Arc::new(Inner {
                core,
                server,
                version,
                _tasks: tasks,
            }),
        })
    }
}

struct Inner {
    core: Arc<Core>,
    server: InitializeResult,
    version: ProtocolVersion,
    _tasks: Tasks,
}

/// The client's background tasks, stopped when the last handle goes.
struct Tasks([JoinHandle<()>; 2]);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Client {
    /// Connects with default settings and no handler: see
    /// [`ClientBuilder::connect`].
    pub async fn connect(transport: impl Transport) -> Result<Client, ClientError> {
        ClientBuilder::default().connect(transport).await
    }

    /// Settings for a client: its name, handler, timeout and revisions.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The server's answer to `initialize`: its name, version, capabilities
    /// and instructions.
    pub fn server(&self) -> &InitializeResult {
        &self.inner.server
    }

    /// What the server offers.
    pub fn server_capabilities(&self) -> &ServerCapabilities {
        &self.inner.server.capabilities
    }

    /// The revision the handshake settled on.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner.version
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.core.closed_reason().is_some()
    }

    /// Sends a typed request and waits for its answer.
    pub async fn request<P: RequestParams>(&self, params: P) -> Result<P::Result, ClientError> {
        self.request_with(params, RequestOptions::default()).await
    }

    /// Sends a typed request with a timeout, progress callback or
    /// cancellation token of its own.
    pub async fn request_with<P: RequestParams>(
        &self,
        params: P,
        options: RequestOptions,
    ) -> Result<P::Result, ClientError> {
        let answer = self.inner.core.call(P::METHOD, params, options).await?;
        decode_result(P::METHOD, answer)
    }

    /// Sends a request by method name, for methods this SDK has no type for.
    pub async fn request_raw(
        &self,
        method: &str,
        params: Option<Value>,
        options: RequestOptions,
    ) -> Result<Value, ClientError> {
        self.inner
            .core
            .call(method, params.unwrap_or(Value::Null), options)
            .await
    }

    /// Sends a typed notification.
    pub async fn notify<P: NotificationParams>(&self, params: P) -> Result<(), ClientError> {
        self.inner.core.notify(params).await
    }

    /// `ping`: checks that the server is there.
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.request(PingParams::default()).await.map(drop)
    }

    /// `tools/list`: one page of tools; pass the previous page's
    /// `next_cursor` to continue.
    pub async fn list_tools(&self, cursor: Option<String>) -> Result<ListToolsResult, ClientError> {
        self.request(ListToolsParams {
            cursor,
            ..Default::default()
        })
        .await
    }

    /// Every tool, following cursors to the last page.
    pub async fn list_all_tools(&self) -> Result<Vec<Tool>, ClientError> {
        self.all_pages(|c| self.list_tools(c), |p| (p.tools, p.next_cursor))
            .await
    }

    /// `tools/call` with arguments that serialize to a JSON object (or
    /// `null` for none). A tool that failed answers `Ok` with `is_error`.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: impl serde::Serialize,
    ) -> Result<CallToolResult, ClientError> {
        self.call_tool_with(name, arguments, RequestOptions::default())
            .await
    }

    /// `tools/call` with options: a progress callback, a timeout, a
    /// cancellation token.
    pub async fn call_tool_with(
        &self,
        name: &str,
        arguments: impl serde::Serialize,
        options: RequestOptions,
    ) -> Result<CallToolResult, ClientError> {
        let arguments = match serde_json::to_value(arguments) {
            Ok(Value::Object(map)) => Some(map),
            Ok(Value::Null) => None,
            Ok(other) => {
                return Err(ClientError::Server(Error::invalid_params(format_args!(
                    "tool arguments must be a JSON object, not {other}"
                ))))
            }
            Err(e) => return Err(ClientError::Server(Error::invalid_params(e))),
        };
        self.request_with(CallToolParams::new(name, arguments), options)
            .await
    }

    /// `resources/list`: one page of resources.
    pub async fn list_resources(
        &self,
        cursor: Option<String>,
    ) -> Result<ListResourcesResult, ClientError> {
        self.request(ListResourcesParams {
            cursor,
            ..Default::default()
        })
        .await
    }

    /// Every resource, following cursors to the last page.
    pub async fn list_all_resources(&self) -> Result<Vec<Resource>, ClientError> {
        self.all_pages(|c| self.list_resources(c), |p| (p.resources, p.next_cursor))
            .await
    }

    /// `resources/templates/list`: one page of resource templates.
    pub async fn list_resource_templates(
        &self,
        cursor: Option<String>,
    ) -> Result<ListResourceTemplatesResult, ClientError> {
        self.request(ListResourceTemplatesParams {
            cursor,
            ..Default::default()
        })
        .await
    }

    /// Every resource template, following cursors to the last page.
    pub async fn list_all_resource_templates(&self) -> Result<Vec<ResourceTemplate>, ClientError> {
        self.all_pages(
            |c| self.list_resource_templates(c),
            |p| (p.resource_templates, p.next_cursor),
        )
        .await
    }

    /// `resources/read`.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ClientError> {
        self.request(ReadResourceParams::new(uri)).await
    }

    /// `resources/subscribe`: updates then arrive at
    /// [`ClientHandler::on_resource_updated`].
    pub async fn subscribe(&self, uri: &str) -> Result<(), ClientError> {
        self.request(SubscribeParams::new(uri)).await.map(drop)
    }

    /// `resources/unsubscribe`.
    pub async fn unsubscribe(&self, uri: &str) -> Result<(), ClientError> {
        self.request(UnsubscribeParams::new(uri)).await.map(drop)
    }

    /// `prompts/list`: one page of prompts.
    pub async fn list_prompts(
        &self,
        cursor: Option<String>,
    ) -> Result<ListPromptsResult, ClientError> {
        self.request(ListPromptsParams {
            cursor,
            ..Default::default()
        })
        .await
    }

    /// Every prompt, following cursors to the last page.
    pub async fn list_all_prompts(&self) -> Result<Vec<Prompt>, ClientError> {
        self.all_pages(|c| self.list_prompts(c), |p| (p.prompts, p.next_cursor))
            .await
    }

    /// `prompts/get` with string arguments.
    pub async fn get_prompt<K, V>(
        &self,
        name: &str,
        arguments: impl IntoIterator<Item = (K, V)>,
    ) -> Result<GetPromptResult, ClientError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let params = arguments
            .into_iter()
            .fold(GetPromptParams::new(name), |p, (k, v)| {
                p.with_argument(k, v)
            });
        self.request(params).await
    }

    /// `completion/complete`: suggestions for a prompt or template argument.
    pub async fn complete(&self, params: CompleteParams) -> Result<CompleteResult, ClientError> {
        self.request(params).await
    }

    /// `logging/setLevel`: the least severe log level the server should send.
    pub async fn set_logging_level(&self, level: LoggingLevel) -> Result<(), ClientError> {
        self.request(SetLevelParams::new(level)).await.map(drop)
    }

    /// `notifications/roots/list_changed`: tells the server the roots
    /// changed, so it asks again.
    pub async fn notify_roots_list_changed(&self) -> Result<(), ClientError> {
        self.notify(RootsListChangedNotificationParams::default())
            .await
    }

    /// Ends the connection: waiting calls fail with
    /// [`ClientError::Closed`], an HTTP session is deleted, a child process
    /// gets its stdin closed and then is stopped.
    pub async fn close(&self) {
        self.inner.core.shut(ClientError::Closed(
            "the client closed the connection".into(),
        ));
        self.inner.core.transport.close().await;
    }

    async fn all_pages<T, Page, F, Fut>(
        &self,
        fetch: F,
        split: impl Fn(Page) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, ClientError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Page, ClientError>>,
    {
        let mut all = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_PAGES {
            let (items, next) = split(fetch(cursor).await?);
            all.extend(items);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
        Err(ClientError::Protocol(format!(
            "the server's list went on for more than {MAX_PAGES} pages"
        )))
    }
}

fn decode_result<T: DeserializeOwned>(method: &str, value: Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| {
        ClientError::Protocol(format!(
            "the server answered {method} with a result of the wrong shape: {e}"
        ))
    })
}

type Answer = oneshot::Sender<Result<Value, ClientError>>;

/// The state the client's tasks share.
pub(crate) struct Core {
    transport: Arc<dyn Transport>,
    handler: Arc<dyn ClientHandler>,
    capabilities: mcp_sdk::ClientCapabilities,
    /// Calls waiting for their answer, by request id.
    pending: Mutex<HashMap<RequestId, Answer>>,
    /// Progress callbacks, by progress token.
    progress: Mutex<HashMap<ProgressToken, Progress>>,
    /// Server requests being answered, to cancel them.
    serving: Mutex<HashMap<RequestId, CancellationToken>>,
    next_id: AtomicI64,
    timeout: Duration,
    closed: Mutex<Option<ClientError>>,
}

impl Core {
    fn closed_reason(&self) -> Option<ClientError> {
        lock(&self.closed).clone()
    }

    /// Marks the connection ended and fails every waiting call.
    fn shut(&self, reason: ClientError) {
        lock(&self.closed).get_or_insert(reason.clone());
        for (_, answer) in lock(&self.pending).drain() {
            let _ = answer.send(Err(reason.clone()));
        }
        for (_, token) in lock(&self.serving).drain() {
            token.cancel();
        }
        lock(&self.progress).clear();
    }

    async fn notify<P: NotificationParams>(&self, params: P) -> Result<(), ClientError> {
        if let Some(reason) = self.closed_reason() {
            return Err(reason);
        }
        let params =
            serde_json::to_value(params).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.transport
            .send(Message::notification(P::METHOD, Some(params)))
            .await
    }

    /// Sends a request and waits for its answer, its timeout, or its
    /// cancellation. Dropping the future cancels the request too.
    async fn call(
        self: &Arc<Self>,
        method: &str,
        params: impl serde::Serialize,
        options: RequestOptions,
    ) -> Result<Value, ClientError> {
        if let Some(reason) = self.closed_reason() {
            return Err(reason);
        }
        let mut params = serde_json::to_value(params)
            .map_err(|e| ClientError::Protocol(format!("params of {method}: {e}")))?;
        let id = RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, mut rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        let mut guard = InFlight {
            core: self.clone(),
            id: id.clone(),
            method: method.to_owned(),
            token: None,
            armed: method != InitializeParams::METHOD,
        };
        let progressed = match options.on_progress {
            Some(callback) => {
                let token = ProgressToken::Number(match &id {
                    RequestId::Number(n) => *n,
                    RequestId::String(_) => unreachable!("the client numbers its requests"),
                });
                set_progress_token(&mut params, token.clone());
                let progress = Progress::new(callback);
                let progressed = progress.signal.clone();
                lock(&self.progress).insert(token.clone(), progress);
                guard.token = Some(token);
                Some(progressed)
            }
            None => None,
        };
        let params = match params {
            Value::Null => None,
            other => Some(other),
        };
        // Sending may take as long as the answer (an HTTP POST answered
        // with JSON), so it runs under the same timeout and cancellation.
        let send = self.transport.send(Message::request(id, method, params));
        tokio::pin!(send);
        let mut sent = false;
        let timeout = options.timeout.unwrap_or(self.timeout);
        let cancel = options.cancellation.unwrap_or_default();
        let mut deadline = tokio::time::Instant::now() + timeout;
        let answer = loop {
            tokio::select! {
                result = &mut send, if !sent => {
                    sent = true;
                    if let Err(e) = result {
                        guard.armed = false;
                        return Err(e);
                    }
                }
                answer = &mut rx => break answer,
                _ = tokio::time::sleep_until(deadline) => {
                    guard.cancel("timed out").await;
                    return Err(ClientError::Timeout { method: method.to_owned(), after: timeout });
                }
                _ = cancel.cancelled() => {
                    guard.cancel("cancelled by the caller").await;
                    return Err(ClientError::Cancelled { method: method.to_owned() });
                }
                _ = wait_progress(&progressed) => {
                    if options.reset_timeout_on_progress {
                        deadline = tokio::time::Instant::now() + timeout;
                    }
                }
            }
        };
        guard.armed = false;
        match answer {
            Ok(answer) => answer,
            Err(_) => Err(self
                .closed_reason()
                .unwrap_or_else(|| ClientError::Closed("the connection ended".into()))),
        }
    }

    /// Delivers an answer to the call waiting for it.
    fn resolve(&self, id: RequestId, answer: Result<Value, ClientError>) {
        match lock(&self.pending).remove(&id) {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None => {
                tracing::warn!(%id, "the server answered a request that is not waiting (unknown, timed out or cancelled); ignored")
            }
        }
    }
}

async fn wait_progress(signal: &Option<Arc<tokio::sync::Notify>>) {
    match signal {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

fn set_progress_token(params: &mut Value, token: ProgressToken) {
    if params.is_null() {
        *params = Value::Object(JsonObject::new());
    }
    if let Value::Object(map) = params {
        let meta = map
            .entry("_meta")
            .or_insert_with(|| Value::Object(JsonObject::new()));
        if let Value::Object(meta) = meta {
            meta.insert(mcp_sdk::PROGRESS_TOKEN_META_KEY.into(), token.into());
        }
    }
}

/// A request on its way: forgets it when dropped, and unless it was
/// answered, tells the server it is cancelled.
struct InFlight {
    core: Arc<Core>,
    id: RequestId,
    method: String,
    token: Option<ProgressToken>,
    armed: bool,
}

impl InFlight {
    async fn cancel(&mut self, reason: &str) {
        self.armed = false;
        lock(&self.core.pending).remove(&self.id);
        let _ = self.core.notify(cancelled(&self.id, reason)).await;
    }
}

fn cancelled(id: &RequestId, reason: &str) -> CancelledNotificationParams {
    CancelledNotificationParams::new(id.clone()).with_reason(reason)
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.core.pending).remove(&self.id);
        if let Some(token) = &self.token {
            lock(&self.core.progress).remove(token);
        }
        if !self.armed || self.core.closed_reason().is_some() {
            return;
        }
        // The caller dropped the call before its answer came.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let core = self.core.clone();
            let notice = cancelled(&self.id, "the caller stopped waiting");
            tracing::debug!(id = %self.id, method = %self.method, "call dropped; cancelling it");
            runtime.spawn(async move {
                let _ = core.notify(notice).await;
            });
        }
    }
}

/// Reads what the transport delivers until it ends: answers go to their
/// calls, requests to the handler, notifications (in order) to the notifier.
async fn read_loop(core: Arc<Core>, notifications: mpsc::Sender<Notification>) {
    let reason = loop {
        let Some(incoming) = core.transport.receive().await else {
            break ClientError::Closed("the transport ended".into());
        };
        match incoming {
            Incoming::Message(Message::Response(Response { id, result })) => {
                core.resolve(id, Ok(result))
            }
            Incoming::Message(Message::Error(ErrorResponse {
                id: Some(id),
                error,
            })) => core.resolve(id, Err(ClientError::Server(error))),
            Incoming::Message(Message::Error(ErrorResponse { id: None, error })) => {
                tracing::warn!("the server sent an error without an id: {error}");
            }
            Incoming::Message(Message::Request(request)) => {
                let core = core.clone();
                tokio::spawn(serve_request(core, request));
            }
            Incoming::Message(Message::Notification(n)) => {
                if let Some(n) = core.intercept(n) {
                    if notifications.send(n).await.is_err() {
                        break ClientError::Closed("the client was dropped".into());
                    }
                }
            }
            Incoming::Failed { id, error } => core.resolve(id, Err(error)),
            Incoming::Closed(reason) => break reason,
        }
    };
    tracing::debug!("connection ended: {reason}");
    core.shut(reason);
}

impl Core {
    /// Handles the notifications the client itself acts on (progress for
    /// its calls, cancellation of the server's requests); gives back the
    /// rest for the handler.
    fn intercept(&self, n: Notification) -> Option<Notification> {
        match n.method.as_str() {
            ProgressNotificationParams::METHOD => {
                let params: ProgressNotificationParams =
                    match serde_json::from_value(n.params.clone().unwrap_or_default()) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!("ignored a malformed progress notification: {e}");
                            return None;
                        }
                    };
                let progress = lock(&self.progress).get(&params.progress_token).cloned();
                match progress {
                    Some(progress) => {
                        progress.report(params);
                        None
                    }
                    None => Some(n),
                }
            }
            CancelledNotificationParams::METHOD => {
                if let Some(Ok(p)) = n
                    .params
                    .map(serde_json::from_value::<CancelledNotificationParams>)
                {
                    if let Some(token) = lock(&self.serving).remove(&p.request_id) {
                        token.cancel();
                    }
                }
                None
            }
            _ => Some(n),
        }
    }
}

/// Answers one request from the server with the handler, unless the server
/// cancels it first (then nothing is sent, as the spec asks).
async fn serve_request(core: Arc<Core>, request: Request) {
    let Request { id, method, params } = request;
    let token = CancellationToken::new();
    lock(&core.serving).insert(id.clone(), token.clone());
    let cx = RequestContext {
        id: id.clone(),
        cancellation: token.clone(),
    };
    let answer = tokio::select! {
        answer = answer_request(&core, &method, params, cx) => answer,
        _ = token.cancelled() => {
            lock(&core.serving).remove(&id);
            return;
        }
    };
    lock(&core.serving).remove(&id);
    let reply = match answer {
        Ok(result) => Message::response(id, result),
        Err(error) => Message::error(Some(id), error),
    };
    if let Err(e) = core.transport.send(reply).await {
        tracing::warn!(%method, "could not answer the server's request: {e}");
    }
}

async fn answer_request(
    core: &Core,
    method: &str,
    params: Option<Value>,
    cx: RequestContext,
) -> Result<Value, Error> {
    let caps = &core.capabilities;
    let handler = &core.handler;
    match method {
        PingParams::METHOD => to_value(EmptyResult::default()),
        CreateMessageParams::METHOD => {
            require(caps.sampling.is_some(), "sampling", method)?;
            to_value(handler.create_message(parse(params)?, cx).await?)
        }
        mcp_sdk::ListRootsParams::METHOD => {
            require(caps.roots.is_some(), "roots", method)?;
            to_value(handler.list_roots(cx).await?)
        }
        ElicitRequestParams::METHOD => {
            require(caps.elicitation.is_some(), "elicitation", method)?;
            let params: ElicitRequestParams = parse(params)?;
            let mut result = handler.elicit(params.clone(), cx).await?;
            apply_elicitation_defaults(&params, &mut result);
            to_value(result)
        }
        _ => handler.custom_request(method, params, cx).await,
    }
}

fn require(declared: bool, capability: &str, method: &str) -> Result<(), Error> {
    if declared {
        Ok(())
    } else {
        Err(
            Error::method_not_found(method).with_data(serde_json::json!({
                "reason": format!("the client did not declare the {capability} capability"),
            })),
        )
    }
}

fn parse<P: DeserializeOwned>(params: Option<Value>) -> Result<P, Error> {
    serde_json::from_value(params.unwrap_or_else(|| Value::Object(JsonObject::new())))
        .map_err(Error::invalid_params)
}

fn to_value(value: impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(Error::internal)
}

/// Runs the handler's notification callbacks one at a time, in the order
/// the server sent them.
async fn notify_loop(handler: Arc<dyn ClientHandler>, mut rx: mpsc::Receiver<Notification>) {
    while let Some(Notification { method, params }) = rx.recv().await {
        if let Err(e) = deliver(&*handler, &method, params).await {
            tracing::warn!(%method, "ignored a malformed notification: {e}");
        }
    }
}

async fn deliver(
    handler: &dyn ClientHandler,
    method: &str,
    params: Option<Value>,
) -> Result<(), Error> {
    use mcp_sdk::{
        ElicitationCompleteNotificationParams as Complete, LoggingMessageNotificationParams as Log,
        PromptListChangedNotificationParams as Prompts,
        ResourceListChangedNotificationParams as Resources,
        ResourceUpdatedNotificationParams as Updated, ToolListChangedNotificationParams as Tools,
    };
    match method {
        Tools::METHOD => handler.on_tool_list_changed().await,
        Resources::METHOD => handler.on_resource_list_changed().await,
        Prompts::METHOD => handler.on_prompt_list_changed().await,
        Updated::METHOD => handler.on_resource_updated(parse(params)?).await,
        Log::METHOD => handler.on_log(parse(params)?).await,
        ProgressNotificationParams::METHOD => handler.on_progress(parse(params)?).await,
        Complete::METHOD => handler.on_elicitation_complete(parse(params)?).await,
        _ => handler.on_notification(method, params).await,
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
