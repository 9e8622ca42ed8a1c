//! A replica for the fault tests of replicas sharing Redis
//! (tests/replica_faults.rs) and the load example (`replica_load`): the
//! conformance server's tools, plus `add` (the tools server's, which the
//! load checks) and `notify_later` (a log message on the session's
//! standalone stream after the answer, from whichever replica answered).
//!
//! ```text
//! cargo run --example replica_server -- --http 127.0.0.1:3000 \
//!     --redis-url redis://127.0.0.1:6379 --redis-prefix my-test
//! ```
//!
//! Without `--redis-url` it keeps everything in its own memory (one
//! replica). With it, the replicas with the same `--redis-prefix` share
//! their sessions, standalone streams, tasks and list changes, as the
//! conformance server's do.

use clap::Parser;
use mcp_reference::servers::tools::calculator;
use mcp_reference::status;
use mcp_sdk::{LoggingLevel, Tool};
use mcp_sdk_server::{RequestContext, Structured};
use schemars::JsonSchema;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;
use tracing::Level;

#[derive(Parser)]
struct Args {
    /// Serve Streamable HTTP at http://ADDR/mcp.
    #[arg(long, value_name = "ADDR")]
    http: SocketAddr,
    #[command(flatten)]
    replicas: mcp_reference::replica_args::ReplicaArgs,
}

#[derive(Deserialize, JsonSchema)]
struct Label {
    /// What the message says.
    label: String,
}

/// How long `notify_later` waits after its answer: the request's stream
/// has ended by then, so the message takes the session's standalone
/// stream (a message sent while the request is open travels with it).
const LATER: Duration = Duration::from_millis(100);

fn router() -> mcp_sdk_server::Router {
    mcp_reference::conformance::router()
        .tool(
            Tool::named("add", "Adds two numbers: a + b"),
            |o: calculator::Operands| async move { calculator::add(&o.a, &o.b).map(Structured) },
        )
        .tool(
            Tool::named(
                "notify_later",
                "Answers at once, then logs `label` on the session's standalone stream",
            ),
            |l: Label, ctx: RequestContext| async move {
                let peer = ctx.peer().clone();
                tokio::spawn(async move {
                    tokio::time::sleep(LATER).await;
                    let data = serde_json::Value::String(l.label);
                    if let Err(e) = peer.log(LoggingLevel::Info, Some("later"), data).await {
                        tracing::warn!(error = %e, "notify_later: the message was not sent");
                    }
                });
                "queued"
            },
        )
}

fn exit(e: impl std::fmt::Display) -> ! {
    status(Level::ERROR, format_args!("replica_server: {e}"));
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    // Warnings only by default: under load a line per request would cost.
    mcp_reference::init_logging("warn");
    let config = args
        .replicas
        .http_config("mcp:replica_server")
        .await
        .unwrap_or_else(|e| exit(e));
    let service = mcp_sdk_server::http::StreamableHttpService::new(router(), config);
    args.replicas
        .check(&service)
        .await
        .unwrap_or_else(|e| exit(e));
    let listener = tokio::net::TcpListener::bind(args.http).await?;
    status(
        Level::INFO,
        format_args!(
            "replica_server: serving MCP at http://{}/mcp",
            listener.local_addr()?
        ),
    );
    mcp_sdk_server::http::serve_listener(listener, "/mcp", service).await
}
