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
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::task_store::RedisTaskStore;
use mcp_sdk_server::{RequestContext, Structured};
use schemars::JsonSchema;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tracing::Level;

#[derive(Parser)]
struct Args {
    /// Serve Streamable HTTP at http://ADDR/mcp.
    #[arg(long, value_name = "ADDR")]
    http: SocketAddr,
    /// Share sessions, streams, tasks and list changes with the other
    /// replicas through the Redis at this URL.
    #[arg(long, value_name = "REDIS_URL")]
    redis_url: Option<String>,
    /// What the keys and the channel of this server's replicas in Redis
    /// begin with: the same on every replica of one server.
    #[arg(long, value_name = "PREFIX", default_value = "mcp:replica_server")]
    redis_prefix: String,
    /// How long a task's lease lasts in Redis, in milliseconds: a task
    /// whose replica stops is marked failed this long after.
    #[arg(long, value_name = "MS", default_value_t = 15_000)]
    task_lease_ms: u64,
    #[command(flatten)]
    request_state: mcp_reference::request_state::RequestStateArgs,
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
    let mut session = args
        .request_state
        .session_config()
        .unwrap_or_else(|e| exit(e));
    let mut config = mcp_sdk_server::http::HttpConfig::default();
    if let Some(url) = &args.redis_url {
        if args.request_state.request_state_key_file.is_none()
            && std::env::var_os(mcp_reference::request_state::ENV).is_none()
        {
            exit(format_args!(
                "replicas sharing Redis need one requestState key: give each the same \
                 --request-state-key-file or {}",
                mcp_reference::request_state::ENV
            ));
        }
        let prefix = &args.redis_prefix;
        let tasks = RedisTaskStore::connect(url, &format!("{prefix}:tasks"))
            .await
            .unwrap_or_else(|e| exit(e))
            .with_lease(Duration::from_millis(args.task_lease_ms));
        session.tasks.store = Arc::new(tasks);
        // Sessions, streams, forwarding and list changes all travel
        // through the replicas' own bus.
        config.replicas = Some(
            Replicas::redis(url, prefix)
                .await
                .unwrap_or_else(|e| exit(e)),
        );
    }
    config.session = session;
    let service = mcp_sdk_server::http::StreamableHttpService::new(router(), config);
    service.check_replicas().await.unwrap_or_else(|e| exit(e));
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
