//! The MCP host on the command line: see `--help`, and `mcp_reference::host`.

use clap::Parser;
use mcp_reference::host::cli::{self, Cli};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = cli.telemetry.init("client", cli::DEFAULT_LOG_LEVEL);
    cli::main(cli).await
}
