//! CPU-heavy work off the async workers: each conversion runs on a
//! blocking thread (`spawn_blocking`), at most a few at once, under a time
//! budget, so that a 10 MiB conversion cannot stall every other client and
//! `/health` while it runs (issue 17).
//!
//! The work cannot be interrupted from outside; it asks its [`Budget`]
//! between chunks and stops there, when the request is cancelled, when the
//! caller's future is dropped (a client gone away), or when the budget is
//! spent. Waiting for a free slot counts against the budget too.

use super::transform::{Monitor, TransformError};
use mcp_sdk_server::RequestContext;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// Progress reports queued from the worker to the request; a report that
/// finds the queue full is dropped (reports come at most once per percent,
/// so this only happens to a client that does not read).
const PROGRESS_QUEUE: usize = 128;

/// Runs conversions on blocking threads, a bounded number at once.
#[derive(Debug, Clone)]
pub struct Offload {
    slots: Arc<Semaphore>,
    budget: Duration,
}

impl Offload {
    /// At most `slots` conversions at once (at least one), each given
    /// `budget` from the moment it is asked for.
    pub fn new(slots: usize, budget: Duration) -> Self {
        Offload {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            budget,
        }
    }

    /// Runs `work` on a blocking thread and forwards its progress to the
    /// request.
    pub async fn run<T, F>(&self, ctx: &RequestContext, work: F) -> Result<T, TransformError>
    where
        T: Send + 'static,
        F: FnOnce(&Budget) -> Result<T, TransformError> + Send + 'static,
    {
        let deadline = Instant::now() + self.budget;
        let over = TransformError::OverBudget(self.budget);
        let slot = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| over.clone())?
            .map_err(|_| TransformError::Cancelled)?;
        let abandoned = Arc::new(AtomicBool::new(false));
        let _abandon_on_drop = AbandonOnDrop(abandoned.clone());
        let (progress, mut reports) = mpsc::channel(PROGRESS_QUEUE);
        let budget = Budget {
            ctx: ctx.clone(),
            abandoned,
            deadline: deadline.into_std(),
            budget: self.budget,
            progress,
        };
        let handle = tokio::task::spawn_blocking(move || {
            // The slot is held as long as the thread works, even when the
            // caller has gone.
            let _slot = slot;
            work(&budget)
        });
        // The queue closes when the work ends and drops its budget.
        while let Some((done, total, message)) = reports.recv().await {
            // A client that is gone or did not ask for progress is no
            // reason to stop the work.
            let _ = ctx
                .progress(done as f64, Some(total as f64), Some(&message))
                .await;
        }
        handle.await.map_err(|e| {
            TransformError::Invalid(format!("the conversion stopped unexpectedly: {e}"))
        })?
    }
}

/// Sets the flag when the future running a conversion is dropped.
struct AbandonOnDrop(Arc<AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What a conversion on a blocking thread answers to: the request's
/// cancellation, the caller still waiting, and the deadline.
#[derive(Debug)]
pub struct Budget {
    ctx: RequestContext,
    abandoned: Arc<AtomicBool>,
    deadline: std::time::Instant,
    budget: Duration,
    progress: mpsc::Sender<(u64, u64, String)>,
}

impl Monitor for Budget {
    fn check(&self) -> Result<(), TransformError> {
        if self.ctx.is_cancelled() || self.abandoned.load(Ordering::SeqCst) {
            return Err(TransformError::Cancelled);
        }
        if std::time::Instant::now() >= self.deadline {
            return Err(TransformError::OverBudget(self.budget));
        }
        Ok(())
    }

    fn progress(&self, done: u64, total: u64, message: String) {
        let _ = self.progress.try_send((done, total, message));
    }
}
