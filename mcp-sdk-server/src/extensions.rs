//! [`SessionExtensions`]: data a server keeps per session, by type.

use std::sync::{Arc, Mutex};

/// A map from type to value that lives as long as one session (in the
/// stateless era, as long as one request): what a server would otherwise
/// keep in a list of `(Peer, T)` pairs, scan, and clean up by hand when the
/// session closes. Values are dropped with the session.
///
/// Reach it with [`RequestContext::session_extensions`](crate::RequestContext::session_extensions)
/// or [`Peer::session_extensions`](crate::Peer::session_extensions). Cloning
/// is cheap; clones share the map. Values come out as clones, so store an
/// `Arc` (or an `Arc<Mutex<..>>` to change them in place) for anything large.
///
/// ```
/// use mcp_sdk_server::SessionExtensions;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Tenant(String);
///
/// let ext = SessionExtensions::default();
/// assert_eq!(ext.get::<Tenant>(), None);
/// ext.insert(Tenant("acme".into()));
/// assert_eq!(ext.get::<Tenant>(), Some(Tenant("acme".into())));
/// let counter = ext.get_or_insert_with(|| 41u32) + 1;
/// assert_eq!(counter, 42);
/// ```
#[derive(Clone, Default)]
pub struct SessionExtensions {
    map: Arc<Mutex<http::Extensions>>,
}

impl std::fmt::Debug for SessionExtensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionExtensions")
            .field("len", &self.lock().len())
            .finish()
    }
}

impl SessionExtensions {
    fn lock(&self) -> std::sync::MutexGuard<'_, http::Extensions> {
        crate::util::lock(&self.map)
    }

    /// Stores `value`, giving back the value of the same type stored before.
    pub fn insert<T: Clone + Send + Sync + 'static>(&self, value: T) -> Option<T> {
        self.lock().insert(value)
    }

    /// A clone of the value of type `T`, if one is stored.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.lock().get::<T>().cloned()
    }

    /// A clone of the value of type `T`, stored first from `init` if there
    /// was none. Atomic: two requests of one session that race here get the
    /// same value.
    pub fn get_or_insert_with<T: Clone + Send + Sync + 'static>(
        &self,
        init: impl FnOnce() -> T,
    ) -> T {
        self.lock().get_or_insert_with(init).clone()
    }

    /// Takes the value of type `T` out.
    pub fn remove<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.lock().remove::<T>()
    }

    /// Whether a value of type `T` is stored.
    pub fn contains<T: Send + Sync + 'static>(&self) -> bool {
        self.lock().get::<T>().is_some()
    }

    /// Whether two handles share one map (belong to the same session).
    pub fn same_map(&self, other: &SessionExtensions) -> bool {
        Arc::ptr_eq(&self.map, &other.map)
    }
}
