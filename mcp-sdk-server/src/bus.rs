//! A message bus between the replicas of one server, so that a change one
//! replica announces (a list change, a resource update) reaches the
//! `subscriptions/listen` streams (2026-07-28) open on every replica.
//!
//! Attach one to the server's [`Notifier`](crate::Notifier) with
//! [`Notifier::attach_bus`](crate::Notifier::attach_bus). Without a bus
//! (the default), changes stay in their process, as they must for a single
//! replica. [`InMemoryBus`] joins notifiers of one process (tests, several
//! servers in one process); `RedisBus` (crate feature `redis`) joins
//! processes through Redis publish/subscribe.
//!
//! Delivery is best effort, like the notifications themselves: a message
//! published while the bus is down is lost, and a stream that falls behind
//! skips messages (with a warning in the log).

use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// How many messages may wait for a slow receiver before it skips some.
pub const BACKLOG: usize = 256;

/// The largest message a bus carries, in bytes; larger ones are dropped
/// (with a warning), so a bad peer cannot make a replica buffer without bound.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Carries messages between the replicas of one server. Every replica
/// receives every message, its own included: receivers tell their own
/// apart (the notifier tags each message with its origin).
pub trait MessageBus: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `message` to every subscriber of every replica. Never blocks:
    /// a bus that cannot send now drops the message and logs why.
    fn publish(&self, message: &str);

    /// The messages published from now on, by any replica.
    fn subscribe(&self) -> broadcast::Receiver<Arc<str>>;

    /// Sends `message` and waits until the bus has taken it (Redis: the
    /// `PUBLISH` answered), for a message the other replicas must have
    /// before the sender answers its client (a session closed). The
    /// default publishes as [`publish`](Self::publish) does.
    fn publish_now<'a>(
        &'a self,
        message: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        self.publish(message);
        Box::pin(std::future::ready(()))
    }

    /// How many times messages may have been lost on their way here, as
    /// it grows: a Redis subscription that went down and is back missed
    /// what was published meanwhile, and its receivers cannot know what.
    /// A receiver that sees it grow resyncs, as after falling behind
    /// ([`broadcast::error::RecvError::Lagged`]). The default, for a bus
    /// that loses nothing on the way, never grows.
    fn gaps(&self) -> watch::Receiver<u64> {
        watch::channel(0).1
    }
}

/// Resolves when `gaps` grows; never, for a bus whose gaps cannot grow
/// (its sender is gone).
async fn next_gap(gaps: &mut watch::Receiver<u64>) {
    if gaps.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a [`Listener`] hears next.
pub(crate) enum Heard {
    /// A message.
    Message(Arc<str>),
    /// Messages were lost: skipped because this listener fell behind (how
    /// many), or lost on the way ([`MessageBus::gaps`] grew: `None`). Which
    /// ones is unknown either way, so the listener resyncs.
    Lost(Option<u64>),
    /// The bus is gone.
    Closed,
}

/// One subscriber's view of a bus: its messages and its gaps as one
/// sequence, for the loops that relay a bus (the notifier's and the
/// replicas'), which treat a gap as falling behind.
pub(crate) struct Listener {
    inbound: broadcast::Receiver<Arc<str>>,
    gaps: watch::Receiver<u64>,
}

impl Listener {
    /// Listens to what `bus` carries from now on.
    pub fn new(bus: &dyn MessageBus) -> Self {
        Listener {
            inbound: bus.subscribe(),
            gaps: bus.gaps(),
        }
    }

    /// The next message, or word of a loss, or of the end.
    pub async fn next(&mut self) -> Heard {
        tokio::select! {
            heard = self.inbound.recv() => match heard {
                Ok(message) => Heard::Message(message),
                Err(broadcast::error::RecvError::Lagged(n)) => Heard::Lost(Some(n)),
                Err(broadcast::error::RecvError::Closed) => Heard::Closed,
            },
            () = next_gap(&mut self.gaps) => Heard::Lost(None),
        }
    }
}

/// A bus inside one process: every [`Notifier`](crate::Notifier) attached
/// to clones of it hears the others. The default behaviour (no bus) needs
/// none; this one is for several servers in one process, and for tests.
#[derive(Debug, Clone)]
pub struct InMemoryBus {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for InMemoryBus {
    fn default() -> Self {
        InMemoryBus {
            tx: broadcast::channel(BACKLOG).0,
        }
    }
}

impl MessageBus for InMemoryBus {
    fn publish(&self, message: &str) {
        if message.len() > MAX_MESSAGE_BYTES {
            tracing::warn!(bytes = message.len(), "bus message too large, dropped");
            return;
        }
        let _ = self.tx.send(Arc::from(message));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }
}

#[cfg(feature = "redis")]
pub(crate) use redis_bus::masked;
#[cfg(feature = "redis")]
pub use redis_bus::{RedisBus, RedisBusError};

#[cfg(feature = "redis")]
mod redis_bus {
    use super::{MessageBus, BACKLOG, MAX_MESSAGE_BYTES};
    use futures_util::StreamExt;
    use redis::aio::{ConnectionManager, ConnectionManagerConfig};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::{broadcast, mpsc, watch};
    use tokio_util::sync::CancellationToken;

    /// How long connecting to Redis may take before it counts as unreachable.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The longest wait between attempts to get the subscription back.
    const MAX_BACKOFF: Duration = Duration::from_secs(5);

    /// A bus through Redis publish/subscribe on one channel: every replica
    /// connects to the same Redis with the same channel name. Publishing
    /// goes through a [`ConnectionManager`] (which reconnects by itself);
    /// the subscription has a connection of its own, which is reopened
    /// (with backoff) when Redis goes away and comes back. Dropping the bus
    /// ends both.
    #[derive(Debug)]
    pub struct RedisBus {
        /// The publishing connection, which stores on the same Redis share.
        publisher: ConnectionManager,
        channel: String,
        outbox: mpsc::Sender<String>,
        inbound: broadcast::Sender<Arc<str>>,
        /// Grows each time the subscription is back after a loss.
        gaps: watch::Sender<u64>,
        stop: CancellationToken,
    }

    /// Redis could not be reached when the bus started. Its message names
    /// `REDIS_URL` and the server, never a password in the URL.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot reach Redis at REDIS_URL {url}: {reason}")]
    pub struct RedisBusError {
        /// The URL, its password (if any) masked.
        pub url: String,
        /// What went wrong.
        pub reason: String,
    }

    impl RedisBus {
        /// Connects to the Redis at `url` (`redis://host:port`) and subscribes
        /// to `channel`; fails at once, clearly, when Redis is unreachable.
        /// Needs a Tokio runtime.
        pub async fn connect(url: &str, channel: &str) -> Result<Self, RedisBusError> {
            let fail = |reason: String| RedisBusError {
                url: masked(url),
                reason,
            };
            let client = redis::Client::open(url).map_err(|e| fail(e.to_string()))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_number_of_retries(2);
            let publisher = ConnectionManager::new_with_config(client.clone(), config)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let subscriber = subscribe(&client, channel)
                .await
                .map_err(|e| fail(e.to_string()))?;

            let stop = CancellationToken::new();
            let inbound = broadcast::channel(BACKLOG).0;
            let gaps = watch::Sender::new(0);
            let (outbox, queued) = mpsc::channel(BACKLOG);
            tokio::spawn(publish_loop(
                publisher.clone(),
                channel.to_owned(),
                queued,
                stop.clone(),
            ));
            tokio::spawn(subscribe_loop(
                client,
                channel.to_owned(),
                subscriber,
                inbound.clone(),
                gaps.clone(),
                stop.clone(),
            ));
            Ok(RedisBus {
                publisher,
                channel: channel.to_owned(),
                outbox,
                inbound,
                gaps,
                stop,
            })
        }
    }

    impl RedisBus {
        /// A handle on the bus's connection manager (multiplexed, it
        /// reconnects by itself), for stores on the same Redis.
        pub fn connection(&self) -> ConnectionManager {
            self.publisher.clone()
        }
    }

    impl Drop for RedisBus {
        fn drop(&mut self) {
            self.stop.cancel();
        }
    }

    impl MessageBus for RedisBus {
        fn publish(&self, message: &str) {
            if message.len() > MAX_MESSAGE_BYTES {
                tracing::warn!(bytes = message.len(), "bus message too large, dropped");
                return;
            }
            if self.outbox.try_send(message.to_owned()).is_err() {
                tracing::warn!("Redis bus: too many messages waiting to be published, one dropped");
            }
        }

        fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
            self.inbound.subscribe()
        }

        fn gaps(&self) -> watch::Receiver<u64> {
            self.gaps.subscribe()
        }

        fn publish_now<'a>(
            &'a self,
            message: &'a str,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
            Box::pin(async move {
                if message.len() > MAX_MESSAGE_BYTES {
                    tracing::warn!(bytes = message.len(), "bus message too large, dropped");
                    return;
                }
                let mut publisher = self.publisher.clone();
                let mut command = redis::cmd("PUBLISH");
                command.arg(&self.channel).arg(message);
                let publish = command.query_async::<i64>(&mut publisher);
                match tokio::time::timeout(CONNECT_TIMEOUT, publish).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "Redis bus: a message could not be published")
                    }
                    Err(_) => tracing::warn!("Redis bus: a message was not published in time"),
                }
            })
        }
    }

    async fn subscribe(
        client: &redis::Client,
        channel: &str,
    ) -> redis::RedisResult<redis::aio::PubSub> {
        let connect = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok(pubsub)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer in time",
            ))),
        }
    }

    /// Sends what [`RedisBus::publish`] queued, one message at a time.
    async fn publish_loop(
        mut publisher: ConnectionManager,
        channel: String,
        mut queued: mpsc::Receiver<String>,
        stop: CancellationToken,
    ) {
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return,
                message = queued.recv() => match message {
                    Some(message) => message,
                    None => return,
                },
            };
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(message)
                .query_async(&mut publisher)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "Redis bus: a message could not be published");
            }
        }
    }

    /// Hands what the channel carries to the subscribers; when the
    /// subscription connection ends, opens a new one, waiting longer
    /// between failed attempts (up to [`MAX_BACKOFF`]), and once it is
    /// back counts a gap: what was published meanwhile never came.
    async fn subscribe_loop(
        client: redis::Client,
        channel: String,
        first: redis::aio::PubSub,
        inbound: broadcast::Sender<Arc<str>>,
        gaps: watch::Sender<u64>,
        stop: CancellationToken,
    ) {
        let mut pubsub = Some(first);
        let mut backoff = Duration::from_millis(100);
        loop {
            if let Some(mut connection) = pubsub.take() {
                backoff = Duration::from_millis(100);
                let mut messages = connection.on_message();
                loop {
                    let message = tokio::select! {
                        _ = stop.cancelled() => return,
                        message = messages.next() => message,
                    };
                    let Some(message) = message else { break };
                    let payload = message.get_payload_bytes();
                    if payload.len() > MAX_MESSAGE_BYTES {
                        tracing::warn!(
                            bytes = payload.len(),
                            "Redis bus: message too large, dropped"
                        );
                        continue;
                    }
                    match std::str::from_utf8(payload) {
                        Ok(text) => {
                            let _ = inbound.send(Arc::from(text));
                        }
                        Err(_) => tracing::warn!("Redis bus: a message that is not UTF-8, dropped"),
                    }
                }
                tracing::warn!("Redis bus: the subscription connection ended; reconnecting");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            match subscribe(&client, &channel).await {
                Ok(connection) => {
                    tracing::info!("Redis bus: subscribed again; receivers resync");
                    pubsub = Some(connection);
                    gaps.send_modify(|n| *n += 1);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Redis bus: cannot subscribe yet");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// `url` with the password (between `:` and `@` in its user info) masked.
    pub(crate) fn masked(url: &str) -> String {
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        match authority.rsplit_once('@') {
            Some((user_info, host)) => {
                let user = user_info.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}{path}")
            }
            None => url.to_owned(),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn passwords_never_show() {
            assert_eq!(
                masked("redis://user:s3cret@db:6379/0"),
                "redis://user:***@db:6379/0"
            );
            assert_eq!(masked("redis://:s3cret@db"), "redis://:***@db");
            assert_eq!(masked("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        }

        #[tokio::test]
        async fn an_unreachable_redis_is_a_clear_error_at_start() {
            // Port 1 on loopback: nothing listens there.
            let error = RedisBus::connect("redis://:s3cret@127.0.0.1:1", "mcp-test")
                .await
                .expect_err("nothing listens on port 1");
            let message = error.to_string();
            assert!(
                message.starts_with("cannot reach Redis at REDIS_URL redis://:***@127.0.0.1:1"),
                "{message}"
            );
            assert!(!message.contains("s3cret"), "{message}");
        }
    }
}
