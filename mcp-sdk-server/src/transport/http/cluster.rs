//! The session era across replicas ([`HttpConfig::replicas`](super::HttpConfig::replicas)):
//! any replica answers any request of any session.
//!
//! - A session is written to the shared [`SessionStore`] when it opens;
//!   a replica that gets a request of a session it does not hold loads it
//!   (one round trip) and keeps a local copy, so later requests cost no
//!   round trip but a touch (the idle expiry's refresh) at most once a
//!   second, in the background.
//! - The standalone stream's events go to the shared [`EventStore`]; the
//!   replica holding the client's GET connection reads them from there,
//!   woken by the bus (and every [`POLL`] without news), so a message sent
//!   on any replica reaches the stream wherever it is open, and
//!   `Last-Event-ID` resumes on any replica.
//! - On the bus: the client's answers to requests a handler on another
//!   replica sent, cancellations of requests running elsewhere, closed
//!   sessions, log levels, subscriptions, and the news that a stream has
//!   new events.
//! - Changes (list changes, resource updates) announced on any replica
//!   travel on the [`Notifier`](crate::Notifier)'s bus (this one, unless
//!   the server attached its own): every replica's `subscriptions/listen`
//!   streams hear them, and every replica delivers them to the sessions it
//!   holds a copy of, to their standalone streams in the event store, once
//!   per stream whichever replicas hold copies
//!   ([`EventStore::append_once`](crate::event_store::EventStore::append_once),
//!   named after the change). A session's `resources/subscribe`
//!   subscriptions are kept in the session store, so every copy knows them.

use super::streams::Teed;
use super::{close, error_response, owner, write, HttpResponse, HttpSession, Inner, Refusal};
use crate::bus::{Heard, Listener};
use crate::event_store::MAX_EVENT_BYTES;
use crate::notifier::{Change, SessionSubscriptions};
use crate::replicas::Replicas;
use crate::session_store::{SessionRecord, MAX_SHARED_SUBSCRIPTIONS, MAX_SUBSCRIPTION_URI_BYTES};
use crate::sink::{MessageSink, Outbound};
use crate::util::lock;
use async_trait::async_trait;
use bytes::Bytes;
use http::StatusCode;
use mcp_sdk::jsonrpc::ErrorResponse;
use mcp_sdk::{
    CancelledNotificationParams, Error, ErrorCode, LoggingLevel, Message, NotificationParams,
    PromptListChangedNotificationParams, ProtocolVersion, RequestId,
    ResourceListChangedNotificationParams, ResourceUpdatedNotificationParams,
    ToolListChangedNotificationParams,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Notify, Semaphore};

/// At most one touch of a session in the store per this many milliseconds.
const TOUCH_EVERY_MS: u64 = 1000;
/// How often a standalone stream's reader looks for events when the bus
/// brought no news (a lost bus message delays an event this long at most).
const POLL: Duration = Duration::from_secs(2);
/// Events read from the store in one go.
const BATCH: usize = 64;
/// Chunks a GET connection may have queued before it counts as stalled.
const CONNECTION_QUEUE: usize = 64;
/// The id of the standalone stream in event ids (`0:<store's id>`), as the
/// in-process streams number it.
const STANDALONE_PREFIX: &str = "0:";
/// Changes being delivered to this replica's sessions at once; past it, a
/// change is not delivered here (with a warning), so a slow store cannot
/// make the bus's listener pile up work.
const DELIVERIES: usize = 64;

/// The id of a session shared by replicas, in its extensions: how a
/// [`Peer`](crate::Peer) of it is told apart in the notifier's hooks.
#[derive(Clone)]
pub(super) struct SharedSessionId(pub Arc<str>);

/// What travels on the bus between the replicas of one server.
#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The session.
    s: String,
    k: Kind,
    /// The request an answer or a cancellation is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<RequestId>,
    /// The client's answer, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<LoggingLevel>,
    /// The key a subscription's updates are announced under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Kind {
    /// The client answered our request `id` (sent by a handler elsewhere).
    Answer,
    /// The client cancelled its request `id` (running elsewhere).
    Cancel,
    /// The session was deleted: drop the local copies.
    Closed,
    /// The session's standalone stream has new events.
    Events,
    /// The client set its log level.
    Level,
    /// The session subscribed to the URI `m`, announced under the key `u`.
    Subscribed,
    /// The session unsubscribed from the URI (or key) `m`.
    Unsubscribed,
}

/// What wakes the readers of one session's standalone stream, and how many
/// readers there are.
type Doorbell = (Arc<Notify>, usize);

/// The replicas' shared state, as the transport uses it.
pub(super) struct Cluster {
    replicas: Replicas,
    /// The sessions' idle timeout, the TTL of their records.
    idle: Duration,
    /// The sessions with a standalone stream open here: what wakes their
    /// readers, and how many readers there are.
    doorbells: Mutex<HashMap<Arc<str>, Doorbell>>,
    listening: AtomicBool,
    /// Bounds the changes being delivered to sessions at once.
    deliveries: Arc<Semaphore>,
    /// One resync at a time (see [`resync`](Self::resync)).
    resyncing: Arc<tokio::sync::Mutex<()>>,
    /// A resync is waiting to start.
    resync_waiting: AtomicBool,
}

impl Cluster {
    pub fn new(replicas: Replicas, idle: Duration) -> Arc<Self> {
        Arc::new(Cluster {
            replicas,
            idle,
            doorbells: Mutex::default(),
            listening: AtomicBool::new(false),
            deliveries: Arc::new(Semaphore::new(DELIVERIES)),
            resyncing: Arc::default(),
            resync_waiting: AtomicBool::new(false),
        })
    }

    /// What the notifier tells this cluster of the sessions' subscriptions.
    pub fn subscriptions(self: &Arc<Self>, inner: Weak<Inner>) -> Arc<dyn SessionSubscriptions> {
        Arc::new(SharedSubscriptions {
            cluster: Arc::downgrade(self),
            inner,
        })
    }

    /// Starts hearing the bus, once (it needs a runtime, which the first
    /// request has): until then this replica holds no session to act on.
    pub fn listen(self: &Arc<Self>, inner: &Arc<Inner>) {
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        // Changes travel on the notifier's bus: ours, unless the server
        // attached one of its own.
        let notifier = &inner.shared.notifier;
        let _ = notifier.attach_bus(self.replicas.bus.clone());
        // On our bus, changes are heard in order with the subscriptions
        // (one listener for both, below): an update announced after an
        // unsubscribe never finds the subscription still here.
        let own_bus = notifier
            .bus()
            .is_none_or(|bus| Arc::ptr_eq(bus, &self.replicas.bus));
        if let Some(bus) = notifier.bus().filter(|_| !own_bus) {
            let mut changes = Listener::new(&**bus);
            let (cluster, weak) = (Arc::downgrade(self), Arc::downgrade(inner));
            tokio::spawn(async move {
                loop {
                    let message = match changes.next().await {
                        Heard::Message(message) => message,
                        Heard::Lost(skipped) => {
                            tracing::warn!(
                                ?skipped,
                                "replicas: lost changes of the server's bus; sessions resync"
                            );
                            if let (Some(cluster), Some(inner)) =
                                (cluster.upgrade(), weak.upgrade())
                            {
                                cluster.resync(&inner);
                            }
                            continue;
                        }
                        Heard::Closed => return,
                    };
                    let (Some(cluster), Some(inner)) = (cluster.upgrade(), weak.upgrade()) else {
                        return;
                    };
                    if let Some((name, change)) = crate::notifier::parse(&message) {
                        cluster.deliver(&inner, name, &change);
                    }
                }
            });
        }
        let inner = Arc::downgrade(inner);
        let mut inbound = Listener::new(&*self.replicas.bus);
        let cluster = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let message = match inbound.next().await {
                    Heard::Message(message) => message,
                    Heard::Lost(skipped) => {
                        tracing::warn!(?skipped, "replicas: lost messages of the bus");
                        // Changes travel on this bus too: the sessions here
                        // may have missed some, which are unknown.
                        if own_bus {
                            if let (Some(cluster), Some(inner)) =
                                (cluster.upgrade(), inner.upgrade())
                            {
                                cluster.resync(&inner);
                            }
                        }
                        continue;
                    }
                    Heard::Closed => return,
                };
                let (Some(cluster), Some(inner)) = (cluster.upgrade(), inner.upgrade()) else {
                    return;
                };
                match serde_json::from_str::<Envelope>(&message) {
                    Ok(envelope) => cluster.heard(&inner, envelope),
                    Err(_) => match crate::notifier::parse(&message) {
                        Some((name, change)) if own_bus => cluster.deliver(&inner, name, &change),
                        // Heard on the server's own bus, by the listener above.
                        Some(_) => {}
                        None => tracing::warn!("replicas: a bus message of another kind, ignored"),
                    },
                }
            }
        });
    }

    /// Acts on what another replica (or this one) said on the bus.
    fn heard(&self, inner: &Inner, envelope: Envelope) {
        if envelope.k == Kind::Events {
            if let Some((bell, _)) = lock(&self.doorbells).get(envelope.s.as_str()) {
                bell.notify_waiters();
            }
            return;
        }
        let local = super::read(&inner.sessions)
            .get(envelope.s.as_str())
            .cloned();
        let Some(hs) = local else { return };
        match (envelope.k, envelope.id, envelope.m, envelope.l) {
            (Kind::Subscribed, _, Some(uri), _) => {
                if let Some(key) = envelope.u {
                    subscribe_copy(&hs, uri, key);
                }
            }
            (Kind::Unsubscribed, _, Some(uri), _) => {
                unsubscribe_copy(&hs, &uri);
            }
            (Kind::Answer, Some(id), Some(answer), _) => {
                if hs.session.link().is_waiting_for(&id) {
                    hs.session.link().resolve(id, answer_of(&answer));
                }
            }
            (Kind::Cancel, Some(id), _, _) => hs.session.cancel(&id),
            (Kind::Closed, ..) => {
                write(&inner.sessions).remove(envelope.s.as_str());
                close(&hs);
            }
            (Kind::Level, _, _, Some(level)) => hs.session.link().set_log_level(level),
            _ => tracing::debug!("replicas: an incomplete bus message, ignored"),
        }
    }

    fn publish(&self, envelope: &Envelope) {
        publish(&self.replicas, envelope);
    }

    /// Where a session's standalone messages go: the event store.
    pub fn standalone_sink(self: &Arc<Self>, id: Arc<str>) -> Outbound {
        Arc::new(StoredStream {
            id,
            cluster: Arc::downgrade(self),
        })
    }

    /// Keeps `check` (the check value of this replica's `requestState`
    /// key) in the session store for `ttl`, unless the others keep another.
    pub async fn agree_on_key(
        &self,
        check: &str,
        ttl: Duration,
    ) -> Result<(), crate::replicas::ReplicaMismatch> {
        let kept = self
            .replicas
            .sessions
            .agree("request-state-key", check, ttl)
            .await?;
        if kept != check {
            return Err(crate::replicas::ReplicaMismatch::RequestStateKey {
                ttl_secs: ttl.as_secs(),
            });
        }
        Ok(())
    }

    /// Records a session that just opened; the refusal if it cannot be.
    pub async fn created(&self, id: &str, hs: &HttpSession) -> Result<(), Refusal> {
        let Some(client) = hs.session.client().cloned() else {
            return Ok(());
        };
        let record = SessionRecord {
            client,
            log_level: None,
            owner: hs.owner.clone(),
            created_unix_ms: unix_ms(),
            subscriptions: Vec::new(),
        };
        if let Err(e) = record.encode() {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: {e}"),
            ));
        }
        self.replicas
            .sessions
            .create(id, &record, self.idle)
            .await
            .map_err(unavailable)
    }

    /// The session `id` from the store, if the caller may use it: an
    /// unknown id and another principal's session get the same 404.
    pub async fn load(
        &self,
        id: &str,
        extensions: &http::Extensions,
    ) -> Result<SessionRecord, Refusal> {
        let record = self.replicas.sessions.load(id).await.map_err(unavailable)?;
        match record {
            Some(record) if record.owner.is_none() || record.owner == owner(extensions) => {
                Ok(record)
            }
            _ => Err(not_found()),
        }
    }

    /// Tells the store that the session is in use, at most once a second,
    /// in the background; a session the store no longer has (deleted on
    /// another replica, whose bus message was lost) is dropped here too.
    pub fn touch(self: &Arc<Self>, inner: &Arc<Inner>, hs: &Arc<HttpSession>, now_ms: u64) {
        let last = hs.store_touched.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < TOUCH_EVERY_MS
            || hs
                .store_touched
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let (cluster, inner, hs) = (self.clone(), Arc::downgrade(inner), hs.clone());
        tokio::spawn(async move {
            match cluster.replicas.sessions.touch(&hs.id, cluster.idle).await {
                Ok(true) => {}
                Ok(false) => {
                    if let Some(inner) = inner.upgrade() {
                        let mut sessions = write(&inner.sessions);
                        if sessions.get(&hs.id).is_some_and(|s| Arc::ptr_eq(s, &hs)) {
                            sessions.remove(&hs.id);
                        }
                    }
                    close(&hs);
                }
                Err(e) => tracing::warn!(error = %e, "replicas: a session could not be touched"),
            }
        });
    }

    /// Sends `msg` (from the client, for session `hs`) to the replica it
    /// concerns, when that is not this one: an answer to a request a
    /// handler elsewhere sent, or the cancellation of a request running
    /// elsewhere. `true` when it went to the bus.
    pub fn forward(&self, hs: &HttpSession, msg: &Message) -> bool {
        let link = hs.session.link();
        let (kind, id, answer) = match msg {
            Message::Response(r) if !link.is_waiting_for(&r.id) => {
                (Kind::Answer, r.id.clone(), Some(json(msg)))
            }
            Message::Error(ErrorResponse { id: Some(id), .. }) if !link.is_waiting_for(id) => {
                (Kind::Answer, id.clone(), Some(json(msg)))
            }
            Message::Notification(n) if n.method == "notifications/cancelled" => {
                let Some(id) = n
                    .params
                    .clone()
                    .and_then(|p| serde_json::from_value::<CancelledNotificationParams>(p).ok())
                    .map(|p| p.request_id)
                else {
                    return false;
                };
                if hs.session.is_running(&id) {
                    return false;
                }
                (Kind::Cancel, id, None)
            }
            _ => return false,
        };
        let mut envelope = Envelope {
            s: hs.id.to_string(),
            k: kind,
            id: Some(id.clone()),
            m: answer,
            l: None,
            u: None,
        };
        let size = envelope.m.as_ref().map_or(0, String::len);
        if size > crate::bus::MAX_MESSAGE_BYTES - 1024 {
            // Past the bus's bound the answer cannot travel: the handler
            // gets an error saying why, at once, rather than a timeout.
            let error = Error::internal(format_args!(
                "the client's answer ({size} bytes) reached another replica than the \
                 request's, and answers forwarded between replicas may be at most {} bytes",
                crate::bus::MAX_MESSAGE_BYTES - 1024
            ));
            envelope.m = Some(json(&Message::error(Some(id), error)));
        }
        self.publish(&envelope);
        true
    }

    /// Writes the client's new log level through to the store and the
    /// other replicas' copies.
    pub async fn level_changed(&self, hs: &HttpSession) {
        let Some(level) = hs.session.link().log_level() else {
            return;
        };
        if let Err(e) = self.replicas.sessions.set_log_level(&hs.id, level).await {
            tracing::warn!(error = %e, "replicas: the log level could not be stored");
        }
        self.publish(&Envelope {
            s: hs.id.to_string(),
            k: Kind::Level,
            id: None,
            m: None,
            l: Some(level),
            u: None,
        });
    }

    /// `DELETE` of the session `id`, wherever it was opened.
    pub async fn delete(
        &self,
        inner: &Inner,
        id: &str,
        extensions: &http::Extensions,
    ) -> HttpResponse {
        if let Err(refusal) = self.load(id, extensions).await {
            return *refusal;
        }
        if let Err(e) = self.replicas.sessions.remove(id).await {
            return *unavailable(e);
        }
        let _ = self.replicas.events.remove(id).await;
        if let Some(hs) = write(&inner.sessions).remove(id) {
            close(&hs);
        }
        // Taken by the bus before the client hears of it: its next request,
        // on a replica holding a copy, finds the session gone (404).
        let closed = Envelope {
            s: id.to_owned(),
            k: Kind::Closed,
            id: None,
            m: None,
            l: None,
            u: None,
        };
        match serde_json::to_string(&closed) {
            Ok(text) => self.replicas.bus.publish_now(&text).await,
            Err(e) => tracing::warn!(error = %e, "replicas: a bus message did not encode"),
        }
        super::empty_response(StatusCode::OK)
    }

    /// Whether `last_event_id` names an event of a standalone stream
    /// (which this module serves).
    pub fn is_standalone_event(last_event_id: &str) -> bool {
        last_event_id.trim().starts_with(STANDALONE_PREFIX)
    }

    /// Opens the session's standalone stream on a GET connection: the
    /// events after `last_event_id` (with one), else those sent from now
    /// on, after a priming event with the hint `retry` for clients of
    /// 2025-11-25 on, as in one process: an event id and no data, so that
    /// a stream cut before its first message resumes, on any replica, from
    /// there.
    pub async fn open_standalone(
        self: &Arc<Self>,
        hs: Arc<HttpSession>,
        last_event_id: Option<&str>,
        retry: Duration,
        epoch: std::time::Instant,
    ) -> Result<mpsc::Receiver<Bytes>, Refusal> {
        let primes = hs
            .session
            .client()
            .is_some_and(|c| c.protocol_version >= ProtocolVersion::V2025_11_25);
        let events = &self.replicas.events;
        let after = match last_event_id {
            Some(last) => {
                let after = last.trim()[STANDALONE_PREFIX.len()..].to_owned();
                // Checked now, so that a gap is a 410 and not a stream
                // that ends at once.
                match events.after(&hs.id, Some(&after), 0).await {
                    Ok(Some(_)) => Some(after),
                    Ok(None) => return Err(Box::new(super::resumption_gone(last))),
                    Err(e) => return Err(unavailable(e)),
                }
            }
            None => events.last(&hs.id).await.map_err(unavailable)?,
        };
        let (after, primed) = match last_event_id {
            None if primes => {
                // The id must name a stored event for any replica to resume
                // from it: the stream's last, or an empty one stored now
                // (its other readers, if any, get a priming event too).
                let id = match after {
                    Some(last) => last,
                    None => events.append(&hs.id, "").await.map_err(unavailable)?,
                };
                let event = format!(
                    "id: {STANDALONE_PREFIX}{id}\nretry: {}\ndata: \n\n",
                    retry.as_millis()
                );
                (Some(id), Some(Bytes::from(event)))
            }
            _ => (after, None),
        };
        let name = hs.id.clone();
        let reader = (Form::Standalone, primed);
        Ok(self.spawn_reader(hs, name, reader, after, epoch))
    }

    /// Resumes, on a GET connection, the request stream that `last_event_id`
    /// (`S:N`) names, opened on another replica: the events after N, then
    /// those still to come, until its answer. A stream of another session,
    /// or one whose events after N are no longer all kept, is a 410 as in
    /// one process.
    pub async fn resume_request_stream(
        self: &Arc<Self>,
        hs: Arc<HttpSession>,
        last_event_id: &str,
        epoch: std::time::Instant,
    ) -> Result<mpsc::Receiver<Bytes>, Refusal> {
        let gone = || Box::new(super::resumption_gone(last_event_id));
        let Some((stream, seq)) = super::streams::parse_event_id(last_event_id) else {
            return Err(gone());
        };
        let name: Arc<str> = Arc::from(request_stream_name(&hs.id, stream));
        let kept = self
            .replicas
            .events
            .after(&name, None, KEPT_REQUEST_EVENTS)
            .await
            .map_err(unavailable)?
            .unwrap_or_default();
        // The events after N must all be kept: N itself, or N + 1 first.
        let first = kept
            .first()
            .and_then(|(_, data)| numbered(data))
            .map(|(n, _)| n);
        let has_n = kept
            .iter()
            .any(|(_, data)| numbered(data).is_some_and(|(n, _)| n == seq));
        if !(has_n || first == Some(seq + 1)) {
            return Err(gone());
        }
        // Resumed from the event before N + 1 in the store (or from its start).
        let after = kept
            .iter()
            .take_while(|(_, data)| numbered(data).is_some_and(|(n, _)| n <= seq))
            .last()
            .map(|(id, _)| id.clone());
        Ok(self.spawn_reader(hs, name, (Form::Request(stream), None), after, epoch))
    }

    /// Reads the stored stream `name` after `after` onto a new connection
    /// (after its `first` event, if any), in the background, woken by the
    /// bus.
    fn spawn_reader(
        self: &Arc<Self>,
        hs: Arc<HttpSession>,
        name: Arc<str>,
        (form, first): (Form, Option<Bytes>),
        after: Option<String>,
        epoch: std::time::Instant,
    ) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        if let Some(first) = first {
            // The new connection's queue is empty: it fits.
            let _ = tx.try_send(first);
        }
        let bell = {
            let mut bells = lock(&self.doorbells);
            let (bell, readers) = bells.entry(name.clone()).or_default();
            *readers += 1;
            bell.clone()
        };
        let cluster = self.clone();
        tokio::spawn(async move {
            let reader = Reader {
                name: &name,
                form,
                bell,
                tx,
                epoch,
            };
            cluster.read_stream(&hs, reader, after).await;
            let mut bells = lock(&cluster.doorbells);
            if let Some((_, readers)) = bells.get_mut(&name) {
                *readers -= 1;
                if *readers == 0 {
                    bells.remove(&name);
                }
            }
        });
        rx
    }

    /// Copies the events of the session's request streams (which `tee`
    /// gets) to the event store, in order, in the background, and wakes
    /// the readers elsewhere of those whose connection here is gone.
    pub fn share_request_streams(self: &Arc<Self>, session: Arc<str>) -> mpsc::Sender<Teed> {
        let (tee, mut teed) = mpsc::channel::<Teed>(TEE_QUEUE);
        let cluster = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(event) = teed.recv().await {
                let Some(cluster) = cluster.upgrade() else {
                    return;
                };
                let data = match &event.data {
                    Some(data) if data.len() > MAX_EVENT_BYTES => {
                        tracing::warn!(
                            bytes = data.len(),
                            "replicas: an event too large to share, left out"
                        );
                        continue;
                    }
                    Some(data) => format!("{} {}", event.seq, String::from_utf8_lossy(data)),
                    None => format!("{} {END}", event.seq),
                };
                let name = request_stream_name(&session, event.stream);
                match cluster.replicas.events.append(&name, &data).await {
                    Ok(_) if event.unseen => cluster.rang(&name),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "replicas: a request stream's event could not be shared")
                    }
                }
            }
        });
        tee
    }

    /// Hands the stream's events after `after` to the reader's connection
    /// until it goes, the session closes, a request stream ends, or the
    /// events it needs are gone.
    async fn read_stream(&self, hs: &HttpSession, reader: Reader<'_>, mut after: Option<String>) {
        let Reader {
            name,
            form,
            bell,
            tx,
            epoch,
        } = reader;
        let closed = hs.session.link().closed().clone();
        loop {
            let rung = bell.notified();
            tokio::pin!(rung);
            rung.as_mut().enable();
            // The connection keeps the session in use, as an open stream
            // does in one process.
            hs.last_seen
                .store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            let mut full = false;
            match self
                .replicas
                .events
                .after(name, after.as_deref(), BATCH)
                .await
            {
                Ok(Some(events)) => {
                    full = events.len() == BATCH;
                    for (id, data) in events {
                        let event = match form {
                            Form::Standalone => {
                                format!("id: {STANDALONE_PREFIX}{id}\ndata: {data}\n\n")
                            }
                            Form::Request(stream) => match numbered(&data) {
                                // The stream's answer was its last event.
                                Some((_, END)) => return,
                                Some((n, data)) => format!("id: {stream}:{n}\ndata: {data}\n\n"),
                                None => {
                                    after = Some(id);
                                    continue;
                                }
                            },
                        };
                        if tx.try_send(Bytes::from(event)).is_err() {
                            // Gone or stalled: the client resumes with
                            // Last-Event-ID.
                            return;
                        }
                        after = Some(id);
                    }
                }
                // Trimmed away while we read: the client resumes and learns.
                Ok(None) if after.is_some() => return,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "replicas: a stream's events could not be read")
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = &mut rung => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = tx.closed() => return,
                _ = closed.cancelled() => return,
            }
        }
    }

    /// A message for the standalone stream of session `id`: kept in the
    /// event store, and the replicas are told.
    async fn append(&self, id: &str, msg: &Message) -> Result<(), Error> {
        let stored = append_standalone(&self.replicas, id, msg)
            .await
            .map_err(|e| Error::new(ErrorCode::CONNECTION_CLOSED, e.to_string()))?;
        if stored {
            // This replica's readers need not wait for the bus.
            self.ring_here(id);
        }
        Ok(())
    }
}

impl Cluster {
    /// Delivers the change `name` to the sessions this replica holds a
    /// copy of that want it (every session a list change; the sessions
    /// subscribed to its key a resource update), each stream once however
    /// many replicas deliver it. In the background, a bounded number at once.
    fn deliver(self: &Arc<Self>, inner: &Arc<Inner>, name: String, change: &Change) {
        if *change == Change::Resync {
            return self.resync(inner);
        }
        // Built once for every session it goes to.
        let list = list_changed(change);
        let mut targets: Vec<(Arc<str>, String, Message)> = Vec::new();
        for hs in super::read(&inner.sessions).values() {
            if hs.session.client().is_none() || hs.session.link().is_closed() {
                continue;
            }
            match (change, &list) {
                (_, Some(msg)) => targets.push((hs.id.clone(), name.clone(), msg.clone())),
                (Change::ResourceUpdated(key), None) => {
                    let uris: Vec<String> = lock(&hs.subscriptions)
                        .iter()
                        .filter(|(_, k)| **k == **key)
                        .map(|(u, _)| u.clone())
                        .collect();
                    for uri in uris {
                        let token = format!("{name}:{}", digest(&uri));
                        targets.push((hs.id.clone(), token, resource_updated(uri)));
                    }
                }
                _ => {}
            }
        }
        if targets.is_empty() {
            return;
        }
        let Ok(turn) = self.deliveries.clone().try_acquire_owned() else {
            tracing::warn!("replicas: too many changes being delivered, one skipped here");
            return;
        };
        let cluster = self.clone();
        tokio::spawn(async move {
            let _turn = turn;
            for (id, token, msg) in targets {
                if let Err(e) = cluster.append_once(&id, &msg, &token).await {
                    tracing::warn!(error = %e, "replicas: a change could not be delivered");
                }
            }
        });
    }

    /// Tells every session held here of every change it may have missed
    /// (this replica fell behind the bus, so some changes never reached it,
    /// and which is unknown): each list change the server declares
    /// `listChanged` for, and `notifications/resources/updated` for each URI
    /// the session is subscribed to. The notifications carry nothing but
    /// their kind (and URI): the client reads again, as it would have after
    /// the missed ones, rather than believe it heard of every change.
    ///
    /// In the background, one resync at a time, and at most one more
    /// waiting: a resync tells of everything as it starts, so the one
    /// waiting covers every lag until then (each lag spawned one before,
    /// and a bus that kept outrunning a slow store piled them up).
    fn resync(self: &Arc<Self>, inner: &Arc<Inner>) {
        if self.resync_waiting.swap(true, Ordering::AcqRel) {
            return; // the one waiting starts after this lag
        }
        let (cluster, inner) = (self.clone(), Arc::downgrade(inner));
        tokio::spawn(async move {
            let _alone = cluster.resyncing.clone().lock_owned().await;
            // It waits its turn rather than be skipped as a change is: it
            // is what makes up for the skipped ones.
            let Ok(_turn) = cluster.deliveries.clone().acquire_owned().await else {
                return;
            };
            // Lags from now on need another.
            cluster.resync_waiting.store(false, Ordering::Release);
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let targets = resync_targets(&inner);
            drop(inner);
            for (id, token, msg) in targets {
                if let Err(e) = cluster.append_once(&id, &msg, &token).await {
                    tracing::warn!(error = %e, "replicas: a resync could not be delivered");
                }
            }
        });
    }

    /// Like [`append`](Self::append), unless a replica appended the same
    /// `token` to the stream first.
    async fn append_once(&self, id: &str, msg: &Message, token: &str) -> Result<(), Error> {
        let data = json(msg);
        if data.len() > MAX_EVENT_BYTES {
            return Ok(());
        }
        let appended = self
            .replicas
            .events
            .append_once(id, &data, token)
            .await
            .map_err(|e| Error::new(ErrorCode::CONNECTION_CLOSED, e.to_string()))?;
        if appended.is_some() {
            self.rang(id);
        }
        Ok(())
    }

    /// Wakes the readers of the standalone stream of session `id`, here and
    /// on the other replicas.
    fn rang(&self, id: &str) {
        self.ring_here(id);
        self.publish(&events_of(id));
    }

    /// Wakes this replica's readers of the standalone stream of session `id`.
    fn ring_here(&self, id: &str) {
        if let Some((bell, _)) = lock(&self.doorbells).get(id) {
            bell.notify_waiters();
        }
    }
}

/// What a resync (see `Cluster::resync`) appends to the standalone
/// streams of the sessions held here: (session, token, notification).
fn resync_targets(inner: &Inner) -> Vec<(Arc<str>, String, Message)> {
    let caps = inner.shared.capabilities();
    let declared = [
        (
            Change::Tools,
            caps.tools.as_ref().and_then(|t| t.list_changed),
        ),
        (
            Change::Prompts,
            caps.prompts.as_ref().and_then(|p| p.list_changed),
        ),
        (
            Change::Resources,
            caps.resources.as_ref().and_then(|r| r.list_changed),
        ),
    ];
    let lists: Vec<Message> = declared
        .iter()
        .filter(|(_, list_changed)| *list_changed == Some(true))
        .filter_map(|(change, _)| list_changed(change))
        .collect();
    // Named for this resync alone: no replica delivered these.
    let name = format!("resync.{}", uuid::Uuid::new_v4());
    let mut targets = Vec::new();
    for hs in super::read(&inner.sessions).values() {
        if hs.session.client().is_none() || hs.session.link().is_closed() {
            continue;
        }
        for (i, msg) in lists.iter().enumerate() {
            targets.push((hs.id.clone(), format!("{name}:{i}"), msg.clone()));
        }
        let uris: std::collections::BTreeSet<String> = lock(&hs.subscriptions)
            .iter()
            .map(|(u, _)| u.clone())
            .collect();
        for uri in uris {
            let token = format!("{name}:{}", digest(&uri));
            targets.push((hs.id.clone(), token, resource_updated(uri)));
        }
    }
    targets
}

/// Sends the notification `message` to the standalone stream of the
/// session `id` of the replicas sharing `replicas`, wherever the client
/// holds its GET stream (or resumes it): for news a replica learns for
/// sessions it may not hold, such as a gateway's resource updates for the
/// sessions subscribed through any replica. `Ok(false)` when the store has
/// no such session (closed or expired): nothing is sent.
pub async fn notify_session(
    replicas: &Replicas,
    id: &str,
    message: &Message,
) -> Result<bool, crate::session_store::StoreError> {
    if replicas.sessions.load(id).await?.is_none() {
        return Ok(false);
    }
    append_standalone(replicas, id, message).await?;
    Ok(true)
}

/// Keeps `msg` for the standalone stream of session `id` in the event
/// store and tells every replica (whose readers of that stream wake up);
/// whether it was kept (a message too large for a stream is dropped, with
/// a warning, as in one process).
pub(crate) async fn append_standalone(
    replicas: &Replicas,
    id: &str,
    msg: &Message,
) -> Result<bool, crate::session_store::StoreError> {
    let data = json(msg);
    if data.len() > MAX_EVENT_BYTES {
        tracing::warn!(
            bytes = data.len(),
            "replicas: a message too large for the standalone stream, dropped"
        );
        return Ok(false);
    }
    replicas.events.append(id, &data).await?;
    publish(replicas, &events_of(id));
    Ok(true)
}

/// The bus message that wakes every replica's readers of session `id`'s
/// standalone stream.
fn events_of(id: &str) -> Envelope {
    Envelope {
        s: id.to_owned(),
        k: Kind::Events,
        id: None,
        m: None,
        l: None,
        u: None,
    }
}

fn publish(replicas: &Replicas, envelope: &Envelope) {
    match serde_json::to_string(envelope) {
        Ok(text) => replicas.bus.publish(&text),
        Err(e) => tracing::warn!(error = %e, "replicas: a bus message did not encode"),
    }
}

/// Notification params as JSON.
fn params<T: Serialize>(p: &T) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or_default()
}

/// A short, stable name for `uri` in a delivery's token.
fn digest(uri: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(uri.as_bytes());
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds the subscription to `uri` (under `key`) to a session's copy.
fn subscribe_copy(hs: &HttpSession, uri: String, key: String) {
    let mut subs = lock(&hs.subscriptions);
    if let Some(i) = subs.iter().position(|(u, _)| *u == uri) {
        subs[i].1 = key;
    } else if subs.len() < MAX_SHARED_SUBSCRIPTIONS {
        subs.push((uri, key));
    }
}

/// Removes from a session's copy its subscriptions to `uri` (as the client
/// wrote it, or as its key), as the router does; gives their URIs.
fn unsubscribe_copy(hs: &HttpSession, uri: &str) -> Vec<String> {
    let mut gone = Vec::new();
    lock(&hs.subscriptions).retain(|(u, k)| {
        let keep = u != uri && k != uri;
        if !keep {
            gone.push(u.clone());
        }
        keep
    });
    gone
}

/// The cluster, a shared session's id, and its copy here if there is one.
type SharedSession = (Arc<Cluster>, Arc<str>, Option<Arc<HttpSession>>);

/// The notifier's hooks for the sessions' subscriptions: kept in the
/// session store, and told to the other replicas' copies.
#[derive(Debug)]
struct SharedSubscriptions {
    cluster: Weak<Cluster>,
    inner: Weak<Inner>,
}

impl SharedSubscriptions {
    /// The cluster, the session's id and its copy here, for a peer of a
    /// shared session.
    fn of(&self, peer: &crate::Peer) -> Option<SharedSession> {
        let SharedSessionId(id) = peer.session_extensions().get::<SharedSessionId>()?;
        let cluster = self.cluster.upgrade()?;
        let copy = self
            .inner
            .upgrade()
            .and_then(|inner| super::read(&inner.sessions).get(&id).cloned());
        Some((cluster, id, copy))
    }
}

#[async_trait]
impl SessionSubscriptions for SharedSubscriptions {
    async fn subscribed(&self, peer: &crate::Peer, key: &str, uri: &str) -> Result<(), Error> {
        let Some((cluster, id, copy)) = self.of(peer) else {
            return Ok(());
        };
        if uri.len() > MAX_SUBSCRIPTION_URI_BYTES || key.len() > MAX_SUBSCRIPTION_URI_BYTES {
            return Err(Error::invalid_params(format_args!(
                "a URI of a subscription may be at most {MAX_SUBSCRIPTION_URI_BYTES} bytes"
            )));
        }
        let full = copy.as_ref().is_some_and(|hs| {
            let subs = lock(&hs.subscriptions);
            subs.len() >= MAX_SHARED_SUBSCRIPTIONS && !subs.iter().any(|(u, _)| u == uri)
        });
        if full {
            return Err(Error::invalid_params(format_args!(
                "this session already holds {MAX_SHARED_SUBSCRIPTIONS} subscriptions, \
                 the most a session may; unsubscribe from some first"
            )));
        }
        match cluster.replicas.sessions.subscribe(&id, uri, key).await {
            Ok(true) => {}
            Ok(false) => return Err(Error::invalid_request("the session is closed")),
            Err(e) => {
                return Err(Error::internal(format_args!(
                    "the subscription could not be shared with the server's other replicas: {e}"
                )))
            }
        }
        if let Some(hs) = &copy {
            subscribe_copy(hs, uri.to_owned(), key.to_owned());
        }
        cluster.publish(&Envelope {
            s: id.to_string(),
            k: Kind::Subscribed,
            id: None,
            m: Some(uri.to_owned()),
            l: None,
            u: Some(key.to_owned()),
        });
        Ok(())
    }

    async fn unsubscribed(&self, peer: &crate::Peer, uri: &str) -> Result<(), Error> {
        let Some((cluster, id, copy)) = self.of(peer) else {
            return Ok(());
        };
        let mut gone = copy
            .map(|hs| unsubscribe_copy(&hs, uri))
            .unwrap_or_default();
        if !gone.iter().any(|u| u == uri) {
            gone.push(uri.to_owned());
        }
        cluster
            .replicas
            .sessions
            .unsubscribe(&id, &gone)
            .await
            .map_err(|e| {
                Error::internal(format_args!(
                    "the subscription could not be ended on the server's other replicas: {e}"
                ))
            })?;
        cluster.publish(&Envelope {
            s: id.to_string(),
            k: Kind::Unsubscribed,
            id: None,
            m: Some(uri.to_owned()),
            l: None,
            u: None,
        });
        Ok(())
    }
}

/// How the events of a stored stream are shown to the client.
#[derive(Clone, Copy)]
enum Form {
    /// The standalone stream: ids `0:{store id}`.
    Standalone,
    /// Request stream S, whose stored events are `"{N} {data}"`: ids `S:N`,
    /// the stream ending at [`END`].
    Request(u64),
}

/// A reader of a stored stream and where it writes.
struct Reader<'a> {
    name: &'a str,
    form: Form,
    bell: Arc<Notify>,
    tx: mpsc::Sender<Bytes>,
    epoch: std::time::Instant,
}

/// The data of the stored event after a request stream's answer.
const END: &str = "end";
/// How many events of a request stream are looked at to resume it.
const KEPT_REQUEST_EVENTS: usize = crate::event_store::DEFAULT_KEEP_EVENTS + 1;
/// Events of request streams waiting to be copied to the store, per session.
const TEE_QUEUE: usize = 256;

/// The name in the event store of request stream `stream` of `session`.
fn request_stream_name(session: &str, stream: u64) -> String {
    format!("{session}~{stream}")
}

/// A request stream's stored event: its number and data.
fn numbered(data: &str) -> Option<(u64, &str)> {
    let (n, data) = data.split_once(' ')?;
    Some((n.parse().ok()?, data))
}

/// The standalone stream of a session shared by replicas, as a message
/// destination.
struct StoredStream {
    id: Arc<str>,
    cluster: Weak<Cluster>,
}

#[async_trait]
impl MessageSink for StoredStream {
    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        let Some(cluster) = self.cluster.upgrade() else {
            return Err(msg);
        };
        match cluster.append(&self.id, &msg).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "replicas: a standalone message could not be stored");
                Err(msg)
            }
        }
    }
}

/// The client's answer (a response or an error) as a request's outcome.
fn answer_of(json: &str) -> Result<serde_json::Value, Error> {
    match mcp_sdk::jsonrpc::decode(json.as_bytes()) {
        Ok(Message::Response(r)) => Ok(r.result),
        Ok(Message::Error(e)) => Err(e.error),
        _ => Err(Error::internal("a forwarded answer that is not one")),
    }
}

/// A message as JSON text (serde's output is UTF-8).
fn json(msg: &Message) -> String {
    String::from_utf8_lossy(&msg.to_vec()).into_owned()
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn refusal(status: StatusCode, message: &str) -> Refusal {
    Box::new(error_response(status, message))
}

fn not_found() -> Refusal {
    refusal(
        StatusCode::NOT_FOUND,
        "Not Found: no such session (expired or closed)",
    )
}

/// The store failed: the request may succeed later (503).
fn unavailable(e: crate::session_store::StoreError) -> Refusal {
    tracing::warn!(error = %e, "replicas: the shared session store failed");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("Service Unavailable: the sessions shared by this server's replicas cannot be reached ({e})"),
    )
}

/// The notification of a list change; `None` for the other changes.
fn list_changed(change: &Change) -> Option<Message> {
    let (method, params) = match change {
        Change::Tools => (
            ToolListChangedNotificationParams::METHOD,
            params(&ToolListChangedNotificationParams::default()),
        ),
        Change::Prompts => (
            PromptListChangedNotificationParams::METHOD,
            params(&PromptListChangedNotificationParams::default()),
        ),
        Change::Resources => (
            ResourceListChangedNotificationParams::METHOD,
            params(&ResourceListChangedNotificationParams::default()),
        ),
        Change::ResourceUpdated(_) | Change::Resync => return None,
    };
    Some(Message::notification(method, Some(params)))
}

/// `notifications/resources/updated` of `uri`.
fn resource_updated(uri: String) -> Message {
    let updated = ResourceUpdatedNotificationParams::new(uri);
    Message::notification(
        ResourceUpdatedNotificationParams::METHOD,
        Some(params(&updated)),
    )
}
