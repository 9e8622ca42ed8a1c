//! Tasks (2025-11-25, experimental): a `tools/call` the client asks to run
//! as a task (its `task` member) is answered at once with the task's state;
//! the tool runs on in the background, and the client polls it with
//! `tasks/get`, fetches its result with `tasks/result` (which waits for the
//! end), lists the session's tasks with `tasks/list` and stops one with
//! `tasks/cancel`. Every change of status is announced with
//! `notifications/tasks/status`.
//!
//! A server offers tasks by giving tools an `execution.taskSupport` of
//! `optional` or `required` (the [`Router`](crate::Router) then declares the
//! `tasks` capability by itself). Tasks belong to the session that created
//! them: another session cannot see them, and they end with it. Their ids
//! are 128 random bits.
//!
//! While a task's tool waits for the client (sampling, elicitation, roots),
//! the task is `input_required`; those requests carry the related-task
//! `_meta` and travel on the stream of the client's latest `tasks/result`
//! for the task (else the session's standalone stream), as the spec
//! suggests.
//!
//! With replicas ([`HttpConfig::replicas`](crate::http::HttpConfig)), a
//! session's tasks are kept in the server's [`TaskStore`] too, under the
//! session's id, so that any replica answers `tasks/get`, `tasks/list`,
//! `tasks/cancel` and `tasks/result` for them; the tool runs on the replica
//! that created the task, which holds its lease (see
//! [`task_store`](crate::task_store)): a replica that dies leaves its tasks
//! failed, saying why, not working forever.

pub use crate::config::TaskConfig;
use crate::context::{Http, RequestContext};
use crate::dispatch::{dispatch, ServerShared};
use crate::peer::{Peer, TaskBinding};
use crate::request::Params;
use crate::sink::Outbound;
use crate::task_store::{keep, TaskRecord, TaskStore, TaskStoreError, TaskUpdate};
use crate::util::{lock, parse, random_task_id, timestamp, to_value};
use async_trait::async_trait;
use mcp_sdk::{
    CancelTaskParams, CancelTaskResult, CreateTaskResult, Error, ErrorCode, GetTaskParams,
    GetTaskPayloadParams, GetTaskResult, ListTasksParams, ListTasksResult, Meta,
    RelatedTaskMetadata, Task, TaskStatus, TaskStatusNotificationParams, TaskSupport,
    RELATED_TASK_META_KEY,
};
use serde_json::Value;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How many tasks one `tasks/list` page holds.
const PAGE: usize = 50;

/// One task of a session.
pub(crate) struct TaskEntry {
    id: String,
    created_at: String,
    ttl: Duration,
    expires: Instant,
    poll_interval: u64,
    state: Mutex<TaskState>,
    /// The tool's answer, once it has one (or the cancellation's error).
    outcome: OnceLock<Result<Value, Error>>,
    /// Becomes `true` when the task reaches a terminal status.
    done: watch::Sender<bool>,
    /// Stops the tool.
    cancel: CancellationToken,
    /// The stream of the client's latest `tasks/result` for this task,
    /// where the tool's requests to the client go first.
    route: Mutex<Option<Outbound>>,
    /// The session's standalone peer, which announces status changes.
    announcer: Peer,
    /// The store replicas share, when they do.
    shared: Option<Shared>,
}

/// Where a session's tasks are kept when replicas share them.
#[derive(Clone)]
struct Shared {
    store: Arc<dyn TaskStore>,
    /// The session's name in the store, whose tasks are its own: no
    /// principal (`""`, or issuer and subject joined by a NUL) looks like
    /// it.
    owner: String,
}

struct TaskState {
    status: TaskStatus,
    message: Option<String>,
    updated_at: String,
}

impl TaskEntry {
    /// The task as the wire shows it.
    pub fn task(&self) -> Task {
        let state = lock(&self.state);
        let mut task = Task::new(self.id.clone(), state.status, self.created_at.clone())
            .with_last_updated_at(state.updated_at.clone())
            .with_ttl(self.ttl.as_millis() as u64)
            .with_poll_interval(self.poll_interval);
        task.status_message = state.message.clone();
        task
    }

    fn status(&self) -> TaskStatus {
        lock(&self.state).status
    }

    /// Moves to `status` unless the task has ended; says whether it moved.
    fn set_status(&self, status: TaskStatus, message: Option<String>) -> bool {
        let mut state = lock(&self.state);
        if state.status.is_terminal() || (state.status == status && message.is_none()) {
            return false;
        }
        state.status = status;
        state.message = message;
        state.updated_at = timestamp(SystemTime::now());
        drop(state);
        if status.is_terminal() {
            self.done.send_replace(true);
        }
        true
    }

    /// The route the tool's messages to the client take first.
    pub(crate) fn route(&self) -> Option<Outbound> {
        lock(&self.route).clone()
    }

    /// Stamps the related-task `_meta` on an outgoing request or
    /// notification's params.
    pub(crate) fn stamp(&self, params: &mut Option<Value>) {
        let params = params.get_or_insert_with(|| Value::Object(Default::default()));
        let Some(object) = params.as_object_mut() else {
            return;
        };
        let meta = object
            .entry("_meta")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(
                RELATED_TASK_META_KEY.to_owned(),
                serde_json::json!({ "taskId": self.id }),
            );
        }
    }
}

impl TaskEntry {
    /// `notifications/tasks/status` for the task's new state.
    async fn announce(&self) {
        let _ = self
            .announcer
            .notify(TaskStatusNotificationParams::from(self.task()))
            .await;
    }
}

#[async_trait]
impl TaskBinding for TaskEntry {
    fn stamp(&self, params: &mut Option<Value>) {
        TaskEntry::stamp(self, params)
    }

    fn route(&self) -> Option<Outbound> {
        TaskEntry::route(self)
    }

    /// The task is `input_required` while its handler waits for the client.
    async fn waiting_for_input(&self, waiting: bool) {
        let status = if waiting {
            TaskStatus::InputRequired
        } else {
            TaskStatus::Working
        };
        if self.set_status(status, None) {
            if let Some(shared) = &self.shared {
                let update = TaskUpdate {
                    status,
                    message: None,
                    outcome: None,
                };
                if let Err(e) = shared.store.update(&shared.owner, &self.id, update).await {
                    tracing::warn!(error = %e, task = %self.id, "a task's status was not stored");
                }
            }
            self.announce().await;
        }
    }
}

/// The tasks of one session.
#[derive(Default)]
pub(crate) struct Tasks {
    /// In creation order (for `tasks/list`); few enough to search. With
    /// replicas, the tasks running on this one.
    entries: Mutex<Vec<Arc<TaskEntry>>>,
    /// The store replicas share, once the transport says they do.
    shared: OnceLock<Shared>,
}

impl Tasks {
    fn purge_expired(entries: &mut Vec<Arc<TaskEntry>>) {
        let now = Instant::now();
        entries.retain(|e| {
            let keep = e.expires > now;
            if !keep {
                e.cancel.cancel();
            }
            keep
        });
    }

    fn find(&self, id: &str) -> Result<Arc<TaskEntry>, Error> {
        let mut entries = lock(&self.entries);
        Self::purge_expired(&mut entries);
        entries
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or_else(|| unknown(id))
    }

    /// Ends every task (the session is closing).
    pub fn close(&self) {
        for entry in lock(&self.entries).drain(..) {
            entry.cancel.cancel();
        }
    }

    /// Keeps the session's tasks in `store`, which the replicas of the
    /// server share, from now on (before the session's first request).
    pub(crate) fn share(&self, store: Arc<dyn TaskStore>, session: &str) {
        let _ = self.shared.set(Shared {
            store,
            owner: format!("session:{session}"),
        });
    }

    /// Whether a task's tool runs here (so that this replica's copy of
    /// the session must stay while the session is idle elsewhere).
    pub(crate) fn running(&self) -> bool {
        lock(&self.entries)
            .iter()
            .any(|e| !e.status().is_terminal() && e.expires > Instant::now())
    }

    /// The task `id` running here, if any (with replicas).
    fn local(&self, id: &str) -> Option<Arc<TaskEntry>> {
        lock(&self.entries).iter().find(|e| e.id == id).cloned()
    }
}

/// Whether a `tools/call` is to run as a task: `Ok(Some(ttl))` when the
/// client asked for one and the tool allows it, `Ok(None)` to run it
/// normally, `Err` (-32601, as the spec says) when the tool and the request
/// disagree.
pub(crate) fn task_for_call(
    shared: &ServerShared,
    params: &Params,
) -> Result<Option<Option<u64>>, Error> {
    if let Params::Json(None) = params {
        return Ok(None);
    }
    let offered = shared
        .capabilities()
        .tasks
        .as_ref()
        .and_then(|t| t.requests.as_ref())
        .and_then(|r| r.tools.as_ref())
        .and_then(|t| t.call.as_ref())
        .is_some();
    if !offered {
        // Without the capability, `task` is ignored (the spec: process the
        // request normally).
        return Ok(None);
    }
    // The name, and the task asked for (with its time to live, if any).
    let (name, task) = match params {
        Params::Json(params) => {
            let params = params.as_ref();
            (
                params.and_then(|p| p.get("name")?.as_str()),
                params
                    .and_then(|p| p.get("task"))
                    .map(|task| task.get("ttl").and_then(Value::as_u64)),
            )
        }
        Params::Call(call) => (Some(call.name.as_str()), call.task.as_ref().map(|t| t.ttl)),
    };
    let name = name.unwrap_or_default();
    let support = shared
        .server
        .find_tool(name)
        .and_then(|t| t.execution)
        .and_then(|e| e.task_support)
        .unwrap_or(TaskSupport::Forbidden);
    match (task, support) {
        (Some(ttl), TaskSupport::Optional | TaskSupport::Required) => Ok(Some(ttl)),
        (Some(_), TaskSupport::Forbidden) => Err(Error::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!(
                "the tool {name:?} cannot run as a task (its execution.taskSupport is forbidden)"
            ),
        )),
        (None, TaskSupport::Required) => Err(Error::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("the tool {name:?} runs only as a task: add \"task\" to the params"),
        )),
        (None, _) => Ok(None),
    }
}

impl Tasks {
    /// Creates a task for `tools/call` `params` and starts the tool in the
    /// background; the answer is the task's state. Its status changes are
    /// announced through `announcer`, the session's standalone peer.
    pub(crate) async fn start(
        &self,
        shared: &Arc<ServerShared>,
        announcer: Peer,
        params: Option<Value>,
        ttl: Option<u64>,
        progress: Option<mcp_sdk::ProgressToken>,
        http: Http,
    ) -> Result<Value, Error> {
        let config = &shared.config.tasks;
        let ttl = ttl
            .map(Duration::from_millis)
            .unwrap_or(config.default_ttl)
            .min(config.max_ttl);
        let now = SystemTime::now();
        let id = random_task_id();
        let store = self.shared.get().cloned();
        if let Some(store) = &store {
            // Stored first, so that any replica finds it as soon as the
            // client hears of it; the store bounds the session's tasks.
            let mut record = TaskRecord::new(&store.owner, ttl, config.poll_interval);
            record.id = id.clone();
            record.created_at = timestamp(now);
            record.updated_at = record.created_at.clone();
            store
                .store
                .create(&record, config.max_tasks)
                .await
                .map_err(|e| match e {
                    TaskStoreError::Full { held } => too_many(held),
                    other => other.into(),
                })?;
        }
        let entry = Arc::new(TaskEntry {
            id,
            created_at: timestamp(now),
            ttl,
            expires: Instant::now() + ttl,
            poll_interval: config.poll_interval.as_millis() as u64,
            state: Mutex::new(TaskState {
                status: TaskStatus::Working,
                message: None,
                updated_at: timestamp(now),
            }),
            outcome: OnceLock::new(),
            done: watch::channel(false).0,
            cancel: CancellationToken::new(),
            route: Mutex::new(None),
            announcer: announcer.clone(),
            shared: store,
        });
        {
            let mut entries = lock(&self.entries);
            Tasks::purge_expired(&mut entries);
            if entries.len() >= config.max_tasks {
                return Err(too_many(entries.len()));
            }
            entries.push(entry.clone());
        }
        let max_result_bytes = config.max_result_bytes;
        let shared = shared.clone();
        let task = entry.clone();
        // Heard from now on: the client may cancel it elsewhere as soon as
        // it has the answer, before the work below first runs.
        let changes = entry.shared.as_ref().and_then(|s| s.store.changes());
        tokio::spawn(async move {
            let binding: Arc<dyn TaskBinding> = task.clone();
            let ctx = RequestContext::new(
                mcp_sdk::RequestId::String(task.id.clone()),
                progress,
                task.cancel.clone(),
                announcer.for_task(binding),
            )
            .with_http(http);
            let run = dispatch(&shared, "tools/call".into(), params, ctx);
            // With replicas: the lease renewed, and a cancel on another
            // replica heard.
            let keeper = async {
                match &task.shared {
                    Some(s) => keep(&*s.store, changes, &s.owner, &task.id, None).await,
                    None => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                outcome = run => outcome,
                _ = task.cancel.cancelled() => return,
                _ = keeper => {
                    // It ended elsewhere (cancelled there, say): what the
                    // store says it is, without a second announcement.
                    task.cancel.cancel();
                    task.ended_elsewhere().await;
                    return;
                }
            };
            if let Some(s) = &task.shared {
                let update = TaskUpdate::finished(outcome.clone(), max_result_bytes);
                let stored = s.store.update(&s.owner, &task.id, update).await;
                match stored {
                    // Cancelled elsewhere meanwhile: that stands.
                    Ok(Some((record, false))) if record.status.is_terminal() => {
                        task.ended_elsewhere().await;
                        return;
                    }
                    Ok(Some((record, _))) => {
                        let outcome = record.outcome.unwrap_or(outcome);
                        if task.outcome.set(outcome).is_ok()
                            && task.set_status(record.status, record.message)
                        {
                            task.announce().await;
                        }
                        return;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, task = %task.id, "a task's outcome was not stored")
                    }
                }
            }
            let (status, message) = match &outcome {
                Ok(result) if result.get("isError") == Some(&Value::Bool(true)) => (
                    TaskStatus::Failed,
                    Some(crate::util::failed_tool_text(result)),
                ),
                Ok(_) => (TaskStatus::Completed, None),
                Err(e) => (TaskStatus::Failed, Some(e.message.clone())),
            };
            if task.outcome.set(outcome).is_ok() && task.set_status(status, message) {
                task.announce().await;
            }
        });
        to_value(CreateTaskResult::new(entry.task()))
    }

    /// `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel`, when
    /// the server declares tasks; `reply` is the stream of this request,
    /// `announcer` the session's standalone peer.
    pub(crate) async fn request(
        &self,
        shared: &ServerShared,
        method: &str,
        params: Option<Value>,
        reply: &Outbound,
        cancelled: &CancellationToken,
        announcer: &Peer,
    ) -> Result<Value, Error> {
        let caps = shared.capabilities();
        let Some(tasks) = caps.tasks.as_ref() else {
            return Err(Error::method_not_found(method));
        };
        if let Some(store) = self.shared.get() {
            let list = tasks.list.is_some();
            let cancel = tasks.cancel.is_some();
            return self
                .request_shared(
                    store, method, params, reply, cancelled, announcer, list, cancel,
                )
                .await;
        }
        match method {
            "tasks/get" => {
                let params: GetTaskParams = parse(params)?;
                to_value(GetTaskResult::from(self.find(&params.task_id)?.task()))
            }
            "tasks/result" => {
                let params: GetTaskPayloadParams = parse(params)?;
                let task = self.find(&params.task_id)?;
                *lock(&task.route) = Some(reply.clone());
                let mut done = task.done.subscribe();
                tokio::select! {
                    _ = done.wait_for(|d| *d) => {}
                    _ = cancelled.cancelled() => return Err(Error::internal("cancelled")),
                }
                payload(&task.id, task.outcome.get().cloned())
            }
            "tasks/list" if tasks.list.is_some() => {
                let params: ListTasksParams = parse(params)?;
                self.list(params.cursor.as_deref())
            }
            "tasks/cancel" if tasks.cancel.is_some() => {
                let params: CancelTaskParams = parse(params)?;
                let task = self.find(&params.task_id)?;
                let status = task.status();
                if status.is_terminal() {
                    return Err(already_ended(status));
                }
                let _ = task.outcome.set(Err(Error::internal(
                    "the task was cancelled before it completed",
                )));
                task.cancel.cancel();
                if task.set_status(
                    TaskStatus::Cancelled,
                    Some("The task was cancelled by request.".to_owned()),
                ) {
                    task.announce().await;
                }
                to_value(CancelTaskResult::from(task.task()))
            }
            _ => Err(Error::method_not_found(method)),
        }
    }

    fn list(&self, cursor: Option<&str>) -> Result<Value, Error> {
        let mut entries = lock(&self.entries);
        Tasks::purge_expired(&mut entries);
        let start = match cursor {
            None => 0,
            Some(after) => {
                entries.iter().position(|e| e.id == after).ok_or_else(|| {
                    Error::invalid_params(format_args!(
                        "the cursor {after:?} is not one this server gave (or its task ended)"
                    ))
                })? + 1
            }
        };
        let page: Vec<Task> = entries
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|e| e.task())
            .collect();
        let next_cursor =
            (start + PAGE < entries.len()).then(|| entries[start + PAGE - 1].id.clone());
        let mut result = ListTasksResult::new(page);
        result.next_cursor = next_cursor;
        to_value(result)
    }
}

impl Tasks {
    /// The task requests of a session whose tasks replicas share: the
    /// store answers (one round trip), wherever the task runs.
    #[allow(clippy::too_many_arguments)]
    async fn request_shared(
        &self,
        store: &Shared,
        method: &str,
        params: Option<Value>,
        reply: &Outbound,
        cancelled: &CancellationToken,
        announcer: &Peer,
        list: bool,
        cancel: bool,
    ) -> Result<Value, Error> {
        let Shared { store, owner } = store;
        let find = |id: &str, found: Option<TaskRecord>| found.ok_or_else(|| unknown(id));
        match method {
            "tasks/get" => {
                let params: GetTaskParams = parse(params)?;
                let record = find(&params.task_id, store.get(owner, &params.task_id).await?)?;
                to_value(GetTaskResult::from(wire(&record)))
            }
            "tasks/result" => {
                let params: GetTaskPayloadParams = parse(params)?;
                let id = params.task_id;
                // The tool's requests to the client take this stream when
                // the tool runs here; else its replica's standalone stream.
                let local = self.local(&id);
                if let Some(task) = &local {
                    *lock(&task.route) = Some(reply.clone());
                }
                let mut done = local.map(|task| task.done.subscribe());
                let mut pause = Duration::from_millis(50);
                loop {
                    let record = find(&id, store.get(owner, &id).await?)?;
                    if record.status.is_terminal() {
                        return payload(&id, record.outcome);
                    }
                    // Woken by the tool's end here, else polled: a wait
                    // costs a round trip per pause, growing to a second.
                    let ended = async {
                        match &mut done {
                            Some(done) => {
                                let _ = done.wait_for(|d| *d).await;
                            }
                            None => std::future::pending().await,
                        }
                    };
                    let ended_here = tokio::select! {
                        _ = ended => true,
                        _ = tokio::time::sleep(pause) => false,
                        _ = cancelled.cancelled() => return Err(Error::internal("cancelled")),
                    };
                    if ended_here {
                        // Its end is stored before it is told here: one
                        // more look, then polls only.
                        done = None;
                    }
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
            "tasks/list" if list => {
                let params: ListTasksParams = parse(params)?;
                let page = store.list(owner, params.cursor.as_deref(), PAGE).await?;
                let mut result = ListTasksResult::new(page.tasks.iter().map(wire).collect());
                result.next_cursor = page.next_cursor;
                to_value(result)
            }
            "tasks/cancel" if cancel => {
                let params: CancelTaskParams = parse(params)?;
                let id = params.task_id;
                let updated = store.update(owner, &id, TaskUpdate::cancelled()).await?;
                let (record, changed) = updated.ok_or_else(|| unknown(&id))?;
                if !changed {
                    return Err(already_ended(record.status));
                }
                // Running here: stopped now. Elsewhere: its replica hears
                // of it from the store and stops it.
                if let Some(task) = self.local(&id) {
                    let _ = task.outcome.set(Err(Error::internal(
                        "the task was cancelled before it completed",
                    )));
                    task.cancel.cancel();
                    task.set_status(TaskStatus::Cancelled, record.message.clone());
                }
                let task = wire(&record);
                let _ = announcer
                    .notify(TaskStatusNotificationParams::from(task.clone()))
                    .await;
                to_value(CancelTaskResult::from(task))
            }
            _ => Err(Error::method_not_found(method)),
        }
    }
}

impl TaskEntry {
    /// The task ended on another replica (cancelled there) or in the
    /// store (expired, its lease lost): this copy takes what the store
    /// says, so that a `tasks/result` waiting here ends too.
    async fn ended_elsewhere(&self) {
        let Some(s) = &self.shared else { return };
        let (status, message, outcome) = match s.store.get(&s.owner, &self.id).await {
            Ok(Some(record)) if record.status.is_terminal() => {
                (record.status, record.message, record.outcome)
            }
            _ => (
                TaskStatus::Failed,
                Some("the task ended elsewhere, or is no longer kept".to_owned()),
                None,
            ),
        };
        let outcome =
            outcome.unwrap_or_else(|| Err(Error::internal("the task ended on another replica")));
        let _ = self.outcome.set(outcome);
        self.set_status(status, message);
    }
}

/// A task as the wire shows it, from the store's record.
fn wire(record: &TaskRecord) -> Task {
    let mut task = Task::new(record.id.clone(), record.status, record.created_at.clone())
        .with_last_updated_at(record.updated_at.clone())
        .with_ttl(record.ttl.as_millis() as u64)
        .with_poll_interval(record.poll_interval.as_millis() as u64);
    task.status_message = record.message.clone();
    task
}

fn unknown(id: &str) -> Error {
    Error::invalid_params(format_args!(
        "Failed to retrieve task: no task {id:?} in this session (unknown, or its ttl ended)"
    ))
}

fn too_many(held: usize) -> Error {
    Error::invalid_request(format_args!(
        "this session has {held} tasks already, the most it may keep; wait for some to end or \
         cancel them"
    ))
}

fn already_ended(status: TaskStatus) -> Error {
    Error::invalid_params(format_args!(
        "Cannot cancel task: already in terminal status '{}'",
        status_name(status)
    ))
}

/// What `tasks/result` answers for a finished task: the tool's own answer
/// with the related-task `_meta`, or its error.
fn payload(id: &str, outcome: Option<Result<Value, Error>>) -> Result<Value, Error> {
    let outcome =
        outcome.unwrap_or_else(|| Err(Error::internal("the task ended without a result")));
    let mut result = outcome?;
    if let Some(object) = result.as_object_mut() {
        let meta = object
            .entry("_meta")
            .or_insert_with(|| Value::Object(Meta::new()));
        if let Some(meta) = meta.as_object_mut() {
            let related = RelatedTaskMetadata::new(id.to_owned());
            meta.insert(
                RELATED_TASK_META_KEY.to_owned(),
                serde_json::to_value(related).unwrap_or_default(),
            );
        }
    }
    Ok(result)
}

fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Working => "working",
        TaskStatus::InputRequired => "input_required",
        TaskStatus::Completed => "completed",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
    }
}
