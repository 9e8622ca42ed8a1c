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
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::broadcast;

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

    /// Called by the replica running the task when its work asks the
    /// client for input: adds `requests` (the wire form of each input
    /// request, by key) to the task's `inputRequests`, and the task is
    /// `input_required`. Gives `false` when the task is unknown or has
    /// ended.
    async fn ask(
        &self,
        owner: &str,
        id: &str,
        requests: &Map<String, Value>,
    ) -> Result<bool, TaskStoreError>;

    /// `tasks/update` on any replica: each answer whose key the task waits
    /// on leaves its `inputRequests` and is kept for the replica running
    /// the task ([`take_answers`](Self::take_answers)), which
    /// [`changes`](Self::changes) tells; answers to keys it does not wait
    /// on are ignored. The task is `working` again once it waits on none.
    /// Gives the task as it is afterwards and the keys taken (`None`:
    /// unknown).
    async fn answer(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<(TaskRecord, Vec<String>)>, TaskStoreError>;

    /// [`answer`](Self::answer), unless an answer to a request the task
    /// waits on is not a result of that request's method ([`fits`]): then
    /// no answer is taken and the first such answer's key and request (its
    /// wire form) are given, so that the replica that received
    /// `tasks/update` refuses it to the client that sent it. `None`: the
    /// task is unknown.
    ///
    /// `tasks/update` calls this alone, so a store that does it in one
    /// step answers it in one round trip (the Redis store does). The
    /// default reads the task first, then answers: two steps, not atomic
    /// (a request answered meanwhile is not answered twice all the same).
    async fn answer_checked(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<Answered>, TaskStoreError> {
        let Some(task) = self.get(owner, id).await? else {
            return Ok(None);
        };
        if let Some(misfit) = misfit(&task, &answers) {
            return Ok(Some(misfit));
        }
        let answered = self.answer(owner, id, answers).await?;
        Ok(answered.map(|(task, taken)| Answered::Taken { task, taken }))
    }

    /// Takes the answers [`answer`](Self::answer) kept for the task (the
    /// replica running it does).
    async fn take_answers(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Map<String, Value>, TaskStoreError>;

    /// The ids of tasks the replica running them must look at again
    /// (answers arrived, cancelled elsewhere), as any replica announces
    /// them; `None` (the default) for a store that announces none. Best
    /// effort: a replica that misses one finds out at its next lease
    /// renewal.
    fn changes(&self) -> Option<broadcast::Receiver<Arc<str>>> {
        None
    }
}

/// What [`TaskStore::answer_checked`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Answered {
    /// The answers were given: the task as it is afterwards, and the keys
    /// taken (those it waited on).
    Taken {
        /// The task afterwards.
        task: TaskRecord,
        /// The keys whose answers were taken.
        taken: Vec<String>,
    },
    /// The answer to `key` is not a result of the waiting `request`'s
    /// method; no answer was taken.
    Misfit {
        /// The answer's key.
        key: String,
        /// The request waiting under `key`, in its wire form.
        request: Value,
        /// The answer given to it.
        answer: Value,
    },
}

/// Whether `answer` is a result of an input request of `method`
/// (`sampling/createMessage`, `roots/list`, `elicitation/create`); any
/// answer fits a method that is none of these.
pub fn fits(method: &str, answer: &Value) -> bool {
    answer_fault(method, answer).is_ok()
}

/// Why `answer` is not a result of an input request of `method`, if it is
/// not: the one check behind [`fits`] and the stateless era's answers.
pub(crate) fn answer_fault(method: &str, answer: &Value) -> Result<(), serde_json::Error> {
    use mcp_sdk::{CreateMessageParams, ElicitRequestParams, ListRootsParams, RequestParams};
    use serde::Deserialize;
    fn result_of<P: RequestParams>(answer: &Value) -> Result<(), serde_json::Error> {
        P::Result::deserialize(answer).map(drop)
    }
    match method {
        CreateMessageParams::METHOD => result_of::<CreateMessageParams>(answer),
        ListRootsParams::METHOD => result_of::<ListRootsParams>(answer),
        ElicitRequestParams::METHOD => result_of::<ElicitRequestParams>(answer),
        _ => Ok(()),
    }
}

/// The first of `answers` that `task` waits on and that does not fit the
/// waiting request, as [`Answered::Misfit`].
fn misfit(task: &TaskRecord, answers: &Map<String, Value>) -> Option<Answered> {
    if task.status.is_terminal() {
        return None;
    }
    let Some(Value::Object(waiting)) = &task.input_requests else {
        return None;
    };
    answers.iter().find_map(|(key, answer)| {
        let request = waiting.get(key)?;
        let method = request.get("method").and_then(Value::as_str)?;
        (!fits(method, answer)).then(|| Answered::Misfit {
            key: key.clone(),
            request: request.clone(),
            answer: answer.clone(),
        })
    })
}

/// The tasks of one process (the default store). Services of one process
/// that share it act as replicas of one server.
#[derive(Debug)]
pub struct InMemoryTaskStore {
    tasks: Mutex<Memory>,
    changes: broadcast::Sender<Arc<str>>,
}

impl Default for InMemoryTaskStore {
    fn default() -> Self {
        InMemoryTaskStore {
            tasks: Mutex::default(),
            changes: broadcast::channel(crate::bus::BACKLOG).0,
        }
    }
}

#[derive(Debug, Default)]
struct Memory {
    /// Every task, by id.
    by_id: HashMap<String, (Instant, TaskRecord)>,
    /// Each owner's task ids, in creation order (for `list`).
    by_owner: HashMap<String, Vec<String>>,
    /// Answers to tasks' input requests, by task id, until their replica
    /// takes them.
    answers: HashMap<String, Map<String, Value>>,
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
            self.answers.retain(|id, _| by_id.contains_key(id));
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

impl InMemoryTaskStore {
    /// [`TaskStore::answer`] with the store locked.
    fn answer_in(
        &self,
        memory: &mut Memory,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Option<(TaskRecord, Vec<String>)> {
        let task = memory.find(owner, id)?;
        let mut taken = Vec::new();
        let mut kept = Map::new();
        if !task.status.is_terminal() {
            if let Some(Value::Object(waiting)) = &mut task.input_requests {
                for (key, answer) in answers {
                    if waiting.remove(&key).is_some() {
                        taken.push(key.clone());
                        kept.insert(key, answer);
                    }
                }
                if waiting.is_empty() {
                    task.input_requests = None;
                }
            }
            if !taken.is_empty() {
                if task.input_requests.is_none() {
                    task.status = TaskStatus::Working;
                }
                task.updated_at = timestamp(SystemTime::now());
            }
        }
        let after = task.clone();
        if !taken.is_empty() {
            memory
                .answers
                .entry(id.to_owned())
                .or_default()
                .extend(kept);
            let _ = self.changes.send(Arc::from(id));
        }
        Some((after, taken))
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
        let answer = Some((task.clone(), changed));
        if changed && answer.as_ref().is_some_and(|(t, _)| t.status.is_terminal()) {
            memory.answers.remove(id);
            let _ = self.changes.send(Arc::from(id));
        }
        Ok(answer)
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

    /// Services of one process that share this store: whether the task
    /// still runs (no lease to extend).
    async fn renew(&self, owner: &str, id: &str) -> Result<bool, TaskStoreError> {
        let mut memory = lock(&self.tasks);
        Ok(memory
            .find(owner, id)
            .is_some_and(|task| !task.status.is_terminal()))
    }

    async fn ask(
        &self,
        owner: &str,
        id: &str,
        requests: &Map<String, Value>,
    ) -> Result<bool, TaskStoreError> {
        let mut memory = lock(&self.tasks);
        let Some(task) = memory.find(owner, id).filter(|t| !t.status.is_terminal()) else {
            return Ok(false);
        };
        let waiting = task
            .input_requests
            .get_or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(waiting) = waiting {
            waiting.extend(requests.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if task.status != TaskStatus::InputRequired {
            task.status = TaskStatus::InputRequired;
            task.updated_at = timestamp(SystemTime::now());
        }
        Ok(true)
    }

    async fn answer(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<(TaskRecord, Vec<String>)>, TaskStoreError> {
        Ok(self.answer_in(&mut lock(&self.tasks), owner, id, answers))
    }

    /// One step: the check and the answers under one lock.
    async fn answer_checked(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<Answered>, TaskStoreError> {
        let mut memory = lock(&self.tasks);
        let Some(task) = memory.find(owner, id) else {
            return Ok(None);
        };
        if let Some(misfit) = misfit(task, &answers) {
            return Ok(Some(misfit));
        }
        let answered = self.answer_in(&mut memory, owner, id, answers);
        Ok(answered.map(|(task, taken)| Answered::Taken { task, taken }))
    }

    async fn take_answers(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Map<String, Value>, TaskStoreError> {
        let mut memory = lock(&self.tasks);
        if memory.find(owner, id).is_none() {
            return Ok(Map::new());
        }
        Ok(memory.answers.remove(id).unwrap_or_default())
    }

    fn changes(&self) -> Option<broadcast::Receiver<Arc<str>>> {
        Some(self.changes.subscribe())
    }
}

/// What a task's work asks its client for, as [`keep`] sees it (the
/// multi round-trip input of the tasks extension).
#[async_trait]
pub(crate) trait TaskInput: Send + Sync {
    /// The input requests waiting for answers, in their wire form, by key.
    fn waiting(&self) -> Map<String, Value>;
    /// Resolves once the work asked for more input.
    async fn asked_more(&self);
    /// Hands the work answers given on some replica.
    fn deliver(&self, answers: Map<String, Value>);
}

/// Keeps a task whose work runs on this replica in step with a store the
/// replicas share, and ends once the task has ended elsewhere (cancelled
/// on another replica, expired, its lease lost), so that the caller stops
/// the work: renews the lease every third of it, publishes the input
/// requests the work asks for (`input`), and hands the work the answers
/// `tasks/update` gave on any replica. It looks at once when the store
/// announces a change of the task (`changes`, which the caller took from
/// [`TaskStore::changes`] before the client could hear of the task: taken
/// only once the work first runs, a change made meanwhile, such as a cancel
/// on another replica right after the task was created, would be missed
/// until the next renewal, or for ever without a lease), else at the next
/// renewal.
pub(crate) async fn keep(
    store: &dyn TaskStore,
    mut changes: Option<broadcast::Receiver<Arc<str>>>,
    owner: &str,
    id: &str,
    input: Option<&dyn TaskInput>,
) {
    let lease = store.lease();
    let mut published = std::collections::HashSet::new();
    let mut renewal = lease.map(|l| tokio::time::Instant::now() + l / 3);
    loop {
        if let Some(input) = input {
            let fresh: Map<String, Value> = input
                .waiting()
                .into_iter()
                .filter(|(key, _)| !published.contains(key))
                .collect();
            if !fresh.is_empty() {
                match store.ask(owner, id, &fresh).await {
                    Ok(true) => published.extend(fresh.into_iter().map(|(key, _)| key)),
                    Ok(false) => return,
                    // Published again at the next look.
                    Err(e) => {
                        tracing::warn!(error = %e, task = %id, "a task's input requests were not stored")
                    }
                }
            }
        }
        let asked = async {
            match input {
                Some(input) => input.asked_more().await,
                None => std::future::pending().await,
            }
        };
        let due = async {
            match renewal {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = asked => continue,
            _ = due => renewal = lease.map(|l| tokio::time::Instant::now() + l / 3),
            _ = heard(&mut changes, id) => {}
        }
        match store.renew(owner, id).await {
            Ok(true) => {}
            Ok(false) => return,
            // Redis gone a while: keep working; if the lease runs out
            // meanwhile, a reader marks the task failed and the next
            // renewal stops the work.
            Err(e) => {
                tracing::warn!(error = %e, task = %id, "a task's lease was not renewed");
                continue;
            }
        }
        let Some(input) = input.filter(|i| !i.waiting().is_empty()) else {
            continue;
        };
        match store.take_answers(owner, id).await {
            Ok(answers) if !answers.is_empty() => input.deliver(answers),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, task = %id, "a task's answers could not be taken"),
        }
    }
}

/// Resolves when `changes` names the task `id` (or some were missed).
async fn heard(changes: &mut Option<broadcast::Receiver<Arc<str>>>, id: &str) {
    let Some(changes) = changes.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        match changes.recv().await {
            Ok(changed) if &*changed == id => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
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
    if task.status.is_terminal() {
        task.input_requests = None;
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
        // Input requests and their answers: published by the running
        // replica, answered on any, taken by the running one.
        let d = TaskRecord::new("dave", ttl, poll);
        store.create(&d, 10).await.unwrap();
        let mut changes = store.changes().expect("the store announces changes");
        let requests = json!({
            "first": {"method": "elicitation/create", "params": {"message": "Sure?"}},
            "second": {"method": "roots/list"},
        });
        let requests = requests.as_object().unwrap();
        assert!(!store.ask("mallory", &d.id, requests).await.unwrap());
        assert!(store.ask("dave", &d.id, requests).await.unwrap());
        let seen = store.get("dave", &d.id).await.unwrap().unwrap();
        assert_eq!(seen.status, TaskStatus::InputRequired);
        assert_eq!(seen.input_requests, Some(Value::Object(requests.clone())));
        let accept = json!({"action": "accept", "content": {"confirm": true}});
        let answers = |keys: &[&str]| -> Map<String, Value> {
            keys.iter()
                .map(|k| (k.to_string(), accept.clone()))
                .collect()
        };
        assert!(store
            .answer("mallory", &d.id, answers(&["first"]))
            .await
            .unwrap()
            .is_none());
        let (after, taken) = store
            .answer("dave", &d.id, answers(&["first", "unasked"]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taken, ["first"]);
        assert_eq!(after.status, TaskStatus::InputRequired, "one still waits");
        assert_eq!(
            after.input_requests,
            Some(json!({"second": {"method": "roots/list"}}))
        );
        let announced = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if &*changes.recv().await.unwrap() == d.id.as_str() {
                    return;
                }
            }
        });
        announced.await.expect("the answer is announced");
        let (_, again) = (store.answer("dave", &d.id, answers(&["first"])).await)
            .unwrap()
            .unwrap();
        assert!(
            again.is_empty(),
            "an answered request is not answered twice"
        );
        assert!(store
            .take_answers("mallory", &d.id)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.take_answers("dave", &d.id).await.unwrap(),
            answers(&["first"])
        );
        assert!(store.take_answers("dave", &d.id).await.unwrap().is_empty());
        let (after, taken) = (store.answer("dave", &d.id, answers(&["second"])).await)
            .unwrap()
            .unwrap();
        assert_eq!(taken, ["second"]);
        assert_eq!(after.status, TaskStatus::Working, "none waits any more");
        assert_eq!(after.input_requests, None);
        // An ended task drops its requests and takes no answers.
        assert!(store.ask("dave", &d.id, requests).await.unwrap());
        store
            .update("dave", &d.id, TaskUpdate::cancelled())
            .await
            .unwrap();
        assert!(!store.ask("dave", &d.id, requests).await.unwrap());
        let (after, taken) = (store.answer("dave", &d.id, answers(&["first"])).await)
            .unwrap()
            .unwrap();
        assert!(taken.is_empty());
        assert_eq!(after.input_requests, None);
        assert!(!store.renew("dave", &d.id).await.unwrap(), "it has ended");

        // Answers checked against the requests they answer, in the step
        // that takes them: one that is no result of its request's method
        // is refused, naming it, and nothing is taken.
        let e = TaskRecord::new("erin", ttl, poll);
        store.create(&e, 10).await.unwrap();
        let requests = json!({
            "confirm": {"method": "elicitation/create", "params": {"message": "Sure?"}},
            "roots": {"method": "roots/list"},
        });
        assert!(store
            .ask("erin", &e.id, requests.as_object().unwrap())
            .await
            .unwrap());
        let bad = json!({"action": "maybe"});
        let both = |confirm: &Value| -> Map<String, Value> {
            let answers = json!({"confirm": confirm, "roots": {"roots": []}, "unasked": 1});
            answers.as_object().unwrap().clone()
        };
        let refused = store.answer_checked("erin", &e.id, both(&bad)).await;
        assert_eq!(
            refused.unwrap(),
            Some(Answered::Misfit {
                key: "confirm".to_owned(),
                request: requests["confirm"].clone(),
                answer: bad,
            })
        );
        let seen = store.get("erin", &e.id).await.unwrap().unwrap();
        assert_eq!(seen.input_requests, Some(requests.clone()), "none taken");
        assert!(store.take_answers("erin", &e.id).await.unwrap().is_empty());
        let foreign = store.answer_checked("mallory", &e.id, both(&accept)).await;
        assert_eq!(foreign.unwrap(), None);
        let Some(Answered::Taken { task, mut taken }) = store
            .answer_checked("erin", &e.id, both(&accept))
            .await
            .unwrap()
        else {
            panic!("fitting answers are taken")
        };
        taken.sort();
        assert_eq!(taken, ["confirm", "roots"]);
        assert_eq!(task.status, TaskStatus::Working);
        assert_eq!(task.input_requests, None);
        let kept = store.take_answers("erin", &e.id).await.unwrap();
        assert_eq!(kept.get("confirm"), Some(&accept));
        assert_eq!(kept.get("roots"), Some(&json!({"roots": []})));
        // Once none waits, any answer is ignored, unchecked.
        let late = store.answer_checked("erin", &e.id, both(&json!("x"))).await;
        assert!(matches!(late.unwrap(), Some(Answered::Taken { taken, .. }) if taken.is_empty()));

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
