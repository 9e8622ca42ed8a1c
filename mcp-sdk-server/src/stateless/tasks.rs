//! The tasks extension of revision 2026-07-28 (`io.modelcontextprotocol/tasks`,
//! SEP-2663), for stateless requests. It differs from the tasks of
//! 2025-11-25 ([`crate::tasks`]), which belong to a session:
//!
//! - the server advertises the extension under `capabilities.extensions`,
//!   and a client opts in per request (its `_meta` client capabilities);
//! - the server decides: a `tools/call` of a tool with task support runs as
//!   usual and answers as usual when it is done within
//!   [`TaskConfig::grace`](crate::TaskConfig::grace); past that (or as soon
//!   as the handler calls `RequestContext::continue_as_task`) the client
//!   gets a flat `CreateTaskResult` (`resultType: "task"`) and the handler
//!   goes on in the background. Input it asks for before that is a multi
//!   round-trip request as usual; input it asks for after is listed in the
//!   task's `inputRequests` and answered with `tasks/update`;
//! - `tasks/get` gives the task with its result or error inlined,
//!   `tasks/update` brings answers, `tasks/cancel` stops it (both answer an
//!   empty acknowledgement); `tasks/result` and `tasks/list` do not exist;
//! - a tool that requires tasks, called by a client without the extension,
//!   gets -32021; so do the `tasks/*` methods.
//!
//! Tasks are kept server-wide (stateless requests have no session), under
//! 128-bit random ids, bounded in number and kept for their ttl, in the
//! configured [`TaskStore`]: with one that replicas share, a task created
//! on one replica (its work runs there) is read and cancelled on any. A
//! task belongs to the principal that created it (on a protected server);
//! another principal's request for it gets the answer an unknown id gets.

use super::input::{checked, InputRound};
use crate::config::TaskConfig;
use crate::context::Http;
use crate::server::Server;
use crate::task_store::{keep, Answered, TaskRecord, TaskStore, TaskStoreError, TaskUpdate};
use crate::util::{lock, parse};
use mcp_sdk::{
    ClientCapabilities, Error, ErrorCode, InputRequest, ServerCapabilities, TaskStatus, TaskSupport,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The extension's identifier.
pub(crate) const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// A handler's run, boxed so that it can move into the background.
pub(crate) type Work = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

/// Whether the client declared the extension.
pub(crate) fn declared(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .extra
        .get("extensions")
        .and_then(|e| e.get(EXTENSION))
        .is_some()
}

/// -32021 naming the extension, for a client that did not declare it.
pub(crate) fn required() -> Error {
    let mut needed = ClientCapabilities::default();
    needed
        .extra
        .insert("extensions".into(), json!({ EXTENSION: {} }));
    Error::missing_required_client_capability(EXTENSION, &needed)
}

/// The capabilities of `server/discover`: a server with tasks offers the
/// extension instead of the 2025-11-25 `tasks` member.
pub(crate) fn advertise(capabilities: &mut ServerCapabilities) {
    if capabilities.tasks.take().is_none() {
        return;
    }
    let extensions = capabilities
        .extra
        .entry("extensions")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(map) = extensions {
        map.insert(EXTENSION.into(), json!({}));
    }
}

/// How a `tools/call` relates to tasks.
pub(crate) enum Plan {
    /// An ordinary call.
    Plain,
    /// A call that may become a task.
    MayBecomeTask,
}

/// What to do with a `tools/call` of the tool named `tool` from a client
/// with `capabilities`: -32021 for a tool that requires tasks when the client
/// did not declare the extension.
pub(crate) fn plan(
    offer: &ServerCapabilities,
    server: &dyn Server,
    tool: Option<&str>,
    capabilities: &ClientCapabilities,
) -> Result<Plan, Error> {
    // Most servers have no tool with task support: no lookup for them.
    if offer.tasks.is_none() {
        return Ok(Plan::Plain);
    }
    let name = tool.unwrap_or_default();
    let support = server
        .find_tool_ref(name)
        .and_then(|t| t.execution.as_ref().and_then(|e| e.task_support))
        .unwrap_or(TaskSupport::Forbidden);
    match (support, declared(capabilities)) {
        (TaskSupport::Forbidden, _) => Ok(Plan::Plain),
        (_, true) => Ok(Plan::MayBecomeTask),
        (TaskSupport::Required, false) => Err(required()),
        (TaskSupport::Optional, false) => Ok(Plan::Plain),
    }
}

/// A task running on this replica: what only this process can reach.
struct Running {
    /// Its input requests and their answers.
    round: Arc<InputRound>,
    /// Stops its work.
    cancel: CancellationToken,
}

/// The server's tasks of the extension: their records in the configured
/// [`TaskStore`] (shared by replicas, or in this process), and the work
/// running on this replica.
pub(crate) struct ExtensionTasks {
    store: Arc<dyn TaskStore>,
    running: Arc<Mutex<HashMap<String, Running>>>,
}

impl ExtensionTasks {
    pub(crate) fn new(store: Arc<dyn TaskStore>) -> Self {
        ExtensionTasks {
            store,
            running: Default::default(),
        }
    }

    /// The task `id` of `owner`; another owner's task is unknown, as an
    /// unknown one is.
    async fn find(&self, owner: &str, id: &str) -> Result<TaskRecord, Error> {
        self.store.get(owner, id).await?.ok_or_else(|| unknown(id))
    }

    /// Whether replicas share the store (a store with leases): a task's
    /// input requests and their answers then travel through it, so that
    /// any replica shows and takes them.
    fn shared(&self) -> bool {
        self.store.lease().is_some()
    }

    /// The input requests a task running here waits on.
    fn waiting(&self, id: &str) -> Option<Value> {
        let running = lock(&self.running);
        let waiting = running.get(id)?.round.waiting();
        (!waiting.is_empty()).then(|| serde_json::to_value(waiting).unwrap_or_default())
    }
}

fn unknown(id: &str) -> Error {
    Error::invalid_params(format_args!("no task {id:?} (unknown, or its ttl ended)"))
}

/// Who owns the tasks a request creates: the principal of its access token
/// on a protected server, else nobody in particular (`""`).
pub(crate) fn owner(http: &Http) -> String {
    crate::context::principal(http).unwrap_or_default()
}

/// The fields every task answer carries.
fn fields(task: &TaskRecord, status: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("taskId".into(), Value::from(task.id.clone()));
    map.insert("status".into(), Value::from(status));
    map.insert("createdAt".into(), Value::from(task.created_at.clone()));
    map.insert("lastUpdatedAt".into(), Value::from(task.updated_at.clone()));
    map.insert("ttlMs".into(), Value::from(task.ttl.as_millis() as u64));
    map.insert(
        "pollIntervalMs".into(),
        Value::from(task.poll_interval.as_millis() as u64),
    );
    map
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

/// The `CreateTaskResult`.
fn created(task: &TaskRecord) -> Value {
    let mut map = fields(task, status_name(task.status));
    map.insert("resultType".into(), Value::from("task"));
    Value::Object(map)
}

/// The `tasks/get` answer: the task, with its result, error or input
/// requests (`waiting`, when it runs on this replica and waits on some).
fn detailed(task: &TaskRecord, waiting: Option<Value>) -> Value {
    let input = match (task.status, waiting) {
        (TaskStatus::Working | TaskStatus::InputRequired, Some(w)) => Some(w),
        (TaskStatus::InputRequired, None) => task.input_requests.clone(),
        _ => None,
    };
    let status = if input.is_some() {
        "input_required"
    } else if task.status == TaskStatus::InputRequired {
        "working"
    } else {
        status_name(task.status)
    };
    let mut map = fields(task, status);
    map.insert("resultType".into(), Value::from("complete"));
    match (task.status, &task.outcome, input) {
        (TaskStatus::Completed, Some(Ok(result)), _) => {
            map.insert("result".into(), result.clone());
        }
        (TaskStatus::Failed, Some(Err(error)), _) => {
            map.insert("statusMessage".into(), Value::from(error.message.clone()));
            map.insert(
                "error".into(),
                serde_json::to_value(error).unwrap_or_default(),
            );
        }
        (TaskStatus::Failed, _, _) => {
            // A result the tool marked as an error, or one past the bound.
            if let Some(message) = &task.message {
                map.insert("statusMessage".into(), Value::from(message.clone()));
            }
            if let Some(Ok(result)) = &task.outcome {
                map.insert("result".into(), result.clone());
            }
        }
        (_, _, Some(input)) => {
            map.insert("inputRequests".into(), input);
        }
        _ => {}
    }
    Value::Object(map)
}

/// Turns the running `work` of a `tools/call` into a task: stored first
/// (so that `tasks/get` finds it as soon as the client hears of it), then
/// run to its end in the background, for at most the task's ttl. With a
/// store shared by replicas, the work renews its lease while it runs and
/// stops when the task was cancelled elsewhere. `decorate` makes the final
/// result what the client would have got. Gives the `CreateTaskResult`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start(
    tasks: &ExtensionTasks,
    config: &TaskConfig,
    owner: String,
    round: Arc<InputRound>,
    work: Work,
    cancel: CancellationToken,
    finish_result: impl FnOnce(Value) -> Value + Send + 'static,
    on_end: impl FnOnce() + Send + 'static,
) -> Result<Value, Error> {
    let task = TaskRecord::new(&owner, config.default_ttl, config.poll_interval);
    if let Err(e) = tasks.store.create(&task, config.max_server_tasks).await {
        cancel.cancel();
        return Err(match e {
            TaskStoreError::Full { held } => Error::new(
                ErrorCode::INTERNAL_ERROR,
                format!("the server holds {held} tasks, the most it keeps; try again later"),
            ),
            other => other.into(),
        });
    }
    lock(&tasks.running).insert(
        task.id.clone(),
        Running {
            round: round.clone(),
            cancel: cancel.clone(),
        },
    );
    let answer = created(&task);
    let shared = tasks.shared();
    let store = tasks.store.clone();
    let running = tasks.running.clone();
    let max_result_bytes = config.max_result_bytes;
    // Heard from now on: the client may cancel the task on another replica
    // as soon as it has the answer, before the work below first runs.
    let changes = if shared { store.changes() } else { None };
    tokio::spawn(async move {
        use futures_util::FutureExt;
        // A handler that panics fails its task rather than leave it working.
        let work = std::panic::AssertUnwindSafe(work)
            .catch_unwind()
            .map(|ended| {
                ended.unwrap_or_else(|_| Err(Error::internal("the handler failed unexpectedly")))
            });
        // With replicas, the store is kept in step with the work; in one
        // process the work and its task end together.
        let keeper = async {
            match shared {
                true => keep(&*store, changes, &task.owner, &task.id, Some(&*round)).await,
                false => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            outcome = work => Some(outcome),
            _ = cancel.cancelled() => None,
            _ = tokio::time::sleep(task.ttl) => None,
            _ = keeper => None,
        };
        cancel.cancel();
        lock(&running).remove(&task.id);
        if let Some(outcome) = outcome {
            // A tool that reports an error ran: completed, with isError.
            let update = match outcome {
                Ok(result) => bounded(finish_result(result), max_result_bytes),
                Err(e) => TaskUpdate::finished(Err(e), max_result_bytes),
            };
            if let Err(e) = store.update(&task.owner, &task.id, update).await {
                tracing::warn!(error = %e, task = %task.id, "a task's outcome could not be stored");
            }
        }
        on_end();
    });
    Ok(answer)
}

/// A completed task's update: the result, unless it is larger than the
/// store keeps (then the task fails, saying so). A tool's `isError` result
/// still completes the task, as the extension asks.
fn bounded(result: Value, max_bytes: usize) -> TaskUpdate {
    let update = TaskUpdate::finished(Ok(result), max_bytes);
    match update.outcome {
        Some(Ok(result)) => TaskUpdate {
            status: TaskStatus::Completed,
            message: None,
            outcome: Some(Ok(result)),
        },
        _ => update,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskRef {
    task_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    task_id: String,
    #[serde(default)]
    input_responses: Map<String, Value>,
}

/// The acknowledgement of `tasks/update` and `tasks/cancel`.
fn ack() -> Value {
    json!({ "resultType": "complete" })
}

/// `tasks/get`, `tasks/update` and `tasks/cancel` of `owner`'s tasks, for
/// a client that declared the extension (-32021 otherwise).
pub(crate) async fn request(
    tasks: &ExtensionTasks,
    owner: &str,
    method: &str,
    params: Option<Value>,
    capabilities: &ClientCapabilities,
) -> Result<Value, Error> {
    if !declared(capabilities) {
        return Err(required());
    }
    match method {
        "tasks/get" => {
            let p: TaskRef = parse(params)?;
            let task = tasks.find(owner, &p.task_id).await?;
            // Shared by replicas, the store's inputRequests are the truth.
            let waiting = (!tasks.shared()).then(|| tasks.waiting(&task.id)).flatten();
            Ok(detailed(&task, waiting))
        }
        "tasks/update" if tasks.shared() => {
            let p: Update = parse(params)?;
            // Checked by the store against the requests as it keeps them, in
            // the step that takes the answers (one round trip), so that a
            // bad answer is refused to the client that sent it.
            match tasks
                .store
                .answer_checked(owner, &p.task_id, p.input_responses)
                .await?
            {
                None => Err(unknown(&p.task_id)),
                Some(Answered::Taken { .. }) => Ok(ack()),
                Some(Answered::Misfit {
                    key,
                    request,
                    answer,
                }) => {
                    match serde_json::from_value::<InputRequest>(request) {
                        Ok(request) => checked(&key, &request, &answer)?,
                        Err(e) => return Err(Error::internal(e)),
                    }
                    Err(Error::invalid_params(format_args!(
                        "inputResponses.{key} is not a valid answer to its request"
                    )))
                }
            }
        }
        "tasks/update" => {
            let p: Update = parse(params)?;
            let task = tasks.find(owner, &p.task_id).await?;
            let round = lock(&tasks.running).get(&task.id).map(|r| r.round.clone());
            match round {
                Some(round) => round.answer(p.input_responses)?,
                None if task.status.is_terminal() => {}
                None => {
                    return Err(Error::internal(
                        "this task runs in another process, and this server's task store is \
                         not shared: configure a shared one (RedisTaskStore) for replicas",
                    ))
                }
            }
            Ok(ack())
        }
        "tasks/cancel" => {
            let p: TaskRef = parse(params)?;
            let update = TaskUpdate {
                outcome: None,
                ..TaskUpdate::cancelled()
            };
            let Some((task, changed)) = tasks.store.update(owner, &p.task_id, update).await? else {
                return Err(unknown(&p.task_id));
            };
            // Running here: stop it now. Elsewhere: its replica's next
            // lease renewal finds it cancelled and stops it.
            if changed {
                if let Some(running) = lock(&tasks.running).get(&task.id) {
                    running.cancel.cancel();
                }
            }
            Ok(ack())
        }
        other => Err(Error::method_not_found(other)),
    }
}

/// Whether `method` is one of the extension's.
pub(crate) fn is_task_method(method: &str) -> bool {
    matches!(method, "tasks/get" | "tasks/update" | "tasks/cancel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_replaces_the_tasks_capability() {
        let mut caps =
            ServerCapabilities::default().with_tasks(mcp_sdk::ServerTasksCapability::tool_calls());
        advertise(&mut caps);
        let caps = serde_json::to_value(caps).unwrap();
        assert_eq!(caps, json!({"extensions": {EXTENSION: {}}}));
        let mut none = ServerCapabilities::default();
        advertise(&mut none);
        assert_eq!(serde_json::to_value(none).unwrap(), json!({}));
    }

    #[test]
    fn a_client_declares_the_extension_in_its_capabilities() {
        let with: ClientCapabilities =
            serde_json::from_value(json!({"extensions": {EXTENSION: {}}})).unwrap();
        assert!(declared(&with));
        assert!(!declared(&ClientCapabilities::default()));
        let error = required();
        assert_eq!(error.code, ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
        assert_eq!(
            error.data.unwrap()["requiredCapabilities"]["extensions"][EXTENSION],
            json!({})
        );
    }
}
