//! [`RequestOptions`]: what one call may set for itself: a timeout, a
//! progress callback, a cancellation token, a handler for the server's
//! requests that belong to it.

use crate::ClientHandler;
use mcp_sdk::{ClientCapabilities, ProgressNotificationParams};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A progress callback.
pub type ProgressCallback = Arc<dyn Fn(ProgressNotificationParams) + Send + Sync>;

/// Options for one call.
///
/// ```
/// use mcp_sdk_client::RequestOptions;
/// use std::time::Duration;
///
/// let options = RequestOptions::new()
///     .timeout(Duration::from_secs(5))
///     .on_progress(|p| println!("{}/{:?} {}", p.progress, p.total, p.message.unwrap_or_default()));
/// ```
#[derive(Clone, Default)]
pub struct RequestOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) on_progress: Option<ProgressCallback>,
    pub(crate) reset_timeout_on_progress: bool,
    pub(crate) cancellation: Option<CancellationToken>,
    pub(crate) handler: Option<Arc<dyn ClientHandler>>,
    pub(crate) capabilities: Option<Arc<ClientCapabilities>>,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("timeout", &self.timeout)
            .field("on_progress", &self.on_progress.is_some())
            .field("reset_timeout_on_progress", &self.reset_timeout_on_progress)
            .field("cancellation", &self.cancellation)
            .field("handler", &self.handler.is_some())
            .field("capabilities", &self.capabilities)
            .finish()
    }
}

impl RequestOptions {
    /// The client's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits at most this long for the answer (each round, when a stateless
    /// server asks for input); then the request is cancelled and the call
    /// fails with
    /// [`ClientError::Timeout`](crate::ClientError::Timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Asks the server for progress notifications (a progress token goes in
    /// the request's `_meta`) and calls `callback` with each one.
    pub fn on_progress(
        mut self,
        callback: impl Fn(ProgressNotificationParams) + Send + Sync + 'static,
    ) -> Self {
        self.on_progress = Some(Arc::new(callback));
        self
    }

    /// Restarts the timeout whenever progress arrives, so a long call that
    /// keeps reporting is not cut off. Needs [`on_progress`](Self::on_progress).
    pub fn reset_timeout_on_progress(mut self) -> Self {
        self.reset_timeout_on_progress = true;
        self
    }

    /// Cancels the request (sending `notifications/cancelled`, or, over
    /// Streamable HTTP in revision `2026-07-28`, closing its response
    /// stream) when `token` is cancelled; the call then fails with
    /// [`ClientError::Cancelled`](crate::ClientError::Cancelled). Dropping
    /// the call's future cancels it too.
    pub fn cancellation(mut self, token: CancellationToken) -> Self {
        self.cancellation = Some(token);
        self
    }

    /// Answers the server's requests that belong to this call (sampling,
    /// roots, elicitation, custom requests) with `handler` instead of the
    /// client's [`ClientHandler`]: what a gateway needs to relay them to the
    /// upstream client that made the call, through one shared [`Client`].
    ///
    /// Which requests belong to the call:
    ///
    /// - **Stateless era** (`2026-07-28`): the input requests of every
    ///   `InputRequiredResult` the call gets. The call's `_meta` declares
    ///   `handler.capabilities()` as `clientCapabilities` (unless
    ///   [`capabilities`](Self::capabilities) says otherwise), and input
    ///   requests for capabilities it does not declare fail the call with
    ///   [`ClientError::InputRequest`](crate::ClientError::InputRequest)
    ///   (-32601), as with the client's handler.
    /// - **Session era over Streamable HTTP**: the requests the server sends
    ///   on the SSE response stream of the call's POST (resumed streams
    ///   included). They are refused with -32601 when `handler.capabilities()`
    ///   lacks their capability; but the server only knows what `initialize`
    ///   declared (the client's handler's capabilities), so the client's
    ///   handler should declare everything the per-call handlers may answer.
    /// - **Session era elsewhere: no association, the client's handler
    ///   answers.** Over stdio (and any [`Transport`](crate::transport::Transport)
    ///   that delivers only [`Incoming::Message`](crate::transport::Incoming::Message)),
    ///   over the legacy HTTP+SSE transport, and for requests a Streamable
    ///   HTTP server sends on its standalone GET stream (a server answering
    ///   in JSON mode sends them all there), nothing says which call a
    ///   server request belongs to (the protocol has no related-request
    ///   field in `_meta`), so the client's handler answers them. So does
    ///   it for a request that arrives after the call ended (timed out,
    ///   cancelled, dropped).
    ///
    /// Log messages (`notifications/message`) that arrive where such a
    /// request would (the call's SSE response stream, in either era) go to
    /// `handler.on_log`, in order with the rest; progress still goes to
    /// [`on_progress`](Self::on_progress) (or the client's handler), and
    /// every other notification to the client's handler.
    ///
    /// A call with its own handler or capabilities neither reads nor fills
    /// the stateless-era result cache, since the server's answer may depend
    /// on the capabilities declared.
    ///
    /// ```
    /// use mcp_sdk::{ClientCapabilities, CreateMessageParams, CreateMessageResult, Error, SamplingCapability};
    /// use mcp_sdk_client::{async_trait, ClientHandler, RequestContext, RequestOptions};
    ///
    /// /// Relays sampling to the upstream client that made the call.
    /// struct Upstream {
    ///     declared: ClientCapabilities,
    /// }
    ///
    /// #[async_trait]
    /// impl ClientHandler for Upstream {
    ///     fn capabilities(&self) -> ClientCapabilities {
    ///         self.declared.clone()
    ///     }
    ///
    ///     async fn create_message(
    ///         &self,
    ///         params: CreateMessageParams,
    ///         _cx: RequestContext,
    ///     ) -> Result<CreateMessageResult, Error> {
    ///         // ... ask the upstream client ...
    ///         # Err(Error::internal("not in a doctest"))
    ///     }
    /// }
    ///
    /// let declared = ClientCapabilities::default().with_sampling(SamplingCapability::default());
    /// let options = RequestOptions::new().handler(Upstream { declared });
    /// ```
    ///
    /// [`Client`]: crate::Client
    pub fn handler(mut self, handler: impl ClientHandler) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// The capabilities this call declares and answers for, instead of the
    /// [`handler`](Self::handler)'s `capabilities()` (or, without one, the
    /// client's handler's): what a gateway sets to declare exactly what its
    /// upstream client declared.
    ///
    /// In the stateless era they go in the call's `_meta` as
    /// `io.modelcontextprotocol/clientCapabilities`, and input requests for
    /// anything else fail the call; in the session era (where the server
    /// only knows what `initialize` declared) server requests of the call
    /// for anything else are refused with -32601. Without a
    /// [`handler`](Self::handler), the client's handler answers.
    pub fn capabilities(mut self, capabilities: ClientCapabilities) -> Self {
        self.capabilities = Some(Arc::new(capabilities));
        self
    }

    /// Whether the call answers the server with something other than the
    /// client's handler and capabilities.
    pub(crate) fn overrides_handler(&self) -> bool {
        self.handler.is_some() || self.capabilities.is_some()
    }
}

/// Who answers the server's requests of one call, and for which
/// capabilities.
#[derive(Clone)]
pub(crate) struct Responder {
    pub(crate) handler: Arc<dyn ClientHandler>,
    pub(crate) capabilities: Arc<ClientCapabilities>,
}

impl Responder {
    /// The responder `options` ask for, if they override the client's
    /// (whose handler is `client`).
    pub(crate) fn of(
        options: &RequestOptions,
        client: &Arc<dyn ClientHandler>,
    ) -> Option<Responder> {
        if !options.overrides_handler() {
            return None;
        }
        let handler = options.handler.clone().unwrap_or_else(|| client.clone());
        let capabilities = options
            .capabilities
            .clone()
            .unwrap_or_else(|| Arc::new(handler.capabilities()));
        Some(Responder {
            handler,
            capabilities,
        })
    }
}

/// A registered progress callback and the signal that restarts its call's
/// timeout.
#[derive(Clone)]
pub(crate) struct Progress {
    callback: ProgressCallback,
    pub(crate) signal: Arc<Notify>,
}

impl Progress {
    pub(crate) fn new(callback: ProgressCallback) -> Self {
        Progress {
            callback,
            signal: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn report(&self, params: ProgressNotificationParams) {
        (self.callback)(params);
        self.signal.notify_one();
    }
}
