//! `#[tool]` registrations, called through the router: the name, the
//! description from the doc comment, the schema from the argument type,
//! state, the context, options, and that the function stays callable.

use mcp_sdk::{CallToolParams, CallToolResult};
use mcp_sdk_macros::tool;
use mcp_sdk_server::router::State;
use mcp_sdk_server::{NoArguments, RequestContext, Router, Server, Structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// The first number.
    a: i64,
    /// The second number.
    b: i64,
}

#[derive(Serialize, JsonSchema)]
struct Sum {
    sum: i64,
}

/// Adds two integers.
///
/// Both may be negative.
#[tool]
async fn add(args: AddArgs) -> Structured<Sum> {
    Structured(Sum {
        sum: args.a + args.b,
    })
}

/// Says which request this is.
#[tool(name = "request.id", title = "Request id")]
pub async fn request_id(_: NoArguments, ctx: RequestContext) -> String {
    ctx.request_id().to_string()
}

struct Greeter {
    greeting: &'static str,
}

/// Greets, with the router's greeting.
#[tool]
async fn greet(State(g): State<Arc<Greeter>>, _: NoArguments) -> String {
    g.greeting.to_owned()
}

async fn call(router: &impl Server, name: &str, args: serde_json::Value) -> CallToolResult {
    let params = CallToolParams::new(name, args.as_object().cloned());
    router
        .call_tool(params, RequestContext::builder().request_id(9).build())
        .await
        .unwrap()
}

fn text(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content[0]).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn a_tool_takes_its_name_description_and_schema_from_the_function() {
    let router = Router::new().register(add_tool).register(request_id_tool);
    assert!(router.check().is_ok(), "{:?}", router.check());
    let add = router.tools().get("add").unwrap();
    assert_eq!(
        add.description.as_deref(),
        Some("Adds two integers.\n\nBoth may be negative.")
    );
    assert_eq!(
        add.input_schema["properties"]["a"]["description"],
        "The first number."
    );
    assert_eq!(add.input_schema["required"], json!(["a", "b"]));
    assert!(add.output_schema.is_some());
    let r = call(&router, "add", json!({"a": 2, "b": -5})).await;
    assert_eq!(r.structured_content, Some(json!({"sum": -3})));
    // The router still validates the arguments.
    let r = call(&router, "add", json!({"a": "two"})).await;
    assert_eq!(r.is_error, Some(true));

    let id = router.tools().get("request.id").unwrap();
    assert_eq!(id.title.as_deref(), Some("Request id"));
    assert_eq!(text(&call(&router, "request.id", json!({})).await), "9");
}

#[tokio::test(flavor = "current_thread")]
async fn a_tool_with_state_registers_on_a_router_of_that_state() {
    let router = Router::new()
        .with_state(Arc::new(Greeter { greeting: "hello" }))
        .register(greet_tool)
        // Tools without state go on any router.
        .register(add_tool);
    assert_eq!(text(&call(&router, "greet", json!({})).await), "hello");
}

#[tokio::test(flavor = "current_thread")]
async fn the_function_stays_callable() {
    let Structured(sum) = add(AddArgs { a: 1, b: 2 }).await;
    assert_eq!(sum.sum, 3);
}
