//! The smallest useful MCP server: one tool, `echo`, that returns its text.
//! Used by the benches.
//!
//! ```text
//! cargo run --release --example echo_server -- --stdio
//! cargo run --release --example echo_server -- --http 127.0.0.1:3000   # http://127.0.0.1:3000/mcp
//! ```

use clap::Parser;
use mcp_reference::status;
use std::net::SocketAddr;
use tracing::Level;

#[derive(Parser)]
struct Args {
    /// Serve one session on stdin/stdout.
    #[arg(long, conflicts_with = "http")]
    stdio: bool,
    /// Serve Streamable HTTP at http://ADDR/mcp.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Answer every request with SSE instead of choosing JSON when possible.
    #[arg(long)]
    sse: bool,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("echo_server", "info");
    let router = mcp_reference::echo::router();
    match args.http {
        Some(addr) => tokio::runtime::Runtime::new()?.block_on(http(addr, args.sse, router)),
        // One session is all this process does: on one thread, a call costs
        // no hand-off between threads (see `stdio::run`).
        None => mcp_sdk_server::stdio::run(router),
    }
}

/// Serves Streamable HTTP at `addr` on the multi-thread runtime: many
/// connections, served on every core.
async fn http(addr: SocketAddr, sse: bool, router: mcp_sdk_server::Router) -> std::io::Result<()> {
    let mut config = mcp_sdk_server::http::HttpConfig::default();
    if sse {
        config.response_mode = mcp_sdk_server::http::ResponseMode::Sse;
    }
    let service = mcp_sdk_server::http::StreamableHttpService::new(router, config);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    status(
        Level::INFO,
        format_args!(
            "echo_server: serving MCP at http://{}/mcp",
            listener.local_addr()?
        ),
    );
    mcp_sdk_server::http::serve_listener(listener, "/mcp", service).await
}
