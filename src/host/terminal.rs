//! The terminal side of the command-line host: one shared reader of stdin
//! (the chat REPL and the questions a server's request raises take turns
//! on it), sampling approval and elicitation forms asked on the terminal,
//! and a progress line on stderr.

use super::handler::{field_choices, Approver, Elicitor};
use super::llm::shorten;
use mcp_sdk::{CreateMessageParams, ElicitRequestParams, ElicitResult, Error};
use mcp_sdk_client::async_trait;
use serde_json::{Map, Value};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
use tokio::sync::Mutex;

/// Stdin, shared: whoever needs a line (the REPL, an approval, a form)
/// locks it, so two readers never split one line between them.
#[derive(Clone)]
pub struct Terminal {
    lines: Arc<Mutex<Lines<BufReader<Stdin>>>>,
    interactive: bool,
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Terminal {
    /// The process's stdin.
    pub fn new() -> Self {
        Terminal {
            lines: Arc::new(Mutex::new(BufReader::new(tokio::io::stdin()).lines())),
            interactive: std::io::stdin().is_terminal(),
        }
    }

    /// Whether stdin is a terminal, so there is someone to ask.
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Shows `prompt` on stderr and reads a line; `None` at the end of
    /// input.
    pub async fn ask(&self, prompt: &str) -> Option<String> {
        let mut lines = self.lines.lock().await;
        clear_progress();
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        lines.next_line().await.ok().flatten()
    }

    /// Asks a yes/no question; anything but `y`/`yes` (or the end of input)
    /// is no.
    pub async fn confirm(&self, question: &str) -> bool {
        let answer = self.ask(&format!("{question} [y/N] ")).await;
        matches!(
            answer
                .as_deref()
                .map(|a| a.trim().to_ascii_lowercase())
                .as_deref(),
            Some("y" | "yes")
        )
    }
}

/// Approves sampling requests: all of them with `--auto-approve`, else by
/// asking on the terminal, else (stdin is not a terminal) none, saying why.
pub struct TerminalApprover {
    /// Where to ask.
    pub terminal: Terminal,
    /// `--auto-approve`.
    pub auto: bool,
}

#[async_trait]
impl Approver for TerminalApprover {
    async fn approve(&self, params: &CreateMessageParams) -> Result<(), String> {
        if self.auto {
            return Ok(());
        }
        if !self.terminal.is_interactive() {
            return Err(
                "the user must approve sampling requests, and the host has no terminal \
                        to ask on; run it with --auto-approve to allow them"
                    .to_owned(),
            );
        }
        let mut summary = String::from("\nThe server asks the model (sampling):\n");
        if let Some(system) = &params.system_prompt {
            summary.push_str(&format!("  system: {}\n", shorten(system, 300)));
        }
        for message in &params.messages {
            let text = message.content.text().unwrap_or("(no text)");
            summary.push_str(&format!("  {:?}: {}\n", message.role, shorten(text, 500)));
        }
        if let Some(tools) = &params.tools {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            summary.push_str(&format!("  with tools: {}\n", names.join(", ")));
        }
        eprint!("{summary}");
        if self.terminal.confirm("Let the model answer?").await {
            Ok(())
        } else {
            Err("the user declined the sampling request".to_owned())
        }
    }
}

/// Asks the user for an elicitation's form, field by field, on the
/// terminal.
pub struct TerminalElicitor {
    /// Where to ask.
    pub terminal: Terminal,
}

#[async_trait]
impl Elicitor for TerminalElicitor {
    async fn elicit(&self, params: &ElicitRequestParams) -> Result<ElicitResult, Error> {
        let form = match params {
            ElicitRequestParams::Url(url) => {
                eprintln!(
                    "\nThe server asks you to open {}\n  {}",
                    url.url, url.message
                );
                return Ok(if self.terminal.confirm("Open it and go on?").await {
                    ElicitResult::accept_url()
                } else {
                    ElicitResult::decline()
                });
            }
            ElicitRequestParams::Form(form) => form,
        };
        eprintln!(
            "\nThe server asks: {}\n(an empty answer keeps the default or skips an optional \
             field; end of input cancels)",
            form.message
        );
        let schema = serde_json::to_value(&form.requested_schema).unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut content = Map::new();
        if let Some(properties) = schema["properties"].as_object() {
            for (name, field) in properties {
                let required = required.contains(&name.as_str());
                match self.field(name, field, required).await {
                    Field::Value(v) => {
                        content.insert(name.clone(), v);
                    }
                    Field::Skip => {}
                    Field::Cancel => return Ok(ElicitResult::cancel()),
                }
            }
        }
        eprintln!("{}", Value::Object(content.clone()));
        Ok(if self.terminal.confirm("Send this?").await {
            ElicitResult::accept(content)
        } else {
            ElicitResult::decline()
        })
    }
}

enum Field {
    Value(Value),
    Skip,
    Cancel,
}

impl TerminalElicitor {
    /// Asks for one field until the answer fits its schema.
    async fn field(&self, name: &str, schema: &Value, required: bool) -> Field {
        let kind = schema["type"].as_str().unwrap_or("string");
        let options = field_choices(schema);
        let mut prompt = format!("  {}", schema["title"].as_str().unwrap_or(name));
        if let Some(description) = schema["description"].as_str() {
            prompt.push_str(&format!(" ({description})"));
        }
        prompt.push_str(&format!(" [{kind}"));
        if !options.is_empty() {
            prompt.push_str(&format!(": {}", options.join(" | ")));
        }
        if required {
            prompt.push_str(", required");
        }
        if let Some(default) = schema.get("default") {
            prompt.push_str(&format!(", default {default}"));
        }
        prompt.push_str("]: ");
        // A few tries, then give up on the form rather than loop forever.
        for _ in 0..5 {
            let Some(line) = self.terminal.ask(&prompt).await else {
                return Field::Cancel;
            };
            let line = line.trim();
            if line.is_empty() {
                if !required || schema.get("default").is_some() {
                    return Field::Skip;
                }
                eprintln!("  this field is required");
                continue;
            }
            match parse_field(kind, &options, line) {
                Ok(value) => return Field::Value(value),
                Err(message) => eprintln!("  {message}"),
            }
        }
        Field::Cancel
    }
}

/// A typed answer to a form field.
fn parse_field(kind: &str, options: &[String], line: &str) -> Result<Value, String> {
    let check = |v: &str| {
        if options.is_empty() || options.iter().any(|o| o == v) {
            Ok(())
        } else {
            Err(format!("choose one of: {}", options.join(", ")))
        }
    };
    match kind {
        "integer" => line
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "a whole number, please".to_owned()),
        "number" => line
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| "a number, please".to_owned()),
        "boolean" => match line.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Ok(Value::Bool(true)),
            "n" | "no" | "false" => Ok(Value::Bool(false)),
            _ => Err("yes or no, please".to_owned()),
        },
        "array" => {
            let items: Vec<&str> = line.split(',').map(str::trim).collect();
            for item in &items {
                check(item)?;
            }
            Ok(Value::from(items))
        }
        _ => {
            check(line)?;
            Ok(Value::String(line.to_owned()))
        }
    }
}

/// Whether a progress line is on the terminal now.
static PROGRESS_SHOWN: AtomicBool = AtomicBool::new(false);

/// Shows a tool's progress on stderr: one line redrawn in place on a
/// terminal, else a line per report (for logs).
pub fn show_progress(name: &str, progress: f64, total: Option<f64>, message: Option<&str>) {
    let message = message.map(|m| format!(" {m}")).unwrap_or_default();
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let bar = match total.filter(|t| *t > 0.0) {
            Some(total) => {
                let fraction = (progress / total).clamp(0.0, 1.0);
                let filled = (fraction * 20.0).round() as usize;
                format!(
                    "[{}{}] {:>3.0}%",
                    "#".repeat(filled),
                    ".".repeat(20 - filled),
                    fraction * 100.0
                )
            }
            None => format!("{progress}"),
        };
        let _ = write!(stderr, "\r\x1b[2K{name} {bar}{message}");
        let _ = stderr.flush();
        PROGRESS_SHOWN.store(true, Ordering::Relaxed);
    } else {
        let of = total.map(|t| format!("/{t}")).unwrap_or_default();
        let _ = writeln!(stderr, "progress: {name} {progress}{of}{message}");
    }
}

/// Ends a progress line, so what follows starts on a line of its own.
pub fn clear_progress() {
    if PROGRESS_SHOWN.swap(false, Ordering::Relaxed) {
        eprint!("\r\x1b[2K");
    }
}
