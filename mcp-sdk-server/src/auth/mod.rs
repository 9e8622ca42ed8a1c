//! The server as an OAuth 2.1 resource server (feature `auth`), as MCP's
//! authorization rules ask: protected resource metadata (RFC 9728), bearer
//! tokens checked on every request, and `WWW-Authenticate` challenges that
//! tell the client where to sign in and which scope it lacks.
//!
//! A [`ResourceServer`] names this server's canonical resource URI, its
//! authorization servers and a [`TokenVerifier`]: [`JwtVerifier`] for JWT
//! access tokens (RFC 9068) checked against the issuer's keys, or
//! [`IntrospectionVerifier`] for opaque tokens (RFC 7662). Put it in
//! [`HttpConfig::auth`](crate::http::HttpConfig) and every MCP request needs
//! a valid token; the caller's [`Identity`] reaches handlers through
//! [`RequestContext::identity`](crate::RequestContext::identity).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use mcp_sdk_server::auth::{JwtVerifier, ResourceServer};
//! use mcp_sdk_server::http::{serve, HttpConfig, StreamableHttpService};
//! use std::sync::Arc;
//!
//! let resource = "https://mcp.example.com/mcp";
//! let issuer = "https://login.example.com";
//! let auth = ResourceServer::new(resource, JwtVerifier::new(issuer, resource))
//!     .expect("an absolute http(s) URI")
//!     .authorization_server(issuer)
//!     .scopes_supported(["mcp:read", "mcp:write"])
//!     .require_scopes(["mcp:read"]);
//! let config = HttpConfig { auth: Some(Arc::new(auth)), ..HttpConfig::default() };
//! let service = StreamableHttpService::new(mcp_sdk_server::Router::new(), config);
//! // Metadata at /.well-known/oauth-protected-resource/mcp, MCP at /mcp.
//! serve("127.0.0.1:3000".parse().unwrap(), "/mcp", service).await
//! # }
//! ```
//!
//! No token ever reaches a log line or an error body: refusals say why in
//! words of their own (`the token has expired`), never with its content.

mod challenge;
mod dpop;
mod fetch;
mod introspection;
mod jwk;
mod jwt;

pub use introspection::IntrospectionVerifier;
pub use jwk::SigningAlgorithm;
pub use jwt::JwtVerifier;

use crate::http::McpBody;
use async_trait::async_trait;
use dpop::{DpopChecker, NonceKey, ProofError, ProofRequest};
use http::{HeaderMap, Method, Response};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The longest `Authorization` header taken (16 KiB): a longer one is
/// refused as `invalid_token` before anything is decoded.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The well-known path of protected resource metadata (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Who made a request: what a valid access token said. Handlers read it
/// with [`RequestContext::identity`](crate::RequestContext::identity).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    /// The subject (`sub`): the user, or the client itself for the client
    /// credentials grant.
    pub subject: Option<String>,
    /// The OAuth client the token was issued to (`client_id`).
    pub client_id: Option<String>,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The issuer (`iss`), when the token named one.
    pub issuer: Option<String>,
    /// Every claim of the token (or field of the introspection answer).
    pub claims: Map<String, Value>,
}

impl Identity {
    /// The identity a set of claims describes: `sub`, `client_id`, `iss`,
    /// and the scopes of `scope` (space-separated) or `scp` (a list).
    pub fn from_claims(claims: Map<String, Value>) -> Self {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(scope)), _) => {
                scope.split_whitespace().map(str::to_owned).collect()
            }
            (_, Some(Value::Array(list))) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Identity {
            subject: text("sub"),
            client_id: text("client_id"),
            issuer: text("iss"),
            scopes,
            claims,
        }
    }

    /// Whether the token granted `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Who this is, for binding sessions and other state to the caller:
    /// the issuer and subject (or client id), or `None` for a token that
    /// names neither.
    pub fn principal(&self) -> Option<String> {
        let who = self.subject.as_ref().or(self.client_id.as_ref())?;
        Some(format!(
            "{}\u{0}{who}",
            self.issuer.as_deref().unwrap_or("")
        ))
    }
}

/// Why a token was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is malformed, expired, not for this server, badly signed...
    /// (401 `invalid_token`). The reason never quotes the token.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token could not be checked now: the issuer's keys or its
    /// introspection endpoint are unreachable or answer garbage (503).
    #[error("the token cannot be checked now: {0}")]
    Unavailable(String),
}

/// Checks an access token and says who it belongs to.
#[async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    /// The identity `token` stands for, or why it is refused. `token` is
    /// at most [`MAX_TOKEN_BYTES`] long.
    async fn verify(&self, token: &str) -> Result<Identity, VerifyError>;
}

/// A bad [`ResourceServer`] setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// This server as an OAuth protected resource: its canonical URI, its
/// authorization servers, the scopes every request needs, and the verifier
/// of tokens. Serves its metadata and answers refusals with the challenges
/// MCP clients follow.
pub struct ResourceServer {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    required: Vec<String>,
    verifier: Arc<dyn TokenVerifier>,
    dpop: DpopChecker,
}

impl std::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// A resource server for `resource` (this server's canonical URI, as
    /// tokens name it in `aud`: `https://host[:port]/path`, no fragment),
    /// checking tokens with `verifier`.
    pub fn new(resource: &str, verifier: impl TokenVerifier) -> Result<Self, ConfigError> {
        Ok(ResourceServer {
            resource: canonical_resource(resource)?,
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            required: Vec::new(),
            verifier: Arc::new(verifier),
            dpop: DpopChecker::new(),
        })
    }

    /// DPoP proofs must carry a nonce of this server (RFC 9449 §9), each
    /// good for one `period` and the next: a proof made ahead of time
    /// cannot be used later. A proof without it gets 401 `use_dpop_nonce`
    /// with a fresh one in `DPoP-Nonce`. Off by default.
    pub fn dpop_nonces(mut self, period: Duration) -> Self {
        self.dpop.nonce = Some(NonceKey::new(period));
        self
    }

    /// How far a DPoP proof's `iat` may be from now, either way (60 s by
    /// default); its `jti` is remembered as long.
    pub fn dpop_window(mut self, window: Duration) -> Self {
        self.dpop.window = window;
        self
    }

    /// The most DPoP proofs remembered at once against replay (100 000 by
    /// default, some 100 bytes each). When that many are live a further
    /// request gets 503 rather than a proof taken unremembered.
    pub fn dpop_replay_capacity(mut self, capacity: usize) -> Self {
        self.dpop.capacity = capacity;
        self
    }

    /// Names an authorization server (its issuer URL) in the metadata.
    pub fn authorization_server(mut self, issuer: &str) -> Self {
        self.authorization_servers.push(issuer.to_owned());
        self
    }

    /// The scopes the metadata lists as supported.
    pub fn scopes_supported<S: Into<String>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes every request needs (a token without one of them gets 403
    /// `insufficient_scope`).
    pub fn require_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.required = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The canonical resource URI.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the metadata is served, path-aware (RFC 9728 §3.1): for
    /// `https://host/prefix/mcp`, `/.well-known/oauth-protected-resource/prefix/mcp`.
    pub fn metadata_path(&self) -> String {
        format!("{METADATA_PATH}{}", resource_path(&self.resource))
    }

    /// The metadata's absolute URL, as challenges name it.
    pub fn metadata_url(&self) -> String {
        format!("{}{}", origin(&self.resource), self.metadata_path())
    }

    /// Whether a request for `path` asks for this server's metadata: the
    /// path-aware form, or the bare well-known path. Nothing else under the
    /// well-known prefix matches (no `..`, no other resource's path).
    pub fn is_metadata_path(&self, path: &str) -> bool {
        path == self.metadata_path() || path == METADATA_PATH
    }

    /// The metadata document (RFC 9728 §2).
    pub fn metadata(&self) -> Value {
        let mut doc = json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
        });
        if !self.scopes_supported.is_empty() {
            doc["scopes_supported"] = json!(self.scopes_supported);
        }
        doc
    }

    /// The metadata as an HTTP answer (JSON, cacheable for a while).
    pub fn metadata_response(&self) -> Response<McpBody> {
        Response::builder()
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "max-age=300")
            .header(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
            .body(McpBody::full(self.metadata().to_string()))
            .expect("static headers are valid")
    }

    /// Checks the `Authorization` header of a request: the caller's
    /// identity, or the refusal to send back (401 with the challenge, 403
    /// for a missing required scope, 503 when the token cannot be checked).
    /// With no request to check a DPoP proof against, a DPoP-bound token is
    /// refused: [`authenticate_request`](Self::authenticate_request) takes it.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, Response<McpBody>> {
        self.check(None, headers).await
    }

    /// Checks a request of `method` to this resource (its URI, as the
    /// metadata names it) with `headers`: a bearer token, or a DPoP-bound
    /// token (`Authorization: DPoP ...`) with its proof in the `DPoP`
    /// header (RFC 9449). The caller's identity, or the refusal to send.
    pub async fn authenticate_request(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Identity, Response<McpBody>> {
        self.check(Some(method), headers).await
    }

    async fn check(
        &self,
        method: Option<&Method>,
        headers: &HeaderMap,
    ) -> Result<Identity, Response<McpBody>> {
        let (scheme, token) = match bearer(headers) {
            Ok(found) => found,
            Err(Missing::NoToken) => return Err(self.unauthorized(None)),
            Err(Missing::Malformed(why)) => return Err(self.unauthorized(Some(why))),
        };
        let identity = match self.verifier.verify(token).await {
            Ok(identity) => identity,
            Err(VerifyError::Invalid(why)) => {
                tracing::debug!(reason = %why, "access token refused");
                return Err(match scheme {
                    Scheme::Bearer => self.unauthorized(Some(&why)),
                    Scheme::Dpop => self.dpop_refusal("invalid_token", &why),
                });
            }
            Err(VerifyError::Unavailable(why)) => {
                tracing::warn!(reason = %why, "access token cannot be checked");
                return Err(challenge::unavailable(
                    "Service Unavailable: the access token cannot be checked now",
                ));
            }
        };
        let bound_to = identity
            .claims
            .get("cnf")
            .and_then(|cnf| cnf.get("jkt"))
            .map(|jkt| jkt.as_str().unwrap_or_default());
        match (scheme, bound_to) {
            (Scheme::Bearer, None) => {}
            (Scheme::Bearer, Some(_)) => {
                return Err(self.dpop_refusal(
                    "invalid_token",
                    "the token is bound to a DPoP key: send it as DPoP, with a proof",
                ))
            }
            (Scheme::Dpop, None) => {
                return Err(self.dpop_refusal("invalid_token", "the token is not DPoP-bound"))
            }
            (Scheme::Dpop, Some(jkt)) => {
                if let Some(refusal) = self.check_proof(method, headers, token, jkt) {
                    return Err(refusal);
                }
            }
        }
        let missing: Vec<&str> = self
            .required
            .iter()
            .map(String::as_str)
            .filter(|s| !identity.has_scope(s))
            .collect();
        if !missing.is_empty() {
            let all = self.with_required(&missing);
            return Err(challenge::insufficient_scope(
                &self.metadata_url(),
                scheme.name(),
                &all,
            ));
        }
        Ok(identity)
    }

    /// The refusal of a request with a token bound to `jkt` whose DPoP
    /// proof does not check out, if it does not.
    fn check_proof(
        &self,
        method: Option<&Method>,
        headers: &HeaderMap,
        token: &str,
        jkt: &str,
    ) -> Option<Response<McpBody>> {
        let invalid = |why: &str| Some(self.dpop_refusal("invalid_dpop_proof", why));
        let Some(method) = method else {
            return Some(
                self.dpop_refusal("invalid_token", "a DPoP-bound token cannot be checked here"),
            );
        };
        let mut proofs = headers.get_all("dpop").iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return invalid("the request needs exactly one DPoP proof header");
        };
        let Ok(proof) = proof.to_str() else {
            return invalid("the DPoP proof is not ASCII");
        };
        let uri = self.resource.split('?').next().unwrap_or_default();
        let request = ProofRequest {
            method: method.as_str(),
            uri,
            token,
            jkt,
        };
        match self.dpop.check(proof, &request) {
            Ok(()) => None,
            Err(ProofError::Invalid(why)) => {
                tracing::debug!(reason = why, "DPoP proof refused");
                invalid(why)
            }
            Err(ProofError::UseNonce) => Some(self.dpop_refusal(
                "use_dpop_nonce",
                "the DPoP proof must carry the nonce in DPoP-Nonce",
            )),
            Err(ProofError::Busy) => {
                tracing::warn!("too many DPoP proofs remembered to take another");
                Some(challenge::unavailable(
                    "Service Unavailable: too many requests to check their DPoP proofs now",
                ))
            }
        }
    }

    /// 401 under the DPoP scheme (with a fresh nonce when nonces are on).
    fn dpop_refusal(&self, error: &str, why: &str) -> Response<McpBody> {
        let nonce = self.dpop.fresh_nonce();
        challenge::dpop(
            &self.metadata_url(),
            error,
            why,
            &self.dpop.algs(),
            nonce.as_deref(),
        )
    }

    /// 401: no token, or one refused for `why`.
    fn unauthorized(&self, why: Option<&str>) -> Response<McpBody> {
        let scope = (!self.required.is_empty()).then(|| self.required.join(" "));
        challenge::unauthorized(&self.metadata_url(), why, scope.as_deref())
    }

    /// 403 `insufficient_scope` naming `scopes` (those the call needs that
    /// the token lacks, with the ones every request needs): the client's
    /// step-up asks for them.
    pub fn insufficient_scope(&self, scopes: &[&str]) -> Response<McpBody> {
        challenge::insufficient_scope(&self.metadata_url(), "Bearer", &self.with_required(scopes))
    }

    /// The scopes every request needs and `scopes`, space-separated.
    fn with_required(&self, scopes: &[&str]) -> String {
        let mut all: Vec<&str> = self.required.iter().map(String::as_str).collect();
        for s in scopes {
            if !all.contains(s) {
                all.push(s);
            }
        }
        all.join(" ")
    }
}

/// How the request presented its token.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        }
    }
}

/// Why a request carries no usable bearer token.
enum Missing {
    NoToken,
    Malformed(&'static str),
}

/// The token of `headers` (`Bearer` or `DPoP`), bounded in size.
fn bearer(headers: &HeaderMap) -> Result<(Scheme, &str), Missing> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Missing::NoToken);
    };
    if values.next().is_some() {
        return Err(Missing::Malformed("more than one Authorization header"));
    }
    if value.len() > MAX_TOKEN_BYTES {
        return Err(Missing::Malformed("the token is too long"));
    }
    let value = value
        .to_str()
        .map_err(|_| Missing::Malformed("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').ok_or(Missing::Malformed(
        "the Authorization header is not Bearer <token>",
    ))?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(Missing::Malformed(
            "the Authorization scheme is not Bearer or DPoP",
        ));
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(Missing::Malformed("the access token is empty"));
    }
    Ok((scheme, token))
}

/// `resource` checked and normalized: an absolute `http(s)` URI without
/// fragment, scheme and host lowercased, no trailing slash after a path.
fn canonical_resource(resource: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError(format!("the resource URI {resource:?} {why}"));
    if resource.contains('#') {
        return Err(bad("has a fragment"));
    }
    let uri: http::Uri = resource.parse().map_err(|_| bad("is not a URI"))?;
    let scheme = uri.scheme_str().ok_or_else(|| bad("is not absolute"))?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad("is not http(s)"));
    }
    let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
    let mut out = format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.as_str().to_ascii_lowercase()
    );
    let path = uri.path().trim_end_matches('/');
    out.push_str(path);
    if let Some(query) = uri.query() {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// `scheme://authority` of a canonical resource URI.
fn origin(resource: &str) -> &str {
    let after_scheme = resource.find("://").map_or(0, |i| i + 3);
    match resource[after_scheme..].find(['/', '?']) {
        Some(i) => &resource[..after_scheme + i],
        None => resource,
    }
}

/// The path of a canonical resource URI (empty for none), without query.
fn resource_path(resource: &str) -> &str {
    let rest = &resource[origin(resource).len()..];
    rest.split('?').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    struct Fixed(Result<Identity, VerifyError>);

    #[async_trait]
    impl TokenVerifier for Fixed {
        async fn verify(&self, _: &str) -> Result<Identity, VerifyError> {
            self.0.clone()
        }
    }

    fn server(answer: Result<Identity, VerifyError>) -> ResourceServer {
        ResourceServer::new("HTTPS://Example.com:8443/tenant/mcp/", Fixed(answer))
            .unwrap()
            .authorization_server("https://login.example.com")
            .scopes_supported(["mcp:read", "db:write"])
            .require_scopes(["mcp:read"])
    }

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = authorization {
            h.insert(http::header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    fn www(resp: &Response<McpBody>) -> String {
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn reader() -> Identity {
        Identity {
            subject: Some("alice".into()),
            scopes: vec!["mcp:read".into()],
            ..Identity::default()
        }
    }

    #[test]
    fn the_resource_is_canonical_and_its_metadata_path_aware() {
        let s = server(Ok(reader()));
        assert_eq!(s.resource(), "https://example.com:8443/tenant/mcp");
        assert_eq!(
            s.metadata_url(),
            "https://example.com:8443/.well-known/oauth-protected-resource/tenant/mcp"
        );
        assert!(s.is_metadata_path("/.well-known/oauth-protected-resource/tenant/mcp"));
        assert!(s.is_metadata_path("/.well-known/oauth-protected-resource"));
        for escape in [
            "/.well-known/oauth-protected-resource/tenant/mcp/../../etc",
            "/.well-known/oauth-protected-resource/other",
            "/.well-known/oauth-protected-resource/tenant",
        ] {
            assert!(!s.is_metadata_path(escape), "{escape}");
        }
        let doc = s.metadata();
        assert_eq!(doc["resource"], "https://example.com:8443/tenant/mcp");
        assert_eq!(
            doc["authorization_servers"],
            json!(["https://login.example.com"])
        );
        assert_eq!(doc["scopes_supported"], json!(["mcp:read", "db:write"]));
        let bare = ResourceServer::new("http://127.0.0.1:9", Fixed(Ok(reader()))).unwrap();
        assert_eq!(bare.metadata_path(), METADATA_PATH);
        for bad in ["/mcp", "ftp://x/mcp", "https://x/mcp#frag", "not a uri"] {
            assert!(
                ResourceServer::new(bad, Fixed(Ok(reader()))).is_err(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn no_token_gets_401_with_the_metadata_and_scope() {
        let s = server(Ok(reader()));
        let resp = s.authenticate(&headers(None)).await.unwrap_err();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            www(&resp),
            "Bearer resource_metadata=\"https://example.com:8443/.well-known/oauth-protected-resource/tenant/mcp\", scope=\"mcp:read\""
        );
        for malformed in ["Basic abc", "Bearer ", "Bearer"] {
            let resp = s.authenticate(&headers(Some(malformed))).await.unwrap_err();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{malformed}");
            assert!(
                www(&resp).contains("error=\"invalid_token\""),
                "{malformed}"
            );
        }
    }

    #[tokio::test]
    async fn a_huge_token_is_refused_unread() {
        let s = server(Ok(reader()));
        let huge = format!("Bearer {}", "a".repeat(1 << 20));
        let resp = s.authenticate(&headers(Some(&huge))).await.unwrap_err();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(www(&resp).contains("too long"));
    }

    #[tokio::test]
    async fn answers_say_why_without_the_token() {
        let s = server(Err(VerifyError::Invalid("the token has expired".into())));
        let resp = s
            .authenticate(&headers(Some("bearer s3cr3t-t0ken")))
            .await
            .unwrap_err();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let header = www(&resp);
        assert!(
            header.starts_with("Bearer error=\"invalid_token\""),
            "{header}"
        );
        assert!(header.contains("error_description=\"the token has expired\""));
        let body = String::from_utf8(
            http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        assert!(
            !body.contains("s3cr3t") && !header.contains("s3cr3t"),
            "{body}"
        );

        let s = server(Err(VerifyError::Unavailable("JWKS timed out".into())));
        let resp = s
            .authenticate(&headers(Some("Bearer x")))
            .await
            .unwrap_err();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key("retry-after"));
    }

    #[tokio::test]
    async fn a_missing_scope_gets_403_naming_it() {
        let s = server(Ok(Identity {
            scopes: vec!["other".into()],
            ..reader()
        }));
        let resp = s
            .authenticate(&headers(Some("Bearer x")))
            .await
            .unwrap_err();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let header = www(&resp);
        assert!(header.contains("error=\"insufficient_scope\""), "{header}");
        assert!(header.contains("scope=\"mcp:read\""), "{header}");
        let step_up = s.insufficient_scope(&["db:write"]);
        assert!(www(&step_up).contains("scope=\"mcp:read db:write\""));

        let ok = server(Ok(reader()));
        let who = ok.authenticate(&headers(Some("Bearer x"))).await.unwrap();
        assert_eq!(who.subject.as_deref(), Some("alice"));
    }

    #[test]
    fn identity_reads_scope_and_scp() {
        let id = Identity::from_claims(
            json!({"sub": "u", "client_id": "c", "iss": "i", "scope": "a  b"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(id.scopes, ["a", "b"]);
        assert!(id.has_scope("b") && !id.has_scope("c"));
        assert_eq!(id.principal().as_deref(), Some("i\u{0}u"));
        let scp = Identity::from_claims(json!({"scp": ["x", 1]}).as_object().unwrap().clone());
        assert_eq!(scp.scopes, ["x"]);
        assert_eq!(scp.principal(), None);
    }
}
