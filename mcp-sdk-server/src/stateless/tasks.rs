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
//! 128-bit random ids, bounded in number and kept for their ttl.

use super::input::InputRound;
use crate::config::TaskConfig;
use crate::server::Server;
use crate::util::{lock, parse, random_task_id, timestamp};
use mcp_sdk::{ClientCapabilities, Error, ErrorCode, ServerCapabilities, TaskSupport};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
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

/// What to do with a `tools/call` of `params` from a client with
/// `capabilities`: -32021 for a tool that requires tasks when the client
/// did not declare the extension.
pub(crate) fn plan(
    offer: &ServerCapabilities,
    server: &dyn Server,
    params: Option<&Value>,
    capabilities: &ClientCapabilities,
) -> Result<Plan, Error> {
    // Most servers have no tool with task support: no lookup for them.
    if offer.tasks.is_none() {
        return Ok(Plan::Plain);
    }
    let name = params
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let support = server
        .find_tool(name)
        .and_then(|t| t.execution)
        .and_then(|e| e.task_support)
        .unwrap_or(TaskSupport::Forbidden);
    match (support, declared(capabilities)) {
        (TaskSupport::Forbidden, _) => Ok(Plan::Plain),
        (_, true) => Ok(Plan::MayBecomeTask),
        (TaskSupport::Required, false) => Err(required()),
        (TaskSupport::Optional, false) => Ok(Plan::Plain),
    }
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Working,
    Completed,
    Failed,
    Cancelled,
}

struct State {
    status: Status,
    updated_at: String,
}

/// One task.
pub(crate) struct ExtensionTask {
    id: String,
    created_at: String,
    ttl: Duration,
    expires: Instant,
    poll_interval: u64,
    state: Mutex<State>,
    /// The handler's answer (already as the client will see it).
    outcome: OnceLock<Result<Value, Error>>,
    /// Its input requests and their answers.
    round: Arc<InputRound>,
    cancel: CancellationToken,
}

impl ExtensionTask {
    fn status(&self) -> (&'static str, Status) {
        let status = lock(&self.state).status;
        let name = match status {
            Status::Working if !self.round.waiting().is_empty() => "input_required",
            Status::Working => "working",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        };
        (name, status)
    }

    /// Ends the task with `status`, unless it has ended already.
    fn finish(&self, status: Status) -> bool {
        let mut state = lock(&self.state);
        if state.status != Status::Working {
            return false;
        }
        state.status = status;
        state.updated_at = timestamp(SystemTime::now());
        true
    }

    /// The fields every task answer carries.
    fn fields(&self) -> Map<String, Value> {
        let (status, _) = self.status();
        let updated_at = lock(&self.state).updated_at.clone();
        let mut map = Map::new();
        map.insert("taskId".into(), Value::from(self.id.clone()));
        map.insert("status".into(), Value::from(status));
        map.insert("createdAt".into(), Value::from(self.created_at.clone()));
        map.insert("lastUpdatedAt".into(), Value::from(updated_at));
        map.insert("ttlMs".into(), Value::from(self.ttl.as_millis() as u64));
        map.insert("pollIntervalMs".into(), Value::from(self.poll_interval));
        map
    }

    /// The `CreateTaskResult`.
    fn created(&self) -> Value {
        let mut map = self.fields();
        map.insert("resultType".into(), Value::from("task"));
        Value::Object(map)
    }

    /// The `tasks/get` answer: the task, with its result, error or input
    /// requests.
    fn detailed(&self) -> Value {
        let mut map = self.fields();
        map.insert("resultType".into(), Value::from("complete"));
        let (name, status) = self.status();
        match (status, self.outcome.get()) {
            (Status::Completed, Some(Ok(result))) => {
                map.insert("result".into(), result.clone());
            }
            (Status::Failed, Some(Err(error))) => {
                map.insert("statusMessage".into(), Value::from(error.message.clone()));
                map.insert(
                    "error".into(),
                    serde_json::to_value(error).unwrap_or_default(),
                );
            }
            _ if name == "input_required" => {
                map.insert(
                    "inputRequests".into(),
                    serde_json::to_value(self.round.waiting()).unwrap_or_default(),
                );
            }
            _ => {}
        }
        Value::Object(map)
    }
}

/// The server's tasks of the extension.
#[derive(Default)]
pub(crate) struct ExtensionTasks {
    tasks: Mutex<HashMap<String, Arc<ExtensionTask>>>,
}

impl ExtensionTasks {
    fn purge(tasks: &mut HashMap<String, Arc<ExtensionTask>>) {
        let now = Instant::now();
        tasks.retain(|_, t| {
            let keep = t.expires > now;
            if !keep {
                t.cancel.cancel();
            }
            keep
        });
    }

    /// The task `id`, if `caller` may see it: a task started on a
    /// protected server belongs to its caller, and is unknown to others.
    fn find(&self, id: &str, caller: Option<&str>) -> Result<Arc<ExtensionTask>, Error> {
        let mut tasks = lock(&self.tasks);
        Self::purge(&mut tasks);
        tasks
            .get(id)
            .filter(|task| task.round.owner().is_none_or(|owner| Some(owner) == caller))
            .cloned()
            .ok_or_else(|| {
                Error::invalid_params(format_args!("no task {id:?} (unknown, or its ttl ended)"))
            })
    }
}

/// Turns the running `work` of a `tools/call` into a task: stored first
/// (so that `tasks/get` finds it as soon as the client hears of it), then
/// run to its end in the background. `decorate` makes the final result
/// what the client would have got. Gives the `CreateTaskResult`.
pub(crate) fn start(
    tasks: &ExtensionTasks,
    config: &TaskConfig,
    round: Arc<InputRound>,
    work: Work,
    cancel: CancellationToken,
    finish_result: impl FnOnce(Value) -> Value + Send + 'static,
    on_end: impl FnOnce() + Send + 'static,
) -> Result<Value, Error> {
    let now = SystemTime::now();
    let task = Arc::new(ExtensionTask {
        id: random_task_id(),
        created_at: timestamp(now),
        ttl: config.default_ttl,
        expires: Instant::now() + config.default_ttl,
        poll_interval: config.poll_interval.as_millis() as u64,
        state: Mutex::new(State {
            status: Status::Working,
            updated_at: timestamp(now),
        }),
        outcome: OnceLock::new(),
        round: round.clone(),
        cancel: cancel.clone(),
    });
    {
        let mut tasks = lock(&tasks.tasks);
        ExtensionTasks::purge(&mut tasks);
        if tasks.len() >= config.max_server_tasks {
            cancel.cancel();
            return Err(Error::new(
                ErrorCode::INTERNAL_ERROR,
                format!(
                    "the server holds {} tasks, the most it keeps; try again later",
                    tasks.len()
                ),
            ));
        }
        tasks.insert(task.id.clone(), task.clone());
    }
    let created = task.created();
    tokio::spawn(async move {
        use futures_util::FutureExt;
        // A handler that panics fails its task rather than leave it working.
        let work = std::panic::AssertUnwindSafe(work)
            .catch_unwind()
            .map(|ended| {
                ended.unwrap_or_else(|_| Err(Error::internal("the handler failed unexpectedly")))
            });
        let outcome = tokio::select! {
            outcome = work => outcome,
            _ = cancel.cancelled() => {
                task.finish(Status::Cancelled);
                on_end();
                return;
            }
        };
        // A tool that reports an error ran: completed, with isError.
        let status = if outcome.is_ok() {
            Status::Completed
        } else {
            Status::Failed
        };
        let _ = task.outcome.set(outcome.map(finish_result));
        task.finish(status);
        on_end();
    });
    Ok(created)
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

/// `tasks/get`, `tasks/update` and `tasks/cancel`, for a client that
/// declared the extension (-32021 otherwise), by `caller` (a protected
/// server's principal): another caller's task is an unknown one.
pub(crate) fn request(
    tasks: &ExtensionTasks,
    method: &str,
    params: Option<Value>,
    capabilities: &ClientCapabilities,
    caller: Option<&str>,
) -> Result<Value, Error> {
    if !declared(capabilities) {
        return Err(required());
    }
    match method {
        "tasks/get" => {
            let p: TaskRef = parse(params)?;
            Ok(tasks.find(&p.task_id, caller)?.detailed())
        }
        "tasks/update" => {
            let p: Update = parse(params)?;
            let task = tasks.find(&p.task_id, caller)?;
            task.round.answer(p.input_responses)?;
            Ok(ack())
        }
        "tasks/cancel" => {
            let p: TaskRef = parse(params)?;
            let task = tasks.find(&p.task_id, caller)?;
            if task.finish(Status::Cancelled) {
                task.cancel.cancel();
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
        let mut caps = ServerCapabilities {
            tasks: Some(mcp_sdk::ServerTasksCapability::tool_calls()),
            ..Default::default()
        };
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

    /// A task started by one caller is unknown to another (and to a caller
    /// without identity), word for word; its own caller finds it. A task
    /// started without identity (an unprotected server) is anyone's.
    #[tokio::test]
    async fn a_task_is_its_callers_only() {
        let tasks = ExtensionTasks::default();
        let caps: ClientCapabilities =
            serde_json::from_value(json!({"extensions": {EXTENSION: {}}})).unwrap();
        let started = |owner: Option<&str>| {
            let round = InputRound::take(
                "tools/call",
                &mut Some(json!({"name": "t"})),
                caps.clone(),
                &crate::config::RequestStateKey::random(),
                true,
                owner.map(str::to_owned),
            )
            .unwrap();
            let created = start(
                &tasks,
                &TaskConfig::default(),
                Arc::new(round),
                Box::pin(std::future::pending()),
                CancellationToken::new(),
                |v| v,
                || {},
            )
            .unwrap();
            created["taskId"].as_str().unwrap().to_owned()
        };
        let get = |id: &str, caller: Option<&str>| {
            request(
                &tasks,
                "tasks/get",
                Some(json!({"taskId": id})),
                &caps,
                caller,
            )
        };
        let alices = started(Some("iss\0alice"));
        assert!(get(&alices, Some("iss\0alice")).is_ok());
        let unknown = get("no-such-task", Some("iss\0bob")).unwrap_err();
        for caller in [Some("iss\0bob"), None] {
            let refused = get(&alices, caller).unwrap_err();
            assert_eq!(
                refused.message.replace(&alices, "ID"),
                unknown.message.replace("no-such-task", "ID")
            );
            assert_eq!(refused.code, unknown.code);
        }
        let cancel = request(
            &tasks,
            "tasks/cancel",
            Some(json!({"taskId": alices})),
            &caps,
            Some("iss\0bob"),
        );
        assert!(cancel.is_err());
        let anyones = started(None);
        assert!(get(&anyones, Some("iss\0bob")).is_ok());
        assert!(get(&anyones, None).is_ok());
    }
}
