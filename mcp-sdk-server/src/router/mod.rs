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
//! assert!(router.check().is_ok());
//! ```
//!
//! Handlers take, in this order, the router's [`State`] (optional), their
//! input (a tool's arguments, a prompt's arguments, a resource request),
//! and the [`RequestContext`] (optional):
//!
//! ```
//! use mcp_sdk::Tool;
//! use mcp_sdk_server::router::State;
//! use mcp_sdk_server::{NoArguments, RequestContext, Router};
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//!
//! #[derive(Default)]
//! struct Counter(AtomicU64);
//!
//! let router = Router::new()
//!     .with_state(Arc::new(Counter::default()))
//!     .tool(Tool::named("bump", "Counts calls"), |State(c): State<Arc<Counter>>, _: NoArguments| async move {
//!         (c.0.fetch_add(1, Ordering::Relaxed) + 1).to_string()
//!     })
//!     .tool(Tool::named("peek", "Reads the count"), |State(c): State<Arc<Counter>>, _: NoArguments, _ctx: RequestContext| async move {
//!         c.0.load(Ordering::Relaxed).to_string()
//!     });
//! # assert!(router.check().is_ok());
//! ```
//!
//! # Mistakes the compiler catches
//!
//! A closure of the wrong shape, or one that asks for a state the router
//! does not have, does not compile, and the error says what a handler
//! looks like (`#[diagnostic::on_unimplemented]` on the handler traits):
//!
//! ```compile_fail
//! use mcp_sdk::Tool;
//! use mcp_sdk_server::router::State;
//! use mcp_sdk_server::{NoArguments, Router};
//!
//! // error: `{closure}` cannot be a tool handler on a router whose state is `u32`
//! let router = Router::new()
//!     .with_state(7u32)
//!     .tool(Tool::named("name", "Gives a name"), |State(s): State<String>, _: NoArguments| async move { s });
//! ```
//!
//! Registration consumes the router, and the transports take it by value,
//! so nothing can be registered on a router once it is served:
//!
//! ```compile_fail
//! use mcp_sdk::Tool;
//! use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
//! use mcp_sdk_server::{NoArguments, Router};
//!
//! let router = Router::new();
//! let service = StreamableHttpService::new(router, HttpConfig::default());
//! // error: use of moved value: `router`
//! let router = router.tool(Tool::named("late", "Too late"), |_: NoArguments| async { "" });
//! ```
//!
//! # Mistakes in registration
//!
//! A registration that cannot work (two tools of one name, a tool name MCP
//! does not allow, an input schema that is not an object schema, a template
//! that does not parse, prompt arguments that are not strings...) does not
//! panic and does not replace anything: the router records it. Every
//! mistake shows in [`Router::check`]; the transports call
//! [`Server::check`] before they serve and refuse to start with all of
//! them listed; and a router with a mistake that is served anyway (called
//! directly) answers every request with -32603 naming them. The builder
//! stays a chain of calls, and nothing is ever silently dropped.

mod announce;
mod handler;
mod prompt;
mod resource;
mod route;
mod schema;
mod tool;
pub mod uri_template;

pub use announce::{Announcer, MAX_SUBSCRIBED_URIS, MAX_SUBSCRIPTIONS_PER_SESSION};
pub use handler::{
    ContextOnly, Handler, Hook, InputAndContext, InputOnly, IntoAnswer, Lister, PeerOnly, State,
    StateAndContext, StateAndInput, StateAndPeer, StateInputAndContext, StateOnly,
};
pub use prompt::{PromptArguments, PromptHandler};
pub use resource::{ResourceHandler, ResourceRequest};
pub use route::{Call, CallKind, Refusal, Route, REQUIRED_SCOPES_META};
pub use schema::{output_schema_for, portable, schema_for};
pub use tool::{
    is_valid_tool_name, IntoToolResult, NoArguments, ProtocolError, Structured, ToolHandler,
    ToolTable,
};
pub use uri_template::UriTemplate;

use crate::context::RequestContext;
use crate::notifier::Notifier;
use crate::peer::Peer;
use crate::server::{BoxError, Server};
use async_trait::async_trait;
use base64::Engine as _;
use futures_util::future::BoxFuture;
use mcp_sdk::{
    CallToolParams, CallToolResult, CompleteParams, CompleteResult, CompletionReference, Error,
    GetPromptParams, GetPromptResult, Implementation, JsonObject, ListPromptsParams,
    ListPromptsResult, ListResourceTemplatesParams, ListResourceTemplatesResult,
    ListResourcesParams, ListResourcesResult, ListToolsParams, ListToolsResult, Prompt,
    PromptsCapability, ReadResourceParams, ReadResourceResult, Resource, ResourceTemplate,
    ResourcesCapability, ServerCapabilities, ServerTasksCapability, SubscribeParams, Tool,
    ToolsCapability, UnsubscribeParams,
};
use route::{run_guards, Guard};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tool::ToolEntry;

type BoxedRead = Arc<
    dyn Fn(
            String,
            HashMap<String, String>,
            RequestContext,
        ) -> BoxFuture<'static, Result<ReadResourceResult, Error>>
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
type BoxedList =
    Arc<dyn Fn(RequestContext) -> BoxFuture<'static, Result<Vec<Resource>, Error>> + Send + Sync>;
type BoxedSubscribe = Arc<
    dyn Fn(SubscribeParams, RequestContext) -> BoxFuture<'static, Result<String, Error>>
        + Send
        + Sync,
>;
type BoxedHook = Arc<dyn Fn(Peer) -> BoxFuture<'static, ()> + Send + Sync>;
type CapabilityMap = Arc<dyn Fn(ServerCapabilities) -> ServerCapabilities + Send + Sync>;

#[derive(Clone)]
struct ResourceEntry {
    /// The scopes a read or get needs ([`Route::requires_scope`]).
    scopes: Vec<String>,
    resource: Resource,
    read: BoxedRead,
    guards: Vec<Guard>,
}

#[derive(Clone)]
struct TemplateEntry {
    /// The scopes a read or get needs ([`Route::requires_scope`]).
    scopes: Vec<String>,
    template: ResourceTemplate,
    matcher: UriTemplate,
    read: BoxedRead,
    guards: Vec<Guard>,
}

#[derive(Clone)]
struct FallbackEntry {
    read: BoxedRead,
    guards: Vec<Guard>,
}

#[derive(Clone)]
struct PromptEntry {
    /// The scopes a read or get needs ([`Route::requires_scope`]).
    scopes: Vec<String>,
    prompt: Prompt,
    get: BoxedPrompt,
    guards: Vec<Guard>,
}

#[derive(Clone, Default)]
struct Hooks {
    initialized: Vec<BoxedHook>,
    roots_list_changed: Vec<BoxedHook>,
    session_closed: Vec<BoxedHook>,
}

impl Hooks {
    fn append(&mut self, other: Hooks) {
        self.initialized.extend(other.initialized);
        self.roots_list_changed.extend(other.roots_list_changed);
        self.session_closed.extend(other.session_closed);
    }
}

async fn run_hooks(hooks: &[BoxedHook], peer: &Peer) {
    for hook in hooks {
        hook(peer.clone()).await;
    }
}

/// What is wrong with a router's registrations (see [`Router::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterError {
    problems: Vec<String>,
}

impl RouterError {
    /// Each mistake, in a sentence.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl std::fmt::Display for RouterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "the router cannot serve: {one}"),
            many => write!(
                f,
                "the router cannot serve, {} mistakes: {}",
                many.len(),
                many.join("; ")
            ),
        }
    }
}

impl std::error::Error for RouterError {}

/// A [`Server`] made of registered tools, resources, resource templates,
/// prompts, completions and hooks, with a state `S` its handlers may take
/// (see the [module documentation](self)).
///
/// Registration consumes the router and gives it back, so a router is
/// complete before a transport takes it, and what a transport serves
/// cannot be registered on any more: a tool registered after serving
/// starts is impossible by construction. Clones are independent routers
/// that share their [`Announcer`] (sessions, subscriptions, stateless
/// listeners), so a clone kept aside can announce changes to the clients
/// of the one served.
pub struct Router<S = ()> {
    state: S,
    info: Option<Implementation>,
    instructions: Option<String>,
    page_size: Option<usize>,
    list_changed: bool,
    capability_maps: Vec<CapabilityMap>,
    tools: ToolTable,
    /// Router-wide guards: run before every tool, prompt and read.
    guards: Vec<Guard>,
    resources: Vec<ResourceEntry>,
    templates: Vec<TemplateEntry>,
    listers: Vec<BoxedList>,
    fallback: Option<FallbackEntry>,
    prompts: Vec<PromptEntry>,
    prompt_index: HashMap<String, usize>,
    completion: Option<BoxedComplete>,
    prompt_completions: BTreeMap<String, BoxedComplete>,
    template_completions: BTreeMap<String, BoxedComplete>,
    on_subscribe: Option<BoxedSubscribe>,
    hooks: Hooks,
    announcer: Announcer,
    problems: Vec<String>,
}

impl<S: Clone> Clone for Router<S> {
    fn clone(&self) -> Self {
        Router {
            state: self.state.clone(),
            info: self.info.clone(),
            instructions: self.instructions.clone(),
            page_size: self.page_size,
            list_changed: self.list_changed,
            capability_maps: self.capability_maps.clone(),
            tools: self.tools.clone(),
            guards: self.guards.clone(),
            resources: self.resources.clone(),
            templates: self.templates.clone(),
            listers: self.listers.clone(),
            fallback: self.fallback.clone(),
            prompts: self.prompts.clone(),
            prompt_index: self.prompt_index.clone(),
            completion: self.completion.clone(),
            prompt_completions: self.prompt_completions.clone(),
            template_completions: self.template_completions.clone(),
            on_subscribe: self.on_subscribe.clone(),
            hooks: self.hooks.clone(),
            announcer: self.announcer.clone(),
            problems: self.problems.clone(),
        }
    }
}

impl<S> std::fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("tools", &self.tools)
            .field(
                "resources",
                &self
                    .resources
                    .iter()
                    .map(|r| &r.resource.uri)
                    .collect::<Vec<_>>(),
            )
            .field(
                "templates",
                &self
                    .templates
                    .iter()
                    .map(|t| &t.template.uri_template)
                    .collect::<Vec<_>>(),
            )
            .field(
                "prompts",
                &self
                    .prompts
                    .iter()
                    .map(|p| &p.prompt.name)
                    .collect::<Vec<_>>(),
            )
            .field("problems", &self.problems)
            .finish_non_exhaustive()
    }
}

impl Default for Router<()> {
    fn default() -> Self {
        Router::new()
    }
}

impl Router<()> {
    /// An empty router without state.
    pub fn new() -> Self {
        Router {
            state: (),
            info: None,
            instructions: None,
            page_size: None,
            list_changed: false,
            capability_maps: Vec::new(),
            tools: ToolTable::default(),
            guards: Vec::new(),
            resources: Vec::new(),
            templates: Vec::new(),
            listers: Vec::new(),
            fallback: None,
            prompts: Vec::new(),
            prompt_index: HashMap::new(),
            completion: None,
            prompt_completions: BTreeMap::new(),
            template_completions: BTreeMap::new(),
            on_subscribe: None,
            hooks: Hooks::default(),
            announcer: Announcer::default(),
            problems: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Router<S> {
    /// Gives the handlers registered from here on a state: a handler whose
    /// first parameter is `State<T>` gets a clone of it at each call (so
    /// keep it cheap to clone: an `Arc`), and no closure has to capture and
    /// clone it. A handler asking for a state of another type does not
    /// compile. Handlers registered before keep the state they had.
    pub fn with_state<T: Clone + Send + Sync + 'static>(self, state: T) -> Router<T> {
        Router {
            state,
            info: self.info,
            instructions: self.instructions,
            page_size: self.page_size,
            list_changed: self.list_changed,
            capability_maps: self.capability_maps,
            tools: self.tools,
            guards: self.guards,
            resources: self.resources,
            templates: self.templates,
            listers: self.listers,
            fallback: self.fallback,
            prompts: self.prompts,
            prompt_index: self.prompt_index,
            completion: self.completion,
            prompt_completions: self.prompt_completions,
            template_completions: self.template_completions,
            on_subscribe: self.on_subscribe,
            hooks: self.hooks,
            announcer: self.announcer,
            problems: self.problems,
        }
    }

    /// The state handlers get.
    pub fn state(&self) -> &S {
        &self.state
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
    /// (announce them with the [`announcer`](Self::announcer)). For one kind
    /// alone, set it with [`map_capabilities`](Self::map_capabilities).
    pub fn with_list_changed(mut self) -> Self {
        self.list_changed = true;
        self
    }

    /// Adjusts the capabilities the router derives from its registrations
    /// (say, `listChanged` for resources only, or an experimental
    /// capability). Several adjustments apply in order.
    pub fn map_capabilities<F>(mut self, f: F) -> Self
    where
        F: Fn(ServerCapabilities) -> ServerCapabilities + Send + Sync + 'static,
    {
        self.capability_maps.push(Arc::new(f));
        self
    }

    /// The router's [`Notifier`]: announces changes to stateless clients'
    /// `subscriptions/listen` streams. The [`announcer`](Self::announcer)
    /// tells sessions too.
    pub fn notifier(&self) -> &Notifier {
        self.announcer.notifier()
    }

    /// Tells every client of this router (sessions and stateless listeners)
    /// that something changed. Clones of a router share it; keep a clone in
    /// your state.
    pub fn announcer(&self) -> &Announcer {
        &self.announcer
    }

    /// The router's tools, for a hand-written [`Server`] that answers
    /// `tools/list` and `tools/call` from them.
    pub fn tools(&self) -> &ToolTable {
        &self.tools
    }

    /// Splits list results into pages of this many items (default: one page).
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// Applies a registration function: one of your own that adds a group
    /// of tools, or one that `#[mcp_sdk_macros::tool]` writes.
    pub fn register(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }

    /// Whether the router can serve: every registration mistake, each in a
    /// sentence. The transports call this (through [`Server::check`])
    /// before they serve.
    ///
    /// # Errors
    /// The mistakes.
    pub fn check(&self) -> Result<(), RouterError> {
        let mut problems = self.problems.clone();
        for name in self.prompt_completions.keys() {
            if !self.prompt_index.contains_key(name) {
                problems.push(format!(
                    "a completion is registered for the prompt {name:?}, which is not registered"
                ));
            }
        }
        for uri in self.template_completions.keys() {
            if !self
                .templates
                .iter()
                .any(|t| t.template.uri_template == *uri)
            {
                problems.push(format!(
                    "a completion is registered for the resource template {uri:?}, which is not \
                     registered"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RouterError { problems })
        }
    }

    /// Answers every request with -32603 if the registrations are broken.
    fn ready(&self) -> Result<(), Error> {
        if self.problems.is_empty() {
            return Ok(());
        }
        Err(Error::internal(format_args!(
            "this server is misconfigured: {}",
            RouterError {
                problems: self.problems.clone()
            }
        )))
    }

    /// Registers a tool. Its `inputSchema` comes from the handler's argument
    /// type (unless `tool` already has one with properties) and its
    /// `outputSchema` from a [`Structured`] return type, both in their
    /// [portable] form. Arguments are validated against the input
    /// schema before the handler runs; a mismatch reaches the model as a
    /// tool error.
    ///
    /// The name must follow MCP's format (1 to 128 of `A-Z a-z 0-9 _ - .`),
    /// be new, and the input schema must be an object schema; otherwise the
    /// router records the mistake (see [`check`](Self::check)).
    pub fn tool<M, H: ToolHandler<M, S>>(
        mut self,
        tool: impl Into<Route<Tool>>,
        handler: H,
    ) -> Self {
        let Route {
            definition: mut tool,
            guards,
            scopes,
        } = tool.into();
        if !scopes.is_empty() {
            tool.meta.get_or_insert_with(Default::default).insert(
                route::REQUIRED_SCOPES_META.into(),
                serde_json::json!(scopes),
            );
        }
        let given = tool.input_schema.get("properties").is_some() || tool.input_schema.len() > 1;
        if !given {
            tool.input_schema = handler.input_schema();
        }
        if tool.output_schema.is_none() {
            tool.output_schema = handler.output_schema();
        }
        if tool.input_schema.get("type").and_then(Value::as_str) != Some("object") {
            self.problems.push(format!(
                "the input schema of tool {:?} is not an object schema (\"type\": \"object\"): \
                 tool arguments are a JSON object, so take a struct (or NoArguments)",
                tool.name
            ));
            return self;
        }
        let validator = match jsonschema::validator_for(&Value::Object(tool.input_schema.clone())) {
            Ok(v) => Arc::new(v),
            Err(e) => {
                self.problems.push(format!(
                    "tool {:?} has an invalid input schema: {e}",
                    tool.name
                ));
                return self;
            }
        };
        let state = self.state.clone();
        let handler = Arc::new(handler);
        let call: tool::BoxedTool = Arc::new(move |args, ctx| handler.call(&state, args, ctx));
        self.add_tool(ToolEntry {
            tool,
            validator,
            call,
            guards,
        });
        self
    }

    fn add_tool(&mut self, entry: ToolEntry) {
        let name = &entry.tool.name;
        if !is_valid_tool_name(name) {
            self.problems.push(format!(
                "{name:?} is not a valid tool name: MCP tool names are 1 to 128 characters, each \
                 an ASCII letter or digit, '_', '-' or '.'"
            ));
            return;
        }
        if self.tools.index.contains_key(name) {
            self.problems
                .push(format!("two tools are registered as {name:?}"));
            return;
        }
        self.tools
            .index
            .insert(name.clone(), self.tools.entries.len());
        self.tools.entries.push(entry);
    }

    /// Registers a resource with a fixed URI.
    pub fn resource<M, H: ResourceHandler<M, S>>(
        mut self,
        resource: impl Into<Route<Resource>>,
        read: H,
    ) -> Self {
        let Route {
            definition: resource,
            guards,
            scopes,
        } = resource.into();
        if let Some((_, required)) = read.variables() {
            if !required.is_empty() {
                self.problems.push(format!(
                    "the handler of resource {:?} needs variables ({}), but a resource with a \
                     fixed URI has none: register a resource template",
                    resource.uri,
                    required.join(", ")
                ));
                return self;
            }
        }
        let read = self.boxed_read(read);
        self.add_resource(ResourceEntry {
            scopes,
            resource,
            read,
            guards,
        });
        self
    }

    /// Registers an MCP App's page (see [`apps`](crate::apps)): a `ui://`
    /// resource of type `text/html;profile=mcp-app`, listed and read like
    /// any other. A page that is not HTML, is over
    /// [`MAX_HTML_BYTES`](crate::apps::MAX_HTML_BYTES) or has another scheme
    /// is refused: the router records why (see [`check`](Self::check)).
    /// Link tools to it with [`apps::link`](crate::apps::link).
    pub fn app(mut self, app: crate::apps::AppResource) -> Self {
        if let Err(e) = app.validate() {
            self.problems.push(e.to_string());
            return self;
        }
        let resource = app.resource().clone();
        let app = Arc::new(app);
        self.resource(resource, move |_: ResourceRequest| {
            let app = app.clone();
            async move { app.read() }
        })
    }

    fn add_resource(&mut self, entry: ResourceEntry) {
        if self
            .resources
            .iter()
            .any(|r| r.resource.uri == entry.resource.uri)
        {
            self.problems.push(format!(
                "two resources are registered as {:?}",
                entry.resource.uri
            ));
            return;
        }
        self.resources.push(entry);
    }

    fn boxed_read<M, H: ResourceHandler<M, S>>(&self, read: H) -> BoxedRead {
        let state = self.state.clone();
        let read = Arc::new(read);
        Arc::new(move |uri, vars, ctx| read.call(&state, uri, vars, ctx))
    }

    /// Registers a resource template: reads of URIs that match it reach
    /// `read` with the template's variables (as a map, or as a struct whose
    /// fields must all be variables of the template).
    pub fn resource_template<M, H: ResourceHandler<M, S>>(
        mut self,
        template: impl Into<Route<ResourceTemplate>>,
        read: H,
    ) -> Self {
        let Route {
            definition: template,
            guards,
            scopes,
        } = template.into();
        let matcher = match UriTemplate::parse(&template.uri_template) {
            Ok(m) => m,
            Err(e) => {
                self.problems.push(e.to_string());
                return self;
            }
        };
        if let Some((fields, _)) = read.variables() {
            let known: Vec<&str> = matcher.variables().collect();
            let strangers: Vec<&str> = fields
                .iter()
                .map(String::as_str)
                .filter(|f| !known.contains(f))
                .collect();
            if !strangers.is_empty() {
                self.problems.push(format!(
                    "the handler of resource template {:?} takes {} that the template does not \
                     have (its variables: {})",
                    template.uri_template,
                    strangers.join(", "),
                    known.join(", ")
                ));
                return self;
            }
        }
        let read = self.boxed_read(read);
        self.add_template(TemplateEntry {
            scopes,
            template,
            matcher,
            read,
            guards,
        });
        self
    }

    fn add_template(&mut self, entry: TemplateEntry) {
        if self
            .templates
            .iter()
            .any(|t| t.template.uri_template == entry.template.uri_template)
        {
            self.problems.push(format!(
                "two resource templates are registered as {:?}",
                entry.template.uri_template
            ));
            return;
        }
        self.templates.push(entry);
    }

    /// Registers a lister: at each `resources/list` it gives resources that
    /// change while the server runs (files in a folder, tables in a
    /// database). The router lists them with the fixed resources, sorted by
    /// URI and paged by URI, so pages stay right while the list changes.
    /// Reads of them go to a template or the [fallback](Self::resource_fallback).
    pub fn resource_lister<M, L>(mut self, lister: L) -> Self
    where
        L: Lister<M, S>,
        L::Output: IntoAnswer<Vec<Resource>>,
    {
        let state = self.state.clone();
        let lister = Arc::new(lister);
        self.listers.push(Arc::new(move |ctx| {
            let fut = lister.call(&state, ctx);
            Box::pin(async move { fut.await.into_answer() })
        }));
        self
    }

    /// Registers the handler of reads that no resource or template matches
    /// (files under a folder, say); without one, they are -32002. One per
    /// router.
    pub fn resource_fallback<M, H: ResourceHandler<M, S>>(mut self, read: H) -> Self {
        if self.fallback.is_some() {
            self.problems
                .push("two resource fallbacks are registered".to_owned());
            return self;
        }
        let read = self.boxed_read(read);
        self.fallback = Some(FallbackEntry {
            read,
            guards: Vec::new(),
        });
        self
    }

    /// Decides what `resources/subscribe` accepts: the handler gets the
    /// request and answers with the key the subscription is kept under
    /// (the URI as your [`Announcer::resource_updated`] calls will name it,
    /// say after normalizing it), or an error for the client (-32002 for a
    /// resource that does not exist). Without one, a URI can be subscribed
    /// to if a resource, a template or the fallback serves it, and is kept
    /// as it is. Either way a session hears updates with the URI as it
    /// wrote it.
    pub fn on_subscribe<M, H>(mut self, handler: H) -> Self
    where
        H: Handler<M, S, SubscribeParams>,
        H::Output: IntoAnswer<String>,
    {
        if self.on_subscribe.is_some() {
            self.problems
                .push("two subscription handlers are registered".to_owned());
            return self;
        }
        let state = self.state.clone();
        let handler = Arc::new(handler);
        self.on_subscribe = Some(Arc::new(move |params, ctx| {
            let fut = handler.call(&state, params, ctx);
            Box::pin(async move { fut.await.into_answer() })
        }));
        self
    }

    /// Registers a prompt. Its declared required arguments are checked
    /// before the handler runs (a missing one is -32602). With typed
    /// arguments (a struct), the prompt's arguments are declared from the
    /// struct unless `prompt` declares them.
    pub fn prompt<M, H: PromptHandler<M, S>>(
        mut self,
        prompt: impl Into<Route<Prompt>>,
        get: H,
    ) -> Self {
        let Route {
            definition: mut prompt,
            guards,
            scopes,
        } = prompt.into();
        match get.arguments() {
            Ok(Some(arguments)) if prompt.arguments.is_none() => {
                prompt.arguments = Some(arguments);
            }
            Ok(_) => {}
            Err(why) => {
                self.problems
                    .push(format!("prompt {:?}: {why}", prompt.name));
                return self;
            }
        }
        let state = self.state.clone();
        let get = Arc::new(get);
        let get: BoxedPrompt = Arc::new(move |args, ctx| get.call(&state, args, ctx));
        self.add_prompt(PromptEntry {
            scopes,
            prompt,
            get,
            guards,
        });
        self
    }

    fn add_prompt(&mut self, entry: PromptEntry) {
        let name = &entry.prompt.name;
        if name.is_empty() {
            self.problems.push("a prompt has an empty name".to_owned());
            return;
        }
        if self.prompt_index.contains_key(name) {
            self.problems
                .push(format!("two prompts are registered as {name:?}"));
            return;
        }
        self.prompt_index.insert(name.clone(), self.prompts.len());
        self.prompts.push(entry);
    }

    fn boxed_complete<M, H>(&self, complete: H) -> BoxedComplete
    where
        H: Handler<M, S, CompleteParams>,
        H::Output: IntoAnswer<CompleteResult>,
    {
        let state = self.state.clone();
        let complete = Arc::new(complete);
        Arc::new(move |params, ctx| {
            let fut = complete.call(&state, params, ctx);
            Box::pin(async move { fut.await.into_answer() })
        })
    }

    /// Sets the handler of `completion/complete` for every prompt and
    /// template that has none of its own (see
    /// [`prompt_completion`](Self::prompt_completion)). It may return a
    /// `CompleteResult` or a `Vec<String>` (the first 100 are sent).
    pub fn completion<M, H>(mut self, complete: H) -> Self
    where
        H: Handler<M, S, CompleteParams>,
        H::Output: IntoAnswer<CompleteResult>,
    {
        if self.completion.is_some() {
            self.problems
                .push("two completion handlers are registered".to_owned());
            return self;
        }
        self.completion = Some(self.boxed_complete(complete));
        self
    }

    /// Completes the arguments of the prompt `name` (registered before or
    /// after this).
    pub fn prompt_completion<M, H>(mut self, name: impl Into<String>, complete: H) -> Self
    where
        H: Handler<M, S, CompleteParams>,
        H::Output: IntoAnswer<CompleteResult>,
    {
        let name = name.into();
        let boxed = self.boxed_complete(complete);
        if self
            .prompt_completions
            .insert(name.clone(), boxed)
            .is_some()
        {
            self.problems.push(format!(
                "two completions are registered for prompt {name:?}"
            ));
        }
        self
    }

    /// Completes the variables of the resource template whose
    /// `uriTemplate` is `uri_template` (registered before or after this).
    pub fn template_completion<M, H>(mut self, uri_template: impl Into<String>, complete: H) -> Self
    where
        H: Handler<M, S, CompleteParams>,
        H::Output: IntoAnswer<CompleteResult>,
    {
        let uri = uri_template.into();
        let boxed = self.boxed_complete(complete);
        if self
            .template_completions
            .insert(uri.clone(), boxed)
            .is_some()
        {
            self.problems.push(format!(
                "two completions are registered for resource template {uri:?}"
            ));
        }
        self
    }

    fn boxed_hook<M, H: Hook<M, S>>(&self, hook: H) -> BoxedHook {
        let state = self.state.clone();
        let hook = Arc::new(hook);
        Arc::new(move |peer| hook.call(&state, peer))
    }

    /// Runs `hook` when a session finished its handshake
    /// (`notifications/initialized`). The router itself already keeps the
    /// session, to announce changes to it.
    pub fn on_initialized<M, H: Hook<M, S>>(mut self, hook: H) -> Self {
        let hook = self.boxed_hook(hook);
        self.hooks.initialized.push(hook);
        self
    }

    /// Runs `hook` when a session's client says its roots changed
    /// (`notifications/roots/list_changed`). It runs on the session's
    /// reading task, so it should not wait for the client: forget what you
    /// kept, and ask again at the next call.
    pub fn on_roots_list_changed<M, H: Hook<M, S>>(mut self, hook: H) -> Self {
        let hook = self.boxed_hook(hook);
        self.hooks.roots_list_changed.push(hook);
        self
    }

    /// Runs `hook` when a session ends (its peer is already closed). The
    /// router itself already forgets the session and its subscriptions;
    /// data in [`Peer::session_extensions`] goes with the session.
    pub fn on_session_closed<M, H: Hook<M, S>>(mut self, hook: H) -> Self {
        let hook = self.boxed_hook(hook);
        self.hooks.session_closed.push(hook);
        self
    }

    /// `tools/list` leaves out the tools whose scopes (see
    /// [`Route::requires_scope`]) the caller's token lacks, instead of
    /// listing them with the scopes in their `_meta` (feature `auth`).
    #[cfg(feature = "auth")]
    pub fn hide_tools_out_of_scope(mut self) -> Self {
        self.tools.hide_out_of_scope = true;
        self
    }

    /// Adds a guard that runs before every tool, prompt and resource
    /// handler of this router (and of routers merged or nested into it):
    /// `Ok(())` lets the call through, a [`Refusal`] answers it. It runs
    /// before the name is looked up, so it also sees calls of tools that
    /// do not exist. Guards of one route alone go on its [`Route`].
    ///
    /// ```
    /// use mcp_sdk::Tool;
    /// use mcp_sdk_server::router::{CallKind, Refusal};
    /// use mcp_sdk_server::{NoArguments, Router};
    ///
    /// let read_only = true;
    /// let router = Router::new()
    ///     .tool(Tool::named("read", "Reads"), |_: NoArguments| async { "data" })
    ///     .guard(move |call, _ctx| {
    ///         if read_only && call.kind() == CallKind::Tool && call.name() == "write" {
    ///             return Err(Refusal::message("write is switched off on this server"));
    ///         }
    ///         Ok(())
    ///     });
    /// # assert!(router.check().is_ok());
    /// ```
    pub fn guard<G>(mut self, guard: G) -> Self
    where
        G: Fn(&Call<'_>, &RequestContext) -> Result<(), Refusal> + Send + Sync + 'static,
    {
        let guard: Guard = Arc::new(guard);
        self.guards.push(guard.clone());
        self.tools.guards.push(guard);
        self
    }

    /// Adds every registration of `other` to this router, whatever state
    /// `other`'s handlers have. `other`'s guards keep applying to its own
    /// routes only; this router's guards apply to all. A name both routers
    /// use is a mistake (see [`check`](Self::check)). `other`'s hooks,
    /// listers and capability adjustments are kept; its info, instructions
    /// and page size fill in what this router leaves unset (instructions are
    /// joined when both have some); and its [`Announcer`] announces to this
    /// router's clients from now on.
    pub fn merge<T: Clone + Send + Sync + 'static>(self, other: Router<T>) -> Self {
        self.absorb(other, "")
    }

    /// Like [`merge`](Self::merge), with `prefix` put before the names of
    /// `other`'s tools and prompts (and their completions): nesting a
    /// router as `"github_"` makes its `create_issue` tool
    /// `github_create_issue`. The prefix is taken as it is, separator
    /// included; `_` is the separator every model provider accepts in a
    /// tool name. Resource URIs do not change.
    pub fn nest<T: Clone + Send + Sync + 'static>(
        self,
        prefix: impl AsRef<str>,
        other: Router<T>,
    ) -> Self {
        self.absorb(other, prefix.as_ref())
    }

    fn absorb<T: Clone + Send + Sync + 'static>(mut self, other: Router<T>, prefix: &str) -> Self {
        let Router {
            state: _,
            info,
            instructions,
            page_size,
            list_changed,
            capability_maps,
            tools,
            guards,
            resources,
            templates,
            listers,
            fallback,
            prompts,
            prompt_index: _,
            completion,
            prompt_completions,
            template_completions,
            on_subscribe,
            hooks,
            announcer,
            problems,
        } = other;
        let with_guards = |mut own: Vec<Guard>| {
            let mut all = guards.clone();
            all.append(&mut own);
            all
        };
        self.problems.extend(problems);
        self.info = self.info.or(info);
        self.instructions = match (self.instructions, instructions) {
            (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
            (a, b) => a.or(b),
        };
        self.page_size = self.page_size.or(page_size);
        self.list_changed |= list_changed;
        self.capability_maps.extend(capability_maps);
        for mut entry in tools.entries {
            entry.tool.name = format!("{prefix}{}", entry.tool.name);
            entry.guards = with_guards(entry.guards);
            self.add_tool(entry);
        }
        for mut entry in resources {
            entry.guards = with_guards(entry.guards);
            self.add_resource(entry);
        }
        for mut entry in templates {
            entry.guards = with_guards(entry.guards);
            self.add_template(entry);
        }
        self.listers.extend(listers);
        if let Some(mut entry) = fallback {
            if self.fallback.is_some() {
                self.problems.push(
                    "both merged routers have a resource fallback; a router has one".to_owned(),
                );
            } else {
                entry.guards = with_guards(entry.guards);
                self.fallback = Some(entry);
            }
        }
        for mut entry in prompts {
            entry.prompt.name = format!("{prefix}{}", entry.prompt.name);
            entry.guards = with_guards(entry.guards);
            self.add_prompt(entry);
        }
        if let Some(c) = completion {
            if self.completion.is_some() {
                self.problems.push(
                    "both merged routers have a completion handler for everything; give each \
                     prompt or template its own instead"
                        .to_owned(),
                );
            } else {
                self.completion = Some(c);
            }
        }
        for (name, c) in prompt_completions {
            let name = format!("{prefix}{name}");
            if self.prompt_completions.insert(name.clone(), c).is_some() {
                self.problems.push(format!(
                    "two completions are registered for prompt {name:?}"
                ));
            }
        }
        for (uri, c) in template_completions {
            if self.template_completions.insert(uri.clone(), c).is_some() {
                self.problems.push(format!(
                    "two completions are registered for resource template {uri:?}"
                ));
            }
        }
        if let Some(s) = on_subscribe {
            if self.on_subscribe.is_some() {
                self.problems
                    .push("both merged routers have a subscription handler".to_owned());
            } else {
                self.on_subscribe = Some(s);
            }
        }
        self.hooks.append(hooks);
        announcer.forward_to(&self.announcer);
        self
    }

    /// Sends `notifications/resources/updated` to every session subscribed
    /// to `uri`, and to the stateless streams that listen for it (the same
    /// as [`Announcer::resource_updated`]).
    pub async fn notify_resource_updated(&self, uri: &str) {
        self.announcer.resource_updated(uri).await
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

    /// The scopes of the route serving a read of `uri` (as
    /// [`reader_for`](Self::reader_for) finds it; the fallback has none).
    fn scopes_for(&self, uri: &str) -> &[String] {
        if let Some(r) = self.resources.iter().find(|r| r.resource.uri == uri) {
            return &r.scopes;
        }
        self.templates
            .iter()
            .find(|t| t.matcher.matches(uri).is_some())
            .map_or(&[], |t| &t.scopes)
    }

    /// The guards of the route serving a read of `uri`, and its reader.
    fn reader_for(&self, uri: &str) -> Option<(&[Guard], BoxedRead, HashMap<String, String>)> {
        if let Some(r) = self.resources.iter().find(|r| r.resource.uri == uri) {
            return Some((&r.guards, r.read.clone(), HashMap::new()));
        }
        for t in &self.templates {
            if let Some(vars) = t.matcher.matches(uri) {
                return Some((&t.guards, t.read.clone(), vars));
            }
        }
        self.fallback
            .as_ref()
            .map(|f| (f.guards.as_slice(), f.read.clone(), HashMap::new()))
    }
}

/// Opaque cursors for resource pages: the last URI of the page, base64url.
fn encode_cursor(uri: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uri)
}

fn decode_cursor(cursor: &str) -> Result<String, Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::invalid_params(format_args!("invalid cursor {cursor:?}")))
}

#[async_trait]
impl<S: Clone + Send + Sync + 'static> Server for Router<S> {
    fn info(&self) -> Implementation {
        self.info
            .clone()
            .unwrap_or_else(|| Implementation::new("mcp-sdk-server", env!("CARGO_PKG_VERSION")))
    }

    fn capabilities(&self) -> ServerCapabilities {
        let has_resources = !self.resources.is_empty()
            || !self.templates.is_empty()
            || !self.listers.is_empty()
            || self.fallback.is_some();
        let has_completion = self.completion.is_some()
            || !self.prompt_completions.is_empty()
            || !self.template_completions.is_empty();
        let list_changed = self.list_changed.then_some(true);
        // Logging works for every router: handlers log through their context.
        let mut caps = ServerCapabilities::default().with_logging();
        caps.tools = (!self.tools.is_empty()).then(|| {
            let mut tools = ToolsCapability::default();
            tools.list_changed = list_changed;
            tools
        });
        caps.resources = has_resources.then(|| {
            let mut resources = ResourcesCapability::default().with_subscribe(true);
            resources.list_changed = list_changed;
            resources
        });
        caps.prompts = (!self.prompts.is_empty()).then(|| {
            let mut prompts = PromptsCapability::default();
            prompts.list_changed = list_changed;
            prompts
        });
        caps.completions = has_completion.then(JsonObject::new);
        // A tool that may run as a task brings the tasks capability.
        caps.tasks = self
            .tools
            .definitions()
            .any(Tool::runs_as_task)
            .then(ServerTasksCapability::tool_calls);
        self.capability_maps.iter().fold(caps, |caps, f| f(caps))
    }

    fn instructions(&self) -> Option<String> {
        self.instructions.clone()
    }

    fn notifier(&self) -> Option<Notifier> {
        Some(self.announcer.notifier().clone())
    }

    fn check(&self) -> Result<(), BoxError> {
        Router::check(self).map_err(Into::into)
    }

    fn find_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name).cloned()
    }

    fn find_tool_ref(&self, name: &str) -> Option<std::borrow::Cow<'_, Tool>> {
        self.tools.get(name).map(std::borrow::Cow::Borrowed)
    }

    fn required_scopes(&self, method: &str, params: Option<&Value>) -> Vec<String> {
        let field = |key: &str| params.and_then(|p| p.get(key)).and_then(Value::as_str);
        let scopes: &[String] = match method {
            "tools/call" => {
                return field("name")
                    .and_then(|name| self.tools.get(name))
                    .map(crate::server::tool_scopes)
                    .unwrap_or_default()
            }
            "prompts/get" => field("name")
                .and_then(|name| self.prompt_index.get(name))
                .map_or(&[], |&i| &self.prompts[i].scopes),
            "resources/read" | "resources/subscribe" => {
                field("uri").map_or(&[], |uri| self.scopes_for(uri))
            }
            // A stream that watches resources needs what reading them needs.
            "subscriptions/listen" => {
                let uris = params
                    .and_then(|p| p.pointer("/notifications/resourceSubscriptions"))
                    .and_then(Value::as_array);
                let mut all: Vec<String> = Vec::new();
                for uri in uris.into_iter().flatten().filter_map(Value::as_str) {
                    for scope in self.scopes_for(uri) {
                        if !all.contains(scope) {
                            all.push(scope.clone());
                        }
                    }
                }
                return all;
            }
            _ => &[],
        };
        scopes.to_vec()
    }

    async fn list_tools(
        &self,
        params: ListToolsParams,
        ctx: RequestContext,
    ) -> Result<ListToolsResult, Error> {
        self.ready()?;
        // A client without the extension sees linked tools as plain ones;
        // a caller sees the tools its token may call (or all, marked).
        let apps = crate::apps::supported(&ctx);
        let visible = |tool: &&Tool| self.tools.visible_to(tool, &ctx);
        let tools = self
            .tools
            .definitions()
            .filter(visible)
            .cloned()
            .map(|tool| {
                if apps {
                    tool
                } else {
                    crate::apps::without_ui(tool)
                }
            });
        let (tools, next) = self.page(tools, params.cursor.as_deref())?;
        let mut result = ListToolsResult::new(tools);
        result.next_cursor = next;
        Ok(result)
    }

    // Not an `async fn`: the handler's future is the answer, boxed once,
    // where an `async fn` would box a second future around it, large
    // enough to miss the allocator's fast path on every call.
    fn call_tool<'life0, 'async_trait>(
        &'life0 self,
        params: CallToolParams,
        ctx: RequestContext,
    ) -> BoxFuture<'async_trait, Result<CallToolResult, Error>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        if let Err(e) = self.ready() {
            return Box::pin(std::future::ready(Err(e)));
        }
        self.tools.start(params, ctx)
    }

    async fn list_resources(
        &self,
        params: ListResourcesParams,
        ctx: RequestContext,
    ) -> Result<ListResourcesResult, Error> {
        self.ready()?;
        let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
        let mut all: BTreeMap<String, Resource> = BTreeMap::new();
        for r in &self.resources {
            all.insert(r.resource.uri.clone(), r.resource.clone());
        }
        for list in &self.listers {
            for r in list(ctx.clone()).await? {
                all.entry(r.uri.clone()).or_insert(r);
            }
        }
        let size = self.page_size.unwrap_or(usize::MAX);
        let rest = match &after {
            Some(a) => all.split_off(a.as_str()),
            None => all,
        };
        let mut page: Vec<Resource> = rest
            .into_values()
            .filter(|r| after.as_deref() != Some(r.uri.as_str()))
            .take(size.saturating_add(1))
            .collect();
        let next_cursor = (page.len() > size).then(|| {
            page.truncate(size);
            encode_cursor(&page[size - 1].uri)
        });
        let mut result = ListResourcesResult::new(page);
        result.next_cursor = next_cursor;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        params: ListResourceTemplatesParams,
        _ctx: RequestContext,
    ) -> Result<ListResourceTemplatesResult, Error> {
        self.ready()?;
        let (templates, next) = self.page(
            self.templates.iter().map(|t| t.template.clone()),
            params.cursor.as_deref(),
        )?;
        let mut result = ListResourceTemplatesResult::new(templates);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        params: ReadResourceParams,
        ctx: RequestContext,
    ) -> Result<ReadResourceResult, Error> {
        self.ready()?;
        let uri = params.uri;
        let call = Call::new(CallKind::Resource, &uri, None);
        run_guards(&self.guards, &call, &ctx).map_err(Refusal::into_error)?;
        let Some((guards, read, vars)) = self.reader_for(&uri) else {
            return Err(Error::resource_not_found(&uri));
        };
        run_guards(guards, &call, &ctx).map_err(Refusal::into_error)?;
        read(uri, vars, ctx).await
    }

    async fn subscribe(&self, params: SubscribeParams, ctx: RequestContext) -> Result<(), Error> {
        self.ready()?;
        let uri = params.uri.clone();
        let key = match &self.on_subscribe {
            Some(decide) => decide(params, ctx.clone()).await?,
            None if self.reader_for(&uri).is_some() => uri.clone(),
            None => return Err(Error::resource_not_found(&uri)),
        };
        self.announcer
            .subscribe(key.clone(), uri.clone(), ctx.peer())?;
        // Replicas sharing sessions: the others learn of it too.
        if let Some(shared) = self.announcer.notifier().session_subscriptions() {
            if let Err(e) = shared.subscribed(ctx.peer(), &key, &uri).await {
                self.announcer.unsubscribe(&uri, ctx.peer());
                return Err(e);
            }
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        params: UnsubscribeParams,
        ctx: RequestContext,
    ) -> Result<(), Error> {
        self.ready()?;
        self.announcer.unsubscribe(&params.uri, ctx.peer());
        if let Some(shared) = self.announcer.notifier().session_subscriptions() {
            shared.unsubscribed(ctx.peer(), &params.uri).await?;
        }
        Ok(())
    }

    async fn list_prompts(
        &self,
        params: ListPromptsParams,
        _ctx: RequestContext,
    ) -> Result<ListPromptsResult, Error> {
        self.ready()?;
        let (prompts, next) = self.page(
            self.prompts.iter().map(|p| p.prompt.clone()),
            params.cursor.as_deref(),
        )?;
        let mut result = ListPromptsResult::new(prompts);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        params: GetPromptParams,
        ctx: RequestContext,
    ) -> Result<GetPromptResult, Error> {
        self.ready()?;
        let call = Call::new(CallKind::Prompt, &params.name, None);
        run_guards(&self.guards, &call, &ctx).map_err(Refusal::into_error)?;
        let entry = self
            .prompt_index
            .get(&params.name)
            .map(|&i| &self.prompts[i])
            .ok_or_else(|| {
                Error::invalid_params(format_args!("Unknown prompt: {}", params.name))
            })?;
        run_guards(&entry.guards, &call, &ctx).map_err(Refusal::into_error)?;
        let args = params.arguments.unwrap_or_default();
        let missing: Vec<&str> = entry
            .prompt
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
        (entry.get)(args, ctx).await
    }

    async fn complete(
        &self,
        params: CompleteParams,
        ctx: RequestContext,
    ) -> Result<CompleteResult, Error> {
        self.ready()?;
        let (own, known) = match &params.reference {
            CompletionReference::Prompt(p) => (
                self.prompt_completions.get(&p.name),
                self.prompt_index.contains_key(&p.name),
            ),
            CompletionReference::Resource(r) => (
                self.template_completions.get(&r.uri),
                self.templates
                    .iter()
                    .any(|t| t.template.uri_template == r.uri),
            ),
        };
        match (own.or(self.completion.as_ref()), known) {
            (Some(complete), _) => complete(params, ctx).await,
            // Known, but nothing to suggest.
            (None, true) => Ok(CompleteResult::new(Vec::new())),
            (None, false) => Err(match &params.reference {
                CompletionReference::Prompt(p) => {
                    Error::invalid_params(format_args!("Unknown prompt: {}", p.name))
                }
                CompletionReference::Resource(r) => {
                    Error::invalid_params(format_args!("Unknown resource template: {}", r.uri))
                }
            }),
        }
    }

    async fn on_initialized(&self, peer: Peer) {
        self.announcer.session_opened(peer.clone());
        run_hooks(&self.hooks.initialized, &peer).await;
    }

    async fn on_roots_list_changed(&self, peer: Peer) {
        run_hooks(&self.hooks.roots_list_changed, &peer).await;
    }

    async fn on_session_closed(&self, peer: Peer) {
        self.announcer.session_closed(&peer);
        run_hooks(&self.hooks.session_closed, &peer).await;
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::{decode_cursor, encode_cursor};

    proptest::proptest! {
        /// A resource page's cursor gives back the URI it was made from,
        /// and any other text is -32602, never a panic.
        #[test]
        fn cursors_round_trip(uri in ".{0,80}", junk in ".{0,80}") {
            proptest::prop_assert_eq!(decode_cursor(&encode_cursor(&uri)).unwrap(), uri);
            if let Err(e) = decode_cursor(&junk) {
                proptest::prop_assert_eq!(e.code, mcp_sdk::ErrorCode::INVALID_PARAMS);
            }
        }
    }
}
