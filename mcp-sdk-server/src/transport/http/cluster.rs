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
//!   sessions, log levels, and the news that a stream has new events.

use super::{close, error_response, owner, write, HttpResponse, HttpSession, Inner, Refusal};
use crate::event_store::MAX_EVENT_BYTES;
use crate::replicas::Replicas;
use crate::session_store::SessionRecord;
use crate::sink::{MessageSink, Outbound};
use crate::util::lock;
use async_trait::async_trait;
use bytes::Bytes;
use http::StatusCode;
use mcp_sdk::jsonrpc::ErrorResponse;
use mcp_sdk::{CancelledNotificationParams, Error, ErrorCode, LoggingLevel, Message, RequestId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

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
}

impl Cluster {
    pub fn new(replicas: Replicas, idle: Duration) -> Arc<Self> {
        Arc::new(Cluster {
            replicas,
            idle,
            doorbells: Mutex::default(),
            listening: AtomicBool::new(false),
        })
    }

    /// Starts hearing the bus, once (it needs a runtime, which the first
    /// request has): until then this replica holds no session to act on.
    pub fn listen(self: &Arc<Self>, inner: Weak<Inner>) {
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut inbound = self.replicas.bus.subscribe();
        let cluster = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let message = match inbound.recv().await {
                    Ok(message) => message,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "replicas: fell behind the bus");
                        continue;
                    }
                    Err(_) => return,
                };
                let (Some(cluster), Some(inner)) = (cluster.upgrade(), inner.upgrade()) else {
                    return;
                };
                match serde_json::from_str::<Envelope>(&message) {
                    Ok(envelope) => cluster.heard(&inner, envelope),
                    Err(_) => tracing::warn!("replicas: a bus message of another kind, ignored"),
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
        match serde_json::to_string(envelope) {
            Ok(text) => self.replicas.bus.publish(&text),
            Err(e) => tracing::warn!(error = %e, "replicas: a bus message did not encode"),
        }
    }

    /// Where a session's standalone messages go: the event store.
    pub fn standalone_sink(self: &Arc<Self>, id: Arc<str>) -> Outbound {
        Arc::new(StoredStream {
            id,
            cluster: Arc::downgrade(self),
        })
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
        self.publish(&Envelope {
            s: id.to_owned(),
            k: Kind::Closed,
            id: None,
            m: None,
            l: None,
        });
        super::empty_response(StatusCode::OK)
    }

    /// Whether `last_event_id` names an event of a standalone stream
    /// (which this module serves).
    pub fn is_standalone_event(last_event_id: &str) -> bool {
        last_event_id.trim().starts_with(STANDALONE_PREFIX)
    }

    /// Opens the session's standalone stream on a GET connection: the
    /// events after `last_event_id` (with one), else those sent from now
    /// on.
    pub async fn open_standalone(
        self: &Arc<Self>,
        hs: Arc<HttpSession>,
        last_event_id: Option<&str>,
        epoch: std::time::Instant,
    ) -> Result<mpsc::Receiver<Bytes>, Refusal> {
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
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let bell = {
            let mut bells = lock(&self.doorbells);
            let (bell, readers) = bells.entry(hs.id.clone()).or_default();
            *readers += 1;
            bell.clone()
        };
        let cluster = self.clone();
        tokio::spawn(async move {
            cluster.read_stream(&hs, after, bell, tx, epoch).await;
            let mut bells = lock(&cluster.doorbells);
            if let Some((_, readers)) = bells.get_mut(&hs.id) {
                *readers -= 1;
                if *readers == 0 {
                    bells.remove(&hs.id);
                }
            }
        });
        Ok(rx)
    }

    /// Hands the stream's events after `after` to the connection `tx`
    /// until it goes, the session closes, or the events it needs are gone.
    async fn read_stream(
        &self,
        hs: &HttpSession,
        mut after: Option<String>,
        bell: Arc<Notify>,
        tx: mpsc::Sender<Bytes>,
        epoch: std::time::Instant,
    ) {
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
                .after(&hs.id, after.as_deref(), BATCH)
                .await
            {
                Ok(Some(events)) => {
                    full = events.len() == BATCH;
                    for (id, data) in events {
                        let event =
                            Bytes::from(format!("id: {STANDALONE_PREFIX}{id}\ndata: {data}\n\n"));
                        if tx.try_send(event).is_err() {
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
        let data = json(msg);
        if data.len() > MAX_EVENT_BYTES {
            tracing::warn!(
                bytes = data.len(),
                "replicas: a message too large for the standalone stream, dropped"
            );
            return Ok(());
        }
        self.replicas
            .events
            .append(id, &data)
            .await
            .map_err(|e| Error::new(ErrorCode::CONNECTION_CLOSED, e.to_string()))?;
        if let Some((bell, _)) = lock(&self.doorbells).get(id) {
            bell.notify_waiters();
        }
        self.publish(&Envelope {
            s: id.to_owned(),
            k: Kind::Events,
            id: None,
            m: None,
            l: None,
        });
        Ok(())
    }
}

/// The standalone stream of a session shared by replicas, as a message
/// destination.
struct StoredStream {
    id: Arc<str>,
    cluster: Weak<Cluster>,
}

#[async_trait]
impl MessageSink for StoredStream {
    async fn send(&self, msg: Message) -> Result<(), Message> {
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
