//! # mcp-sdk-server: Model Context Protocol servers
//!
//! Implement [`Server`] (one async method per MCP operation, each with a
//! default) or fill a [`Router`] with tools, resources and prompts; then serve
//! it over [`stdio`] or Streamable HTTP ([`http`]).
//!
//! ```no_run
//! use mcp_sdk::Tool;
//! use mcp_sdk_server::Router;
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct EchoArgs {
//!     /// The text to send back.
//!     text: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let router = Router::new().tool(Tool::named("echo", "Echoes the text back"), |args: EchoArgs| async move {
//!         args.text
//!     });
//!     mcp_sdk_server::stdio::serve(router).await
//! }
//! ```
#![warn(missing_docs)]

mod context;
mod extensions;
mod peer;
pub mod router;
mod server;
mod session;
mod sink;
mod stateless;
pub mod tasks;
mod transport;
mod util;

pub use context::{RequestContext, RequestContextBuilder};
pub use extensions::SessionExtensions;
pub use peer::Peer;
pub use router::{
    schema_for, IntoToolResult, NoArguments, PromptArguments, ProtocolError, ResourceRequest,
    Router, Structured, ToolHandler,
};
pub use server::Server;
pub use session::{ClientInfo, SessionConfig};
pub use stateless::{Notifier, RequestStateKey};
pub use tasks::TaskConfig;
pub use transport::{http, stdio};

pub use async_trait::async_trait;
pub use mcp_sdk as protocol;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
