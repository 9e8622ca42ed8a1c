//! Tools: definitions, annotations, listing and calling.

use super::{
    impl_has_meta, impl_notification, impl_request, impl_with_extra, meta_only, ContentBlock, Icon,
    JsonObject, Meta, TaskMetadata, TextContent,
};
use crate::jsonrpc::TypedParams;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A tool the model can call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Tool {
    /// The tool's name, unique within the server.
    pub name: String,
    /// A name for people (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of the arguments: an object schema (`"type": "object"`).
    pub input_schema: JsonObject,
    /// The JSON Schema of `structuredContent` in results (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<JsonObject>,
    /// Hints about the tool's behaviour (2025-03-26+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
    /// How the tool may be run, such as as a task (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<ToolExecution>,
    /// Icons to show for it (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon>>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tool {
    /// A tool with a name and a description, whose input schema is left for
    /// the server SDK's router to derive from the handler's argument type.
    pub fn named(name: impl Into<String>, description: impl Into<String>) -> Self {
        Tool::new(name, description, JsonObject::new())
    }

    /// A tool with a name, a description and the JSON Schema of its arguments.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: JsonObject,
    ) -> Self {
        Tool {
            name: name.into(),
            description: Some(description.into()),
            input_schema,
            ..Default::default()
        }
    }

    /// Sets the title (2025-06-18+).
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the JSON Schema of the arguments.
    #[must_use]
    pub fn with_input_schema(mut self, input_schema: JsonObject) -> Self {
        self.input_schema = input_schema;
        self
    }

    /// Sets the schema of structured results (2025-06-18+).
    #[must_use]
    pub fn with_output_schema(mut self, output_schema: JsonObject) -> Self {
        self.output_schema = Some(output_schema);
        self
    }

    /// Sets the behaviour hints (2025-03-26+).
    #[must_use]
    pub fn with_annotations(mut self, annotations: ToolAnnotations) -> Self {
        self.annotations = Some(annotations);
        self
    }

    /// Sets how the tool may be run (2025-11-25).
    #[must_use]
    pub fn with_execution(mut self, execution: ToolExecution) -> Self {
        self.execution = Some(execution);
        self
    }

    /// Sets the icons (2025-11-25).
    #[must_use]
    pub fn with_icons(mut self, icons: Vec<Icon>) -> Self {
        self.icons = Some(icons);
        self
    }

    /// Sets whether the tool may (or must) be called as a task
    /// (2025-11-25).
    #[must_use]
    pub fn with_task_support(mut self, support: TaskSupport) -> Self {
        self.execution
            .get_or_insert_with(ToolExecution::default)
            .task_support = Some(support);
        self
    }

    /// Whether the tool may be called as a task.
    pub fn runs_as_task(&self) -> bool {
        matches!(
            self.execution.as_ref().and_then(|e| e.task_support),
            Some(TaskSupport::Optional | TaskSupport::Required)
        )
    }
}

/// Hints about a tool's behaviour. They are hints only: a client must not
/// trust them from a server it does not trust.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolAnnotations {
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool changes nothing in its environment (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy or overwrite things (default true; meaningful
    /// only when not read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling it again with the same arguments has no further effect
    /// (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool talks to an open world of external entities (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolAnnotations {
    /// Sets the title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets whether the tool changes nothing in its environment.
    #[must_use]
    pub fn with_read_only_hint(mut self, read_only: bool) -> Self {
        self.read_only_hint = Some(read_only);
        self
    }

    /// Sets whether the tool may destroy or overwrite things.
    #[must_use]
    pub fn with_destructive_hint(mut self, destructive: bool) -> Self {
        self.destructive_hint = Some(destructive);
        self
    }

    /// Sets whether calling it again with the same arguments has no further
    /// effect.
    #[must_use]
    pub fn with_idempotent_hint(mut self, idempotent: bool) -> Self {
        self.idempotent_hint = Some(idempotent);
        self
    }

    /// Sets whether the tool talks to an open world of external entities.
    #[must_use]
    pub fn with_open_world_hint(mut self, open_world: bool) -> Self {
        self.open_world_hint = Some(open_world);
        self
    }
}

/// Whether a tool can be run as a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskSupport {
    /// Never as a task (the default).
    Forbidden,
    /// As a task or not, as the caller likes.
    Optional,
    /// Only as a task.
    Required,
}

/// How a tool may be run (2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolExecution {
    /// Whether the tool can be called as a task; absent means forbidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_support: Option<TaskSupport>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolExecution {
    /// Sets whether the tool can be called as a task.
    #[must_use]
    pub fn with_task_support(mut self, task_support: TaskSupport) -> Self {
        self.task_support = Some(task_support);
        self
    }
}

/// The result of `tools/list`: one page of tools.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListToolsResult {
    /// The tools on this page.
    pub tools: Vec<Tool>,
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

impl ListToolsResult {
    /// A page of these tools (the last page, until a cursor is set).
    pub fn new(tools: Vec<Tool>) -> Self {
        ListToolsResult {
            tools,
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

/// Params of `tools/call`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CallToolParams {
    /// The tool's name.
    pub name: String,
    /// The arguments, which should match the tool's input schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<JsonObject>,
    /// Asks to run the call as a task (2025-11-25); the answer is then a
    /// [`CreateTaskResult`](super::CreateTaskResult).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// Metadata (`_meta`), such as a progress token.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Read straight from a `tools/call`'s text by servers
/// ([`decode_as`](crate::jsonrpc::decode_as)): the name, the arguments and
/// `_meta` as they usually come, without the JSON tree of the whole params
/// that the derived `Deserialize` (which buffers them, for `extra`) or a
/// reading through [`Value`] builds. Anything else (a member of another
/// type, no name, a `task`) comes back as the tree, for the derived reading
/// and its errors.
impl TypedParams for CallToolParams {
    fn method() -> &'static str {
        <Self as super::RequestParams>::METHOD
    }

    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Result<Self, Value>, A::Error> {
        let (mut name, mut arguments, mut meta, mut task) = (None, None, None, None);
        let mut extra = Map::new();
        // A member given twice counts with its last value, as in a tree.
        while let Some(member) = map.next_key::<CallMember>()? {
            let slot = match member {
                CallMember::Name => &mut name,
                CallMember::Arguments => &mut arguments,
                CallMember::Meta => &mut meta,
                CallMember::Task => &mut task,
                CallMember::Other(key) => {
                    extra.insert(key, map.next_value()?);
                    continue;
                }
            };
            *slot = Some(map.next_value::<Value>()?);
        }
        Ok(match (name, arguments, meta, task) {
            (
                Some(Value::String(name)),
                arguments @ (None | Some(Value::Object(_))),
                meta @ (None | Some(Value::Object(_))),
                None,
            ) => Ok(CallToolParams {
                name,
                arguments: arguments.and_then(into_object),
                task: None,
                meta: meta.and_then(into_object),
                extra,
            }),
            (name, arguments, meta, task) => {
                let known = [
                    ("name", name),
                    ("arguments", arguments),
                    ("_meta", meta),
                    ("task", task),
                ];
                for (key, value) in known {
                    if let Some(value) = value {
                        extra.insert(key.into(), value);
                    }
                }
                Err(Value::Object(extra))
            }
        })
    }

    fn into_value(self) -> Value {
        // Built by moving the parts: the derived `Serialize` would copy
        // them, and could fail only on a map key that is not a string,
        // which no JSON map has.
        let mut map = self.extra;
        map.insert("name".into(), Value::String(self.name));
        if let Some(arguments) = self.arguments {
            map.insert("arguments".into(), Value::Object(arguments));
        }
        if let Some(task) = self.task {
            let mut members = task.extra;
            if let Some(ttl) = task.ttl {
                members.insert("ttl".into(), ttl.into());
            }
            map.insert("task".into(), Value::Object(members));
        }
        if let Some(meta) = self.meta {
            map.insert("_meta".into(), Value::Object(meta));
        }
        Value::Object(map)
    }
}

fn into_object(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A member of `tools/call`'s params, named without allocating but for
/// those this SDK does not know.
enum CallMember {
    Name,
    Arguments,
    Meta,
    Task,
    Other(String),
}

impl<'de> Deserialize<'de> for CallMember {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CallMember;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<CallMember, E> {
                Ok(match name {
                    "name" => CallMember::Name,
                    "arguments" => CallMember::Arguments,
                    "_meta" => CallMember::Meta,
                    "task" => CallMember::Task,
                    other => CallMember::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl CallToolParams {
    /// Calls a tool with these arguments.
    pub fn new(name: impl Into<String>, arguments: Option<JsonObject>) -> Self {
        CallToolParams {
            name: name.into(),
            arguments,
            ..Default::default()
        }
    }

    /// Asks to run the call as a task (2025-11-25).
    #[must_use]
    pub fn with_task(mut self, task: TaskMetadata) -> Self {
        self.task = Some(task);
        self
    }
}

/// The result of `tools/call`. A tool that failed says so here, with
/// `isError`, so the model can see the error; protocol failures are JSON-RPC
/// errors instead.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CallToolResult {
    /// The unstructured result.
    pub content: Vec<ContentBlock>,
    /// The structured result, matching the tool's output schema (2025-06-18+;
    /// an object there, any JSON value in later revisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// Whether the tool failed (absent means false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CallToolResult {
    /// The result as JSON: the value `serde_json::to_value(&result)` gives,
    /// built by moving the result's parts instead of serializing a copy of
    /// them. A server turns every tool result into JSON, and its text
    /// would otherwise be copied once more (with a key allocated per
    /// member, and the result dropped after). Plain text blocks are built
    /// here; any other block goes the serde way. Every member is named
    /// below, so a member added to this type or to [`TextContent`] does
    /// not compile until it is written here too.
    ///
    /// # Errors
    /// When a block does not serialize (`serde_json::to_value` would fail
    /// the same way).
    pub fn into_value(self) -> Result<Value, serde_json::Error> {
        let CallToolResult {
            mut content,
            structured_content,
            is_error,
            meta,
            extra,
        } = self;
        let mut blocks = Vec::with_capacity(content.len());
        // The blocks are read in place, and only their text taken: moving
        // each block out whole copies it.
        for block in &mut content {
            blocks.push(match block {
                ContentBlock::Text(TextContent {
                    text,
                    annotations: None,
                    meta: None,
                    extra,
                }) if extra.is_empty() => {
                    let mut object = Map::new();
                    object.insert("type".into(), Value::String("text".into()));
                    object.insert("text".into(), Value::String(std::mem::take(text)));
                    Value::Object(object)
                }
                other => serde_json::to_value(&*other)?,
            });
        }
        // The members in the order the derived `Serialize` writes them, the
        // unknown ones last (they overwrite a known one of the same name,
        // as there).
        let mut object = Map::new();
        object.insert("content".into(), Value::Array(blocks));
        if let Some(structured) = structured_content {
            object.insert("structuredContent".into(), structured);
        }
        if let Some(is_error) = is_error {
            object.insert("isError".into(), Value::Bool(is_error));
        }
        if let Some(meta) = meta {
            object.insert("_meta".into(), Value::Object(meta));
        }
        object.extend(extra);
        Ok(Value::Object(object))
    }

    /// A successful result with these blocks.
    pub fn new(content: Vec<ContentBlock>) -> Self {
        CallToolResult {
            content,
            ..Default::default()
        }
    }

    /// A successful result of one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(vec![ContentBlock::text(text)])
    }

    /// A failed result (`isError: true`) of one text block, for the model to
    /// read.
    pub fn error_text(text: impl Into<String>) -> Self {
        CallToolResult {
            is_error: Some(true),
            ..Self::text(text)
        }
    }

    /// A structured result, with its JSON text as a text block too, as the
    /// specification recommends for clients that do not read
    /// `structuredContent`.
    pub fn structured(value: Value) -> Self {
        CallToolResult {
            content: vec![ContentBlock::text(value.to_string())],
            structured_content: Some(value),
            ..Default::default()
        }
    }

    /// Sets the structured result (2025-06-18+), leaving the blocks as
    /// they are.
    #[must_use]
    pub fn with_structured_content(mut self, structured_content: Value) -> Self {
        self.structured_content = Some(structured_content);
        self
    }

    /// Sets whether the tool failed.
    #[must_use]
    pub fn with_is_error(mut self, is_error: bool) -> Self {
        self.is_error = Some(is_error);
        self
    }

    /// Whether the tool failed.
    pub fn is_error(&self) -> bool {
        self.is_error == Some(true)
    }
}

meta_only! {
    /// Params of `notifications/tools/list_changed`: the list of tools changed.
    ToolListChangedNotificationParams;
}

impl_has_meta!(Tool, ListToolsResult, CallToolParams, CallToolResult);

impl_with_extra!(
    Tool,
    ToolAnnotations,
    ToolExecution,
    ListToolsResult,
    CallToolParams,
    CallToolResult,
);

impl_request! {
    CallToolParams => CallToolResult, "tools/call";
}

impl_notification! {
    ToolListChangedNotificationParams, "notifications/tools/list_changed";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON `into_value` builds of a tool result is the serde one, whatever the
    /// result holds.
    #[test]
    fn tool_results_encode_as_serde_does() {
        use crate::Annotations;
        use serde_json::json;
        let mut annotated = TextContent::new("noted");
        annotated.annotations = Some(Annotations::default());
        annotated.extra.insert("x-vendor".into(), json!(1));
        let mut with_meta = TextContent::new("meta");
        with_meta.meta = Some(json!({"k": "v"}).as_object().cloned().unwrap());
        let mut full = CallToolResult::new(vec![
            ContentBlock::text("plain"),
            ContentBlock::Text(annotated),
            ContentBlock::Text(with_meta),
            ContentBlock::image("aGk=", "image/png"),
        ])
        .with_structured_content(json!({"n": 1}));
        full.is_error = Some(false);
        full.meta = Some(json!({"m": true}).as_object().cloned().unwrap());
        full.extra.insert("future".into(), json!([1, 2]));
        let mut clash = CallToolResult::text("shadowed");
        clash.extra.insert("content".into(), json!("extra wins"));
        let cases = [
            CallToolResult::text("hello"),
            CallToolResult::error_text("it failed"),
            CallToolResult::new(vec![]),
            CallToolResult::structured(json!({"a": [1, "b"]})),
            full,
            clash,
        ];
        for case in cases {
            let serde = serde_json::to_value(&case).unwrap();
            assert_eq!(case.into_value().unwrap(), serde);
        }
    }
}
