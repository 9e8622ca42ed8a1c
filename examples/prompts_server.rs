//! The prompts reference server: see `--help`.

use clap::Parser;
use mcp_reference::servers::{self, prompts, TransportArgs};
use mcp_reference::status;
use std::path::PathBuf;
use tracing::Level;

/// MCP server with a prompt library (code_review, summarize, explain_code,
/// translate, write_tests, style_guide_review, describe_image), argument
/// completion, and prompts from a watched folder of templates.
#[derive(Parser)]
#[command(
    name = "prompts_server",
    version,
    long_about = "MCP server with a prompt library: code_review, summarize, explain_code, \
translate, write_tests, style_guide_review (embeds a style guide resource) and describe_image \
(sends an image). Arguments are checked (missing or invalid ones are -32602) and \
completion/complete suggests languages, styles, audiences and test frameworks.\n\n\
With --prompts-dir DIR every DIR/*.md file is a prompt too:\n\n\
---\n\
name: bug_report\n\
description: Turns rough notes into a bug report\n\
arguments:\n\
- notes (required): The raw notes\n\
- severity: How bad it is [low, medium, high]\n\
---\n\
Write a bug report from these notes: {{notes}} (severity: {{severity}})\n\n\
Malformed files are skipped with a warning; the folder is checked every second and clients \
get notifications/prompts/list_changed when its prompts change (stateless clients of revision \
2026-07-28: on a subscriptions/listen stream asking for promptsListChanged, and the warnings as \
log messages of prompts/list).\n\n\
Serves stdio (--stdio) for desktop hosts, or Streamable HTTP at http://ADDR/mcp \
(default 127.0.0.1:$PORT or 5007), with GET /health.\n\n\
Desktop host (e.g. Claude Desktop's claude_desktop_config.json):\n\
{\"mcpServers\": {\"prompts\": {\"command\": \"/path/to/prompts_server\", \
\"args\": [\"--stdio\", \"--prompts-dir\", \"/path/to/prompts\"]}}}"
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    /// A folder of prompt templates (*.md), watched for changes.
    #[arg(long, value_name = "DIR")]
    prompts_dir: Option<PathBuf>,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("prompts_server", "info");
    let server = match prompts::PromptsServer::new(args.prompts_dir) {
        Ok(server) => server,
        Err(e) => {
            status(Level::ERROR, format_args!("prompts_server: {e}"));
            std::process::exit(2);
        }
    };
    let _watcher = server.spawn_watcher(prompts::POLL_INTERVAL);
    servers::run(server, &prompts::spec(), &args.transport).await
}
