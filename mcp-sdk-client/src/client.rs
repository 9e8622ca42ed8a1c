//! [`Client`]: one connection to one MCP server, with a typed method per
//! server operation.
//!
//! The parts: `connect` (the builder, the era probe and the handshake),
//! `api` (the typed methods), `exchange` (a stateless request's rounds,
//! headers and cache), `core` (the JSON-RPC core: calls, cancellation,
//! the read loop) and `serve` (answering the server's requests and
//! delivering its notifications).

mod api;
mod connect;
mod contain;
mod core;
mod exchange;
mod serve;
mod url_elicitation;

pub use connect::{ClientBuilder, DEFAULT_PROBE_TIMEOUT, DEFAULT_TIMEOUT};
pub(crate) use core::Core;

use crate::ClientError;
use mcp_sdk::{
    ClientCapabilities, DiscoverResult, Error, InitializeResult, JsonObject, ProtocolVersion,
    ServerCapabilities,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::task::JoinHandle;

/// The most pages a `list_all_*` helper follows, so that a server whose
/// cursors loop cannot keep the client busy forever.
const MAX_PAGES: usize = 10_000;

/// A connection to one MCP server: after the `initialize` handshake (the
/// session era), or after `server/discover` chose revision `2026-07-28` (the
/// stateless era, see [`Era`](crate::Era)).
///
/// Cheap to clone; every clone talks to the same server. Calls may run
/// concurrently. Dropping the last clone stops the connection (a child
/// process is killed); [`close`](Self::close) ends it politely.
///
/// ```
/// # async fn run(transport: impl mcp_sdk_client::transport::Transport) -> Result<(), mcp_sdk_client::ClientError> {
/// use mcp_sdk_client::Client;
///
/// let client = Client::connect(transport).await?;
/// for tool in client.list_all_tools().await? {
///     println!("{}: {}", tool.name, tool.description.unwrap_or_default());
/// }
/// let result = client.call_tool("echo", serde_json::json!({"text": "hi"})).await?;
/// println!("{result:?}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.server.server_info.name)
            .field("protocol_version", &self.inner.version)
            .finish_non_exhaustive()
    }
}

struct Inner {
    core: Arc<Core>,
    server: InitializeResult,
    version: ProtocolVersion,
    /// Whether the connection speaks the stateless era.
    stateless: bool,
    /// The answer to `server/discover`, in the stateless era.
    discover: Option<DiscoverResult>,
    _tasks: Tasks,
}

impl Drop for Inner {
    /// The last handle went: subscriptions still open end, as the tasks
    /// that fed them stop.
    fn drop(&mut self) {
        self.core
            .shut(ClientError::Closed("the client was dropped".into()));
    }
}

/// The client's background tasks, stopped when the last handle goes.
struct Tasks([JoinHandle<()>; 2]);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Client {
    /// The server's answer to `initialize`: its name, version, capabilities
    /// and instructions.
    ///
    /// In the stateless era there is no `initialize`; this is then made from
    /// the answer to `server/discover`: the chosen revision, the
    /// capabilities, the instructions, and the server's identity from
    /// `io.modelcontextprotocol/serverInfo` (`"unknown"` when it gave none).
    /// [`discovery`](Self::discovery) has the answer itself.
    pub fn server(&self) -> &InitializeResult {
        &self.inner.server
    }

    /// The answer to `server/discover`, when the connection speaks the
    /// stateless era (and the server answered it).
    pub fn discovery(&self) -> Option<&DiscoverResult> {
        self.inner.discover.as_ref()
    }

    /// What the client's handler declared.
    pub(crate) fn declared_capabilities(&self) -> &ClientCapabilities {
        &self.inner.core.capabilities
    }

    /// Whether the connection speaks the stateless era (`2026-07-28`): no
    /// session, `_meta` on every request.
    pub fn is_stateless(&self) -> bool {
        self.inner.stateless
    }

    /// What the server offers.
    pub fn server_capabilities(&self) -> &ServerCapabilities {
        &self.inner.server.capabilities
    }

    /// The revision the handshake (or the discovery) settled on.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner.version
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.core.closed_reason().is_some()
    }
}

pub(crate) fn decode_result<T: DeserializeOwned>(
    method: &str,
    value: Value,
) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| {
        ClientError::Protocol(format!(
            "the server answered {method} with a result of the wrong shape: {e}"
        ))
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tool arguments as the params carry them: an object, or none for `null`.
pub(crate) fn tool_arguments(
    arguments: impl serde::Serialize,
) -> Result<Option<JsonObject>, ClientError> {
    match serde_json::to_value(arguments) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        Ok(other) => Err(ClientError::Server(Error::invalid_params(format_args!(
            "tool arguments must be a JSON object, not {other}"
        )))),
        Err(e) => Err(ClientError::Server(Error::invalid_params(e))),
    }
}
