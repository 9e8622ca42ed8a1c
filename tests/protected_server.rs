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
    for (name, bad, why) in [
        ("wrong audience", wrong_aud.as_str(), "aud"),
        ("badly signed", flipped.as_str(), "signature"),
        ("alg none", alg_none.as_str(), "algorithm"),
        ("1 MiB", huge.as_str(), "too long"),
        ("not a JWT", "opaque-token", "not a JWT"),
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
    assert_eq!(names(reader.clone()).await, ["whoami"]);
    let writer = RequestContext::builder()
        .extension(identity(&["mcp:read", "mcp:write"]))
        .build();
    assert_eq!(names(writer.clone()).await, ["whoami", "write"]);
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
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
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
