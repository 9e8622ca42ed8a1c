//! A protected MCP server (mcp-sdk-server's `auth` feature) against a real
//! authorization server: oidc-provider (tests/oidc/provider.mjs) issues
//! JWT access tokens (ES256) for the server's resource URI through the
//! client credentials grant, for two clients that stand for two users.
//!
//! - the metadata at its path-aware well-known URL;
//! - no token: 401 with `resource_metadata` and the scope; a good token:
//!   the call goes through, and the tool sees who called;
//! - expired, wrong-audience, wrong-issuer, badly signed, `alg: none`,
//!   1 MiB tokens: 401 `invalid_token`, the token nowhere in the answer;
//! - a token without the required scope: 403 `insufficient_scope`;
//! - key rotation: a token signed with a new key is taken;
//! - a JWKS endpoint that answers garbage: 503, then the failure is cached.
//!
//! Skips, saying why, without Node or oidc-provider;
//! `MCP_OIDC_TEST=required` (CI) makes that a failure.

mod support;

use mcp_sdk::Tool;
use mcp_sdk_server::auth::{Identity, JwtVerifier, ResourceServer};
use mcp_sdk_server::http::{serve_app, HttpConfig, McpBody, StreamableHttpService};
use mcp_sdk_server::router::{Route, REQUIRED_SCOPES_META};
use mcp_sdk_server::{NoArguments, RequestContext, Router, Server};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::oidc::Provider;
use tokio::net::TcpListener;

/// Scopes the resource offers; every request needs `mcp:read`.
const SCOPES: [&str; 2] = ["mcp:read", "mcp:write"];

fn router() -> Router {
    Router::new()
        .tool(
            Tool::named("whoami", "Says who called"),
            |_: NoArguments, ctx: RequestContext| async move {
                let who = ctx.identity().and_then(|i| i.subject.clone());
                Ok::<_, mcp_sdk::Error>(who.unwrap_or_else(|| "nobody".into()))
            },
        )
        .tool(
            Route::new(Tool::named("write", "Writes")).requires_scope("mcp:write"),
            |_: NoArguments| async { "written" },
        )
        .prompt(
            Route::new(mcp_sdk::Prompt::new("draft", "Drafts a write")).requires_scope("mcp:write"),
            |_: mcp_sdk_server::router::PromptArguments| async {
                mcp_sdk::GetPromptResult::new(vec![mcp_sdk::PromptMessage::user_text("drafted")])
            },
        )
        .resource(
            Route::new(mcp_sdk::Resource::new("file:///secret", "secret"))
                .requires_scope("mcp:write"),
            |r: mcp_sdk_server::router::ResourceRequest| async move {
                mcp_sdk::ReadResourceResult::text(r.uri, "text/plain", "the secret")
            },
        )
        .resource_template(
            Route::new(mcp_sdk::ResourceTemplate::new("vault://{item}", "vault"))
                .requires_scope("mcp:write"),
            |r: mcp_sdk_server::router::ResourceRequest| async move {
                mcp_sdk::ReadResourceResult::text(r.uri, "text/plain", "an item")
            },
        )
        .tool(
            Tool::named("confirm", "Asks the caller to confirm"),
            |_: NoArguments, ctx: RequestContext| async move {
                let question: mcp_sdk::InputRequest =
                    serde_json::from_value(json!({"method": "elicitation/create", "params": {
                        "message": "Sure?",
                        "requestedSchema": {"type": "object", "properties": {}}
                    }}))
                    .unwrap();
                ctx.input("sure", question).await?;
                Ok::<_, mcp_sdk::Error>("confirmed")
            },
        )
        .tool(
            Tool::named(
                "bound",
                "Says which DPoP key the caller's token is bound to",
            ),
            |_: NoArguments, ctx: RequestContext| async move {
                let jkt = ctx
                    .identity()
                    .and_then(|i| i.claims.get("cnf")?.get("jkt")?.as_str().map(str::to_owned));
                Ok::<_, mcp_sdk::Error>(jkt.unwrap_or_else(|| "unbound".into()))
            },
        )
}

/// A protected server (its MCP URL), the provider, and a second resource
/// URI the provider also issues tokens for (another server's).
struct Setup {
    provider: Provider,
    url: String,
    other: String,
    service: StreamableHttpService,
}

async fn setup(test: &str) -> Option<Setup> {
    setup_with(test, |_| {}, |auth| auth).await
}

/// [`setup`], with the provider's config (see tests/oidc/provider.mjs)
/// and the resource server changed first.
async fn setup_with(
    test: &str,
    configure: impl FnOnce(&mut Value),
    protect: impl FnOnce(ResourceServer) -> ResourceServer,
) -> Option<Setup> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let other = "http://127.0.0.1:1/other".to_owned();
    let client = |id: &str| {
        json!({
            "client_id": id, "client_secret": format!("{id}-secret"),
            "grant_types": ["client_credentials"], "redirect_uris": [], "response_types": [],
        })
    };
    let mut config = json!({
        "resources": [
            { "uri": url, "scopes": SCOPES, "accessTokenTtl": 3600 },
            { "uri": other, "scopes": SCOPES, "accessTokenTtl": 3600 },
        ],
        "clients": [client("alice"), client("bob")],
    });
    configure(&mut config);
    let provider = Provider::start(test, config).await?;
    let issuer = provider.issuer().to_owned();
    // No leeway and no pause between fetches: the test's expired token
    // and rotated key are seen at once.
    let verifier = JwtVerifier::new(&issuer, &url)
        .leeway(Duration::ZERO)
        .refetch_interval(Duration::ZERO);
    let auth = ResourceServer::new(&url, verifier)
        .unwrap()
        .authorization_server(&issuer)
        .scopes_supported(SCOPES)
        .require_scopes(["mcp:read"]);
    let auth = protect(auth);
    let config = HttpConfig {
        auth: Some(Arc::new(auth)),
        ..HttpConfig::default()
    };
    let service = StreamableHttpService::new(router(), config);
    tokio::spawn(serve_app(
        listener,
        "/mcp",
        service.clone(),
        None,
        std::future::pending(),
    ));
    Some(Setup {
        provider,
        url,
        other,
        service,
    })
}

/// An access token for `client` (client credentials) for `resource`.
async fn token(provider: &Provider, client: &str, resource: &str, scope: &str) -> String {
    let response = reqwest::Client::new()
        .post(provider.info["token_endpoint"].as_str().unwrap())
        .basic_auth(client, Some(format!("{client}-secret")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&resource={}&scope={}",
            form(resource),
            form(scope)
        ))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(status.is_success(), "token: {status} {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// `value` percent-encoded for a form body.
fn form(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Status, `WWW-Authenticate` and body of an `initialize` POSTed with
/// `authorization`, answered by the service in process.
async fn initialize(
    service: &StreamableHttpService,
    authorization: Option<&str>,
) -> (u16, String, String) {
    let (status, www, body, _) = post(service, authorization, None, initialize_body()).await;
    (status, www, body)
}

fn initialize_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}})
}

/// Status, `WWW-Authenticate`, body and session id of `body` POSTed with
/// `authorization` in `session`, answered by the service in process.
async fn post(
    service: &StreamableHttpService,
    authorization: Option<&str>,
    session: Option<&str>,
    body: Value,
) -> (u16, String, String, Option<String>) {
    let mut request = http::Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    if let Some(id) = session {
        request = request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    let response = service
        .handle(request.body(McpBody::full(body.to_string())).unwrap())
        .await;
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = response.status().as_u16();
    let www = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        www,
        String::from_utf8_lossy(&bytes).into_owned(),
        session,
    )
}

/// `token` with its signature (or header) replaced.
fn with_parts(token: &str, header: Option<Value>, signature: Option<&str>) -> String {
    use base64::Engine;
    let parts: Vec<&str> = token.split('.').collect();
    let header = header.map_or(parts[0].to_owned(), |h| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.to_string())
    });
    format!("{header}.{}.{}", parts[1], signature.unwrap_or(parts[2]))
}

#[tokio::test]
async fn a_protected_server_takes_good_tokens_and_refuses_bad_ones() {
    let Some(s) = setup("a_protected_server_takes_good_tokens").await else {
        return;
    };
    // The metadata, at the path-aware well-known URL.
    let metadata_url = s
        .url
        .replace("/mcp", "/.well-known/oauth-protected-resource/mcp");
    let metadata: Value = serde_json::from_str(
        &reqwest::get(&metadata_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(metadata["resource"], s.url);
    assert_eq!(
        metadata["authorization_servers"],
        json!([s.provider.issuer()])
    );
    assert_eq!(metadata["scopes_supported"], json!(SCOPES));

    // No token: the challenge names the metadata and the scope.
    let (status, www, _) = initialize(&s.service, None).await;
    assert_eq!(status, 401);
    assert_eq!(
        www,
        format!("Bearer resource_metadata=\"{metadata_url}\", scope=\"mcp:read\"")
    );

    // A good token: our client calls, the tool sees who.
    let alice = token(&s.provider, "alice", &s.url, "mcp:read").await;
    let client = support::client_with_authorization(&s.url, &format!("Bearer {alice}")).await;
    let result = client.call_tool("whoami", json!({})).await.unwrap();
    assert_eq!(result.content[0].as_text(), Some("alice"), "{result:?}");
    client.close().await;

    // Refused tokens: 401 invalid_token, the token nowhere in the answer.
    let wrong_aud = token(&s.provider, "alice", &s.other, "mcp:read").await;
    let flipped = {
        let sig = alice.rsplit('.').next().unwrap();
        let mut bytes = sig.as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        with_parts(&alice, None, Some(std::str::from_utf8(&bytes).unwrap()))
    };
    let kid = {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(alice.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"].clone()
    };
    let alg_none = with_parts(
        &alice,
        Some(json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        Some(""),
    );
    let huge = "A".repeat(1 << 20);
    // A header of 8 KiB (the token itself under the 16 KiB limit).
    let huge_header = with_parts(
        &alice,
        Some(json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "pad": "x".repeat(6000)})),
        None,
    );
    let array_header = with_parts(&alice, Some(json!(["ES256"])), None);
    let not_base64 = format!("!!!{}", &alice[3..]);
    for (name, bad, why) in [
        ("wrong audience", wrong_aud.as_str(), "aud"),
        ("badly signed", flipped.as_str(), "signature"),
        ("alg none", alg_none.as_str(), "algorithm"),
        ("1 MiB", huge.as_str(), "too long"),
        ("not a JWT", "opaque-token", "not a JWT"),
        ("huge header", huge_header.as_str(), "header is too large"),
        ("header not an object", array_header.as_str(), "malformed"),
        ("header not base64url", not_base64.as_str(), "malformed"),
    ] {
        let (status, www, body) = initialize(&s.service, Some(&format!("Bearer {bad}"))).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert!(www.contains("error=\"invalid_token\""), "{name}: {www}");
        assert!(www.contains(why), "{name}: {www}");
        assert!(www.contains("resource_metadata="), "{name}: {www}");
        let secret = &bad[bad.len().saturating_sub(20)..];
        assert!(
            !secret.is_empty() && !body.contains(secret) && !www.contains(secret),
            "{name}"
        );
    }

    // Wrong issuer: a verifier that expects another issuer, same keys.
    let wrong_iss = ResourceServer::new(
        &s.url,
        JwtVerifier::new("http://127.0.0.1:1/issuer", &s.url)
            .jwks_uri(s.provider.info["jwks_uri"].as_str().unwrap()),
    )
    .unwrap();
    let refusal = wrong_iss.authenticate(&bearer(&alice)).await.unwrap_err();
    assert_eq!(refusal.status(), 401);
    assert!(www_of(&refusal).contains("another issuer"));

    // No mcp:read: 403 insufficient_scope naming it.
    let writer = token(&s.provider, "bob", &s.url, "mcp:write").await;
    let (status, www, _) = initialize(&s.service, Some(&format!("Bearer {writer}"))).await;
    assert_eq!(status, 403);
    assert!(
        www.contains("error=\"insufficient_scope\"") && www.contains("scope=\"mcp:read\""),
        "{www}"
    );

    // Expired: a token that lives one second, a little later.
    s.provider.set_access_token_ttl(&s.url, 1).await;
    let short = token(&s.provider, "alice", &s.url, "mcp:read").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, www, _) = initialize(&s.service, Some(&format!("Bearer {short}"))).await;
    assert_eq!(status, 401);
    assert!(www.contains("expired"), "{www}");
    s.provider.set_access_token_ttl(&s.url, 3600).await;

    // Key rotation: a token signed with a key the server has not seen.
    s.provider.rotate_keys(true).await;
    let rotated = token(&s.provider, "bob", &s.url, "mcp:read").await;
    assert_ne!(rotated.split('.').next(), alice.split('.').next());
    let (status, www, body) = initialize(&s.service, Some(&format!("Bearer {rotated}"))).await;
    assert_eq!(status, 200, "{www} {body}");
}

/// Most providers sign with RSA: oidc-provider's RS256 tokens are taken,
/// and the same token with a header that names another algorithm (ES256,
/// PS256, HS256, none) is refused.
#[tokio::test]
async fn rs256_tokens_are_taken_and_a_header_alg_that_does_not_fit_is_refused() {
    let Some(s) = setup_with(
        "rs256_tokens_are_taken",
        |config| config["resources"][0]["alg"] = json!("RS256"),
        |auth| auth,
    )
    .await
    else {
        return;
    };
    let alice = token(&s.provider, "alice", &s.url, "mcp:read").await;
    let header = jwt_header(&alice);
    assert_eq!(header["alg"], "RS256", "{header}");
    let client = support::client_with_authorization(&s.url, &format!("Bearer {alice}")).await;
    let result = client.call_tool("whoami", json!({})).await.unwrap();
    assert_eq!(result.content[0].as_text(), Some("alice"), "{result:?}");
    client.close().await;
    for alg in ["ES256", "PS256", "HS256", "none"] {
        let forged = with_parts(
            &alice,
            Some(json!({"alg": alg, "typ": "at+jwt", "kid": header["kid"]})),
            None,
        );
        let (status, www, _) = initialize(&s.service, Some(&format!("Bearer {forged}"))).await;
        assert_eq!(status, 401, "{alg}");
        assert!(www.contains("error=\"invalid_token\""), "{alg}: {www}");
    }
}

/// Our client with DPoP (it uses it when the authorization server offers
/// ES256 proofs) reaches a protected server through oidc-provider issuing
/// DPoP-bound tokens: the token the tool sees is bound to a key, and the
/// server's nonces (401 `use_dpop_nonce`, then a retry) are followed.
#[tokio::test]
async fn our_client_with_dpop_reaches_a_protected_server() {
    let Some(s) = setup_with(
        "our_client_with_dpop_reaches_a_protected_server",
        |config| config["dpop"] = json!(true),
        |auth| auth.dpop_nonces(Duration::from_secs(60)),
    )
    .await
    else {
        return;
    };
    use mcp_sdk_client::auth::{FollowRedirect, Grant, OAuth, Secret};
    let oauth = OAuth::builder(FollowRedirect::new())
        .pre_registered(
            Some(s.provider.issuer()),
            "alice",
            Some(Secret::from("alice-secret")),
        )
        .grant(Grant::ClientCredentials)
        .build()
        .unwrap();
    let transport = mcp_sdk_client::transport::HttpTransport::builder(&s.url)
        .oauth(oauth)
        .build()
        .unwrap();
    let client = mcp_sdk_client::Client::builder()
        .era(mcp_sdk_client::Era::SessionOnly)
        .connect(transport)
        .await
        .expect("connected with a DPoP-bound token");
    let bound = client.call_tool("bound", json!({})).await.unwrap();
    let jkt = bound.content[0].as_text().unwrap().to_owned();
    assert_ne!(jkt, "unbound", "the client got a bearer token");
    let who = client.call_tool("whoami", json!({})).await.unwrap();
    assert_eq!(who.content[0].as_text(), Some("alice"), "{who:?}");
    client.close().await;
}

/// A DPoP key of the test's own, and proofs made with it.
struct DpopKey(p256::ecdsa::SigningKey);

impl DpopKey {
    fn new() -> DpopKey {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).unwrap();
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return DpopKey(key);
            }
        }
    }

    /// A proof of `claims` (`jti` and `iat` added unless given).
    fn proof(&self, mut claims: Value) -> String {
        use base64::Engine;
        use p256::ecdsa::signature::Signer;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let point = self.0.verifying_key().to_encoded_point(false);
        let jwk = json!({"kty": "EC", "crv": "P-256",
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())});
        if claims.get("jti").is_none() {
            claims["jti"] = json!(support::oidc::random_token());
        }
        if claims.get("iat").is_none() {
            claims["iat"] = json!(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs());
        }
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature: p256::ecdsa::Signature = self.0.sign(signed.as_bytes());
        format!("{signed}.{}", b64(&signature.to_bytes()))
    }
}

/// `base64url(SHA-256(token))`, a proof's `ath`.
fn ath(token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token))
}

/// A DPoP-bound token for `client` from the provider (client credentials,
/// with a proof of `key` for the token endpoint).
async fn dpop_token(provider: &Provider, key: &DpopKey, client: &str, resource: &str) -> String {
    let endpoint = provider.info["token_endpoint"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(endpoint)
        .basic_auth(client, Some(format!("{client}-secret")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", key.proof(json!({"htm": "POST", "htu": endpoint})))
        .body(format!(
            "grant_type=client_credentials&resource={}&scope=mcp:read",
            form(resource)
        ))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(status.is_success(), "token: {status} {body}");
    assert_eq!(body["token_type"], "DPoP", "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Status, `WWW-Authenticate` and body of an `initialize` POSTed with
/// `authorization` and the `DPoP` proof, if any.
async fn initialize_dpop(
    service: &StreamableHttpService,
    authorization: &str,
    proof: Option<&str>,
) -> (u16, String, String) {
    let mut request = http::Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = service
        .handle(
            request
                .body(McpBody::full(initialize_body().to_string()))
                .unwrap(),
        )
        .await;
    let status = response.status().as_u16();
    let www = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, www, String::from_utf8_lossy(&bytes).into_owned())
}

/// A DPoP-bound token is taken only with a proof made for this request by
/// its key: a proof for another URL or method, a replayed one, an old one,
/// one for another token, one by another key, none at all, or the token
/// sent as Bearer, each get 401 with a `DPoP` challenge saying why, and
/// neither the token nor the proof in the answer.
#[tokio::test]
async fn dpop_proofs_that_do_not_fit_the_request_are_refused() {
    let Some(s) = setup_with(
        "dpop_proofs_that_do_not_fit_the_request_are_refused",
        |config| config["dpop"] = json!(true),
        |auth| auth,
    )
    .await
    else {
        return;
    };
    let key = DpopKey::new();
    let token = dpop_token(&s.provider, &key, "alice", &s.url).await;
    let authorization = format!("DPoP {token}");
    let good = |key: &DpopKey, f: &dyn Fn(&mut Value)| {
        let mut claims = json!({"htm": "POST", "htu": s.url, "ath": ath(&token)});
        f(&mut claims);
        key.proof(claims)
    };
    let fine = good(&key, &|_| {});
    let (status, www, body) = initialize_dpop(&s.service, &authorization, Some(&fine)).await;
    assert_eq!(status, 200, "{www} {body}");

    let old = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 600;
    let other_key = DpopKey::new();
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("replayed", Some(fine.clone()), "used before"),
        (
            "another URL",
            Some(good(&key, &|c| c["htu"] = json!(s.other))),
            "another URL",
        ),
        (
            "another method",
            Some(good(&key, &|c| c["htm"] = json!("GET"))),
            "another HTTP method",
        ),
        ("old", Some(good(&key, &|c| c["iat"] = json!(old))), "iat"),
        (
            "another token",
            Some(good(&key, &|c| c["ath"] = json!(ath("other")))),
            "ath",
        ),
        (
            "another key",
            Some(good(&other_key, &|_| {})),
            "another key",
        ),
        ("no proof", None, "exactly one DPoP proof"),
    ];
    for (name, proof, why) in cases {
        let (status, www, body) =
            initialize_dpop(&s.service, &authorization, proof.as_deref()).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert!(www.starts_with("DPoP "), "{name}: {www}");
        assert!(
            www.contains("error=\"invalid_dpop_proof\""),
            "{name}: {www}"
        );
        assert!(www.contains(why), "{name}: {www}");
        assert!(www.contains("algs=\"ES256"), "{name}: {www}");
        let token_tail = &token[token.len() - 20..];
        assert!(
            !www.contains(token_tail) && !body.contains(token_tail),
            "{name}"
        );
        if let Some(proof) = &proof {
            let proof_tail = &proof[proof.len() - 20..];
            assert!(
                !www.contains(proof_tail) && !body.contains(proof_tail),
                "{name}"
            );
        }
    }
    // The bound token as a bearer token: refused, even with a good proof.
    let (status, www, _) = initialize_dpop(
        &s.service,
        &format!("Bearer {token}"),
        Some(&good(&key, &|_| {})),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        www.starts_with("DPoP error=\"invalid_token\"") && www.contains("bound"),
        "{www}"
    );
    // An unbound token sent as DPoP: refused.
    let plain = token_unbound(&s).await;
    let (status, www, _) = initialize_dpop(&s.service, &format!("DPoP {plain}"), Some(&fine)).await;
    assert_eq!(status, 401);
    assert!(www.contains("not DPoP-bound"), "{www}");
}

/// A bearer token for alice from the DPoP-capable provider (no proof).
async fn token_unbound(s: &Setup) -> String {
    token(&s.provider, "alice", &s.url, "mcp:read").await
}

/// The decoded header of a JWT.
fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice(&header).unwrap()
}

fn bearer(token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    headers
}

fn www_of(response: &http::Response<McpBody>) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A session belongs to whoever opened it: another user's token with its
/// id gets what an unknown id gets (404), the same for GET and DELETE.
#[tokio::test]
async fn a_second_user_cannot_use_the_first_users_session() {
    let Some(s) = setup("a_second_user_cannot_use_the_first_users_session").await else {
        return;
    };
    let alice = format!(
        "Bearer {}",
        token(&s.provider, "alice", &s.url, "mcp:read").await
    );
    let bob = format!(
        "Bearer {}",
        token(&s.provider, "bob", &s.url, "mcp:read").await
    );
    let (status, _, _, session) = post(&s.service, Some(&alice), None, initialize_body()).await;
    assert_eq!(status, 200);
    let session = session.expect("a session id");
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (theirs, _, theirs_body, _) =
        post(&s.service, Some(&bob), Some(&session), list.clone()).await;
    let (unknown, _, unknown_body, _) = post(
        &s.service,
        Some(&bob),
        Some("no-such-session"),
        list.clone(),
    )
    .await;
    assert_eq!((theirs, theirs_body), (unknown, unknown_body));
    assert_eq!(theirs, 404);
    for method in ["GET", "DELETE"] {
        let response = s
            .service
            .handle(
                http::Request::builder()
                    .method(method)
                    .uri("/mcp")
                    .header("accept", "text/event-stream")
                    .header("authorization", &bob)
                    .header("mcp-session-id", &session)
                    .header("mcp-protocol-version", "2025-06-18")
                    .body(McpBody::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), 404, "{method}");
    }
    // Alice's session still works for her.
    let (status, _, body, _) = post(&s.service, Some(&alice), Some(&session), list).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("whoami"), "{body}");
}

/// A tool that needs a scope: marked in `tools/list`, and a call without
/// the scope gets the 403 step-up challenge naming it; with it, the call
/// goes through.
#[tokio::test]
async fn a_scoped_tool_asks_for_a_step_up() {
    let Some(s) = setup("a_scoped_tool_asks_for_a_step_up").await else {
        return;
    };
    let reader = format!(
        "Bearer {}",
        token(&s.provider, "alice", &s.url, "mcp:read").await
    );
    let (_, _, _, session) = post(&s.service, Some(&reader), None, initialize_body()).await;
    let session = session.unwrap();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (status, _, body, _) = post(&s.service, Some(&reader), Some(&session), list).await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&body).unwrap();
    let write = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "write")
        .cloned()
        .expect("the scoped tool is listed, marked");
    assert_eq!(write["_meta"][REQUIRED_SCOPES_META], json!(["mcp:write"]));
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "write", "arguments": {}}});
    let (status, www, _, _) = post(&s.service, Some(&reader), Some(&session), call.clone()).await;
    assert_eq!(status, 403);
    assert!(www.contains("error=\"insufficient_scope\""), "{www}");
    assert!(www.contains("scope=\"mcp:read mcp:write\""), "{www}");
    // Stepped up: a token with both scopes.
    let writer = format!(
        "Bearer {}",
        token(&s.provider, "alice", &s.url, "mcp:read mcp:write").await
    );
    let (status, _, body, _) = post(&s.service, Some(&writer), Some(&session), call).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("written"), "{body}");
}

/// A prompt or resource that needs a scope: over HTTP a get or read
/// without it gets the same 403 step-up challenge as a tool's call; with
/// the scope it is answered. Subscribing to the resource, or listening
/// for its changes, needs the scope too.
#[tokio::test]
async fn scoped_prompts_and_resources_ask_for_a_step_up_over_http() {
    router().check().expect("the router is well formed");
    let Some(s) = setup("scoped_prompts_and_resources_ask_for_a_step_up_over_http").await else {
        return;
    };
    let reader = format!(
        "Bearer {}",
        token(&s.provider, "alice", &s.url, "mcp:read").await
    );
    let writer = format!(
        "Bearer {}",
        token(&s.provider, "alice", &s.url, "mcp:read mcp:write").await
    );
    let (_, _, _, session) = post(&s.service, Some(&reader), None, initialize_body()).await;
    let session = session.unwrap();
    let requests = [
        ("prompts/get", json!({"name": "draft"}), "drafted"),
        (
            "resources/read",
            json!({"uri": "file:///secret"}),
            "the secret",
        ),
        ("resources/read", json!({"uri": "vault://x"}), "an item"),
    ];
    for (method, params, answer) in requests {
        let request = json!({"jsonrpc": "2.0", "id": 5, "method": method, "params": params});
        let (status, www, body, _) =
            post(&s.service, Some(&reader), Some(&session), request.clone()).await;
        assert_eq!(status, 403, "{method} {params}: {body}");
        assert!(
            www.contains("error=\"insufficient_scope\"")
                && www.contains("scope=\"mcp:read mcp:write\""),
            "{method}: {www}"
        );
        let (status, _, body, _) = post(&s.service, Some(&writer), Some(&session), request).await;
        assert_eq!(status, 200, "{method}: {body}");
        assert!(body.contains(answer), "{method}: {body}");
    }
    // A subscriptions/listen stream (2026-07-28) watching the resource
    // needs what reading it needs; a resources/subscribe too.
    let listen = json!({"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen", "params": {
    "notifications": {"resourceSubscriptions": ["file:///secret"]},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    }}});
    for (authorization, status) in [(&reader, 403), (&writer, 200)] {
        let response = s
            .service
            .handle(
                http::Request::post("/mcp")
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-protocol-version", "2026-07-28")
                    .header("mcp-method", "subscriptions/listen")
                    .header("authorization", authorization.as_str())
                    .body(McpBody::full(listen.to_string()))
                    .unwrap(),
            )
            .await;
        // The stream itself is not read: it lasts until the server closes.
        assert_eq!(response.status(), status);
    }
    let subscribe = json!({"jsonrpc": "2.0", "id": 8, "method": "resources/subscribe",
        "params": {"uri": "vault://y"}});
    let (status, www, _, _) = post(&s.service, Some(&reader), Some(&session), subscribe).await;
    assert_eq!(status, 403, "{www}");
    // A resource that needs no scope, and an unknown one, are not stepped up.
    let unknown = json!({"jsonrpc": "2.0", "id": 6, "method": "resources/read",
        "params": {"uri": "file:///nothing"}});
    let (status, _, _, _) = post(&s.service, Some(&reader), Some(&session), unknown).await;
    assert_eq!(status, 200);
}

/// A `requestState` (2026-07-28 multi round-trip requests) belongs to the
/// caller it was sealed for: alice's state sent with bob's token gets the
/// same answer as a forged one; alice's own retry goes through.
#[tokio::test]
async fn a_request_state_is_bound_to_its_caller() {
    let Some(s) = setup("a_request_state_is_bound_to_its_caller").await else {
        return;
    };
    let alice = format!(
        "Bearer {}",
        token(&s.provider, "alice", &s.url, "mcp:read").await
    );
    let bob = format!(
        "Bearer {}",
        token(&s.provider, "bob", &s.url, "mcp:read").await
    );
    let call = |extra: Value| {
        let mut params = json!({"name": "confirm", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
        }});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
    };
    let send = |authorization: String, body: Value| {
        let service = s.service.clone();
        async move {
            let request = http::Request::post("/mcp")
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "confirm")
                .header("authorization", authorization)
                .body(McpBody::full(body.to_string()))
                .unwrap();
            let response = service.handle(request).await;
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let first = send(alice.clone(), call(json!({}))).await;
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].as_str().unwrap().to_owned();
    let answer = json!({"sure": {"action": "accept", "content": {}}});
    let retry = |state: &str| call(json!({"inputResponses": answer, "requestState": state}));
    let forged = {
        let mut bytes = state.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let by_bob = send(bob.clone(), retry(&state)).await;
    let forged_by_bob = send(bob, retry(&forged)).await;
    assert_eq!(by_bob["error"], forged_by_bob["error"], "{by_bob}");
    assert_eq!(by_bob["error"]["code"], -32602, "{by_bob}");
    let by_alice = send(alice, retry(&state)).await;
    assert_eq!(
        by_alice["result"]["content"][0]["text"], "confirmed",
        "{by_alice}"
    );
}

/// With `hide_tools_out_of_scope`, `tools/list` leaves out what the caller
/// cannot call; the guard refuses a call that gets past the transport.
#[tokio::test]
async fn hidden_scoped_tools_and_the_guard() {
    let router = router().hide_tools_out_of_scope();
    let identity = |scopes: &[&str]| Identity {
        subject: Some("u".into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        ..Identity::default()
    };
    let names = |ctx: RequestContext| {
        let router = router.clone();
        async move {
            let listed = router.list_tools(Default::default(), ctx).await.unwrap();
            listed.tools.into_iter().map(|t| t.name).collect::<Vec<_>>()
        }
    };
    let reader = RequestContext::builder()
        .extension(identity(&["mcp:read"]))
        .build();
    assert_eq!(names(reader.clone()).await, ["whoami", "confirm", "bound"]);
    let writer = RequestContext::builder()
        .extension(identity(&["mcp:read", "mcp:write"]))
        .build();
    assert_eq!(
        names(writer.clone()).await,
        ["whoami", "write", "confirm", "bound"]
    );
    let call = |ctx| {
        router.call_tool(
            mcp_sdk::CallToolParams::new("write", Some(Default::default())),
            ctx,
        )
    };
    let refused = call(reader).await.unwrap_err();
    assert!(refused.message.contains("mcp:write"), "{refused:?}");
    assert!(call(writer).await.is_ok());
}

/// A reference server started with `--auth-issuer`: its metadata names
/// the issuer, a call without a token gets 401, one with a token works.
#[tokio::test]
async fn a_reference_server_takes_auth_issuer() {
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let config = json!({
        "resources": [{ "uri": url, "scopes": SCOPES }],
        "clients": [{
            "client_id": "alice", "client_secret": "alice-secret",
            "grant_types": ["client_credentials"], "redirect_uris": [], "response_types": [],
        }],
    });
    let Some(provider) = Provider::start("a_reference_server_takes_auth_issuer", config).await
    else {
        return;
    };
    let mut child = tokio::process::Command::new(support::example("tools_server"))
        .args(["--http", &format!("127.0.0.1:{port}")])
        .args([
            "--auth-issuer",
            provider.issuer(),
            "--auth-scopes",
            "mcp:read",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stderr.take().unwrap()));
    tokio::time::timeout(support::PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("serving MCP at") {
                return;
            }
        }
        panic!("the server printed no address");
    })
    .await
    .expect("the server starts in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let metadata: Value = serde_json::from_str(
        &reqwest::get(format!(
            "http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        metadata["authorization_servers"],
        json!([provider.issuer()])
    );
    assert_eq!(metadata["resource"], url);
    let refused = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize_body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let alice = token(&provider, "alice", &url, "mcp:read").await;
    let client = support::client_with_authorization(&url, &format!("Bearer {alice}")).await;
    let result = client
        .call_tool("add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert!(!result.is_error(), "{result:?}");
    client.close().await;
    let _ = child.start_kill();
}

/// A JWKS endpoint that answers garbage: 503 with Retry-After, not a pass
/// and not a hang; the failure is remembered, so the issuer is asked once.
#[tokio::test]
async fn a_jwks_that_answers_garbage_gives_503_once_asked() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks = format!("http://{}/jwks", listener.local_addr().unwrap());
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\n<garbage>")
                .await;
        }
    });
    let auth = ResourceServer::new(
        "http://127.0.0.1:2/mcp",
        JwtVerifier::new("http://issuer", "http://127.0.0.1:2/mcp").jwks_uri(&jwks),
    )
    .unwrap();
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let token = format!(
        "{}.{}.AAAA",
        b64(json!({"alg": "ES256", "typ": "at+jwt", "kid": "k"})),
        b64(json!({"iss": "http://issuer"}))
    );
    for _ in 0..3 {
        let refusal = auth.authenticate(&bearer(&token)).await.unwrap_err();
        assert_eq!(refusal.status(), 503);
        assert!(refusal.headers().contains_key("retry-after"));
    }
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A JWKS endpoint that never answers, or answers more than a JWKS can
/// be: 503 with Retry-After within the fetch timeout, not a hang and not a
/// pass, and the failure is remembered (the endpoint is asked once).
#[tokio::test]
async fn a_jwks_that_hangs_or_answers_too_much_gives_503_once_asked() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = asked.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                seen.lock().unwrap().push(path.clone());
                if path == "/huge" {
                    // 1 MiB of a JSON object, sent as it goes (no length).
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"keys\": [\"")
                        .await;
                    let chunk = vec![b'a'; 64 * 1024];
                    for _ in 0..16 {
                        if stream.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    let _ = stream.write_all(b"\"]}").await;
                } else {
                    // Hangs: reads nothing more, answers nothing.
                    std::future::pending::<()>().await;
                }
            });
        }
    });
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let token = format!(
        "{}.{}.AAAA",
        b64(json!({"alg": "ES256", "typ": "at+jwt", "kid": "k"})),
        b64(json!({"iss": "http://issuer"}))
    );
    for path in ["/hang", "/huge"] {
        let auth = ResourceServer::new(
            "http://127.0.0.1:2/mcp",
            JwtVerifier::new("http://issuer", "http://127.0.0.1:2/mcp")
                .jwks_uri(&format!("http://{addr}{path}"))
                .fetch_timeout(Duration::from_secs(2)),
        )
        .unwrap();
        for _ in 0..3 {
            let refusal =
                tokio::time::timeout(Duration::from_secs(30), auth.authenticate(&bearer(&token)))
                    .await
                    .expect("the fetch is bounded in time")
                    .unwrap_err();
            assert_eq!(refusal.status(), 503, "{path}");
            assert!(refusal.headers().contains_key("retry-after"), "{path}");
            let body = http_body_util::BodyExt::collect(refusal.into_body())
                .await
                .unwrap()
                .to_bytes();
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains("cannot be checked now"), "{path}: {body}");
            assert!(!body.contains("AAAA"), "{path}: {body}");
        }
        let times = asked.lock().unwrap().iter().filter(|p| *p == path).count();
        assert_eq!(times, 1, "{path}");
    }
}
