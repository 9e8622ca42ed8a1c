//! The server the official MCP conformance suite runs against.
//!
//! ```text
//! cargo run --release --example conformance_server -- --http 127.0.0.1:3000   # http://127.0.0.1:3000/mcp
//! cargo run --release --example conformance_server -- --stdio
//! ```

use clap::Parser;
use mcp_reference::request_state::RequestStateArgs;
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
    #[command(flatten)]
    request_state: RequestStateArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    mcp_reference::init_tracing();
    let args = Args::parse();
    let router = mcp_reference::conformance::router();
    match args.http {
        Some(addr) => {
            let session = args.request_state.session_config().unwrap_or_else(|e| {
                status(Level::ERROR, format_args!("conformance_server: {e}"));
                std::process::exit(2);
            });
            let config = mcp_sdk_server::http::HttpConfig {
                session,
                ..Default::default()
            };
            let service = mcp_sdk_server::http::StreamableHttpService::new(router, config);
            let listener = tokio::net::TcpListener::bind(addr).await?;
            status(
                Level::INFO,
                format_args!(
                    "conformance_server: serving MCP at http://{}/mcp",
                    listener.local_addr()?
                ),
            );
            mcp_sdk_server::http::serve_listener(listener, "/mcp", service).await
        }
        None => mcp_sdk_server::stdio::serve(router).await,
    }
}
