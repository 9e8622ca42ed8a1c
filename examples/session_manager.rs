//! The session manager (the MCP gateway): see `--help`.

use clap::builder::TypedValueParser as _;
use clap::Parser;
use mcp_reference::gateway::{self, config::GatewayConfig, replicas::GatewayReplicas, Gateway};
use mcp_reference::servers::{resource_server, ServerSpec, TransportArgs};
use mcp_reference::status;
use mcp_sdk_server::http::HttpConfig;
use mcp_sdk_server::task_store::RedisTaskStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::Level;

/// One MCP endpoint in front of several MCP servers.
#[derive(Parser)]
#[command(
    name = "session_manager",
    version,
    long_about = "The session manager: one MCP endpoint in front of several MCP servers (by default \
the seven reference servers), speaking both protocol eras on each side.\n\n\
Tools and prompts of every server appear in one list, named <server>__<name>; resources keep \
their URIs and are read from the server that listed them. Sampling, roots and elicitation \
asked by a server go to the client whose call caused them, with its progress and log messages; \
a cancelled call is cancelled at the server, and one past the call timeout (call_timeout_secs) \
fails naming the server. Resource subscriptions are taken at the server that owns the URI. A \
server that is down gives an error naming it while the others work; the gateway reconnects with \
backoff.\n\n\
Servers come from --config FILE (TOML: [[server]] entries with name and url, or command, args, \
env; an optional [auth] table with issuer, audience and scopes protects the gateway as the \
--auth-* flags do; an optional [replicas] table with redis_url and prefix as --redis-url does), \
else from SERVER_1_URL ... SERVER_7_URL (resources, sampling, tools, database, internet, \
roots, prompts; default http://localhost:5001 ... 5007, /mcp added to a URL without a path).\n\n\
Serves Streamable HTTP at http://ADDR/mcp (default 127.0.0.1:$PORT or 5000) with GET /health \
reporting each server's state, or one session on stdio (--stdio).\n\n\
With --redis-url the gateway is one of several replicas behind a load balancer (round-robin, no \
stickiness): the sessions, the events of their GET streams, the resource subscriptions and the \
gateway's tasks are kept in Redis, so any replica answers any request of any session. Every \
replica needs the same --request-state-key-file (or MCP_REQUEST_STATE_KEY) and --redis-prefix."
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    /// A TOML file naming the downstream servers.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Close an HTTP session unused for this many minutes (no request, and
    /// no stream open: a client holding its GET stream is using it); its
    /// calls in flight are cancelled downstream.
    #[arg(long, value_name = "MINUTES", default_value_t = 30.0)]
    session_idle_minutes: f64,
    /// Run as one of several replicas sharing the Redis at this URL
    /// (`redis://host:port`): sessions opened on one replica are served by
    /// all, and so are their subscriptions and tasks (HTTP only).
    #[arg(long, value_name = "REDIS_URL", conflicts_with = "stdio")]
    redis_url: Option<String>,
    /// The beginning of the keys and channels the replicas share in Redis:
    /// the same on every replica of one gateway
    /// [default: mcp:session_manager].
    #[arg(long, value_name = "NAME", requires = "redis_url")]
    redis_prefix: Option<String>,
    /// How long a task's lease lasts in Redis, in milliseconds: a task of
    /// the gateway's whose replica stops is marked failed this long after.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 15_000,
        requires = "redis_url"
    )]
    task_lease_ms: u64,
    /// How many resources one session may be subscribed to through the
    /// gateway at once (across replicas); one more is refused with an
    /// error naming this limit.
    #[arg(
        long,
        value_name = "N",
        default_value_t = gateway::config::DEFAULT_MAX_SUBSCRIPTIONS,
        value_parser = clap::value_parser!(u32).range(1..=100_000).map(|n| n as usize)
    )]
    max_subscriptions_per_session: usize,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

/// Stops with `why`, as every refusal at the start does.
fn fail(why: &str) -> ! {
    status(Level::ERROR, format_args!("session_manager: {why}"));
    std::process::exit(2);
}

fn spec() -> ServerSpec {
    ServerSpec {
        id: "0",
        name: "session_manager",
        default_port: 5000,
        capabilities: &["gateway"],
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("session_manager", "info");
    let config = match &args.config {
        Some(path) => GatewayConfig::from_file(path),
        None => GatewayConfig::from_env(),
    };
    let mut config = config.unwrap_or_else(|e| {
        status(Level::ERROR, format_args!("session_manager: {e}"));
        std::process::exit(2);
    });
    config.max_subscriptions = args.max_subscriptions_per_session;
    let idle = Duration::try_from_secs_f64(args.session_idle_minutes * 60.0)
        .ok()
        .filter(|d| !d.is_zero())
        .unwrap_or_else(|| {
            status(
                Level::ERROR,
                format_args!("session_manager: --session-idle-minutes must be a positive number"),
            );
            std::process::exit(2);
        });
    let mut session = args
        .transport
        .request_state
        .session_config()
        .unwrap_or_else(|e| {
            status(Level::ERROR, format_args!("session_manager: {e}"));
            std::process::exit(2);
        });
    let replicas = match (&config.replicas, &args.redis_url) {
        (Some(_), Some(_)) => fail(
            "the config file's [replicas] and --redis-url both name the Redis the replicas share; give one",
        ),
        (Some(file), None) => Some(file.clone()),
        (None, Some(url)) => {
            let prefix = args
                .redis_prefix
                .clone()
                .unwrap_or_else(|| gateway::config::DEFAULT_REDIS_PREFIX.to_owned());
            if let Err(why) = gateway::config::check_prefix(&prefix) {
                fail(&format!("--redis-prefix: {why}"));
            }
            Some(gateway::config::ReplicaSettings {
                redis_url: url.clone(),
                prefix,
            })
        }
        (None, None) => None,
    };
    if replicas.is_some() && args.transport.stdio {
        fail("replicas serve HTTP; a stdio session is one process's");
    }
    if replicas.is_some() && !matches!(args.transport.request_state.key(), Ok(Some(_))) {
        // A key of each process's own would refuse every stateless retry
        // that reaches another replica.
        fail(
            "replicas need the requestState key they share: give --request-state-key-file or set MCP_REQUEST_STATE_KEY",
        );
    }
    if config.auth.is_some() && args.transport.auth_issuer.is_some() {
        status(
            Level::ERROR,
            format_args!(
                "session_manager: the config file's [auth] and --auth-issuer both protect the gateway; give one"
            ),
        );
        std::process::exit(2);
    }
    if config.auth.is_some() && args.transport.stdio {
        status(
            Level::ERROR,
            format_args!(
                "session_manager: the config file's [auth] protects HTTP; a stdio session has no tokens to check"
            ),
        );
        std::process::exit(2);
    }
    if args.transport.stdio {
        return mcp_sdk_server::stdio::serve(Gateway::start(config).await).await;
    }
    // Bound and announced before the downstream servers are reached, so the
    // address is the first thing said (connections wait in the backlog).
    let addr = args.transport.http_addr(&spec());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    status(
        Level::INFO,
        format_args!(
            "session_manager: serving MCP at http://{}/mcp",
            listener.local_addr()?
        ),
    );
    // With --auth-issuer (or the file's [auth]) the gateway checks its
    // callers' tokens itself; it never forwards them (downstream it uses
    // its own credentials).
    let addr = listener.local_addr()?;
    let auth = match &config.auth {
        Some(auth) => Some(resource_server(
            &auth.issuer,
            auth.audience.as_deref(),
            &auth.scopes,
            addr,
        )?),
        None => args.transport.resource_server(addr)?,
    };
    let mut http_replicas = None;
    let gateway = match replicas {
        Some(settings) => {
            let shared = GatewayReplicas::connect(&settings.redis_url, &settings.prefix)
                .await
                .unwrap_or_else(|e| fail(&e))
                .with_session_idle(idle);
            let tasks =
                RedisTaskStore::connect(&settings.redis_url, &format!("{}:tasks", settings.prefix))
                    .await
                    .unwrap_or_else(|e| fail(&e.to_string()))
                    .with_lease(Duration::from_millis(args.task_lease_ms));
            session.tasks.store = Arc::new(tasks);
            http_replicas = Some(shared.sdk());
            status(
                Level::INFO,
                format_args!(
                    "session_manager: a replica sharing Redis under {:?}",
                    settings.prefix
                ),
            );
            Gateway::start_replica(config, Arc::new(shared)).await
        }
        None => Gateway::start(config).await,
    };
    let http = HttpConfig {
        auth,
        session_idle_timeout: idle,
        session,
        replicas: http_replicas,
        ..Default::default()
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    gateway::serve(gateway, listener, http, shutdown).await
}
