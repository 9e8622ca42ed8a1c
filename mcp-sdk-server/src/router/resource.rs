//! Resources as async functions of the request, whose template variables
//! come as a map of strings or as a struct of your own.

use super::handler::{Handler, IntoAnswer};
use super::schema::schema_for;
use crate::context::RequestContext;
use futures_util::future::BoxFuture;
use mcp_sdk::{Error, ReadResourceResult};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// A `resources/read` as a resource handler sees it.
///
/// `V` is how the variables of a resource template arrive: a map of
/// strings by default, or a struct that is `Deserialize + JsonSchema` whose
/// fields are the template's variables (as strings, or enums of unit
/// variants). A URI whose variables do not fit the struct is a resource
/// that does not exist (-32002).
#[derive(Debug, Clone)]
pub struct ResourceRequest<V = HashMap<String, String>> {
    /// The URI the client asked for.
    pub uri: String,
    /// For templates: the values of the template's variables in `uri`.
    pub variables: V,
}

/// A function that can serve a resource or a resource template: an async
/// closure or `async fn` taking, in this order, `State<S>` (optional), a
/// [`ResourceRequest`] (of typed variables, if you like) and a
/// [`RequestContext`] (optional), and returning a `ReadResourceResult` or a
/// `Result<ReadResourceResult, Error>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a resource handler on a router whose state is `{S}`",
    label = "not a resource handler",
    note = "a resource handler is an async closure or `async fn` whose parameters are, in this order: `State<{S}>` (optional), `ResourceRequest` or `ResourceRequest<V>` (V: Deserialize + JsonSchema), and `RequestContext` (optional); name their types in a closure",
    note = "it returns `ReadResourceResult` or `Result<ReadResourceResult, mcp_sdk::Error>`"
)]
pub trait ResourceHandler<M, S = ()>: Send + Sync + 'static {
    /// The variables the handler's type names, and which of them it needs:
    /// `None` for a map.
    fn variables(&self) -> Option<(Vec<String>, Vec<String>)>;

    /// Reads the resource.
    fn call(
        &self,
        state: &S,
        uri: String,
        variables: HashMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<ReadResourceResult, Error>>;
}

impl<H, M, S, V> ResourceHandler<(M, V), S> for H
where
    H: Handler<M, S, ResourceRequest<V>>,
    H::Output: IntoAnswer<ReadResourceResult>,
    V: DeserializeOwned + JsonSchema + Send + 'static,
{
    fn variables(&self) -> Option<(Vec<String>, Vec<String>)> {
        let schema = schema_for::<V>();
        let properties = schema.get("properties").and_then(Value::as_object)?;
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        Some((properties.keys().cloned().collect(), required))
    }

    fn call(
        &self,
        state: &S,
        uri: String,
        variables: HashMap<String, String>,
        ctx: RequestContext,
    ) -> BoxFuture<'static, Result<ReadResourceResult, Error>> {
        let value = Value::Object(variables.into_iter().map(|(k, v)| (k, v.into())).collect());
        match serde_json::from_value::<V>(value) {
            Ok(variables) => {
                let fut = Handler::call(self, state, ResourceRequest { uri, variables }, ctx);
                Box::pin(async move { fut.await.into_answer() })
            }
            Err(e) => Box::pin(async move {
                let mut err = Error::resource_not_found(&uri);
                err.message = format!("Resource not found: {uri} ({e})");
                Err(err)
            }),
        }
    }
}
