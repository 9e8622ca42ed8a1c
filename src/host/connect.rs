//! Connecting to an MCP server: a URL (Streamable HTTP) or a command run as
//! a child process (stdio), in the era asked for.

use super::error::HostError;
use super::history::{History, Recorded};
use super::sign_in::SignIn;
use mcp_sdk::Implementation;
use mcp_sdk_client::transport::{ChildProcess, HttpTransport};
use mcp_sdk_client::{Client, ClientError, ClientHandler, Era};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;

/// The session manager of the reference system, which the host talks to
/// unless told otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:5000/mcp";

/// How long connecting (probe and handshake) may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Streamable HTTP endpoint.
    Url(String),
    /// A command (program and arguments) serving MCP on its stdin and
    /// stdout.
    Command(Vec<String>),
}

impl Target {
    /// A command line such as `tools_server --stdio`, split into words as a
    /// shell would (quotes and backslashes; no variables or globs).
    pub fn command_line(line: &str) -> Result<Self, HostError> {
        let words = split_command_line(line)?;
        if words.is_empty() {
            return Err(HostError::Usage("--stdio needs a command to run".into()));
        }
        Ok(Target::Command(words))
    }

    /// A URL, checked for its scheme.
    pub fn url(url: &str) -> Result<Self, HostError> {
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(HostError::Usage(format!(
                "--url must be an http:// or https:// URL, such as {DEFAULT_URL}, not {url:?}"
            )));
        }
        Ok(Target::Url(url.to_owned()))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Url(url) => f.write_str(url),
            Target::Command(words) => write!(f, "`{}`", words.join(" ")),
        }
    }
}

/// Splits a command line into words: whitespace separates, single quotes
/// keep everything, double quotes keep all but `\"` and `\\`, a backslash
/// outside quotes escapes the next character.
pub fn split_command_line(line: &str) -> Result<Vec<String>, HostError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unbalanced(line, '\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unbalanced(line, '"')),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unbalanced(line, '"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn unbalanced(line: &str, quote: char) -> HostError {
    HostError::Usage(format!("the command {line:?} has an unclosed {quote}"))
}

/// Connects to `target` in `era` with `handler`, giving up after `timeout`
/// (not counting the time a person takes to sign in). A server by URL
/// that asks for OAuth is signed in to through `sign_in`, if given. With
/// a `history`, every message exchanged is recorded in it.
pub async fn connect(
    target: &Target,
    era: Era,
    handler: impl ClientHandler,
    timeout: Duration,
    sign_in: Option<&SignIn>,
    history: Option<&Arc<History>>,
) -> Result<Client, HostError> {
    let failed = |message: String| HostError::Connect {
        target: target.to_string(),
        message,
    };
    let builder = Client::builder()
        .info(Implementation::new(
            "mcp-reference-host",
            env!("CARGO_PKG_VERSION"),
        ))
        .era(era)
        .handler(handler);
    let connecting = async {
        match target {
            Target::Url(url) => {
                let mut transport = HttpTransport::builder(url.clone());
                if let Some(sign_in) = sign_in {
                    transport = transport.oauth(sign_in.oauth()?);
                }
                let transport = transport.build()?;
                match history {
                    Some(h) => {
                        builder
                            .connect(Recorded::new(transport, url.clone(), h.clone()))
                            .await
                    }
                    None => builder.connect(transport).await,
                }
            }
            Target::Command(words) => {
                let mut command = Command::new(&words[0]);
                command.args(&words[1..]);
                let transport = ChildProcess::spawn(&mut command)?;
                match history {
                    Some(h) => {
                        let server = target.to_string();
                        builder
                            .connect(Recorded::new(transport, server, h.clone()))
                            .await
                    }
                    None => builder.connect(transport).await,
                }
            }
        }
    };
    tokio::pin!(connecting);
    let mut seen = sign_in.map(SignIn::activity);
    loop {
        match tokio::time::timeout(timeout, &mut connecting).await {
            Ok(Ok(client)) => return Ok(client),
            Ok(Err(e)) => return Err(failed(explain(target, &e))),
            Err(_) => {
                // A sign-in under way, or one since the last look: the
                // wait is the person's (and bounded by the sign-in's own
                // time limit), not the server's.
                let now = sign_in.map(SignIn::activity);
                if now.is_some_and(|n| n % 2 == 1 || Some(n) != seen) {
                    seen = now;
                    continue;
                }
                return Err(failed(format!("no answer within {timeout:?}")));
            }
        }
    }
}

/// The client's error, with a hint where the usual cause is known.
fn explain(target: &Target, error: &ClientError) -> String {
    let hint = match (target, error) {
        (Target::Url(url), ClientError::Transport(_)) if url == DEFAULT_URL => {
            " (is the reference system running? Start it with \
             `cargo run --release --example reference_system`, or pass --url or --stdio)"
        }
        (Target::Url(_), ClientError::Transport(_)) => " (is the server running at that address?)",
        _ => "",
    };
    format!("{error}{hint}")
}
