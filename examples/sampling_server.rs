//! The sampling reference server: language tools that borrow the client's
//! model through MCP sampling.

use clap::Parser;
use mcp_reference::servers::{sampling, TransportArgs};

/// MCP server whose tools use the client's own LLM (MCP sampling).
#[derive(Parser)]
#[command(
    name = "sampling_server",
    version,
    long_about = "MCP server whose tools use the client's own LLM through MCP sampling \
        (sampling/createMessage): no API key on the server.\n\n\
        Tools: `summarize`, `translate`, `classify_sentiment` (structured: label and \
        confidence) and `ask_with_tools` (the model may call a calculator and a clock inside \
        sampling; needs a client with tool use in sampling, MCP 2025-11-25). Each takes \
        optional `model_hint`, `system_prompt` and `max_tokens`. The client must declare the \
        sampling capability; hosts usually ask the user to approve each request.\n\n\
        In a desktop MCP host (e.g. Claude Desktop's claude_desktop_config.json):\n  \
        {\"mcpServers\": {\"sampling\": {\"command\": \"cargo\", \"args\": [\"run\", \"--release\", \
        \"--example\", \"sampling_server\", \"--\", \"--stdio\"]}}}\n\n\
        Over HTTP it serves http://127.0.0.1:5002/mcp (PORT or --http to change) and GET /health."
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("sampling_server", "info");
    mcp_reference::servers::run(sampling::router(), &sampling::spec(), &args.transport).await
}
