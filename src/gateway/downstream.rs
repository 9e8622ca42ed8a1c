//! One downstream server: its shared [`Client`], its state for `/health`,
//! and the background task that reconnects with backoff when it is down.

use super::config::{DownstreamSpec, GatewayConfig, Target};
use super::exchange::Exchange;
use super::relay::{Callers, Relay};
use super::Announcer;
use mcp_sdk::{Error, ErrorCode, LoggingLevel, ServerCapabilities, SubscriptionFilter};
use mcp_sdk_client::transport::{ChildProcess, HttpTransport};
use mcp_sdk_client::{Client, ClientError};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// Whether a downstream server can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not connected yet (the first attempt is under way).
    Connecting,
    /// Connected: calls go through.
    Up,
    /// Not connected: calls fail naming the server; reconnection runs in
    /// the background.
    Down,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Up => "up",
            Status::Down => "down",
        }
    }
}

/// A downstream server and the gateway's connection to it.
pub struct Downstream {
    /// Its place in the configuration (and in cursors).
    pub index: usize,
    /// What the configuration says about it.
    pub spec: DownstreamSpec,
    link: Mutex<Link>,
    /// Wakes the reconnecting task when the server went down.
    wake: Notify,
    /// The upstream requests that have calls in flight here, for the relay.
    pub(crate) callers: Arc<Callers>,
    pub(crate) announcer: Arc<Announcer>,
    /// The resource URIs the gateway has subscribed to here, on behalf of
    /// its upstream sessions (subscribed again after a reconnection).
    watched: Mutex<Watched>,
    /// One new `subscriptions/listen` stream at a time for [`watch`]: a
    /// stream acknowledged for a URI serves every `watch` of it that
    /// waited, so listeners arriving together for a new URI start one
    /// stream, not one each.
    ///
    /// [`watch`]: Downstream::watch
    relistening: tokio::sync::Mutex<()>,
    connect_timeout: Duration,
    call_timeout: Duration,
    /// OAuth with the gateway's credentials for this server, if it has
    /// any (kept across reconnections, with its tokens), or why they
    /// cannot be used.
    oauth: Result<Option<mcp_sdk_client::auth::OAuth>, String>,
    /// The per-user token exchange, for a server configured with it.
    pub(crate) exchange: Option<Exchange>,
}

/// The connection as it stands.
struct Link {
    client: Option<Client>,
    status: Status,
    last_error: Option<String>,
    since: SystemTime,
    /// Counts connections, so that a failure seen on an old client cannot
    /// take down a newer one.
    generation: u64,
    /// What the server offered when last connected (kept while it is down,
    /// so the gateway's capabilities do not shrink with an outage).
    capabilities: Option<ServerCapabilities>,
    instructions: Option<String>,
    /// The `subscriptions/listen` stream of a stateless server, whose
    /// notifications reach the relay's callbacks; aborted with the client.
    listener: Option<AbortOnDrop>,
    /// The [`Watched::version`] whose URIs `listener`'s filter holds.
    listener_version: u64,
    /// The URIs `listener`'s filter holds, once the server acknowledged it
    /// (empty until then). A URI among them needs no new stream: replacing
    /// the stream for it sent every change made while both streams were
    /// open twice (the soak's duplicated updates after a cut listener
    /// listened again, issue 17).
    listener_uris: BTreeSet<String>,
}

/// The watched URIs, and a version that counts their changes: a stateless
/// server's listen streams are replaced concurrently (one per new URI), and
/// only a stream whose filter was taken from a newer set may replace the
/// one in place. Without it, a stream that was acknowledged last but built
/// from an older set replaced the newer one, and a URI subscribed to in the
/// meantime was no longer watched (the soak's clients that never heard
/// their warm-up note, issue 17).
///
/// `live` is what `/health` counts: the URIs the server watches for the
/// gateway now (those of the acknowledged `subscriptions/listen` stream in
/// place, or subscribed in the current session), not those the gateway
/// means to watch: a URI counted before its stream was acknowledged (or
/// while the server was down) made `watching` claim updates that nobody
/// would hear (issue 17).
#[derive(Default)]
struct Watched {
    uris: BTreeSet<String>,
    version: u64,
    live: BTreeSet<String>,
}

impl Watched {
    fn insert(&mut self, uri: &str) -> bool {
        let new = self.uris.insert(uri.to_owned());
        self.version += u64::from(new);
        new
    }

    fn remove(&mut self, uri: &str) -> bool {
        let gone = self.uris.remove(uri);
        self.version += u64::from(gone);
        self.live.remove(uri);
        gone
    }

    /// The server now watches `uris` (those still wanted), and no others.
    fn established(&mut self, uris: &[String]) {
        self.live = uris
            .iter()
            .filter(|u| self.uris.contains(*u))
            .cloned()
            .collect();
    }

    /// The URIs and the version they are of.
    fn snapshot(&self) -> (Vec<String>, u64) {
        (self.uris.iter().cloned().collect(), self.version)
    }
}

/// Why `server` refused the gateway's `method` with HTTP `status` (401
/// or 403 with no challenge the gateway could answer), in words of the
/// gateway's own: the server's body is not repeated.
fn refused(server: &str, status: u16, method: &str) -> String {
    format!(
        "the downstream server {server:?} refused the gateway's {method} with HTTP {status} \
         and no authorization challenge the gateway could answer; the gateway never passes its \
         callers' tokens on, so a protected server needs credentials of the gateway's own \
         (auth = {{ grant = ... }} in its [[server]] entry)"
    )
}

/// A task that ends when its handle is dropped.
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Downstream {
    pub(crate) fn new(
        index: usize,
        spec: DownstreamSpec,
        config: &GatewayConfig,
        announcer: Arc<Announcer>,
    ) -> Self {
        let exchange = match (config.credentials.get(&spec.name), &spec.target) {
            // A missing secret is reported by `oauth` below.
            (Some(credentials), Target::Http { .. }) => credentials.exchange().ok().flatten(),
            _ => None,
        };
        let oauth = match (config.credentials.get(&spec.name), &spec.target) {
            (Some(credentials), Target::Http { url }) => {
                credentials.oauth(&spec.name, url).map(Some)
            }
            _ => Ok(None),
        };
        Downstream {
            oauth,
            exchange,
            index,
            spec,
            link: Mutex::new(Link {
                client: None,
                status: Status::Connecting,
                last_error: None,
                since: SystemTime::now(),
                generation: 0,
                capabilities: None,
                instructions: None,
                listener: None,
                listener_version: 0,
                listener_uris: BTreeSet::new(),
            }),
            wake: Notify::new(),
            watched: Mutex::default(),
            callers: Arc::new(Callers::default()),
            announcer,
            connect_timeout: config.connect_timeout,
            call_timeout: config.call_timeout,
            relistening: tokio::sync::Mutex::new(()),
        }
    }

    /// The server's name (the prefix of its tools and prompts).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether it can be used now, and since when.
    pub fn status(&self) -> Status {
        self.link().status
    }

    /// What the server offered when it was last connected.
    pub fn capabilities(&self) -> Option<ServerCapabilities> {
        self.link().capabilities.clone()
    }

    /// The server's instructions for the model, when it gave any.
    pub fn instructions(&self) -> Option<String> {
        self.link().instructions.clone()
    }

    /// How long one call may wait for the server.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// How long connecting to the server may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How many calls the gateway has in flight to it. Each one ends when
    /// answered, when it times out, or when the upstream request it serves
    /// is cancelled (by its client, or because that client vanished), so a
    /// count that stays up betrays a leak.
    pub fn calls_in_flight(&self) -> usize {
        self.callers.in_flight()
    }

    /// The client to call it with, and its generation; when it is down, an
    /// error naming the server and why it is down.
    pub fn client(&self) -> Result<(Client, u64), Error> {
        let link = self.link();
        match &link.client {
            Some(client) => Ok((client.clone(), link.generation)),
            None => Err(self.unavailable(&link)),
        }
    }

    fn unavailable(&self, link: &Link) -> Error {
        let why = link
            .last_error
            .as_deref()
            .unwrap_or("it has not connected yet");
        Error::new(
            ErrorCode::INTERNAL_ERROR,
            format!(
                "the downstream server {:?} ({}) is unavailable: {why}; the gateway keeps reconnecting",
                self.spec.name, self.spec.target
            ),
        )
        .with_data(serde_json::json!({ "server": self.spec.name, "state": link.status.as_str() }))
    }

    /// Turns a failed call into the error the upstream client gets: the
    /// server's own JSON-RPC errors pass through (their message prefixed by
    /// the server's name); a broken connection marks the server down (the
    /// reconnecting task takes over) and says so.
    pub fn call_failed(&self, generation: u64, method: &str, error: ClientError) -> Error {
        let name = &self.spec.name;
        match error {
            ClientError::Server(mut e) => {
                e.message = format!("{name}: {}", e.message);
                e
            }
            // The relay could not get the upstream client's answer: its
            // error is the one to report (say, -32601 for a capability the
            // upstream client lacks).
            ClientError::InputRequest {
                method: asked,
                error: mut e,
                ..
            } => {
                e.message = format!(
                    "{name}: {asked} relayed to the client failed: {}",
                    e.message
                );
                e
            }
            // A server that does not answer in time may be merely slow or
            // stuck on this one call: it stays up (a broken connection
            // would mark it down), and the client cancelled the call there.
            ClientError::Timeout { after, .. } => Error::new(
                ErrorCode::REQUEST_TIMEOUT,
                format!(
                    "the downstream server {name:?} did not answer {method} within {after:?} (the gateway's call timeout); the gateway cancelled the call"
                ),
            )
            .with_data(serde_json::json!({ "server": name, "timeoutMs": after.as_millis() as u64 })),
            // The server refused the gateway's own authorization (it
            // asked for none, or the credentials do not do): its answer's
            // body is not repeated, nor the caller's token (never sent).
            ClientError::Http {
                status: status @ (401 | 403),
                ..
            } => Error::new(ErrorCode::INTERNAL_ERROR, refused(name, status, method))
                .with_data(serde_json::json!({ "server": name, "httpStatus": status })),
            e @ (ClientError::Closed(_)
            | ClientError::Transport(_)
            | ClientError::SessionExpired(_)
            | ClientError::StreamLost(_)
            | ClientError::Http { .. }) => {
                let why = e.to_string();
                self.mark_down(generation, &why);
                Error::new(
                    ErrorCode::INTERNAL_ERROR,
                    format!("the downstream server {name:?} failed during {method}: {why}; the gateway is reconnecting"),
                )
                .with_data(serde_json::json!({ "server": name }))
            }
            other => {
                let code = other.code().unwrap_or(ErrorCode::INTERNAL_ERROR);
                Error::new(code, format!("{name}: {method}: {other}"))
                    .with_data(serde_json::json!({ "server": name }))
            }
        }
    }

    /// Marks the connection of `generation` as broken, unless a newer one
    /// replaced it, and wakes the reconnecting task.
    pub fn mark_down(&self, generation: u64, why: &str) {
        let mut link = self.link();
        if link.generation != generation || link.client.is_none() {
            return;
        }
        tracing::warn!(server = %self.spec.name, "downstream server down: {why}");
        link.client = None;
        link.listener = None;
        link.listener_uris.clear();
        link.status = Status::Down;
        link.last_error = Some(why.to_owned());
        link.since = SystemTime::now();
        // Its streams and subscriptions went with it.
        self.watched().live.clear();
        drop(link);
        self.wake.notify_one();
        // Its tools and prompts are gone from the lists until it returns.
        self.announcer.all_changed();
    }

    /// A client of the server's as the gateway connects it, its requests
    /// relayed as [`Relay`] says.
    fn client_builder(self: &Arc<Self>) -> mcp_sdk_client::ClientBuilder {
        Client::builder()
            .info(mcp_sdk::Implementation::new(
                "mcp-gateway",
                env!("CARGO_PKG_VERSION"),
            ))
            .era(self.spec.era)
            .timeout(self.call_timeout)
            .probe_timeout(self.connect_timeout)
            .handler(Relay::new(self))
    }

    /// A connection of one user's to the server (see `exchange`): every
    /// request carries `authorization`, the user's exchanged token.
    pub(crate) async fn connect_as(
        self: &Arc<Self>,
        authorization: &str,
    ) -> Result<Client, String> {
        let Target::Http { url } = &self.spec.target else {
            return Err("a stdio server has no tokens".into());
        };
        let attempt = async {
            let transport = HttpTransport::builder(url.as_str())
                .header("authorization", authorization)
                .build()?;
            self.client_builder().connect(transport).await
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(ClientError::Http {
                status: status @ (401 | 403),
                ..
            })) => Err(format!("the server refused it with HTTP {status}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no connection within {:?}", self.connect_timeout)),
        }
    }

    /// One attempt to connect; on success the server is up.
    pub(crate) async fn connect(self: &Arc<Self>) -> Result<(), String> {
        let attempt = async {
            let builder = self.client_builder();
            match &self.spec.target {
                Target::Http { url } => {
                    let mut transport = HttpTransport::builder(url.as_str());
                    match &self.oauth {
                        Ok(Some(oauth)) => transport = transport.oauth(oauth.clone()),
                        Ok(None) => {}
                        Err(why) => return Err(ClientError::Authorization(why.clone())),
                    }
                    builder.connect(transport.build()?).await
                }
                Target::Stdio { command, args, env } => {
                    let mut cmd = tokio::process::Command::new(command);
                    cmd.args(args).envs(env);
                    builder.connect(ChildProcess::spawn(&mut cmd)?).await
                }
            }
        };
        let client = match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(client)) => client,
            Ok(Err(ClientError::Http {
                status: status @ (401 | 403),
                ..
            })) => {
                return Err(self.record_failure(refused(&self.spec.name, status, "initialize")));
            }
            Ok(Err(e)) => return Err(self.record_failure(e.to_string())),
            Err(_) => {
                return Err(
                    self.record_failure(format!("no connection within {:?}", self.connect_timeout))
                )
            }
        };
        if client.server_capabilities().logging.is_some() {
            // Everything, as each upstream request's context filters what
            // it relays by its own client's level. (A stateless server
            // sends log messages only when asked for a level.)
            let level = client.set_logging_level(LoggingLevel::Debug);
            if let Ok(Err(e)) = tokio::time::timeout(self.connect_timeout, level).await {
                tracing::debug!(server = %self.spec.name, "logging/setLevel refused: {e}");
            }
        }
        let era = client.protocol_version();
        let mut link = self.link();
        link.generation += 1;
        let generation = link.generation;
        link.capabilities = Some(client.server_capabilities().clone());
        link.instructions = client.server().instructions.clone();
        let (watched, version) = {
            let mut w = self.watched();
            // A new connection: nothing is watched there until its stream
            // is acknowledged, or its subscriptions are made again.
            w.live.clear();
            w.snapshot()
        };
        link.listener_version = version;
        link.listener_uris.clear();
        link.listener = client.is_stateless().then(|| {
            AbortOnDrop(tokio::spawn(listen(
                Arc::downgrade(self),
                client.clone(),
                (generation, version),
                watched.clone(),
                None,
            )))
        });
        link.client = Some(client.clone());
        link.status = Status::Up;
        link.last_error = None;
        link.since = SystemTime::now();
        drop(link);
        tracing::info!(server = %self.spec.name, target = %self.spec.target, %era, "downstream server up");
        if !client.is_stateless() && !watched.is_empty() {
            // A new session: the subscriptions of the last one are gone.
            let server = self.clone();
            tokio::spawn(async move {
                for uri in watched {
                    if let Err(e) = server.subscribe_with(&client, generation, &uri).await {
                        tracing::warn!(server = %server.spec.name, %uri, "cannot subscribe again: {}", e.message);
                    }
                }
            });
        }
        // What it offers may differ from what the gateway assumed.
        self.announcer.notifier.capabilities_changed();
        self.announcer.all_changed();
        Ok(())
    }

    fn watched(&self) -> MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the server offers `resources/subscribe` (or
    /// `resourceSubscriptions` in `subscriptions/listen`).
    pub fn offers_subscriptions(&self) -> bool {
        self.capabilities()
            .and_then(|c| c.resources)
            .is_some_and(|r| r.subscribe == Some(true))
    }

    /// Starts hearing of changes to `uri` from the server (for the
    /// gateway's subscribers): `resources/subscribe` in a session; in the
    /// stateless era a new `subscriptions/listen` stream whose filter holds
    /// every watched URI, acknowledged before this returns. A URI the
    /// server watches already costs no call.
    pub(crate) async fn watch(self: &Arc<Self>, uri: &str) -> Result<(), Error> {
        let (client, generation) = self.client()?;
        let new = self.watched().insert(uri);
        if client.is_stateless() && self.link().listener_uris.contains(uri) {
            // The open stream, acknowledged, hears of it already: watched
            // now, as far as `/health` counts.
            self.watched().live.insert(uri.to_owned());
            return Ok(());
        }
        if !client.is_stateless() && !new && self.watched().live.contains(uri) {
            return Ok(()); // subscribed in this session already
        }
        let done = if client.is_stateless() {
            let _turn = self.relistening.lock().await;
            if self.link().listener_uris.contains(uri) {
                // The stream acknowledged while this one waited holds it.
                self.watched().live.insert(uri.to_owned());
                Ok(())
            } else {
                self.relisten(client, generation).await
            }
        } else {
            self.subscribe_with(&client, generation, uri).await
        };
        if done.is_err() && new {
            // Wanted before this call, it stays wanted (a reconnection
            // watches it again).
            self.watched().remove(uri);
        }
        done
    }

    /// Stops hearing of changes to `uri` (nobody upstream is subscribed).
    /// A stateless server's stream keeps it until the stream holds many
    /// more URIs than are watched: its changes are dropped meanwhile (no
    /// upstream client wants them), and a client that listens again soon
    /// (its stream was cut) needs no new stream.
    ///
    /// A URI an upstream `subscriptions/listen` stream watches stays
    /// watched: checked as it is removed, so that a stream that counts it
    /// in meanwhile (and watches it before its acknowledgement) never
    /// finds it dropped after its `watch`.
    pub(crate) async fn unwatch(self: &Arc<Self>, uri: &str) {
        {
            let mut watched = self.watched();
            if self.announcer.notifier.is_watched(uri) || !watched.remove(uri) {
                return;
            }
        }
        let Ok((client, generation)) = self.client() else {
            return;
        };
        if client.is_stateless() {
            let held = self.link().listener_uris.len();
            if held > 2 * self.watched().uris.len() + 16 {
                let _ = self.relisten(client, generation).await;
            }
        } else {
            let unsubscribe = client.unsubscribe(uri);
            let _ = tokio::time::timeout(self.call_timeout, unsubscribe).await;
        }
    }

    async fn subscribe_with(
        &self,
        client: &Client,
        generation: u64,
        uri: &str,
    ) -> Result<(), Error> {
        match tokio::time::timeout(self.call_timeout, client.subscribe(uri)).await {
            Ok(Ok(())) => {
                let link = self.link();
                if link.generation == generation && link.client.is_some() {
                    let mut watched = self.watched();
                    if watched.uris.contains(uri) {
                        watched.live.insert(uri.to_owned());
                    }
                }
                Ok(())
            }
            Ok(Err(e)) => Err(self.call_failed(generation, "resources/subscribe", e)),
            Err(_) => Err(self.call_failed(
                generation,
                "resources/subscribe",
                ClientError::Timeout {
                    method: "resources/subscribe".into(),
                    after: self.call_timeout,
                },
            )),
        }
    }

    /// Replaces the `subscriptions/listen` stream of a stateless server by
    /// one whose filter holds the watched URIs, once it is acknowledged.
    async fn relisten(self: &Arc<Self>, client: Client, generation: u64) -> Result<(), Error> {
        let (acked, ack) = oneshot::channel();
        let (uris, version) = self.watched().snapshot();
        let task = AbortOnDrop(tokio::spawn(listen(
            Arc::downgrade(self),
            client,
            (generation, version),
            uris.clone(),
            Some(acked),
        )));
        let refused = |why: String| {
            Error::new(
                ErrorCode::INTERNAL_ERROR,
                format!(
                    "the downstream server {:?} did not take the subscription: {why}",
                    self.spec.name
                ),
            )
            .with_data(serde_json::json!({ "server": self.spec.name }))
        };
        let honoured = match tokio::time::timeout(self.call_timeout, ack).await {
            Ok(Ok(Ok(honoured))) => honoured,
            Ok(Ok(Err(why))) => return Err(refused(why)),
            Ok(Err(_)) => return Err(refused("its stream ended".into())),
            Err(_) => {
                return Err(refused(format!(
                    "no acknowledgement within {:?}",
                    self.call_timeout
                )))
            }
        };
        let mut link = self.link();
        // A reconnection meanwhile started a stream of its own, with the
        // watched URIs, or a stream built from a newer set of them was
        // acknowledged first (it holds every URI this one does, or they
        // were unwatched since): this one is dropped (and so aborted).
        if link.generation == generation && link.client.is_some() && version > link.listener_version
        {
            // The old stream is aborted as it is replaced: an abort does
            // not count as the server going away.
            link.listener = Some(task);
            link.listener_version = version;
            link.listener_uris = uris.into_iter().collect();
            self.watched().established(&honoured);
        }
        Ok(())
    }

    fn record_failure(&self, why: String) -> String {
        let why = format!("cannot connect to {}: {why}", self.spec.target);
        let mut link = self.link();
        link.status = Status::Down;
        if link.last_error.as_deref() != Some(why.as_str()) {
            tracing::warn!(server = %self.spec.name, "{why}");
            link.since = SystemTime::now();
        }
        link.last_error = Some(why.clone());
        why
    }

    /// Reconnects whenever the server is down, waiting `min_backoff`,
    /// doubling up to `max_backoff` between failed attempts. Runs until
    /// aborted.
    pub(crate) async fn reconnect_forever(
        self: Arc<Self>,
        min_backoff: Duration,
        max_backoff: Duration,
    ) {
        let mut backoff = min_backoff;
        loop {
            if self.status() == Status::Up {
                self.wake.notified().await;
                backoff = min_backoff;
                continue;
            }
            tokio::time::sleep(backoff).await;
            if self.connect().await.is_err() {
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }

    /// The server's state for `GET /health`: `state` (connecting, up,
    /// down) `since` when, `lastError`, the protocol revision of its
    /// `connection`, `callsInFlight`, and how many resource URIs it is
    /// `watching` for upstream subscribers.
    pub fn health(&self) -> serde_json::Value {
        let link = self.link();
        let era = link.client.as_ref().map(|c| {
            let version = c.protocol_version();
            serde_json::json!({
                "protocolVersion": version.as_str(),
                "stateless": c.is_stateless(),
            })
        });
        serde_json::json!({
            "name": self.spec.name,
            "target": self.spec.target.to_string(),
            "state": link.status.as_str(),
            "since": crate::servers::utc_timestamp(link.since),
            "lastError": link.last_error,
            "connection": era,
            "callsInFlight": self.calls_in_flight(),
            "watching": self.watched().live.len(),
        })
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Holds a stateless server's `subscriptions/listen` stream open (its
/// notifications reach the relay's list-changed callbacks); when the stream
/// ends, the server has most likely gone, so it is marked down and the
/// reconnecting task checks. It holds the server weakly, so that a gateway
/// dropped with its streams open goes away whole.
///
/// Its filter asks for every list change the server offers and for updates
/// of `uris` (of [`Watched::version`] `version`, on the connection
/// `generation`); `acked` hears whether the server took it, and which URIs
/// it honours. Without `acked` (the stream a connection starts with), the
/// honoured URIs count as watched once acknowledged, unless another stream
/// replaced this one meanwhile.
async fn listen(
    downstream: Weak<Downstream>,
    client: Client,
    (generation, version): (u64, u64),
    uris: Vec<String>,
    acked: Option<oneshot::Sender<Result<Vec<String>, String>>>,
) {
    let caps = client.server_capabilities();
    let mut filter = SubscriptionFilter::default();
    filter.tools_list_changed = caps.tools.as_ref().map(|_| true);
    filter.prompts_list_changed = caps.prompts.as_ref().map(|_| true);
    filter.resources_list_changed = caps.resources.as_ref().map(|_| true);
    filter.resource_subscriptions = (!uris.is_empty()).then_some(uris);
    let listening = client.listen(filter).await;
    let honoured = |s: &mcp_sdk_client::Subscription| {
        s.acknowledged()
            .resource_subscriptions
            .clone()
            .unwrap_or_default()
    };
    match (acked, &listening, downstream.upgrade()) {
        (Some(acked), _, _) => {
            let _ = acked.send(listening.as_ref().map(honoured).map_err(|e| e.to_string()));
        }
        (None, Ok(subscription), Some(downstream)) => {
            let link = downstream.link();
            if link.generation == generation
                && link.client.is_some()
                && link.listener_version == version
            {
                downstream.watched().established(&honoured(subscription));
            }
        }
        _ => {}
    }
    let why = match listening {
        Ok(mut subscription) => {
            while subscription.next().await.is_some() {}
            match subscription.end() {
                Some(Err(e)) => format!("its subscriptions/listen stream broke: {e}"),
                _ => "it ended its subscriptions/listen stream".to_owned(),
            }
        }
        // Only a broken connection means the server is gone; a server that
        // refuses the subscription still serves calls.
        Err(
            e @ (ClientError::Closed(_) | ClientError::Transport(_) | ClientError::StreamLost(_)),
        ) => {
            format!("subscriptions/listen failed: {e}")
        }
        Err(e) => {
            tracing::debug!(server = %client.server().server_info.name, "no subscriptions/listen: {e}");
            return;
        }
    };
    if let Some(downstream) = downstream.upgrade() {
        downstream.mark_down(generation, &why);
    }
}
