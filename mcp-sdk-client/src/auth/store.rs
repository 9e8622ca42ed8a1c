//! [`TokenStore`]: where tokens and client registrations are kept between
//! requests (and, with a persistent store, between runs).

use super::Secret;
use crate::ClientError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

/// The tokens one authorization gave for one MCP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    /// The authorization server that issued them; tokens of another issuer
    /// are not used once the server names a new one.
    pub issuer: String,
    /// The resource identifier they were asked for (RFC 8707).
    pub resource: String,
    /// The access token, sent as `Authorization: Bearer`.
    pub access_token: Secret,
    /// The refresh token, if the authorization server gave one.
    pub refresh_token: Option<Secret>,
    /// The scopes asked for, space-separated.
    pub scope: Option<String>,
    /// When the access token expires, if the server said.
    pub expires_at: Option<SystemTime>,
    /// Whether the access token is bound to the client's DPoP key (RFC
    /// 9449): sent as `Authorization: DPoP` with a proof.
    #[serde(default)]
    pub dpop: bool,
}

/// A client registered with (or pre-registered at) one authorization
/// server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The client id (a URL for a Client ID Metadata Document).
    pub client_id: String,
    /// The client secret of a confidential client.
    pub client_secret: Option<Secret>,
    /// How the client authenticates at the token endpoint
    /// (`client_secret_basic`, `client_secret_post` or `none`), when the
    /// registration said.
    pub token_endpoint_auth_method: Option<String>,
}

/// Keeps tokens by MCP server URL and client registrations by issuer, so
/// that a registration is never offered to another authorization server.
pub trait TokenStore: Send + Sync + 'static {
    /// The tokens for the MCP server at `server`.
    fn tokens(&self, server: &str) -> Result<Option<Tokens>, ClientError>;
    /// Keeps `tokens` for `server`.
    fn save_tokens(&self, server: &str, tokens: &Tokens) -> Result<(), ClientError>;
    /// Forgets the tokens for `server`.
    fn remove_tokens(&self, server: &str) -> Result<(), ClientError>;
    /// The client registered with the authorization server `issuer`.
    fn registration(&self, issuer: &str) -> Result<Option<Registration>, ClientError>;
    /// Keeps the client registered with `issuer`.
    fn save_registration(&self, issuer: &str, client: &Registration) -> Result<(), ClientError>;
}

/// A [`TokenStore`] in memory: it lasts as long as the process.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<HashMap<String, Tokens>>,
    registrations: Mutex<HashMap<String, Registration>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TokenStore for MemoryTokenStore {
    fn tokens(&self, server: &str) -> Result<Option<Tokens>, ClientError> {
        Ok(lock(&self.tokens).get(server).cloned())
    }

    fn save_tokens(&self, server: &str, tokens: &Tokens) -> Result<(), ClientError> {
        lock(&self.tokens).insert(server.to_owned(), tokens.clone());
        Ok(())
    }

    fn remove_tokens(&self, server: &str) -> Result<(), ClientError> {
        lock(&self.tokens).remove(server);
        Ok(())
    }

    fn registration(&self, issuer: &str) -> Result<Option<Registration>, ClientError> {
        Ok(lock(&self.registrations).get(issuer).cloned())
    }

    fn save_registration(&self, issuer: &str, client: &Registration) -> Result<(), ClientError> {
        lock(&self.registrations).insert(issuer.to_owned(), client.clone());
        Ok(())
    }
}

/// A store shared by several [`OAuth`](super::OAuth)s (one per connection,
/// say) is one store.
impl<T: TokenStore> TokenStore for std::sync::Arc<T> {
    fn tokens(&self, server: &str) -> Result<Option<Tokens>, ClientError> {
        (**self).tokens(server)
    }

    fn save_tokens(&self, server: &str, tokens: &Tokens) -> Result<(), ClientError> {
        (**self).save_tokens(server, tokens)
    }

    fn remove_tokens(&self, server: &str) -> Result<(), ClientError> {
        (**self).remove_tokens(server)
    }

    fn registration(&self, issuer: &str) -> Result<Option<Registration>, ClientError> {
        (**self).registration(issuer)
    }

    fn save_registration(&self, issuer: &str, client: &Registration) -> Result<(), ClientError> {
        (**self).save_registration(issuer, client)
    }
}
