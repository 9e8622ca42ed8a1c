//! Where a server keeps its tasks, so that replicas can share them: a task
//! created on one replica (whose work runs there) can be read, cancelled
//! and its result fetched on any other.
//!
//! The default, [`InMemoryTaskStore`], keeps them in the process, as a
//! single replica needs. `RedisTaskStore` (crate feature `redis`) keeps
//! them in Redis, each under a key that expires with the task's ttl (so
//! expiry happens once, in Redis, not once per replica). Pick one with one
//! line of the server's configuration:
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn configure(
//! #     config: &mut mcp_sdk_server::SessionConfig,
//! #     redis_url: &str,
//! # ) -> Result<(), mcp_sdk_server::task_store::TaskStoreError> {
//! # use mcp_sdk_server::task_store::RedisTaskStore;
//! # use std::sync::Arc;
//! config.tasks.store = Arc::new(RedisTaskStore::connect(redis_url, "my-server").await?);
//! # Ok(())
//! # }
//! ```
//!
//! A store shared by processes gives the replica running a task a *lease*
//! ([`TaskStore::lease`]), which that replica renews while the work runs.
//! A replica that dies stops renewing it; the next read of the task (on any
//! replica) finds the lease run out and marks the task failed, saying so,
//! so its client gets an error instead of a task "working" forever. The
//! renewal also tells the running replica that the task was cancelled
//! elsewhere (see [`TaskStore::renew`]).
//!
//! Tasks belong to an owner (the principal of the access token on a
//! protected server, `""` otherwise): a task read with another owner is
//! answered as if it did not exist.

use async_trait::async_trait;
use mcp_sdk::{Error, TaskStatus};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::util::{lock, timestamp};

/// What the store keeps of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// 128 random bits as 32 hex digits ([`TaskRecord::new`] draws them
    /// from the operating system's CSPRNG).
    pub id: String,
    /// Who may see the task: a principal, or `""` when nobody signs in.
    pub owner: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When its status last changed (RFC 3339).
    pub updated_at: String,
    /// How long it is kept after its creation.
    pub ttl: Duration,
    /// The polling interval suggested to clients.
    pub poll_interval: Duration,
    /// Where it is.
    pub status: TaskStatus,
    /// Why it is where it is (a failure's reason, say).
    pub message: Option<String>,
    /// Its outcome, once it has ended: the handler's result or error.
    pub outcome: Option<Result<Value, Error>>,
    /// The input requests it waits on (`input_required`), as the wire
    /// shows them.
    pub input_requests: Option<Value>,
}

impl TaskRecord {
    /// A new `working` task of `owner` under a fresh random id.
    pub fn new(owner: &str, ttl: Duration, poll_interval: Duration) -> Self {
        let now = timestamp(SystemTime::now());
        TaskRecord {
            id: crate::util::random_task_id(),
            owner: owner.to_owned(),
            created_at: now.clone(),
            updated_at: now,
            ttl,
            poll_interval,
            status: TaskStatus::Working,
            message: None,
            outcome: None,
            input_requests: None,
        }
    }
}

/// A change to a task that has not ended; a task that has ended does not
/// change again.
#[derive(Debug, Clone)]
pub struct TaskUpdate {
    /// Its new status.
    pub status: TaskStatus,
    /// Its new status message.
    pub message: Option<String>,
    /// Its outcome (with a terminal status).
    pub outcome: Option<Result<Value, Error>>,
}

impl TaskUpdate {
    /// Cancelled by request.
    pub fn cancelled() -> Self {
        TaskUpdate {
            status: TaskStatus::Cancelled,
            message: Some("The task was cancelled by request.".to_owned()),
            outcome: Some(Err(Error::internal(
                "the task was cancelled before it completed",
            ))),
        }
    }

    /// Ended with `outcome`, whose serialized form may take at most
    /// `max_bytes`: a larger result fails the task instead, saying why (a
    /// store must not hold results without bound).
    pub fn finished(outcome: Result<Value, Error>, max_bytes: usize) -> Self {
        let size = match &outcome {
            Ok(value) => serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0),
            Err(_) => 0,
        };
        if size > max_bytes {
            let message = format!(
                "the task's result is {size} bytes, more than the {max_bytes} the task store \
                 keeps (TaskConfig::max_result_bytes)"
            );
            return TaskUpdate {
                status: TaskStatus::Failed,
                message: Some(message.clone()),
                outcome: Some(Err(Error::internal(message))),
            };
        }
        let (status, message) = match &outcome {
            Ok(result) if result.get("isError") == Some(&Value::Bool(true)) => (
                TaskStatus::Failed,
                Some(crate::util::failed_tool_text(result)),
            ),
            Ok(_) => (TaskStatus::Completed, None),
            Err(e) => (TaskStatus::Failed, Some(e.message.clone())),
        };
        TaskUpdate {
            status,
            message,
            outcome: Some(outcome),
        }
    }
}

/// The message of a task whose replica stopped renewing its lease.
pub const LEASE_LOST: &str = "the server replica running this task stopped (its lease ran out \
     before the task ended); the task's work is lost, start it again";

/// One page of an owner's tasks.
#[derive(Debug, Clone, Default)]
pub struct TaskPage {
    /// The tasks, in the order the store keeps them.
    pub tasks: Vec<TaskRecord>,
    /// The cursor of the next page, if any.
    pub next_cursor: Option<String>,
}

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TaskStoreError {
    /// The owner holds as many tasks as it may.
    #[error(
        "{held} tasks are kept already, the most allowed; wait for some to end or cancel them"
    )]
    Full {
        /// How many the owner holds.
        held: usize,
    },
    /// A `tasks/list` cursor the store never gave (or whose task ended).
    #[error("the cursor {0:?} is not one this server gave (or its task ended)")]
    BadCursor(String),
    /// The store cannot be reached (Redis down, say). The message names
    /// where it is, never a password.
    #[error("{0}")]
    Unavailable(String),
}

impl From<TaskStoreError> for Error {
    fn from(e: TaskStoreError) -> Self {
        match e {
            TaskStoreError::BadCursor(_) => Error::invalid_params(e),
            _ => Error::internal(e),
        }
    }
}

/// Keeps a server's tasks. Every method takes the owner: a task of another
/// owner is, to it, a task that does not exist.
#[async_trait]
pub trait TaskStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores `task`, unless its owner already holds `limit` tasks.
    async fn create(&self, task: &TaskRecord, limit: usize) -> Result<(), TaskStoreError>;

    /// The task `id` of `owner`, `None` when it is unknown, expired or
    /// another owner's. A task whose lease ran out is marked failed
    /// ([`LEASE_LOST`]) first.
    async fn get(&self, owner: &str, id: &str) -> Result<Option<TaskRecord>, TaskStoreError>;

    /// Applies `update` to the task unless it has ended; gives the task as
    /// it is afterwards and whether it changed (`None`: unknown).
    async fn update(
        &self,
        owner: &str,
        id: &str,
        update: TaskUpdate,
    ) -> Result<Option<(TaskRecord, bool)>, TaskStoreError>;

    /// At most `limit` tasks of `owner`, after the one `cursor` names.
    async fn list(
        &self,
        owner: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, TaskStoreError>;

    /// How long the lease of a running task lasts in this store: `None`
    /// (the default) for a store inside one process, where the work and
    /// its tasks end together.
    fn lease(&self) -> Option<Duration> {
        None
    }

    /// Called by the replica running the task, every third of
    /// [`lease`](Self::lease): extends its lease, and says whether the work
    /// should go on (`false` once the task has ended elsewhere: cancelled
    /// on another replica, expired). The renewal is the way a cancel
    /// requested on another replica reaches the work: the store is the
    /// truth about the task's status already, so this costs no message
    /// bus (whose delivery is best effort), only one round trip per
    /// renewal, and a cancel takes effect within a third of the lease.
    async fn renew(&self, owner: &str, id: &str) -> Result<bool, TaskStoreError> {
        let _ = (owner, id);
        Ok(true)
    }
}

/// The tasks of one process (the default store).
#[derive(Debug, Default)]
pub struct InMemoryTaskStore {
    tasks: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    /// Every task, by id.
    by_id: HashMap<String, (Instant, TaskRecord)>,
    /// Each owner's task ids, in creation order (for `list`).
    by_owner: HashMap<String, Vec<String>>,
}

impl Memory {
    fn purge(&mut self) {
        let now = Instant::now();
        let before = self.by_id.len();
        self.by_id.retain(|_, (expires, _)| *expires > now);
        if self.by_id.len() != before {
            let by_id = &self.by_id;
            self.by_owner.retain(|_, ids| {
                ids.retain(|id| by_id.contains_key(id));
                !ids.is_empty()
            });
        }
    }

    fn find(&mut self, owner: &str, id: &str) -> Option<&mut TaskRecord> {
        self.purge();
        self.by_id
            .get_mut(id)
            .map(|(_, task)| task)
            .filter(|task| task.owner == owner)
    }
}

#[async_trait]
impl TaskStore for InMemoryTaskStore {
    async fn create(&self, task: &TaskRecord, limit: usize) -> Result<(), TaskStoreError> {
        let mut memory = lock(&self.tasks);
        memory.purge();
        let ids = memory.by_owner.entry(task.owner.clone()).or_default();
        if ids.len() >= limit {
            return Err(TaskStoreError::Full { held: ids.len() });
        }
        ids.push(task.id.clone());
        memory
            .by_id
            .insert(task.id.clone(), (Instant::now() + task.ttl, task.clone()));
        Ok(())
    }

    async fn get(&self, owner: &str, id: &str) -> Result<Option<TaskRecord>, TaskStoreError> {
        Ok(lock(&self.tasks).find(owner, id).cloned())
    }

    async fn update(
        &self,
        owner: &str,
        id: &str,
        update: TaskUpdate,
    ) -> Result<Option<(TaskRecord, bool)>, TaskStoreError> {
        let mut memory = lock(&self.tasks);
        let Some(task) = memory.find(owner, id) else {
            return Ok(None);
        };
        let changed = apply(task, update);
        Ok(Some((task.clone(), changed)))
    }

    async fn list(
        &self,
        owner: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, TaskStoreError> {
        let mut memory = lock(&self.tasks);
        memory.purge();
        let empty = Vec::new();
        let ids = memory.by_owner.get(owner).unwrap_or(&empty);
        let start = match cursor {
            None => 0,
            Some(after) => {
                ids.iter()
                    .position(|id| id == after)
                    .ok_or_else(|| TaskStoreError::BadCursor(after.to_owned()))?
                    + 1
            }
        };
        let page: Vec<&String> = ids.iter().skip(start).take(limit).collect();
        let next_cursor = (start + limit < ids.len())
            .then(|| page.last().map(|id| (*id).clone()))
            .flatten();
        let tasks = page
            .into_iter()
            .filter_map(|id| memory.by_id.get(id).map(|(_, t)| t.clone()))
            .collect();
        Ok(TaskPage { tasks, next_cursor })
    }
}

/// Applies `update` to `task` unless it has ended (or nothing changes);
/// says whether it changed.
fn apply(task: &mut TaskRecord, update: TaskUpdate) -> bool {
    if task.status.is_terminal() || (task.status == update.status && update.message.is_none()) {
        return false;
    }
    task.status = update.status;
    task.message = update.message;
    if update.outcome.is_some() {
        task.outcome = update.outcome;
    }
    task.updated_at = timestamp(SystemTime::now());
    true
}

#[cfg(feature = "redis")]
pub use redis_store::RedisTaskStore;

#[cfg(feature = "redis")]
mod redis_store;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// What every store must do; the Redis store's tests run it too.
    pub(crate) async fn behaves(store: &dyn TaskStore) {
        let ttl = Duration::from_secs(60);
        let poll = Duration::from_millis(500);
        let a = TaskRecord::new("alice", ttl, poll);
        assert_eq!(a.id.len(), 32);
        store.create(&a, 2).await.unwrap();
        // Read back whole; another owner sees nothing.
        let got = store.get("alice", &a.id).await.unwrap().unwrap();
        assert_eq!(got, a);
        assert_eq!(store.get("mallory", &a.id).await.unwrap(), None);
        assert_eq!(store.get("alice", "unknown").await.unwrap(), None);
        assert!(store
            .update("mallory", &a.id, TaskUpdate::cancelled())
            .await
            .unwrap()
            .is_none());
        // The bound per owner.
        let b = TaskRecord::new("alice", ttl, poll);
        store.create(&b, 2).await.unwrap();
        let c = TaskRecord::new("alice", ttl, poll);
        assert!(matches!(
            store.create(&c, 2).await,
            Err(TaskStoreError::Full { held: 2 })
        ));
        store
            .create(&TaskRecord::new("bob", ttl, poll), 2)
            .await
            .unwrap();
        // Updates until it ends, then none.
        let input = TaskUpdate {
            status: TaskStatus::InputRequired,
            message: None,
            outcome: None,
        };
        let (after, changed) = store.update("alice", &a.id, input).await.unwrap().unwrap();
        assert!(changed);
        assert_eq!(after.status, TaskStatus::InputRequired);
        let result = json!({"content": [{"type": "text", "text": "done"}]});
        let (after, changed) = store
            .update(
                "alice",
                &a.id,
                TaskUpdate::finished(Ok(result.clone()), 1024),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(changed);
        assert_eq!(after.status, TaskStatus::Completed);
        assert_eq!(after.outcome, Some(Ok(result.clone())));
        let (after, changed) = store
            .update("alice", &a.id, TaskUpdate::cancelled())
            .await
            .unwrap()
            .unwrap();
        assert!(!changed, "an ended task does not change");
        assert_eq!(after.status, TaskStatus::Completed);
        // A result past the bound fails the task, saying why.
        let (after, _) = store
            .update("alice", &b.id, TaskUpdate::finished(Ok(result), 8))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.status, TaskStatus::Failed);
        assert!(
            after
                .message
                .as_deref()
                .unwrap()
                .contains("more than the 8"),
            "{after:?}"
        );
        // Pages of one.
        let first = store.list("alice", None, 1).await.unwrap();
        assert_eq!(first.tasks.len(), 1);
        let cursor = first.next_cursor.expect("a second page");
        let second = store.list("alice", Some(&cursor), 1).await.unwrap();
        assert_eq!(second.tasks.len(), 1);
        assert_eq!(second.next_cursor, None);
        let mut ids = [first.tasks[0].id.clone(), second.tasks[0].id.clone()];
        ids.sort();
        let mut want = [a.id.clone(), b.id.clone()];
        want.sort();
        assert_eq!(ids, want);
        assert!(matches!(
            store.list("alice", Some("nope"), 1).await,
            Err(TaskStoreError::BadCursor(_))
        ));
        assert!(store
            .list("mallory", None, 10)
            .await
            .unwrap()
            .tasks
            .is_empty());
        // Expiry by ttl.
        let short = TaskRecord::new("carol", Duration::from_millis(50), poll);
        store.create(&short, 1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(store.get("carol", &short.id).await.unwrap(), None);
        store
            .create(&TaskRecord::new("carol", ttl, poll), 1)
            .await
            .expect("an expired task no longer counts");
    }

    #[tokio::test]
    async fn the_in_memory_store_keeps_binds_bounds_and_expires_tasks() {
        behaves(&InMemoryTaskStore::default()).await;
    }
}
