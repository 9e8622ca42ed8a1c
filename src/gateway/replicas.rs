//! The gateway as one of several replicas sharing Redis
//! (`session_manager --redis-url`), behind a load balancer without
//! stickiness.
//!
//! The SDK's [`Replicas`] carry the upstream sessions (any replica answers
//! any request of any session, a client's answer to a relayed sampling or
//! elicitation request reaches the replica whose call waits for it, the
//! standalone stream resumes anywhere). What the gateway keeps per session
//! beyond that is its resource subscriptions, shared here:
//!
//! - `{prefix}:gateway:subscribed`, a hash: each subscribed URI → the
//!   downstream server that owns it;
//! - `{prefix}:gateway:subscribers:{uri}`, a set: the sessions subscribed
//!   to it, through whichever replica;
//! - `{prefix}:gateway:lease:{uri}`: the replica that watches the URI
//!   downstream and tells the sessions of its updates, for [`LEASE`];
//! - `{prefix}:gateway:subscriptions:{session}`, a set: the URIs the
//!   session is subscribed to, through whichever replica, so that the
//!   per-session limit holds across replicas and the session's end can
//!   unsubscribe it everywhere.
//!
//! None of these outlives its sessions (see `GatewayReplicas::round`):
//! a session's end (its `DELETE`, its idle expiry) unsubscribes it at once
//! where the replica that saw the end knows its URIs, and the holder of
//! each URI checks every [`SWEEP_EVERY`] rounds that its subscribers still
//! exist in the session store, so that sessions whose end no live replica
//! saw (the replica that held them died) leave too. As a last bound, every
//! key has a TTL (the sessions' idle timeout, at least [`MIN_KEEP`])
//! that the rounds refresh: when no replica runs, they all expire, as the
//! sessions themselves do.
//!
//! One replica at a time holds a URI's lease and renews it every
//! [`RENEW`]: only its downstream connection subscribes to the URI, so each
//! update is heard once and each subscribed session told once, through the
//! shared event store, wherever its GET stream is open. When the holder
//! dies, its lease runs out and another replica takes the URI over at its
//! next renewal round; updates in between (at most [`LEASE`] plus
//! [`RENEW`]) are not heard. Downstream connections themselves are per
//! replica, as are `subscriptions/listen` streams (stateless listeners are
//! told by the replica their stream is open on).

use crate::gateway::downstream::Downstream;
use mcp_sdk::{Message, ResourceUpdatedNotificationParams};
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::session_store::StoreError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a replica's hold on a URI lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(3);
/// How often a replica renews its leases and takes over the URIs nobody
/// holds.
pub const RENEW: Duration = Duration::from_secs(1);
/// How long connecting to Redis, or one command, may take before it counts
/// as failed.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Every this many rounds, the holder of a URI checks that the sessions
/// subscribed to it still exist, and forgets those that do not: a load of
/// each session record, so not every round.
pub const SWEEP_EVERY: u64 = 10;
/// The shortest TTL of the subscription keys, whatever the sessions' idle
/// timeout: several sweeps long, so that a live session's keys are always
/// refreshed before they expire.
pub const MIN_KEEP: Duration = Duration::from_secs(60);
/// The sessions' idle timeout when [`GatewayReplicas::with_session_idle`]
/// is not given one: `session_manager`'s default.
const DEFAULT_KEEP: Duration = Duration::from_secs(30 * 60);

/// Renews the lease when this replica holds it (1), takes it when nobody
/// does (2), else leaves it (0).
const CLAIM: &str = "local v = redis.call('GET', KEYS[1]) \
    if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end \
    if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end \
    return 0";
/// The sessions subscribed to a URI (KEYS[2]), when this replica (ARGV[1])
/// holds the URI's lease (KEYS[1], renewed for ARGV[2] ms, or taken when
/// nobody holds it); else nil. Checked in Redis at each update, not only
/// in this replica's memory: a replica whose lease ran out (Redis gone or
/// frozen for longer than a lease) and was taken over must not tell the
/// sessions too until its next round gives the URI up.
const SUBSCRIBERS_IF_HELD: &str = "local v = redis.call('GET', KEYS[1]) \
    if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
    elseif not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
    else return false end \
    return redis.call('SMEMBERS', KEYS[2])";
/// Gives the lease up, if this replica still holds it.
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('DEL', KEYS[1]) end return 0";
/// Forgets a URI nobody is subscribed to any more (checked in Redis, so a
/// subscription that just arrived is kept).
const FORGET_IF_EMPTY: &str = "if redis.call('SCARD', KEYS[1]) == 0 then \
    return redis.call('HDEL', KEYS[2], ARGV[1]) end return 0";
/// Subscribes a session (ARGV[2]) to a URI (ARGV[1]): in the session's set
/// (KEYS[1]) and the URI's (KEYS[2]), both kept ARGV[4] ms; 0 without a
/// change when the session holds ARGV[3] other URIs already. One script,
/// so that two subscriptions through two replicas cannot both pass the
/// limit.
const JOIN: &str = "if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 and \
    redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end \
    redis.call('SADD', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[4]) \
    redis.call('SADD', KEYS[2], ARGV[2]) redis.call('PEXPIRE', KEYS[2], ARGV[4]) \
    return 1";
/// Unsubscribes a session (ARGV[2]) from a URI (ARGV[1]): out of the
/// session's set (KEYS[1]) and the URI's (KEYS[2]), and the URI out of the
/// subscribed ones (KEYS[3]) when nobody is left.
const LEAVE: &str = "redis.call('SREM', KEYS[1], ARGV[1]) redis.call('SREM', KEYS[2], ARGV[2]) \
    if redis.call('SCARD', KEYS[2]) == 0 then redis.call('HDEL', KEYS[3], ARGV[1]) end \
    return 1";

/// Where the gateway's replicas meet: the SDK's stores and bus, and the
/// subscriptions kept beside them.
pub struct GatewayReplicas {
    replicas: Replicas,
    redis: ConnectionManager,
    prefix: String,
    /// This replica's name in the leases (random, per process).
    me: String,
    /// The URIs whose lease this replica holds, and the server it watches
    /// each at.
    held: Mutex<BTreeMap<String, usize>>,
    /// The TTL of the subscription keys: the sessions' idle timeout, at
    /// least [`MIN_KEEP`].
    keep: Duration,
    /// Counts this replica's rounds, for [`SWEEP_EVERY`].
    rounds: AtomicU64,
}

impl std::fmt::Debug for GatewayReplicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayReplicas")
            .field("prefix", &self.prefix)
            .field("me", &self.me)
            .finish()
    }
}

/// What a claim of a URI's lease found.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    /// This replica held it, and holds it on.
    Renewed,
    /// Nobody held it; this replica does now.
    Taken,
    /// Another replica holds it.
    Elsewhere,
}

impl GatewayReplicas {
    /// Joins the other replicas through the Redis at `url`, under keys and
    /// a channel beginning with `prefix` (the same on every replica of one
    /// gateway). Fails at once, naming `REDIS_URL` (its password masked),
    /// when Redis is unreachable.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let replicas = Replicas::redis(url, prefix)
            .await
            .map_err(|e| e.to_string())?;
        // Reached just now: a failure here says why, without the URL.
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            // A Redis that hangs fails the request, not the replica's rounds.
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let redis = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| format!("cannot reach Redis at REDIS_URL: {e}"))?;
        Ok(GatewayReplicas {
            replicas,
            redis,
            prefix: prefix.to_owned(),
            me: uuid::Uuid::new_v4().simple().to_string(),
            held: Mutex::default(),
            keep: DEFAULT_KEEP,
            rounds: AtomicU64::new(0),
        })
    }

    /// Keeps the subscription keys of a session no round has seen alive
    /// for `idle` (the sessions' idle timeout; at least [`MIN_KEEP`]):
    /// past it, the session is gone from the store too.
    pub fn with_session_idle(mut self, idle: Duration) -> Self {
        self.keep = idle.max(MIN_KEEP);
        self
    }

    fn keep_ms(&self) -> u64 {
        self.keep.as_millis().try_into().unwrap_or(u64::MAX)
    }

    /// The SDK's stores and bus, for [`HttpConfig::replicas`](mcp_sdk_server::http::HttpConfig::replicas).
    pub fn sdk(&self) -> Replicas {
        self.replicas.clone()
    }

    fn subscribed_key(&self) -> String {
        format!("{}:gateway:subscribed", self.prefix)
    }

    fn subscribers_key(&self, uri: &str) -> String {
        format!("{}:gateway:subscribers:{uri}", self.prefix)
    }

    fn lease_key(&self, uri: &str) -> String {
        format!("{}:gateway:lease:{uri}", self.prefix)
    }

    fn session_key(&self, session: &str) -> String {
        format!("{}:gateway:subscriptions:{session}", self.prefix)
    }

    fn held(&self) -> MutexGuard<'_, BTreeMap<String, usize>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this replica watches `uri` for the subscribed sessions.
    pub(crate) fn holds(&self, uri: &str) -> bool {
        self.held().contains_key(uri)
    }

    /// Subscribes the session `session` to `uri`, which the server
    /// `server` owns, and makes sure a replica watches it downstream before
    /// this returns: this one when nobody held it. Refused, naming the
    /// limit, when the session is subscribed to `limit` other URIs
    /// already, through whichever replicas.
    pub(crate) async fn subscribe(
        &self,
        uri: &str,
        server: &Arc<Downstream>,
        session: &str,
        limit: usize,
    ) -> Result<(), mcp_sdk::Error> {
        let joined: i64 = redis::cmd("EVAL")
            .arg(JOIN)
            .arg(2)
            .arg(self.session_key(session))
            .arg(self.subscribers_key(uri))
            .arg(uri)
            .arg(session)
            .arg(limit)
            .arg(self.keep_ms())
            .query_async(&mut self.redis.clone())
            .await
            .map_err(|e| unavailable(failed(e)))?;
        if joined == 0 {
            return Err(too_many_subscriptions(limit));
        }
        // Claimed before the URI is listed for the other replicas' rounds,
        // so that none of them takes a URI this one is about to watch.
        let claim = self.claim(uri).await.map_err(unavailable)?;
        redis::pipe()
            .cmd("HSET")
            .arg(self.subscribed_key())
            .arg(uri)
            .arg(server.name())
            .ignore()
            .cmd("PEXPIRE")
            .arg(self.subscribed_key())
            .arg(self.keep_ms())
            .ignore()
            .query_async::<()>(&mut self.redis.clone())
            .await
            .map_err(|e| unavailable(failed(e)))?;
        if claim == Claim::Elsewhere || self.held().insert(uri.to_owned(), server.index).is_some() {
            return Ok(()); // watched already, here or elsewhere
        }
        if let Err(e) = server.watch(uri).await {
            self.held().remove(uri);
            self.release(uri).await;
            let _ = self.unsubscribe(uri, session).await;
            return Err(e);
        }
        Ok(())
    }

    /// Unsubscribes the session `session` from `uri`; the holder of the
    /// URI stops watching it at its next round when nobody is left.
    pub(crate) async fn unsubscribe(&self, uri: &str, session: &str) -> Result<(), StoreError> {
        redis::cmd("EVAL")
            .arg(LEAVE)
            .arg(3)
            .arg(self.session_key(session))
            .arg(self.subscribers_key(uri))
            .arg(self.subscribed_key())
            .arg(uri)
            .arg(session)
            .query_async::<i64>(&mut self.redis.clone())
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn forget_if_empty(&self, uri: &str) -> Result<(), StoreError> {
        redis::cmd("EVAL")
            .arg(FORGET_IF_EMPTY)
            .arg(2)
            .arg(self.subscribers_key(uri))
            .arg(self.subscribed_key())
            .arg(uri)
            .query_async::<i64>(&mut self.redis.clone())
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn claim(&self, uri: &str) -> Result<Claim, StoreError> {
        let got: i64 = redis::cmd("EVAL")
            .arg(CLAIM)
            .arg(1)
            .arg(self.lease_key(uri))
            .arg(&self.me)
            .arg(LEASE.as_millis() as u64)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(failed)?;
        Ok(match got {
            1 => Claim::Renewed,
            2 => Claim::Taken,
            _ => Claim::Elsewhere,
        })
    }

    async fn release(&self, uri: &str) {
        let released = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(self.lease_key(uri))
            .arg(&self.me)
            .query_async::<i64>(&mut self.redis.clone())
            .await;
        if let Err(e) = released {
            // It runs out by itself.
            tracing::debug!(%uri, "replicas: a lease could not be released: {e}");
        }
    }

    /// `notifications/resources/updated` for `uri` to every session
    /// subscribed to it, through whichever replica, when this replica holds
    /// the URI, here and in Redis (so that each update is told once);
    /// sessions that no longer exist are unsubscribed.
    pub(crate) async fn tell_subscribers(&self, uri: &str) {
        if !self.holds(uri) {
            return;
        }
        let sessions: Option<Vec<String>> = match redis::cmd("EVAL")
            .arg(SUBSCRIBERS_IF_HELD)
            .arg(2)
            .arg(self.lease_key(uri))
            .arg(self.subscribers_key(uri))
            .arg(&self.me)
            .arg(LEASE.as_millis() as u64)
            .query_async(&mut self.redis.clone())
            .await
        {
            Ok(sessions) => sessions,
            Err(e) => {
                tracing::warn!(%uri, "replicas: the subscribers could not be read: {e}");
                return;
            }
        };
        let Some(sessions) = sessions else {
            // Another replica holds it now and tells them; this one gives
            // it up at its next round.
            return;
        };
        let params = ResourceUpdatedNotificationParams::new(uri);
        let Ok(params) = serde_json::to_value(params) else {
            return;
        };
        let message = Message::notification("notifications/resources/updated", Some(params));
        for session in sessions {
            match mcp_sdk_server::http::notify_session(&self.replicas, &session, &message).await {
                Ok(true) => {}
                Ok(false) => {
                    let _ = self.unsubscribe(uri, &session).await;
                }
                Err(e) => tracing::warn!(%uri, "replicas: a subscriber could not be told: {e}"),
            }
        }
    }

    /// A session ended on this replica (its `DELETE`, its expiry, or a
    /// copy of it closing): when the store no longer has it, it leaves
    /// every URI it subscribed to, through whichever replica (`uris`, those
    /// taken here, count too should its set be gone). A session whose end
    /// no live replica saw leaves at its URIs' next sweep (see
    /// [`round`](Self::round)).
    pub(crate) async fn session_closed(&self, session: &str, uris: &[String]) {
        match self.replicas.sessions.load(session).await {
            Ok(None) => {}
            Ok(Some(_)) => return, // a copy closed; the session lives on
            Err(e) => {
                tracing::debug!("replicas: a closed session could not be checked: {e}");
                return;
            }
        }
        let mut all: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.session_key(session))
            .query_async(&mut self.redis.clone())
            .await
            .unwrap_or_default();
        all.extend(uris.iter().cloned());
        all.sort();
        all.dedup();
        for uri in all {
            let _ = self.unsubscribe(&uri, session).await;
        }
    }

    /// The holder's care of `uri` (see [`round`](Self::round)): its keys
    /// kept another [`keep`](Self::with_session_idle), and, when `sweep`,
    /// the sessions subscribed to it that the session store no longer has
    /// unsubscribed (a live one's own key is kept longer instead).
    async fn tend(&self, uri: &str, sweep: bool) {
        let key = self.subscribers_key(uri);
        let _ = redis::cmd("PEXPIRE")
            .arg(&key)
            .arg(self.keep_ms())
            .query_async::<i64>(&mut self.redis.clone())
            .await;
        if !sweep {
            return;
        }
        let sessions: Vec<String> = match redis::cmd("SMEMBERS")
            .arg(&key)
            .query_async(&mut self.redis.clone())
            .await
        {
            Ok(sessions) => sessions,
            Err(e) => {
                tracing::debug!(%uri, "replicas: the subscribers could not be swept: {e}");
                return;
            }
        };
        for session in sessions {
            match self.replicas.sessions.load(&session).await {
                Ok(None) => {
                    tracing::debug!(%uri, "replicas: a session that ended leaves the URI");
                    let _ = self.unsubscribe(uri, &session).await;
                }
                Ok(Some(_)) => {
                    let _ = redis::cmd("PEXPIRE")
                        .arg(self.session_key(&session))
                        .arg(self.keep_ms())
                        .query_async::<i64>(&mut self.redis.clone())
                        .await;
                }
                // Redis went between two commands: the next sweep.
                Err(_) => return,
            }
        }
    }

    /// One round: renews this replica's leases, takes over the subscribed
    /// URIs nobody holds (watching them downstream), and gives up those
    /// nobody is subscribed to any more or that another replica holds.
    /// `servers` are the downstream servers; `for_listeners` says whether a
    /// stateless listener here still wants a URI watched.
    pub(crate) async fn round(
        &self,
        servers: &[Arc<Downstream>],
        for_listeners: impl Fn(&str) -> bool,
    ) {
        let sweep = self.rounds.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == 0;
        let subscribed: HashMap<String, String> = match redis::pipe()
            .cmd("HGETALL")
            .arg(self.subscribed_key())
            .cmd("PEXPIRE")
            .arg(self.subscribed_key())
            .arg(self.keep_ms())
            .ignore()
            .query_async::<(HashMap<String, String>,)>(&mut self.redis.clone())
            .await
        {
            Ok((subscribed,)) => subscribed,
            Err(e) => {
                tracing::warn!("replicas: the subscriptions could not be read: {e}");
                return;
            }
        };
        let mut dropped = Vec::new();
        for (uri, server) in &subscribed {
            let count: Result<i64, _> = redis::cmd("SCARD")
                .arg(self.subscribers_key(uri))
                .query_async(&mut self.redis.clone())
                .await;
            if count.as_ref().is_ok_and(|n| *n == 0) {
                let _ = self.forget_if_empty(uri).await;
                dropped.push(uri.clone());
                continue;
            }
            let Some(downstream) = servers.iter().find(|s| s.name() == server) else {
                continue; // a server this replica's configuration lacks
            };
            let claim = self.claim(uri).await;
            if let Ok(got @ (Claim::Renewed | Claim::Taken)) = &claim {
                // The holder tends the URI's keys, whether or not its
                // server is up to be watched now; a URI just taken over
                // (its holder may have died with sessions nobody closed)
                // is swept at once, unless its server is down (then it is
                // released and taken again each round).
                let taken_over = *got == Claim::Taken && downstream.offers_subscriptions();
                self.tend(uri, sweep || taken_over).await;
            }
            match claim {
                Ok(Claim::Renewed) if self.holds(uri) => {}
                Ok(Claim::Renewed | Claim::Taken) => {
                    if !downstream.offers_subscriptions() {
                        // Down now: taken over once it is back.
                        self.release(uri).await;
                        continue;
                    }
                    self.held().insert(uri.clone(), downstream.index);
                    if let Err(e) = downstream.watch(uri).await {
                        tracing::warn!(%uri, "replicas: cannot take over watching: {}", e.message);
                        self.held().remove(uri);
                        self.release(uri).await;
                    } else {
                        tracing::info!(%uri, server = %downstream.name(), "replicas: watching for the subscribed sessions");
                    }
                }
                Ok(Claim::Elsewhere) => dropped.push(uri.clone()),
                Err(e) => tracing::warn!(%uri, "replicas: a lease could not be renewed: {e}"),
            }
        }
        let gone: Vec<(String, usize)> = {
            let held = self.held();
            held.iter()
                .filter(|(uri, _)| !subscribed.contains_key(*uri) || dropped.contains(*uri))
                .map(|(uri, &i)| (uri.clone(), i))
                .collect()
        };
        for (uri, i) in gone {
            self.held().remove(&uri);
            self.release(&uri).await;
            if !for_listeners(&uri) {
                servers[i].unwatch(&uri).await;
            }
        }
    }
}

fn failed(e: redis::RedisError) -> StoreError {
    StoreError(format!("Redis: {e}"))
}

/// The refusal of a subscription past the per-session limit.
pub(crate) fn too_many_subscriptions(limit: usize) -> mcp_sdk::Error {
    mcp_sdk::Error::invalid_params(format_args!(
        "this session is subscribed to {limit} resources already, the most the gateway allows \
         (--max-subscriptions-per-session); unsubscribe from one first"
    ))
}

/// The shared store failed: the request may succeed later.
pub(crate) fn unavailable(e: StoreError) -> mcp_sdk::Error {
    mcp_sdk::Error::internal(format_args!(
        "the subscriptions shared by the gateway's replicas cannot be reached ({})",
        // What failed, without "session store": these keys are the
        // gateway's own.
        e.0
    ))
}

/// The upstream session a request of the session era belongs to.
pub(crate) fn session_of(ctx: &mcp_sdk_server::RequestContext) -> Option<String> {
    let parts = ctx.http_parts()?;
    let id = parts
        .headers
        .get(mcp_sdk_server::http::SESSION_HEADER)?
        .to_str()
        .ok()?;
    Some(id.to_owned())
}
