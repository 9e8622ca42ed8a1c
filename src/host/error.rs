//! [`HostError`]: everything the host reports to its user, each with a
//! message that says what went wrong and, where it can, what to do.

use super::llm::LlmError;
use mcp_sdk_client::ClientError;
use std::fmt;

/// Why a host operation failed.
#[derive(Debug, Clone)]
pub enum HostError {
    /// A bad command-line argument (such as a `key=value` without `=`).
    Usage(String),
    /// The server could not be reached or did not complete the handshake.
    Connect {
        /// The URL or command.
        target: String,
        /// Why.
        message: String,
    },
    /// No tool of that name.
    UnknownTool {
        /// The name asked for.
        name: String,
        /// The tools there are.
        available: Vec<String>,
    },
    /// An MCP request failed.
    Mcp {
        /// What was being done, such as `tools/call add`.
        action: String,
        /// How it failed (boxed: it is large, and errors are rare).
        error: Box<ClientError>,
    },
    /// The tool ran and reported a failure (`isError`).
    ToolFailed {
        /// The tool.
        name: String,
        /// What it said.
        message: String,
    },
    /// The LLM failed.
    Llm(LlmError),
    /// The model kept calling tools without giving an answer.
    TooManyRounds {
        /// The rounds it was allowed.
        rounds: usize,
    },
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Usage(message) => f.write_str(message),
            HostError::Connect { target, message } => {
                write!(f, "could not connect to the MCP server {target}: {message}")
            }
            HostError::UnknownTool { name, available } => {
                write!(f, "unknown tool {name:?}")?;
                if let Some(close) = closest(name, available) {
                    write!(f, " (did you mean {close:?}?)")?;
                }
                if available.is_empty() {
                    write!(f, "; the server offers no tools")
                } else {
                    write!(f, "; the server's tools: {}", available.join(", "))
                }
            }
            HostError::Mcp { action, error } => write!(f, "{action} failed: {error}"),
            HostError::ToolFailed { name, message } => {
                write!(f, "the tool {name} failed: {message}")
            }
            HostError::Llm(e) => e.fmt(f),
            HostError::TooManyRounds { rounds } => write!(
                f,
                "the model made {rounds} rounds of tool calls without giving an answer; stopped"
            ),
        }
    }
}

impl std::error::Error for HostError {}

impl From<LlmError> for HostError {
    fn from(e: LlmError) -> Self {
        HostError::Llm(e)
    }
}

impl HostError {
    /// An MCP failure while doing `action`.
    pub fn mcp(action: impl Into<String>, error: ClientError) -> Self {
        HostError::Mcp {
            action: action.into(),
            error: Box::new(error),
        }
    }
}

/// The name in `names` that ends with `name` (a gateway's `server__name`)
/// or is nearest to it by edit distance, if near enough to be a typo.
fn closest<'a>(name: &str, names: &'a [String]) -> Option<&'a str> {
    if let Some(suffixed) = names.iter().find(|n| n.ends_with(&format!("__{name}"))) {
        return Some(suffixed);
    }
    names
        .iter()
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}
