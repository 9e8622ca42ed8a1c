//! Tasks (2025-11-25, experimental): requests that run in the background and
//! are polled for their status and result.

use super::{impl_has_meta, impl_notification, impl_request, impl_with_extra, Meta};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `_meta` key that ties a message to a task.
pub const RELATED_TASK_META_KEY: &str = "io.modelcontextprotocol/related-task";

/// Asks for a request to run as a task: put it in the request's `task`
/// member.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskMetadata {
    /// How long to keep the task after it was created, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TaskMetadata {
    /// Sets how long to keep the task after it was created, in
    /// milliseconds.
    #[must_use]
    pub fn with_ttl(mut self, ttl: u64) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// Ties a message to a task: the value under [`RELATED_TASK_META_KEY`] in
/// `_meta`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RelatedTaskMetadata {
    /// The task's id.
    pub task_id: String,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RelatedTaskMetadata {
    /// Names the task `task_id`.
    pub fn new(task_id: impl Into<String>) -> Self {
        RelatedTaskMetadata {
            task_id: task_id.into(),
            extra: Map::new(),
        }
    }

    /// The related task named in a `_meta` object, if there is a valid one.
    pub fn from_meta(meta: &Option<Meta>) -> Option<Self> {
        let value = meta.as_ref()?.get(RELATED_TASK_META_KEY)?;
        serde_json::from_value(value.clone()).ok()
    }

    /// Puts this into a `_meta` object.
    pub fn insert_into(&self, meta: &mut Option<Meta>) {
        // A struct of strings and JSON values always serializes.
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        meta.get_or_insert_with(Meta::new)
            .insert(RELATED_TASK_META_KEY.to_owned(), value);
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Running.
    Working,
    /// Waiting for input from the requester (such as an elicitation).
    InputRequired,
    /// Finished; its result can be fetched.
    Completed,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl TaskStatus {
    /// Whether the task can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// A task's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Task {
    /// The task's id.
    pub task_id: String,
    /// Where it is.
    pub status: TaskStatus,
    /// A message for people about the status, such as why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// When it was created (ISO 8601).
    pub created_at: String,
    /// When it last changed (ISO 8601).
    pub last_updated_at: String,
    /// How long it is kept after creation, in milliseconds; `null` (`None`)
    /// for ever. Always sent.
    #[serde(default)]
    pub ttl: Option<u64>,
    /// How often to poll, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<u64>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Task {
    /// A task with an id, a status and its creation time (also its last
    /// change), kept for ever.
    pub fn new(
        task_id: impl Into<String>,
        status: TaskStatus,
        created_at: impl Into<String>,
    ) -> Self {
        let created_at = created_at.into();
        Task {
            task_id: task_id.into(),
            status,
            status_message: None,
            last_updated_at: created_at.clone(),
            created_at,
            ttl: None,
            poll_interval: None,
            extra: Map::new(),
        }
    }

    /// Sets the message for people about the status.
    #[must_use]
    pub fn with_status_message(mut self, status_message: impl Into<String>) -> Self {
        self.status_message = Some(status_message.into());
        self
    }

    /// Sets when it last changed (ISO 8601).
    #[must_use]
    pub fn with_last_updated_at(mut self, last_updated_at: impl Into<String>) -> Self {
        self.last_updated_at = last_updated_at.into();
        self
    }

    /// Sets how long it is kept after creation, in milliseconds.
    #[must_use]
    pub fn with_ttl(mut self, ttl: u64) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets how often to poll, in milliseconds.
    #[must_use]
    pub fn with_poll_interval(mut self, poll_interval: u64) -> Self {
        self.poll_interval = Some(poll_interval);
        self
    }
}

/// The answer to a request run as a task, instead of its normal result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateTaskResult {
    /// The task.
    pub task: Task,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateTaskResult {
    /// The answer naming this task.
    pub fn new(task: Task) -> Self {
        CreateTaskResult {
            task,
            meta: None,
            extra: Map::new(),
        }
    }
}

macro_rules! task_id_params {
    ($($(#[$attr:meta])* $name:ident;)*) => {$(
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            /// The task's id.
            pub task_id: String,
            /// Metadata (`_meta`).
            #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<Meta>,
            /// Fields this version of the SDK does not know, kept as they came.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl $name {
            /// Names a task.
            pub fn new(task_id: impl Into<String>) -> Self {
                $name {
                    task_id: task_id.into(),
                    ..Default::default()
                }
            }
        }

        impl_has_meta!($name);
        impl_with_extra!($name);
    )*};
}

task_id_params! {
    /// Params of `tasks/get`: a task's state.
    GetTaskParams;
    /// Params of `tasks/result`: a finished task's result (waiting for it
    /// to finish).
    GetTaskPayloadParams;
    /// Params of `tasks/cancel`.
    CancelTaskParams;
}

macro_rules! task_with_meta {
    ($($(#[$attr:meta])* $name:ident;)*) => {$(
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            /// Metadata (`_meta`).
            #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<Meta>,
            /// The task's state, and any fields this SDK does not know.
            #[serde(flatten)]
            pub task: Task,
        }

        impl From<Task> for $name {
            fn from(task: Task) -> Self {
                $name { meta: None, task }
            }
        }

        impl_has_meta!($name);
    )*};
}

task_with_meta! {
    /// The result of `tasks/get`: the task's state.
    GetTaskResult;
    /// The result of `tasks/cancel`: the task's state after cancelling.
    CancelTaskResult;
    /// Params of `notifications/tasks/status`: a task's state changed.
    TaskStatusNotificationParams;
}

/// The result of `tasks/result`: the original request's result (such as a
/// [`CallToolResult`](super::CallToolResult)), kept as JSON here; the
/// related-task `_meta` says which task it belongs to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GetTaskPayloadResult {
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// The result's members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl GetTaskPayloadResult {
    /// Wraps a typed result. Fails if it does not serialize to an object.
    pub fn from_result<T: Serialize>(result: &T) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(result)?)
    }

    /// Reads the typed result back.
    pub fn into_result<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::to_value(self).and_then(serde_json::from_value)
    }
}

/// The result of `tasks/list`: one page of tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListTasksResult {
    /// The tasks on this page.
    pub tasks: Vec<Task>,
    /// The cursor of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ListTasksResult {
    /// A page of these tasks (the last page, until a cursor is set).
    pub fn new(tasks: Vec<Task>) -> Self {
        ListTasksResult {
            tasks,
            ..Default::default()
        }
    }

    /// Sets the cursor of the next page.
    #[must_use]
    pub fn with_next_cursor(mut self, next_cursor: impl Into<String>) -> Self {
        self.next_cursor = Some(next_cursor.into());
        self
    }
}

impl_has_meta!(CreateTaskResult, GetTaskPayloadResult, ListTasksResult);

impl_with_extra!(
    TaskMetadata,
    RelatedTaskMetadata,
    Task,
    CreateTaskResult,
    GetTaskPayloadResult,
    ListTasksResult,
);

impl_request! {
    GetTaskParams => GetTaskResult, "tasks/get";
    GetTaskPayloadParams => GetTaskPayloadResult, "tasks/result";
    CancelTaskParams => CancelTaskResult, "tasks/cancel";
}

impl_notification! {
    TaskStatusNotificationParams, "notifications/tasks/status";
}
