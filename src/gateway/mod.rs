//! The MCP gateway (the seed's "session manager"): one MCP endpoint in
//! front of several MCP servers, speaking both protocol eras on each side.
//!
//! - [`config`]: which servers, from `SERVER_1_URL` … `SERVER_7_URL` or a
//!   TOML file (HTTP URLs or stdio commands).
//! - [`credentials`]: the gateway's own OAuth credentials for protected
//!   downstream servers (client credentials, or stored tokens).
//! - `exchange`: per-user downstream tokens by RFC 8693 token exchange.
//! - [`downstream`]: one shared [`Client`](mcp_sdk_client::Client) per
//!   server, its state for `/health`, reconnection with backoff.
//! - [`names`]: `<server>__<name>` for tools and prompts, and the cursors of
//!   aggregated lists.
//! - `aggregate`: the gateway as an [`mcp_sdk_server::Server`]: lists
//!   merged across servers, calls routed by prefix, resources by URI,
//!   resource subscriptions taken downstream once per URI.
//! - `scopes`: a downstream tool's scopes asked of the upstream caller.
//! - `relay`: sampling, roots and elicitation asked by a downstream server
//!   go to the upstream client whose request caused them, and so do its
//!   log messages; resource updates go to the subscribers.
//! - [`replicas`]: the gateway as one of several replicas sharing Redis
//!   (`session_manager --redis-url`): the SDK's shared sessions, and the
//!   resource subscriptions beside them.
//!
//! Each downstream call lives as long as the upstream request it serves:
//! when that request is cancelled (the client's timeout, a dropped call, a
//! closed stateless stream, a closed or expired session) the call is
//! cancelled downstream; past the configured call timeout (restarted by
//! progress) it is cancelled and the caller gets -32001 naming the server.
//! `GET /health` counts each server's calls in flight, and the sessions and
//! streams the gateway holds for its upstream clients.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mcp_reference::gateway::{config::GatewayConfig, Gateway};
//!
//! let gateway = Gateway::start(GatewayConfig::from_env()?).await;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! mcp_reference::gateway::serve(gateway, listener, Default::default(), std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod aggregate;
pub mod config;
pub mod credentials;
pub mod downstream;
mod exchange;
pub mod names;
mod relay;
pub mod replicas;
mod scopes;

use config::GatewayConfig;
use downstream::{AbortOnDrop, Downstream, Status};
use mcp_sdk::Tool;
use mcp_sdk_server::http::{ExtraRoutes, HttpConfig, McpBody, StreamableHttpService};
use mcp_sdk_server::{Notifier, Peer};
use replicas::GatewayReplicas;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

/// The gateway: its downstream servers and what it learned from their lists.
/// Serve it (an `Arc<Gateway>` is an [`mcp_sdk_server::Server`]) with
/// [`serve`] or any transport of `mcp-sdk-server`.
pub struct Gateway {
    servers: Vec<Arc<Downstream>>,
    announcer: Arc<Announcer>,
    /// Prefixed tool name → the tool as listed, for [`find_tool`]
    /// (`x-mcp-header` checks of stateless HTTP requests).
    ///
    /// [`find_tool`]: mcp_sdk_server::Server::find_tool
    tools: Mutex<HashMap<String, Tool>>,
    /// Prefixed tool name → the scopes its server asked for when it was
    /// called (see `scopes`), added to the tool's `_meta` whenever it is
    /// listed again. Only tools the gateway listed get an entry.
    learnt_scopes: Mutex<HashMap<String, Vec<String>>>,
    /// Resource URI → the index of the server that listed it.
    resources: Mutex<HashMap<String, usize>>,
    /// Resource URI template → the index of the server that listed it.
    templates: Mutex<HashMap<String, usize>>,
    /// At most this many items in one page of an aggregated list.
    page_size: usize,
    /// At most this many resource subscriptions per upstream session
    /// ([`GatewayConfig::max_subscriptions`]).
    max_subscriptions: usize,
    _reconnecting: Vec<AbortOnDrop>,
}

impl Gateway {
    /// Connects to every configured server at once (waiting at most the
    /// connect timeout), then keeps reconnecting in the background to those
    /// that are or go down. A server that is down at the start does not stop
    /// the others: its calls fail naming it until it is back.
    pub async fn start(config: GatewayConfig) -> Arc<Gateway> {
        Self::start_with(config, None).await
    }

    /// Like [`start`](Self::start), for one of several replicas that share
    /// `replicas` (serve it with `HttpConfig::replicas` set to
    /// [`GatewayReplicas::sdk`]): the resource subscriptions its sessions
    /// take are shared, and it takes its turn watching them downstream.
    pub async fn start_replica(
        config: GatewayConfig,
        replicas: Arc<GatewayReplicas>,
    ) -> Arc<Gateway> {
        Self::start_with(config, Some(replicas)).await
    }

    async fn start_with(
        config: GatewayConfig,
        replicas: Option<Arc<GatewayReplicas>>,
    ) -> Arc<Gateway> {
        let announcer = Arc::new(Announcer {
            replicas: replicas.clone(),
            ..Announcer::default()
        });
        if let Some(replicas) = &replicas {
            // Now, not at the first request (when the HTTP service would
            // attach the same bus): the downstream servers' list changes
            // this replica hears from the start must reach the others.
            if announcer.notifier.attach_bus(replicas.sdk().bus).is_err() {
                tracing::warn!("replicas: the gateway's notifier had a bus already");
            }
        }
        let servers: Vec<Arc<Downstream>> = config
            .servers
            .iter()
            .enumerate()
            .map(|(i, spec)| Arc::new(Downstream::new(i, spec.clone(), &config, announcer.clone())))
            .collect();
        futures_util::future::join_all(servers.iter().map(|s| s.connect())).await;
        let reconnecting = servers
            .iter()
            .map(|s| {
                AbortOnDrop(tokio::spawn(
                    s.clone()
                        .reconnect_forever(config.min_backoff, config.max_backoff),
                ))
            })
            .collect();
        let gateway = Arc::new(Gateway {
            servers,
            announcer,
            tools: Mutex::default(),
            learnt_scopes: Mutex::default(),
            resources: Mutex::default(),
            templates: Mutex::default(),
            page_size: config.page_size.max(1),
            max_subscriptions: config.max_subscriptions,
            _reconnecting: reconnecting,
        });
        // Known from the start, so that the first call of a scoped tool
        // gets the HTTP step-up challenge (see `scopes`); in the
        // background, as a slow server must not hold up the start.
        let learning = Arc::downgrade(&gateway);
        tokio::spawn(async move {
            let Some(gateway) = learning.upgrade() else {
                return;
            };
            futures_util::future::join_all(gateway.servers.iter().map(|s| gateway.learn_tools(s)))
                .await;
        });
        // A stateless client's listen stream is acknowledged once the
        // servers that own its URIs watch them for the gateway: a change
        // made as soon as the client holds the acknowledgement is heard.
        let watching = Arc::downgrade(&gateway);
        gateway
            .announcer
            .notifier
            .watch_before_acknowledging(move |uris| {
                let gateway = watching.clone();
                async move {
                    if let Some(gateway) = gateway.upgrade() {
                        gateway.watch_for_listener(uris).await;
                    }
                }
            });
        let watched = gateway.announcer.notifier.watched_resources();
        tokio::spawn(follow_listeners(Arc::downgrade(&gateway), watched));
        if let Some(replicas) = replicas {
            tokio::spawn(take_turns(Arc::downgrade(&gateway), replicas));
        }
        gateway
    }

    /// Watches `uris` at the servers that own them (those the gateway has
    /// seen listed at a server offering subscriptions), all at once, for a
    /// `subscriptions/listen` stream about to be acknowledged. A URI
    /// watched already costs nothing; one that cannot be watched is logged
    /// (its stream is acknowledged all the same, as the server's own
    /// listen would be).
    async fn watch_for_listener(&self, uris: Vec<String>) {
        let watching = uris.iter().map(|uri| async move {
            match self.owner_of(uri) {
                Some(i) if self.servers[i].offers_subscriptions() => {
                    if let Err(e) = self.servers[i].watch(uri).await {
                        tracing::warn!(%uri, "cannot watch for a listener: {}", e.message);
                    }
                }
                _ => tracing::debug!(%uri, "a listener watches a URI no subscribable server lists"),
            }
        });
        futures_util::future::join_all(watching).await;
    }

    /// The downstream servers, in configuration order.
    pub fn downstream(&self) -> &[Arc<Downstream>] {
        &self.servers
    }

    /// The downstream server named `name`.
    pub fn server(&self, name: &str) -> Option<&Arc<Downstream>> {
        self.servers.iter().find(|s| s.name() == name)
    }

    /// The `GET /health` answer: `healthy` when every downstream server is
    /// up, `degraded` otherwise, each server's state (see
    /// [`Downstream::health`]), and what the gateway holds for its upstream
    /// clients (see [`upstream`](Self::upstream)).
    pub fn health(&self) -> serde_json::Value {
        let all_up = self.servers.iter().all(|s| s.status() == Status::Up);
        serde_json::json!({
            "status": if all_up { "healthy" } else { "degraded" },
            "server": "session_manager",
            "downstream": self.servers.iter().map(|s| s.health()).collect::<Vec<_>>(),
            "upstream": self.upstream(),
            "timestamp": crate::servers::utc_timestamp(std::time::SystemTime::now()),
        })
    }

    /// What the gateway holds for its upstream clients: `listeners` (open
    /// `subscriptions/listen` streams), `peers` (sessions it may announce
    /// list changes to) and `subscribedUris` (URIs sessions subscribed to,
    /// in this process). Once every client has gone these return to zero,
    /// which is how a soak tells a leak from an allocator keeping memory.
    pub fn upstream(&self) -> serde_json::Value {
        let a = &self.announcer;
        let peers = a.peers().iter().filter(|p| !p.is_closed()).count();
        serde_json::json!({
            "listeners": a.notifier.listeners(),
            "peers": peers,
            "subscribedUris": a.subscribers().len(),
        })
    }

    /// `GET /health`, answered with [`health`](Self::health).
    pub fn health_route(self: &Arc<Self>) -> ExtraRoutes {
        self.health_route_with(None)
    }

    /// `GET /health` for the gateway served by `service`: its `upstream`
    /// also counts the open `sessions`.
    fn health_route_with(self: &Arc<Self>, service: Option<StreamableHttpService>) -> ExtraRoutes {
        let gateway = Arc::downgrade(self);
        Arc::new(move |req| {
            if req.uri().path() != "/health" {
                return None;
            }
            let mut body = gateway.upgrade().map(|g| g.health()).unwrap_or_default();
            if let (Some(service), Some(upstream)) = (&service, body.get_mut("upstream")) {
                upstream["sessions"] = service.session_count().into();
            }
            Some(
                http::Response::builder()
                    .header("content-type", "application/json")
                    .body(McpBody::full(body.to_string()))
                    .expect("a static response is valid"),
            )
        })
    }
}

/// Serves the gateway over Streamable HTTP at `/mcp` of `listener` (with
/// `GET /health`) until `shutdown` completes.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    config: HttpConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let service = StreamableHttpService::new(gateway.clone(), config);
    let health = gateway.health_route_with(Some(service.clone()));
    mcp_sdk_server::http::serve_app(listener, "/mcp", service, Some(health), shutdown).await
}

/// Renews this replica's leases on subscribed URIs and takes over those
/// nobody holds (see [`replicas`]), every [`replicas::RENEW`], as long as
/// the gateway lives.
async fn take_turns(gateway: std::sync::Weak<Gateway>, replicas: Arc<GatewayReplicas>) {
    let mut tick = tokio::time::interval(replicas::RENEW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(g) = gateway.upgrade() else { return };
        let notifier = g.announcer.notifier.clone();
        replicas
            .round(&g.servers, |uri| notifier.is_watched(uri))
            .await;
    }
}

/// Stops watching, at the servers that own them, the resource URIs no
/// stateless listener watches any more (nor a session subscribes to);
/// their watching started before each listener's stream was acknowledged
/// (`Gateway::watch_for_listener`). Ends with the gateway.
async fn follow_listeners(
    gateway: std::sync::Weak<Gateway>,
    mut watched: tokio::sync::watch::Receiver<std::collections::BTreeSet<String>>,
) {
    let mut current = std::collections::BTreeSet::new();
    loop {
        let next = watched.borrow_and_update().clone();
        let Some(g) = gateway.upgrade() else { return };
        for uri in current.difference(&next) {
            // A listener that came since keeps it (`unwatch` checks that
            // too, against a listener coming as it runs).
            if !g.announcer.has_session_subscribers(uri) && !g.announcer.notifier.is_watched(uri) {
                if let Some(i) = g.owner_of(uri) {
                    g.servers[i].unwatch(uri).await;
                }
            }
        }
        drop(g);
        current = next;
        if watched.changed().await.is_err() {
            return;
        }
    }
}

/// Tells upstream clients that the aggregated lists changed: stateless
/// listeners through the gateway's [`Notifier`], session clients through
/// their peers (kept from `notifications/initialized`, dropped once their
/// session has closed).
#[derive(Default)]
pub(crate) struct Announcer {
    notifier: Notifier,
    peers: Mutex<Vec<Peer>>,
    /// Resource URI → the sessions subscribed to it (`resources/subscribe`),
    /// of this process; with replicas they are shared instead.
    subscribers: Mutex<HashMap<String, Vec<Peer>>>,
    /// What the replicas share, when this is one of several.
    pub(crate) replicas: Option<Arc<GatewayReplicas>>,
}

#[derive(Clone, Copy)]
enum List {
    Tools,
    Prompts,
    Resources,
}

impl Announcer {
    fn peers(&self) -> MutexGuard<'_, Vec<Peer>> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add_peer(&self, peer: Peer) {
        let mut peers = self.peers();
        peers.retain(|p| !p.is_closed());
        peers.push(peer);
    }

    fn subscribers(&self) -> MutexGuard<'_, HashMap<String, Vec<Peer>>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes `peer`'s session to `uri`; whether it is the first
    /// session to be (so the gateway must start watching it downstream).
    pub(crate) fn subscribe(&self, uri: &str, peer: &Peer) -> bool {
        let mut subscribers = self.subscribers();
        let list = subscribers.entry(uri.to_owned()).or_default();
        list.retain(|p| !p.is_closed() && !p.same_session(peer));
        list.push(peer.clone());
        list.len() == 1
    }

    /// Whether `peer`'s session may subscribe to `uri`: it is subscribed
    /// to it already, or to fewer than `limit` URIs.
    pub(crate) fn may_subscribe(&self, uri: &str, peer: &Peer, limit: usize) -> bool {
        let subscribers = self.subscribers();
        let mine = |list: &Vec<Peer>| list.iter().any(|p| p.same_session(peer));
        subscribers.get(uri).is_some_and(mine)
            || subscribers.values().filter(|list| mine(list)).count() < limit
    }

    /// Unsubscribes `peer`'s session from `uri`; whether no session is
    /// left subscribed (so the gateway may stop watching it downstream).
    pub(crate) fn unsubscribe(&self, uri: &str, peer: &Peer) -> bool {
        let mut subscribers = self.subscribers();
        let Some(list) = subscribers.get_mut(uri) else {
            return true;
        };
        list.retain(|p| !p.is_closed() && !p.same_session(peer));
        let none_left = list.is_empty();
        if none_left {
            subscribers.remove(uri);
        }
        none_left && !self.notifier.is_watched(uri)
    }

    /// Whether a live session is subscribed to `uri` (with replicas:
    /// whether this replica watches it for the sessions).
    pub(crate) fn has_session_subscribers(&self, uri: &str) -> bool {
        if let Some(replicas) = &self.replicas {
            return replicas.holds(uri);
        }
        self.subscribers()
            .get(uri)
            .is_some_and(|list| list.iter().any(|p| !p.is_closed()))
    }

    /// Forgets a closed session: out of the peers, out of every URI's
    /// subscribers. The URIs no session is subscribed to any more (so the
    /// gateway may stop watching them downstream).
    pub(crate) fn forget_session(&self, peer: &Peer) -> Vec<String> {
        self.peers()
            .retain(|p| !p.is_closed() && !p.same_session(peer));
        let mut subscribers = self.subscribers();
        let mut unwatched = Vec::new();
        subscribers.retain(|uri, list| {
            list.retain(|p| !p.is_closed() && !p.same_session(peer));
            if list.is_empty() {
                unwatched.push(uri.clone());
            }
            !list.is_empty()
        });
        // Stateless listeners may still want some of them.
        unwatched.retain(|uri| !self.notifier.is_watched(uri));
        unwatched
    }

    /// A downstream server says `uri` changed: stateless listeners
    /// subscribed to it and subscribed sessions hear it. Whether the URI
    /// was watched for sessions that have all closed since (so the gateway
    /// may stop watching it).
    pub(crate) fn resource_updated(&self, uri: &str) -> bool {
        self.notifier.resource_updated(uri);
        if let Some(replicas) = &self.replicas {
            // Told by the replica that holds the URI; the others heard it
            // for their stateless listeners only. Which URIs stay watched
            // is the replicas' rounds' business.
            let (replicas, uri) = (replicas.clone(), uri.to_owned());
            tokio::spawn(async move { replicas.tell_subscribers(&uri).await });
            return false;
        }
        let peers = {
            let mut subscribers = self.subscribers();
            let Some(list) = subscribers.get_mut(uri) else {
                return false;
            };
            list.retain(|p| !p.is_closed());
            if list.is_empty() {
                subscribers.remove(uri);
                return !self.notifier.is_watched(uri);
            }
            list.clone()
        };
        let uri = uri.to_owned();
        // As in `announce`: a slow client must not hold up the server's
        // other notifications.
        tokio::spawn(async move {
            for peer in peers {
                let _ = peer.notify_resource_updated(uri.clone()).await;
            }
        });
        false
    }

    pub(crate) fn tools_changed(&self) {
        self.announce(&[List::Tools]);
    }

    pub(crate) fn prompts_changed(&self) {
        self.announce(&[List::Prompts]);
    }

    pub(crate) fn resources_changed(&self) {
        self.announce(&[List::Resources]);
    }

    /// A server came or went: all of its lists with it.
    pub(crate) fn all_changed(&self) {
        self.announce(&[List::Tools, List::Prompts, List::Resources]);
    }

    fn announce(&self, lists: &'static [List]) {
        for list in lists {
            match list {
                List::Tools => self.notifier.tool_list_changed(),
                List::Prompts => self.notifier.prompt_list_changed(),
                List::Resources => self.notifier.resource_list_changed(),
            }
        }
        if self.replicas.is_some() {
            // The notifier's bus carries the change to every replica, each
            // of which appends it to its sessions' streams, once per
            // session however many replicas hold a copy (the SDK's
            // delivery for replicas); the peers known here are only the
            // sessions initialized on this replica.
            return;
        }
        let peers = {
            let mut peers = self.peers();
            peers.retain(|p| !p.is_closed());
            peers.clone()
        };
        if peers.is_empty() {
            return;
        }
        // Sending may wait on a slow client; the caller (a downstream
        // client's notification callback, a reconnection) must not.
        tokio::spawn(async move {
            for peer in peers {
                for list in lists {
                    let _ = match list {
                        List::Tools => peer.notify_tool_list_changed().await,
                        List::Prompts => peer.notify_prompt_list_changed().await,
                        List::Resources => peer.notify_resource_list_changed().await,
                    };
                }
            }
        });
    }
}
