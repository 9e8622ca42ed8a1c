//! The tests' authorization server itself (tests/oidc/provider.mjs, the
//! npm package oidc-provider), checked by hand-made OAuth requests: what
//! the client and server tests rely on it for. JWT access tokens for a
//! resource indicator (RFC 8707, RFC 9068), dynamic registration (RFC
//! 7591), PKCE required, refresh tokens with rotation, the client
//! credentials grant, and its test controls (key rotation, token lifetime).
//!
//! Skips, saying why, without Node and the npm package (and Chromium for
//! the sign-in); `MCP_OIDC_TEST=required` (CI) makes that a failure.

mod support;

use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use support::oidc::{self, random_token, s256, verify_es256, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RESOURCE: &str = "http://127.0.0.1:1/mcp";

fn config() -> Value {
    json!({
        "resources": [{ "uri": RESOURCE, "scopes": ["mcp:read", "mcp:write"], "accessTokenTtl": 600 }],
        "clients": [{
            "client_id": "robot",
            "client_secret": "robot-secret",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic",
        }],
    })
}

/// POSTs a form to the token endpoint (as `basic` = (id, secret) if
/// given); the status and the JSON answer.
async fn token(
    provider: &Provider,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = reqwest::Client::new()
        .post(provider.info["token_endpoint"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn client_credentials(provider: &Provider, scope: &str) -> (StatusCode, Value) {
    token(
        provider,
        &[
            ("grant_type", "client_credentials"),
            ("resource", RESOURCE),
            ("scope", scope),
        ],
        Some(("robot", "robot-secret")),
    )
    .await
}

#[tokio::test]
async fn client_credentials_give_a_jwt_for_the_resource() {
    let Some(provider) = Provider::start("client_credentials_give_a_jwt", config()).await else {
        return;
    };
    let (status, answer) = client_credentials(&provider, "mcp:read").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    let jwks = provider.jwks().await;
    let claims = verify_es256(
        answer["access_token"].as_str().unwrap(),
        &jwks,
        provider.issuer(),
        RESOURCE,
    )
    .unwrap();
    assert_eq!(claims["scope"], "mcp:read");
    assert_eq!(claims["client_id"], "robot");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    // Checked for this audience only.
    let why = verify_es256(
        answer["access_token"].as_str().unwrap(),
        &jwks,
        provider.issuer(),
        "http://127.0.0.1:2/mcp",
    )
    .unwrap_err();
    assert!(why.contains("aud"), "{why}");

    // A resource it does not know, a wrong secret: refused.
    let (status, answer) = token(
        &provider,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "http://127.0.0.1:2/other"),
        ],
        Some(("robot", "robot-secret")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"], "invalid_target");
    let (status, answer) = token(
        &provider,
        &[("grant_type", "client_credentials"), ("resource", RESOURCE)],
        Some(("robot", "wrong")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"], "invalid_client");
}

#[tokio::test]
async fn rotated_keys_and_a_new_lifetime_apply_to_new_tokens() {
    let Some(provider) = Provider::start("rotated_keys", config()).await else {
        return;
    };
    let before = provider.jwks().await;
    let (_, first) = client_credentials(&provider, "mcp:read").await;
    let kids = provider.rotate_keys(false).await;
    assert_eq!(kids.len(), 4, "two new keys (EC, RSA) and the two old");
    provider.set_access_token_ttl(RESOURCE, 5).await;
    let (status, second) = client_credentials(&provider, "mcp:read").await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second = second["access_token"].as_str().unwrap();
    // Signed by the new key, which the JWKS fetched before does not have.
    let why = verify_es256(second, &before, provider.issuer(), RESOURCE).unwrap_err();
    assert!(why.starts_with("no key"), "{why}");
    let after = provider.jwks().await;
    let claims = verify_es256(second, &after, provider.issuer(), RESOURCE).unwrap();
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        5
    );
    // The old key is still listed, so the old token still verifies...
    let first = first["access_token"].as_str().unwrap();
    verify_es256(first, &after, provider.issuer(), RESOURCE).unwrap();
    // ...until it is retired.
    assert_eq!(provider.rotate_keys(true).await.len(), 2);
    let why = verify_es256(first, &provider.jwks().await, provider.issuer(), RESOURCE).unwrap_err();
    assert!(why.starts_with("no key"), "{why}");
}

/// A loopback redirect listener for one request: answers it with a short
/// page and gives its request target.
async fn one_redirect(listener: TcpListener) -> String {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the browser closed the connection");
        head.extend_from_slice(&buf[..n]);
    }
    let body = "signed in; you can close this tab";
    let _ = stream
        .write_all(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    let head = String::from_utf8_lossy(&head).into_owned();
    head.split_whitespace().nth(1).unwrap().to_owned()
}

/// Registers a public native client whose redirect URI is a loopback one
/// without a port (RFC 8252: any port matches).
async fn register(provider: &Provider) -> String {
    let response = reqwest::Client::new()
        .post(provider.info["registration_endpoint"].as_str().unwrap())
        .header("content-type", "application/json")
        .body(
            json!({
                "redirect_uris": ["http://127.0.0.1/callback"],
                "application_type": "native",
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    registered["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pkce_is_required() {
    let Some(provider) = Provider::start("pkce_is_required", config()).await else {
        return;
    };
    let client_id = register(&provider).await;
    let mut url = Url::parse(provider.info["authorization_endpoint"].as_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", "http://127.0.0.1:9/callback")
        .append_pair("state", "s")
        .append_pair("resource", RESOURCE)
        .append_pair("scope", "mcp:read");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(url).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("error".into(), "invalid_request".into())),
        "{query:?}"
    );
    let description = &query
        .iter()
        .find(|(k, _)| k == "error_description")
        .unwrap()
        .1;
    assert!(description.contains("PKCE"), "{description}");
}

#[tokio::test]
async fn a_person_signs_in_and_the_code_gives_jwt_and_rotating_refresh_tokens() {
    let test = "a_person_signs_in";
    let Some(chromium) = oidc::available(test, oidc::chromium()) else {
        return;
    };
    let Some(provider) = Provider::start(test, config()).await else {
        return;
    };
    let node = oidc::node().unwrap();
    let client_id = register(&provider).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().unwrap().port()
    );
    let (verifier, state) = (random_token(), random_token());
    let mut url = Url::parse(provider.info["authorization_endpoint"].as_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state)
        .append_pair("resource", RESOURCE)
        .append_pair("scope", "mcp:read offline_access")
        // OpenID Connect grants offline_access only with consent asked.
        .append_pair("prompt", "consent");
    let redirect = tokio::spawn(one_redirect(listener));
    let said = oidc::browser_login(&node, &chromium, url.as_str(), "alice", false)
        .await
        .unwrap_or_else(|e| panic!("the sign-in failed: {e}\n{}", provider.log()));
    assert!(said.contains("you can close this tab"), "{said}");
    let target = redirect.await.unwrap();
    let redirect = Url::parse(&format!("http://127.0.0.1{target}")).unwrap();
    let query: std::collections::HashMap<String, String> =
        redirect.query_pairs().into_owned().collect();
    assert_eq!(query.get("state"), Some(&state), "{query:?}");
    assert_eq!(
        query.get("iss").map(String::as_str),
        Some(provider.issuer())
    );
    let code = &query["code"];

    // The code needs its verifier.
    let exchange = |verifier: String| {
        let (code, client_id, redirect_uri) =
            (code.clone(), client_id.clone(), redirect_uri.clone());
        let provider = &provider;
        async move {
            token(
                provider,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &redirect_uri),
                    ("code_verifier", &verifier),
                    ("client_id", &client_id),
                    ("resource", RESOURCE),
                ],
                None,
            )
            .await
        }
    };
    let (status, answer) = exchange(random_token()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"], "invalid_grant");
    // (PKCE is checked before the code is spent.)
    let (status, answer) = exchange(verifier).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let jwks = provider.jwks().await;
    let claims = verify_es256(
        answer["access_token"].as_str().unwrap(),
        &jwks,
        provider.issuer(),
        RESOURCE,
    )
    .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scope"], "mcp:read");
    let refresh = answer["refresh_token"]
        .as_str()
        .expect("a refresh token for offline_access")
        .to_owned();

    let refresh_with = |refresh: String| {
        let client_id = client_id.clone();
        let provider = &provider;
        async move {
            token(
                provider,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh),
                    ("client_id", &client_id),
                    ("resource", RESOURCE),
                ],
                None,
            )
            .await
        }
    };
    let (status, fresh) = refresh_with(refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    verify_es256(
        fresh["access_token"].as_str().unwrap(),
        &jwks,
        provider.issuer(),
        RESOURCE,
    )
    .unwrap();
    let rotated = fresh["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refresh, "the refresh token rotates");
    // The old one is spent.
    let (status, answer) = refresh_with(refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"], "invalid_grant");
}
