//! # mcp-sdk-client: Model Context Protocol clients
//!
//! [`Client::connect`] finds out which era of MCP the server speaks over a
//! [`transport`] (see [`Era`]): the session era, with the `initialize`
//! handshake, or the stateless era of revision `2026-07-28`, where every
//! request carries `_meta`. It then offers a typed method per server
//! operation: tools, resources, prompts, completion, logging,
//! [subscriptions](Client::listen). A [`ClientHandler`] answers what the
//! server asks of the client (sampling, roots, elicitation: as requests in
//! the session era, as input requests of an `InputRequiredResult` in the
//! stateless era) and hears its notifications.
//!
//! ```no_run
//! use mcp_sdk_client::{transport::ChildProcess, Client};
//! use tokio::process::Command;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), mcp_sdk_client::ClientError> {
//!     let server = ChildProcess::spawn(Command::new("my-mcp-server").arg("--stdio"))?;
//!     let client = Client::connect(server).await?;
//!     let answer = client.call_tool("echo", serde_json::json!({"text": "hello"})).await?;
//!     println!("{answer:?}");
//!     client.close().await;
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

#[cfg(feature = "auth")]
pub mod auth;
mod client;
mod error;
mod handler;
pub mod headers;
mod request;
#[cfg(feature = "skills")]
pub mod skills;
mod stateless;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use client::{Client, ClientBuilder, DEFAULT_PROBE_TIMEOUT, DEFAULT_TIMEOUT};
pub use error::ClientError;
pub use handler::{ClientHandler, RequestContext};
pub use request::{ProgressCallback, RequestOptions};
pub use stateless::{Era, Subscription, MAX_INPUT_ROUNDS, MAX_WAITING_KINDS};
pub use tasks::{ToolTask, TASKS_EXTENSION};

pub use async_trait::async_trait;
pub use mcp_sdk as protocol;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
