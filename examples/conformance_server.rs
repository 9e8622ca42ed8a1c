//! The server the official MCP conformance suite runs against.
//!
//! ```text
//! cargo run --release --example conformance_server -- --http 127.0.0.1:3000   # http://127.0.0.1:3000/mcp
//! cargo run --release --example conformance_server -- --stdio
//! ```
//!
//! Replicas behind a load balancer share `--request-state-key-file` and
//! `--redis-url`: the sessions of the session era, the events of their
//! standalone streams, list changes and resource updates for
//! `subscriptions/listen`, and the tasks of the tasks extension
//! (2026-07-28), so any replica answers for them.

use clap::Parser;
use mcp_reference::replica_args::ReplicaArgs;
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
    replicas: ReplicaArgs,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("conformance_server", "info");
    let router = mcp_reference::conformance::router();
    if args.http.is_none() && args.replicas.redis_url.is_some() {
        status(
            Level::ERROR,
            format_args!("conformance_server: replicas serve HTTP; give --http with --redis-url"),
        );
        std::process::exit(2);
    }
    match args.http {
        Some(addr) => {
            let fail = |e: String| -> ! {
                status(Level::ERROR, format_args!("conformance_server: {e}"));
                std::process::exit(2);
            };
            let config = args
                .replicas
                .http_config("mcp:conformance_server:changes")
                .await
                .unwrap_or_else(|e| fail(e));
            // With replicas, changes travel on their bus too.
            let service = mcp_sdk_server::http::StreamableHttpService::new(router, config);
            if let Err(e) = args.replicas.check(&service).await {
                fail(e);
            }
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
