//! The settings of a server's sessions and requests: limits, timeouts, the
//! key that seals `requestState`, and the limits on tasks.

use crate::task_store::{InMemoryTaskStore, TaskStore};
use hmac::{Hmac, Mac};
use mcp_sdk::{CacheScope, ProtocolVersion};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Limits and timeouts of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How many requests of one session may run at once; more wait their turn.
    pub max_concurrent_requests: usize,
    /// How long a server-to-client request (sampling, roots, elicitation) may
    /// wait for the client's answer.
    pub peer_request_timeout: Duration,
    /// The revisions this server speaks: the session-era ones among them
    /// in `initialize`, the stateless ones (2026-07-28) per request. All of
    /// them by default.
    pub protocol_versions: Vec<ProtocolVersion>,
    /// Seals the `requestState` of multi round-trip requests (2026-07-28).
    /// Instances behind one load balancer need the same key; by default each
    /// process draws a random one.
    pub request_state_key: RequestStateKey,
    /// How long a `requestState` stays valid (default 10 minutes): the time a
    /// client has to answer the server's input requests.
    pub request_state_ttl: Duration,
    /// The `ttlMs` caching hint on list results, `resources/read` and
    /// `server/discover` when the handler gives none (default 0: re-fetch
    /// each time; list-changed notifications are the way to learn of changes).
    pub cache_ttl: Duration,
    /// The `cacheScope` caching hint when the handler gives none (default
    /// `private`: results may depend on who asks).
    pub cache_scope: CacheScope,
    /// Limits on each session's tasks (2025-11-25), for tools that may run
    /// as tasks.
    pub tasks: TaskConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_concurrent_requests: 64,
            peer_request_timeout: Duration::from_secs(300),
            protocol_versions: ProtocolVersion::ALL.to_vec(),
            request_state_key: RequestStateKey::random(),
            request_state_ttl: Duration::from_secs(600),
            cache_ttl: Duration::ZERO,
            cache_scope: CacheScope::Private,
            tasks: TaskConfig::default(),
        }
    }
}

/// Limits on the tasks of one session.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// The most tasks one session keeps (running or finished, until their
    /// ttl ends); a new task beyond is refused.
    pub max_tasks: usize,
    /// How long a task is kept after its creation when the client asks for
    /// no ttl.
    pub default_ttl: Duration,
    /// The longest ttl granted; longer requests are shortened to it.
    pub max_ttl: Duration,
    /// The polling interval suggested to clients.
    pub poll_interval: Duration,
    /// Tasks extension (2026-07-28): how long a stateless `tools/call` of a
    /// tool with task support runs before the client is answered with a
    /// task instead of waiting (a handler can ask sooner with
    /// `RequestContext::continue_as_task`).
    pub grace: Duration,
    /// Tasks extension: the most tasks the server keeps for one owner
    /// (stateless requests have no session to count them by): for each
    /// principal on a protected server, for everyone together otherwise.
    pub max_server_tasks: usize,
    /// The largest result (serialized JSON, in bytes) a task keeps; a task
    /// whose result is larger fails, saying so (default 4 MiB).
    pub max_result_bytes: usize,
    /// Where the tasks of the extension (2026-07-28) are kept: in this
    /// process by default; a store that replicas share (such as
    /// `task_store::RedisTaskStore`) lets any of them answer for a task.
    pub store: Arc<dyn TaskStore>,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            max_tasks: 64,
            default_ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_secs(1),
            grace: Duration::from_millis(200),
            max_server_tasks: 1024,
            max_result_bytes: 4 * 1024 * 1024,
            store: Arc::new(InMemoryTaskStore::default()),
        }
    }
}

/// The secret that seals `requestState`. Every server instance behind one
/// load balancer needs the same key, so that any of them can take a retry;
/// by default each process draws its own from the operating system's CSPRNG.
#[derive(Clone)]
pub struct RequestStateKey([u8; 32]);

impl RequestStateKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random number generator failed");
        RequestStateKey(key)
    }

    /// A key of your own, shared by the instances that serve one endpoint.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        RequestStateKey(key)
    }

    /// The key derived from a secret of your own, such as the contents of
    /// a file every replica reads (`openssl rand -hex 32` makes one): its
    /// SHA-256, so a secret of any form gives a full-size key. Surrounding
    /// whitespace (a file's final newline) is ignored. A secret shorter than
    /// [`MIN_SECRET_LEN`](Self::MIN_SECRET_LEN) bytes is refused: anyone who
    /// guessed it could forge the answers a client gave.
    pub fn from_secret(secret: &[u8]) -> Result<Self, WeakSecret> {
        let secret = secret.trim_ascii();
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(WeakSecret { len: secret.len() });
        }
        let mut hash = Sha256::new();
        hash.update(b"mcp-sdk requestState key\0");
        hash.update(secret);
        Ok(RequestStateKey(hash.finalize().into()))
    }

    /// The shortest secret [`from_secret`](Self::from_secret) takes, in bytes.
    pub const MIN_SECRET_LEN: usize = 32;

    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }

    /// What replicas compare to learn that they share this key without
    /// showing it: the HMAC of a fixed label under the key, in hex.
    pub(crate) fn check_value(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"mcp-sdk requestState key check v1");
        let tag = mac.finalize().into_bytes();
        tag.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Default for RequestStateKey {
    fn default() -> Self {
        Self::random()
    }
}

impl std::fmt::Debug for RequestStateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestStateKey(..)")
    }
}

/// A secret too short to derive a [`RequestStateKey`] from. Its message
/// gives the length, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakSecret {
    /// How many bytes the secret had (surrounding whitespace left out).
    pub len: usize,
}

impl std::fmt::Display for WeakSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the requestState secret has {} bytes; it needs at least {} (`openssl rand -hex 32` makes one)",
            self.len,
            RequestStateKey::MIN_SECRET_LEN
        )
    }
}

impl std::error::Error for WeakSecret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_secret_gives_the_same_key_and_a_short_one_is_refused() {
        let secret = b"0123456789abcdef0123456789abcdef\n";
        let a = RequestStateKey::from_secret(secret).unwrap();
        let b = RequestStateKey::from_secret(&secret[..32]).unwrap();
        assert_eq!(a.0, b.0, "the final newline is ignored");
        let other = RequestStateKey::from_secret(b"0123456789abcdef0123456789abcdeF").unwrap();
        assert_ne!(a.0, other.0);
        assert_eq!(
            RequestStateKey::from_secret(b"  too short \n").unwrap_err(),
            WeakSecret { len: 9 }
        );
        assert!(
            !format!("{:?}", a).contains("0123"),
            "the key is never printed"
        );
        assert_eq!(a.check_value(), b.check_value());
        assert_ne!(a.check_value(), other.check_value());
        assert_eq!(a.check_value().len(), 64);
    }
}
