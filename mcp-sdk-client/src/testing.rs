//! In-process testing of a server: serve any
//! [`Server`] to a connected [`Client`] in one call,
//! in either era, with no process, socket or port (feature `testing`).
//!
//! The module lives in the client crate, which depends on the server crate
//! only for it (an optional dependency the feature turns on), so the server
//! crate needs no client and there is no dependency cycle. Put it in your
//! dev-dependencies: `mcp-sdk-client = { version = "..", features = ["testing"] }`.
//!
//! ```
//! use mcp_sdk::Tool;
//! use mcp_sdk_client::testing;
//! use mcp_sdk_server::{NoArguments, Router};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mcp_sdk_client::ClientError> {
//! let router = Router::new().tool(Tool::named("hello", "Says hello"), |_: NoArguments| async {
//!     "hello"
//! });
//! // The same test in both eras: a session, and stateless requests.
//! testing::in_each_era(router, |client, era| async move {
//!     let result = client.call_tool("hello", serde_json::json!({})).await.unwrap();
//!     assert_eq!(result.is_error, None, "{era:?}");
//! })
//! .await?;
//! # Ok(()) }
//! ```

use crate::transport::IoTransport;
use crate::{Client, ClientBuilder, ClientError, ClientHandler, Era};
use mcp_sdk_server::{Server, SessionConfig};
use std::future::Future;

/// The two eras a server speaks: the session era (`initialize`, revisions
/// up to 2025-11-25) and the stateless era (revision 2026-07-28).
pub const ERAS: [Era; 2] = [Era::SessionOnly, Era::StatelessOnly];

/// How big the in-process pipe's buffer is in each direction.
const PIPE_BYTES: usize = 1 << 20;

/// Serves a server in process and connects a client to it; see
/// [`in_process`].
pub struct InProcess {
    client: ClientBuilder,
    config: SessionConfig,
}

/// A builder for an in-process connection: set the client's handler (for
/// sampling, roots, elicitation) or anything else of its builder, and the
/// server's session settings, then [`connect`](InProcess::connect).
pub fn in_process() -> InProcess {
    InProcess {
        client: Client::builder(),
        config: SessionConfig::default(),
    }
}

impl InProcess {
    /// The handler that answers the server's requests (sampling, roots,
    /// elicitation) and hears its notifications.
    pub fn handler(mut self, handler: impl ClientHandler) -> Self {
        self.client = self.client.handler(handler);
        self
    }

    /// Adjusts the client's builder (timeouts, versions, its info...). The
    /// era is set by [`connect`](Self::connect).
    pub fn client(mut self, adjust: impl FnOnce(ClientBuilder) -> ClientBuilder) -> Self {
        self.client = adjust(self.client);
        self
    }

    /// The server's session settings (its request-state key, task limits...).
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Serves `server` on one end of an in-process pipe, as `stdio` would,
    /// and connects the client to the other end in `era`
    /// ([`Era::SessionOnly`] or [`Era::StatelessOnly`]; `Auto` probes and
    /// finds the stateless era). The server stops when the client is
    /// closed or dropped; a session-era server then hears that the session
    /// closed.
    ///
    /// # Errors
    /// The handshake's failure, or [`ClientError::Closed`] naming what
    /// [`Server::check`] found wrong (a router with registration mistakes).
    pub async fn connect(self, server: impl Server, era: Era) -> Result<Client, ClientError> {
        server
            .check()
            .map_err(|e| ClientError::Closed(format!("the server cannot serve: {e}")))?;
        let (client_end, server_end) = tokio::io::duplex(PIPE_BYTES);
        let (read, write) = tokio::io::split(server_end);
        let config = self.config;
        tokio::spawn(async move {
            if let Err(e) = mcp_sdk_server::stdio::serve_io(server, config, read, write).await {
                tracing::debug!(%e, "the in-process server stopped");
            }
        });
        let (read, write) = tokio::io::split(client_end);
        self.client
            .era(era)
            .connect(IoTransport::new(read, write))
            .await
    }
}

/// A client connected in process to `server`, in `era`, with no handler
/// (see [`in_process`] for one).
///
/// # Errors
/// As [`InProcess::connect`].
pub async fn connect(server: impl Server, era: Era) -> Result<Client, ClientError> {
    in_process().connect(server, era).await
}

/// Runs `test` once in each era ([`ERAS`]), each time with a client
/// connected in process to a clone of `server`, and closes the client
/// after. A failing assertion in `test` fails the test as usual.
///
/// # Errors
/// A connection that could not be made, as [`InProcess::connect`].
pub async fn in_each_era<S, F, Fut>(server: S, test: F) -> Result<(), ClientError>
where
    S: Server + Clone,
    F: FnMut(Client, Era) -> Fut,
    Fut: Future<Output = ()>,
{
    in_each_era_with(server, in_process, test).await
}

/// Like [`in_each_era`], with each connection made by `setup()` (a
/// handler, client settings, session settings).
///
/// # Errors
/// As [`in_each_era`].
pub async fn in_each_era_with<S, B, F, Fut>(
    server: S,
    mut setup: B,
    mut test: F,
) -> Result<(), ClientError>
where
    S: Server + Clone,
    B: FnMut() -> InProcess,
    F: FnMut(Client, Era) -> Fut,
    Fut: Future<Output = ()>,
{
    for era in ERAS {
        let client = setup().connect(server.clone(), era).await?;
        let closer = client.clone();
        test(client, era).await;
        closer.close().await;
    }
    Ok(())
}
