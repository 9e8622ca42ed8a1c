//! [`Client`]: one connection to one MCP server, with a typed method per
//! server operation.

use crate::handler::{apply_elicitation_defaults, ClientHandler, RequestContext};
use crate::headers::{header_params, HeaderParam};
use crate::request::{Progress, RequestOptions, Responder};
use crate::stateless::{
    as_initialize_result, is_stateless_error, newest_common, parse_discover, result_type,
    supported_versions, Cache, Era, Subscription, INPUT_METHODS, MAX_INPUT_ROUNDS,
};
use crate::transport::{Incoming, Transport};
use crate::ClientError;
use mcp_sdk::jsonrpc::{ErrorResponse, Notification, Request, Response};
use mcp_sdk::{
    CallToolParams, CallToolResult, CancelledNotificationParams, ClientCapabilities,
    CompleteParams, CompleteResult, CreateMessageParams, DiscoverParams, DiscoverResult,
    ElicitRequestParams, EmptyResult, Error, ErrorCode, GetPromptParams, GetPromptResult,
    Implementation, InitializeParams, InitializeResult, InitializedNotificationParams,
    InputRequest, InputRequiredResult, InputResponse, InputResponses, JsonObject,
    ListPromptsParams, ListPromptsResult, ListResourceTemplatesParams, ListResourceTemplatesResult,
    ListResourcesParams, ListResourcesResult, ListToolsParams, ListToolsResult, LoggingLevel,
    Message, NotificationParams, PingParams, ProgressNotificationParams, ProgressToken, Prompt,
    ProtocolVersion, ReadResourceParams, ReadResourceResult, RequestId, RequestParams, Resource,
    ResourceTemplate, ResultType, RootsListChangedNotificationParams, ServerCapabilities,
    SetLevelParams, SubscribeParams, SubscriptionFilter,
    SubscriptionsAcknowledgedNotificationParams, SubscriptionsListenParams, Tool,
    UnsubscribeParams, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY, SUBSCRIPTION_ID_META_KEY,
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

/// How long [`Era::Auto`] waits for the answer to its `server/discover`
/// probe before taking the server for a session-era one.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most pages a `list_all_*` helper follows, so that a server whose
/// cursors loop cannot keep the client busy forever.
const MAX_PAGES: usize = 10_000;

/// A connection to one MCP server: after the `initialize` handshake (the
/// session era), or after `server/discover` chose revision `2026-07-28` (the
/// stateless era, see [`Era`]).
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
    era: Era,
    probe_timeout: Duration,
    caching: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            info: Implementation::new("mcp-sdk-client", env!("CARGO_PKG_VERSION")),
            handler: Arc::new(()),
            timeout: DEFAULT_TIMEOUT,
            versions: ProtocolVersion::ALL.to_vec(),
            era: Era::Auto,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            caching: true,
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

    /// The protocol revisions the client accepts; the newest of each era
    /// is offered. All of them by default, `2026-07-28` included.
    pub fn protocol_versions(mut self, versions: &[ProtocolVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Which era to speak: [`Era::Auto`] (the default) probes for the
    /// stateless era and falls back to `initialize`.
    pub fn era(mut self, era: Era) -> Self {
        self.era = era;
        self
    }

    /// How long the `server/discover` probe waits for an answer before the
    /// server is taken for a session-era one (over stdio, such a server may
    /// not answer at all); [`DEFAULT_PROBE_TIMEOUT`] by default.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Whether to keep the results of `tools/list`, `prompts/list`,
    /// `resources/list`, `resources/templates/list` and `resources/read`
    /// for the `ttlMs` the server gives them (stateless era only); on by
    /// default. The matching list-changed or updated notification forgets
    /// them sooner.
    pub fn cache_results(mut self, enabled: bool) -> Self {
        self.caching = enabled;
        self
    }

    /// Connects over `transport`.
    ///
    /// Unless the era is [`Era::SessionOnly`], it first probes with
    /// `server/discover` (carrying `_meta` and, over HTTP, the headers of
    /// `2026-07-28`); a stateless server is then spoken to without a
    /// handshake, every request carrying `_meta`. Otherwise it sends
    /// `initialize`, checks the revision the server chose, and sends
    /// `notifications/initialized`.
    pub async fn connect(self, transport: impl Transport) -> Result<Client, ClientError> {
        let transport: Arc<dyn Transport> = Arc::new(transport);
        let session: Vec<ProtocolVersion> = self
            .versions
            .iter()
            .copied()
            .filter(|v| v.is_session_era())
            .collect();
        let stateless: Vec<ProtocolVersion> = self
            .versions
            .iter()
            .copied()
            .filter(|v| !v.is_session_era())
            .collect();
        let try_stateless = self.era != Era::SessionOnly && !stateless.is_empty();
        let allow_session = self.era != Era::StatelessOnly && !session.is_empty();
        let offered = session
            .iter()
            .copied()
            .max()
            .unwrap_or(ProtocolVersion::LATEST_SESSION);
        let core = Arc::new(Core {
            transport: transport.clone(),
            handler: self.handler.clone(),
            pending: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            serving: Mutex::new(HashMap::new()),
            responders: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(0),
            timeout: self.timeout,
            closed: Mutex::new(None),
            capabilities: self.handler.capabilities(),
            info: self.info.clone(),
            stateless: Mutex::new(None),
            log_level: Mutex::new(None),
            subscriptions: Mutex::new(HashMap::new()),
            cache: Mutex::new(Cache::default()),
            caching: self.caching,
            tool_headers: Mutex::new(HashMap::new()),
        });
        let (notify_tx, notify_rx) = mpsc::channel(1024);
        let reader = tokio::spawn(read_loop(core.clone(), notify_tx));
        let notifier = tokio::spawn(notify_loop(core.handler.clone(), notify_rx));
        let tasks = Tasks([reader, notifier]);

        if !try_stateless && !allow_session {
            transport.close().await;
            return Err(ClientError::Unsupported(format!(
                "the era {:?} leaves none of the revisions {} to offer",
                self.era,
                list(&self.versions)
            )));
        }
        if try_stateless {
            let timeout = self.probe_timeout.min(self.timeout);
            match probe(&core, &stateless, &session, timeout).await {
                Ok(Probe::Stateless { version, discover }) => {
                    return Ok(Client {
                        inner: Arc::new(Inner {
                            server: as_initialize_result(version, discover.as_deref()),
                            core,
                            version,
                            stateless: true,
                            discover: discover.map(|d| *d),
                            _tasks: tasks,
                        }),
                    });
                }
                Ok(Probe::Session(why)) if allow_session => {
                    tracing::debug!("a session-era server ({why}); sending initialize");
                    *lock(&core.stateless) = None;
                    transport.clear_protocol_version();
                }
                Ok(Probe::Session(why)) => {
                    transport.close().await;
                    return Err(ClientError::Unsupported(format!(
                        "the server does not speak the stateless era ({why}), and this client speaks nothing else"
                    )));
                }
                Err(e) => {
                    transport.close().await;
                    return Err(e);
                }
            }
        }

        let params = InitializeParams::new(
            offered.as_str(),
            core.capabilities.clone(),
            self.info.clone(),
        );
        let answer = core
            .call(
                InitializeParams::METHOD,
                params,
                RequestOptions::default(),
                Vec::new(),
            )
            .await;
        let server: InitializeResult = decode_result(InitializeParams::METHOD, answer?)?;
        let version = server
            .protocol_version
            .parse::<ProtocolVersion>()
            .ok()
            .filter(|v| session.contains(v))
            .ok_or_else(|| ClientError::UnsupportedVersion {
                ours: list(&session),
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
                stateless: false,
                discover: None,
                _tasks: tasks,
            }),
        })
    }
}

/// The revisions, comma-separated.
fn list(versions: &[ProtocolVersion]) -> String {
    versions
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the `server/discover` probe found.
enum Probe {
    /// A stateless server, spoken to in `version`.
    Stateless {
        version: ProtocolVersion,
        discover: Option<Box<DiscoverResult>>,
    },
    /// A session-era server, for this reason.
    Session(String),
}

/// Sends `server/discover` in the newest of `ours` (stateless revisions),
/// retrying in a revision the server names when it refuses that one.
async fn probe(
    core: &Arc<Core>,
    ours: &[ProtocolVersion],
    session: &[ProtocolVersion],
    timeout: Duration,
) -> Result<Probe, ClientError> {
    let Some(mut version) = ours.iter().copied().max() else {
        return Ok(Probe::Session("no stateless revision to offer".into()));
    };
    let no_common = |theirs: &[String]| -> Result<Probe, ClientError> {
        if newest_common(session, theirs).is_some() {
            Ok(Probe::Session(format!(
                "it speaks only {} of this client's revisions",
                theirs.join(", ")
            )))
        } else {
            Err(ClientError::UnsupportedVersion {
                ours: list(&[ours, session].concat()),
                theirs: theirs.join(", "),
            })
        }
    };
    // The server may refuse the revision it names (a server behind a
    // balancer, say): try a few times, not forever.
    for _ in 0..3 {
        *lock(&core.stateless) = Some(version);
        core.transport.set_protocol_version(version);
        let options = RequestOptions::new().timeout(timeout);
        let answer = core
            .call(DiscoverParams::METHOD, Value::Null, options, Vec::new())
            .await;
        match answer {
            Ok(value) => {
                let discover = match parse_discover(value) {
                    Ok(d) => d,
                    Err(why) => return Ok(Probe::Session(why)),
                };
                return match newest_common(ours, &discover.supported_versions) {
                    Some(version) => Ok(Probe::Stateless {
                        version,
                        discover: Some(Box::new(discover)),
                    }),
                    None => no_common(&discover.supported_versions),
                };
            }
            Err(ClientError::Server(e)) if is_stateless_error(&e) => {
                if e.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION {
                    let theirs = supported_versions(&e).unwrap_or_default();
                    match newest_common(ours, &theirs) {
                        Some(v) => {
                            tracing::debug!(from = %version, to = %v, "the server refused the revision; trying one it names");
                            version = v;
                            continue;
                        }
                        None => return no_common(&theirs),
                    }
                }
                // A stateless server that refused discovery itself: go on
                // without its description.
                tracing::warn!("the server refused server/discover: {e}");
                return Ok(Probe::Stateless {
                    version,
                    discover: None,
                });
            }
            Err(
                e @ ClientError::Http {
                    status: 401 | 403, ..
                },
            ) => return Err(e),
            Err(ClientError::Server(e)) => {
                return Ok(Probe::Session(format!("server/discover was answered: {e}")))
            }
            Err(ClientError::Http { status, message }) => {
                return Ok(Probe::Session(format!(
                    "server/discover was answered with HTTP {status}: {message}"
                )))
            }
            Err(ClientError::Timeout { .. }) => {
                return Ok(Probe::Session(format!(
                    "no answer to server/discover within {timeout:?}"
                )))
            }
            Err(ClientError::Protocol(why) | ClientError::StreamLost(why)) => {
                return Ok(Probe::Session(why))
            }
            Err(e) => return Err(e),
        }
    }
    Err(ClientError::Protocol(format!(
        "the server kept refusing revision {version}, which it says it speaks"
    )))
}

struct Inner {
    core: Arc<Core>,
    server: InitializeResult,
    version: ProtocolVersion,
    /// Whether the connection speaks the stateless era.
    stateless: bool,
    /// The answer to `server/discover`, in the stateless era.
    discover: Option<DiscoverResult>,
    _tasks: Tasks,
}

impl Drop for Inner {
    /// The last handle went: subscriptions still open end, as the tasks
    /// that fed them stop.
    fn drop(&mut self) {
        self.core
            .shut(ClientError::Closed("the client was dropped".into()));
    }
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
    ///
    /// In the stateless era there is no `initialize`; this is then made from
    /// the answer to `server/discover`: the chosen revision, the
    /// capabilities, the instructions, and the server's identity from
    /// `io.modelcontextprotocol/serverInfo` (`"unknown"` when it gave none).
    /// [`discovery`](Self::discovery) has the answer itself.
    pub fn server(&self) -> &InitializeResult {
        &self.inner.server
    }

    /// The answer to `server/discover`, when the connection speaks the
    /// stateless era (and the server answered it).
    pub fn discovery(&self) -> Option<&DiscoverResult> {
        self.inner.discover.as_ref()
    }

    /// What the client's handler declared.
    pub(crate) fn declared_capabilities(&self) -> &ClientCapabilities {
        &self.inner.core.capabilities
    }

    /// Whether the connection speaks the stateless era (`2026-07-28`): no
    /// session, `_meta` on every request.
    pub fn is_stateless(&self) -> bool {
        self.inner.stateless
    }

    /// What the server offers.
    pub fn server_capabilities(&self) -> &ServerCapabilities {
        &self.inner.server.capabilities
    }

    /// The revision the handshake (or the discovery) settled on.
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
        let params = serde_json::to_value(params)
            .map_err(|e| ClientError::Protocol(format!("params of {}: {e}", P::METHOD)))?;
        let answer = self.exchange(P::METHOD, params, options).await?;
        decode_result(P::METHOD, answer)
    }

    /// Sends a request by method name, for methods this SDK has no type for.
    ///
    /// In the stateless era it gets what typed requests get: `_meta`, the
    /// HTTP headers, the answers to input requests and the cache.
    pub async fn request_raw(
        &self,
        method: &str,
        params: Option<Value>,
        options: RequestOptions,
    ) -> Result<Value, ClientError> {
        self.exchange(method, params.unwrap_or(Value::Null), options)
            .await
    }

    /// Sends a typed notification.
    pub async fn notify<P: NotificationParams>(&self, params: P) -> Result<(), ClientError> {
        self.inner.core.notify(params).await
    }

    /// `ping`: checks that the server is there.
    ///
    /// Revision `2026-07-28` has no `ping`; a stateless connection sends
    /// `server/discover` instead, which every stateless server answers.
    pub async fn ping(&self) -> Result<(), ClientError> {
        if self.inner.stateless {
            return self
                .exchange(
                    DiscoverParams::METHOD,
                    Value::Null,
                    RequestOptions::default(),
                )
                .await
                .map(drop);
        }
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
        let arguments = tool_arguments(arguments)?;
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
    ///
    /// Revision `2026-07-28` has no `resources/subscribe`: on a stateless
    /// connection this fails with [`ClientError::Unsupported`]; use
    /// [`listen`](Self::listen) with `resource_subscriptions`.
    pub async fn subscribe(&self, uri: &str) -> Result<(), ClientError> {
        self.session_only(
            SubscribeParams::METHOD,
            "Client::listen with resource_subscriptions",
        )?;
        self.request(SubscribeParams::new(uri)).await.map(drop)
    }

    /// `resources/unsubscribe` (session era only, as
    /// [`subscribe`](Self::subscribe)).
    pub async fn unsubscribe(&self, uri: &str) -> Result<(), ClientError> {
        self.session_only(UnsubscribeParams::METHOD, "dropping the Subscription")?;
        self.request(UnsubscribeParams::new(uri)).await.map(drop)
    }

    /// `subscriptions/listen` (revision `2026-07-28`): opens a stream of the
    /// notifications `filter` names, and waits for the server to
    /// acknowledge it (within the client's timeout).
    ///
    /// Fails with [`ClientError::Unsupported`] on a session-era connection,
    /// where [`subscribe`](Self::subscribe) and the handler's callbacks do
    /// this.
    pub async fn listen(&self, filter: SubscriptionFilter) -> Result<Subscription, ClientError> {
        if !self.inner.stateless {
            return Err(ClientError::Unsupported(format!(
                "subscriptions/listen is part of revision 2026-07-28; this connection speaks {}: use Client::subscribe and the handler's callbacks",
                self.inner.version
            )));
        }
        let core = &self.inner.core;
        if let Some(reason) = core.closed_reason() {
            return Err(reason);
        }
        let id = core.next_request_id();
        let (tx, notifications) = mpsc::channel(256);
        let (answer, end) = oneshot::channel();
        lock(&core.subscriptions).insert(id.clone(), tx);
        lock(&core.pending).insert(id.clone(), answer);
        // From here on, dropping `subscription` cancels the request.
        let mut subscription = Subscription {
            id: id.clone(),
            acknowledged: SubscriptionFilter::default(),
            notifications,
            end,
            ended: None,
            core: core.clone(),
        };
        let mut params = serde_json::to_value(SubscriptionsListenParams {
            notifications: filter,
            ..Default::default()
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        core.add_stateless_meta(&mut params, None);
        let method = SubscriptionsListenParams::METHOD;
        let request = Message::request(id, method, Some(params));
        let acknowledged = tokio::time::timeout(core.timeout, async {
            core.transport.send(request).await?;
            let first = subscription.notifications.recv().await;
            match first {
                Some(n) if n.method == SubscriptionsAcknowledgedNotificationParams::METHOD => {
                    let ack: SubscriptionsAcknowledgedNotificationParams = parse(n.params)
                        .map_err(|e| {
                            ClientError::Protocol(format!("a malformed acknowledgement: {e}"))
                        })?;
                    Ok(ack.notifications)
                }
                Some(n) => Err(ClientError::Protocol(format!(
                    "the server sent {} on a subscription before acknowledging it",
                    n.method
                ))),
                None => match (&mut subscription.end).await {
                    Ok(Ok(_)) => Err(ClientError::Protocol(
                        "the server ended the subscription before acknowledging it".into(),
                    )),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(core
                        .closed_reason()
                        .unwrap_or_else(|| ClientError::Closed("the connection ended".into()))),
                },
            }
        })
        .await
        .map_err(|_| ClientError::Timeout {
            method: method.to_owned(),
            after: core.timeout,
        })??;
        subscription.acknowledged = acknowledged;
        Ok(subscription)
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
    ///
    /// Revision `2026-07-28` has no `logging/setLevel`: on a stateless
    /// connection the level is kept and sent with every later request, as
    /// `io.modelcontextprotocol/logLevel` in `_meta` (without it, a
    /// stateless server sends no log messages).
    pub async fn set_logging_level(&self, level: LoggingLevel) -> Result<(), ClientError> {
        if self.inner.stateless {
            *lock(&self.inner.core.log_level) = Some(level);
            return Ok(());
        }
        self.request(SetLevelParams::new(level)).await.map(drop)
    }

    /// `notifications/roots/list_changed`: tells the server the roots
    /// changed, so it asks again.
    ///
    /// Revision `2026-07-28` has no such notification (a stateless server
    /// asks for the roots each time it needs them), so on a stateless
    /// connection this does nothing.
    pub async fn notify_roots_list_changed(&self) -> Result<(), ClientError> {
        if self.inner.stateless {
            return Ok(());
        }
        self.notify(RootsListChangedNotificationParams::default())
            .await
    }

    /// Forgets every cached result (stateless era).
    pub fn clear_cache(&self) {
        lock(&self.inner.core.cache).clear();
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

    /// Fails, on a stateless connection, with what to use instead.
    fn session_only(&self, method: &str, instead: &str) -> Result<(), ClientError> {
        if self.inner.stateless {
            return Err(ClientError::Unsupported(format!(
                "{method} does not exist in revision {}; use {instead}",
                self.inner.version
            )));
        }
        Ok(())
    }

    /// Sends a request and gives its final result. In the stateless era,
    /// that is: a fresh cached result if there is one; otherwise the request
    /// with `_meta` and its headers, answering input requests and retrying
    /// while the server needs input, and, when the server says the
    /// `Mcp-Param` headers of a `tools/call` do not match, once more after
    /// reading `tools/list` again.
    pub(crate) async fn exchange(
        &self,
        method: &str,
        params: Value,
        options: RequestOptions,
    ) -> Result<Value, ClientError> {
        let core = &self.inner.core;
        if !self.inner.stateless {
            return core.call(method, params, options, Vec::new()).await;
        }
        // A call declaring other capabilities may get another answer.
        let key = if core.caching && !options.overrides_handler() {
            Cache::key(method, &params)
        } else {
            None
        };
        if let Some(key) = &key {
            if let Some(hit) = lock(&core.cache).get(key) {
                return Ok(hit);
            }
        }
        let mut refreshed = false;
        let (mut value, retried) = loop {
            match self.rounds(method, &params, &options).await {
                Err(ClientError::Server(e))
                    if e.code == ErrorCode::HEADER_MISMATCH
                        && method == CallToolParams::METHOD
                        && core.transport.mirrors_headers()
                        && !refreshed =>
                {
                    tracing::debug!(
                        "the server says the headers do not match: {e}; reading tools/list again"
                    );
                    refreshed = true;
                    lock(&core.cache).forget_method(ListToolsParams::METHOD);
                    self.refresh_tool_headers().await?;
                }
                other => break other?,
            }
        };
        if method == ListToolsParams::METHOD {
            self.screen_tools(&mut value);
        }
        if let (Some(key), false) = (key, retried) {
            lock(&core.cache).put(key, &value);
        }
        Ok(value)
    }

    /// One request, retried with `inputResponses` and `requestState` while
    /// the server answers with an `InputRequiredResult` (at most
    /// [`MAX_INPUT_ROUNDS`] times), and once when its response stream broke.
    /// Also says whether the result came from a retry.
    async fn rounds(
        &self,
        method: &str,
        params: &Value,
        options: &RequestOptions,
    ) -> Result<(Value, bool), ClientError> {
        let core = &self.inner.core;
        let responder = Responder::of(options, &core.handler);
        let mut input: Option<(Option<InputResponses>, Option<String>)> = None;
        let mut rounds = 0;
        let mut reissued = false;
        loop {
            let mut params = params.clone();
            if let Some((responses, state)) = &input {
                if params.is_null() {
                    params = Value::Object(JsonObject::new());
                }
                if let Value::Object(map) = &mut params {
                    if let Some(responses) = responses {
                        let responses = serde_json::to_value(responses)
                            .map_err(|e| ClientError::Protocol(e.to_string()))?;
                        map.insert("inputResponses".into(), responses);
                    }
                    if let Some(state) = state {
                        map.insert("requestState".into(), Value::String(state.clone()));
                    }
                }
            }
            let headers = self.param_headers(method, &params);
            let value = match core.call(method, params, options.clone(), headers).await {
                Err(ClientError::StreamLost(why)) if !reissued => {
                    // The request is lost with its stream; send it again,
                    // under a new id, as 2026-07-28 asks.
                    tracing::debug!(%method, "the response stream broke ({why}); sending the request again");
                    reissued = true;
                    continue;
                }
                other => other?,
            };
            match result_type(method, &value)? {
                ResultType::Complete => return Ok((value, input.is_some())),
                // Only for a client that declared the tasks extension; the
                // caller follows the task (`tasks/get`).
                ResultType::Task if method == CallToolParams::METHOD => {
                    return Ok((value, input.is_some()))
                }
                ResultType::Task => {
                    return Err(ClientError::Protocol(format!(
                        "the server answered {method} with a task, which only tools/call may"
                    )))
                }
                ResultType::InputRequired if INPUT_METHODS.contains(&method) => {}
                ResultType::InputRequired => {
                    return Err(ClientError::Protocol(format!(
                        "the server answered {method} with an InputRequiredResult, which only {} may have",
                        INPUT_METHODS.join(", ")
                    )))
                }
                ResultType::Other(other) => {
                    return Err(ClientError::Protocol(format!(
                        "the server answered {method} with resultType {other:?}, which this client does not know"
                    )))
                }
            }
            rounds += 1;
            if rounds > MAX_INPUT_ROUNDS {
                return Err(ClientError::Protocol(format!(
                    "the server still needed input after {MAX_INPUT_ROUNDS} rounds of {method}; giving up"
                )));
            }
            let asked: InputRequiredResult = decode_result(method, value)?;
            if asked.input_requests.is_none() && asked.request_state.is_none() {
                return Err(ClientError::Protocol(format!(
                    "the server answered {method} with an InputRequiredResult that has neither inputRequests nor requestState"
                )));
            }
            let responses = match asked.input_requests {
                Some(requests) => {
                    let mut responses = InputResponses::new();
                    for (key, request) in requests {
                        let response = self
                            .answer_input(method, &key, request, options, responder.as_ref())
                            .await?;
                        responses.insert(key, response);
                    }
                    Some(responses)
                }
                None => None,
            };
            input = Some((responses, asked.request_state));
        }
    }

    /// Answers one input request with the handler (the call's own, when it
    /// has one), as a request from a session-era server would be: refused
    /// when the capability is not declared, elicitation defaults filled in.
    pub(crate) async fn answer_input(
        &self,
        method: &str,
        key: &str,
        request: InputRequest,
        options: &RequestOptions,
        responder: Option<&Responder>,
    ) -> Result<InputResponse, ClientError> {
        let core = &self.inner.core;
        let (handler, caps) = core.answering(responder);
        let cancel = options.cancellation.clone().unwrap_or_default();
        let cx = RequestContext {
            id: RequestId::String(key.to_owned()),
            cancellation: cancel.child_token(),
        };
        let asked = request.method();
        let answer = async {
            match request {
                InputRequest::CreateMessage(params) => {
                    require(caps.sampling.is_some(), "sampling", asked)?;
                    let result = handler.create_message(params, cx).await?;
                    Ok(InputResponse::CreateMessage(Box::new(result)))
                }
                InputRequest::ListRoots(_) => {
                    require(caps.roots.is_some(), "roots", asked)?;
                    Ok(InputResponse::ListRoots(handler.list_roots(cx).await?))
                }
                InputRequest::Elicit(params) => {
                    require(caps.elicitation.is_some(), "elicitation", asked)?;
                    let mut result = handler.elicit(params.clone(), cx).await?;
                    apply_elicitation_defaults(&params, &mut result);
                    Ok(InputResponse::Elicit(result))
                }
            }
        };
        tokio::select! {
            answer = answer => answer.map_err(|error: Error| ClientError::InputRequest {
                key: key.to_owned(),
                method: asked.to_owned(),
                error,
            }),
            _ = cancel.cancelled() => Err(ClientError::Cancelled { method: method.to_owned() }),
        }
    }

    /// The `Mcp-Param-{Name}` headers of a `tools/call`, from the
    /// `x-mcp-header` annotations of the tool as `tools/list` described it.
    fn param_headers(&self, method: &str, params: &Value) -> Vec<(String, String)> {
        let core = &self.inner.core;
        if method != CallToolParams::METHOD || !core.transport.mirrors_headers() {
            return Vec::new();
        }
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Vec::new();
        };
        let empty = JsonObject::new();
        let arguments = params
            .get("arguments")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let tool_headers = lock(&core.tool_headers);
        let Some(annotated) = tool_headers.get(name) else {
            return Vec::new();
        };
        annotated
            .iter()
            .filter_map(|p| Some((p.header_name(), p.value(arguments)?)))
            .collect()
    }

    /// Drops, from a `tools/list` result, the tools whose `x-mcp-header`
    /// annotations are invalid (with a warning), and remembers the
    /// annotations of the rest (Streamable HTTP only).
    fn screen_tools(&self, value: &mut Value) {
        let core = &self.inner.core;
        if !core.transport.mirrors_headers() {
            return;
        }
        let Some(tools) = value.get_mut("tools").and_then(Value::as_array_mut) else {
            return;
        };
        let mut tool_headers = lock(&core.tool_headers);
        tools.retain(|tool| {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
            let annotated = match tool.get("inputSchema").and_then(Value::as_object) {
                Some(schema) => header_params(schema),
                None => Ok(Vec::new()),
            };
            match annotated {
                Ok(annotated) if annotated.is_empty() => {
                    tool_headers.remove(name);
                    true
                }
                Ok(annotated) => {
                    tool_headers.insert(name.to_owned(), annotated);
                    true
                }
                Err(why) => {
                    tracing::warn!(
                        tool = name,
                        "dropped a tool whose x-mcp-header annotations are invalid: {why}"
                    );
                    tool_headers.remove(name);
                    false
                }
            }
        });
    }

    /// Reads every page of `tools/list` again, for the `x-mcp-header`
    /// annotations.
    async fn refresh_tool_headers(&self) -> Result<(), ClientError> {
        let mut cursor = None;
        for _ in 0..MAX_PAGES {
            let params = serde_json::to_value(ListToolsParams {
                cursor,
                ..Default::default()
            })
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
            let (mut page, _) = self
                .rounds(ListToolsParams::METHOD, &params, &RequestOptions::default())
                .await?;
            self.screen_tools(&mut page);
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if cursor.is_none() {
                return Ok(());
            }
        }
        Ok(())
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

pub(crate) fn decode_result<T: DeserializeOwned>(
    method: &str,
    value: Value,
) -> Result<T, ClientError> {
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
    capabilities: ClientCapabilities,
    /// Calls waiting for their answer, by request id.
    pending: Mutex<HashMap<RequestId, Answer>>,
    /// Progress callbacks, by progress token.
    progress: Mutex<HashMap<ProgressToken, Progress>>,
    /// Server requests being answered, to cancel them.
    serving: Mutex<HashMap<RequestId, CancellationToken>>,
    /// The handlers of calls that have their own, by request id: they
    /// answer the server requests related to that call.
    responders: Mutex<HashMap<RequestId, Responder>>,
    next_id: AtomicI64,
    timeout: Duration,
    closed: Mutex<Option<ClientError>>,
    /// Who the client is, for `_meta` in the stateless era.
    info: Implementation,
    /// The stateless revision requests speak (also while probing).
    stateless: Mutex<Option<ProtocolVersion>>,
    /// The log level set with `set_logging_level`, sent in `_meta`.
    log_level: Mutex<Option<LoggingLevel>>,
    /// Open subscriptions, by the id of their `subscriptions/listen`.
    subscriptions: Mutex<HashMap<RequestId, mpsc::Sender<Notification>>>,
    cache: Mutex<Cache>,
    caching: bool,
    /// The `x-mcp-header` annotations of each tool, from `tools/list`.
    tool_headers: Mutex<HashMap<String, Vec<HeaderParam>>>,
}

impl Core {
    /// The handler that answers the server, and the capabilities it
    /// answers for: a call's own, or else the client's.
    fn answering<'a>(
        &'a self,
        responder: Option<&'a Responder>,
    ) -> (&'a dyn ClientHandler, &'a ClientCapabilities) {
        match responder {
            Some(r) => (&*r.handler, &*r.capabilities),
            None => (&*self.handler, &self.capabilities),
        }
    }

    pub(crate) fn closed_reason(&self) -> Option<ClientError> {
        lock(&self.closed).clone()
    }

    fn next_request_id(&self) -> RequestId {
        RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Adds what a stateless request carries in `_meta`: the revision, the
    /// client's capabilities (or `capabilities`, a call's own) and
    /// identity, and the log level if one was set.
    fn add_stateless_meta(&self, params: &mut Value, capabilities: Option<&ClientCapabilities>) {
        let Some(version) = *lock(&self.stateless) else {
            return;
        };
        if params.is_null() {
            *params = Value::Object(JsonObject::new());
        }
        let Value::Object(map) = params else {
            return;
        };
        let meta = map
            .entry("_meta")
            .or_insert_with(|| Value::Object(JsonObject::new()));
        if !meta.is_object() {
            *meta = Value::Object(JsonObject::new());
        }
        let Value::Object(meta) = meta else {
            return;
        };
        meta.insert(PROTOCOL_VERSION_META_KEY.into(), version.as_str().into());
        if !meta.contains_key(CLIENT_CAPABILITIES_META_KEY) {
            let capabilities = capabilities.unwrap_or(&self.capabilities);
            let capabilities = serde_json::to_value(capabilities).unwrap_or_default();
            meta.insert(CLIENT_CAPABILITIES_META_KEY.into(), capabilities);
        }
        if !meta.contains_key(CLIENT_INFO_META_KEY) {
            let info = serde_json::to_value(&self.info).unwrap_or_default();
            meta.insert(CLIENT_INFO_META_KEY.into(), info);
        }
        if let Some(level) = *lock(&self.log_level) {
            if !meta.contains_key(LOG_LEVEL_META_KEY) {
                let level = serde_json::to_value(level).unwrap_or_default();
                meta.insert(LOG_LEVEL_META_KEY.into(), level);
            }
        }
    }

    /// Ends a subscription the client no longer wants: forgets it and
    /// cancels its `subscriptions/listen` request, unless it already ended.
    pub(crate) fn end_subscription(self: &Arc<Self>, id: &RequestId) {
        lock(&self.subscriptions).remove(id);
        let waiting = lock(&self.pending).remove(id).is_some();
        if !waiting || self.closed_reason().is_some() || self.transport.cancel(id) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let core = self.clone();
            let notice = cancelled(id, "the client closed the subscription");
            runtime.spawn(notify_cancelled(core, notice));
        }
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
        lock(&self.responders).clear();
        lock(&self.subscriptions).clear();
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
    /// `headers` go with the request over HTTP (the `Mcp-Param` headers).
    async fn call(
        self: &Arc<Self>,
        method: &str,
        params: impl serde::Serialize,
        options: RequestOptions,
        headers: Vec<(String, String)>,
    ) -> Result<Value, ClientError> {
        if let Some(reason) = self.closed_reason() {
            return Err(reason);
        }
        let mut params = serde_json::to_value(params)
            .map_err(|e| ClientError::Protocol(format!("params of {method}: {e}")))?;
        let responder = Responder::of(&options, &self.handler);
        self.add_stateless_meta(&mut params, responder.as_ref().map(|r| &*r.capabilities));
        let id = self.next_request_id();
        let (tx, mut rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        if let Some(responder) = responder {
            lock(&self.responders).insert(id.clone(), responder);
        }
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
        let send = self
            .transport
            .send_with_headers(Message::request(id, method, params), headers);
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

    /// Delivers an answer to the call waiting for it (which, for a
    /// subscription, ends it).
    fn resolve(&self, id: RequestId, answer: Result<Value, ClientError>) {
        lock(&self.subscriptions).remove(&id);
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
        if self.core.transport.cancel(&self.id) {
            return; // closing the response stream said it
        }
        notify_cancelled(self.core.clone(), cancelled(&self.id, reason)).await;
    }
}

/// How long telling the server of a cancellation may take: a hung server
/// must not hold the timed-out or cancelled call (or a task) forever.
const CANCEL_NOTICE_TIMEOUT: Duration = Duration::from_secs(5);

async fn notify_cancelled(core: Arc<Core>, notice: CancelledNotificationParams) {
    if tokio::time::timeout(CANCEL_NOTICE_TIMEOUT, core.notify(notice))
        .await
        .is_err()
    {
        tracing::debug!("the server did not take a cancellation within {CANCEL_NOTICE_TIMEOUT:?}");
    }
}

fn cancelled(id: &RequestId, reason: &str) -> CancelledNotificationParams {
    CancelledNotificationParams::new(id.clone()).with_reason(reason)
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.core.pending).remove(&self.id);
        lock(&self.core.responders).remove(&self.id);
        if let Some(token) = &self.token {
            lock(&self.core.progress).remove(token);
        }
        if !self.armed
            || self.core.closed_reason().is_some()
            || self.core.transport.cancel(&self.id)
        {
            return;
        }
        // The caller dropped the call before its answer came.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let core = self.core.clone();
            let notice = cancelled(&self.id, "the caller stopped waiting");
            tracing::debug!(id = %self.id, method = %self.method, "call dropped; cancelling it");
            runtime.spawn(notify_cancelled(core, notice));
        }
    }
}

/// Reads what the transport delivers until it ends: answers go to their
/// calls, requests to the handler, notifications (in order) to the notifier.
async fn read_loop(core: Arc<Core>, notifications: mpsc::Sender<ForHandler>) {
    let reason = loop {
        let Some(incoming) = core.transport.receive().await else {
            break ClientError::Closed("the transport ended".into());
        };
        let (message, related) = match incoming {
            Incoming::Message(message) => (message, None),
            Incoming::Related { request, message } => (message, Some(request)),
            Incoming::Failed { id, error } => {
                core.resolve(id, Err(error));
                continue;
            }
            Incoming::Closed(reason) => break reason,
        };
        match message {
            Message::Response(Response { id, result }) => core.resolve(id, Ok(result)),
            Message::Error(ErrorResponse {
                id: Some(id),
                error,
            }) => core.resolve(id, Err(ClientError::Server(error))),
            Message::Error(ErrorResponse { id: None, error }) => {
                tracing::warn!("the server sent an error without an id: {error}");
            }
            Message::Request(request) => {
                // The handler of the call it came with, if that call has
                // its own and is still waiting.
                let responder = related.and_then(|id| lock(&core.responders).get(&id).cloned());
                let core = core.clone();
                tokio::spawn(serve_request(core, request, responder));
            }
            Message::Notification(n) => {
                if let Some(n) = core.intercept(n) {
                    // A log message on the stream of a call with its own
                    // handler is that call's (a gateway relays it to the
                    // upstream request that made the call).
                    let handler = match related {
                        Some(id)
                            if n.method == mcp_sdk::LoggingMessageNotificationParams::METHOD =>
                        {
                            lock(&core.responders).get(&id).map(|r| r.handler.clone())
                        }
                        _ => None,
                    };
                    if notifications.send((n, handler)).await.is_err() {
                        break ClientError::Closed("the client was dropped".into());
                    }
                }
            }
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
        if self.caching {
            lock(&self.cache).invalidate(&n);
        }
        if let Some(id) = subscription_of(&n) {
            let subscription = lock(&self.subscriptions).get(&id).cloned();
            if let Some(tx) = subscription {
                if tx.try_send(n.clone()).is_err() {
                    tracing::warn!(%id, method = %n.method, "a subscription is not being read; dropped a notification");
                }
            }
        }
        match n.method.as_str() {
            SubscriptionsAcknowledgedNotificationParams::METHOD => None,
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

/// The subscription a notification belongs to, from its `_meta`.
fn subscription_of(n: &Notification) -> Option<RequestId> {
    let id = n
        .params
        .as_ref()?
        .get("_meta")?
        .get(SUBSCRIPTION_ID_META_KEY)?;
    serde_json::from_value(id.clone()).ok()
}

/// Answers one request from the server with the handler (the one of the
/// call it belongs to, if given), unless the server cancels it first (then
/// nothing is sent, as the spec asks).
async fn serve_request(core: Arc<Core>, request: Request, responder: Option<Responder>) {
    let Request { id, method, params } = request;
    let token = CancellationToken::new();
    lock(&core.serving).insert(id.clone(), token.clone());
    let cx = RequestContext {
        id: id.clone(),
        cancellation: token.clone(),
    };
    let answer = tokio::select! {
        answer = answer_request(&core, &method, params, cx, responder.as_ref()) => answer,
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
    responder: Option<&Responder>,
) -> Result<Value, Error> {
    let (handler, caps) = core.answering(responder);
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

/// A notification for the handler callbacks, and the handler of the call
/// it belongs to when that is not the client's.
type ForHandler = (Notification, Option<Arc<dyn ClientHandler>>);

/// Runs the handlers' notification callbacks one at a time, in the order
/// the server sent them.
async fn notify_loop(handler: Arc<dyn ClientHandler>, mut rx: mpsc::Receiver<ForHandler>) {
    while let Some((Notification { method, params }, own)) = rx.recv().await {
        let handler = own.as_deref().unwrap_or(&*handler);
        if let Err(e) = deliver(handler, &method, params).await {
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

/// Tool arguments as the params carry them: an object, or none for `null`.
pub(crate) fn tool_arguments(
    arguments: impl serde::Serialize,
) -> Result<Option<JsonObject>, ClientError> {
    match serde_json::to_value(arguments) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        Ok(other) => Err(ClientError::Server(Error::invalid_params(format_args!(
            "tool arguments must be a JSON object, not {other}"
        )))),
        Err(e) => Err(ClientError::Server(Error::invalid_params(e))),
    }
}
