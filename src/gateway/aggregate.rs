//! The gateway as an MCP server: the downstream servers' lists merged
//! (tools and prompts renamed `<server>__<name>`, see [`names`]), pages
//! walked across servers, and each call routed to the server that owns
//! what it names.

use super::config::Target;
use super::downstream::Downstream;
use super::names::{self, Position};
use super::relay::Upstream;
use super::replicas::{session_of, too_many_subscriptions, unavailable};
use super::scopes;
use super::Gateway;
use mcp_sdk::{
    CallToolParams, CallToolResult, CompleteParams, CompleteResult, CompletionReference, Error,
    GetPromptParams, GetPromptResult, Implementation, ListPromptsParams, ListPromptsResult,
    ListResourceTemplatesParams, ListResourceTemplatesResult, ListResourcesParams,
    ListResourcesResult, ListToolsParams, ListToolsResult, ProgressNotificationParams,
    PromptsCapability, ReadResourceParams, ReadResourceResult, ResourcesCapability,
    ServerCapabilities, ServerTasksCapability, SubscribeParams, TaskSupport, Tool, ToolsCapability,
    UnsubscribeParams,
};
use mcp_sdk_client::{Client, ClientError, RequestOptions, ToolTask};
use mcp_sdk_server::session_store::MAX_SUBSCRIPTION_URI_BYTES;
use mcp_sdk_server::{async_trait, Notifier, Peer, RequestContext, Server};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The URIs a session subscribed to through this replica (with replicas),
/// kept with the session's copy here so that its end can unsubscribe them.
#[derive(Clone)]
struct SubscribedHere {
    session: String,
    uris: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

/// The generation of a user's own connection (see `exchange`): never the
/// gateway's, so a failure on it does not mark the server down.
const PER_USER: u64 = u64::MAX;

/// Which capability a list needs from a server before it is asked.
#[derive(Clone, Copy)]
enum Feature {
    Tools,
    Prompts,
    Resources,
}

impl Feature {
    fn offered_by(self, caps: &ServerCapabilities) -> bool {
        match self {
            Feature::Tools => caps.tools.is_some(),
            Feature::Prompts => caps.prompts.is_some(),
            Feature::Resources => caps.resources.is_some(),
        }
    }
}

impl Gateway {
    /// One call to a downstream server on behalf of the upstream request
    /// `ctx`: with the gateway's timeout (restarted by progress), the
    /// server's progress relayed to `ctx`, its sampling, roots and
    /// elicitation requests relayed to `ctx`'s client, and failures turned
    /// into errors naming the server. Dropping the future (the upstream
    /// request was cancelled, or its client vanished) cancels the
    /// downstream call.
    async fn call<T, F, Fut>(
        &self,
        server: &Downstream,
        method: &str,
        ctx: &RequestContext,
        call: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(Client, RequestOptions) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        // A user's own connection when the server exchanges tokens per
        // user; its failures never mark the gateway's connection down.
        let mut per_user = None;
        let (client, generation) = match (&server.exchange, &server.spec.target) {
            (Some(exchange), Target::Http { url }) => {
                match exchange
                    .client_for(&self.servers[server.index], url, ctx)
                    .await?
                {
                    Some((client, key)) => {
                        per_user = Some((exchange, key));
                        (client, PER_USER)
                    }
                    None => server.client()?,
                }
            }
            _ => server.client()?,
        };
        let timeout = server.call_timeout();
        // The gateway keeps the deadline itself (see `within`): the
        // client's own timeout returns only once its notifications/cancelled
        // is delivered, which a hung session-era server never takes. The
        // client's is left as a backstop, beyond the gateway's.
        let mut options = RequestOptions::new()
            .timeout(timeout.saturating_mul(2))
            .handler(Upstream::new(ctx.clone(), server.name()));
        let mut progress = None;
        if ctx.progress_token().is_some() {
            let (tx, rx) = mpsc::unbounded_channel();
            options = options
                .on_progress(move |p| {
                    let _ = tx.send(p);
                })
                .reset_timeout_on_progress();
            progress = Some(rx);
        }
        let call = server.callers.on_behalf_of(ctx, call(client, options));
        let result = match within(timeout, ctx, progress, call).await {
            Some(result) => result,
            None => Err(ClientError::Timeout {
                method: method.to_owned(),
                after: timeout,
            }),
        };
        if let (Err(e), Some((exchange, key))) = (&result, &per_user) {
            if !matches!(e, ClientError::Server(_) | ClientError::Timeout { .. }) {
                exchange.forget(key);
            }
        }
        result.map_err(|e| match e {
            // A step-up the gateway's credentials could not meet: the
            // caller may (see `scopes`).
            ClientError::InsufficientScope { scope, reason } => {
                scopes::refused_downstream(server.name(), &scope, &reason)
            }
            e => server.call_failed(generation, method, e),
        })
    }

    /// `tool` as the gateway keeps it: with the scopes its server asked
    /// for when it was called.
    fn with_learnt_scopes(&self, mut tool: Tool) -> Tool {
        if let Some(learnt) = lock(&self.learnt_scopes).get(&tool.name) {
            scopes::learn(&mut tool, learnt);
        }
        tool
    }

    /// The answer to a call of the tool `name` by `ctx`'s caller: when its
    /// server asked for scopes the gateway could not get, they are learnt
    /// for the tool, and a caller who lacks them is asked for them (the
    /// gateway's 403 step-up from the next call on).
    fn learn_from(
        &self,
        name: &str,
        ctx: &RequestContext,
        result: Result<CallToolResult, Error>,
    ) -> Result<CallToolResult, Error> {
        let Err(e) = &result else {
            return result;
        };
        let Some(asked) = scopes::asked_downstream(e) else {
            return result;
        };
        self.learn_scopes(name, &asked);
        let missing: Vec<&str> = match ctx.identity() {
            Some(identity) => asked
                .iter()
                .map(String::as_str)
                .filter(|s| !identity.has_scope(s))
                .collect(),
            None => Vec::new(),
        };
        if missing.is_empty() {
            // The caller has them: the gateway's credentials are short.
            return result;
        }
        Err(scopes::refusal(name, &missing))
    }

    /// Remembers that the server of the listed tool `name` asked for
    /// `asked` when it was called.
    fn learn_scopes(&self, name: &str, asked: &[String]) {
        let mut tools = lock(&self.tools);
        let Some(tool) = tools.get_mut(name) else {
            return;
        };
        scopes::learn(tool, asked);
        let mut learnt = lock(&self.learnt_scopes);
        let kept = learnt.entry(name.to_owned()).or_default();
        for s in asked {
            if !kept.contains(s) {
                kept.push(s.clone());
            }
        }
    }

    /// Lists `server`'s tools into the gateway's map of tools (what
    /// [`find_tool`](Server::find_tool) answers from, and so the scopes
    /// each call is checked for), within the connect timeout; a server
    /// that is down or does not answer leaves the map as it was.
    pub(crate) async fn learn_tools(&self, server: &Downstream) {
        let Ok((client, _)) = server.client() else {
            return;
        };
        if client.server_capabilities().tools.is_none() {
            return;
        }
        match tokio::time::timeout(server.connect_timeout(), client.list_all_tools()).await {
            Ok(Ok(tools)) => {
                let mut known = lock(&self.tools);
                for mut tool in tools {
                    tool.name = names::prefixed(server.name(), &tool.name);
                    let tool = self.with_learnt_scopes(tool);
                    known.insert(tool.name.clone(), tool);
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(server = %server.name(), "cannot list its tools: {e}");
            }
            Err(_) => tracing::debug!(server = %server.name(), "its tools were not listed in time"),
        }
    }

    /// The server a prefixed tool or prompt name belongs to, and the name
    /// that server gave it.
    fn route<'a>(
        &self,
        prefixed: &'a str,
        what: &str,
    ) -> Result<(&Arc<Downstream>, &'a str), Error> {
        let (server, name) = names::split(prefixed, what)?;
        let downstream = self.server(server).ok_or_else(|| {
            let known: Vec<&str> = self.servers.iter().map(|s| s.name()).collect();
            Error::invalid_params(format_args!(
                "unknown {what} {prefixed:?}: no downstream server is named {server:?} (the servers are {})",
                known.join(", ")
            ))
        })?;
        Ok((downstream, name))
    }

    /// One page of an aggregated list, filled up to the gateway's page size
    /// across servers: from where `cursor` points, each server's items in
    /// configuration order, reading further pages of a server while there
    /// is room. The first page of every server the walk may reach is asked
    /// for at once, so a page costs about one downstream round trip, not
    /// one per server. A server's page that does not fit is cut, and the
    /// cursor says how much of it was given. Servers that are down, or do
    /// not offer `feature`, are skipped (their calls say why; the list holds
    /// what the others have).
    async fn page<T, F, Fut>(
        &self,
        cursor: Option<&str>,
        feature: Feature,
        method: &str,
        ctx: &RequestContext,
        fetch: F,
    ) -> Result<(Vec<(usize, T)>, Option<String>), Error>
    where
        F: Fn(Client, Option<String>, RequestOptions) -> Fut,
        Fut: Future<Output = Result<(Vec<T>, Option<String>), ClientError>>,
    {
        if self.servers.is_empty() {
            return Ok((Vec::new(), None));
        }
        let at = Position::decode(cursor, self.servers.len())?;
        let fetch = &fetch;
        let read = |server: usize, cursor: Option<String>| async move {
            let downstream = &self.servers[server];
            let result = self
                .call(downstream, method, ctx, |client, options| {
                    fetch(client, cursor, options)
                })
                .await;
            if let Err(e) = &result {
                tracing::warn!(server = %downstream.name(), "{method} left out: {}", e.message);
            }
            result.ok()
        };
        // Every server from the cursor's on that offers the feature, with the
        // page to start from and how much of it to skip.
        let starts: Vec<Position> = (at.server..self.servers.len())
            .filter(|&i| {
                self.servers[i]
                    .capabilities()
                    .is_some_and(|c| feature.offered_by(&c))
            })
            .map(|i| {
                if i == at.server {
                    at.clone()
                } else {
                    Position::start_of(i)
                }
            })
            .collect();
        let mut first_pages =
            futures_util::future::join_all(starts.iter().map(|p| read(p.server, p.cursor.clone())))
                .await
                .into_iter();
        let mut items = Vec::new();
        for start in starts {
            let mut page = first_pages.next().flatten();
            let mut position = start;
            while let Some((listed, next)) = page.take() {
                let room = self.page_size - items.len();
                let rest = listed.into_iter().skip(position.skip);
                let mut rest = rest.peekable();
                items.extend(rest.by_ref().take(room).map(|item| (position.server, item)));
                if rest.peek().is_some() {
                    // This page of the server did not fit: the next of ours
                    // reads it again and goes on where this one stopped.
                    position.skip += room;
                    return Ok((items, Some(position.encode())));
                }
                let Some(next) = next else { break };
                position = Position {
                    server: position.server,
                    cursor: Some(next),
                    skip: 0,
                };
                if items.len() == self.page_size {
                    return Ok((items, Some(position.encode())));
                }
                page = read(position.server, position.cursor.clone()).await;
            }
            if items.len() == self.page_size && position.server + 1 < self.servers.len() {
                return Ok((
                    items,
                    Some(Position::start_of(position.server + 1).encode()),
                ));
            }
        }
        Ok((items, None))
    }

    /// The server that listed `uri`, or whose resource template's fixed
    /// start `uri` has.
    pub(crate) fn owner_of(&self, uri: &str) -> Option<usize> {
        if let Some(&i) = lock(&self.resources).get(uri) {
            return Some(i);
        }
        lock(&self.templates)
            .iter()
            .filter_map(|(template, &i)| {
                let fixed = &template[..template.find('{')?];
                (!fixed.is_empty() && uri.starts_with(fixed)).then_some((fixed.len(), i))
            })
            .max()
            .map(|(_, i)| i)
    }

    /// The server that owns `uri`, reading the lists again if the gateway
    /// has not seen it listed.
    async fn owner(&self, uri: &str, ctx: &RequestContext) -> Result<usize, Error> {
        if let Some(i) = self.owner_of(uri) {
            return Ok(i);
        }
        self.refresh_resources(ctx).await?;
        self.owner_of(uri).ok_or_else(|| {
            let mut e = Error::resource_not_found(uri);
            e.message = format!("Resource not found: no downstream server lists {uri}");
            e
        })
    }

    /// Reads every server's resources and templates again (to learn who
    /// owns a URI the gateway has not seen listed).
    async fn refresh_resources(&self, ctx: &RequestContext) -> Result<(), Error> {
        let mut cursor = None;
        loop {
            let page = self
                .list_resources(ListResourcesParams::page(cursor), ctx.clone())
                .await?;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut cursor = None;
        loop {
            let params = ListResourceTemplatesParams::page(cursor);
            let page = self.list_resource_templates(params, ctx.clone()).await?;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }
}

/// Awaits `call` for at most `timeout` since it started or last reported
/// progress (`None` when that passed: `call` is then dropped, which cancels
/// it downstream without waiting for the server to take the cancellation),
/// passing on its progress, in order, to the upstream request.
async fn within<T>(
    timeout: Duration,
    ctx: &RequestContext,
    mut progress: Option<mpsc::UnboundedReceiver<ProgressNotificationParams>>,
    call: impl Future<Output = T>,
) -> Option<T> {
    async fn next(
        rx: &mut Option<mpsc::UnboundedReceiver<ProgressNotificationParams>>,
    ) -> Option<ProgressNotificationParams> {
        match rx {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }
    let mut call = std::pin::pin!(call);
    let mut deadline = tokio::time::Instant::now() + timeout;
    loop {
        tokio::select! {
            biased;
            Some(p) = next(&mut progress) => {
                deadline = tokio::time::Instant::now() + timeout;
                let _ = ctx.progress(p.progress, p.total, p.message.as_deref()).await;
            }
            done = &mut call => {
                if let Some(rx) = &mut progress {
                    while let Ok(p) = rx.try_recv() {
                        let _ = ctx.progress(p.progress, p.total, p.message.as_deref()).await;
                    }
                }
                return Some(done);
            }
            _ = tokio::time::sleep_until(deadline) => return None,
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl Server for Gateway {
    fn info(&self) -> Implementation {
        Implementation::new("mcp-gateway", env!("CARGO_PKG_VERSION"))
    }

    /// The union of what the servers offered (when last connected), with
    /// `listChanged` on, since the gateway announces servers coming and
    /// going; `subscribe` when a server offers it (see
    /// [`subscribe`](Server::subscribe)).
    ///
    /// The transports read this once, when the service is made; a server
    /// that has never connected by then is assumed to offer tools, prompts
    /// and resources, so that they are reachable once it comes up (lists
    /// of what nobody offers are merely empty).
    fn capabilities(&self) -> ServerCapabilities {
        let mut caps = ServerCapabilities::default();
        for server in &self.servers {
            let c = server.capabilities().unwrap_or_else(|| {
                ServerCapabilities::default()
                    .with_tools(Default::default())
                    .with_prompts(Default::default())
                    .with_resources(Default::default())
            });
            if c.tools.is_some() {
                caps.tools = Some(ToolsCapability::default().with_list_changed(true));
            }
            if c.prompts.is_some() {
                caps.prompts = Some(PromptsCapability::default().with_list_changed(true));
            }
            if let Some(resources) = &c.resources {
                let offered = caps
                    .resources
                    .get_or_insert_with(|| ResourcesCapability::default().with_list_changed(true));
                if resources.subscribe == Some(true) {
                    offered.subscribe = Some(true);
                }
            }
            if c.completions.is_some() {
                caps.completions = Some(Default::default());
            }
            if c.logging.is_some() {
                caps.logging = Some(Default::default());
            }
            // A server with tasks (either era's): the gateway runs tasks
            // of its own for calls of its tools (see `call_tool`).
            let extension = c
                .extra
                .get("extensions")
                .and_then(|e| e.get(mcp_sdk_client::TASKS_EXTENSION))
                .is_some();
            if c.tasks.is_some() || extension {
                caps.tasks = Some(ServerTasksCapability::tool_calls());
            }
        }
        caps
    }

    fn instructions(&self) -> Option<String> {
        let mut text = format!(
            "A gateway to {} MCP servers. Tools and prompts are named <server>{}<name>.",
            self.servers.len(),
            names::SEPARATOR
        );
        for server in &self.servers {
            if let Some(i) = server.instructions() {
                text.push_str(&format!("\n\n[{}] {i}", server.name()));
            }
        }
        Some(text)
    }

    fn find_tool(&self, name: &str) -> Option<Tool> {
        lock(&self.tools).get(name).cloned()
    }

    fn notifier(&self) -> Option<Notifier> {
        Some(self.announcer.notifier.clone())
    }

    async fn list_tools(
        &self,
        params: ListToolsParams,
        ctx: RequestContext,
    ) -> Result<ListToolsResult, Error> {
        // Linked apps reach only clients that can show them.
        let apps = mcp_sdk_server::apps::supported(&ctx);
        let (tools, next_cursor) = self
            .page(
                params.cursor.as_deref(),
                Feature::Tools,
                "tools/list",
                &ctx,
                |client, cursor, options| async move {
                    let page = client
                        .request_with(ListToolsParams::page(cursor), options)
                        .await?;
                    Ok((page.tools, page.next_cursor))
                },
            )
            .await?;
        let tools: Vec<Tool> = tools
            .into_iter()
            .map(|(i, mut tool)| {
                tool.name = names::prefixed(self.servers[i].name(), &tool.name);
                let tool = self.with_learnt_scopes(tool);
                if apps {
                    tool
                } else {
                    mcp_sdk_server::apps::without_ui(tool)
                }
            })
            .collect();
        let mut known = lock(&self.tools);
        for tool in &tools {
            known.insert(tool.name.clone(), tool.clone());
        }
        drop(known);
        let mut result = ListToolsResult::new(tools);
        result.next_cursor = next_cursor;
        Ok(result)
    }

    async fn call_tool(
        &self,
        params: CallToolParams,
        ctx: RequestContext,
    ) -> Result<CallToolResult, Error> {
        let (server, name) = self.route(&params.name, "tool")?;
        if let Some(identity) = ctx.identity() {
            // The downstream server's scopes are asked of the caller (see
            // `scopes`): the gateway's own credentials may hold more.
            if self.find_tool(&params.name).is_none() {
                self.learn_tools(server).await;
            }
            if let Some(tool) = self.find_tool(&params.name) {
                let missing = scopes::missing(&tool, identity);
                if !missing.is_empty() {
                    return Err(scopes::refusal(&params.name, &missing));
                }
            }
        }
        // A call the client made as a task is a task of the gateway's (the
        // session layer runs this handler in the background); downstream
        // it is a plain call, unless the tool runs only as a task.
        let only_as_task = self.find_tool(&params.name).is_some_and(|t| {
            t.execution.and_then(|e| e.task_support) == Some(TaskSupport::Required)
        });
        if only_as_task {
            let arguments = params.arguments;
            let result = self
                .call(server, "tools/call", &ctx, |client, _| async move {
                    match client.call_tool_as_task(name, arguments, None).await? {
                        ToolTask::Finished(result) => Ok(result),
                        ToolTask::Running(task) => client.task_result(&task.task_id).await,
                    }
                })
                .await;
            return self.learn_from(&params.name, &ctx, result);
        }
        let downstream = CallToolParams::new(name, params.arguments);
        let result = self
            .call(server, "tools/call", &ctx, |client, options| async move {
                client.request_with(downstream, options).await
            })
            .await;
        self.learn_from(&params.name, &ctx, result)
    }

    async fn list_prompts(
        &self,
        params: ListPromptsParams,
        ctx: RequestContext,
    ) -> Result<ListPromptsResult, Error> {
        let (prompts, next_cursor) = self
            .page(
                params.cursor.as_deref(),
                Feature::Prompts,
                "prompts/list",
                &ctx,
                |client, cursor, options| async move {
                    let page = client
                        .request_with(ListPromptsParams::page(cursor), options)
                        .await?;
                    Ok((page.prompts, page.next_cursor))
                },
            )
            .await?;
        let prompts = prompts
            .into_iter()
            .map(|(i, mut prompt)| {
                prompt.name = names::prefixed(self.servers[i].name(), &prompt.name);
                prompt
            })
            .collect();
        let mut result = ListPromptsResult::new(prompts);
        result.next_cursor = next_cursor;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        params: GetPromptParams,
        ctx: RequestContext,
    ) -> Result<GetPromptResult, Error> {
        let (server, name) = self.route(&params.name, "prompt")?;
        let mut downstream = GetPromptParams::new(name);
        downstream.arguments = params.arguments;
        self.call(server, "prompts/get", &ctx, |client, options| async move {
            client.request_with(downstream, options).await
        })
        .await
    }

    async fn list_resources(
        &self,
        params: ListResourcesParams,
        ctx: RequestContext,
    ) -> Result<ListResourcesResult, Error> {
        let (resources, next_cursor) = self
            .page(
                params.cursor.as_deref(),
                Feature::Resources,
                "resources/list",
                &ctx,
                |client, cursor, options| async move {
                    let page = client
                        .request_with(ListResourcesParams::page(cursor), options)
                        .await?;
                    Ok((page.resources, page.next_cursor))
                },
            )
            .await?;
        let mut owners = lock(&self.resources);
        let resources = resources
            .into_iter()
            .map(|(i, resource)| {
                // The first server to list a URI keeps it.
                owners.entry(resource.uri.clone()).or_insert(i);
                resource
            })
            .collect();
        drop(owners);
        let mut result = ListResourcesResult::new(resources);
        result.next_cursor = next_cursor;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        params: ListResourceTemplatesParams,
        ctx: RequestContext,
    ) -> Result<ListResourceTemplatesResult, Error> {
        let (templates, next_cursor) = self
            .page(
                params.cursor.as_deref(),
                Feature::Resources,
                "resources/templates/list",
                &ctx,
                |client, cursor, options| async move {
                    let params = ListResourceTemplatesParams::page(cursor);
                    let page = client.request_with(params, options).await?;
                    Ok((page.resource_templates, page.next_cursor))
                },
            )
            .await?;
        let mut owners = lock(&self.templates);
        let resource_templates = templates
            .into_iter()
            .map(|(i, template)| {
                owners.entry(template.uri_template.clone()).or_insert(i);
                template
            })
            .collect();
        drop(owners);
        let mut result = ListResourceTemplatesResult::new(resource_templates);
        result.next_cursor = next_cursor;
        Ok(result)
    }

    async fn read_resource(
        &self,
        params: ReadResourceParams,
        ctx: RequestContext,
    ) -> Result<ReadResourceResult, Error> {
        let uri = params.uri;
        let server = &self.servers[self.owner(&uri, &ctx).await?];
        self.call(
            server,
            "resources/read",
            &ctx,
            |client, options| async move {
                client
                    .request_with(ReadResourceParams::new(uri), options)
                    .await
            },
        )
        .await
    }

    async fn complete(
        &self,
        mut params: CompleteParams,
        ctx: RequestContext,
    ) -> Result<CompleteResult, Error> {
        let server = match &mut params.reference {
            CompletionReference::Prompt(prompt) => {
                let (server, name) = self.route(&prompt.name, "prompt")?;
                prompt.name = name.to_owned();
                server.clone()
            }
            CompletionReference::Resource(template) => {
                let mut owner = lock(&self.templates).get(&template.uri).copied();
                if owner.is_none() {
                    self.refresh_resources(&ctx).await?;
                    owner = lock(&self.templates).get(&template.uri).copied();
                }
                let i = owner.ok_or_else(|| {
                    Error::invalid_params(format_args!(
                        "no downstream server lists the resource template {:?}",
                        template.uri
                    ))
                })?;
                self.servers[i].clone()
            }
        };
        params.meta = None;
        self.call(
            &server,
            "completion/complete",
            &ctx,
            |client, options| async move { client.request_with(params, options).await },
        )
        .await
    }

    /// `resources/subscribe` of a session: the gateway subscribes to the
    /// URI at the server that owns it (once, for all its sessions) and
    /// relays its `notifications/resources/updated` to each subscribed
    /// session, and to the stateless listeners whose filter names the URI.
    ///
    /// Stateless clients (`subscriptions/listen` with
    /// `resourceSubscriptions`) need no call here: the gateway follows the
    /// URIs their streams watch (`Notifier::watched_resources`) and watches
    /// those it has seen listed at the servers that own them.
    async fn subscribe(&self, params: SubscribeParams, ctx: RequestContext) -> Result<(), Error> {
        let uri = params.uri;
        let server = &self.servers[self.owner(&uri, &ctx).await?];
        if !server.offers_subscriptions() {
            return Err(Error::invalid_params(format_args!(
                "{uri} belongs to the downstream server {:?}, which does not offer resource subscriptions",
                server.name()
            )));
        }
        if uri.len() > MAX_SUBSCRIPTION_URI_BYTES {
            // Kept in Redis key names with replicas: bounded either way.
            return Err(Error::invalid_params(format_args!(
                "a subscribed URI may be {MAX_SUBSCRIPTION_URI_BYTES} bytes long at most"
            )));
        }
        let limit = self.max_subscriptions;
        if let Some(replicas) = &self.announcer.replicas {
            let session = session_of(&ctx).ok_or_else(|| {
                Error::invalid_request("resources/subscribe needs the session's Mcp-Session-Id")
            })?;
            replicas.subscribe(&uri, server, &session, limit).await?;
            // Remembered for `on_session_closed` of this replica.
            let mine = ctx
                .peer()
                .session_extensions()
                .get_or_insert_with(|| SubscribedHere {
                    session: session.clone(),
                    uris: Arc::default(),
                });
            lock(&mine.uris).insert(uri);
            return Ok(());
        }
        if !self.announcer.may_subscribe(&uri, ctx.peer(), limit) {
            return Err(too_many_subscriptions(limit));
        }
        if self.announcer.subscribe(&uri, ctx.peer()) {
            if let Err(e) = server.watch(&uri).await {
                self.announcer.unsubscribe(&uri, ctx.peer());
                return Err(e);
            }
        }
        Ok(())
    }

    /// `resources/unsubscribe`: the last session to leave a URI ends the
    /// gateway's subscription downstream. Unsubscribing from a URI the
    /// session is not subscribed to is no error, as at the servers.
    async fn unsubscribe(
        &self,
        params: UnsubscribeParams,
        ctx: RequestContext,
    ) -> Result<(), Error> {
        let uri = params.uri;
        if let Some(replicas) = &self.announcer.replicas {
            let Some(session) = session_of(&ctx) else {
                return Ok(());
            };
            if let Some(mine) = ctx.peer().session_extensions().get::<SubscribedHere>() {
                lock(&mine.uris).remove(&uri);
            }
            // The replica that holds the URI stops watching it at its next
            // round when nobody is left.
            return replicas
                .unsubscribe(&uri, &session)
                .await
                .map_err(unavailable);
        }
        if self.announcer.unsubscribe(&uri, ctx.peer()) {
            if let Some(i) = self.owner_of(&uri) {
                self.servers[i].unwatch(&uri).await;
            }
        }
        Ok(())
    }

    async fn on_initialized(&self, peer: Peer) {
        self.announcer.add_peer(peer);
    }

    /// A session ended: its subscriptions go with it, and a URI no session
    /// watches any more is no longer watched downstream.
    async fn on_session_closed(&self, peer: Peer) {
        if let Some(replicas) = &self.announcer.replicas {
            if let Some(mine) = peer.session_extensions().get::<SubscribedHere>() {
                let uris: Vec<String> = lock(&mine.uris).iter().cloned().collect();
                replicas.session_closed(&mine.session, &uris).await;
            }
            self.announcer.forget_session(&peer);
            return;
        }
        for uri in self.announcer.forget_session(&peer) {
            if let Some(i) = self.owner_of(&uri) {
                self.servers[i].unwatch(&uri).await;
            }
        }
    }

    /// Session-era servers hear that the roots changed (stateless ones ask
    /// for the roots with each call anyway): all at once, each within its
    /// call timeout, so that a hung server neither delays the others nor
    /// holds this task.
    async fn on_roots_list_changed(&self, _peer: Peer) {
        let notices = self.servers.iter().filter_map(|server| {
            let (client, _) = server.client().ok()?;
            let timeout = server.call_timeout();
            Some(async move {
                let _ = tokio::time::timeout(timeout, client.notify_roots_list_changed()).await;
            })
        });
        futures_util::future::join_all(notices).await;
    }
}
