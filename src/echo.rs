//! The echo server: one tool that returns its text. The benches measure the
//! SDK's overhead with it.

use mcp_sdk::{Implementation, Tool};
use mcp_sdk_server::Router;
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub text: String,
}

/// A router with the `echo` tool.
pub fn router() -> Router {
    Router::new()
        .with_info(Implementation::new(
            "echo-server",
            env!("CARGO_PKG_VERSION"),
        ))
        .tool(
            Tool::named("echo", "Returns the given text unchanged"),
            |args: EchoArgs| async move { args.text },
        )
}
