//! The tools reference server: see `--help`.

use clap::Parser;
use mcp_reference::servers::{self, tools, TransportArgs};

/// MCP server with the seed's tools: a calculator (add, subtract, multiply,
/// divide, power), a text processor (word_count, character_count,
/// sentence_count, to_upper_case, to_lower_case) and a data transformer
/// (json_to_csv, csv_to_json).
#[derive(Parser)]
#[command(
    name = "tools_server",
    version,
    long_about = "MCP server with the seed's tools, one MCP tool per operation, each with input \
and output schemas and structured results:\n\
  calculator:       add, subtract, multiply, divide, power\n\
  text processor:   word_count, character_count, sentence_count, to_upper_case, to_lower_case\n\
  data transformer: json_to_csv, csv_to_json (progress on long inputs, cancellable)\n\n\
Serves stdio (--stdio) for desktop hosts, or Streamable HTTP at http://ADDR/mcp \
(default 127.0.0.1:$PORT or 5003), with GET /health.\n\n\
Desktop host (e.g. Claude Desktop's claude_desktop_config.json):\n\
  {\"mcpServers\": {\"tools\": {\"command\": \"/path/to/tools_server\", \"args\": [\"--stdio\"]}}}"
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    /// The largest text, CSV or JSON input accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = tools::DEFAULT_MAX_INPUT_BYTES)]
    max_input_bytes: usize,
    /// How many json_to_csv / csv_to_json conversions run at once (each on
    /// a blocking thread); more wait for a slot.
    #[arg(long, value_name = "N", default_value_t = tools::DEFAULT_MAX_CONVERSIONS)]
    max_conversions: usize,
    /// The time one conversion may take, waiting for a slot included, in
    /// milliseconds; over it the call fails with a message.
    #[arg(long, value_name = "MS", default_value_t = tools::DEFAULT_CONVERSION_BUDGET.as_millis() as u64)]
    conversion_budget_ms: u64,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("tools_server", "info");
    let router = tools::router(tools::ToolsConfig {
        max_input_bytes: args.max_input_bytes,
        max_conversions: args.max_conversions,
        conversion_budget: std::time::Duration::from_millis(args.conversion_budget_ms),
    });
    servers::run(router, &tools::spec(), &args.transport).await
}
