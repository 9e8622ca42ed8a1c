//! The events of a session's standalone SSE stream, kept where every
//! replica reads them, so that a stream cut on one replica and resumed with
//! `Last-Event-ID` on another misses nothing, and a message a handler sends
//! on one replica reaches the stream wherever it is open.
//!
//! A server of one process needs none: its HTTP transport keeps each
//! stream's last events in memory (the default). Replicas share one through
//! [`Replicas`](crate::replicas::Replicas): [`InMemoryEventStore`] in one
//! process, `RedisEventStore` (crate feature `redis`, a Redis stream per
//! session stream) across processes. Both keep a bounded number of events
//! for a bounded time.

use crate::session_store::StoreError;
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default number of events kept per stream (as the in-process
/// default, `HttpConfig::replay_buffer_events`).
pub const DEFAULT_KEEP_EVENTS: usize = 256;
/// The default time a stream's events are kept after its last event.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 60);
/// The largest event a store keeps, in bytes; a larger message is dropped
/// from the stream (with a warning in the log), as a bound on what one
/// handler can make every replica hold.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// One stored event: its id (opaque, ordered within its stream) and data.
pub type StoredEvent = (String, String);

/// Events of streams, by stream name. Every method is one round trip at
/// most to a remote store.
#[async_trait]
pub trait EventStore: Send + Sync + std::fmt::Debug + 'static {
    /// Appends `data` to `stream`; gives the new event's id.
    async fn append(&self, stream: &str, data: &str) -> Result<String, StoreError>;

    /// At most `max` events that followed the event `after` on `stream`
    /// (with no `after`, from the oldest kept); `None` when `after` is no
    /// longer kept (or never was), so what followed it cannot be told whole.
    async fn after(
        &self,
        stream: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError>;

    /// The id of the last event of `stream`, if it has one.
    async fn last(&self, stream: &str) -> Result<Option<String>, StoreError>;

    /// Forgets `stream`.
    async fn remove(&self, stream: &str) -> Result<(), StoreError>;

    /// Appends `data` to `stream` unless an append with the same `token`
    /// came first (within [`ONCE_WINDOW`]); gives the new event's id, or
    /// `None` when another came first. Replicas that each hear of one
    /// change deliver it to a stream once this way, whichever comes first.
    async fn append_once(
        &self,
        stream: &str,
        data: &str,
        token: &str,
    ) -> Result<Option<String>, StoreError>;
}

/// How long [`EventStore::append_once`] remembers a token.
pub const ONCE_WINDOW: Duration = Duration::from_secs(60);

/// How many tokens of [`EventStore::append_once`] a stream of
/// [`InMemoryEventStore`] remembers.
const ONCE_TOKENS: usize = 256;

/// Events in this process's memory, shared by the services holding the
/// same store.
#[derive(Debug)]
pub struct InMemoryEventStore {
    keep: usize,
    max_age: Duration,
    streams: Mutex<HashMap<String, MemoryStream>>,
}

#[derive(Debug, Default)]
struct MemoryStream {
    next: u64,
    last_write: Option<Instant>,
    events: VecDeque<(u64, String)>,
    /// The last tokens of `append_once`, with when they came.
    tokens: VecDeque<(String, Instant)>,
}

impl Default for InMemoryEventStore {
    fn default() -> Self {
        InMemoryEventStore::new(DEFAULT_KEEP_EVENTS, DEFAULT_MAX_AGE)
    }
}

impl InMemoryEventStore {
    /// A store keeping the last `keep` events of each stream, forgetting a
    /// stream `max_age` after its last event.
    pub fn new(keep: usize, max_age: Duration) -> Self {
        InMemoryEventStore {
            keep: keep.max(1),
            max_age,
            streams: Mutex::default(),
        }
    }
}

#[async_trait]
impl EventStore for InMemoryEventStore {
    async fn append(&self, stream: &str, data: &str) -> Result<String, StoreError> {
        let mut streams = crate::util::lock(&self.streams);
        let now = Instant::now();
        let max_age = self.max_age;
        streams.retain(|_, s| s.last_write.is_some_and(|t| now - t < max_age));
        let s = streams.entry(stream.to_owned()).or_default();
        let seq = s.next;
        s.next += 1;
        s.last_write = Some(now);
        s.events.push_back((seq, data.to_owned()));
        while s.events.len() > self.keep {
            s.events.pop_front();
        }
        Ok(seq.to_string())
    }

    async fn after(
        &self,
        stream: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        let streams = crate::util::lock(&self.streams);
        let Some(after) = after else {
            let all = streams.get(stream).into_iter().flat_map(|s| &s.events);
            return Ok(Some(
                all.take(max)
                    .map(|(seq, data)| (seq.to_string(), data.clone()))
                    .collect(),
            ));
        };
        let Ok(after) = after.parse::<u64>() else {
            return Ok(None);
        };
        let Some(s) = streams.get(stream) else {
            return Ok(None);
        };
        let kept = s.events.front().is_some_and(|(first, _)| *first <= after);
        if !kept || after >= s.next {
            return Ok(None);
        }
        Ok(Some(
            s.events
                .iter()
                .filter(|(seq, _)| *seq > after)
                .take(max)
                .map(|(seq, data)| (seq.to_string(), data.clone()))
                .collect(),
        ))
    }

    async fn last(&self, stream: &str) -> Result<Option<String>, StoreError> {
        let streams = crate::util::lock(&self.streams);
        Ok(streams
            .get(stream)
            .and_then(|s| s.events.back())
            .map(|(seq, _)| seq.to_string()))
    }

    async fn remove(&self, stream: &str) -> Result<(), StoreError> {
        crate::util::lock(&self.streams).remove(stream);
        Ok(())
    }

    async fn append_once(
        &self,
        stream: &str,
        data: &str,
        token: &str,
    ) -> Result<Option<String>, StoreError> {
        {
            let mut streams = crate::util::lock(&self.streams);
            let s = streams.entry(stream.to_owned()).or_default();
            let now = Instant::now();
            s.tokens.retain(|(_, at)| now - *at < ONCE_WINDOW);
            if s.tokens.iter().any(|(t, _)| t == token) {
                return Ok(None);
            }
            if s.tokens.len() >= ONCE_TOKENS {
                s.tokens.pop_front();
            }
            s.tokens.push_back((token.to_owned(), now));
            // Kept by `append`'s sweep of streams without recent events.
            s.last_write = Some(now);
        }
        self.append(stream, data).await.map(Some)
    }
}

#[cfg(feature = "redis")]
pub use redis_events::RedisEventStore;

#[cfg(feature = "redis")]
mod redis_events {
    use super::{EventStore, StoredEvent, ONCE_WINDOW};
    use crate::session_store::StoreError;
    use async_trait::async_trait;
    use redis::aio::ConnectionManager;
    use std::time::Duration;

    /// Events in Redis streams (`{prefix}:events:{stream}`), each capped at
    /// `keep` entries (`XADD MAXLEN`) and expiring `max_age` after its last
    /// event.
    #[derive(Clone)]
    pub struct RedisEventStore {
        redis: ConnectionManager,
        prefix: String,
        keep: usize,
        max_age: Duration,
    }

    impl std::fmt::Debug for RedisEventStore {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("RedisEventStore")
                .field("prefix", &self.prefix)
                .field("keep", &self.keep)
                .field("max_age", &self.max_age)
                .finish()
        }
    }

    impl RedisEventStore {
        /// A store on `redis`, its keys beginning with `prefix`, keeping
        /// the last `keep` events of each stream for `max_age` after the
        /// stream's last event.
        pub fn new(redis: ConnectionManager, prefix: &str, keep: usize, max_age: Duration) -> Self {
            RedisEventStore {
                redis,
                prefix: prefix.to_owned(),
                keep: keep.max(1),
                max_age,
            }
        }

        fn key(&self, stream: &str) -> String {
            format!("{}:events:{stream}", self.prefix)
        }
    }

    fn failed(e: redis::RedisError) -> StoreError {
        StoreError(format!("Redis: {e}"))
    }

    /// An entry of XRANGE: its id and its fields (`d`, the data).
    type Entry = (String, Vec<String>);

    fn data((id, fields): Entry) -> StoredEvent {
        let data = fields.into_iter().nth(1).unwrap_or_default();
        (id, data)
    }

    #[async_trait]
    impl EventStore for RedisEventStore {
        async fn append(&self, stream: &str, data: &str) -> Result<String, StoreError> {
            let key = self.key(stream);
            let (id,): (String,) = redis::pipe()
                .atomic()
                .cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg(self.keep)
                .arg("*")
                .arg("d")
                .arg(data)
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(self.max_age.as_millis() as u64)
                .ignore()
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)?;
            Ok(id)
        }

        async fn after(
            &self,
            stream: &str,
            after: Option<&str>,
            max: usize,
        ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
            let Some(after) = after else {
                let entries: Vec<Entry> = redis::cmd("XRANGE")
                    .arg(self.key(stream))
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(max.max(1))
                    .query_async(&mut self.redis.clone())
                    .await
                    .map_err(failed)?;
                return Ok(Some(entries.into_iter().take(max).map(data).collect()));
            };
            // An id of Redis's form only: anything else was never ours.
            let valid = after
                .split_once('-')
                .is_some_and(|(ms, seq)| ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok());
            if !valid {
                return Ok(None);
            }
            // From `after` itself: if it is still there, nothing after it
            // was trimmed away.
            let entries: Vec<Entry> = redis::cmd("XRANGE")
                .arg(self.key(stream))
                .arg(after)
                .arg("+")
                .arg("COUNT")
                .arg(max.saturating_add(1))
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)?;
            let mut entries = entries.into_iter();
            match entries.next() {
                Some((first, _)) if first == after => Ok(Some(entries.map(data).collect())),
                _ => Ok(None),
            }
        }

        async fn last(&self, stream: &str) -> Result<Option<String>, StoreError> {
            let entries: Vec<Entry> = redis::cmd("XREVRANGE")
                .arg(self.key(stream))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)?;
            Ok(entries.into_iter().next().map(|(id, _)| id))
        }

        async fn remove(&self, stream: &str) -> Result<(), StoreError> {
            redis::cmd("DEL")
                .arg(self.key(stream))
                .query_async::<i64>(&mut self.redis.clone())
                .await
                .map(|_| ())
                .map_err(failed)
        }

        async fn append_once(
            &self,
            stream: &str,
            data: &str,
            token: &str,
        ) -> Result<Option<String>, StoreError> {
            // The token's key and the append in one script: one round trip,
            // and no replica appends between another's check and append.
            const ONCE: &str = "if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[4]) \
                then return false end \
                local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'd', ARGV[1]) \
                redis.call('PEXPIRE', KEYS[1], ARGV[3]) return id";
            redis::cmd("EVAL")
                .arg(ONCE)
                .arg(2)
                .arg(self.key(stream))
                .arg(format!("{}:once:{stream}:{token}", self.prefix))
                .arg(data)
                .arg(self.keep)
                .arg(self.max_age.as_millis() as u64)
                .arg(ONCE_WINDOW.as_millis() as u64)
                .query_async(&mut self.redis.clone())
                .await
                .map_err(failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_after_one_still_kept_are_replayed_and_older_ones_are_gone() {
        let store = InMemoryEventStore::new(3, DEFAULT_MAX_AGE);
        let mut ids = Vec::new();
        for n in 0..5 {
            ids.push(store.append("s", &format!("e{n}")).await.unwrap());
        }
        let after = store.after("s", Some(&ids[2]), 10).await.unwrap().unwrap();
        let data: Vec<_> = after.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(data, ["e3", "e4"]);
        assert!(store.after("s", Some(&ids[0]), 10).await.unwrap().is_none());
        assert!(store
            .after("s", Some("nonsense"), 10)
            .await
            .unwrap()
            .is_none());
        assert!(store.after("other", Some("0"), 10).await.unwrap().is_none());
        assert_eq!(store.last("s").await.unwrap(), Some(ids[4].clone()));
    }

    #[tokio::test]
    async fn an_append_with_a_token_seen_before_is_skipped() {
        let store = InMemoryEventStore::default();
        assert!(store.append_once("s", "a", "t1").await.unwrap().is_some());
        assert!(store.append_once("s", "a", "t1").await.unwrap().is_none());
        assert!(store.append_once("s", "b", "t2").await.unwrap().is_some());
        assert!(store
            .append_once("other", "a", "t1")
            .await
            .unwrap()
            .is_some());
        let all = store.after("s", None, 10).await.unwrap().unwrap();
        assert_eq!(all.len(), 2);
    }
}
