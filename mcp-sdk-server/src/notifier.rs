//! `subscriptions/listen` (2026-07-28): long-lived requests whose response
//! stream carries the change notifications the client opted in to, and the
//! [`Notifier`] that feeds them, across replicas when it has a
//! [`MessageBus`](crate::bus::MessageBus).

use crate::bus::{Heard, MessageBus, MAX_MESSAGE_BYTES};
use crate::sink::Outbound;
use futures_util::future::BoxFuture;
use mcp_sdk::{
    Error, Message, NotificationParams, PromptListChangedNotificationParams, RequestId,
    ResourceListChangedNotificationParams, ResourceUpdatedNotificationParams, ServerCapabilities,
    SubscriptionFilter, SubscriptionsAcknowledgedNotificationParams, SubscriptionsListenParams,
    ToolListChangedNotificationParams, SUBSCRIPTION_ID_META_KEY,
};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Changes a stream can carry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Tools,
    Prompts,
    Resources,
    ResourceUpdated(Arc<str>),
    /// Changes may have been lost on their way here (a receiver of the bus
    /// fell behind it): every stream tells its client once of everything it
    /// watches, as a stream that fell behind does.
    Resync,
}

/// Announces changes to every open `subscriptions/listen` stream whose
/// filter asks for them. Cheap to clone; take it from
/// [`RequestContext::notifier`](crate::RequestContext::notifier) or from the
/// transport (`StreamableHttpService::notifier`).
#[derive(Clone, Debug)]
pub struct Notifier {
    tx: broadcast::Sender<Change>,
    closed: CancellationToken,
    /// Set by [`capabilities_changed`](Notifier::capabilities_changed),
    /// taken by the transports before the next request.
    capabilities_changed: Arc<AtomicBool>,
    /// The resource URIs open streams watch, with how many streams watch
    /// each; the key set is published on `watched_tx`.
    watched: Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
    watched_tx: Arc<tokio::sync::watch::Sender<BTreeSet<String>>>,
    /// Where changes go to the other replicas, once attached.
    bus: Arc<OnceLock<Arc<dyn MessageBus>>>,
    /// This notifier's name on the bus, so it skips its own messages.
    origin: Arc<str>,
    /// Numbers the changes this notifier sends on the bus: with `origin`,
    /// a change's name on every replica.
    sequence: Arc<std::sync::atomic::AtomicU64>,
    /// Set by a transport that delivers changes to sessions itself (the
    /// sessions of replicas): it learns of their subscriptions here.
    sessions: Arc<OnceLock<Arc<dyn SessionSubscriptions>>>,
    /// What the server does before a stream watching resources is
    /// acknowledged (see [`Notifier::watch_before_acknowledging`]).
    watcher: Arc<WatcherSlot>,
}

/// Starts watching the URIs of a stream about to be acknowledged.
type Watcher = Arc<dyn Fn(Vec<String>) -> BoxFuture<'static, ()> + Send + Sync>;

/// The server's [`Watcher`], if it set one.
#[derive(Default)]
struct WatcherSlot(std::sync::RwLock<Option<Watcher>>);

impl std::fmt::Debug for WatcherSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.0.read().map(|w| w.is_some()).unwrap_or_default();
        f.debug_struct("WatcherSlot").field("set", &set).finish()
    }
}

/// What a transport that shares sessions between replicas learns of their
/// `resources/subscribe` subscriptions, so that an update announced on any
/// replica reaches them; once set (see
/// [`Notifier::deliver_to_sessions`]), the transport also delivers every
/// change to the sessions, not the [`Announcer`](crate::router::Announcer).
#[async_trait::async_trait]
pub(crate) trait SessionSubscriptions: Send + Sync + std::fmt::Debug {
    /// `peer`'s session subscribed to `uri`, announced under `key`.
    async fn subscribed(&self, peer: &crate::Peer, key: &str, uri: &str) -> Result<(), Error>;
    /// `peer`'s session unsubscribed from `uri` (as it wrote it, or as its key).
    async fn unsubscribed(&self, peer: &crate::Peer, uri: &str) -> Result<(), Error>;
}

/// How many changes may wait for a slow stream before it falls behind.
/// A stream that fell behind does not skip changes silently: it tells its
/// client once of every kind and URI it watches (see [`everything`]).
const BACKLOG: usize = 256;

impl Default for Notifier {
    fn default() -> Self {
        Notifier {
            tx: broadcast::channel(BACKLOG).0,
            closed: CancellationToken::new(),
            capabilities_changed: Arc::default(),
            watched: Arc::default(),
            watched_tx: Arc::new(tokio::sync::watch::channel(BTreeSet::new()).0),
            bus: Arc::default(),
            origin: Arc::from(uuid::Uuid::new_v4().to_string()),
            sequence: Arc::default(),
            sessions: Arc::default(),
            watcher: Arc::default(),
        }
    }
}

impl Notifier {
    /// `notifications/tools/list_changed`, to streams with `toolsListChanged`.
    pub fn tool_list_changed(&self) {
        self.announce(Change::Tools);
    }

    /// `notifications/prompts/list_changed`, to streams with `promptsListChanged`.
    pub fn prompt_list_changed(&self) {
        self.announce(Change::Prompts);
    }

    /// `notifications/resources/list_changed`, to streams with `resourcesListChanged`.
    pub fn resource_list_changed(&self) {
        self.announce(Change::Resources);
    }

    /// `notifications/resources/updated`, to streams subscribed to `uri`.
    pub fn resource_updated(&self, uri: &str) {
        self.announce(Change::ResourceUpdated(Arc::from(uri)));
    }

    /// Says that [`Server::capabilities`](crate::Server::capabilities) now
    /// gives something else (a gateway whose downstream server came up, say):
    /// the transports read it again before the next request: for
    /// `server/discover`, for the `initialize` of new sessions, and for which
    /// methods are served (to every client). Clients learn of new tools or
    /// prompts through the list-changed notifications you send as well.
    pub fn capabilities_changed(&self) {
        self.capabilities_changed.store(true, Ordering::Release);
    }

    pub(crate) fn take_capabilities_changed(&self) -> bool {
        self.capabilities_changed.load(Ordering::Relaxed)
            && self.capabilities_changed.swap(false, Ordering::AcqRel)
    }

    /// The resource URIs that open `subscriptions/listen` streams watch
    /// (their `resourceSubscriptions`), now and as they change: a server
    /// that must itself watch a source for them (a gateway subscribing at
    /// the server that owns the resource, say) follows this.
    pub fn watched_resources(&self) -> tokio::sync::watch::Receiver<BTreeSet<String>> {
        self.watched_tx.subscribe()
    }

    /// How long a `subscriptions/listen` stream's acknowledgement waits for
    /// the server's watcher ([`watch_before_acknowledging`](Self::watch_before_acknowledging)).
    pub const WATCH_BEFORE_ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    /// Has `watch` run before each `subscriptions/listen` stream that
    /// watches resources is acknowledged, with the stream's URIs: a server
    /// that must itself start watching a source for them (a gateway
    /// subscribing at the server that owns the resource, say) does it
    /// there, so that a change made once the client holds the
    /// acknowledgement reaches the stream. Following
    /// [`watched_resources`](Notifier::watched_resources) alone cannot
    /// promise that: the acknowledgement goes out while the server is
    /// still starting to watch.
    ///
    /// When it runs, the URIs count as watched already
    /// ([`is_watched`](Notifier::is_watched), `watched_resources`). It runs
    /// for every such stream, also for URIs that other streams watch (whose
    /// watching may still be under way): make those cheap. The stream waits
    /// for it, so bound its work in time; changes announced meanwhile reach
    /// the stream after its acknowledgement. A `watch` still running after
    /// [`WATCH_BEFORE_ACK_TIMEOUT`](Self::WATCH_BEFORE_ACK_TIMEOUT) (10 s)
    /// is given up on, with a warning, and the stream acknowledged. A
    /// second call replaces the first `watch`.
    pub fn watch_before_acknowledging<F, Fut>(&self, watch: F)
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let watcher: Watcher = Arc::new(move |uris| Box::pin(watch(uris)));
        *self.watcher.0.write().unwrap_or_else(|e| e.into_inner()) = Some(watcher);
    }

    /// Whether an open `subscriptions/listen` stream watches `uri`.
    pub fn is_watched(&self, uri: &str) -> bool {
        self.watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(uri)
    }

    /// Counts a stream's URIs in (`+1`) or out (`-1`), publishing the set
    /// when a URI comes or goes.
    fn count_watched(&self, uris: &[String], delta: isize) {
        let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = false;
        for uri in uris {
            let n = watched.entry(uri.clone()).or_default();
            let was = *n;
            *n = n.saturating_add_signed(delta);
            changed |= (was == 0) != (*n == 0);
            if *n == 0 {
                watched.remove(uri);
            }
        }
        if changed {
            let set: BTreeSet<String> = watched.keys().cloned().collect();
            self.watched_tx.send_replace(set);
        }
    }

    /// How many streams are listening.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Ends every stream gracefully (each gets its `subscriptions/listen`
    /// result); used at shutdown.
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// Turns a notification a handler sent on its peer into a change, if it
    /// is one of the four that streams carry.
    pub(crate) fn publish(&self, msg: &Message) -> bool {
        let change = match msg.method() {
            Some(ToolListChangedNotificationParams::METHOD) => Change::Tools,
            Some(PromptListChangedNotificationParams::METHOD) => Change::Prompts,
            Some(ResourceListChangedNotificationParams::METHOD) => Change::Resources,
            Some(ResourceUpdatedNotificationParams::METHOD) => {
                let Message::Notification(n) = msg else {
                    return false;
                };
                match n
                    .params
                    .as_ref()
                    .and_then(|p| p.get("uri"))
                    .and_then(Value::as_str)
                {
                    Some(uri) => Change::ResourceUpdated(Arc::from(uri)),
                    None => return false,
                }
            }
            _ => return false,
        };
        self.announce(change);
        true
    }

    /// Joins the replicas on `bus`: the changes announced here reach their
    /// streams too, and theirs reach the streams open here. Needs a Tokio
    /// runtime (a task receives the bus's messages until
    /// [`close`](Notifier::close)). A notifier takes one bus: a second is
    /// given back.
    pub fn attach_bus(&self, bus: Arc<dyn MessageBus>) -> Result<(), Arc<dyn MessageBus>> {
        let mut listener = crate::bus::Listener::new(&*bus);
        self.bus.set(bus)?;
        let (tx, closed, origin) = (self.tx.clone(), self.closed.clone(), self.origin.clone());
        tokio::spawn(async move {
            loop {
                let heard = tokio::select! {
                    _ = closed.cancelled() => return,
                    heard = listener.next() => heard,
                };
                match heard {
                    Heard::Message(message) => {
                        if let Some(change) = decode(&message, &origin) {
                            let _ = tx.send(change);
                        }
                    }
                    Heard::Lost(skipped) => {
                        // Which changes were lost is unknown (skipped as
                        // this fell behind, or lost on the way while Redis
                        // was away): every stream here tells its client of
                        // all it watches.
                        tracing::warn!(
                            ?skipped,
                            "the notifier lost messages of its bus; streams resync"
                        );
                        let _ = tx.send(Change::Resync);
                    }
                    Heard::Closed => return,
                }
            }
        });
        Ok(())
    }

    /// The bus this notifier is attached to, if any.
    pub(crate) fn bus(&self) -> Option<&Arc<dyn MessageBus>> {
        self.bus.get()
    }

    /// Hands the delivery of changes to sessions to a transport (replicas
    /// sharing sessions); `false` when another has it already.
    pub(crate) fn deliver_to_sessions(&self, sessions: Arc<dyn SessionSubscriptions>) -> bool {
        self.sessions.set(sessions).is_ok()
    }

    /// The transport that delivers changes to sessions, if one does.
    pub(crate) fn session_subscriptions(&self) -> Option<&Arc<dyn SessionSubscriptions>> {
        self.sessions.get()
    }

    /// To the streams open here, and through the bus (if any) to the other
    /// replicas'.
    fn announce(&self, change: Change) {
        if let Some(bus) = self.bus.get() {
            let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
            bus.publish(&encode(&self.origin, seq, &change));
        }
        let _ = self.tx.send(change);
    }
}

/// A change as it travels on the bus: who sent it, what kind, which URI.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    origin: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    uri: Option<Cow<'a, str>>,
    /// The change's number at its origin.
    #[serde(default)]
    seq: u64,
}

fn encode(origin: &str, seq: u64, change: &Change) -> String {
    let (kind, uri) = match change {
        Change::Tools => ("tools", None),
        Change::Prompts => ("prompts", None),
        Change::Resources => ("resources", None),
        Change::ResourceUpdated(uri) => ("resource", Some(&**uri)),
        Change::Resync => ("resync", None),
    };
    let envelope = Envelope {
        origin: origin.into(),
        kind: kind.into(),
        uri: uri.map(Cow::from),
        seq,
    };
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// The change another replica sent; `None` for our own messages and for
/// what is not a change.
fn decode(message: &str, own_origin: &str) -> Option<Change> {
    match parse(message) {
        Some((name, change)) if name.rsplit_once('.').map(|(o, _)| o) != Some(own_origin) => {
            Some(change)
        }
        _ => None,
    }
}

/// A change on the bus, from any replica (this one too), with its name
/// (the same on every replica, another for every change); `None` for what
/// is not a change (the bus also carries the messages of the replicas'
/// sessions, logged at debug level only).
pub(crate) fn parse(message: &str) -> Option<(String, Change)> {
    if message.len() > MAX_MESSAGE_BYTES {
        return None;
    }
    let Ok(envelope) = serde_json::from_str::<Envelope>(message) else {
        tracing::debug!("a bus message that is not a change, ignored");
        return None;
    };
    let change = match (&*envelope.kind, envelope.uri.as_deref()) {
        ("tools", _) => Change::Tools,
        ("prompts", _) => Change::Prompts,
        ("resources", _) => Change::Resources,
        ("resource", Some(uri)) => Change::ResourceUpdated(Arc::from(uri)),
        ("resync", _) => Change::Resync,
        _ => {
            tracing::warn!("a bus message of an unknown kind, ignored");
            return None;
        }
    };
    Some((format!("{}.{}", envelope.origin, envelope.seq), change))
}

/// The part of `wanted` this server honours: list changes it declares
/// `listChanged` for, resource updates when it declares `subscribe`.
fn honoured(wanted: &SubscriptionFilter, caps: &ServerCapabilities) -> SubscriptionFilter {
    let yes = |asked: Option<bool>, offered: bool| (asked == Some(true) && offered).then_some(true);
    let resources = caps.resources.as_ref();
    let mut filter = SubscriptionFilter::default();
    filter.tools_list_changed = yes(
        wanted.tools_list_changed,
        caps.tools
            .as_ref()
            .is_some_and(|t| t.list_changed == Some(true)),
    );
    filter.prompts_list_changed = yes(
        wanted.prompts_list_changed,
        caps.prompts
            .as_ref()
            .is_some_and(|p| p.list_changed == Some(true)),
    );
    filter.resources_list_changed = yes(
        wanted.resources_list_changed,
        resources.is_some_and(|r| r.list_changed == Some(true)),
    );
    filter.resource_subscriptions = wanted
        .resource_subscriptions
        .clone()
        .filter(|_| resources.is_some_and(|r| r.subscribe == Some(true)));
    filter
}

/// The notification for `change`, if `filter` lets it through.
fn notification(change: &Change, filter: &SubscriptionFilter, id: &RequestId) -> Option<Message> {
    let (method, params) = match change {
        Change::Tools if filter.tools_list_changed == Some(true) => {
            (ToolListChangedNotificationParams::METHOD, Map::new())
        }
        Change::Prompts if filter.prompts_list_changed == Some(true) => {
            (PromptListChangedNotificationParams::METHOD, Map::new())
        }
        Change::Resources if filter.resources_list_changed == Some(true) => {
            (ResourceListChangedNotificationParams::METHOD, Map::new())
        }
        Change::ResourceUpdated(uri)
            if filter
                .resource_subscriptions
                .as_ref()
                .is_some_and(|uris| uris.iter().any(|u| **u == **uri)) =>
        {
            let mut p = Map::new();
            p.insert("uri".into(), Value::from(&**uri));
            (ResourceUpdatedNotificationParams::METHOD, p)
        }
        _ => return None,
    };
    Some(tagged(method, params, id))
}

/// What a stream that may have missed changes sends instead of them: one
/// notification of each kind `filter` selects, and one
/// `notifications/resources/updated` per distinct URI it watches. The
/// notifications carry nothing but the kind (and the URI), so telling the
/// client once that each may have changed loses nothing of what was
/// missed: the client reads again what it watches, as it would have after
/// the missed notifications. Bounded by the filter the client sent.
fn everything(filter: &SubscriptionFilter, id: &RequestId) -> Vec<Message> {
    let mut all: Vec<Message> = [Change::Tools, Change::Prompts, Change::Resources]
        .iter()
        .filter_map(|change| notification(change, filter, id))
        .collect();
    let uris: BTreeSet<&str> = filter
        .resource_subscriptions
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    for uri in uris {
        let mut p = Map::new();
        p.insert("uri".into(), Value::from(uri));
        all.push(tagged(ResourceUpdatedNotificationParams::METHOD, p, id));
    }
    all
}

/// Drops the changes waiting for a stream that fell behind (at most a
/// backlog's worth, so a busy notifier cannot keep it here): the stream
/// then tells its client of [`everything`], which covers them.
fn skip_backlog(changes: &mut broadcast::Receiver<Change>) {
    for _ in 0..BACKLOG {
        match changes.try_recv() {
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    }
}

fn subscription_meta(id: &RequestId) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(
        SUBSCRIPTION_ID_META_KEY.into(),
        serde_json::to_value(id).unwrap_or_default(),
    );
    meta
}

fn tagged(method: &str, mut params: Map<String, Value>, id: &RequestId) -> Message {
    params.insert("_meta".into(), Value::Object(subscription_meta(id)));
    Message::notification(method, Some(Value::Object(params)))
}

/// Serves one `subscriptions/listen`: the acknowledgement once the server
/// watches its resources (see [`Notifier::watch_before_acknowledging`]),
/// then the changes its filter selects, until the client goes away (the caller
/// drops this future) or the server closes the [`Notifier`] (then the
/// result ends the stream gracefully).
pub(crate) async fn listen(
    notifier: &Notifier,
    caps: &ServerCapabilities,
    id: RequestId,
    params: SubscriptionsListenParams,
    reply: Outbound,
) -> Result<Value, Error> {
    let filter = honoured(&params.notifications, caps);
    // Subscribe before acknowledging, so no change after the ack is lost.
    let mut changes = notifier.tx.subscribe();
    let _watching = Watching::new(notifier, filter.resource_subscriptions.clone());
    // The server starts watching before the client can believe it does.
    let watcher = notifier
        .watcher
        .0
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let (Some(watch), Some(uris)) = (watcher, &filter.resource_subscriptions) {
        let uris: BTreeSet<&String> = uris.iter().collect();
        if !uris.is_empty() {
            // A watcher that hangs must not hold the stream forever: past
            // the bound the stream is acknowledged without it.
            let watching = watch(uris.into_iter().cloned().collect());
            if tokio::time::timeout(Notifier::WATCH_BEFORE_ACK_TIMEOUT, watching)
                .await
                .is_err()
            {
                tracing::warn!(
                    timeout_ms = Notifier::WATCH_BEFORE_ACK_TIMEOUT.as_millis() as u64,
                    "the server's watcher did not finish in time; the subscriptions/listen \
                     stream is acknowledged without it"
                );
            }
        }
    }
    let ack = SubscriptionsAcknowledgedNotificationParams::new(filter.clone())
        .with_meta(subscription_meta(&id));
    let ack = serde_json::to_value(ack).map_err(Error::internal)?;
    if reply
        .send(Message::notification(
            SubscriptionsAcknowledgedNotificationParams::METHOD,
            Some(ack),
        ))
        .await
        .is_err()
    {
        return Err(gone());
    }
    loop {
        let change = tokio::select! {
            _ = notifier.closed.cancelled() => break,
            change = changes.recv() => change,
        };
        let messages = match change {
            Ok(Change::Resync) => everything(&filter, &id),
            Ok(change) => notification(&change, &filter, &id).into_iter().collect(),
            // The skipped changes are gone; which of them this stream
            // wanted is unknown. Rather than let the client believe it
            // heard of every change, it is told once of each it watches.
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    skipped = n,
                    "a subscriptions/listen stream fell behind; it resyncs its client"
                );
                skip_backlog(&mut changes);
                everything(&filter, &id)
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        for msg in messages {
            if reply.send(msg).await.is_err() {
                return Err(gone());
            }
        }
    }
    let mut result = Map::new();
    result.insert("resultType".into(), Value::from("complete"));
    result.insert("_meta".into(), Value::Object(subscription_meta(&id)));
    Ok(Value::Object(result))
}

/// A stream's resource URIs, counted in the notifier's watched set while
/// the stream lasts, however it ends.
struct Watching<'a> {
    notifier: &'a Notifier,
    uris: Vec<String>,
}

impl<'a> Watching<'a> {
    fn new(notifier: &'a Notifier, uris: Option<Vec<String>>) -> Self {
        let uris = uris.unwrap_or_default();
        notifier.count_watched(&uris, 1);
        Watching { notifier, uris }
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.notifier.count_watched(&self.uris, -1);
    }
}

fn gone() -> Error {
    Error::new(
        mcp_sdk::ErrorCode::CONNECTION_CLOSED,
        "the subscription's stream is gone",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_filter_keeps_only_what_the_server_offers_and_the_client_asked() {
        let caps: ServerCapabilities = serde_json::from_value(json!({
            "tools": {"listChanged": true}, "prompts": {}, "resources": {"subscribe": true}
        }))
        .unwrap();
        let wanted: SubscriptionFilter = serde_json::from_value(json!({
            "toolsListChanged": true, "promptsListChanged": true,
            "resourceSubscriptions": ["file:///a"]
        }))
        .unwrap();
        let got = honoured(&wanted, &caps);
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            json!({"toolsListChanged": true, "resourceSubscriptions": ["file:///a"]})
        );
        let id = RequestId::Number(4);
        assert!(notification(&Change::Prompts, &got, &id).is_none());
        let n = notification(&Change::ResourceUpdated("file:///a".into()), &got, &id).unwrap();
        assert_eq!(
            serde_json::to_value(&n).unwrap()["params"],
            json!({"uri": "file:///a", "_meta": {SUBSCRIPTION_ID_META_KEY: 4}})
        );
        assert!(notification(&Change::ResourceUpdated("file:///b".into()), &got, &id).is_none());
    }

    #[test]
    fn changes_cross_the_bus_both_ways_and_bad_messages_are_ignored() {
        let uri = Change::ResourceUpdated("file:///a \"b\" \\ \u{e9}".into());
        for change in [Change::Tools, Change::Prompts, Change::Resources, uri] {
            assert_eq!(decode(&encode("a", 1, &change), "b"), Some(change.clone()));
            assert_eq!(decode(&encode("a", 1, &change), "a"), None, "not our own");
            let (name, _) = parse(&encode("a", 7, &change)).unwrap();
            assert_ne!(name, parse(&encode("a", 8, &change)).unwrap().0);
        }
        assert_eq!(decode("not json", "b"), None);
        assert_eq!(decode(r#"{"origin":"a","kind":"resource"}"#, "b"), None);
        assert_eq!(decode(r#"{"origin":"a","kind":"other"}"#, "b"), None);
        let huge = format!(
            r#"{{"origin":"a","kind":"tools","uri":"{}"}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(decode(&huge, "b"), None);
    }

    /// Issue 17: a stream more than [`BACKLOG`] changes behind skipped the
    /// oldest silently, so its client never heard that `b` changed.
    #[tokio::test]
    async fn a_stream_that_falls_behind_tells_its_client_of_all_it_watches() {
        let caps: ServerCapabilities = serde_json::from_value(json!({
            "tools": {"listChanged": true}, "resources": {"subscribe": true}
        }))
        .unwrap();
        let params: SubscriptionsListenParams = serde_json::from_value(json!({
            "notifications": {"toolsListChanged": true,
                              "resourceSubscriptions": ["file:///a", "file:///b", "file:///a"]}
        }))
        .unwrap();
        let notifier = Notifier::default();
        // One message at a time: the stream waits for its client to read.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(1);
        let listening = tokio::spawn({
            let notifier = notifier.clone();
            async move { listen(&notifier, &caps, RequestId::Number(7), params, Arc::new(tx)).await }
        });
        let ack = rx.recv().await.unwrap();
        assert_eq!(
            ack.method(),
            Some(SubscriptionsAcknowledgedNotificationParams::METHOD)
        );
        // In one go, before the stream runs again (this runtime has one
        // thread): `b`'s update is among those pushed out of the backlog.
        notifier.resource_updated("file:///b");
        for _ in 0..BACKLOG + 10 {
            notifier.resource_updated("file:///a");
        }
        notifier.resource_updated("file:///c");
        let mut heard = Vec::new();
        while !heard.iter().any(|(_, uri)| uri == "file:///b") {
            let next = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
            let msg = next
                .expect("the stream tells of b's change")
                .expect("the stream stays open");
            let p = serde_json::to_value(&msg).unwrap()["params"].clone();
            assert_eq!(p["_meta"][SUBSCRIPTION_ID_META_KEY], 7, "{p}");
            let uri = p["uri"].as_str().unwrap_or_default().to_owned();
            heard.push((msg.method().unwrap().to_owned(), uri));
        }
        let resync: Vec<(&str, &str)> = heard
            .iter()
            .map(|(m, u)| (m.as_str(), u.as_str()))
            .collect();
        assert_eq!(
            resync,
            [
                (ToolListChangedNotificationParams::METHOD, ""),
                (ResourceUpdatedNotificationParams::METHOD, "file:///a"),
                (ResourceUpdatedNotificationParams::METHOD, "file:///b"),
            ],
            "once per kind and URI watched, for what was skipped"
        );
        // What follows is delivered as it comes.
        notifier.tool_list_changed();
        let next = rx.recv().await.unwrap();
        assert_eq!(
            next.method(),
            Some(ToolListChangedNotificationParams::METHOD)
        );
        assert!(rx.try_recv().is_err(), "nothing else: {:?}", rx.try_recv());
        notifier.close();
        assert!(listening.await.unwrap().is_ok());
    }

    /// The gateway acknowledged a stream before it watched the stream's
    /// URI downstream, and a change made in between was lost: the
    /// acknowledgement now waits for the server's watcher, which sees the
    /// URIs counted as watched, and a change announced meanwhile follows it.
    #[tokio::test]
    async fn a_stream_is_acknowledged_once_the_server_watches_its_uris() {
        let caps: ServerCapabilities = serde_json::from_value(json!({
            "tools": {"listChanged": true}, "resources": {"subscribe": true}
        }))
        .unwrap();
        let notifier = Notifier::default();
        let (entered, mut watching) = tokio::sync::mpsc::unbounded_channel();
        let release = Arc::new(tokio::sync::Notify::new());
        notifier.watch_before_acknowledging({
            let (notifier, release) = (notifier.clone(), release.clone());
            move |uris: Vec<String>| {
                let counted = uris.iter().all(|u| notifier.is_watched(u));
                let _ = entered.send((uris, counted));
                let release = release.clone();
                async move { release.notified().await }
            }
        });
        let start = |id: i64, filter: Value| {
            let (tx, rx) = tokio::sync::mpsc::channel::<Message>(8);
            let params = serde_json::from_value(json!({"notifications": filter})).unwrap();
            let (notifier, caps) = (notifier.clone(), caps.clone());
            tokio::spawn(async move {
                listen(
                    &notifier,
                    &caps,
                    RequestId::Number(id),
                    params,
                    Arc::new(tx),
                )
                .await
            });
            rx
        };
        let mut rx = start(
            1,
            json!({"resourceSubscriptions": ["file:///b", "file:///a", "file:///b"]}),
        );
        let (uris, counted) = watching.recv().await.unwrap();
        assert_eq!(uris, ["file:///a", "file:///b"], "each URI once");
        assert!(
            counted,
            "the URIs count as watched while the server starts watching"
        );
        assert!(
            rx.try_recv().is_err(),
            "no acknowledgement before the watcher returns"
        );
        notifier.resource_updated("file:///a");
        release.notify_one();
        let ack = rx.recv().await.unwrap();
        assert_eq!(
            ack.method(),
            Some(SubscriptionsAcknowledgedNotificationParams::METHOD)
        );
        let update = serde_json::to_value(rx.recv().await.unwrap()).unwrap();
        assert_eq!(update["params"]["uri"], "file:///a", "{update}");

        // A stream that watches no resource does not wait for the watcher.
        let mut tools = start(2, json!({"toolsListChanged": true}));
        let ack = tools.recv().await.unwrap();
        assert_eq!(
            ack.method(),
            Some(SubscriptionsAcknowledgedNotificationParams::METHOD)
        );
        assert!(watching.try_recv().is_err());
        notifier.close();
    }

    /// A watcher that never returns holds the acknowledgement for
    /// [`Notifier::WATCH_BEFORE_ACK_TIMEOUT`], not forever.
    #[tokio::test(start_paused = true)]
    async fn a_watcher_that_hangs_delays_the_acknowledgement_only_so_long() {
        let caps: ServerCapabilities =
            serde_json::from_value(json!({"resources": {"subscribe": true}})).unwrap();
        let notifier = Notifier::default();
        notifier.watch_before_acknowledging(|_uris: Vec<String>| std::future::pending::<()>());
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(8);
        let params = serde_json::from_value(
            json!({"notifications": {"resourceSubscriptions": ["file:///a"]}}),
        )
        .unwrap();
        let started = tokio::time::Instant::now();
        let listening = tokio::spawn({
            let notifier = notifier.clone();
            async move { listen(&notifier, &caps, RequestId::Number(1), params, Arc::new(tx)).await }
        });
        let ack = tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
            .await
            .expect("the acknowledgement, not a stream held by its watcher")
            .unwrap();
        assert_eq!(
            ack.method(),
            Some(SubscriptionsAcknowledgedNotificationParams::METHOD)
        );
        assert_eq!(started.elapsed(), Notifier::WATCH_BEFORE_ACK_TIMEOUT);
        notifier.close();
        assert!(listening.await.unwrap().is_ok());
    }

    /// A notifier that fell behind its bus does not know what it missed:
    /// its streams resync.
    #[tokio::test]
    async fn a_notifier_behind_its_bus_resyncs_its_streams() {
        let bus = Arc::new(crate::bus::InMemoryBus::default());
        let notifier = Notifier::default();
        notifier.attach_bus(bus.clone()).unwrap();
        let mut changes = notifier.tx.subscribe();
        // More messages than the bus keeps for a listener that has not run
        // yet (this runtime has one thread); the oldest are lost.
        for _ in 0..crate::bus::BACKLOG + 5 {
            bus.publish("the messages of sessions, not changes");
        }
        let change = Change::ResourceUpdated("file:///a".into());
        bus.publish(&encode("elsewhere", 1, &change));
        assert_eq!(changes.recv().await.unwrap(), Change::Resync);
        assert_eq!(changes.recv().await.unwrap(), change);
        notifier.close();
    }

    /// A bus that lost messages on the way (a Redis subscription that was
    /// down) says so, and the notifier's streams resync.
    #[tokio::test]
    async fn a_notifier_whose_bus_lost_messages_resyncs_its_streams() {
        #[derive(Debug)]
        struct Lossy(crate::bus::InMemoryBus, tokio::sync::watch::Sender<u64>);
        impl MessageBus for Lossy {
            fn publish(&self, message: &str) {
                self.0.publish(message)
            }
            fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
                self.0.subscribe()
            }
            fn gaps(&self) -> tokio::sync::watch::Receiver<u64> {
                self.1.subscribe()
            }
        }
        let bus = Arc::new(Lossy(
            crate::bus::InMemoryBus::default(),
            tokio::sync::watch::Sender::new(0),
        ));
        let notifier = Notifier::default();
        notifier.attach_bus(bus.clone()).unwrap();
        let mut changes = notifier.tx.subscribe();
        bus.1.send_modify(|n| *n += 1);
        assert_eq!(changes.recv().await.unwrap(), Change::Resync);
        let change = Change::Tools;
        bus.publish(&encode("elsewhere", 1, &change));
        assert_eq!(changes.recv().await.unwrap(), change, "and goes on");
        notifier.close();
    }

    #[tokio::test]
    async fn replicas_on_one_bus_hear_each_others_changes_once() {
        let bus = Arc::new(crate::bus::InMemoryBus::default());
        let (a, b) = (Notifier::default(), Notifier::default());
        a.attach_bus(bus.clone()).unwrap();
        b.attach_bus(bus.clone()).unwrap();
        assert!(a.attach_bus(bus.clone()).is_err(), "one bus per notifier");
        let (mut at_a, mut at_b) = (a.tx.subscribe(), b.tx.subscribe());
        a.resource_updated("file:///a");
        b.tool_list_changed();
        assert_eq!(
            at_a.recv().await.unwrap(),
            Change::ResourceUpdated("file:///a".into())
        );
        assert_eq!(at_b.recv().await.unwrap(), Change::Tools);
        // Each hears the other's next, and its own exactly once.
        assert_eq!(at_a.recv().await.unwrap(), Change::Tools);
        assert_eq!(
            at_b.recv().await.unwrap(),
            Change::ResourceUpdated("file:///a".into())
        );
        a.prompt_list_changed();
        assert_eq!(at_a.recv().await.unwrap(), Change::Prompts);
        assert_eq!(at_b.recv().await.unwrap(), Change::Prompts);
        assert!(
            at_a.try_recv().is_err() && at_b.try_recv().is_err(),
            "no echo"
        );
    }
}
