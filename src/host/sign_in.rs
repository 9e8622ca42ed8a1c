//! Signing in to MCP servers that ask for OAuth: every connection by URL
//! carries an [`OAuth`] whose tokens live in the user's configuration
//! directory (`$XDG_CONFIG_HOME/mcp-reference/tokens.json`, kept by server
//! URL, with client registrations kept by authorization server), and whose
//! user part is the system browser with a loopback redirect, the printed
//! URL and a pasted redirect, or the web UI's "Sign in" button.

use super::error::HostError;
use mcp_sdk_client::auth::{
    AuthorizationHandler, FileTokenStore, LoopbackBrowser, OAuth, PasteRedirect, TokenStore, Tokens,
};
use mcp_sdk_client::{async_trait, ClientError};
use reqwest::Url;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The directory under the user's configuration directory.
pub const CONFIG_DIR: &str = "mcp-reference";

/// The name the host registers with authorization servers.
pub const CLIENT_NAME: &str = "mcp-reference-host";

/// How the host signs in: one token store and one way to do the user's
/// part, for every connection. Cheap to clone.
#[derive(Clone)]
pub struct SignIn {
    store: Arc<FileTokenStore>,
    handler: Arc<dyn AuthorizationHandler>,
    redirect_uri: Option<String>,
    activity: Arc<AtomicU64>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("store", &self.store.path())
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// Tokens in `store`, the user's part done by `handler`.
    pub fn new(store: FileTokenStore, handler: Arc<dyn AuthorizationHandler>) -> Self {
        SignIn {
            store: Arc::new(store),
            handler,
            redirect_uri: None,
            activity: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The command line's way: the system browser and a loopback
    /// listener, or (`paste`) the URL printed and the redirect pasted on
    /// stdin; tokens in `store`, else in the user's configuration
    /// directory.
    pub fn for_terminal(paste: bool, store: Option<&Path>) -> Result<Self, HostError> {
        let store = match store {
            Some(path) => FileTokenStore::new(path),
            None => FileTokenStore::in_config_dir(CONFIG_DIR)
                .map_err(|e| HostError::Usage(e.to_string()))?,
        };
        let handler: Arc<dyn AuthorizationHandler> = if paste {
            Arc::new(PasteRedirect::stdio())
        } else {
            Arc::new(LoopbackBrowser::system())
        };
        Ok(Self::new(store, handler))
    }

    /// The redirect URI registered and sent (the web UI's own callback);
    /// by default the client's, `http://127.0.0.1/callback`, whose port
    /// the loopback listener picks.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The token store.
    pub fn store(&self) -> &FileTokenStore {
        &self.store
    }

    /// The authorization for one connection.
    pub fn oauth(&self) -> Result<OAuth, ClientError> {
        let mut builder = OAuth::builder(Tracked {
            inner: self.handler.clone(),
            activity: self.activity.clone(),
        })
        .client_name(CLIENT_NAME)
        .store(self.store.clone());
        if let Some(uri) = &self.redirect_uri {
            builder = builder.redirect_uri(uri.clone());
        }
        builder.build()
    }

    /// Changes whenever a sign-in starts or ends, and is odd while one is
    /// under way: a connection waiting for a person is not a server that
    /// does not answer.
    pub fn activity(&self) -> u64 {
        self.activity.load(Ordering::SeqCst)
    }

    /// The tokens kept for the server at `url`.
    pub fn tokens(&self, url: &str) -> Result<Option<Tokens>, HostError> {
        self.store
            .tokens(&store_key(url)?)
            .map_err(|e| HostError::Usage(e.to_string()))
    }

    /// Forgets the tokens of the server at `url`; whether there were any.
    pub fn forget(&self, url: &str) -> Result<bool, HostError> {
        let key = store_key(url)?;
        let had = self
            .store
            .tokens(&key)
            .map_err(|e| HostError::Usage(e.to_string()))?
            .is_some();
        self.store
            .remove_tokens(&key)
            .map_err(|e| HostError::Usage(e.to_string()))?;
        Ok(had)
    }

    /// Where the tokens are kept.
    pub fn store_path(&self) -> &Path {
        self.store.path()
    }
}

/// The key the client keeps a server's tokens under: its URL as parsed.
fn store_key(url: &str) -> Result<String, HostError> {
    Url::parse(url)
        .map(String::from)
        .map_err(|e| HostError::Usage(format!("{url:?} is not a URL: {e}")))
}

/// A handler that counts sign-ins starting and ending.
struct Tracked {
    inner: Arc<dyn AuthorizationHandler>,
    activity: Arc<AtomicU64>,
}

#[async_trait]
impl AuthorizationHandler for Tracked {
    async fn redirect_uri(&self, configured: &Url) -> Result<Option<Url>, ClientError> {
        self.inner.redirect_uri(configured).await
    }

    async fn authorize(&self, authorization_url: &Url) -> Result<Url, ClientError> {
        self.activity.fetch_add(1, Ordering::SeqCst);
        // Counted as ended even when the connection attempt is dropped.
        let _ended = Ended(&self.activity);
        self.inner.authorize(authorization_url).await
    }
}

struct Ended<'a>(&'a AtomicU64);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
