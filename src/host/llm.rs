//! The language model behind the host: one [`Llm`] trait, the messages of a
//! tool-using conversation in a provider-neutral form, and [`from_env`],
//! which picks the provider the environment configures (or the offline
//! assistant when none is).

use super::anthropic::Anthropic;
use super::offline::OfflineAssistant;
use super::openai::OpenAiCompatible;
use mcp_sdk::Tool;
use mcp_sdk_client::async_trait;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How long one completion may take before it counts as failed: local
/// models on a CPU are slow, but a request must not hang forever.
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(120);

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The id the model gave the call; the tool message that answers it
    /// names it.
    pub id: String,
    /// The tool's name, as the model wrote it (it may name no tool).
    pub name: String,
    /// The arguments as JSON text, exactly as the model sent them: they are
    /// sent back to the model as they came, and only parsed (with a clear
    /// error) when the call is run.
    pub arguments: String,
}

impl ToolCall {
    /// The arguments as a JSON object; an empty text counts as `{}`.
    pub fn parsed_arguments(&self) -> Result<Map<String, Value>, String> {
        if self.arguments.trim().is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_str::<Value>(&self.arguments) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(other) => Err(format!(
                "the arguments of {} must be a JSON object, not {}",
                self.name,
                json_kind(&other)
            )),
            Err(e) => Err(format!(
                "the arguments of {} are not valid JSON ({e}): {}",
                self.name,
                shorten(&self.arguments, 200)
            )),
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Instructions for the model.
    System(String),
    /// What the user said.
    User(String),
    /// What the model said: text, tool calls, or both.
    Assistant {
        /// The text, if any.
        text: Option<String>,
        /// The tool calls, if any.
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, for the model.
    Tool {
        /// The id of the call this answers.
        call_id: String,
        /// The tool's name (some providers want it, and it reads well).
        name: String,
        /// The result as text.
        content: String,
        /// Whether the call failed.
        is_error: bool,
    },
}

/// What the model answered in one turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    /// Its text, if any.
    pub text: Option<String>,
    /// The tools it wants called; empty for a final answer.
    pub tool_calls: Vec<ToolCall>,
    /// The model that answered, as the provider named it.
    pub model: String,
}

/// Why a completion failed.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmError {
    /// The API answered with an HTTP error status.
    Http {
        /// The provider's label.
        provider: String,
        /// The status.
        status: u16,
        /// The API's error message, or the start of the body.
        message: String,
    },
    /// The API answered 200 with an error object.
    Api {
        /// The provider's label.
        provider: String,
        /// The API's error message.
        message: String,
    },
    /// The API could not be reached, or the answer was cut off.
    Transport {
        /// The provider's label.
        provider: String,
        /// What went wrong.
        message: String,
    },
    /// No answer within the timeout.
    Timeout {
        /// The provider's label.
        provider: String,
        /// How long it waited.
        after: Duration,
    },
    /// The answer is not what the API promises (not JSON, no choices, a
    /// tool call without a name).
    Malformed {
        /// The provider's label.
        provider: String,
        /// What is wrong with it.
        message: String,
    },
    /// The configuration in the environment cannot work.
    Config(String),
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlmError::Http {
                provider,
                status,
                message,
            } => write!(
                f,
                "the LLM API ({provider}) answered HTTP {status}: {message}"
            ),
            LlmError::Api { provider, message } => {
                write!(f, "the LLM API ({provider}) reported an error: {message}")
            }
            LlmError::Transport { provider, message } => {
                write!(f, "could not reach the LLM API ({provider}): {message}")
            }
            LlmError::Timeout { provider, after } => {
                write!(
                    f,
                    "the LLM API ({provider}) gave no answer within {after:?}"
                )
            }
            LlmError::Malformed { provider, message } => {
                write!(
                    f,
                    "the LLM API ({provider}) sent an answer that makes no sense: {message}"
                )
            }
            LlmError::Config(message) => write!(f, "LLM configuration: {message}"),
        }
    }
}

impl std::error::Error for LlmError {}

/// A language model that can use tools.
#[async_trait]
pub trait Llm: Send + Sync + 'static {
    /// What to show the user: the provider and model, and for the offline
    /// assistant that it is one.
    fn label(&self) -> String;

    /// Whether this is the built-in offline assistant rather than a model.
    fn is_offline(&self) -> bool {
        false
    }

    /// The model's next message after `messages`, which may call `tools`.
    async fn complete(&self, messages: &[Message], tools: &[Tool]) -> Result<Reply, LlmError>;
}

/// The provider the environment configures:
///
/// - `LLM_PROVIDER=anthropic` or `ANTHROPIC_API_KEY` (without
///   `LLM_API_URL`): the Anthropic messages API (`LLM_API_URL` or
///   `https://api.anthropic.com/v1`, key from `LLM_API_KEY` or
///   `ANTHROPIC_API_KEY`, `LLM_MODEL`);
/// - `LLM_API_URL` or `LLM_API_KEY`: an OpenAI-compatible chat-completions
///   API (`LLM_API_URL`, default `https://api.openai.com/v1`; `LLM_API_KEY`,
///   optional for local servers; `LLM_MODEL`);
/// - otherwise the [offline assistant](OfflineAssistant).
pub fn from_env() -> Result<Arc<dyn Llm>, LlmError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let url = var("LLM_API_URL");
    let key = var("LLM_API_KEY");
    let model = var("LLM_MODEL");
    let provider = var("LLM_PROVIDER").map(|p| p.to_ascii_lowercase());
    let anthropic_key = var("ANTHROPIC_API_KEY");
    match provider.as_deref() {
        Some("anthropic") => {
            let key = key.or(anthropic_key).ok_or_else(|| {
                LlmError::Config(
                    "LLM_PROVIDER=anthropic needs LLM_API_KEY or ANTHROPIC_API_KEY".into(),
                )
            })?;
            return Ok(Arc::new(Anthropic::new(url, key, model)?));
        }
        Some("openai") | None => {}
        Some("offline") => return Ok(Arc::new(OfflineAssistant)),
        Some(other) => {
            return Err(LlmError::Config(format!(
                "LLM_PROVIDER={other} is not known; use openai, anthropic or offline"
            )))
        }
    }
    if url.is_none() && key.is_none() {
        if let (Some(key), None) = (anthropic_key, provider.as_deref()) {
            return Ok(Arc::new(Anthropic::new(None, key, model)?));
        }
        return Ok(Arc::new(OfflineAssistant));
    }
    Ok(Arc::new(OpenAiCompatible::new(url, key, model)?))
}

/// The text of a result or a message, cut to at most `max` characters with
/// a note, so one huge tool result cannot flood the model or the terminal.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!(
            "{}… ({} more characters)",
            &text[..cut],
            text[cut..].chars().count()
        ),
    }
}

/// "an array", "a number", …: for messages about a value of the wrong kind.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The error message of an API error body (`{"error": {"message": …}}`,
/// `{"error": "…"}`, `{"message": …}`), else the start of the body.
pub(crate) fn api_error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let error = value.get("error").unwrap_or(&value);
        if let Some(message) = error.get("message").and_then(Value::as_str) {
            let kind = error
                .get("type")
                .or_else(|| error.get("code"))
                .and_then(|k| {
                    k.as_str()
                        .map(str::to_owned)
                        .or_else(|| Some(k.to_string()))
                })
                .filter(|k| k != "null");
            return match kind {
                Some(kind) => format!("{message} ({kind})"),
                None => message.to_owned(),
            };
        }
        if let Some(message) = error.as_str() {
            return message.to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        shorten(text, 300)
    }
}

/// A provider's endpoint: `url` (or `default`) with `path` added unless it
/// ends with it already; it must be an http(s) URL.
pub(crate) fn endpoint(url: Option<String>, default: &str, path: &str) -> Result<String, LlmError> {
    let url = url.unwrap_or_else(|| default.to_owned());
    let url = url.trim().trim_end_matches('/').to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(LlmError::Config(format!(
            "LLM_API_URL must be an http:// or https:// URL, not {url:?}"
        )));
    }
    Ok(if url.ends_with(path) {
        url
    } else {
        format!("{url}{path}")
    })
}

/// A tool's input schema as the APIs take it: an empty schema (which some
/// servers send for tools without arguments) becomes an empty object
/// schema, which the APIs insist on.
pub(crate) fn tool_parameters(tool: &Tool) -> Value {
    let mut schema = Value::Object(tool.input_schema.clone());
    if schema.get("type").is_none() {
        schema["type"] = serde_json::json!("object");
    }
    if schema.get("properties").is_none() {
        schema["properties"] = serde_json::json!({});
    }
    schema
}

/// An HTTP client for a provider, with the completion timeout.
pub(crate) fn http_client(provider: &str, timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| LlmError::Config(format!("{provider}: cannot build an HTTP client: {e}")))
}

/// Posts `body` as JSON and gives the answer's JSON, mapping every failure
/// to an [`LlmError`] that names the provider.
pub(crate) async fn post_json(
    http: &reqwest::Client,
    provider: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &Value,
    timeout: Duration,
) -> Result<Value, LlmError> {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            LlmError::Timeout {
                provider: provider.to_owned(),
                after: timeout,
            }
        } else {
            // The source chain says why (connection refused, DNS, TLS).
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            LlmError::Transport {
                provider: provider.to_owned(),
                message,
            }
        }
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(failed)?;
    if !status.is_success() {
        return Err(LlmError::Http {
            provider: provider.to_owned(),
            status: status.as_u16(),
            message: api_error_message(&bytes),
        });
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| LlmError::Malformed {
        provider: provider.to_owned(),
        message: format!(
            "not JSON ({e}): {}",
            shorten(&String::from_utf8_lossy(&bytes), 200)
        ),
    })?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(LlmError::Api {
            provider: provider.to_owned(),
            message: api_error_message(&bytes),
        });
    }
    Ok(value)
}

/// The names the APIs accept for tools (`^[a-zA-Z0-9_-]{1,64}$`);
/// MCP tool names may also hold dots and slashes, so those are mapped to
/// names that pass, and back.
pub(crate) struct ToolNames {
    to_api: HashMap<String, String>,
    from_api: HashMap<String, String>,
}

impl ToolNames {
    pub(crate) fn new(tools: &[Tool]) -> Self {
        let mut names = ToolNames {
            to_api: HashMap::new(),
            from_api: HashMap::new(),
        };
        for tool in tools {
            let mut api: String = tool
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(64)
                .collect();
            if api.is_empty() {
                api.push('_');
            }
            // Two names that map alike get a numbered suffix.
            let mut n = 2;
            while names.from_api.contains_key(&api) {
                let suffix = format!("_{n}");
                api = format!("{}{suffix}", &api[..api.len().min(64 - suffix.len())]);
                n += 1;
            }
            names.to_api.insert(tool.name.clone(), api.clone());
            names.from_api.insert(api, tool.name.clone());
        }
        names
    }

    pub(crate) fn api<'a>(&'a self, name: &'a str) -> &'a str {
        self.to_api.get(name).map(String::as_str).unwrap_or(name)
    }

    /// The MCP name of a function the model called; a name that is no tool
    /// stays as it is, for the chat loop to report.
    pub(crate) fn mcp(&self, api: &str) -> String {
        self.from_api
            .get(api)
            .cloned()
            .unwrap_or_else(|| api.to_owned())
    }
}
