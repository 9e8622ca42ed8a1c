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

use crate::session::{parse, to_value, Session};
use crate::sink::Outbound;
use mcp_sdk::{
    CancelTaskParams, CancelTaskResult, CreateTaskResult, Error, ErrorCode, GetTaskParams,
    GetTaskPayloadParams, GetTaskResult, ListTasksParams, ListTasksResult, Meta,
    RelatedTaskMetadata, Task, TaskStatus, TaskStatusNotificationParams, TaskSupport,
    RELATED_TASK_META_KEY,
};
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Limits on the tasks of one session.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// The most tasks one session keeps (running or finished, until their
    /// ttl ends); a new task beyond is refused.
    pub max_tasks: usize,
    /// How long a task is kept after its creation when the client asks for
    /// no ttl.
    pub default_ttl: Duration,
    /// The longest ttl granted; longer requests are shortened to it.
    pub max_ttl: Duration,
    /// The polling interval suggested to clients.
    pub poll_interval: Duration,
    /// Tasks extension (2026-07-28): how long a stateless `tools/call` of a
    /// tool with task support runs before the client is answered with a
    /// task instead of waiting (a handler can ask sooner with
    /// `RequestContext::continue_as_task`).
    pub grace: Duration,
    /// Tasks extension: the most tasks the whole server keeps (stateless
    /// requests have no session to count them by).
    pub max_server_tasks: usize,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            max_tasks: 64,
            default_ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_secs(1),
            grace: Duration::from_millis(200),
            max_server_tasks: 1024,
        }
    }
}

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
}

struct TaskState {
    status: TaskStatus,
    message: Option<String>,
    updated_at: String,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl TaskEntry {
    /// The task as the wire shows it.
    pub fn task(&self) -> Task {
        let state = lock(&self.state);
        Task {
            task_id: self.id.clone(),
            status: state.status,
            status_message: state.message.clone(),
            created_at: self.created_at.clone(),
            last_updated_at: state.updated_at.clone(),
            ttl: Some(self.ttl.as_millis() as u64),
            poll_interval: Some(self.poll_interval),
            extra: Default::default(),
        }
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

/// The tasks of one session.
#[derive(Default)]
pub(crate) struct Tasks {
    /// In creation order (for `tasks/list`); few enough to search.
    entries: Mutex<Vec<Arc<TaskEntry>>>,
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
            .ok_or_else(|| {
                Error::invalid_params(format_args!(
                    "Failed to retrieve task: no task {id:?} in this session (unknown, or its ttl ended)"
                ))
            })
    }

    /// Ends every task (the session is closing).
    pub fn close(&self) {
        for entry in lock(&self.entries).drain(..) {
            entry.cancel.cancel();
        }
    }
}

/// Whether a `tools/call` is to run as a task: `Ok(Some(ttl))` when the
/// client asked for one and the tool allows it, `Ok(None)` to run it
/// normally, `Err` (-32601, as the spec says) when the tool and the request
/// disagree.
pub(crate) fn task_for_call(
    session: &Session,
    params: Option<&Value>,
) -> Result<Option<Option<u64>>, Error> {
    let Some(params) = params else {
        return Ok(None);
    };
    let offered = session
        .shared
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
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let support = session
        .shared
        .server
        .find_tool(name)
        .and_then(|t| t.execution)
        .and_then(|e| e.task_support)
        .unwrap_or(TaskSupport::Forbidden);
    let task = params.get("task");
    match (task, support) {
        (Some(task), TaskSupport::Optional | TaskSupport::Required) => {
            Ok(Some(task.get("ttl").and_then(Value::as_u64)))
        }
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

impl Session {
    /// Creates a task for `tools/call` `params` and starts the tool in the
    /// background; the answer is the task's state.
    pub(crate) fn start_task(
        self: &Arc<Self>,
        params: Option<Value>,
        ttl: Option<u64>,
        progress: Option<mcp_sdk::ProgressToken>,
        http: crate::session::Http,
    ) -> Result<Value, Error> {
        let config = &self.shared.config.tasks;
        let ttl = ttl
            .map(Duration::from_millis)
            .unwrap_or(config.default_ttl)
            .min(config.max_ttl);
        let now = SystemTime::now();
        let entry = Arc::new(TaskEntry {
            id: random_task_id(),
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
        });
        {
            let mut entries = lock(&self.tasks.entries);
            Tasks::purge_expired(&mut entries);
            if entries.len() >= config.max_tasks {
                return Err(Error::invalid_request(format_args!(
                    "this session has {} tasks already, the most it may keep; wait for some to \
                     end or cancel them",
                    entries.len()
                )));
            }
            entries.push(entry.clone());
        }
        let session = self.clone();
        let task = entry.clone();
        tokio::spawn(async move {
            let ctx = crate::RequestContext::new(
                mcp_sdk::RequestId::String(task.id.clone()),
                progress,
                task.cancel.clone(),
                session.peer().for_task(task.clone()),
            )
            .with_http(http);
            let run = crate::session::dispatch(&session.shared, "tools/call".into(), params, ctx);
            let outcome = tokio::select! {
                outcome = run => outcome,
                _ = task.cancel.cancelled() => return,
            };
            let (status, message) = match &outcome {
                Ok(result) if result.get("isError") == Some(&Value::Bool(true)) => {
                    (TaskStatus::Failed, Some(error_text(result)))
                }
                Ok(_) => (TaskStatus::Completed, None),
                Err(e) => (TaskStatus::Failed, Some(e.message.clone())),
            };
            if task.outcome.set(outcome).is_ok() && task.set_status(status, message) {
                session.announce(&task).await;
            }
        });
        to_value(CreateTaskResult {
            task: entry.task(),
            meta: None,
            extra: Default::default(),
        })
    }

    /// `notifications/tasks/status` for `task`'s new state.
    pub(crate) async fn announce(self: &Arc<Self>, task: &TaskEntry) {
        let _ = self
            .peer()
            .notify(TaskStatusNotificationParams::from(task.task()))
            .await;
    }

    /// Moves a task to `status` (input required, working again) and
    /// announces it.
    pub(crate) async fn set_task_status(self: &Arc<Self>, task: &TaskEntry, status: TaskStatus) {
        if task.set_status(status, None) {
            self.announce(task).await;
        }
    }

    /// `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel`, when
    /// the server declares tasks; `reply` is the stream of this request.
    pub(crate) async fn task_request(
        self: &Arc<Self>,
        method: &str,
        params: Option<Value>,
        reply: &Outbound,
        cancelled: &CancellationToken,
    ) -> Result<Value, Error> {
        let caps = self.shared.capabilities();
        let Some(tasks) = caps.tasks.as_ref() else {
            return Err(Error::method_not_found(method));
        };
        match method {
            "tasks/get" => {
                let params: GetTaskParams = parse(params)?;
                to_value(GetTaskResult::from(
                    self.tasks.find(&params.task_id)?.task(),
                ))
            }
            "tasks/result" => {
                let params: GetTaskPayloadParams = parse(params)?;
                let task = self.tasks.find(&params.task_id)?;
                *lock(&task.route) = Some(reply.clone());
                let mut done = task.done.subscribe();
                tokio::select! {
                    _ = done.wait_for(|d| *d) => {}
                    _ = cancelled.cancelled() => return Err(Error::internal("cancelled")),
                }
                payload(&task)
            }
            "tasks/list" if tasks.list.is_some() => {
                let params: ListTasksParams = parse(params)?;
                self.list_tasks(params.cursor.as_deref())
            }
            "tasks/cancel" if tasks.cancel.is_some() => {
                let params: CancelTaskParams = parse(params)?;
                let task = self.tasks.find(&params.task_id)?;
                let status = task.status();
                if status.is_terminal() {
                    return Err(Error::invalid_params(format_args!(
                        "Cannot cancel task: already in terminal status '{}'",
                        status_name(status)
                    )));
                }
                let _ = task.outcome.set(Err(Error::internal(
                    "the task was cancelled before it completed",
                )));
                task.cancel.cancel();
                if task.set_status(
                    TaskStatus::Cancelled,
                    Some("The task was cancelled by request.".to_owned()),
                ) {
                    self.announce(&task).await;
                }
                to_value(CancelTaskResult::from(task.task()))
            }
            _ => Err(Error::method_not_found(method)),
        }
    }

    fn list_tasks(&self, cursor: Option<&str>) -> Result<Value, Error> {
        let mut entries = lock(&self.tasks.entries);
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
        to_value(ListTasksResult {
            tasks: page,
            next_cursor,
            ..Default::default()
        })
    }
}

/// What `tasks/result` answers for a finished task: the tool's own answer
/// with the related-task `_meta`, or its error.
fn payload(task: &TaskEntry) -> Result<Value, Error> {
    let outcome = task
        .outcome
        .get()
        .cloned()
        .unwrap_or_else(|| Err(Error::internal("the task ended without a result")));
    let mut result = outcome?;
    if let Some(object) = result.as_object_mut() {
        let meta = object
            .entry("_meta")
            .or_insert_with(|| Value::Object(Meta::new()));
        if let Some(meta) = meta.as_object_mut() {
            let related = RelatedTaskMetadata {
                task_id: task.id.clone(),
                extra: Default::default(),
            };
            meta.insert(
                RELATED_TASK_META_KEY.to_owned(),
                serde_json::to_value(related).unwrap_or_default(),
            );
        }
    }
    Ok(result)
}

/// The text of a failed tool result, for the task's status message.
fn error_text(result: &Value) -> String {
    let texts: Vec<&str> = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect();
    if texts.is_empty() {
        "the tool reported an error".to_owned()
    } else {
        texts.join("\n")
    }
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

/// 128 random bits as 32 hex digits: not guessable, as the spec requires
/// where tasks are not bound to an authorization context.
pub(crate) fn random_task_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 in UTC, to the millisecond.
pub(crate) fn timestamp(t: SystemTime) -> String {
    mcp_sdk::time::rfc3339_millis(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_random_hex() {
        let (a, b) = (random_task_id(), random_task_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
