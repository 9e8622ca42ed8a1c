//! Tools as plain async functions: typed arguments in (schema from
//! `schemars`, validated before the handler runs), anything that turns into
//! a `CallToolResult` out; and the [`ToolTable`] that holds them.

use super::handler::Handler;
use super::route::{run_guards, Call, CallKind, Guard};
use super::schema::{output_schema_for, schema_for};
use crate::context::RequestContext;
use futures_util::future::BoxFuture;
use mcp_sdk::{
    CallToolParams, CallToolResult, ContentBlock, ElicitRequestUrlParams, Error, JsonObject, Tool,
    UrlElicitationRequiredData,
};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;

/// Arguments for a tool that takes none.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, JsonSchema)]
pub struct NoArguments {}

/// A tool result carrying structured content: the value goes out as
/// `structuredContent` (and as JSON text, for clients older than
/// 2025-06-18), and the tool advertises `T`'s schema as its `outputSchema`.
#[derive(Debug, Clone)]
pub struct Structured<T>(pub T);

/// What a tool handler may return.
#[diagnostic::on_unimplemented(
    message = "a tool handler cannot return `{Self}`",
    note = "return a `String`, `&'static str`, `CallToolResult`, `ContentBlock`, `Vec<ContentBlock>`, `Structured<T>` (T: Serialize + JsonSchema), `ProtocolError`, or a `Result` of one of these with an error that is `Display`"
)]
pub trait IntoToolResult {
    /// The `outputSchema` this result type implies, if any.
    fn output_schema() -> Option<JsonObject> {
        None
    }

    /// The result to send. `Err` is a protocol error; tool failures are
    /// `Ok` results with `isError: true`.
    fn into_tool_result(self) -> Result<CallToolResult, Error>;
}

/// Ends a tool call with a JSON-RPC error (a protocol error) rather than a
/// tool result: for what is not the tool's to report, such as a broken
/// invariant. A failure the model should read is an `Err` (which becomes
/// `isError: true`).
#[derive(Debug, Clone)]
pub struct ProtocolError(pub Error);

impl ProtocolError {
    /// -32042 (2025-11-25): the call cannot go on until the user completes
    /// these URL-mode elicitations (each made with
    /// [`ElicitRequestUrlParams::new`]). The client shows each page, with
    /// the user's consent, and retries the call once it is done (a server
    /// that can tell sends `notifications/elicitation/complete`). For a
    /// handler that would rather end the call than wait in
    /// [`RequestContext::elicit_url`](crate::RequestContext::elicit_url);
    /// revision 2026-07-28 has no such error, so there use `elicit_url`.
    pub fn url_elicitation_required(
        message: impl Into<String>,
        elicitations: Vec<ElicitRequestUrlParams>,
    ) -> Self {
        ProtocolError(UrlElicitationRequiredData::new(elicitations).into_error(message))
    }
}

impl IntoToolResult for ProtocolError {
    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        Err(self.0)
    }
}

/// A tool that either gives a result or ends the call with a protocol
/// error (such as [`ProtocolError::url_elicitation_required`]).
impl<T: IntoToolResult> IntoToolResult for Result<T, ProtocolError> {
    fn output_schema() -> Option<JsonObject> {
        T::output_schema()
    }

    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        self.map_err(|e| e.0)?.into_tool_result()
    }
}

impl IntoToolResult for CallToolResult {
    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        Ok(self)
    }
}

impl IntoToolResult for String {
    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        Ok(CallToolResult::text(self))
    }
}

impl IntoToolResult for &'static str {
    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        Ok(CallToolResult::text(self))
    }
}

impl IntoToolResult for ContentBlock {
    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        Ok(CallToolResult::new(vec![self]))
    }
}

impl IntoToolResult for Vec<ContentBlock> {
    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        Ok(CallToolResult::new(self))
    }
}

impl<T: Serialize + JsonSchema> IntoToolResult for Structured<T> {
    fn output_schema() -> Option<JsonObject> {
        Some(output_schema_for::<T>())
    }

    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        let value = serde_json::to_value(&self.0)
            .map_err(|e| Error::internal(format_args!("tool output did not serialize: {e}")))?;
        Ok(CallToolResult::structured(value))
    }
}

/// A failing tool: the error's text goes to the model with `isError: true`,
/// so it can correct itself, as the spec asks.
impl<T: IntoToolResult, E: Display> IntoToolResult for Result<T, E> {
    fn output_schema() -> Option<JsonObject> {
        T::output_schema()
    }

    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        match self {
            Ok(v) => v.into_tool_result(),
            Err(e) => Ok(CallToolResult::error_text(e.to_string())),
        }
    }
}

/// A function that can serve as a tool: an async closure or `async fn`
/// taking, in this order, `State<S>` (optional), the arguments (a type that
/// is `Deserialize + JsonSchema`; [`NoArguments`] for none) and a
/// [`RequestContext`] (optional), and returning something
/// [`IntoToolResult`]. `M` tells the shapes apart; it is inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool handler on a router whose state is `{S}`",
    label = "not a tool handler",
    note = "a tool handler is an async closure or `async fn` whose parameters are, in this order: `State<{S}>` (optional), the arguments (`Deserialize + JsonSchema`, or `NoArguments`), and `RequestContext` (optional); name their types in a closure",
    note = "it returns something `IntoToolResult`: `String`, `CallToolResult`, `Structured<T>`, or a `Result` of one of them with a `Display` error",
    note = "a handler that takes `State<T>` works only on a `Router<T>`: give the router that state with `Router::with_state`"
)]
pub trait ToolHandler<M, S = ()>: Send + Sync + 'static {
    /// The schema of the arguments, as `schemars` writes it (the router
    /// advertises its [portable](super::portable) form).
    fn input_schema(&self) -> JsonObject;
    /// The schema of the structured output, if any.
    fn output_schema(&self) -> Option<JsonObject>;
    /// Runs the tool on arguments that already passed schema validation.
    fn call(
        &self,
        state: &S,
        args: Value,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, Error>>;
}

impl<H, M, S, A> ToolHandler<(M, A), S> for H
where
    H: Handler<M, S, A>,
    H::Output: IntoToolResult,
    A: DeserializeOwned + JsonSchema + Send + 'static,
{
    fn input_schema(&self) -> JsonObject {
        schema_for::<A>()
    }

    fn output_schema(&self) -> Option<JsonObject> {
        <H::Output as IntoToolResult>::output_schema()
    }

    fn call(
        &self,
        state: &S,
        args: Value,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, Error>> {
        match serde_json::from_value::<A>(args) {
            Ok(args) => {
                Handler::call_then(self, state, args, ctx, IntoToolResult::into_tool_result)
            }
            Err(e) => Box::pin(async move {
                Ok(CallToolResult::error_text(format!(
                    "Invalid arguments: {e}"
                )))
            }),
        }
    }
}

pub(crate) type BoxedTool = Arc<
    dyn Fn(Value, RequestContext) -> BoxFuture<'static, Result<CallToolResult, Error>>
        + Send
        + Sync,
>;

pub(crate) struct ToolEntry {
    pub(crate) tool: Tool,
    pub(crate) validator: Arc<jsonschema::Validator>,
    pub(crate) call: BoxedTool,
    pub(crate) guards: Vec<Guard>,
}

impl Clone for ToolEntry {
    fn clone(&self) -> Self {
        ToolEntry {
            tool: self.tool.clone(),
            validator: self.validator.clone(),
            call: self.call.clone(),
            guards: self.guards.clone(),
        }
    }
}

/// Whether `name` is a tool name as MCP 2025-11-25 asks (SEP-986): 1 to
/// 128 characters, each an ASCII letter or digit, `_`, `-` or `.`.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The tools of a router: their definitions, the validators of their
/// arguments and their handlers.
///
/// A server written on the [`Server`](crate::Server) trait keeps the
/// router's argument validation by answering `tools/list` and `tools/call`
/// from a router's table (see [`Router::tools`](super::Router::tools)):
///
/// ```
/// use mcp_sdk::{CallToolParams, CallToolResult, Error, ListToolsParams, ListToolsResult, Tool};
/// use mcp_sdk_server::{async_trait, RequestContext, Router, Server};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Args { n: u32 }
///
/// struct Mine { tools: Router }
///
/// #[async_trait]
/// impl Server for Mine {
///     fn capabilities(&self) -> mcp_sdk::ServerCapabilities {
///         self.tools.capabilities()
///     }
///     async fn list_tools(&self, _: ListToolsParams, _: RequestContext) -> Result<ListToolsResult, Error> {
///         Ok(ListToolsResult::new(self.tools.tools().definitions().cloned().collect()))
///     }
///     async fn call_tool(&self, p: CallToolParams, ctx: RequestContext) -> Result<CallToolResult, Error> {
///         // Unknown tool: -32602; arguments that do not fit: a tool error.
///         self.tools.tools().call(p, ctx).await
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mine = Mine { tools: Router::new().tool(Tool::named("double", "Doubles n"), |a: Args| async move { (a.n * 2).to_string() }) };
/// let ctx = RequestContext::builder().build();
/// let bad = mine.call_tool(CallToolParams::new("double", serde_json::json!({"n": "x"}).as_object().cloned()), ctx).await.unwrap();
/// assert_eq!(bad.is_error, Some(true));
/// # }
/// ```
#[derive(Clone, Default)]
pub struct ToolTable {
    pub(crate) entries: Vec<ToolEntry>,
    pub(crate) index: HashMap<String, usize>,
    /// The router-wide guards, run before each tool's own.
    pub(crate) guards: Vec<Guard>,
    /// `tools/list` leaves out tools whose scopes the caller lacks
    /// (instead of listing them, marked, for a step-up).
    #[cfg(feature = "auth")]
    pub(crate) hide_out_of_scope: bool,
}

impl std::fmt::Debug for ToolTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.tool.name))
            .finish()
    }
}

impl ToolTable {
    /// Whether `tools/list` shows `tool` to the caller of `ctx`: always,
    /// unless the router hides tools out of the caller's scope.
    pub(crate) fn visible_to(&self, tool: &Tool, ctx: &RequestContext) -> bool {
        #[cfg(feature = "auth")]
        if self.hide_out_of_scope {
            if let Some(identity) = ctx.identity() {
                return super::route::required_scopes(tool.meta.as_ref())
                    .iter()
                    .all(|s| identity.has_scope(s));
            }
        }
        let _ = (tool, ctx);
        true
    }

    /// How many tools there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The definition of the tool `name`.
    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.entry(name).map(|e| &e.tool)
    }

    /// Every definition, in the order of registration.
    pub fn definitions(&self) -> impl Iterator<Item = &Tool> {
        self.entries.iter().map(|e| &e.tool)
    }

    /// Checks `arguments` against the input schema of `name`: `Ok` if they
    /// fit, else up to five problems, each naming where it is.
    ///
    /// # Errors
    /// The problems; `-32602` (as the only problem) if there is no such tool.
    pub fn validate(&self, name: &str, arguments: &Value) -> Result<(), Vec<String>> {
        match self.entry(name) {
            Some(entry) => problems(entry, arguments),
            None => Err(vec![format!("Unknown tool: {name}")]),
        }
    }

    /// Answers a `tools/call`: the guards run, then the arguments are
    /// validated (a mismatch is a tool error the model reads), then the
    /// handler runs. An unknown tool is -32602.
    pub async fn call(
        &self,
        params: CallToolParams,
        ctx: RequestContext,
    ) -> Result<CallToolResult, Error> {
        self.start(params, ctx).await
    }

    /// [`call`](Self::call) up to the handler, done at once: the future is
    /// the handler's (or the answer already given), so that a caller
    /// holds nothing else of the call while the handler runs.
    pub(crate) fn start(
        &self,
        params: CallToolParams,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, Error>> {
        let done = |answer| -> BoxFuture<'static, _> { Box::pin(std::future::ready(answer)) };
        let call = Call::new(CallKind::Tool, &params.name, params.arguments.as_ref());
        if let Err(refusal) = run_guards(&self.guards, &call, &ctx) {
            return done(refusal.into_tool_result());
        }
        let Some(entry) = self.entry(&params.name) else {
            return done(Err(Error::invalid_params(format_args!(
                "Unknown tool: {}",
                params.name
            ))));
        };
        if let Err(refusal) = run_guards(&entry.guards, &call, &ctx) {
            return done(refusal.into_tool_result());
        }
        let args = Value::Object(params.arguments.unwrap_or_default());
        if let Err(problems) = problems(entry, &args) {
            return done(Ok(CallToolResult::error_text(format!(
                "Invalid arguments for tool {}: {}",
                params.name,
                problems.join("; ")
            ))));
        }
        (entry.call)(args, ctx)
    }

    /// The tool `name`. A few tools are found sooner by comparing names
    /// than by hashing one.
    fn entry(&self, name: &str) -> Option<&ToolEntry> {
        if self.entries.len() <= 8 {
            return self.entries.iter().find(|e| e.tool.name == name);
        }
        self.index.get(name).map(|&i| &self.entries[i])
    }
}

/// Up to five ways `arguments` miss the tool's input schema.
fn problems(entry: &ToolEntry, arguments: &Value) -> Result<(), Vec<String>> {
    // Most calls fit: `is_valid` stops at the first miss and builds no
    // error objects, which `iter_errors` does for every keyword it visits.
    if entry.validator.is_valid(arguments) {
        return Ok(());
    }
    let problems: Vec<String> = entry
        .validator
        .iter_errors(arguments)
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
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
