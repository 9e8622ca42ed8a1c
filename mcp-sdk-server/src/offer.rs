//! [`Offer`]: what a server offers now, read once and again when its
//! [`Notifier`] says it changed.

use crate::notifier::Notifier;
use mcp_sdk::ServerCapabilities;
use std::sync::{Arc, RwLock};

/// The server's capabilities, cached; read again from the server after
/// [`Notifier::capabilities_changed`].
pub(crate) struct Offer {
    current: RwLock<Arc<ServerCapabilities>>,
    read: Box<dyn Fn() -> ServerCapabilities + Send + Sync>,
    /// Feeds the `subscriptions/listen` streams of stateless clients; says
    /// when the capabilities changed.
    pub notifier: Notifier,
}

impl Offer {
    /// The offer `read` gives, announced on `notifier`.
    pub fn new(
        read: impl Fn() -> ServerCapabilities + Send + Sync + 'static,
        notifier: Notifier,
    ) -> Self {
        Offer {
            current: RwLock::new(Arc::new(read())),
            read: Box::new(read),
            notifier,
        }
    }

    /// What the server offers now.
    pub fn capabilities(&self) -> Arc<ServerCapabilities> {
        if self.notifier.take_capabilities_changed() {
            let fresh = Arc::new((self.read)());
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
            return fresh;
        }
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
