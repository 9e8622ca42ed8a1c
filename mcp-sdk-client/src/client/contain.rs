//! Panics in the application's callbacks (a [`ClientHandler`] method, a
//! call's progress callback) stay in the callback: they are reported and
//! the connection goes on. Uncaught, one would end the task that reads the
//! connection, and every later call would wait for its timeout.
//!
//! [`ClientHandler`]: crate::ClientHandler

use futures_util::FutureExt;
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// Runs `callback`; a panic in it is logged (as `what`) and gives `None`.
pub(super) async fn callback<F: Future>(what: &str, callback: F) -> Option<F::Output> {
    match AssertUnwindSafe(callback).catch_unwind().await {
        Ok(output) => Some(output),
        Err(panic) => {
            report(what, &*panic);
            None
        }
    }
}

/// Like [`callback`], for a callback that does not wait.
pub(super) fn sync_callback<T>(what: &str, callback: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(callback)) {
        Ok(output) => Some(output),
        Err(panic) => {
            report(what, &*panic);
            None
        }
    }
}

fn report(what: &str, panic: &(dyn Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!("the client's {what} callback panicked: {message}; the connection goes on");
}
