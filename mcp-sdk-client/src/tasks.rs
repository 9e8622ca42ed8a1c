//! Tasks from the client's side, in both eras: the tasks of 2025-11-25
//! (session era: the client asks for a task with `task` and the server
//! keeps it in the session) and the tasks extension of 2026-07-28
//! (`io.modelcontextprotocol/tasks`, stateless: the client declares the
//! extension and the server decides). The same calls serve both; the
//! connection's era picks the wire.

use crate::client::{decode_result, tool_arguments, Client};
use crate::{ClientError, RequestOptions};
use mcp_sdk::{
    CallToolParams, CallToolResult, CancelTaskParams, ClientCapabilities, CreateTaskResult, Error,
    GetTaskParams, GetTaskPayloadParams, InputRequests, InputResponses, ListTasksParams,
    ListTasksResult, RequestParams, Task, TaskMetadata, TaskStatus,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The tasks extension's identifier (2026-07-28).
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// What a tool call made as a task gave.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolTask {
    /// The call goes on as this task: follow it with
    /// [`Client::get_task`] and [`Client::task_result`].
    Running(Task),
    /// The server answered at once (the tasks extension lets it, for a
    /// call that finishes quickly).
    Finished(CallToolResult),
}

impl Client {
    /// `tools/call` as a task. In the session era (2025-11-25) the request
    /// asks for one (`ttl`: how long the server keeps it, which it may
    /// shorten); the server must declare `tasks.requests.tools.call` and
    /// the tool an `execution.taskSupport` other than `forbidden`, else
    /// -32601. In the stateless era this call declares the tasks extension
    /// and the server decides: a task, or the result at once; `ttl` is the
    /// server's.
    pub async fn call_tool_as_task(
        &self,
        name: &str,
        arguments: impl serde::Serialize,
        ttl: Option<Duration>,
    ) -> Result<ToolTask, ClientError> {
        let mut params = CallToolParams::new(name, tool_arguments(arguments)?);
        if !self.is_stateless() {
            let mut task = TaskMetadata::default();
            task.ttl = ttl.map(|t| t.as_millis() as u64);
            params.task = Some(task);
        }
        let params = serde_json::to_value(params)
            .map_err(|e| ClientError::Protocol(format!("params of tools/call: {e}")))?;
        let method = CallToolParams::METHOD;
        if !self.is_stateless() {
            let answer = self
                .exchange(method, params, RequestOptions::default())
                .await?;
            let created: CreateTaskResult = decode_result(method, answer)?;
            return Ok(ToolTask::Running(created.task));
        }
        let answer = self.exchange(method, params, self.with_extension()).await?;
        if answer["resultType"] == "task" {
            Ok(ToolTask::Running(flat_task(method, &answer)?))
        } else {
            decode_result(method, answer).map(ToolTask::Finished)
        }
    }

    /// `tasks/get`: a task's state now.
    pub async fn get_task(&self, task_id: &str) -> Result<Task, ClientError> {
        if !self.is_stateless() {
            return self
                .request(GetTaskParams::new(task_id))
                .await
                .map(|r| r.task);
        }
        let detailed = self.detailed_task(task_id).await?;
        flat_task(GetTaskParams::METHOD, &detailed)
    }

    /// Waits for the task to end, then gives what the original request
    /// would have answered (the server's error as [`ClientError::Server`]);
    /// `T` is that request's result type, such as [`CallToolResult`].
    /// The server's requests for input that the task needs reach the
    /// client's handler: in the session era as requests tied to the task
    /// (during `tasks/result`), in the stateless era as the task's
    /// `inputRequests`, answered with `tasks/update` while polling
    /// `tasks/get` at the interval the server suggests.
    ///
    /// In the session era the client's timeout applies to `tasks/result`;
    /// the stateless polling has no deadline of its own (wrap it in
    /// `tokio::time::timeout`).
    pub async fn task_result<T: DeserializeOwned>(&self, task_id: &str) -> Result<T, ClientError> {
        let method = GetTaskPayloadParams::METHOD;
        if !self.is_stateless() {
            let payload = self.request(GetTaskPayloadParams::new(task_id)).await?;
            return payload
                .into_result()
                .map_err(|e| ClientError::Protocol(format!("the result of task {task_id}: {e}")));
        }
        loop {
            let detailed = self.detailed_task(task_id).await?;
            match detailed["status"].as_str().unwrap_or_default() {
                "completed" => return decode_result(method, detailed["result"].clone()),
                "failed" => {
                    let error: Error =
                        serde_json::from_value(detailed["error"].clone()).map_err(|e| {
                            ClientError::Protocol(format!("a failed task's error: {e}"))
                        })?;
                    return Err(ClientError::Server(error));
                }
                "cancelled" => {
                    return Err(ClientError::Cancelled {
                        method: format!("task {task_id}"),
                    })
                }
                "input_required" => {
                    let requests: InputRequests =
                        serde_json::from_value(detailed["inputRequests"].clone()).map_err(|e| {
                            ClientError::Protocol(format!("a task's inputRequests: {e}"))
                        })?;
                    self.answer_task_input(task_id, requests).await?;
                }
                _ => {
                    let every = detailed["pollIntervalMs"].as_u64().unwrap_or(1000);
                    tokio::time::sleep(Duration::from_millis(every.clamp(20, 5000))).await;
                }
            }
        }
    }

    /// `tasks/list`: one page of the session's tasks (session era only:
    /// the tasks extension has no list).
    pub async fn list_tasks(&self, cursor: Option<String>) -> Result<ListTasksResult, ClientError> {
        if self.is_stateless() {
            return Err(ClientError::Unsupported(
                "tasks/list is not part of the 2026-07-28 tasks extension".into(),
            ));
        }
        self.request(ListTasksParams::page(cursor)).await
    }

    /// `tasks/cancel`: stops a task; gives its state after. In the session
    /// era a task that has ended already cannot be cancelled (-32602); the
    /// tasks extension acknowledges that too.
    pub async fn cancel_task(&self, task_id: &str) -> Result<Task, ClientError> {
        if !self.is_stateless() {
            return self
                .request(CancelTaskParams::new(task_id))
                .await
                .map(|r| r.task);
        }
        self.exchange(
            CancelTaskParams::METHOD,
            json!({ "taskId": task_id }),
            self.with_extension(),
        )
        .await?;
        self.get_task(task_id).await
    }

    /// Options declaring the tasks extension beside the handler's
    /// capabilities (the stateless era's per-request opt-in).
    fn with_extension(&self) -> RequestOptions {
        let mut capabilities: ClientCapabilities = self.declared_capabilities().clone();
        let extensions = capabilities
            .extra
            .entry("extensions")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = extensions {
            map.insert(TASKS_EXTENSION.into(), json!({}));
        }
        RequestOptions::new().capabilities(capabilities)
    }

    /// The stateless `tasks/get` answer (the DetailedTask).
    async fn detailed_task(&self, task_id: &str) -> Result<Value, ClientError> {
        self.exchange(
            GetTaskParams::METHOD,
            json!({ "taskId": task_id }),
            self.with_extension(),
        )
        .await
    }

    /// Answers a stateless task's input requests with the handler, then
    /// sends the answers with `tasks/update`.
    async fn answer_task_input(
        &self,
        task_id: &str,
        requests: InputRequests,
    ) -> Result<(), ClientError> {
        let options = self.with_extension();
        let mut responses = InputResponses::new();
        for (key, request) in requests {
            let response = self
                .answer_input("tasks/update", &key, request, &options, None)
                .await?;
            responses.insert(key, response);
        }
        let params = json!({ "taskId": task_id, "inputResponses": responses });
        self.exchange("tasks/update", params, options).await?;
        Ok(())
    }
}

/// A task of the extension's flat shape as a [`Task`].
fn flat_task(method: &str, value: &Value) -> Result<Task, ClientError> {
    let status = match value["status"].as_str() {
        Some("working") => TaskStatus::Working,
        Some("input_required") => TaskStatus::InputRequired,
        Some("completed") => TaskStatus::Completed,
        Some("failed") => TaskStatus::Failed,
        Some("cancelled") => TaskStatus::Cancelled,
        other => {
            return Err(ClientError::Protocol(format!(
                "the server answered {method} with a task of status {other:?}"
            )))
        }
    };
    let text = |key: &str| value[key].as_str().map(str::to_owned);
    let task_id = text("taskId").ok_or_else(|| {
        ClientError::Protocol(format!(
            "the server answered {method} with a task without taskId"
        ))
    })?;
    let mut task = Task::new(task_id, status, text("createdAt").unwrap_or_default());
    task.last_updated_at = text("lastUpdatedAt").unwrap_or_default();
    task.status_message = text("statusMessage");
    task.ttl = value["ttlMs"].as_u64();
    task.poll_interval = value["pollIntervalMs"].as_u64();
    Ok(task)
}
