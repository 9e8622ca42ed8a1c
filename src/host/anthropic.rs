//! The Anthropic messages API, with MCP tools offered as its tools.

use super::llm::{
    endpoint, http_client, json_kind, post_json, tool_parameters, Llm, LlmError, Message, Reply,
    ToolCall, ToolNames, DEFAULT_LLM_TIMEOUT,
};
use mcp_sdk::Tool;
use mcp_sdk_client::async_trait;
use serde_json::{json, Value};
use std::time::Duration;

/// The model asked for when `LLM_MODEL` is not set.
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";

/// Where requests go when `LLM_API_URL` is not set.
pub const DEFAULT_ANTHROPIC_URL: &str = "https://api.anthropic.com/v1";

/// The API version sent in `anthropic-version`.
const API_VERSION: &str = "2023-06-01";

/// The most tokens asked for per answer (the API requires a limit).
const MAX_TOKENS: u64 = 4096;

/// The Anthropic messages API.
#[derive(Debug, Clone)]
pub struct Anthropic {
    url: String,
    key: String,
    model: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl Anthropic {
    /// A provider at `url` (a base such as `https://api.anthropic.com/v1`,
    /// to which `/messages` is added, or the full endpoint).
    pub fn new(url: Option<String>, key: String, model: Option<String>) -> Result<Self, LlmError> {
        let url = endpoint(url, DEFAULT_ANTHROPIC_URL, "/messages")?;
        Ok(Anthropic {
            http: http_client("anthropic", DEFAULT_LLM_TIMEOUT)?,
            url,
            key,
            model: model.unwrap_or_else(|| DEFAULT_ANTHROPIC_MODEL.to_owned()),
            timeout: DEFAULT_LLM_TIMEOUT,
        })
    }

    fn provider(&self) -> String {
        format!("{} at {}", self.model, self.url)
    }
}

/// The request body. The API takes the system prompt apart, wants tool
/// results as `tool_result` blocks of a user message, and wants the roles
/// to alternate, so neighbouring messages of one role are merged.
fn request_body(model: &str, messages: &[Message], tools: &[Tool], names: &ToolNames) -> Value {
    let mut system = Vec::new();
    let mut out: Vec<(&str, Vec<Value>)> = Vec::new();
    let mut push = |role: &'static str, block: Value| match out.last_mut() {
        Some((r, blocks)) if *r == role => blocks.push(block),
        _ => out.push((role, vec![block])),
    };
    for message in messages {
        match message {
            Message::System(text) => system.push(text.clone()),
            Message::User(text) => push("user", json!({"type": "text", "text": text})),
            Message::Assistant { text, tool_calls } => {
                if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                    push("assistant", json!({"type": "text", "text": text}));
                }
                for call in tool_calls {
                    // The input must be an object; arguments that did not
                    // parse were answered with an error already.
                    let input = call.parsed_arguments().unwrap_or_default();
                    push(
                        "assistant",
                        json!({"type": "tool_use", "id": call.id, "name": names.api(&call.name), "input": input}),
                    );
                }
            }
            Message::Tool {
                call_id,
                content,
                is_error,
                ..
            } => push(
                "user",
                json!({"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error}),
            ),
        }
    }
    let messages: Vec<Value> = out
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({"model": model, "max_tokens": MAX_TOKENS, "messages": messages});
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !tools.is_empty() {
        body["tools"] = tools
            .iter()
            .map(|tool| {
                json!({
                    "name": names.api(&tool.name),
                    "description": tool.description.clone().unwrap_or_default(),
                    "input_schema": tool_parameters(tool),
                })
            })
            .collect();
    }
    body
}

fn parse_reply(provider: &str, body: &Value, names: &ToolNames) -> Result<Reply, LlmError> {
    let malformed = |message: String| LlmError::Malformed {
        provider: provider.to_owned(),
        message,
    };
    let content = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no content array in the answer".into()))?;
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for (i, block) in content.iter().enumerate() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => texts.push(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ),
            Some("tool_use") => {
                let name = block
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| malformed(format!("tool_use block {i} has no name")))?;
                let arguments = match block.get("input") {
                    None | Some(Value::Null) => String::new(),
                    Some(input @ Value::Object(_)) => input.to_string(),
                    Some(other) => {
                        return Err(malformed(format!(
                            "the input of tool_use block {i} is {}, not an object",
                            json_kind(other)
                        )))
                    }
                };
                tool_calls.push(ToolCall {
                    id: block
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("toolu_{i}")),
                    name: names.mcp(name),
                    arguments,
                });
            }
            // Thinking and other blocks are not for the user.
            _ => {}
        }
    }
    Ok(Reply {
        text: (!texts.is_empty()).then(|| texts.join("")),
        tool_calls,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(provider)
            .to_owned(),
    })
}

#[async_trait]
impl Llm for Anthropic {
    fn label(&self) -> String {
        format!("Anthropic messages API: {}", self.provider())
    }

    async fn complete(&self, messages: &[Message], tools: &[Tool]) -> Result<Reply, LlmError> {
        let names = ToolNames::new(tools);
        let body = request_body(&self.model, messages, tools, &names);
        let headers = [
            ("x-api-key", self.key.clone()),
            ("anthropic-version", API_VERSION.to_owned()),
        ];
        let provider = self.provider();
        let answer = post_json(
            &self.http,
            &provider,
            &self.url,
            &headers,
            &body,
            self.timeout,
        )
        .await?;
        parse_reply(&provider, &answer, &names)
    }
}
