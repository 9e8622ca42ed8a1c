//! The MCP host on the command line: see `--help`, and `mcp_reference::host`.

use clap::Parser;
use mcp_reference::host::cli::{self, Cli};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_tracing();
    cli::main(Cli::parse()).await
}
