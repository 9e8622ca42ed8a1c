//! Sampling: the server asks the client's model for a message
//! (`sampling/createMessage`), possibly with tools (2025-11-25).

use super::{
    impl_has_meta, impl_request, impl_with_extra, num, AudioContent, ContentBlock, ImageContent,
    JsonObject, Meta, Role, TaskMetadata, TextContent, Tool,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The model's request to use a tool (`"type": "tool_use"`, 2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolUseContent {
    /// An id for this use, which the matching result names.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, matching the tool's input schema.
    pub input: JsonObject,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolUseContent {
    /// The model's use of tool `name` with these arguments, under an id.
    pub fn new(id: impl Into<String>, name: impl Into<String>, input: JsonObject) -> Self {
        ToolUseContent {
            id: id.into(),
            name: name.into(),
            input,
            ..Default::default()
        }
    }
}

/// The result of a tool use, given back to the model
/// (`"type": "tool_result"`, 2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolResultContent {
    /// The id of the tool use this answers.
    pub tool_use_id: String,
    /// The unstructured result, as in a [`CallToolResult`](super::CallToolResult).
    pub content: Vec<ContentBlock>,
    /// The structured result.
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

impl ToolResultContent {
    /// The result of the tool use `tool_use_id`: these blocks.
    pub fn new(tool_use_id: impl Into<String>, content: Vec<ContentBlock>) -> Self {
        ToolResultContent {
            tool_use_id: tool_use_id.into(),
            content,
            ..Default::default()
        }
    }

    /// Sets the structured result.
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
}

/// One block of a sampling message, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SamplingContentBlock {
    /// `"text"`.
    Text(TextContent),
    /// `"image"`.
    Image(ImageContent),
    /// `"audio"` (2025-03-26+).
    Audio(AudioContent),
    /// `"tool_use"` (2025-11-25).
    ToolUse(ToolUseContent),
    /// `"tool_result"` (2025-11-25).
    ToolResult(ToolResultContent),
}

impl SamplingContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        SamplingContentBlock::Text(TextContent::new(text))
    }

    /// The text, for a text block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            SamplingContentBlock::Text(t) => Some(&t.text),
            _ => None,
        }
    }
}

/// The content of a sampling message: one block, or (2025-11-25) several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SamplingContent {
    /// One block, as every revision allows.
    Single(SamplingContentBlock),
    /// Several blocks (2025-11-25), such as parallel tool uses.
    Multiple(Vec<SamplingContentBlock>),
}

impl SamplingContent {
    /// The blocks, however many.
    pub fn blocks(&self) -> &[SamplingContentBlock] {
        match self {
            SamplingContent::Single(b) => std::slice::from_ref(b),
            SamplingContent::Multiple(v) => v,
        }
    }

    /// The text of the first text block, if any.
    pub fn text(&self) -> Option<&str> {
        self.blocks().iter().find_map(SamplingContentBlock::as_text)
    }
}

impl From<SamplingContentBlock> for SamplingContent {
    fn from(b: SamplingContentBlock) -> Self {
        SamplingContent::Single(b)
    }
}

impl From<Vec<SamplingContentBlock>> for SamplingContent {
    fn from(v: Vec<SamplingContentBlock>) -> Self {
        SamplingContent::Multiple(v)
    }
}

/// A message in a sampling conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SamplingMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: SamplingContent,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SamplingMessage {
    /// A message with a role and content.
    pub fn new(role: Role, content: impl Into<SamplingContent>) -> Self {
        SamplingMessage {
            role,
            content: content.into(),
            meta: None,
            extra: Map::new(),
        }
    }

    /// A text message from the user.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self::new(Role::User, SamplingContentBlock::text(text))
    }

    /// A text message from the assistant.
    pub fn assistant_text(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, SamplingContentBlock::text(text))
    }
}

/// A hint naming a model or model family, matched loosely (as a substring).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ModelHint {
    /// A (partial) model name, such as `claude-3-5-sonnet` or `sonnet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ModelHint {
    /// A hint naming a model or a family.
    pub fn new(name: impl Into<String>) -> Self {
        ModelHint {
            name: Some(name.into()),
            extra: Map::new(),
        }
    }
}

/// The server's preferences for choosing a model; the client may ignore them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ModelPreferences {
    /// Model names to prefer, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Vec<ModelHint>>,
    /// How much low cost matters, from 0 to 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub cost_priority: Option<f64>,
    /// How much speed matters, from 0 to 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub speed_priority: Option<f64>,
    /// How much capability matters, from 0 to 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub intelligence_priority: Option<f64>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ModelPreferences {
    /// Sets the model names to prefer, in order.
    #[must_use]
    pub fn with_hints(mut self, hints: Vec<ModelHint>) -> Self {
        self.hints = Some(hints);
        self
    }

    /// Sets how much low cost matters, from 0 to 1.
    #[must_use]
    pub fn with_cost_priority(mut self, cost_priority: f64) -> Self {
        self.cost_priority = Some(cost_priority);
        self
    }

    /// Sets how much speed matters, from 0 to 1.
    #[must_use]
    pub fn with_speed_priority(mut self, speed_priority: f64) -> Self {
        self.speed_priority = Some(speed_priority);
        self
    }

    /// Sets how much capability matters, from 0 to 1.
    #[must_use]
    pub fn with_intelligence_priority(mut self, intelligence_priority: f64) -> Self {
        self.intelligence_priority = Some(intelligence_priority);
        self
    }
}

/// Which servers' context the client should add to the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IncludeContext {
    /// None (the default).
    None,
    /// The requesting server's (soft-deprecated in 2025-11-25).
    ThisServer,
    /// Every connected server's (soft-deprecated in 2025-11-25).
    AllServers,
}

/// How the model may use tools while sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    /// The model decides (the default).
    Auto,
    /// The model must use at least one tool.
    Required,
    /// The model must not use tools.
    None,
}

/// Tool selection for sampling (2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolChoice {
    /// The mode; absent means `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ToolChoiceMode>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolChoice {
    /// Sets the mode.
    #[must_use]
    pub fn with_mode(mut self, mode: ToolChoiceMode) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// Params of `sampling/createMessage` (sent by the server).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateMessageParams {
    /// The conversation so far.
    pub messages: Vec<SamplingMessage>,
    /// Preferences for choosing the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_preferences: Option<ModelPreferences>,
    /// A system prompt the client may use, change or drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Which servers' context to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_context: Option<IncludeContext>,
    /// The sampling temperature.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub temperature: Option<f64>,
    /// The most tokens to sample.
    pub max_tokens: u64,
    /// Sequences that end sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Provider-specific metadata to pass through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// Tools the model may use (2025-11-25; needs the client's
    /// `sampling.tools` capability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// How the model may use them (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Asks to run the request as a task (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// Metadata (`_meta`), such as a progress token.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateMessageParams {
    /// Samples at most `max_tokens` tokens after these messages.
    pub fn new(messages: Vec<SamplingMessage>, max_tokens: u64) -> Self {
        CreateMessageParams {
            messages,
            max_tokens,
            ..Default::default()
        }
    }

    /// Sets the preferences for choosing the model.
    #[must_use]
    pub fn with_model_preferences(mut self, model_preferences: ModelPreferences) -> Self {
        self.model_preferences = Some(model_preferences);
        self
    }

    /// Sets the system prompt.
    #[must_use]
    pub fn with_system_prompt(mut self, system_prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(system_prompt.into());
        self
    }

    /// Sets which servers' context to add.
    #[must_use]
    pub fn with_include_context(mut self, include_context: IncludeContext) -> Self {
        self.include_context = Some(include_context);
        self
    }

    /// Sets the sampling temperature.
    #[must_use]
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the sequences that end sampling.
    #[must_use]
    pub fn with_stop_sequences(mut self, stop_sequences: Vec<String>) -> Self {
        self.stop_sequences = Some(stop_sequences);
        self
    }

    /// Sets the provider-specific metadata to pass through.
    #[must_use]
    pub fn with_metadata(mut self, metadata: JsonObject) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets the tools the model may use (2025-11-25).
    #[must_use]
    pub fn with_tools(mut self, tools: Vec<Tool>) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Sets how the model may use them (2025-11-25).
    #[must_use]
    pub fn with_tool_choice(mut self, tool_choice: ToolChoice) -> Self {
        self.tool_choice = Some(tool_choice);
        self
    }

    /// Asks to run the request as a task (2025-11-25).
    #[must_use]
    pub fn with_task(mut self, task: TaskMetadata) -> Self {
        self.task = Some(task);
        self
    }
}

/// The result of `sampling/createMessage`: the model's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateMessageResult {
    /// Who says it (normally the assistant).
    pub role: Role,
    /// What the model produced.
    pub content: SamplingContent,
    /// The model used.
    pub model: String,
    /// Why sampling stopped: `endTurn`, `stopSequence`, `maxTokens`,
    /// `toolUse` (2025-11-25) or another reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateMessageResult {
    /// The stop reason of a model that finished its turn.
    pub const END_TURN: &'static str = "endTurn";
    /// The stop reason of a model that hit a stop sequence.
    pub const STOP_SEQUENCE: &'static str = "stopSequence";
    /// The stop reason of a model that hit the token limit.
    pub const MAX_TOKENS: &'static str = "maxTokens";
    /// The stop reason of a model that wants to use tools (2025-11-25).
    pub const TOOL_USE: &'static str = "toolUse";

    /// A message from `model`, with no stop reason.
    pub fn new(role: Role, content: impl Into<SamplingContent>, model: impl Into<String>) -> Self {
        CreateMessageResult {
            role,
            content: content.into(),
            model: model.into(),
            stop_reason: None,
            meta: None,
            extra: Map::new(),
        }
    }

    /// An assistant text message from `model` that finished its turn.
    pub fn text(model: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, SamplingContentBlock::text(text), model)
            .with_stop_reason(Self::END_TURN)
    }

    /// Sets why sampling stopped, such as [`Self::TOOL_USE`].
    #[must_use]
    pub fn with_stop_reason(mut self, stop_reason: impl Into<String>) -> Self {
        self.stop_reason = Some(stop_reason.into());
        self
    }
}

impl_with_extra!(
    ToolUseContent,
    ToolResultContent,
    SamplingMessage,
    ModelHint,
    ModelPreferences,
    ToolChoice,
    CreateMessageParams,
    CreateMessageResult,
);

impl_has_meta!(
    ToolUseContent,
    ToolResultContent,
    SamplingMessage,
    CreateMessageParams,
    CreateMessageResult
);

impl_request! {
    CreateMessageParams => CreateMessageResult, "sampling/createMessage";
}
