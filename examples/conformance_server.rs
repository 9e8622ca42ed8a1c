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
use mcp_reference::request_state::RequestStateArgs;
use mcp_reference::status;
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::task_store::RedisTaskStore;
use std::net::SocketAddr;
use std::sync::Arc;
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
    /// Join the other replicas through the Redis at this URL: sessions
    /// opened on one replica are served by all, list changes and resource
    /// updates announced on one replica reach the `subscriptions/listen`
    /// streams of all, and tasks are kept there (HTTP only).
    #[arg(long, value_name = "REDIS_URL", requires = "http")]
    redis_url: Option<String>,
    /// How long a task's lease lasts in Redis, in milliseconds: a task
    /// whose replica stops is marked failed this long after.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 15_000,
        requires = "redis_url"
    )]
    task_lease_ms: u64,
    /// The Redis channel the replicas share; the keys of their sessions and
    /// tasks begin with it too.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "mcp:conformance_server:changes"
    )]
    redis_channel: String,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("conformance_server", "info");
    let router = mcp_reference::conformance::router();
    match args.http {
        Some(addr) => {
            let mut session = args.request_state.session_config().unwrap_or_else(|e| {
                status(Level::ERROR, format_args!("conformance_server: {e}"));
                std::process::exit(2);
            });
            if let Some(url) = &args.redis_url {
                let store = RedisTaskStore::connect(url, &format!("{}:tasks", args.redis_channel))
                    .await
                    .unwrap_or_else(|e| {
                        status(Level::ERROR, format_args!("conformance_server: {e}"));
                        std::process::exit(2);
                    })
                    .with_lease(std::time::Duration::from_millis(args.task_lease_ms));
                session.tasks.store = Arc::new(store);
            }
            let mut config = mcp_sdk_server::http::HttpConfig {
                session,
                ..Default::default()
            };
            if let Some(url) = &args.redis_url {
                let replicas = Replicas::redis(url, &args.redis_channel)
                    .await
                    .unwrap_or_else(|e| {
                        status(Level::ERROR, format_args!("conformance_server: {e}"));
                        std::process::exit(2);
                    });
                config.replicas = Some(replicas);
            }
            // With replicas, changes travel on their bus too.
            let service = mcp_sdk_server::http::StreamableHttpService::new(router, config);
            if let Err(e) = service.check_replicas().await {
                let source = match &args.request_state.request_state_key_file {
                    Some(path) => format!("--request-state-key-file {}", path.display()),
                    None => mcp_reference::request_state::ENV.to_owned(),
                };
                status(
                    Level::ERROR,
                    format_args!("conformance_server: {e} (this replica's key: {source})"),
                );
                std::process::exit(2);
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
