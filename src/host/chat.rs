//! The chat with tool use: the model sees the server's tools, each tool call
//! it makes runs through MCP, the results go back to it as tool messages,
//! until it answers (or runs out of rounds).

use super::error::HostError;
use super::llm::{shorten, Llm, Message, ToolCall};
use mcp_sdk::{CallToolResult, ContentBlock, ResourceContents, Tool};
use mcp_sdk_client::{Client, ClientError, RequestOptions};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The most rounds of tool calls in one turn before the chat gives up, so a
/// model that keeps calling tools cannot keep the user waiting forever.
pub const DEFAULT_MAX_ROUNDS: usize = 8;

/// How long one tool call may go without an answer (or, since the timeout
/// restarts on progress, without progress).
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// The most characters of one tool result given to the model.
const MAX_RESULT_CHARS: usize = 50_000;

/// What the model is told about its role.
const SYSTEM_PROMPT: &str = "You are the assistant of an MCP host. The tools you are given are \
the connected MCP servers' tools; call them when they help answer the user, then answer briefly \
from their results.";

/// What happens during a turn, as it happens (for a terminal or a page).
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The model's text that came with tool calls (its thinking aloud).
    Text(String),
    /// A tool call is about to run.
    ToolCall {
        /// The tool.
        name: String,
        /// Its arguments as JSON text.
        arguments: String,
    },
    /// A running tool reported progress.
    Progress {
        /// The tool.
        name: String,
        /// How far it is.
        progress: f64,
        /// Out of how much, if known.
        total: Option<f64>,
        /// What it is doing.
        message: Option<String>,
    },
    /// A tool call finished.
    ToolResult {
        /// The tool.
        name: String,
        /// The result as given to the model.
        text: String,
        /// Whether it failed.
        is_error: bool,
    },
    /// A tool call of the model was not run: an unknown tool or arguments
    /// that are not a JSON object. The model is told why.
    Rejected {
        /// The name the model used.
        name: String,
        /// Why it was not run.
        reason: String,
    },
}

/// Where a chat's events go.
pub type EventSink = Arc<dyn Fn(ChatEvent) + Send + Sync>;

/// One tool call of a turn, with its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRun {
    /// The tool (as the model named it).
    pub name: String,
    /// The arguments as the model sent them.
    pub arguments: String,
    /// The result, or why it failed or was not run.
    pub result: String,
    /// Whether it failed or was not run.
    pub is_error: bool,
}

/// The outcome of a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The model's final answer.
    pub text: String,
    /// The tool calls made on the way, in order.
    pub tool_runs: Vec<ToolRun>,
}

/// A conversation with a model that uses one MCP server's tools.
pub struct Chat {
    client: Client,
    llm: Arc<dyn Llm>,
    history: Vec<Message>,
    events: EventSink,
    /// The most rounds of tool calls per turn.
    pub max_rounds: usize,
    /// The timeout of each tool call (restarted by progress).
    pub tool_timeout: Duration,
}

impl Chat {
    /// A new conversation through `client` with `llm`; `events` hears what
    /// happens during each turn.
    pub fn new(client: Client, llm: Arc<dyn Llm>, events: EventSink) -> Self {
        Chat {
            client,
            llm,
            history: vec![Message::System(SYSTEM_PROMPT.to_owned())],
            events,
            max_rounds: DEFAULT_MAX_ROUNDS,
            tool_timeout: DEFAULT_TOOL_TIMEOUT,
        }
    }

    /// Goes on through `client` (a new connection to the same server, after
    /// the old one was lost).
    pub fn set_client(&mut self, client: Client) {
        self.client = client;
    }

    /// The conversation so far.
    pub fn history(&self) -> &[Message] {
        &self.history
    }

    /// The model.
    pub fn llm(&self) -> &Arc<dyn Llm> {
        &self.llm
    }

    /// One turn: the user's `text`, the model's tool calls run through MCP,
    /// and its answer. On failure the conversation is left as it was before
    /// the turn, so the next turn starts clean.
    pub async fn send(&mut self, text: &str) -> Result<Answer, HostError> {
        let before = self.history.len();
        let result = self.turn(text).await;
        if result.is_err() {
            self.history.truncate(before);
        }
        result
    }

    async fn turn(&mut self, text: &str) -> Result<Answer, HostError> {
        // Read the tools every turn: servers come and go behind a gateway,
        // and a server that went away shows here, before the model runs.
        let tools = self
            .client
            .list_all_tools()
            .await
            .map_err(|e| HostError::mcp("tools/list", e))?;
        self.history.push(Message::User(text.to_owned()));
        let mut tool_runs = Vec::new();
        for _ in 0..self.max_rounds {
            let reply = self.llm.complete(&self.history, &tools).await?;
            if reply.tool_calls.is_empty() {
                let text = reply
                    .text
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| "(the model gave an empty answer)".to_owned());
                self.history.push(Message::Assistant {
                    text: Some(text.clone()),
                    tool_calls: Vec::new(),
                });
                return Ok(Answer { text, tool_runs });
            }
            if let Some(text) = reply.text.as_ref().filter(|t| !t.trim().is_empty()) {
                (self.events)(ChatEvent::Text(text.clone()));
            }
            self.history.push(Message::Assistant {
                text: reply.text,
                tool_calls: reply.tool_calls.clone(),
            });
            for call in reply.tool_calls {
                let run = self.run(&call, &tools).await?;
                self.history.push(Message::Tool {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: run.result.clone(),
                    is_error: run.is_error,
                });
                tool_runs.push(run);
            }
        }
        Err(HostError::TooManyRounds {
            rounds: self.max_rounds,
        })
    }

    /// Runs one tool call. A call the model got wrong, a tool that failed
    /// or a call that timed out is an error result for the model to read;
    /// a connection that is gone ends the turn.
    async fn run(&self, call: &ToolCall, tools: &[Tool]) -> Result<ToolRun, HostError> {
        let rejected = |reason: String| {
            (self.events)(ChatEvent::Rejected {
                name: call.name.clone(),
                reason: reason.clone(),
            });
            Ok(ToolRun {
                name: call.name.clone(),
                arguments: call.arguments.clone(),
                result: format!("error: {reason}"),
                is_error: true,
            })
        };
        if !tools.iter().any(|t| t.name == call.name) {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            return rejected(format!(
                "there is no tool named {:?}; the tools are: {}",
                call.name,
                shorten(&names.join(", "), 2000)
            ));
        }
        let arguments = match call.parsed_arguments() {
            Ok(arguments) => arguments,
            Err(reason) => return rejected(reason),
        };
        (self.events)(ChatEvent::ToolCall {
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        });
        let events = self.events.clone();
        let name = call.name.clone();
        let options = RequestOptions::new()
            .timeout(self.tool_timeout)
            .reset_timeout_on_progress()
            .on_progress(move |p| {
                events(ChatEvent::Progress {
                    name: name.clone(),
                    progress: p.progress,
                    total: p.total,
                    message: p.message,
                })
            });
        // A -32042 error shows its pages to the user (the elicitor asks
        // first) and, accepted, the call is made once more.
        let (result, is_error) = match self
            .client
            .call_tool_answering_url_elicitation(&call.name, arguments, options)
            .await
        {
            Ok(result) => (
                shorten(&tool_result_text(&result), MAX_RESULT_CHARS),
                result.is_error(),
            ),
            Err(e) if connection_lost(&e) => {
                return Err(HostError::mcp(format!("tools/call {}", call.name), e))
            }
            Err(e) => (format!("error: {e}"), true),
        };
        (self.events)(ChatEvent::ToolResult {
            name: call.name.clone(),
            text: result.clone(),
            is_error,
        });
        Ok(ToolRun {
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            result,
            is_error,
        })
    }
}

/// Whether the connection to the server is gone (rather than one call
/// having failed), so a chat turn cannot go on.
pub fn connection_lost(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Closed(_)
            | ClientError::Transport(_)
            | ClientError::SessionExpired(_)
            | ClientError::StreamLost(_)
            | ClientError::Http { .. }
    )
}

/// A tool result as text: the text blocks, other blocks described, and the
/// structured content when no block carries text.
pub fn tool_result_text(result: &CallToolResult) -> String {
    let mut parts: Vec<String> = result.content.iter().map(content_text).collect();
    parts.retain(|p| !p.is_empty());
    if parts.is_empty() {
        if let Some(structured) = &result.structured_content {
            return structured.to_string();
        }
    }
    parts.join("\n")
}

/// One content block as text (binary content described, not dumped).
pub fn content_text(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(t) => t.text.clone(),
        ContentBlock::Image(i) => format!("[image {}, {} bytes]", i.mime_type, base64_len(&i.data)),
        ContentBlock::Audio(a) => format!("[audio {}, {} bytes]", a.mime_type, base64_len(&a.data)),
        ContentBlock::ResourceLink(r) => format!("[resource {} ({})]", r.uri, r.name),
        ContentBlock::Resource(e) => resource_text(&e.resource),
    }
}

/// Resource contents as text (a blob described, not dumped).
pub fn resource_text(contents: &ResourceContents) -> String {
    match contents {
        ResourceContents::Text(t) => t.text.clone(),
        ResourceContents::Blob(b) => format!(
            "[{} bytes of {} at {}]",
            base64_len(&b.blob),
            b.mime_type.as_deref().unwrap_or("binary data"),
            b.uri
        ),
    }
}

/// The decoded size of base64 text.
fn base64_len(data: &str) -> usize {
    let data = data.trim_end_matches('=');
    data.len() * 3 / 4
}

/// `key=value` words as pairs, in order: each must have a `=` and a key
/// before it, and no key may come twice.
pub fn split_pairs(pairs: &[String]) -> Result<Vec<(String, String)>, HostError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(HostError::Usage(format!(
                "bad argument {pair:?}: expected key=value (such as a=2 or text=\"hello world\")"
            )));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(HostError::Usage(format!(
                "bad argument {pair:?}: the key before '=' is empty"
            )));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(HostError::Usage(format!(
                "the argument {key} is given twice"
            )));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Arguments for a tool from `key=value` words: each value is JSON when it
/// parses as JSON, else a string; but where the tool's schema says a
/// parameter is a string, the value is taken as written (so `name=123`
/// stays `"123"`).
pub fn parse_key_values(
    pairs: &[String],
    schema: Option<&serde_json::Map<String, Value>>,
) -> Result<serde_json::Map<String, Value>, HostError> {
    let mut map = serde_json::Map::new();
    for (key, raw) in split_pairs(pairs)? {
        let wants_string = schema
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(&key))
            .and_then(|p| p.get("type"))
            .is_some_and(|t| t == "string");
        let value = if wants_string {
            Value::String(raw)
        } else {
            serde_json::from_str(&raw).unwrap_or(Value::String(raw))
        };
        map.insert(key, value);
    }
    Ok(map)
}
