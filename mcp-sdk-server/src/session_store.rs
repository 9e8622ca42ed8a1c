//! What a session of the session era keeps across requests, so that any
//! replica of a server can answer any request of it: the negotiated
//! protocol version, the client's info and capabilities, its log level, the
//! principal it belongs to, and when it expires.
//!
//! A server of one process needs no store: its HTTP transport keeps its
//! sessions in memory (the default). Replicas share one through
//! [`Replicas`](crate::replicas::Replicas): [`InMemorySessionStore`] joins
//! services of one process (tests), `RedisSessionStore` (crate feature
//! `redis`) joins processes. Idle expiry is the store's: a Redis key's TTL
//! runs once, not once per replica.

use crate::client_info::ClientInfo;
use async_trait::async_trait;
use mcp_sdk::{ClientCapabilities, Implementation, LoggingLevel, ProtocolVersion};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest session record a store keeps, in bytes (the client's info
/// and capabilities, as JSON). A client whose `initialize` describes itself
/// at more length is refused: a shared store holds no unbounded record.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// What a session keeps across requests.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// What the client said in `initialize`, and the revision negotiated.
    pub client: ClientInfo,
    /// The level the client set with `logging/setLevel`, if it set one.
    pub log_level: Option<LoggingLevel>,
    /// Who opened the session, on a protected server: only they may use it.
    pub owner: Option<String>,
    /// When the session opened, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// Its `resources/subscribe` subscriptions: each URI as the client
    /// wrote it, with the key the server announces its updates under.
    pub subscriptions: Vec<(String, String)>,
}

/// The most subscriptions a shared session keeps (as
/// [`MAX_SUBSCRIPTIONS_PER_SESSION`](crate::router::MAX_SUBSCRIPTIONS_PER_SESSION)
/// in one process).
pub const MAX_SHARED_SUBSCRIPTIONS: usize = 1_000;

/// The longest URI (or key) of a shared subscription, in bytes: with
/// [`MAX_SHARED_SUBSCRIPTIONS`], a bound on what one session keeps.
pub const MAX_SUBSCRIPTION_URI_BYTES: usize = 4096;

/// A shared store failed (Redis unreachable, say). Its message never holds
/// a password or a token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreError(pub String);

/// Where the sessions of a server's replicas are kept. Every method is one
/// round trip at most to a remote store.
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug + 'static {
    /// Keeps `record` under `id`; it expires when unused for `idle`.
    async fn create(
        &self,
        id: &str,
        record: &SessionRecord,
        idle: Duration,
    ) -> Result<(), StoreError>;

    /// The session `id`, if it exists and has not expired.
    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// Marks the session used: its idle expiry starts again, at `idle`.
    /// `false` when it no longer exists.
    async fn touch(&self, id: &str, idle: Duration) -> Result<bool, StoreError>;

    /// Records the client's `logging/setLevel`.
    async fn set_log_level(&self, id: &str, level: LoggingLevel) -> Result<(), StoreError>;

    /// Forgets the session; `false` when it did not exist.
    async fn remove(&self, id: &str) -> Result<bool, StoreError>;

    /// Records that the session subscribed to `uri`, whose updates are
    /// announced under `key`. `false` when the session no longer exists;
    /// an error when it holds [`MAX_SHARED_SUBSCRIPTIONS`] already.
    async fn subscribe(&self, id: &str, uri: &str, key: &str) -> Result<bool, StoreError>;

    /// Forgets the session's subscriptions to `uris`.
    async fn unsubscribe(&self, id: &str, uris: &[String]) -> Result<(), StoreError>;

    /// Keeps `value` under `name` for `ttl` unless another value is kept
    /// there; gives back the value kept now, so each replica learns whether
    /// it agrees with the others (the check of the `requestState` key).
    async fn agree(&self, name: &str, value: &str, ttl: Duration) -> Result<String, StoreError>;
}

/// The error for a session that holds the most subscriptions already.
fn too_many_subscriptions() -> StoreError {
    StoreError(format!(
        "this session holds {MAX_SHARED_SUBSCRIPTIONS} subscriptions, the most a session may; \
         unsubscribe from some first"
    ))
}

/// A record as JSON, the form it has in a remote store.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    protocol_version: String,
    capabilities: ClientCapabilities,
    client_info: Implementation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    created_unix_ms: u64,
}

impl SessionRecord {
    /// The record as JSON (without its log level, kept apart because it
    /// changes), or why it cannot be kept.
    pub(crate) fn encode(&self) -> Result<String, StoreError> {
        let stored = Stored {
            protocol_version: self.client.protocol_version.as_str().to_owned(),
            capabilities: self.client.capabilities.clone(),
            client_info: self.client.implementation.clone(),
            owner: self.owner.clone(),
            created_unix_ms: self.created_unix_ms,
        };
        let json = serde_json::to_string(&stored).map_err(|e| StoreError(e.to_string()))?;
        if json.len() > MAX_RECORD_BYTES {
            return Err(StoreError(format!(
                "the client's info and capabilities take {} bytes; a shared session keeps at most {MAX_RECORD_BYTES}",
                json.len()
            )));
        }
        Ok(json)
    }

    /// The record `json` holds, with `log_level`.
    #[cfg_attr(not(any(feature = "redis", test)), allow(dead_code))]
    pub(crate) fn decode(json: &str, log_level: Option<&str>) -> Result<Self, StoreError> {
        if json.len() > MAX_RECORD_BYTES {
            return Err(StoreError("a session record over the size bound".into()));
        }
        let stored: Stored = serde_json::from_str(json)
            .map_err(|e| StoreError(format!("a session record that does not decode: {e}")))?;
        let protocol_version: ProtocolVersion = stored
            .protocol_version
            .parse()
            .map_err(|_| StoreError("a session record of an unknown protocol version".into()))?;
        Ok(SessionRecord {
            client: ClientInfo {
                protocol_version,
                capabilities: stored.capabilities,
                implementation: stored.client_info,
            },
            log_level: log_level.and_then(|l| l.parse().ok()),
            owner: stored.owner,
            created_unix_ms: stored.created_unix_ms,
            subscriptions: Vec::new(),
        })
    }
}

/// Sessions in this process's memory, shared by the services that hold
/// clones of one store (several replicas in one process, tests). Expired
/// records go when next looked at.
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    sessions: Mutex<HashMap<String, (SessionRecord, Instant)>>,
    agreed: Mutex<HashMap<String, (String, Instant)>>,
}

#[async_trait]
impl SessionStore for InMemorySessionStore {
    async fn create(
        &self,
        id: &str,
        record: &SessionRecord,
        idle: Duration,
    ) -> Result<(), StoreError> {
        record.encode()?;
        let mut sessions = crate::util::lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, (_, expires)| *expires > now);
        sessions.insert(id.to_owned(), (record.clone(), now + idle));
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sessions = crate::util::lock(&self.sessions);
        Ok(sessions
            .get(id)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(record, _)| record.clone()))
    }

    async fn touch(&self, id: &str, idle: Duration) -> Result<bool, StoreError> {
        let mut sessions = crate::util::lock(&self.sessions);
        let now = Instant::now();
        match sessions.get_mut(id).filter(|(_, expires)| *expires > now) {
            Some((_, expires)) => {
                *expires = now + idle;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn set_log_level(&self, id: &str, level: LoggingLevel) -> Result<(), StoreError> {
        if let Some((record, _)) = crate::util::lock(&self.sessions).get_mut(id) {
            record.log_level = Some(level);
        }
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        Ok(crate::util::lock(&self.sessions).remove(id).is_some())
    }

    async fn subscribe(&self, id: &str, uri: &str, key: &str) -> Result<bool, StoreError> {
        let mut sessions = crate::util::lock(&self.sessions);
        let Some((record, _)) = sessions.get_mut(id) else {
            return Ok(false);
        };
        let subs = &mut record.subscriptions;
        if let Some(i) = subs.iter().position(|(u, _)| u == uri) {
            subs[i].1 = key.to_owned();
        } else if subs.len() >= MAX_SHARED_SUBSCRIPTIONS {
            return Err(too_many_subscriptions());
        } else {
            subs.push((uri.to_owned(), key.to_owned()));
        }
        Ok(true)
    }

    async fn unsubscribe(&self, id: &str, uris: &[String]) -> Result<(), StoreError> {
        if let Some((record, _)) = crate::util::lock(&self.sessions).get_mut(id) {
            record.subscriptions.retain(|(u, _)| !uris.contains(u));
        }
        Ok(())
    }

    async fn agree(&self, name: &str, value: &str, ttl: Duration) -> Result<String, StoreError> {
        let mut agreed = crate::util::lock(&self.agreed);
        let now = Instant::now();
        agreed.retain(|_, (_, expires)| *expires > now);
        match agreed.get(name) {
            Some((kept, _)) if kept != value => Ok(kept.clone()),
            _ => {
                agreed.insert(name.to_owned(), (value.to_owned(), now + ttl));
                Ok(value.to_owned())
            }
        }
    }
}

#[cfg(feature = "redis")]
pub use redis_store::RedisSessionStore;

#[cfg(feature = "redis")]
mod redis_store {
    use super::{
        too_many_subscriptions, SessionRecord, SessionStore, StoreError, MAX_SHARED_SUBSCRIPTIONS,
    };
    use async_trait::async_trait;
    use mcp_sdk::LoggingLevel;
    use redis::aio::ConnectionManager;
    use std::time::Duration;

    /// Sessions in Redis: one hash per session (`{prefix}:session:{id}`,
    /// fields `record`, `level` and `sub:{uri}` for each subscription,
    /// whose value is its key), whose TTL is the idle timeout, so Redis
    /// expires idle sessions once for every replica.
    #[derive(Clone)]
    pub struct RedisSessionStore {
        redis: ConnectionManager,
        prefix: String,
    }

    impl std::fmt::Debug for RedisSessionStore {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("RedisSessionStore")
                .field("prefix", &self.prefix)
                .finish()
        }
    }

    impl RedisSessionStore {
        /// A store on `redis` (a connection manager, which reconnects by
        /// itself), its keys beginning with `prefix`.
        pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
            RedisSessionStore {
                redis,
                prefix: prefix.to_owned(),
            }
        }

        fn key(&self, id: &str) -> String {
            format!("{}:session:{id}", self.prefix)
        }
    }

    fn failed(e: redis::RedisError) -> StoreError {
        StoreError(format!("Redis: {e}"))
    }

    fn millis(d: Duration) -> u64 {
        (d.as_millis() as u64).max(1)
    }

    #[async_trait]
    impl SessionStore for RedisSessionStore {
        async fn create(
            &self,
            id: &str,
            record: &SessionRecord,
            idle: Duration,
        ) -> Result<(), StoreError> {
            let json = record.encode()?;
            let key = self.key(id);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("HSET")
                .arg(&key)
                .arg("record")
                .arg(json)
                .ignore();
            if let Some(level) = record.log_level {
                pipe.cmd("HSET")
                    .arg(&key)
                    .arg("level")
                    .arg(level.as_str())
                    .ignore();
            }
            pipe.cmd("PEXPIRE").arg(&key).arg(millis(idle)).ignore();
            pipe.query_async::<()>(&mut self.redis.clone())
                .await
                .map_err(failed)
        }

        async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
            // Every field at once: the record, the level, the subscriptions
            // (at most MAX_SHARED_SUBSCRIPTIONS, so the answer is bounded).
            let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
                .arg(self.key(id))
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)?;
            let field = |name: &str| fields.get(name);
            let Some(json) = field("record") else {
                return Ok(None);
            };
            let mut record = SessionRecord::decode(json, field("level").map(String::as_str))?;
            record.subscriptions = fields
                .iter()
                .filter_map(|(f, key)| Some((f.strip_prefix("sub:")?.to_owned(), key.clone())))
                .collect();
            Ok(Some(record))
        }

        async fn touch(&self, id: &str, idle: Duration) -> Result<bool, StoreError> {
            let alive: i64 = redis::cmd("PEXPIRE")
                .arg(self.key(id))
                .arg(millis(idle))
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)?;
            Ok(alive == 1)
        }

        async fn set_log_level(&self, id: &str, level: LoggingLevel) -> Result<(), StoreError> {
            // Only on a session that exists: HSET on an expired key would
            // make a hash without a record and without a TTL.
            const SET_IF_EXISTS: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then \
                return redis.call('HSET', KEYS[1], 'level', ARGV[1]) end return 0";
            redis::cmd("EVAL")
                .arg(SET_IF_EXISTS)
                .arg(1)
                .arg(self.key(id))
                .arg(level.as_str())
                .query_async::<i64>(&mut self.redis.clone())
                .await
                .map(|_| ())
                .map_err(failed)
        }

        async fn remove(&self, id: &str) -> Result<bool, StoreError> {
            let removed: i64 = redis::cmd("DEL")
                .arg(self.key(id))
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)?;
            Ok(removed == 1)
        }

        async fn subscribe(&self, id: &str, uri: &str, key: &str) -> Result<bool, StoreError> {
            // Only on a session that exists, and within the bound (the
            // record and the level are two fields besides).
            const SUBSCRIBE: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
                if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 \
                   and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end \
                redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1";
            let done: i64 = redis::cmd("EVAL")
                .arg(SUBSCRIBE)
                .arg(1)
                .arg(self.key(id))
                .arg(format!("sub:{uri}"))
                .arg(key)
                .arg(MAX_SHARED_SUBSCRIPTIONS + 2)
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)?;
            match done {
                -1 => Err(too_many_subscriptions()),
                done => Ok(done == 1),
            }
        }

        async fn unsubscribe(&self, id: &str, uris: &[String]) -> Result<(), StoreError> {
            if uris.is_empty() {
                return Ok(());
            }
            let mut cmd = redis::cmd("HDEL");
            cmd.arg(self.key(id));
            for uri in uris {
                cmd.arg(format!("sub:{uri}"));
            }
            cmd.query_async::<i64>(&mut self.redis.clone())
                .await
                .map(|_| ())
                .map_err(failed)
        }

        async fn agree(
            &self,
            name: &str,
            value: &str,
            ttl: Duration,
        ) -> Result<String, StoreError> {
            const AGREE: &str = "local kept = redis.call('GET', KEYS[1]) \
                if kept and kept ~= ARGV[1] then return kept end \
                redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1]";
            redis::cmd("EVAL")
                .arg(AGREE)
                .arg(1)
                .arg(format!("{}:agree:{name}", self.prefix))
                .arg(value)
                .arg(millis(ttl))
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SessionRecord {
        SessionRecord {
            client: ClientInfo {
                protocol_version: ProtocolVersion::V2025_06_18,
                capabilities: ClientCapabilities::default(),
                implementation: Implementation::new("test-client", "1.0"),
            },
            log_level: None,
            owner: Some("alice".into()),
            created_unix_ms: 1,
            subscriptions: Vec::new(),
        }
    }

    #[test]
    fn a_record_survives_its_json_form() {
        let json = record().encode().unwrap();
        let back = SessionRecord::decode(&json, Some("warning")).unwrap();
        assert_eq!(back.client.protocol_version, ProtocolVersion::V2025_06_18);
        assert_eq!(back.client.implementation.name, "test-client");
        assert_eq!(back.owner.as_deref(), Some("alice"));
        assert_eq!(back.log_level, Some(LoggingLevel::Warning));
    }

    #[test]
    fn an_oversized_record_is_refused() {
        let mut big = record();
        big.client.implementation.name = "x".repeat(MAX_RECORD_BYTES);
        let error = big.encode().unwrap_err().to_string();
        assert!(error.contains("a shared session keeps at most"), "{error}");
    }

    #[tokio::test]
    async fn the_in_memory_store_expires_idle_sessions() {
        let store = InMemorySessionStore::default();
        store
            .create("a", &record(), Duration::from_millis(30))
            .await
            .unwrap();
        assert!(store.load("a").await.unwrap().is_some());
        store.set_log_level("a", LoggingLevel::Error).await.unwrap();
        let loaded = store.load("a").await.unwrap().unwrap();
        assert_eq!(loaded.log_level, Some(LoggingLevel::Error));
        std::thread::sleep(Duration::from_millis(40));
        assert!(store.load("a").await.unwrap().is_none());
        assert!(!store.touch("a", Duration::from_secs(1)).await.unwrap());
    }
}
