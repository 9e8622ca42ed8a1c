//! [`Router`]: a [`Server`] built from registrations, in the manner of
//! `axum::Router`. Capabilities follow from what is registered.
//!
//! ```
//! use mcp_sdk_server::{Router, Structured};
//! use mcp_sdk::Tool;
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct AddArgs { a: f64, b: f64 }
//!
//! #[derive(Serialize, JsonSchema)]
//! struct Sum { sum: f64 }
//!
//! let router = Router::new()
//!     .tool(Tool::named("add", "Adds two numbers"), |args: AddArgs| async move {
//!         Structured(Sum { sum: args.a + args.b })
//!     });
//! ```

mod tool;
pub mod uri_template;

pub use tool::{
    schema_for, ArgsAndContext, ArgsOnly, IntoToolResult, NoArguments, ProtocolError, Structured,
    ToolHandler,
};
pub use uri_template::UriTemplate;

use crate::context::RequestContext;
use crate::peer::Peer;
use crate::server::Server;
use crate::session::lock;
use crate::stateless::Notifier;
use async_trait::async_trait;
use futures_util::future::BoxFuture;
use mcp_sdk::{
    CallToolParams, CallToolResult, CompleteParams, CompleteResult, Error, GetPromptParams,
    GetPromptResult, Implementation, JsonObject, ListPromptsParams, ListPromptsResult,
    ListResourceTemplatesParams, ListResourceTemplatesResult, ListResourcesParams,
    ListResourcesResult, ListToolsParams, ListToolsResult, Prompt, PromptsCapability,
    ReadResourceParams, ReadResourceResult, Resource, ResourceTemplate, ResourcesCapability,
    ServerCapabilities, ServerTasksCapability, SubscribeParams, Tool, ToolsCapability,
    UnsubscribeParams,
};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

type BoxedTool = Arc<
    dyn Fn(Value, RequestContext) -> BoxFuture<'static, Result<CallToolResult, Error>>
        + Send
        + Sync,
>;
type BoxedRead = Arc<
    dyn Fn(ResourceRequest, RequestContext) -> BoxFuture<'static, Result<ReadResourceResult, Error>>
        + Send
        + Sync,
>;
type BoxedPrompt = Arc<
    dyn Fn(PromptArguments, RequestContext) -> BoxFuture<'static, Result<GetPromptResult, Error>>
        + Send
        + Sync,
>;
type BoxedComplete = Arc<
    dyn Fn(CompleteParams, RequestContext) -> BoxFuture<'static, Result<CompleteResult, Error>>
        + Send
        + Sync,
>;

/// The arguments of a `prompts/get`, by name.
pub type PromptArguments = std::collections::BTreeMap<String, String>;

/// A `resources/read` as a resource handler sees it.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    /// The URI the client asked for.
    pub uri: String,
    /// For templates: the values of the template's variables in `uri`.
    pub variables: HashMap<String, String>,
}

struct ToolEntry {
    tool: Tool,
    validator: jsonschema::Validator,
    call: BoxedTool,
}

struct TemplateEntry {
    template: ResourceTemplate,
    matcher: UriTemplate,
    read: BoxedRead,
}

/// A [`Server`] made of registered tools, resources, resource templates,
/// prompts and a completion handler.
#[derive(Clone, Default)]
pub struct Router {
    info: Option<Implementation>,
    instructions: Option<String>,
    tools: Vec<Arc<ToolEntry>>,
    tool_index: HashMap<String, usize>,
    resources: Vec<(Resource, BoxedRead)>,
    templates: Vec<Arc<TemplateEntry>>,
    prompts: Vec<(Prompt, BoxedPrompt)>,
    completion: Option<BoxedComplete>,
    page_size: Option<usize>,
    subscriptions: Arc<Mutex<HashMap<String, Vec<Peer>>>>,
    notifier: Notifier,
    list_changed: bool,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name and version to report in `initialize`.
    pub fn with_info(mut self, info: Implementation) -> Self {
        self.info = Some(info);
        self
    }

    /// Instructions for the model, sent in `initialize`.
    pub fn with_instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }

    /// Declares `listChanged` for the router's tools, prompts and resources:
    /// the server promises `notifications/*/list_changed` when they change
    /// (sent through a [`Peer`] to a session, through
    /// [`notifier`](Self::notifier) to stateless subscribers).
    pub fn with_list_changed(mut self) -> Self {
        self.list_changed = true;
        self
    }

    /// The router's [`Notifier`]: announces changes to stateless clients'
    /// `subscriptions/listen` streams. Clones of a router share it.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Splits list results into pages of this many items (default: one page).
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// Registers a tool. Its `inputSchema` comes from the handler's argument
    /// type (unless `tool` already has one with properties) and its
    /// `outputSchema` from a [`Structured`] return type. Arguments are
    /// validated against the input schema before the handler runs; a mismatch
    /// reaches the model as a tool error.
    ///
    /// # Panics
    /// If a tool of that name is already registered, or its input schema is
    /// not a valid JSON Schema: both are programming errors.
    pub fn tool<M, H: ToolHandler<M>>(mut self, mut tool: Tool, handler: H) -> Self {
        let given = tool.input_schema.get("properties").is_some() || tool.input_schema.len() > 1;
        if !given {
            tool.input_schema = handler.input_schema();
        }
        if tool.output_schema.is_none() {
            tool.output_schema = handler.output_schema();
        }
        let validator = jsonschema::validator_for(&Value::Object(tool.input_schema.clone()))
            .unwrap_or_else(|e| panic!("tool {:?} has an invalid input schema: {e}", tool.name));
        let handler = Arc::new(handler);
        let call: BoxedTool = Arc::new(move |args, ctx| handler.call(args, ctx));
        let index = self.tools.len();
        if self.tool_index.insert(tool.name.clone(), index).is_some() {
            panic!("tool {:?} is registered twice", tool.name);
        }
        self.tools.push(Arc::new(ToolEntry {
            tool,
            validator,
            call,
        }));
        self
    }

    /// Registers a resource with a fixed URI.
    pub fn resource<F, Fut>(mut self, resource: Resource, read: F) -> Self
    where
        F: Fn(ResourceRequest, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ReadResourceResult, Error>> + Send + 'static,
    {
        self.resources
            .push((resource, Arc::new(move |r, c| Box::pin(read(r, c)))));
        self
    }

    /// Registers a resource template: reads of URIs that match it reach
    /// `read` with the template's variables.
    ///
    /// # Panics
    /// If the template's `uriTemplate` is not a URI template.
    pub fn resource_template<F, Fut>(mut self, template: ResourceTemplate, read: F) -> Self
    where
        F: Fn(ResourceRequest, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ReadResourceResult, Error>> + Send + 'static,
    {
        let matcher = UriTemplate::parse(&template.uri_template).unwrap_or_else(|e| panic!("{e}"));
        let read: BoxedRead = Arc::new(move |r, c| Box::pin(read(r, c)));
        self.templates.push(Arc::new(TemplateEntry {
            template,
            matcher,
            read,
        }));
        self
    }

    /// Registers a prompt. Its declared required arguments are checked
    /// before `get` runs (a missing one is -32602).
    pub fn prompt<F, Fut>(mut self, prompt: Prompt, get: F) -> Self
    where
        F: Fn(PromptArguments, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<GetPromptResult, Error>> + Send + 'static,
    {
        self.prompts
            .push((prompt, Arc::new(move |a, c| Box::pin(get(a, c)))));
        self
    }

    /// Sets the handler of `completion/complete` (argument autocompletion
    /// for prompts and resource templates).
    pub fn completion<F, Fut>(mut self, complete: F) -> Self
    where
        F: Fn(CompleteParams, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CompleteResult, Error>> + Send + 'static,
    {
        self.completion = Some(Arc::new(move |p, c| Box::pin(complete(p, c))));
        self
    }

    /// Sends `notifications/resources/updated` to every session subscribed
    /// to `uri`, and to the stateless streams that listen for it. Clones of
    /// a router share their subscriptions, so keep a clone to call this
    /// from elsewhere.
    pub async fn notify_resource_updated(&self, uri: &str) {
        self.notifier.resource_updated(uri);
        let peers: Vec<Peer> = {
            let mut subs = lock(&self.subscriptions);
            let Some(peers) = subs.get_mut(uri) else {
                return;
            };
            peers.retain(|p| !p.is_closed());
            peers.clone()
        };
        for peer in peers {
            if let Err(e) = peer.notify_resource_updated(uri).await {
                tracing::debug!(%e, uri, "could not deliver a resource update");
            }
        }
    }

    fn page<T: Clone>(
        &self,
        items: impl Iterator<Item = T>,
        cursor: Option<&str>,
    ) -> Result<(Vec<T>, Option<String>), Error> {
        let start = match cursor {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .map_err(|_| Error::invalid_params(format_args!("invalid cursor {c:?}")))?,
        };
        let size = self.page_size.unwrap_or(usize::MAX);
        let mut page: Vec<T> = items.skip(start).take(size.saturating_add(1)).collect();
        let next = if page.len() > size {
            page.truncate(size);
            Some((start + size).to_string())
        } else {
            None
        };
        Ok((page, next))
    }
}

#[async_trait]
impl Server for Router {
    fn info(&self) -> Implementation {
        self.info
            .clone()
            .unwrap_or_else(|| Implementation::new("mcp-sdk-server", env!("CARGO_PKG_VERSION")))
    }

    fn capabilities(&self) -> ServerCapabilities {
        let has_resources = !self.resources.is_empty() || !self.templates.is_empty();
        let list_changed = self.list_changed.then_some(true);
        ServerCapabilities {
            // Logging works for every router: handlers log through their context.
            logging: Some(JsonObject::new()),
            tools: (!self.tools.is_empty()).then(|| ToolsCapability {
                list_changed,
                ..Default::default()
            }),
            resources: has_resources.then(|| ResourcesCapability {
                subscribe: Some(true),
                list_changed,
                ..Default::default()
            }),
            prompts: (!self.prompts.is_empty()).then(|| PromptsCapability {
                list_changed,
                ..Default::default()
            }),
            completions: self.completion.as_ref().map(|_| JsonObject::new()),
            // A tool that may run as a task brings the tasks capability.
            tasks: self
                .tools
                .iter()
                .any(|t| t.tool.runs_as_task())
                .then(ServerTasksCapability::tool_calls),
            ..Default::default()
        }
    }

    fn instructions(&self) -> Option<String> {
        self.instructions.clone()
    }

    fn notifier(&self) -> Option<Notifier> {
        Some(self.notifier.clone())
    }

    fn find_tool(&self, name: &str) -> Option<Tool> {
        let &i = self.tool_index.get(name)?;
        Some(self.tools[i].tool.clone())
    }

    async fn list_tools(
        &self,
        params: ListToolsParams,
        _ctx: RequestContext,
    ) -> Result<ListToolsResult, Error> {
        let (tools, next) = self.page(
            self.tools.iter().map(|t| t.tool.clone()),
            params.cursor.as_deref(),
        )?;
        Ok(ListToolsResult {
            tools,
            next_cursor: next,
            ..Default::default()
        })
    }

    async fn call_tool(
        &self,
        params: CallToolParams,
        ctx: RequestContext,
    ) -> Result<CallToolResult, Error> {
        let entry = self
            .tool_index
            .get(&params.name)
            .map(|&i| self.tools[i].clone())
            .ok_or_else(|| Error::invalid_params(format_args!("Unknown tool: {}", params.name)))?;
        let args = Value::Object(params.arguments.unwrap_or_default());
        let problems: Vec<String> = entry
            .validator
            .iter_errors(&args)
            .take(5)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if !problems.is_empty() {
            return Ok(CallToolResult::error_text(format!(
                "Invalid arguments for tool {}: {}",
                params.name,
                problems.join("; ")
            )));
        }
        (entry.call)(args, ctx).await
    }

    async fn list_resources(
        &self,
        params: ListResourcesParams,
        _ctx: RequestContext,
    ) -> Result<ListResourcesResult, Error> {
        let (resources, next) = self.page(
            self.resources.iter().map(|r| r.0.clone()),
            params.cursor.as_deref(),
        )?;
        Ok(ListResourcesResult {
            resources,
            next_cursor: next,
            ..Default::default()
        })
    }

    async fn list_resource_templates(
        &self,
        params: ListResourceTemplatesParams,
        _ctx: RequestContext,
    ) -> Result<ListResourceTemplatesResult, Error> {
        let (templates, next) = self.page(
            self.templates.iter().map(|t| t.template.clone()),
            params.cursor.as_deref(),
        )?;
        Ok(ListResourceTemplatesResult {
            resource_templates: templates,
            next_cursor: next,
            ..Default::default()
        })
    }

    async fn read_resource(
        &self,
        params: ReadResourceParams,
        ctx: RequestContext,
    ) -> Result<ReadResourceResult, Error> {
        let uri = params.uri;
        if let Some((_, read)) = self.resources.iter().find(|(r, _)| r.uri == uri) {
            let read = read.clone();
            return read(
                ResourceRequest {
                    uri,
                    variables: HashMap::new(),
                },
                ctx,
            )
            .await;
        }
        for t in &self.templates {
            if let Some(variables) = t.matcher.matches(&uri) {
                let read = t.read.clone();
                return read(ResourceRequest { uri, variables }, ctx).await;
            }
        }
        Err(Error::resource_not_found(&uri))
    }

    async fn subscribe(&self, params: SubscribeParams, ctx: RequestContext) -> Result<(), Error> {
        let mut subs = lock(&self.subscriptions);
        let peers = subs.entry(params.uri).or_default();
        if !peers.iter().any(|p| p.same_session(ctx.peer())) {
            peers.push(ctx.peer().clone());
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        params: UnsubscribeParams,
        ctx: RequestContext,
    ) -> Result<(), Error> {
        let mut subs = lock(&self.subscriptions);
        if let Some(peers) = subs.get_mut(&params.uri) {
            peers.retain(|p| !p.same_session(ctx.peer()));
            if peers.is_empty() {
                subs.remove(&params.uri);
            }
        }
        Ok(())
    }

    async fn list_prompts(
        &self,
        params: ListPromptsParams,
        _ctx: RequestContext,
    ) -> Result<ListPromptsResult, Error> {
        let (prompts, next) = self.page(
            self.prompts.iter().map(|p| p.0.clone()),
            params.cursor.as_deref(),
        )?;
        Ok(ListPromptsResult {
            prompts,
            next_cursor: next,
            ..Default::default()
        })
    }

    async fn get_prompt(
        &self,
        params: GetPromptParams,
        ctx: RequestContext,
    ) -> Result<GetPromptResult, Error> {
        let (prompt, get) = self
            .prompts
            .iter()
            .find(|(p, _)| p.name == params.name)
            .ok_or_else(|| {
                Error::invalid_params(format_args!("Unknown prompt: {}", params.name))
            })?;
        let args = params.arguments.unwrap_or_default();
        let missing: Vec<&str> = prompt
            .arguments
            .iter()
            .flatten()
            .filter(|a| a.required == Some(true) && !args.contains_key(&a.name))
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::invalid_params(format_args!(
                "prompt {} needs the argument(s): {}",
                params.name,
                missing.join(", ")
            )));
        }
        get(args, ctx).await
    }

    async fn complete(
        &self,
        params: CompleteParams,
        ctx: RequestContext,
    ) -> Result<CompleteResult, Error> {
        match &self.completion {
            Some(complete) => complete(params, ctx).await,
            None => Err(Error::method_not_found("completion/complete")),
        }
    }
}
