//! Tools as plain async functions: typed arguments in (schema from
//! `schemars`, validated before the handler runs), anything that turns into a
//! `CallToolResult` out.

use crate::context::RequestContext;
use futures_util::future::BoxFuture;
use mcp_sdk::{CallToolResult, ContentBlock, Error, JsonObject};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;

/// The JSON Schema (draft 2020-12) of `T`, as MCP tool schemas want it.
pub fn schema_for<T: JsonSchema>() -> JsonObject {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    match schema.to_value() {
        Value::Object(map) => map,
        // A bare `true` schema (anything goes) as an object schema.
        _ => {
            let mut map = Map::new();
            map.insert("type".into(), "object".into());
            map
        }
    }
}

/// Arguments for a tool that takes none.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, JsonSchema)]
pub struct NoArguments {}

/// A tool result carrying structured content: the value goes out as
/// `structuredContent` (and as JSON text, for clients older than
/// 2025-06-18), and the tool advertises `T`'s schema as its `outputSchema`.
#[derive(Debug, Clone)]
pub struct Structured<T>(pub T);

/// What a tool handler may return.
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

impl IntoToolResult for ProtocolError {
    fn into_tool_result(self) -> Result<CallToolResult, Error> {
        Err(self.0)
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
        Some(schema_for::<T>())
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

/// A function that can serve as a tool. Implemented for `async fn(Args)` and
/// `async fn(Args, RequestContext)` where `Args: Deserialize + JsonSchema`
/// and the output is [`IntoToolResult`].
pub trait ToolHandler<Marker>: Send + Sync + 'static {
    /// The schema of the arguments.
    fn input_schema(&self) -> JsonObject;
    /// The schema of the structured output, if any.
    fn output_schema(&self) -> Option<JsonObject>;
    /// Runs the tool on arguments that already passed schema validation.
    fn call(
        &self,
        args: Value,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, Error>>;
}

/// Marks handlers that take only the arguments.
pub struct ArgsOnly<A>(PhantomData<fn(A)>);
/// Marks handlers that take the arguments and the request context.
pub struct ArgsAndContext<A>(PhantomData<fn(A)>);

fn decode<A: DeserializeOwned>(args: Value) -> Result<A, CallToolResult> {
    serde_json::from_value(args)
        .map_err(|e| CallToolResult::error_text(format!("Invalid arguments: {e}")))
}

impl<F, Fut, A, R> ToolHandler<ArgsOnly<A>> for F
where
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    A: DeserializeOwned + JsonSchema + 'static,
    R: IntoToolResult,
{
    fn input_schema(&self) -> JsonObject {
        schema_for::<A>()
    }
    fn output_schema(&self) -> Option<JsonObject> {
        R::output_schema()
    }
    fn call(
        &self,
        args: Value,
        _ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, Error>> {
        match decode::<A>(args) {
            Ok(a) => {
                let fut = self(a);
                Box::pin(async move { fut.await.into_tool_result() })
            }
            Err(e) => Box::pin(async move { Ok(e) }),
        }
    }
}

impl<F, Fut, A, R> ToolHandler<ArgsAndContext<A>> for F
where
    F: Fn(A, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    A: DeserializeOwned + JsonSchema + 'static,
    R: IntoToolResult,
{
    fn input_schema(&self) -> JsonObject {
        schema_for::<A>()
    }
    fn output_schema(&self) -> Option<JsonObject> {
        R::output_schema()
    }
    fn call(
        &self,
        args: Value,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<CallToolResult, Error>> {
        match decode::<A>(args) {
            Ok(a) => {
                let fut = self(a, ctx);
                Box::pin(async move { fut.await.into_tool_result() })
            }
            Err(e) => Box::pin(async move { Ok(e) }),
        }
    }
}
