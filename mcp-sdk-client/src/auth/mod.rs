//! OAuth 2.1 authorization for the HTTP transport, as the MCP
//! specification's authorization pages ask (revisions `2025-03-26` to
//! `2026-07-28`).
//!
//! Give an [`OAuth`] to
//! [`HttpTransportBuilder::oauth`](crate::transport::HttpTransportBuilder::oauth).
//! Every HTTP request then carries the access token; a 401, or a 403 with
//! `error="insufficient_scope"`, starts an authorization and the request is
//! sent again:
//!
//! 1. discovery: the protected resource metadata (RFC 9728) from the
//!    challenge's `resource_metadata`, else its well-known URIs; then the
//!    authorization server metadata (RFC 8414 or OpenID Connect), whose
//!    `issuer` must be the one named; for a server with none of it, the
//!    `2025-03-26` way (the server's origin, default endpoints);
//! 2. a refresh, when a refresh token of that issuer is kept;
//! 3. otherwise the client: pre-registered, registered before with that
//!    issuer, a Client ID Metadata Document URL, or dynamic registration
//!    (RFC 7591);
//! 4. the authorization code with PKCE S256, `state` and `resource` (RFC
//!    8707), the user's part done by an [`AuthorizationHandler`]; the
//!    redirect's `state` and `iss` (RFC 9207) are checked;
//! 5. the token request, the client authenticated with
//!    `client_secret_basic`, `client_secret_post` or as a public client.
//!
//! Scopes are the challenge's, else the resource's `scopes_supported`, else
//! none; `offline_access` is added when the authorization server offers
//! it; a step-up asks for the union of what was asked before and what the
//! challenge names. A request is authorized at most
//! [`MAX_AUTHORIZATIONS`] times before it fails.

mod challenge;
mod discovery;
mod file_store;
mod flow;
mod handler;
mod jwt;
mod loopback;
mod paste;
mod secret;
mod store;

pub(crate) use challenge::Challenge;
pub use file_store::FileTokenStore;
pub use handler::{AuthorizationHandler, FollowRedirect};
pub use loopback::{LoopbackBrowser, DEFAULT_SIGN_IN_TIMEOUT, MAX_REFUSED};
pub use paste::PasteRedirect;
pub use secret::Secret;
pub use store::{MemoryTokenStore, Registration, TokenStore, Tokens};

use crate::ClientError;
use discovery::MAX_DOCUMENT_BYTES;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many times one request may be authorized (a fresh authorization, a
/// refresh or a step-up) before it fails: a server that refuses every
/// token it gets must not keep the client authorizing forever.
pub const MAX_AUTHORIZATIONS: u32 = 3;

/// The grant type of RFC 7523's JWT bearer grant.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long one request to an authorization server may take.
const AUTH_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn auth_error(message: impl Into<String>) -> ClientError {
    ClientError::Authorization(message.into())
}

/// Authorization for the MCP server of one transport; cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("client_name", &self.inner.config.client_name)
            .field("redirect_uri", &self.inner.config.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// How the client gets its tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Grant {
    /// A user authorizes, through the [`AuthorizationHandler`]: the
    /// authorization code with PKCE. The default.
    AuthorizationCode,
    /// The client authorizes itself (the OAuth client credentials grant,
    /// MCP extension `io.modelcontextprotocol/oauth-client-credentials`),
    /// authenticating as a pre-registered client: with its secret, or with
    /// a JWT signed by its key ([`OAuthBuilder::private_key_jwt`]).
    ClientCredentials,
    /// A JWT the workload got from its platform (RFC 7523's JWT bearer
    /// grant, workload identity federation).
    JwtBearer(Secret),
    /// Enterprise-managed authorization (MCP extension
    /// `io.modelcontextprotocol/enterprise-managed-authorization`): the
    /// user's ID token from the enterprise's identity provider is
    /// exchanged there (RFC 8693) for an ID-JAG naming the MCP server's
    /// authorization server and resource, which that server takes in the
    /// JWT bearer grant, the client authenticating as pre-registered.
    EnterpriseManaged {
        /// The identity provider's token endpoint.
        idp_token_endpoint: String,
        /// The client's id at the identity provider.
        idp_client_id: String,
        /// The user's ID token from the identity provider.
        id_token: Secret,
    },
}

/// Settings for an [`OAuth`].
pub struct OAuthBuilder {
    config: Config,
    private_key_pem: Option<Secret>,
}

pub(crate) struct Config {
    pub client_name: String,
    pub redirect_uri: String,
    pub client_metadata_url: Option<String>,
    /// Pre-registered clients, for one issuer or (`None`) for any.
    pub pre_registered: Vec<(Option<String>, Registration)>,
    pub store: Arc<dyn TokenStore>,
    pub handler: Arc<dyn AuthorizationHandler>,
    pub grant: Grant,
    /// The key of `private_key_jwt`.
    pub signing_key: Option<jwt::Es256Key>,
}

impl Config {
    pub fn pre_registered(&self, issuer: &str) -> Option<Registration> {
        let exact = self
            .pre_registered
            .iter()
            .find(|(i, _)| i.as_deref() == Some(issuer));
        let any = || self.pre_registered.iter().find(|(i, _)| i.is_none());
        exact.or_else(any).map(|(_, r)| r.clone())
    }
}

impl OAuth {
    /// Settings: `handler` does the user's part of each authorization.
    pub fn builder(handler: impl AuthorizationHandler) -> OAuthBuilder {
        OAuthBuilder {
            config: Config {
                client_name: "mcp-sdk-client".into(),
                redirect_uri: "http://127.0.0.1/callback".into(),
                client_metadata_url: None,
                pre_registered: Vec::new(),
                store: Arc::new(MemoryTokenStore::new()),
                handler: Arc::new(handler),
                grant: Grant::AuthorizationCode,
                signing_key: None,
            },
            private_key_pem: None,
        }
    }
}

impl OAuthBuilder {
    /// The name dynamic registration gives the client.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.config.client_name = name.into();
        self
    }

    /// Where the authorization server sends the user back;
    /// `http://127.0.0.1/callback` by default.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.config.redirect_uri = uri.into();
        self
    }

    /// The HTTPS URL of the client's Client ID Metadata Document, used as
    /// its client id by authorization servers that accept one.
    pub fn client_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.config.client_metadata_url = Some(url.into());
        self
    }

    /// A client registered beforehand with the authorization server
    /// `issuer` (or with whichever one, for `None`).
    pub fn pre_registered(
        mut self,
        issuer: Option<&str>,
        client_id: impl Into<String>,
        client_secret: Option<Secret>,
    ) -> Self {
        self.config.pre_registered.push((
            issuer.map(str::to_owned),
            Registration {
                client_id: client_id.into(),
                client_secret,
                token_endpoint_auth_method: None,
            },
        ));
        self
    }

    /// A client registered beforehand that authenticates at the token
    /// endpoint with a JWT (`private_key_jwt`, RFC 7523) signed with ES256
    /// by the P-256 key in `private_key_pem` (PKCS #8).
    pub fn private_key_jwt(
        mut self,
        issuer: Option<&str>,
        client_id: impl Into<String>,
        private_key_pem: Secret,
    ) -> Self {
        self.config.pre_registered.push((
            issuer.map(str::to_owned),
            Registration {
                client_id: client_id.into(),
                client_secret: None,
                token_endpoint_auth_method: Some("private_key_jwt".into()),
            },
        ));
        self.private_key_pem = Some(private_key_pem);
        self
    }

    /// How to get tokens; [`Grant::AuthorizationCode`] by default.
    pub fn grant(mut self, grant: Grant) -> Self {
        self.config.grant = grant;
        self
    }

    /// Where tokens and registrations are kept; in memory by default.
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.config.store = Arc::new(store);
        self
    }

    /// The authorization. Fails on a redirect URI that is not a URL or a
    /// private key that is not a P-256 PKCS #8 PEM document.
    pub fn build(mut self) -> Result<OAuth, ClientError> {
        if let Some(pem) = &self.private_key_pem {
            self.config.signing_key = Some(jwt::Es256Key::from_pem(pem)?);
        }
        Url::parse(&self.config.redirect_uri)
            .map_err(|e| auth_error(format!("the redirect URI is not a URL: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(AUTH_REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(OAuth {
            inner: Arc::new(Inner {
                config: self.config,
                http: Http(http),
                dpop: Dpop {
                    key: jwt::Es256Key::generate()?,
                    as_nonce: Mutex::new(None),
                    rs_nonce: Mutex::new(None),
                },
                current: Mutex::new(None),
                generation: AtomicU64::new(0),
                flow: tokio::sync::Mutex::new(()),
                requested_scope: Mutex::new(None),
                user_activity: AtomicU64::new(0),
            }),
        })
    }
}

/// The client's DPoP key (RFC 9449) and the nonces the servers gave.
pub(crate) struct Dpop {
    pub key: jwt::Es256Key,
    as_nonce: Mutex<Option<String>>,
    rs_nonce: Mutex<Option<String>>,
}

impl Dpop {
    pub fn as_nonce(&self) -> Option<String> {
        lock(&self.as_nonce).clone()
    }

    pub fn set_as_nonce(&self, nonce: String) {
        *lock(&self.as_nonce) = Some(nonce);
    }
}

struct Inner {
    config: Config,
    http: Http,
    dpop: Dpop,
    /// The tokens in use (loaded from the store on first use).
    current: Mutex<Option<Option<Tokens>>>,
    /// Counts token changes, so that a request refused with old tokens
    /// does not authorize again when another one already did.
    generation: AtomicU64,
    /// One authorization at a time.
    flow: tokio::sync::Mutex<()>,
    /// The scopes the last authorization asked for.
    requested_scope: Mutex<Option<String>>,
    /// Counts the starts and ends of the handler's part (odd while under
    /// way).
    user_activity: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts a wait for a person as ended, even when it is dropped.
struct Ended<'a>(&'a AtomicU64);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl OAuth {
    /// Puts the access token on `request` (`Bearer`, or `DPoP` with a
    /// fresh proof for a DPoP-bound token); gives the generation of the
    /// tokens used.
    pub(crate) fn authorize_request(
        &self,
        server: &Url,
        request: &mut reqwest::Request,
    ) -> Result<u64, ClientError> {
        let (generation, tokens) = self.tokens_for(server);
        let Some(tokens) = tokens else {
            return Ok(generation);
        };
        let value = |s: &str| {
            let mut v = reqwest::header::HeaderValue::try_from(s)
                .map_err(|_| auth_error("the access token is not a valid header value"))?;
            v.set_sensitive(true);
            Ok::<_, ClientError>(v)
        };
        if tokens.dpop {
            let nonce = lock(&self.inner.dpop.rs_nonce).clone();
            let proof = self.inner.dpop.key.dpop_proof(
                request.method().as_str(),
                request.url(),
                Some(&tokens.access_token),
                nonce.as_deref(),
            )?;
            let headers = request.headers_mut();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                value(&format!("DPoP {}", tokens.access_token.expose()))?,
            );
            headers.insert("dpop", value(proof.expose())?);
        } else {
            request.headers_mut().insert(
                reqwest::header::AUTHORIZATION,
                value(&format!("Bearer {}", tokens.access_token.expose()))?,
            );
        }
        Ok(generation)
    }

    /// Counts the starts and ends of the [`AuthorizationHandler`]'s part:
    /// odd while a person is signing in (see
    /// [`Transport::user_activity`](crate::transport::Transport::user_activity)).
    pub fn user_activity(&self) -> u64 {
        self.inner.user_activity.load(Ordering::SeqCst)
    }

    fn sender<'a>(&'a self, key: Option<&'a jwt::Es256Key>) -> flow::TokenSender<'a> {
        flow::TokenSender {
            http: &self.inner.http,
            key,
            dpop: &self.inner.dpop,
        }
    }

    /// Keeps the `DPoP-Nonce` the MCP server sent (RFC 9449 §9); says
    /// whether it is a new one.
    pub(crate) fn server_nonce(&self, response: &reqwest::Response) -> bool {
        let Some(nonce) = response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let mut kept = lock(&self.inner.dpop.rs_nonce);
        let new = kept.as_deref() != Some(nonce);
        *kept = Some(nonce.to_owned());
        new
    }

    /// The tokens to send to `server`, with the generation they are of.
    fn tokens_for(&self, server: &Url) -> (u64, Option<Tokens>) {
        let inner = &self.inner;
        let mut current = lock(&inner.current);
        if current.is_none() {
            let stored = inner
                .config
                .store
                .tokens(server.as_str())
                .unwrap_or_else(|e| {
                    tracing::warn!("could not read the token store: {e}");
                    None
                });
            *current = Some(stored);
        }
        let tokens = current.as_ref().and_then(|t| t.clone());
        (inner.generation.load(Ordering::SeqCst), tokens)
    }

    fn current_tokens(&self) -> Option<Tokens> {
        lock(&self.inner.current).clone().flatten()
    }

    fn keep(&self, server: &Url, tokens: Tokens) -> Result<(), ClientError> {
        self.inner
            .config
            .store
            .save_tokens(server.as_str(), &tokens)?;
        *lock(&self.inner.current) = Some(Some(tokens));
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Answers a 401 or 403 from `server` to a request sent with the
    /// tokens of generation `used`: refreshes or authorizes, so that the
    /// request can be sent again.
    pub(crate) async fn challenged(
        &self,
        server: &Url,
        challenge: &Challenge,
        used: u64,
    ) -> Result<(), ClientError> {
        let inner = &self.inner;
        let _flow = inner.flow.lock().await;
        if inner.generation.load(Ordering::SeqCst) != used {
            // Another request authorized meanwhile: try its tokens.
            return Ok(());
        }
        let found =
            discovery::discover(&inner.http, server, challenge.resource_metadata.as_deref())
                .await?;
        let kept = self.current_tokens().filter(|t| t.issuer == found.issuer);
        let step_up = challenge.insufficient_scope();
        if let (false, Some(tokens)) = (step_up, &kept) {
            if let Some(refresh) = &tokens.refresh_token {
                match self.refresh(&found, tokens, refresh).await {
                    Ok(fresh) => return self.keep(server, fresh),
                    Err(e) => {
                        tracing::info!("refreshing the token failed ({e}); authorizing again")
                    }
                }
            }
        }
        let scope = self.choose_scope(challenge, &found, step_up);
        let client = flow::registration(&inner.http, &inner.config, &found).await?;
        let key = inner.config.signing_key.as_ref();
        let direct = match &inner.config.grant {
            Grant::AuthorizationCode => None,
            Grant::ClientCredentials => Some(vec![("grant_type", "client_credentials".to_owned())]),
            Grant::JwtBearer(assertion) => Some(vec![
                ("grant_type", JWT_BEARER.to_owned()),
                ("assertion", assertion.expose().to_owned()),
            ]),
            Grant::EnterpriseManaged {
                idp_token_endpoint,
                idp_client_id,
                id_token,
            } => {
                let jag = flow::id_jag(
                    &inner.http,
                    &found,
                    idp_token_endpoint,
                    idp_client_id,
                    id_token,
                    scope.as_deref(),
                )
                .await?;
                Some(vec![
                    ("grant_type", JWT_BEARER.to_owned()),
                    ("assertion", jag.expose().to_owned()),
                ])
            }
        };
        if let Some(mut form) = direct {
            // No user: the token endpoint alone. A refusal is final (no
            // other grant is tried).
            if let Some(scope) = &scope {
                form.push(("scope", scope.clone()));
            }
            *lock(&inner.requested_scope) = scope.clone();
            let tokens = flow::token_request(
                &self.sender(key),
                &found,
                &client,
                form,
                scope.as_deref(),
                None,
            )
            .await?;
            return self.keep(server, tokens);
        }
        let configured = Url::parse(&inner.config.redirect_uri)
            .map_err(|e| auth_error(format!("the redirect URI is not a URL: {e}")))?;
        // The configured URI as written (it is the registered one), unless
        // the handler picks another.
        let redirect_uri = match inner.config.handler.redirect_uri(&configured).await? {
            Some(chosen) => chosen.to_string(),
            None => inner.config.redirect_uri.clone(),
        };
        let pending =
            flow::authorization_request(&found, &client, scope.as_deref(), &redirect_uri)?;
        tracing::debug!(issuer = %found.issuer, scope = ?scope, "authorizing");
        let redirect = {
            inner.user_activity.fetch_add(1, Ordering::SeqCst);
            let _ended = Ended(&inner.user_activity);
            inner.config.handler.authorize(&pending.url).await?
        };
        let code = flow::code_from_redirect(&redirect, &pending, &found)?;
        *lock(&inner.requested_scope) = scope.clone();
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pending.verifier.clone()),
        ];
        let tokens = flow::token_request(
            &self.sender(key),
            &found,
            &client,
            form,
            scope.as_deref(),
            None,
        )
        .await?;
        self.keep(server, tokens)
    }

    async fn refresh(
        &self,
        found: &discovery::Discovered,
        tokens: &Tokens,
        refresh: &Secret,
    ) -> Result<Tokens, ClientError> {
        let inner = &self.inner;
        let client = flow::registration(&inner.http, &inner.config, found).await?;
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh.expose().to_owned()),
        ];
        flow::token_request(
            &self.sender(inner.config.signing_key.as_ref()),
            found,
            &client,
            form,
            tokens.scope.as_deref(),
            Some(refresh),
        )
        .await
    }

    /// The scopes to ask for: the challenge's (with, on a step-up, those
    /// asked before), else the resource's `scopes_supported`, else none;
    /// and `offline_access` when the authorization server offers it.
    fn choose_scope(
        &self,
        challenge: &Challenge,
        found: &discovery::Discovered,
        step_up: bool,
    ) -> Option<String> {
        let mut scopes: Vec<String> = Vec::new();
        fn add(scopes: &mut Vec<String>, s: &str) {
            for scope in s.split_whitespace() {
                if !scopes.iter().any(|x| x == scope) {
                    scopes.push(scope.to_owned());
                }
            }
        }
        if step_up {
            if let Some(before) = lock(&self.inner.requested_scope).as_deref() {
                add(&mut scopes, before);
            }
        }
        if let Some(asked) = &challenge.scope {
            add(&mut scopes, asked);
        } else if !step_up {
            if let Some(supported) = found
                .resource_metadata
                .as_ref()
                .and_then(|m| m.scopes_supported.as_ref())
            {
                add(&mut scopes, &supported.join(" "));
            }
        }
        let offers_offline = found
            .server
            .scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x == "offline_access"));
        if offers_offline && !scopes.is_empty() {
            add(&mut scopes, "offline_access");
        }
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }
}

/// The HTTP client of the authorization: no redirects followed, bodies
/// read up to [`MAX_DOCUMENT_BYTES`].
pub(crate) struct Http(reqwest::Client);

impl Http {
    /// A JSON document, or `None` when the server has none there (any
    /// status but success).
    pub async fn get_json<T: DeserializeOwned>(&self, url: &Url) -> Result<Option<T>, ClientError> {
        let response = self
            .0
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| auth_error(format!("could not fetch {url}: {}", e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            tracing::debug!(%url, %status, "no metadata here");
            return Ok(None);
        }
        let body = read_bounded(response, url.as_str()).await?;
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            auth_error(format!(
                "the metadata at {url} is not a valid document: {e}"
            ))
        })
    }

    /// POSTs JSON; the status and the JSON answer (`null` if it is none).
    pub async fn post_json(
        &self,
        url: &str,
        body: &Value,
    ) -> Result<(StatusCode, Value), ClientError> {
        let request = self
            .0
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_string());
        let (status, value, _) = self.answer(request, url).await?;
        Ok((status, value))
    }

    /// POSTs a form, with `Authorization: Basic` and a `DPoP` proof if
    /// given; also gives the `DPoP-Nonce` of the answer.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, String)],
        basic: Option<&Secret>,
        dpop: Option<&Secret>,
    ) -> Result<(StatusCode, Value, Option<String>), ClientError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let mut request = self
            .0
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(basic) = basic {
            request = request.header(reqwest::header::AUTHORIZATION, basic.expose());
        }
        if let Some(proof) = dpop {
            request = request.header("dpop", proof.expose());
        }
        self.answer(request, url).await
    }

    async fn answer(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(StatusCode, Value, Option<String>), ClientError> {
        let response = request
            .send()
            .await
            .map_err(|e| auth_error(format!("could not reach {url}: {}", e.without_url())))?;
        let status = response.status();
        let nonce = response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_bounded(response, url).await?;
        match serde_json::from_slice(&body) {
            Ok(value) => Ok((status, value, nonce)),
            Err(_) if !status.is_success() => Ok((status, Value::Null, nonce)),
            Err(e) => Err(auth_error(format!(
                "{url} answered with a body that is not JSON: {e}"
            ))),
        }
    }
}

/// The body, refused when longer than [`MAX_DOCUMENT_BYTES`].
async fn read_bounded(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        auth_error(format!(
            "reading the answer of {url} failed: {}",
            e.without_url()
        ))
    })? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(auth_error(format!(
                "the answer of {url} is larger than {MAX_DOCUMENT_BYTES} bytes; refused"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
