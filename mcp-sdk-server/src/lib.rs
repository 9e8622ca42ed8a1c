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

// The modules in layers; each imports only from the layers below it.
//
// L0, plain types and helpers:
pub mod bus;
mod client_info;
mod config;
pub mod event_store;
mod extensions;
mod notifier;
mod offer;
mod reply;
mod reply_queue;
pub mod session_store;
mod sink;
mod util;
// A request between a transport and the era that serves it:
mod request;
// L1, the handle on the client, over a narrow link to its connection:
mod peer;
// L2, what a handler gets and the trait it implements:
mod context;
mod server;
// L3, from a decoded request to a handler:
mod dispatch;
mod trace;
// L4, the session era, the stateless era and tasks, side by side (and the
// router, built on the trait, and the MCP Apps helpers it registers):
pub mod apps;
pub mod replicas;
pub mod router;
mod session;
mod stateless;
pub mod task_store;
pub mod tasks;
// L5, the transports:
mod transport;
// Beside them: the HTTP transport as an OAuth resource server.
#[cfg(feature = "auth")]
pub mod auth;

pub use client_info::ClientInfo;
pub use config::{RequestStateKey, SessionConfig, TaskConfig, WeakSecret};
pub use context::{RequestContext, RequestContextBuilder};
pub use extensions::SessionExtensions;
pub use notifier::Notifier;
pub use peer::Peer;
pub use router::{
    schema_for, IntoToolResult, NoArguments, PromptArguments, ProtocolError, ResourceRequest,
    Router, State, Structured, ToolHandler,
};
pub use server::{BoxError, Server};
pub use transport::{http, stdio};

pub use async_trait::async_trait;
pub use mcp_sdk as protocol;
/// `#[tool]`: a documented `async fn` as a tool registration (feature
/// `macros`; see `mcp-sdk-macros`).
#[cfg(feature = "macros")]
pub use mcp_sdk_macros::tool;
/// The `schemars` this crate derives tool schemas with, so that
/// `#[derive(JsonSchema)]` types match it without a dependency of your own
/// (add `#[schemars(crate = "mcp_sdk_server::schemars")]` to the derive).
pub use schemars;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
