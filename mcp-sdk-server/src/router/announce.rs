//! [`Announcer`]: tells every client of a router that something changed,
//! sessions through their peers and stateless clients through the
//! [`Notifier`], and keeps the `resources/subscribe` subscriptions of the
//! sessions.

use crate::notifier::Notifier;
use crate::peer::Peer;
use crate::util::lock;
use mcp_sdk::Error;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The most distinct URIs the sessions of one router may be subscribed to.
pub const MAX_SUBSCRIBED_URIS: usize = 10_000;
/// The most subscriptions one session may hold.
pub const MAX_SUBSCRIPTIONS_PER_SESSION: usize = 1_000;

/// Tells every client of a [`Router`](super::Router) that something
/// changed: each open session (through its [`Peer`]) and each stateless
/// client's `subscriptions/listen` stream (through the [`Notifier`]).
///
/// The router keeps the sessions itself (from `notifications/initialized`
/// until the session closes) and their `resources/subscribe` subscriptions
/// (bounded: [`MAX_SUBSCRIBED_URIS`] URIs, [`MAX_SUBSCRIPTIONS_PER_SESSION`]
/// per session). Take it with [`Router::announcer`](super::Router::announcer)
/// and keep a clone in your state to announce from a handler or a
/// background task. Cheap to clone; clones announce to the same clients.
#[derive(Clone, Default)]
pub struct Announcer {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Set when this announcer's router was merged into another: from then
    /// on every announcement goes to that one's clients.
    target: OnceLock<Announcer>,
    notifier: Notifier,
    sessions: Mutex<Vec<Peer>>,
    /// Subscription key → the sessions subscribed, each with the URI as it
    /// wrote it (what its `notifications/resources/updated` names).
    subscriptions: Mutex<HashMap<String, Vec<(Peer, String)>>>,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.resolve().inner;
        f.debug_struct("Announcer")
            .field("sessions", &lock(&inner.sessions).len())
            .field("subscribed_uris", &lock(&inner.subscriptions).len())
            .finish()
    }
}

impl Announcer {
    /// The announcer that does the work: this one, or the one of the router
    /// this one's router was merged into.
    fn resolve(&self) -> &Announcer {
        let mut at = self;
        while let Some(next) = at.inner.target.get() {
            at = next;
        }
        at
    }

    /// From now on, announces to `target`'s clients (this announcer's router
    /// was merged into `target`'s).
    pub(crate) fn forward_to(&self, target: &Announcer) {
        let target = target.resolve();
        if Arc::ptr_eq(&self.resolve().inner, &target.inner) {
            return;
        }
        let _ = self.resolve().inner.target.set(target.clone());
    }

    /// The [`Notifier`] of the stateless clients' `subscriptions/listen`
    /// streams.
    pub fn notifier(&self) -> &Notifier {
        &self.resolve().inner.notifier
    }

    /// The open sessions, closed ones dropped; none when the transport
    /// delivers changes to sessions itself (replicas sharing sessions, each
    /// change reaching each session once whichever replica announced it).
    fn sessions(&self) -> Vec<Peer> {
        if self.notifier().session_subscriptions().is_some() {
            return Vec::new();
        }
        let mut sessions = lock(&self.resolve().inner.sessions);
        sessions.retain(|p| !p.is_closed());
        sessions.clone()
    }

    pub(crate) fn session_opened(&self, peer: Peer) {
        let mut sessions = lock(&self.resolve().inner.sessions);
        sessions.retain(|p| !p.is_closed() && !p.same_session(&peer));
        sessions.push(peer);
    }

    pub(crate) fn session_closed(&self, peer: &Peer) {
        let inner = &self.resolve().inner;
        lock(&inner.sessions).retain(|p| !p.is_closed() && !p.same_session(peer));
        lock(&inner.subscriptions).retain(|_, list| {
            list.retain(|(p, _)| !p.is_closed() && !p.same_session(peer));
            !list.is_empty()
        });
    }

    /// `notifications/tools/list_changed` to every session and stateless
    /// listener.
    pub async fn tool_list_changed(&self) {
        self.notifier().tool_list_changed();
        for peer in self.sessions() {
            if let Err(e) = peer.notify_tool_list_changed().await {
                tracing::debug!(%e, "could not deliver a tool list change");
            }
        }
    }

    /// `notifications/prompts/list_changed` to every session and stateless
    /// listener.
    pub async fn prompt_list_changed(&self) {
        self.notifier().prompt_list_changed();
        for peer in self.sessions() {
            if let Err(e) = peer.notify_prompt_list_changed().await {
                tracing::debug!(%e, "could not deliver a prompt list change");
            }
        }
    }

    /// `notifications/resources/list_changed` to every session and
    /// stateless listener.
    pub async fn resource_list_changed(&self) {
        self.notifier().resource_list_changed();
        for peer in self.sessions() {
            if let Err(e) = peer.notify_resource_list_changed().await {
                tracing::debug!(%e, "could not deliver a resource list change");
            }
        }
    }

    /// `notifications/resources/updated` to the sessions subscribed to
    /// `key` (each hears the URI as it subscribed with it) and to the
    /// stateless listeners watching `key`. `key` is the URI as
    /// [`Router::on_subscribe`](super::Router::on_subscribe) gave it, by
    /// default the URI itself.
    pub async fn resource_updated(&self, key: &str) {
        self.notifier().resource_updated(key);
        if self.notifier().session_subscriptions().is_some() {
            return;
        }
        let targets: Vec<(Peer, String)> = {
            let mut subs = lock(&self.resolve().inner.subscriptions);
            let Some(list) = subs.get_mut(key) else {
                return;
            };
            list.retain(|(p, _)| !p.is_closed());
            let targets = list.clone();
            if list.is_empty() {
                subs.remove(key);
            }
            targets
        };
        for (peer, uri) in targets {
            if let Err(e) = peer.notify_resource_updated(uri).await {
                tracing::debug!(%e, key, "could not deliver a resource update");
            }
        }
    }

    /// Records that `peer`'s session subscribed to `uri`, kept under `key`.
    pub(crate) fn subscribe(&self, key: String, uri: String, peer: &Peer) -> Result<(), Error> {
        let mut subs = lock(&self.resolve().inner.subscriptions);
        let mine: usize = subs
            .values()
            .map(|list| list.iter().filter(|(p, _)| p.same_session(peer)).count())
            .sum();
        let already = subs
            .get(&key)
            .is_some_and(|list| list.iter().any(|(p, u)| p.same_session(peer) && *u == uri));
        if already {
            return Ok(());
        }
        if mine >= MAX_SUBSCRIPTIONS_PER_SESSION {
            return Err(Error::invalid_params(format_args!(
                "this session already holds {MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions, \
                 the most a session may; unsubscribe from some first"
            )));
        }
        if !subs.contains_key(&key) && subs.len() >= MAX_SUBSCRIBED_URIS {
            subs.retain(|_, list| {
                list.retain(|(p, _)| !p.is_closed());
                !list.is_empty()
            });
            if subs.len() >= MAX_SUBSCRIBED_URIS {
                return Err(Error::internal(format_args!(
                    "the server's sessions are subscribed to {MAX_SUBSCRIBED_URIS} resources, \
                     the most it keeps; try again later"
                )));
            }
        }
        let list = subs.entry(key).or_default();
        list.retain(|(p, _)| !p.is_closed());
        list.push((peer.clone(), uri));
        Ok(())
    }

    /// Forgets `peer`'s subscriptions to `uri` (as it wrote it, or as its
    /// key).
    pub(crate) fn unsubscribe(&self, uri: &str, peer: &Peer) {
        lock(&self.resolve().inner.subscriptions).retain(|key, list| {
            list.retain(|(p, u)| !(p.same_session(peer) && (u == uri || key == uri)));
            !list.is_empty()
        });
    }

    /// Whether a session is subscribed to `key` (for tests and for servers
    /// that watch a source only while someone listens).
    pub fn is_subscribed(&self, key: &str) -> bool {
        lock(&self.resolve().inner.subscriptions).contains_key(key)
            || self.notifier().is_watched(key)
    }
}
