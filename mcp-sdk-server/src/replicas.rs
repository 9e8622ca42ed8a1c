//! What the replicas of one server share so that any of them answers any
//! request of any session (the session era), behind a load balancer with
//! no stickiness: the sessions, the events of their standalone streams, and
//! a bus between the replicas. Set it on the HTTP transport in one line:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
//! # #[cfg(feature = "redis")]
//! let config = HttpConfig {
//!     replicas: Some(mcp_sdk_server::replicas::Replicas::redis("redis://127.0.0.1:6379", "my-server").await?),
//!     ..HttpConfig::default()
//! };
//! # Ok(()) }
//! ```
//!
//! Without it (the default) a session lives in the process that answered
//! its `initialize`, as it must for a single process; nothing changes on
//! that path.

use crate::bus::{InMemoryBus, MessageBus};
use crate::event_store::{EventStore, InMemoryEventStore};
use crate::session_store::{InMemorySessionStore, SessionStore, StoreError};
use std::sync::Arc;

/// The stores and the bus replicas share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Replicas {
    /// The sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The events of the sessions' standalone streams.
    pub events: Arc<dyn EventStore>,
    /// Between the replicas: the client's answers to requests a handler on
    /// another replica sent, cancellations, closed sessions, and the news
    /// that a stream has new events. Best effort: what it loses, the
    /// replicas find out from the stores (a closed session at its next
    /// touch, new events at the reader's next poll); only a lost answer is
    /// lost (its request times out).
    pub bus: Arc<dyn MessageBus>,
}

impl Replicas {
    /// Stores and a bus in this process's memory: services built with
    /// clones of it act as replicas of one server (tests, or several
    /// listeners in one process).
    pub fn in_memory() -> Self {
        Replicas {
            sessions: Arc::new(InMemorySessionStore::default()),
            events: Arc::new(InMemoryEventStore::default()),
            bus: Arc::new(InMemoryBus::default()),
        }
    }

    /// Stores and a bus in the Redis at `url`, under keys and a channel
    /// beginning with `prefix` (the same on every replica of one server,
    /// and another for another server). One connection manager (which
    /// reconnects by itself) carries the stores, and the bus has its own
    /// subscription. Fails at once, naming `REDIS_URL` (its password
    /// masked), when Redis is unreachable.
    #[cfg(feature = "redis")]
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, crate::bus::RedisBusError> {
        use crate::bus::RedisBus;
        use crate::event_store::{RedisEventStore, DEFAULT_KEEP_EVENTS, DEFAULT_MAX_AGE};
        use crate::session_store::RedisSessionStore;
        let bus = RedisBus::connect(url, &format!("{prefix}:sessions")).await?;
        let redis = bus.connection();
        Ok(Replicas {
            sessions: Arc::new(RedisSessionStore::new(redis.clone(), prefix)),
            events: Arc::new(RedisEventStore::new(
                redis,
                prefix,
                DEFAULT_KEEP_EVENTS,
                DEFAULT_MAX_AGE,
            )),
            bus: Arc::new(bus),
        })
    }
}

/// Why a replica cannot join the others
/// ([`StreamableHttpService::check_replicas`](crate::http::StreamableHttpService::check_replicas)).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReplicaMismatch {
    /// Its `requestState` key is not the one the replicas already running
    /// use: the retries of multi round-trip requests would fail between them.
    #[error(
        "this replica's requestState key differs from the key of the replicas already \
         sharing this store (their check value in it is another): give every replica the \
         same requestState secret; a key changed on all of them is accepted {ttl_secs}s after \
         the last replica with the old key stopped"
    )]
    RequestStateKey {
        /// How long the others' check value outlives them, in seconds.
        ttl_secs: u64,
    },
    /// The shared store could not be asked.
    #[error("cannot check the requestState key with the other replicas: {0}")]
    Store(#[from] StoreError),
}
