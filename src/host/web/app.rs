//! [`App`]: what stands behind the page. It keeps one connection to the
//! MCP server (reconnecting with backoff when it is lost), runs what the
//! page asks through it, and pushes everything that happens to the open
//! pages as [`Events`].

use super::dialogs::{Dialogs, WebApprover, WebElicitor, DEFAULT_DIALOG_TIMEOUT};
use super::events::Events;
use super::http::ApiError;
use super::sign_in::WebSignIn;
use crate::host::chat::{Answer, Chat, ChatEvent, EventSink};
use crate::host::connect::{connect, Target, DEFAULT_CONNECT_TIMEOUT};
use crate::host::error::HostError;
use crate::host::handler::{directory_root, HostHandler, Notice, SharedRoots};
use crate::host::history::{self, History};
use crate::host::llm::Llm;
use crate::host::sign_in::SignIn;
use http::StatusCode;
use mcp_sdk::{CompleteParams, ErrorCode, ProgressNotificationParams, Root, SubscriptionFilter};
use mcp_sdk_client::auth::FileTokenStore;
use mcp_sdk_client::{Client, ClientError, Era, RequestOptions};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// The longest wait between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How often the session manager's `/health` is read for the servers'
/// states, while a page is open.
const SERVERS_POLL: Duration = Duration::from_secs(2);

/// How the web UI connects and behaves.
pub struct Options {
    /// The MCP server.
    pub target: Target,
    /// The protocol era.
    pub era: Era,
    /// The model for the chat and for servers' sampling requests.
    pub llm: Arc<dyn Llm>,
    /// The roots offered at the start.
    pub roots: Vec<Root>,
    /// Approve sampling requests without asking.
    pub auto_approve: bool,
    /// How long a request may go without an answer (a tool call: without
    /// progress either).
    pub timeout: Duration,
    /// How long a dialog waits for the person.
    pub dialog_timeout: Duration,
    /// Where the tokens of servers that ask for OAuth are kept; `None`:
    /// such servers cannot be signed in to.
    pub token_store: Option<FileTokenStore>,
    /// Whether the page may connect to a server by command (a local
    /// process launch): not when the UI listens beyond loopback.
    pub allow_commands: bool,
}

impl Options {
    /// The defaults for `target`, with `llm`.
    pub fn new(target: Target, llm: Arc<dyn Llm>) -> Self {
        Options {
            target,
            era: Era::Auto,
            llm,
            roots: Vec::new(),
            auto_approve: false,
            timeout: Duration::from_secs(120),
            dialog_timeout: DEFAULT_DIALOG_TIMEOUT,
            token_store: None,
            allow_commands: true,
        }
    }
}

/// The body of `POST /api/connect`: a URL or a command line, and an era.
#[derive(Debug, Deserialize)]
pub struct Connect {
    /// A Streamable HTTP endpoint.
    pub url: Option<String>,
    /// A command line serving MCP on stdio.
    pub command: Option<String>,
    /// `auto` (the default), `session` or `stateless`.
    pub era: Option<String>,
}

/// The connection's state, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Connecting,
    Connected,
    Disconnected,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Disconnected => "disconnected",
        }
    }
}

struct Link {
    status: Status,
    client: Option<Client>,
    error: Option<String>,
    /// The [`Server::generation`] this is the state of.
    generation: u64,
}

/// The server the page asked for, and how.
#[derive(Clone)]
struct Server {
    target: Target,
    era: Era,
    /// Counts the page's changes of server (0: the one of the command line).
    generation: u64,
}

/// The web UI's backend.
pub struct App {
    /// The server to keep connected to; the page changes it.
    server: watch::Sender<Server>,
    allow_commands: bool,
    /// Every message exchanged with the servers.
    history: Arc<History>,
    timeout: Duration,
    auto_approve: bool,
    llm: Arc<dyn Llm>,
    handler: HostHandler,
    roots: SharedRoots,
    events: Arc<Events>,
    dialogs: Arc<Dialogs>,
    link: Mutex<Link>,
    /// Woken to drop the connection and make a new one at once (no permit
    /// is kept: a wish to reconnect made while connecting is moot).
    reconnect: Arc<Notify>,
    /// The conversation; locked for a whole turn, so one runs at a time.
    chat: tokio::sync::Mutex<Option<Chat>>,
    subscriptions: Mutex<BTreeSet<String>>,
    /// The `subscriptions/listen` stream of a stateless connection.
    listener: Mutex<Option<JoinHandle<()>>>,
    /// The session manager's servers, from its `/health`.
    servers: Mutex<Option<Value>>,
    /// The page's part of OAuth sign-ins.
    web_sign_in: Arc<WebSignIn>,
    /// OAuth for the connection, if there is a token store.
    sign_in: Option<SignIn>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl App {
    /// The backend; nothing connects until [`start`](Self::start).
    pub fn new(options: Options) -> Arc<App> {
        let events = Arc::new(Events::default());
        let dialogs = Arc::new(Dialogs::new(events.clone(), options.dialog_timeout));
        let sink = events.clone();
        let history_sink = events.clone();
        let history = History::new(Some(Box::new(move |entry| {
            history_sink.send("history", entry)
        })));
        let handler = HostHandler::new(
            options.llm.clone(),
            Arc::new(WebApprover {
                dialogs: dialogs.clone(),
                auto: options.auto_approve,
            }),
        )
        .roots(options.roots)
        // The page renders MCP Apps in sandboxed frames.
        .apps()
        .elicitor(Arc::new(WebElicitor {
            dialogs: dialogs.clone(),
        }))
        .notices(Arc::new(move |notice| publish_notice(&sink, notice)));
        Arc::new_cyclic(|app: &Weak<App>| {
            let app = app.clone();
            let web_sign_in = Arc::new(WebSignIn::new(move || {
                if let Some(app) = app.upgrade() {
                    app.publish_state();
                }
            }));
            let sign_in = options.token_store.map(|store| {
                let handler: Arc<dyn mcp_sdk_client::auth::AuthorizationHandler> =
                    web_sign_in.clone();
                SignIn::new(store, handler)
            });
            App {
                server: watch::Sender::new(Server {
                    target: options.target,
                    era: options.era,
                    generation: 0,
                }),
                allow_commands: options.allow_commands,
                history: Arc::new(history),
                timeout: options.timeout,
                auto_approve: options.auto_approve,
                llm: options.llm,
                roots: handler.shared_roots(),
                handler,
                events,
                dialogs,
                link: Mutex::new(Link {
                    status: Status::Connecting,
                    client: None,
                    error: None,
                    generation: 0,
                }),
                reconnect: Arc::new(Notify::new()),
                chat: tokio::sync::Mutex::new(None),
                subscriptions: Mutex::new(BTreeSet::new()),
                listener: Mutex::new(None),
                servers: Mutex::new(None),
                web_sign_in,
                sign_in,
            }
        })
    }

    /// Starts connecting (and keeping connected) and watching the servers'
    /// states; abort the tasks to stop.
    pub fn start(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(keep_connected(
                Arc::downgrade(self),
                self.server.subscribe(),
            )),
            tokio::spawn(poll_servers(Arc::downgrade(self))),
        ]
    }

    /// The event hub.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// The dialogs waiting for the person.
    pub fn dialogs(&self) -> &Arc<Dialogs> {
        &self.dialogs
    }

    /// The page's part of OAuth sign-ins.
    pub fn web_sign_in(&self) -> &WebSignIn {
        &self.web_sign_in
    }

    /// What `GET /api/state` answers and every `state` event carries.
    pub fn state(&self) -> Value {
        let link = lock(&self.link);
        let client = link.client.as_ref();
        let connection = json!({
            "status": link.status.as_str(),
            "target": self.server.borrow().target.to_string(),
            "era": client.map(|c| if c.is_stateless() { "stateless" } else { "session" }),
            "protocolVersion": client.map(|c| c.protocol_version().as_str().to_owned()),
            "server": client.map(|c| &c.server().server_info),
            "capabilities": client.map(|c| c.server_capabilities()),
            "instructions": client.and_then(|c| c.server().instructions.clone()),
            "error": link.error,
        });
        drop(link);
        json!({
            "connection": connection,
            "model": { "label": self.llm.label(), "offline": self.llm.is_offline() },
            "autoApprove": self.auto_approve,
            "allowCommands": self.allow_commands,
            "roots": self.roots.get(),
            "subscriptions": *lock(&self.subscriptions),
            "servers": *lock(&self.servers),
            "signIn": self.web_sign_in.pending_url().map(|url| json!({ "url": url })),
        })
    }

    fn publish_state(&self) {
        self.events.send("state", &self.state());
    }

    fn set_link(
        &self,
        generation: u64,
        status: Status,
        client: Option<Client>,
        error: Option<String>,
    ) {
        *lock(&self.link) = Link {
            status,
            client,
            error,
            generation,
        };
        self.publish_state();
    }

    /// The connected client, or 503 saying why there is none.
    pub fn client(&self) -> Result<Client, ApiError> {
        let link = lock(&self.link);
        match (&link.client, link.status) {
            (Some(client), Status::Connected) => Ok(client.clone()),
            (_, status) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "not connected to {} ({}{})",
                    self.server.borrow().target,
                    status.as_str(),
                    link.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            )),
        }
    }

    /// Drops the connection and makes a new one now.
    pub fn reconnect(&self) {
        self.reconnect.notify_waiters();
    }

    /// Connects to another server instead (the page's Connect form): a
    /// URL, or a command line run as a local process (when allowed), in
    /// `era` (`auto`, `session` or `stateless`). The conversation and the
    /// subscriptions, which were the old server's, are dropped. Waits for
    /// the first attempt: the state once connected (or still signing in),
    /// 502 with the reason when it failed.
    pub async fn switch(&self, to: &Connect) -> Result<Value, ApiError> {
        let era = match to.era.as_deref().unwrap_or("auto") {
            "auto" => Era::Auto,
            "session" => Era::SessionOnly,
            "stateless" => Era::StatelessOnly,
            other => {
                return Err(ApiError::bad_request(format!(
                    "the era must be auto, session or stateless, not {other:?}"
                )))
            }
        };
        let target = match (to.url.as_deref().map(str::trim), to.command.as_deref()) {
            (Some(url), None) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(ApiError::bad_request(format!(
                    "the URL must start with http:// or https://, such as \
                     http://127.0.0.1:5000/mcp; {url:?} does not"
                )))
            }
            (Some(url), None) => Target::url(url),
            (None, Some(_)) if !self.allow_commands => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "connecting by command runs a program on this machine, which a UI \
                     listening beyond loopback (--any-address) does not allow",
                ))
            }
            (None, Some(line)) => Target::command_line(line),
            _ => {
                return Err(ApiError::bad_request(
                    "give either \"url\" (http:// or https://) or \"command\" (a command line)",
                ))
            }
        }
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut chat = self.chat.try_lock().map_err(|_| {
            ApiError::new(
                StatusCode::CONFLICT,
                "a chat turn is running; wait for its answer before changing servers",
            )
        })?;
        *chat = None;
        drop(chat);
        lock(&self.subscriptions).clear();
        *lock(&self.servers) = None;
        let mut generation = 0;
        self.server.send_modify(|server| {
            server.generation += 1;
            generation = server.generation;
            server.target = target;
            server.era = era;
        });
        let settled =
            tokio::time::timeout(DEFAULT_CONNECT_TIMEOUT + Duration::from_secs(1), async {
                loop {
                    {
                        let link = lock(&self.link);
                        if link.generation == generation && link.status != Status::Connecting {
                            return (link.status, link.error.clone());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await;
        match settled {
            Ok((Status::Disconnected, error)) => Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                error.unwrap_or_else(|| "the connection was closed".into()),
            )),
            _ => Ok(self.state()),
        }
    }

    /// `ping`, timed: `{"ms": round trip}`.
    pub async fn ping(&self) -> Result<Value, ApiError> {
        let start = std::time::Instant::now();
        self.request("ping", |c| async move { c.ping().await })
            .await?;
        Ok(json!({ "ms": start.elapsed().as_secs_f64() * 1000.0 }))
    }

    /// `{"entries": [...] (oldest first), "capacity": N}`.
    pub fn history(&self) -> Value {
        json!({ "entries": self.history.entries(), "capacity": history::CAPACITY })
    }

    /// Forgets the history.
    pub fn clear_history(&self) {
        self.history.clear();
    }

    /// The answer to a failed MCP request: the server's own error as 400
    /// (the request was wrong) or 502, a timeout as 504, a lost
    /// connection as 503 (and a reconnection begins).
    fn failed(&self, action: &str, error: ClientError) -> ApiError {
        let status = match &error {
            ClientError::Server(e)
                if e.code == ErrorCode::INVALID_PARAMS || e.code == ErrorCode::METHOD_NOT_FOUND =>
            {
                StatusCode::BAD_REQUEST
            }
            ClientError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ClientError::Closed(_) | ClientError::SessionExpired(_) | ClientError::Transport(_) => {
                self.reconnect();
                StatusCode::SERVICE_UNAVAILABLE
            }
            ClientError::Unsupported(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError::new(status, format!("{action} failed: {error}"))
    }

    /// Runs `request` on the client within the timeout.
    async fn request<T, F>(
        &self,
        action: &str,
        request: impl FnOnce(Client) -> F,
    ) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ClientError>>,
    {
        let client = self.client()?;
        match tokio::time::timeout(self.timeout, request(client)).await {
            Ok(result) => result.map_err(|e| self.failed(action, e)),
            Err(_) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("{action} got no answer within {} s", self.timeout.as_secs()),
            )),
        }
    }

    /// `{"tools": [...]}`.
    pub async fn tools(&self) -> Result<Value, ApiError> {
        let tools = self
            .request("tools/list", |c| async move { c.list_all_tools().await })
            .await?;
        Ok(json!({ "tools": tools }))
    }

    /// Calls a tool, publishing its progress; `{"result": CallToolResult}`.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let client = self.client()?;
        let events = self.events.clone();
        let tool = name.to_owned();
        let options = RequestOptions::new()
            .timeout(self.timeout)
            .reset_timeout_on_progress()
            .on_progress(move |p| publish_progress(&events, Some(&tool), &p));
        // A -32042 error shows its pages to the user (the elicitor asks
        // first) and, accepted, the call is made once more.
        let result = client
            .call_tool_answering_url_elicitation(name, arguments, options)
            .await
            .map_err(|e| self.failed(&format!("tools/call {name}"), e))?;
        Ok(json!({ "result": result }))
    }

    /// `{"resources": [...], "templates": [...]}`; a server without
    /// resources has none of either.
    pub async fn resources(&self) -> Result<Value, ApiError> {
        if self.client()?.server_capabilities().resources.is_none() {
            return Ok(json!({ "resources": [], "templates": [] }));
        }
        let resources = self
            .request(
                "resources/list",
                |c| async move { c.list_all_resources().await },
            )
            .await?;
        let templates = self
            .request("resources/templates/list", |c| async move {
                c.list_all_resource_templates().await
            })
            .await?;
        Ok(json!({ "resources": resources, "templates": templates }))
    }

    /// `{"result": ReadResourceResult}`.
    pub async fn read(&self, uri: &str) -> Result<Value, ApiError> {
        let owned = uri.to_owned();
        let result = self
            .request(&format!("resources/read {uri}"), |c| async move {
                c.read_resource(&owned).await
            })
            .await?;
        Ok(json!({ "result": result }))
    }

    /// Subscribes to (or unsubscribes from) a resource's updates;
    /// `{"subscriptions": [...]}`.
    pub async fn subscribe(self: &Arc<Self>, uri: &str, on: bool) -> Result<Value, ApiError> {
        let client = self.client()?;
        if client.is_stateless() {
            // One `subscriptions/listen` stream carries every URI: it is
            // opened anew with the new set.
            set_membership(&mut lock(&self.subscriptions), uri, on);
            self.listen(&client);
        } else {
            let owned = uri.to_owned();
            let action = if on {
                "resources/subscribe"
            } else {
                "resources/unsubscribe"
            };
            self.request(&format!("{action} {uri}"), |c| async move {
                if on {
                    c.subscribe(&owned).await
                } else {
                    c.unsubscribe(&owned).await
                }
            })
            .await?;
            set_membership(&mut lock(&self.subscriptions), uri, on);
        }
        self.publish_state();
        Ok(json!({ "subscriptions": *lock(&self.subscriptions) }))
    }

    /// `{"prompts": [...]}`.
    pub async fn prompts(&self) -> Result<Value, ApiError> {
        if self.client()?.server_capabilities().prompts.is_none() {
            return Ok(json!({ "prompts": [] }));
        }
        let prompts = self
            .request(
                "prompts/list",
                |c| async move { c.list_all_prompts().await },
            )
            .await?;
        Ok(json!({ "prompts": prompts }))
    }

    /// `{"result": GetPromptResult}`.
    pub async fn prompt(
        &self,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let mut texts = Vec::new();
        for (key, value) in arguments {
            match value {
                Value::String(s) => texts.push((key, s)),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "prompt arguments are text; {key} is {other}"
                    )))
                }
            }
        }
        let owned = name.to_owned();
        let result = self
            .request(&format!("prompts/get {name}"), |c| async move {
                c.get_prompt(&owned, texts).await
            })
            .await?;
        Ok(json!({ "result": result }))
    }

    /// `completion/complete`: `{"completion": {...}}`.
    pub async fn complete(&self, params: CompleteParams) -> Result<Value, ApiError> {
        let result = self
            .request("completion/complete", |c| async move {
                c.complete(params).await
            })
            .await?;
        Ok(json!({ "completion": result.completion }))
    }

    /// One chat turn; its steps go out as `chat` events meanwhile. 409 when
    /// a turn is already running.
    pub async fn chat(&self, message: &str) -> Result<Value, ApiError> {
        if message.trim().is_empty() {
            return Err(ApiError::bad_request("the message is empty"));
        }
        let client = self.client()?;
        let mut chat = self.chat.try_lock().map_err(|_| {
            ApiError::new(
                StatusCode::CONFLICT,
                "a chat turn is already running; wait for its answer",
            )
        })?;
        let chat = match chat.as_mut() {
            Some(chat) => {
                // After a reconnection the conversation goes on through the
                // new connection.
                chat.set_client(client);
                chat
            }
            None => {
                let events = self.events.clone();
                let sink: EventSink = Arc::new(move |event| publish_chat(&events, event));
                let mut new = Chat::new(client, self.llm.clone(), sink);
                new.tool_timeout = self.timeout;
                chat.insert(new)
            }
        };
        match chat.send(message).await {
            Ok(Answer { text, tool_runs }) => {
                let runs: Vec<Value> = tool_runs
                    .iter()
                    .map(|r| {
                        json!({"name": r.name, "arguments": r.arguments, "result": r.result,
                               "isError": r.is_error})
                    })
                    .collect();
                Ok(json!({ "answer": text, "toolRuns": runs }))
            }
            Err(HostError::Mcp { action, error }) => Err(self.failed(&action, *error)),
            Err(e @ HostError::Llm(_)) => {
                Err(ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))
            }
            Err(e) => Err(ApiError::new(StatusCode::BAD_GATEWAY, e.to_string())),
        }
    }

    /// Forgets the conversation (waiting for a running turn to end).
    pub async fn reset_chat(&self) {
        *self.chat.lock().await = None;
    }

    /// Adds a directory as a root, or removes a root by URI; tells the
    /// server. `{"roots": [...]}`.
    pub async fn change_roots(
        &self,
        add: Option<&str>,
        remove: Option<&str>,
    ) -> Result<Value, ApiError> {
        match (add, remove) {
            (Some(dir), None) => {
                let root = directory_root(Path::new(dir)).map_err(ApiError::bad_request)?;
                let added = self.roots.update(|roots| {
                    let new = !roots.iter().any(|r| r.uri == root.uri);
                    if new {
                        roots.push(root);
                    }
                    new
                });
                if !added {
                    return Err(ApiError::bad_request(format!("{dir} is a root already")));
                }
            }
            (None, Some(uri)) => {
                let removed = self.roots.update(|roots| {
                    let before = roots.len();
                    roots.retain(|r| r.uri != uri);
                    roots.len() != before
                });
                if !removed {
                    return Err(ApiError::not_found(format!("no root has the URI {uri}")));
                }
            }
            _ => {
                return Err(ApiError::bad_request(
                    "give either \"add\" (a directory) or \"remove\" (a root's URI)",
                ))
            }
        }
        if let Ok(client) = self.client() {
            // A session-era server asks for the roots again; a stateless one
            // gets them with its next input request.
            if !client.is_stateless() {
                if let Err(e) = client.notify_roots_list_changed().await {
                    tracing::warn!("could not tell the server the roots changed: {e}");
                }
            }
        }
        self.publish_state();
        Ok(json!({ "roots": self.roots.get() }))
    }

    /// Opens (or reopens, with the current set of URIs) the
    /// `subscriptions/listen` stream of a stateless connection. Its
    /// notifications reach the handler's callbacks, which publish them
    /// (as in the session era); the stream is only held open here, and a
    /// stream that breaks means the server has most likely gone.
    fn listen(self: &Arc<Self>, client: &Client) {
        let filter = SubscriptionFilter::default()
            .with_tools_list_changed(true)
            .with_prompts_list_changed(true)
            .with_resources_list_changed(true)
            .with_resource_subscriptions(lock(&self.subscriptions).iter().cloned().collect());
        let (client, events, app) = (client.clone(), self.events.clone(), Arc::downgrade(self));
        let task = tokio::spawn(async move {
            let mut subscription = match client.listen(filter).await {
                Ok(subscription) => subscription,
                Err(e) => {
                    publish_host_log(&events, "warning", format!("live updates unavailable: {e}"));
                    return;
                }
            };
            while subscription.next().await.is_some() {}
            if let (Some(Err(_)), Some(app)) = (subscription.end(), app.upgrade()) {
                app.reconnect();
            }
        });
        if let Some(old) = lock(&self.listener).replace(task) {
            old.abort();
        }
    }

    /// A new connection: subscriptions are made again on it.
    async fn connected(self: &Arc<Self>, generation: u64, client: Client) {
        self.set_link(generation, Status::Connected, Some(client.clone()), None);
        if client.is_stateless() {
            self.listen(&client);
            return;
        }
        let uris: Vec<String> = lock(&self.subscriptions).iter().cloned().collect();
        for uri in uris {
            if let Err(e) = client.subscribe(&uri).await {
                publish_host_log(
                    &self.events,
                    "warning",
                    format!("could not subscribe to {uri} again: {e}"),
                );
                lock(&self.subscriptions).remove(&uri);
            }
        }
    }
}

fn set_membership(set: &mut BTreeSet<String>, uri: &str, on: bool) {
    if on {
        set.insert(uri.to_owned());
    } else {
        set.remove(uri);
    }
}

/// Connects, watches the connection, and connects again when it is lost
/// (or a reconnection is asked for), waiting longer after each failure;
/// goes to the new server at once when the page changes it.
async fn keep_connected(app: Weak<App>, mut server: watch::Receiver<Server>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let Some(this) = app.upgrade() else { return };
        let Server {
            target,
            era,
            generation,
        } = server.borrow_and_update().clone();
        this.set_link(generation, Status::Connecting, None, None);
        let attempt = connect(
            &target,
            era,
            this.handler.clone(),
            DEFAULT_CONNECT_TIMEOUT,
            this.sign_in.as_ref(),
            Some(&this.history),
        );
        let attempt = tokio::select! {
            attempt = attempt => attempt,
            _ = server.changed() => continue,
        };
        match attempt {
            Ok(client) => {
                backoff = Duration::from_secs(1);
                this.connected(generation, client.clone()).await;
                let reason = tokio::select! {
                    reason = watch_link(&this, &client) => Some(reason),
                    _ = server.changed() => None,
                };
                if let Some(listener) = lock(&this.listener).take() {
                    listener.abort();
                }
                client.close().await;
                if let Some(reason) = reason {
                    this.set_link(generation, Status::Disconnected, None, Some(reason));
                }
            }
            Err(e) => {
                this.set_link(generation, Status::Disconnected, None, Some(e.to_string()));
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let reconnect = this.reconnect.clone();
                let asked = reconnect.notified();
                drop(this);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = asked => {}
                    _ = server.changed() => backoff = Duration::from_secs(1),
                }
            }
        }
    }
}

/// Waits until the connection is closed or a reconnection is asked for;
/// says which.
async fn watch_link(app: &App, client: &Client) -> String {
    let asked = app.reconnect.notified();
    tokio::pin!(asked);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                if client.is_closed() {
                    return "the connection was closed".to_owned();
                }
            }
            _ = &mut asked => return "reconnecting".to_owned(),
        }
    }
}

/// Reads the session manager's `/health` while a page is open, and
/// publishes the state when its servers' states change.
async fn poll_servers(app: Weak<App>) {
    loop {
        let Some(this) = app.upgrade() else { return };
        // The session manager's base: its URL without `/mcp`.
        let base = match &this.server.borrow().target {
            Target::Url(url) => Some(
                url.trim_end_matches('/')
                    .trim_end_matches("/mcp")
                    .to_owned(),
            ),
            Target::Command(_) => None,
        };
        let due = this.events.listeners() > 0 || lock(&this.servers).is_none();
        if let (Some(base), true) = (base, due) {
            let servers = crate::system::get_health(&base)
                .await
                .ok()
                .and_then(|health| health.get("downstream").cloned());
            let changed = {
                let mut known = lock(&this.servers);
                let changed = *known != servers;
                *known = servers;
                changed
            };
            if changed {
                this.publish_state();
            }
        }
        drop(this);
        tokio::time::sleep(SERVERS_POLL).await;
    }
}

/// A server's notice as an event.
fn publish_notice(events: &Events, notice: Notice) {
    match notice {
        Notice::Log(log) => events.send(
            "log",
            &json!({
                "level": log.level, "logger": log.logger, "data": log.data,
                "time": crate::servers::utc_timestamp(std::time::SystemTime::now()),
            }),
        ),
        Notice::Progress(p) => publish_progress(events, None, &p),
        Notice::ListChanged(what) => events.send("listChanged", &json!({ "what": what })),
        Notice::ResourceUpdated(uri) => events.send("resourceUpdated", &json!({ "uri": uri })),
    }
}

/// Something the host itself has to say, in the log.
fn publish_host_log(events: &Events, level: &str, message: String) {
    tracing::warn!("{message}");
    events.send(
        "log",
        &json!({
            "level": level, "logger": "host", "data": message,
            "time": crate::servers::utc_timestamp(std::time::SystemTime::now()),
        }),
    );
}

fn publish_progress(events: &Events, name: Option<&str>, p: &ProgressNotificationParams) {
    events.send(
        "progress",
        &json!({ "name": name, "progress": p.progress, "total": p.total, "message": p.message }),
    );
}

/// A step of a chat turn as an event.
fn publish_chat(events: &Events, event: ChatEvent) {
    let data = match event {
        ChatEvent::Text(text) => json!({ "kind": "text", "text": text }),
        ChatEvent::ToolCall { name, arguments } => {
            json!({ "kind": "toolCall", "name": name, "arguments": arguments })
        }
        ChatEvent::ToolResult {
            name,
            text,
            is_error,
        } => json!({ "kind": "toolResult", "name": name, "text": text, "isError": is_error }),
        ChatEvent::Rejected { name, reason } => {
            json!({ "kind": "rejected", "name": name, "reason": reason })
        }
        ChatEvent::Progress {
            name,
            progress,
            total,
            message,
        } => json!({ "kind": "progress", "name": name, "progress": progress, "total": total,
                     "message": message }),
    };
    events.send("chat", &data);
}
