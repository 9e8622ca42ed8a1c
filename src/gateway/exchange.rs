//! Per-user downstream tokens by OAuth token exchange (RFC 8693), for a
//! server configured with `grant = "token_exchange"`: so that the server
//! behind the gateway sees who asked.
//!
//! The gateway still never forwards the caller's token to a server: it
//! hands it to the authorization server (the token endpoint, which issued
//! it), authenticated as the gateway's own client, and gets back a token
//! for that server's resource URI, for the same user, with at most the
//! scopes the caller's token holds. Each user gets a connection of their
//! own to the server carrying that token, kept until shortly before the
//! token expires (at most [`MAX_USERS`] at once; the one that expires
//! first makes room). The gateway's own connection (client credentials
//! of the same client) serves what is not done for a user: lists,
//! subscriptions, `/health`.

use super::downstream::Downstream;
use mcp_sdk::{Error, ErrorCode};
use mcp_sdk_client::auth::Secret;
use mcp_sdk_client::Client;
use mcp_sdk_server::RequestContext;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many users' connections one server keeps at most.
pub const MAX_USERS: usize = 256;

/// The grant type of RFC 8693.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an OAuth access token (RFC 8693 §3).
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The largest token endpoint answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// A connection is not used in its token's last seconds.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// How long the token endpoint may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The token exchange for one downstream server.
pub(crate) struct Exchange {
    token_endpoint: String,
    client_id: String,
    secret: Secret,
    http: reqwest::Client,
    /// The caller (issuer, subject, scopes) → their connection.
    users: Mutex<HashMap<String, UserLink>>,
}

struct UserLink {
    client: Client,
    expires: Instant,
}

impl Exchange {
    /// Exchanges at `token_endpoint` as the client `client_id`.
    pub(crate) fn new(token_endpoint: &str, client_id: &str, secret: Secret) -> Self {
        Exchange {
            token_endpoint: token_endpoint.to_owned(),
            client_id: client_id.to_owned(),
            secret,
            http: reqwest::Client::builder()
                .timeout(EXCHANGE_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            users: Mutex::default(),
        }
    }

    fn users(&self) -> MutexGuard<'_, HashMap<String, UserLink>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection to `server` on behalf of `ctx`'s caller, and the key
    /// it is kept under; `None` when the request carries no verified
    /// caller (an unprotected gateway), which the gateway's own connection
    /// serves.
    pub(crate) async fn client_for(
        &self,
        server: &Arc<Downstream>,
        url: &str,
        ctx: &RequestContext,
    ) -> Result<Option<(Client, String)>, Error> {
        let Some(principal) = ctx.identity().and_then(|i| i.principal()) else {
            return Ok(None);
        };
        let scopes = ctx
            .identity()
            .map(|i| i.scopes.join(" "))
            .unwrap_or_default();
        let key = format!("{principal}\u{0}{scopes}");
        let now = Instant::now();
        if let Some(link) = self.users().get(&key) {
            if link.expires > now + EXPIRY_MARGIN {
                return Ok(Some((link.client.clone(), key)));
            }
        }
        let upstream = ctx
            .http_parts()
            .and_then(|p| p.headers.get(http::header::AUTHORIZATION))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned())
            .ok_or_else(|| {
                failure(
                    server.name(),
                    "the request carries no bearer token to exchange".into(),
                )
            })?;
        let (token, lifetime) = self.exchange(server.name(), &upstream, url).await?;
        let client = server
            .connect_as(&format!("Bearer {}", token.expose()))
            .await
            .map_err(|e| {
                failure(
                    server.name(),
                    format!("connecting with the exchanged token failed: {e}"),
                )
            })?;
        let mut users = self.users();
        users.retain(|_, link| link.expires > now + EXPIRY_MARGIN);
        if users.len() >= MAX_USERS {
            let soonest = users
                .iter()
                .min_by_key(|(_, link)| link.expires)
                .map(|(k, _)| k.clone());
            if let Some(soonest) = soonest {
                users.remove(&soonest);
            }
        }
        users.insert(
            key.clone(),
            UserLink {
                client: client.clone(),
                expires: now + lifetime,
            },
        );
        Ok(Some((client, key)))
    }

    /// Forgets the connection kept under `key` (it broke).
    pub(crate) fn forget(&self, key: &str) {
        self.users().remove(key);
    }

    /// Trades `upstream` for a token for `resource`: the token and how
    /// long it lives.
    async fn exchange(
        &self,
        server: &str,
        upstream: &str,
        resource: &str,
    ) -> Result<(Secret, Duration), Error> {
        let form = reqwest::Url::parse_with_params(
            "http://form.invalid/",
            [
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", upstream),
                ("subject_token_type", ACCESS_TOKEN),
                ("requested_token_type", ACCESS_TOKEN),
                ("resource", resource),
            ],
        )
        .map_err(|e| failure(server, format!("cannot build the request: {e}")))?;
        let sent = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(&self.client_id, Some(self.secret.expose()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form.query().unwrap_or_default().to_owned())
            .send()
            .await
            .map_err(|e| {
                failure(
                    server,
                    format!("the token endpoint cannot be reached: {}", e.without_url()),
                )
            })?;
        let status = sent.status();
        let answer = read_bounded(sent)
            .await
            .map_err(|why| failure(server, why))?;
        let answer: serde_json::Value = serde_json::from_slice(&answer).map_err(|_| {
            failure(
                server,
                format!("the token endpoint answered HTTP {status} with no JSON"),
            )
        })?;
        if !status.is_success() {
            // The error code and description only: nothing of a token.
            let text = |k: &str| answer.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let description: String = text("error_description").chars().take(200).collect();
            return Err(failure(
                server,
                format!(
                    "the token endpoint refused the exchange (HTTP {status}): {} {description}",
                    text("error")
                ),
            ));
        }
        let token = answer
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| failure(server, "the token endpoint gave no access_token".into()))?;
        let lifetime = answer
            .get("expires_in")
            .and_then(serde_json::Value::as_u64)
            .map_or(Duration::from_secs(300), Duration::from_secs);
        Ok((Secret::new(token), lifetime))
    }
}

/// The body of `response`, at most [`MAX_ANSWER_BYTES`].
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("the token endpoint's answer broke: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!(
                "the token endpoint's answer is longer than {MAX_ANSWER_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A failed exchange for `server`, as the caller sees it.
fn failure(server: &str, why: String) -> Error {
    Error::new(
        ErrorCode::INTERNAL_ERROR,
        format!("the gateway cannot get a token of your own for the downstream server {server:?}: {why}"),
    )
    .with_data(serde_json::json!({ "server": server }))
}
