//! Any OpenAI-compatible chat-completions API (OpenAI, and local servers
//! such as llama.cpp, vLLM or Ollama), with MCP tools offered as function
//! tools.

use super::llm::{
    endpoint, http_client, json_kind, post_json, tool_parameters, Llm, LlmError, Message, Reply,
    ToolCall, ToolNames, DEFAULT_LLM_TIMEOUT,
};
use mcp_sdk::Tool;
use mcp_sdk_client::async_trait;
use serde_json::{json, Value};
use std::time::Duration;

/// The model asked for when `LLM_MODEL` is not set.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";

/// Where requests go when only `LLM_API_KEY` is set.
pub const DEFAULT_OPENAI_URL: &str = "https://api.openai.com/v1";

/// An OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    url: String,
    key: Option<String>,
    model: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl OpenAiCompatible {
    /// A provider at `url` (a base such as `http://127.0.0.1:8000/v1`, to
    /// which `/chat/completions` is added, or the full endpoint), with an
    /// optional bearer key and a model name.
    pub fn new(
        url: Option<String>,
        key: Option<String>,
        model: Option<String>,
    ) -> Result<Self, LlmError> {
        let url = endpoint(url, DEFAULT_OPENAI_URL, "/chat/completions")?;
        Ok(OpenAiCompatible {
            http: http_client("openai-compatible", DEFAULT_LLM_TIMEOUT)?,
            url,
            key,
            model: model.unwrap_or_else(|| DEFAULT_OPENAI_MODEL.to_owned()),
            timeout: DEFAULT_LLM_TIMEOUT,
        })
    }

    /// Waits at most `timeout` for each completion.
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, LlmError> {
        self.http = http_client("openai-compatible", timeout)?;
        self.timeout = timeout;
        Ok(self)
    }

    /// The endpoint requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn provider(&self) -> String {
        format!("{} at {}", self.model, self.url)
    }
}

/// The request body: the messages in the API's form and the tools as
/// function tools.
fn request_body(model: &str, messages: &[Message], tools: &[Tool], names: &ToolNames) -> Value {
    let messages: Vec<Value> = messages
        .iter()
        .map(|message| match message {
            Message::System(text) => json!({"role": "system", "content": text}),
            Message::User(text) => json!({"role": "user", "content": text}),
            Message::Assistant { text, tool_calls } => {
                let mut m = json!({"role": "assistant", "content": text});
                if !tool_calls.is_empty() {
                    m["tool_calls"] = tool_calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {"name": names.api(&call.name), "arguments": call.arguments},
                            })
                        })
                        .collect();
                }
                m
            }
            Message::Tool {
                call_id, content, ..
            } => json!({"role": "tool", "tool_call_id": call_id, "content": content}),
        })
        .collect();
    let mut body = json!({"model": model, "messages": messages});
    if !tools.is_empty() {
        body["tools"] = tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": names.api(&tool.name),
                        "description": tool.description.clone().unwrap_or_default(),
                        "parameters": tool_parameters(tool),
                    },
                })
            })
            .collect();
    }
    body
}

/// The reply in the first choice of a chat-completions answer.
fn parse_reply(provider: &str, body: &Value, names: &ToolNames) -> Result<Reply, LlmError> {
    let malformed = |message: String| LlmError::Malformed {
        provider: provider.to_owned(),
        message,
    };
    let message = body
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(|c| c.get("message"))
        .ok_or_else(|| malformed("no choices[0].message in the answer".into()))?;
    let text = match message.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        // Some servers send content parts; their texts are the message.
        Some(Value::Array(parts)) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
        ),
        Some(other) => {
            return Err(malformed(format!(
                "the message content is {}, not text",
                json_kind(other)
            )))
        }
    };
    let mut tool_calls = Vec::new();
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for (i, call) in calls.iter().enumerate() {
                let function = call
                    .get("function")
                    .ok_or_else(|| malformed(format!("tool call {i} has no function")))?;
                let name = function
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| malformed(format!("tool call {i} has no function name")))?;
                // The API sends the arguments as JSON text; some servers send
                // the object itself.
                let arguments = match function.get("arguments") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                let id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    // Servers that leave the id out still need one to pair the
                    // result with.
                    .unwrap_or_else(|| format!("call_{i}"));
                tool_calls.push(ToolCall {
                    id,
                    name: names.mcp(name),
                    arguments,
                });
            }
        }
        Some(other) => {
            return Err(malformed(format!(
                "tool_calls is {}, not an array",
                json_kind(other)
            )))
        }
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(provider)
        .to_owned();
    Ok(Reply {
        text,
        tool_calls,
        model,
    })
}

#[async_trait]
impl Llm for OpenAiCompatible {
    fn label(&self) -> String {
        format!("OpenAI-compatible API: {}", self.provider())
    }

    async fn complete(&self, messages: &[Message], tools: &[Tool]) -> Result<Reply, LlmError> {
        let names = ToolNames::new(tools);
        let body = request_body(&self.model, messages, tools, &names);
        let headers: Vec<(&str, String)> = self
            .key
            .iter()
            .map(|key| ("authorization", format!("Bearer {key}")))
            .collect();
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
