//! The flags of a server that may run as one of several replicas sharing
//! Redis behind a load balancer (the conformance server and
//! `replica_server`), and the HTTP settings they give: one place for the
//! checks and the wiring, so that the servers cannot drift apart.
//!
//! The gateway (`session_manager`) keeps its own flags: its Redis settings
//! may also come from its config file.

use crate::request_state::{RequestStateArgs, ENV};
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::task_store::RedisTaskStore;
use std::sync::Arc;
use std::time::Duration;

/// `--redis-url`, `--redis-prefix`, `--task-lease-ms` and
/// `--request-state-key-file`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplicaArgs {
    /// Join the other replicas through the Redis at this URL: sessions
    /// opened on one replica are served by all, list changes and resource
    /// updates announced on one reach the streams of all, and tasks are
    /// kept there (HTTP only).
    #[arg(long, value_name = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// What the keys and the channel of this server's replicas in Redis
    /// begin with: the same on every replica of one server, another for
    /// another server (`--redis-channel` is its older name).
    #[arg(
        long,
        visible_alias = "redis-channel",
        value_name = "PREFIX",
        requires = "redis_url"
    )]
    pub redis_prefix: Option<String>,
    /// How long a task's lease lasts in Redis, in milliseconds: a task
    /// whose replica stops is marked failed this long after.
    #[arg(long, value_name = "MS", default_value_t = 15_000)]
    pub task_lease_ms: u64,
    #[command(flatten)]
    pub request_state: RequestStateArgs,
}

impl ReplicaArgs {
    /// The HTTP settings: the shared `requestState` key when one is given,
    /// and with `--redis-url` the sessions, streams, bus and tasks in Redis
    /// under `--redis-prefix` (else `default_prefix`).
    ///
    /// Fails, with a message for the operator, when the key file is bad,
    /// when replicas are asked for without a shared key (each process's own
    /// key would refuse every stateless retry that reaches another
    /// replica), or when Redis is unreachable (naming `REDIS_URL`, its
    /// password masked).
    pub async fn http_config(&self, default_prefix: &str) -> Result<HttpConfig, String> {
        let mut session = self.request_state.session_config()?;
        let mut config = HttpConfig::default();
        if let Some(url) = &self.redis_url {
            if self.request_state.request_state_key_file.is_none()
                && std::env::var_os(ENV).is_none()
            {
                return Err(format!(
                    "replicas sharing Redis need one requestState key: give each the same \
                     --request-state-key-file or {ENV}"
                ));
            }
            let prefix = self.redis_prefix.as_deref().unwrap_or(default_prefix);
            let tasks = RedisTaskStore::connect(url, &format!("{prefix}:tasks"))
                .await
                .map_err(|e| e.to_string())?
                .with_lease(Duration::from_millis(self.task_lease_ms));
            session.tasks.store = Arc::new(tasks);
            // Sessions, streams, forwarding and list changes all travel
            // through the replicas' own bus.
            config.replicas = Some(
                Replicas::redis(url, prefix)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        config.session = session;
        Ok(config)
    }

    /// Checks that `service` may join the replicas already sharing its
    /// store (the same `requestState` key); the error names where this
    /// replica's key came from, never the key.
    pub async fn check(&self, service: &StreamableHttpService) -> Result<(), String> {
        service.check_replicas().await.map_err(|e| {
            let source = match &self.request_state.request_state_key_file {
                Some(path) => format!("--request-state-key-file {}", path.display()),
                None => ENV.to_owned(),
            };
            format!("{e} (this replica's key: {source})")
        })
    }
}
