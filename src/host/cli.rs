//! The command-line client: `tools`, `call`, `read`, `prompt` and `chat`
//! against the session manager (by default) or any MCP server, by URL or
//! as a command over stdio, in either era.

use super::chat::{
    parse_key_values, resource_text, split_pairs, tool_result_text, Chat, ChatEvent, EventSink,
};
use super::connect::{connect, Target, DEFAULT_CONNECT_TIMEOUT, DEFAULT_URL};
use super::error::HostError;
use super::handler::{directory_root, HostHandler, Notice, NoticeSink};
use super::llm::{self, shorten, Llm};
use super::offline::OfflineAssistant;
use super::sign_in::{self, SignIn};
use super::terminal::{
    clear_progress, show_progress, Terminal, TerminalApprover, TerminalElicitor,
};
use super::web;
use crate::status;
use clap::{Parser, Subcommand, ValueEnum};
use mcp_sdk::{CallToolResult, ContentBlock, Tool};
use mcp_sdk_client::auth::{FileTokenStore, Tokens};
use mcp_sdk_client::skills::{SkillError, SKILLS_EXTENSION};
use mcp_sdk_client::{Client, Era, RequestOptions, ToolTask};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::Level;

/// An MCP host on the command line: list and call tools, read resources,
/// get prompts, or chat with a model that uses the server's tools.
#[derive(Debug, Parser)]
#[command(
    name = "client",
    version,
    after_help = "The model comes from the environment: LLM_API_URL, LLM_API_KEY and LLM_MODEL \
for an OpenAI-compatible API (OpenAI, llama.cpp, vLLM, Ollama), LLM_PROVIDER=anthropic (or \
ANTHROPIC_API_KEY) for the Anthropic messages API. With none set, a built-in offline assistant \
picks a tool from your words (\"add 2 and 3\").\n\nA server that asks for OAuth opens your browser \
to sign in (`login` does it ahead; --no-browser prints the address instead).\n\nExamples:\n  client tools\n  client call add \
a=2 b=3 --json\n  client --stdio \"target/debug/examples/tools_server --stdio\" chat\n  client \
chat --message \"add 2 and 3\""
)]
pub struct Cli {
    /// The MCP server's Streamable HTTP endpoint [default: the session
    /// manager at http://127.0.0.1:5000/mcp].
    #[arg(long, value_name = "URL", global = true, conflicts_with = "stdio")]
    pub url: Option<String>,
    /// Run this command (program and arguments, quoted as one) as the MCP
    /// server, over its stdin and stdout.
    #[arg(long, value_name = "COMMAND", global = true)]
    pub stdio: Option<String>,
    /// The protocol era: whichever the server speaks (stateless first), the
    /// session era (initialize), or the stateless era (2026-07-28).
    #[arg(long, value_enum, default_value_t = EraArg::Auto, global = true)]
    pub era: EraArg,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// A directory the servers may work in (offered as a root); repeatable.
    #[arg(long = "root", value_name = "DIR", global = true)]
    pub roots: Vec<PathBuf>,
    /// Let the model answer servers' sampling requests without asking.
    #[arg(long, global = true)]
    pub auto_approve: bool,
    /// How long a request may go without an answer (or progress), in
    /// seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, global = true)]
    pub timeout: u64,
    /// When a server asks you to sign in (OAuth): print the address to
    /// open in a browser anywhere and read back, pasted, the address the
    /// browser ends on, instead of opening this machine's browser.
    #[arg(long, global = true)]
    pub no_browser: bool,
    /// Keep OAuth tokens in this file instead of
    /// $XDG_CONFIG_HOME/mcp-reference/tokens.json (for a gateway's
    /// `stored_tokens`, say).
    #[arg(long, value_name = "FILE", global = true)]
    pub token_store: Option<PathBuf>,
    /// Where the command's trace goes (OpenTelemetry).
    #[command(flatten)]
    pub telemetry: crate::telemetry::TelemetryArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The protocol era, as `--era` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EraArg {
    /// Probe with server/discover: stateless if the server speaks it, else
    /// the session era.
    Auto,
    /// The session era: initialize, then requests in a session.
    Session,
    /// The stateless era (2026-07-28): no handshake.
    Stateless,
}

impl From<EraArg> for Era {
    fn from(era: EraArg) -> Era {
        match era {
            EraArg::Auto => Era::Auto,
            EraArg::Session => Era::SessionOnly,
            EraArg::Stateless => Era::StatelessOnly,
        }
    }
}

/// Prints a line on stdout; a reader that went away (`client tools | head`)
/// is no reason to panic, as `println!` would.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the server's tools with their parameters.
    Tools,
    /// Call a tool: `call add a=2 b=3`. Values are JSON when they parse as
    /// JSON (numbers, true, [1, 2], {"k":1}), else text; for a parameter the
    /// schema says is text, always text.
    Call {
        /// The tool's name.
        tool: String,
        /// The arguments, as key=value.
        #[arg(value_name = "KEY=VALUE")]
        arguments: Vec<String>,
        /// Run the call as a task (tasks of 2025-11-25, or the 2026-07-28
        /// tasks extension): the task is followed until it ends, answering
        /// its questions on the terminal.
        #[arg(long)]
        task: bool,
    },
    /// Read a resource.
    Read {
        /// The resource's URI.
        uri: String,
    },
    /// List the server's skills (the skills extension, SEP-2640): name,
    /// description and the URI of each skill's SKILL.md. Nothing of a
    /// skill is read.
    Skills,
    /// Load a skill by name or SKILL.md URI and print its SKILL.md, read
    /// now and verified against the server's listing (size, SHA-256
    /// digest, frontmatter); a skill that fails is not printed.
    Skill {
        /// The skill's name (as `skills` lists it) or its SKILL.md URI.
        skill: String,
    },
    /// Get a prompt: `prompt name key=value ...` (values are text).
    Prompt {
        /// The prompt's name.
        name: String,
        /// The arguments, as key=value.
        #[arg(value_name = "KEY=VALUE")]
        arguments: Vec<String>,
    },
    /// Chat with the model, which may use the server's tools: a REPL on
    /// stdin, or one message with --message.
    Chat {
        /// Send this one message, print the answer and exit.
        #[arg(long, short, value_name = "TEXT")]
        message: Option<String>,
    },
    /// Sign in to an MCP server that asks for OAuth: your browser opens at
    /// its authorization server (or, with --no-browser, you open the
    /// printed address and paste back where the browser ends). The tokens
    /// are kept for later commands in your configuration directory
    /// ($XDG_CONFIG_HOME/mcp-reference/tokens.json, readable by you only).
    /// Other commands sign in too when a server asks.
    Login {
        /// The server's MCP endpoint [default: --url, or the session
        /// manager].
        #[arg(value_name = "SERVER_URL")]
        server: Option<String>,
    },
    /// Forget the tokens kept for an MCP server.
    Logout {
        /// The server's MCP endpoint [default: --url, or the session
        /// manager].
        #[arg(value_name = "SERVER_URL")]
        server: Option<String>,
    },
    /// Serve the web UI (tools, resources, prompts, chat, live log,
    /// sampling and elicitation dialogs) until Ctrl-C; it reconnects to the
    /// server when the connection is lost.
    Web {
        /// Where the page listens: a loopback address (port 0 picks a free
        /// port, printed on stderr).
        #[arg(long, value_name = "ADDR", default_value = web::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// Allow a --listen address that is not loopback, for a container
        /// whose published port arrives on its network interface. The page
        /// has no login: whoever reaches it acts as you (its Host check
        /// still admits only loopback names).
        #[arg(long)]
        any_address: bool,
    },
}

/// Logs go to stderr, at `RUST_LOG` or `LOG_LEVEL` (default `warn`, so the
/// servers' own logging over stdio does not drown the output); see
/// [`crate::init_logging`].
pub fn init_tracing() {
    crate::init_logging(DEFAULT_LOG_LEVEL);
}

/// The client's log level unless `RUST_LOG` or `LOG_LEVEL` says otherwise:
/// `warn`, so the servers' own logging over stdio does not drown the
/// output.
pub const DEFAULT_LOG_LEVEL: &str = "warn";

/// Runs the command; on failure says why on stderr and exits with 1.
///
/// A command other than `web` is one trace: its requests carry the trace
/// context of one `mcp.client` span (exported with `--otlp-endpoint`), so
/// the servers' spans of the command are its children.
pub async fn main(cli: Cli) -> ExitCode {
    let outcome = if matches!(cli.command, Command::Web { .. }) {
        run(cli).await
    } else {
        use tracing::Instrument;
        let trace = mcp_sdk::trace::TraceContext::new_root();
        let span = tracing::info_span!(
            "mcp.client",
            trace_id = %trace.trace_id(),
            span_id = %trace.span_id(),
        );
        trace.scope(run(cli).instrument(span)).await
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            clear_progress();
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command.
pub async fn run(cli: Cli) -> Result<(), HostError> {
    let target = match (&cli.url, &cli.stdio) {
        (_, Some(command)) => Target::command_line(command)?,
        (Some(url), None) => Target::url(url)?,
        (None, None) => Target::Url(DEFAULT_URL.to_owned()),
    };
    if let Command::Web {
        listen,
        any_address,
    } = cli.command
    {
        return serve_web(&cli, target, listen, any_address).await;
    }
    let target = match &cli.command {
        Command::Login {
            server: Some(url), ..
        }
        | Command::Logout {
            server: Some(url), ..
        } => Target::url(url)?,
        _ => target,
    };
    if let Command::Logout { .. } = cli.command {
        return logout(&target, cli.token_store.as_deref(), cli.json);
    }
    let sign_in = match (&target, &cli.command) {
        (Target::Command(_), Command::Login { .. }) => {
            return Err(HostError::Usage(
                "login is for servers reached by URL; a server run with --stdio takes its credentials from its environment".into(),
            ))
        }
        (Target::Command(_), _) => None,
        (Target::Url(_), Command::Login { .. }) => Some(SignIn::for_terminal(
            cli.no_browser,
            cli.token_store.as_deref(),
        )?),
        (Target::Url(_), _) => match SignIn::for_terminal(cli.no_browser, cli.token_store.as_deref()) {
            Ok(sign_in) => Some(sign_in),
            Err(e) => {
                eprintln!("warning: {e}; servers that ask for OAuth cannot be signed in to");
                None
            }
        },
    };
    let roots = cli
        .roots
        .iter()
        .map(|dir| directory_root(dir).map_err(HostError::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    let llm: Arc<dyn Llm> = match llm::from_env() {
        Ok(llm) => llm,
        Err(e) if !matches!(cli.command, Command::Chat { .. }) => {
            // Only sampling would use the model here; the command can go on.
            eprintln!("warning: {e}; sampling requests get the offline assistant");
            Arc::new(OfflineAssistant)
        }
        Err(e) => return Err(e.into()),
    };
    let terminal = Terminal::new();
    let mut handler = HostHandler::new(
        llm.clone(),
        Arc::new(TerminalApprover {
            terminal: terminal.clone(),
            auto: cli.auto_approve,
        }),
    )
    .roots(roots)
    .notices(notice_printer());
    // Without a terminal there is nobody to fill in a form: the capability
    // is not declared, so servers do not ask.
    if terminal.is_interactive() {
        handler = handler.elicitor(Arc::new(TerminalElicitor {
            terminal: terminal.clone(),
        }));
    }
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let before = match (&target, &sign_in) {
        (Target::Url(url), Some(sign_in)) => sign_in.tokens(url)?,
        _ => None,
    };
    let client = connect(
        &target,
        cli.era.into(),
        handler,
        DEFAULT_CONNECT_TIMEOUT.min(timeout.max(Duration::from_secs(5))),
        sign_in.as_ref(),
        None,
    )
    .await?;
    let outcome = match cli.command {
        Command::Login { .. } => match (&target, &sign_in) {
            (Target::Url(url), Some(sign_in)) => login_report(url, sign_in, before, cli.json),
            _ => unreachable!("login needs a URL and a sign-in, checked above"),
        },
        Command::Logout { .. } => unreachable!("done above"),
        Command::Tools => tools(&client, cli.json).await,
        Command::Call {
            tool,
            arguments,
            task,
        } => call(&client, &tool, &arguments, task, timeout, cli.json).await,
        Command::Read { uri } => read(&client, &uri, timeout, cli.json).await,
        Command::Skills => skills(&client, cli.json).await,
        Command::Skill { skill } => load_skill(&client, &target, &skill, cli.json).await,
        Command::Prompt { name, arguments } => prompt(&client, &name, &arguments, cli.json).await,
        Command::Chat { message } => {
            chat(&client, llm, message, &terminal, timeout, cli.json).await
        }
        Command::Web { .. } => unreachable!("served above"),
    };
    clear_progress();
    client.close().await;
    outcome
}

/// `login`: says whether the connection just made signed in, was signed
/// in already, or needed no sign-in.
fn login_report(
    url: &str,
    sign_in: &SignIn,
    before: Option<Tokens>,
    json: bool,
) -> Result<(), HostError> {
    let after = sign_in.tokens(url)?;
    let store = sign_in.store_path().display().to_string();
    let (state, message) = match (&after, before == after) {
        (None, _) => (
            "not-needed",
            format!("{url} did not ask to sign in: nothing to do."),
        ),
        (Some(tokens), false) => (
            "signed-in",
            format!(
                "Signed in to {url} at {}{}. The tokens are kept in {store}.",
                tokens.issuer,
                scope_note(tokens)
            ),
        ),
        (Some(tokens), true) => (
            "already-signed-in",
            format!(
                "Already signed in to {url} at {}{}; `client logout {url}` forgets the tokens.",
                tokens.issuer,
                scope_note(tokens)
            ),
        ),
    };
    if json {
        print_json(&json!({
            "server": url,
            "state": state,
            "issuer": after.as_ref().map(|t| &t.issuer),
            "scope": after.as_ref().and_then(|t| t.scope.as_ref()),
            "store": store,
        }));
    } else {
        out!("{message}");
    }
    Ok(())
}

fn scope_note(tokens: &Tokens) -> String {
    match &tokens.scope {
        Some(scope) => format!(" (scopes: {scope})"),
        None => String::new(),
    }
}

/// `logout`: forgets the server's tokens (the client's registration with
/// the authorization server is kept, for the next sign-in).
fn logout(target: &Target, store: Option<&std::path::Path>, json: bool) -> Result<(), HostError> {
    let Target::Url(url) = target else {
        return Err(HostError::Usage(
            "logout is for servers reached by URL".into(),
        ));
    };
    let sign_in = SignIn::for_terminal(true, store)?;
    let had = sign_in.forget(url)?;
    if json {
        print_json(&json!({ "server": url, "forgotten": had }));
    } else if had {
        out!("Signed out of {url}: its tokens are forgotten.");
    } else {
        out!("No tokens were kept for {url}.");
    }
    Ok(())
}

/// `web`: serves the page until Ctrl-C or SIGTERM. The server need not be
/// up yet: the page shows the connection's state while it is tried again.
async fn serve_web(
    cli: &Cli,
    target: Target,
    listen: std::net::SocketAddr,
    any_address: bool,
) -> Result<(), HostError> {
    let mut options = web::Options::new(target, llm::from_env()?);
    options.era = cli.era.into();
    options.auto_approve = cli.auto_approve;
    options.allow_commands = !any_address;
    options.timeout = Duration::from_secs(cli.timeout.max(1));
    options.roots = cli
        .roots
        .iter()
        .map(|dir| directory_root(dir).map_err(HostError::Usage))
        .collect::<Result<_, _>>()?;
    let store = match &cli.token_store {
        Some(path) => Ok(FileTokenStore::new(path)),
        None => FileTokenStore::in_config_dir(sign_in::CONFIG_DIR),
    };
    options.token_store = match store {
        Ok(store) => Some(store),
        Err(e) => {
            eprintln!("warning: {e}; servers that ask for OAuth cannot be signed in to");
            None
        }
    };
    let listener = web::bind(listen, any_address)
        .await
        .map_err(|e| HostError::Usage(format!("the web UI cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| HostError::Usage(e.to_string()))?;
    // The reference system reads this line to learn the port.
    status(
        Level::INFO,
        format_args!("client: serving the web UI at http://{addr}/"),
    );
    let app = web::App::new(options);
    web::serve(listener, app, shutdown_signal())
        .await
        .map_err(|e| HostError::Usage(format!("the web UI failed: {e}")))
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Server log messages and list changes, on stderr.
fn notice_printer() -> NoticeSink {
    Arc::new(|notice| {
        clear_progress();
        match notice {
            Notice::Log(log) => {
                let data = match &log.data {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let logger = log.logger.as_deref().unwrap_or("server");
                eprintln!("[{logger} {:?}] {}", log.level, shorten(&data, 500));
            }
            Notice::Progress(p) => {
                show_progress("server", p.progress, p.total, p.message.as_deref())
            }
            Notice::ListChanged(what) => eprintln!("(the server's {what} changed)"),
            Notice::ResourceUpdated(uri) => eprintln!("(updated: {uri})"),
        }
    })
}

fn print_json(value: &impl serde::Serialize) {
    out!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("\"{e}\""))
    );
}

async fn all_tools(client: &Client) -> Result<Vec<Tool>, HostError> {
    client
        .list_all_tools()
        .await
        .map_err(|e| HostError::mcp("tools/list", e))
}

/// `tools`.
async fn tools(client: &Client, json: bool) -> Result<(), HostError> {
    let tools = all_tools(client).await?;
    if json {
        print_json(&tools);
        return Ok(());
    }
    if tools.is_empty() {
        out!("(the server offers no tools)");
    }
    for tool in &tools {
        out!(
            "{}  {}",
            tool.name,
            tool.description.as_deref().unwrap_or_default()
        );
        let params = parameters(tool);
        if !params.is_empty() {
            out!("    {params}");
        }
    }
    Ok(())
}

/// "a: number (required), b: number (required)".
fn parameters(tool: &Tool) -> String {
    let required: Vec<&str> = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
    else {
        return String::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let kind = match &schema["type"] {
                Value::String(t) => t.clone(),
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => "any".to_owned(),
            };
            let required = if required.contains(&name.as_str()) {
                " (required)"
            } else {
                ""
            };
            format!("{name}: {kind}{required}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Options for a long call: a timeout restarted by progress, which is shown.
fn progress_options(name: &str, timeout: Duration) -> RequestOptions {
    let name = name.to_owned();
    RequestOptions::new()
        .timeout(timeout)
        .reset_timeout_on_progress()
        .on_progress(move |p| show_progress(&name, p.progress, p.total, p.message.as_deref()))
}

/// `call`.
async fn call(
    client: &Client,
    name: &str,
    pairs: &[String],
    as_task: bool,
    timeout: Duration,
    json: bool,
) -> Result<(), HostError> {
    // The arguments are checked before the server is asked anything.
    split_pairs(pairs)?;
    let tools = all_tools(client).await?;
    let Some(tool) = tools.iter().find(|t| t.name == name) else {
        return Err(HostError::UnknownTool {
            name: name.to_owned(),
            available: tools.into_iter().map(|t| t.name).collect(),
        });
    };
    let arguments = parse_key_values(pairs, Some(&tool.input_schema))?;
    let result = if as_task {
        call_as_task(client, name, arguments, timeout).await?
    } else {
        // -32042: the terminal shows each page and asks; accepted, the
        // call is made once more.
        client
            .call_tool_answering_url_elicitation(name, arguments, progress_options(name, timeout))
            .await
            .map_err(|e| HostError::mcp(format!("tools/call {name}"), e))?
    };
    clear_progress();
    if result.is_error() {
        return Err(HostError::ToolFailed {
            name: name.to_owned(),
            message: tool_result_text(&result),
        });
    }
    if json {
        // The structured result is what a script wants; a tool without one
        // gives its whole result.
        match &result.structured_content {
            Some(structured) => print_json(structured),
            None => print_json(&result),
        }
    } else {
        for block in &result.content {
            match block {
                ContentBlock::Text(t) => out!("{}", t.text),
                other => out!("{}", super::chat::content_text(other)),
            }
        }
        if result.content.is_empty() {
            if let Some(structured) = &result.structured_content {
                print_json(structured);
            }
        }
    }
    Ok(())
}

/// A tool call run as a task: started, then followed until it ends (at
/// most `timeout`), its state on stderr.
async fn call_as_task(
    client: &Client,
    name: &str,
    arguments: serde_json::Map<String, Value>,
    timeout: Duration,
) -> Result<CallToolResult, HostError> {
    let failed = |e| HostError::mcp(format!("tools/call {name} as a task"), e);
    let task = match client
        .call_tool_as_task(name, arguments, None)
        .await
        .map_err(failed)?
    {
        ToolTask::Finished(result) => {
            eprintln!("(the server answered at once, without a task)");
            return Ok(result);
        }
        ToolTask::Running(task) => task,
    };
    eprintln!("task {} is {:?}", task.task_id, task.status);
    let result = tokio::time::timeout(timeout, client.task_result(&task.task_id))
        .await
        .map_err(|_| {
            HostError::Usage(format!(
                "task {} did not end within {timeout:?}; it goes on at the server",
                task.task_id
            ))
        })?
        .map_err(failed)?;
    eprintln!("task {} ended", task.task_id);
    Ok(result)
}

/// `read`.
async fn read(client: &Client, uri: &str, timeout: Duration, json: bool) -> Result<(), HostError> {
    let result = tokio::time::timeout(timeout, client.read_resource(uri))
        .await
        .map_err(|_| {
            HostError::Usage(format!(
                "resources/read {uri} got no answer within {timeout:?}"
            ))
        })?
        .map_err(|e| HostError::mcp(format!("resources/read {uri}"), e))?;
    if json {
        print_json(&result);
    } else {
        for contents in &result.contents {
            out!("{}", resource_text(contents));
        }
    }
    Ok(())
}

/// A skills failure as the host's error.
fn skill_failed(action: String, error: SkillError) -> HostError {
    match error {
        SkillError::Client(e) => HostError::mcp(action, e),
        SkillError::NotOffered => HostError::Usage(format!(
            "{action}: the server does not offer skills (it declares no {SKILLS_EXTENSION})"
        )),
        other => HostError::Usage(format!("{action}: {other}")),
    }
}

/// `skills`.
async fn skills(client: &Client, json: bool) -> Result<(), HostError> {
    if !client.offers_skills() {
        out!("(the server offers no skills)");
        return Ok(());
    }
    let skills = client
        .list_all_skills()
        .await
        .map_err(|e| skill_failed("skills/list".into(), e))?;
    if json {
        print_json(&skills);
        return Ok(());
    }
    if skills.is_empty() {
        out!("(the server lists no skills; a skill can still be loaded by its URI)");
    }
    for skill in &skills {
        out!("{}  {}", skill.name(), skill.description());
        out!("    {}", skill.uri);
    }
    Ok(())
}

/// `skill`: the entry by URI (`skills/get`) or by name from the listing,
/// then its SKILL.md, verified, under a line saying where it came from.
async fn load_skill(
    client: &Client,
    target: &Target,
    skill: &str,
    json: bool,
) -> Result<(), HostError> {
    let entry = if skill.contains("://") {
        client
            .get_skill(skill)
            .await
            .map_err(|e| skill_failed(format!("skills/get {skill}"), e))?
    } else {
        let listed = client
            .list_all_skills()
            .await
            .map_err(|e| skill_failed("skills/list".into(), e))?;
        let matching: Vec<_> = listed.into_iter().filter(|s| s.name() == skill).collect();
        match <[_; 1]>::try_from(matching) {
            Ok([entry]) => entry,
            Err(matching) if matching.is_empty() => {
                return Err(HostError::Usage(format!(
                    "the server lists no skill named {skill} (see `skills`)"
                )))
            }
            Err(matching) => {
                let uris: Vec<&str> = matching.iter().map(|s| s.uri.as_str()).collect();
                return Err(HostError::Usage(format!(
                    "{} skills are named {skill}; give one's URI: {}",
                    matching.len(),
                    uris.join(", ")
                )));
            }
        }
    };
    let loaded = client
        .load_skill(&entry)
        .await
        .map_err(|e| skill_failed(format!("loading the skill {}", entry.uri), e))?;
    if json {
        print_json(&json!({"entry": loaded.entry, "skillMd": loaded.skill_md}));
    } else {
        // Skill text is the server's, not the host's: say whose it is.
        eprintln!(
            "(skill {} from {}, {}; verified against its listing)",
            entry.name(),
            target,
            entry.uri
        );
        out!("{}", loaded.skill_md);
    }
    Ok(())
}

/// `prompt`.
async fn prompt(
    client: &Client,
    name: &str,
    pairs: &[String],
    json: bool,
) -> Result<(), HostError> {
    let arguments = split_pairs(pairs)?;
    let result = client
        .get_prompt(name, arguments)
        .await
        .map_err(|e| HostError::mcp(format!("prompts/get {name}"), e))?;
    if json {
        print_json(&result);
    } else {
        if let Some(description) = &result.description {
            out!("# {description}");
        }
        for message in &result.messages {
            out!(
                "{:?}: {}",
                message.role,
                super::chat::content_text(&message.content)
            );
        }
    }
    Ok(())
}

/// What happens during a chat turn, on stderr (the answer goes to stdout).
fn chat_printer() -> EventSink {
    Arc::new(|event| match event {
        ChatEvent::Progress {
            name,
            progress,
            total,
            message,
        } => show_progress(&name, progress, total, message.as_deref()),
        other => {
            clear_progress();
            match other {
                ChatEvent::Text(text) => eprintln!("… {}", shorten(&text, 500)),
                ChatEvent::ToolCall { name, arguments } => {
                    eprintln!("→ {name} {}", shorten(&arguments, 300))
                }
                ChatEvent::ToolResult {
                    name,
                    text,
                    is_error,
                } => {
                    let mark = if is_error { "✗" } else { "←" };
                    eprintln!("{mark} {name}: {}", shorten(&text, 300))
                }
                ChatEvent::Rejected { name, reason } => {
                    eprintln!("✗ the model's call of {name} was not run: {reason}")
                }
                ChatEvent::Progress { .. } => {}
            }
        }
    })
}

/// `chat`.
async fn chat(
    client: &Client,
    llm: Arc<dyn Llm>,
    message: Option<String>,
    terminal: &Terminal,
    timeout: Duration,
    json: bool,
) -> Result<(), HostError> {
    let mut chat = Chat::new(client.clone(), llm.clone(), chat_printer());
    chat.tool_timeout = timeout;
    if let Some(message) = message {
        let answer = chat.send(&message).await?;
        if json {
            let runs: Vec<Value> = answer
                .tool_runs
                .iter()
                .map(|r| {
                    json!({"tool": r.name, "arguments": r.arguments, "result": r.result,
                           "isError": r.is_error})
                })
                .collect();
            print_json(&json!({"model": llm.label(), "answer": answer.text, "toolRuns": runs}));
        } else {
            out!("{}", answer.text);
        }
        return Ok(());
    }
    eprintln!(
        "Chatting with {} through {}. An empty line, \"exit\" or Ctrl-D ends.",
        llm.label(),
        client.server().server_info.name
    );
    loop {
        let Some(line) = terminal.ask("> ").await else {
            eprintln!();
            return Ok(());
        };
        let line = line.trim();
        if line.is_empty() || line == "exit" || line == "quit" {
            return Ok(());
        }
        match chat.send(line).await {
            Ok(answer) if json => print_json(&json!({"answer": answer.text})),
            Ok(answer) => out!("{}", answer.text),
            // A server that is gone ends the chat; anything else is one
            // failed turn, and the user may try again.
            Err(e @ HostError::Mcp { .. }) if client.is_closed() => return Err(e),
            Err(e) => {
                clear_progress();
                eprintln!("error: {e}");
            }
        }
    }
}
