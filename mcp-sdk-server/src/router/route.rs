//! Options of one registration ([`Route`]) and the guards that decide
//! whether a call may reach its handler.

use crate::context::RequestContext;
use mcp_sdk::{CallToolResult, Error, JsonObject};
use std::fmt;
use std::sync::Arc;

/// What a call is about to reach, as a guard sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    kind: CallKind,
    name: &'a str,
    arguments: Option<&'a JsonObject>,
}

/// The kind of handler a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallKind {
    /// `tools/call`; the name is the tool's.
    Tool,
    /// `prompts/get`; the name is the prompt's.
    Prompt,
    /// `resources/read`; the name is the URI read.
    Resource,
}

impl<'a> Call<'a> {
    pub(crate) fn new(kind: CallKind, name: &'a str, arguments: Option<&'a JsonObject>) -> Self {
        Call {
            kind,
            name,
            arguments,
        }
    }

    /// A tool, prompt or resource read.
    pub fn kind(&self) -> CallKind {
        self.kind
    }

    /// The tool's or prompt's name as the client sent it, or the URI read.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The arguments of a tool call, before validation (`None` for prompts,
    /// whose arguments are strings, and for reads).
    pub fn arguments(&self) -> Option<&'a JsonObject> {
        self.arguments
    }
}

/// Why a guard stopped a call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Refusal {
    /// A JSON-RPC error for the client (say, -32602 for a tool that is
    /// switched off, or an error of your own for a missing permission).
    Error(Error),
    /// For a tool: a result with `isError: true`, which the model reads and
    /// can act on. For a prompt or a read: -32602 with this text.
    Message(String),
}

impl Refusal {
    /// A refusal the model reads (see [`Refusal::Message`]).
    pub fn message(text: impl Into<String>) -> Self {
        Refusal::Message(text.into())
    }

    pub(crate) fn into_tool_result(self) -> Result<CallToolResult, Error> {
        match self {
            Refusal::Error(e) => Err(e),
            Refusal::Message(text) => Ok(CallToolResult::error_text(text)),
        }
    }

    pub(crate) fn into_error(self) -> Error {
        match self {
            Refusal::Error(e) => e,
            Refusal::Message(text) => Error::invalid_params(text),
        }
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Error(e)
    }
}

/// A check run before a handler: `Ok(())` lets the call through.
///
/// A guard decides from what it can see at once (the call, the context
/// with its extensions, what it captured); a check that must wait on I/O
/// belongs in the handler. Guards run in order, router-wide ones (see
/// [`Router::guard`](super::Router::guard)) before a route's own.
pub(crate) type Guard =
    Arc<dyn Fn(&Call<'_>, &RequestContext) -> Result<(), Refusal> + Send + Sync>;

pub(crate) fn run_guards(
    guards: &[Guard],
    call: &Call<'_>,
    ctx: &RequestContext,
) -> Result<(), Refusal> {
    guards.iter().try_for_each(|g| g(call, ctx))
}

/// One registration's definition and its options: a [`Tool`](mcp_sdk::Tool),
/// [`Prompt`](mcp_sdk::Prompt), [`Resource`](mcp_sdk::Resource) or
/// [`ResourceTemplate`](mcp_sdk::ResourceTemplate), with the guards that
/// apply to it alone. Every registration method takes `impl Into<Route<T>>`,
/// so a bare definition is a route without options.
///
/// ```
/// use mcp_sdk::Tool;
/// use mcp_sdk_server::router::{Refusal, Route};
/// use mcp_sdk_server::{NoArguments, Router};
///
/// #[derive(Clone)]
/// struct Role(&'static str);
///
/// let router = Router::new().tool(
///     Route::new(Tool::named("drop_all", "Empties the store")).guard(|_call, ctx| {
///         match ctx.extensions().get::<Role>() {
///             Some(Role("admin")) => Ok(()),
///             _ => Err(Refusal::message("drop_all is for administrators")),
///         }
///     }),
///     |_: NoArguments| async { "emptied" },
/// );
/// # assert!(router.check().is_ok());
/// ```
pub struct Route<T> {
    pub(crate) definition: T,
    pub(crate) guards: Vec<Guard>,
    /// The scopes a call needs ([`requires_scope`](Route::requires_scope)).
    pub(crate) scopes: Vec<String>,
}

// Defined beside the `Server` trait, whose default `required_scopes` reads
// it: the router builds on the server layer, not the other way round.
pub use crate::server::REQUIRED_SCOPES_META;

/// The scopes the `_meta` of a definition says a call needs.
#[cfg(feature = "auth")]
pub(crate) fn required_scopes(meta: Option<&mcp_sdk::Meta>) -> Vec<&str> {
    meta.and_then(|m| m.get(REQUIRED_SCOPES_META))
        .and_then(serde_json::Value::as_array)
        .map(|list| list.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default()
}

impl<T> Route<T> {
    /// A route for `definition`, without options.
    pub fn new(definition: T) -> Self {
        Route {
            definition,
            guards: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// A call needs the OAuth scope `scope` (feature `auth`): a caller whose
    /// token lacks it is refused, on a protected HTTP server with a 403
    /// `insufficient_scope` challenge naming it (the client's step-up), and
    /// a tool lists it in its `_meta` under [`REQUIRED_SCOPES_META`]. Only
    /// a request that carries an [`Identity`](crate::auth::Identity) is
    /// checked: over stdio and unprotected transports there is no token.
    ///
    /// ```
    /// use mcp_sdk::Tool;
    /// use mcp_sdk_server::router::Route;
    /// use mcp_sdk_server::{NoArguments, Router};
    ///
    /// let router = Router::new().tool(
    ///     Route::new(Tool::named("drop_table", "Drops a table")).requires_scope("db:write"),
    ///     |_: NoArguments| async { "dropped" },
    /// );
    /// let tool = router.tools().get("drop_table").unwrap();
    /// assert_eq!(tool.meta.as_ref().unwrap()["dev.mcp-sdk/requiredScopes"], serde_json::json!(["db:write"]));
    /// ```
    #[cfg(feature = "auth")]
    pub fn requires_scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.scopes.push(scope.clone());
        self.guard(move |_call, ctx| match ctx.identity() {
            Some(identity) if !identity.has_scope(&scope) => Err(Refusal::Error(
                Error::new(
                    mcp_sdk::ErrorCode::INVALID_REQUEST,
                    format!("Forbidden: this needs the scope {scope}"),
                )
                .with_data(serde_json::json!({ "requiredScope": scope })),
            )),
            _ => Ok(()),
        })
    }

    /// Adds a guard that runs before this route's handler, after the
    /// router-wide ones. Its refusal is the answer.
    pub fn guard<G>(mut self, guard: G) -> Self
    where
        G: Fn(&Call<'_>, &RequestContext) -> Result<(), Refusal> + Send + Sync + 'static,
    {
        self.guards.push(Arc::new(guard));
        self
    }

    /// The definition.
    pub fn definition(&self) -> &T {
        &self.definition
    }
}

impl<T> From<T> for Route<T> {
    fn from(definition: T) -> Self {
        Route::new(definition)
    }
}

impl<T: fmt::Debug> fmt::Debug for Route<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("definition", &self.definition)
            .field("guards", &self.guards.len())
            .field("scopes", &self.scopes)
            .finish()
    }
}
