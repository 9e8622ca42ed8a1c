//! The gateway's credentials for downstream servers that ask for OAuth.
//! They are the gateway's own, named per server in its config file, and
//! never the upstream user's token (which the gateway does not pass on):
//!
//! - the client credentials grant, as a client registered beforehand
//!   whose secret is in the gateway's environment (never in the file);
//! - the same, plus per user an RFC 8693 token exchange of the caller's
//!   token at the authorization server for one for this server (see
//!   `exchange`), so that the server sees who asked;
//! - tokens a person got beforehand with `client login --token-store FILE
//!   URL`, which the gateway refreshes; it never signs anyone in itself.

use mcp_sdk_client::auth::{
    AuthorizationHandler, FileTokenStore, Grant, MemoryTokenStore, OAuth, Secret,
};
use mcp_sdk_client::{async_trait, ClientError};
use reqwest::Url;
use std::path::PathBuf;

/// How the gateway authorizes at one downstream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The OAuth client credentials grant (MCP extension
    /// `io.modelcontextprotocol/oauth-client-credentials`).
    ClientCredentials {
        /// The client id registered with the authorization server.
        client_id: String,
        /// The environment variable that holds the client secret.
        client_secret_env: String,
    },
    /// Per user, the caller's token exchanged (RFC 8693) at
    /// `token_endpoint` for one for this server, so that it sees who
    /// asked (see `exchange`); the gateway's own connection (lists,
    /// subscriptions) uses the client credentials grant of the same
    /// client.
    TokenExchange {
        /// The authorization server's token endpoint.
        token_endpoint: String,
        /// The client id registered with the authorization server.
        client_id: String,
        /// The environment variable that holds the client secret.
        client_secret_env: String,
    },
    /// Tokens kept in a token store file by `client login --token-store`,
    /// refreshed when they expire; the registration made at that sign-in
    /// is in the file too, unless a pre-registered client is named.
    StoredTokens {
        /// The token store file.
        token_store: PathBuf,
        /// A client registered beforehand, if the sign-in used one.
        client_id: Option<String>,
        /// The environment variable that holds its secret, if it has one.
        client_secret_env: Option<String>,
    },
}

/// Reads the secret in the variable `name`.
fn secret_from_env(name: &str) -> Result<Secret, String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
        Ok(_) => Err(format!("the client secret variable {name} is empty")),
        Err(_) => Err(format!("the client secret variable {name} is not set")),
    }
}

impl Credentials {
    /// The authorization for the server `server` at `url`.
    pub fn oauth(&self, server: &str, url: &str) -> Result<OAuth, String> {
        let no_sign_in = NoSignIn {
            server: server.to_owned(),
            url: url.to_owned(),
            store: match self {
                Credentials::StoredTokens { token_store, .. } => Some(token_store.clone()),
                Credentials::ClientCredentials { .. } | Credentials::TokenExchange { .. } => None,
            },
        };
        let builder = OAuth::builder(no_sign_in).client_name("mcp-gateway");
        let built = match self {
            Credentials::ClientCredentials {
                client_id,
                client_secret_env,
            }
            | Credentials::TokenExchange {
                client_id,
                client_secret_env,
                ..
            } => builder
                .pre_registered(
                    None,
                    client_id.clone(),
                    Some(secret_from_env(client_secret_env)?),
                )
                .grant(Grant::ClientCredentials)
                .store(MemoryTokenStore::new())
                .build(),
            Credentials::StoredTokens {
                token_store,
                client_id,
                client_secret_env,
            } => {
                let mut builder = builder.store(FileTokenStore::new(token_store));
                if let Some(client_id) = client_id {
                    let secret = client_secret_env
                        .as_deref()
                        .map(secret_from_env)
                        .transpose()?;
                    builder = builder.pre_registered(None, client_id.clone(), secret);
                }
                builder.build()
            }
        };
        built.map_err(|e| e.to_string())
    }
}

impl Credentials {
    /// The per-user token exchange these credentials ask for, if any.
    pub(crate) fn exchange(&self) -> Result<Option<super::exchange::Exchange>, String> {
        match self {
            Credentials::TokenExchange {
                token_endpoint,
                client_id,
                client_secret_env,
            } => Ok(Some(super::exchange::Exchange::new(
                token_endpoint,
                client_id,
                secret_from_env(client_secret_env)?,
            ))),
            _ => Ok(None),
        }
    }
}

/// The gateway has no person to sign in: a server whose tokens are gone
/// (or whose refresh failed) needs `client login` again.
struct NoSignIn {
    server: String,
    url: String,
    store: Option<PathBuf>,
}

#[async_trait]
impl AuthorizationHandler for NoSignIn {
    async fn authorize(&self, _authorization_url: &Url) -> Result<Url, ClientError> {
        let how = match &self.store {
            Some(store) => format!(
                "sign in once with `client login --token-store {} {}`",
                store.display(),
                self.url
            ),
            None => "give it client credentials in the gateway's config".to_owned(),
        };
        Err(ClientError::Authorization(format!(
            "the downstream server {} needs a person to sign in, which the gateway cannot do: {how}",
            self.server
        )))
    }
}
