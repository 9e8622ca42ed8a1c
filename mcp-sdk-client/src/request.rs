//! [`RequestOptions`]: what one call may set for itself: a timeout, a
//! progress callback, a cancellation token.

use mcp_sdk::ProgressNotificationParams;
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
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("timeout", &self.timeout)
            .field("on_progress", &self.on_progress.is_some())
            .field("reset_timeout_on_progress", &self.reset_timeout_on_progress)
            .field("cancellation", &self.cancellation)
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
