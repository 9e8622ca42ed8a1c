//! Prompts as async functions of their arguments, which come either as a
//! map of strings ([`PromptArguments`]) or as a struct of your own whose
//! fields the prompt's declared arguments are made from.

use super::handler::{Handler, IntoAnswer};
use super::schema::schema_for;
use crate::context::RequestContext;
use futures_util::future::BoxFuture;
use mcp_sdk::{Error, GetPromptResult, PromptArgument};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The arguments of a `prompts/get`, by name.
pub type PromptArguments = BTreeMap<String, String>;

/// A function that can serve as a prompt: an async closure or `async fn`
/// taking, in this order, `State<S>` (optional), the arguments and a
/// [`RequestContext`] (optional), and returning a `GetPromptResult` or a
/// `Result<GetPromptResult, Error>`.
///
/// The arguments are a [`PromptArguments`] map, or a struct that is
/// `Deserialize + JsonSchema` whose fields are strings (`String`,
/// `Option<String>`, or an enum of unit variants): then the prompt's
/// declared arguments come from the struct (names, doc comments as
/// descriptions, `Option` fields optional), unless the `Prompt` you register
/// declares its own.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a prompt handler on a router whose state is `{S}`",
    label = "not a prompt handler",
    note = "a prompt handler is an async closure or `async fn` whose parameters are, in this order: `State<{S}>` (optional), the arguments (`PromptArguments`, or a struct that is `Deserialize + JsonSchema` with string fields), and `RequestContext` (optional); name their types in a closure",
    note = "it returns `GetPromptResult` or `Result<GetPromptResult, mcp_sdk::Error>`"
)]
pub trait PromptHandler<M, S = ()>: Send + Sync + 'static {
    /// The arguments the handler's type declares, if it is a struct with
    /// fields; an error says which field is not a string.
    ///
    /// # Errors
    /// A sentence naming the field that cannot be a prompt argument.
    fn arguments(&self) -> Result<Option<Vec<PromptArgument>>, String>;

    /// Runs the prompt on the client's arguments.
    fn call(
        &self,
        state: &S,
        args: PromptArguments,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<GetPromptResult, Error>>;
}

impl<H, M, S, A> PromptHandler<(M, A), S> for H
where
    H: Handler<M, S, A>,
    H::Output: IntoAnswer<GetPromptResult>,
    A: DeserializeOwned + JsonSchema + Send + 'static,
{
    fn arguments(&self) -> Result<Option<Vec<PromptArgument>>, String> {
        arguments_of(&schema_for::<A>())
    }

    fn call(
        &self,
        state: &S,
        args: PromptArguments,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<GetPromptResult, Error>> {
        let value = Value::Object(args.into_iter().map(|(k, v)| (k, v.into())).collect());
        match serde_json::from_value::<A>(value) {
            Ok(args) => {
                let fut = Handler::call(self, state, args, ctx);
                Box::pin(async move { fut.await.into_answer() })
            }
            Err(e) => Box::pin(async move {
                Err(Error::invalid_params(format_args!(
                    "Invalid arguments: {e}"
                )))
            }),
        }
    }
}

/// The prompt arguments a struct's schema declares: `None` if it has no
/// named properties (a map); an error if one of them cannot hold a string.
pub(crate) fn arguments_of(
    schema: &Map<String, Value>,
) -> Result<Option<Vec<PromptArgument>>, String> {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Ok(None);
    };
    if properties.is_empty() {
        return Ok(None);
    }
    let defs = schema.get("$defs").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Vec::with_capacity(properties.len());
    for (name, property) in properties {
        if !holds_strings(property, defs, 0) {
            return Err(format!(
                "argument {name:?} is not a string: prompt arguments are strings, so use String, \
                 Option<String> or an enum of unit variants, and parse it in the handler"
            ));
        }
        let text = |k: &str| property.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut arg = PromptArgument::new(name, "", required.contains(&name.as_str()));
        arg.description = text("description");
        arg.title = text("title");
        if arg.required == Some(false) {
            arg.required = None;
        }
        out.push(arg);
    }
    Ok(Some(out))
}

/// Whether every value a property's schema accepts, `null` aside, is a
/// string.
fn holds_strings(schema: &Value, defs: Option<&Map<String, Value>>, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    let Value::Object(map) = schema else {
        return false;
    };
    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/$defs/")
            .and_then(|name| defs.and_then(|d| d.get(name)));
        return target.is_some_and(|t| holds_strings(t, defs, depth + 1));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get(key) {
            return branches.iter().all(|b| {
                b.get("type").and_then(Value::as_str) == Some("null")
                    || b.get("const").is_some_and(Value::is_null)
                    || holds_strings(b, defs, depth + 1)
            });
        }
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        return values.iter().all(|v| v.is_string() || v.is_null());
    }
    if let Some(c) = map.get("const") {
        return c.is_string();
    }
    map.get("type").and_then(Value::as_str) == Some("string")
}
