//! OAuth against hand-written servers on loopback: a protected MCP
//! endpoint and an authorization server in one, each test bending one
//! piece (metadata that is not JSON, too large, of another issuer, an
//! authorization server on plain HTTP, a server that refuses every token,
//! an access token that expires and is refreshed).

#![cfg(feature = "auth")]

use mcp_sdk_client::auth::{FollowRedirect, OAuth, Secret};
use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{Client, ClientError, Era};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One HTTP request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The path with its query.
    target: String,
    authorization: Option<String>,
    body: String,
}

/// An answer: status, extra headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(value: Value) -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Route = dyn Fn(&Seen, &str) -> Answer + Send + Sync;

/// Serves `route` (given each request and the server's base URL) on a
/// loopback port, one request per connection; returns the base URL and
/// what it saw.
async fn serve(route: Arc<Route>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let url = base.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let route = route.clone();
            let log = log.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or_default().split(' ');
                let method = first.next().unwrap_or_default().to_owned();
                let target = first.next().unwrap_or_default().to_owned();
                let mut length = 0;
                let mut authorization = None;
                for line in lines {
                    if let Some((name, value)) = line.split_once(':') {
                        let value = value.trim();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.parse().unwrap_or(0),
                            "authorization" => authorization = Some(value.to_owned()),
                            _ => {}
                        }
                    }
                }
                while buf.len() < head_end + length {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                let request = Seen {
                    method,
                    target,
                    authorization,
                    body,
                };
                log.lock().unwrap().push(request.clone());
                let answer = route(&request, &url);
                let mut out = format!(
                    "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    answer.status,
                    answer.body.len()
                );
                for (name, value) in &answer.headers {
                    out.push_str(&format!("{name}: {value}\r\n"));
                }
                out.push_str("\r\n");
                let _ = socket.write_all(out.as_bytes()).await;
                let _ = socket.write_all(&answer.body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (base, seen)
}

/// The authorization server part: metadata, registration, authorization
/// (redirecting at once) and tokens. `token` answers the token endpoint
/// from the form it got.
fn authorization_server(
    request: &Seen,
    base: &str,
    token: &dyn Fn(&str) -> Answer,
) -> Option<Answer> {
    let path = request.target.split('?').next().unwrap_or_default();
    Some(match path {
        "/.well-known/oauth-protected-resource/mcp" => Answer::json(json!({
            "resource": format!("{base}/mcp"),
            "authorization_servers": [base],
        })),
        "/.well-known/oauth-authorization-server" => Answer::json(json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "registration_endpoint": format!("{base}/register"),
            "code_challenge_methods_supported": ["S256"],
            "response_types_supported": ["code"],
        })),
        "/register" => Answer {
            status: 201,
            ..Answer::json(json!({"client_id": "client-1"}))
        },
        "/authorize" => {
            let url = reqwest::Url::parse(&format!("{base}{}", request.target)).unwrap();
            let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
            let mut back = reqwest::Url::parse(&query["redirect_uri"]).unwrap();
            back.query_pairs_mut()
                .append_pair("code", "code-1")
                .append_pair("state", &query["state"]);
            Answer::status(302).header("location", back.to_string())
        }
        "/token" => token(&request.body),
        _ => return None,
    })
}

/// An answer to an MCP request made with a good token.
fn mcp_answer(request: &Seen) -> Answer {
    let message: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
    let Some(id) = message.get("id").cloned() else {
        return Answer::status(202);
    };
    let result = match message["method"].as_str() {
        Some("initialize") => json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "serverInfo": {"name": "protected", "version": "1"},
        }),
        _ => json!({}),
    };
    Answer::json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn unauthorized(base: &str) -> Answer {
    Answer::status(401).header(
        "www-authenticate",
        format!(
            r#"Bearer error="invalid_token", resource_metadata="{base}/.well-known/oauth-protected-resource/mcp""#
        ),
    )
}

async fn connect(base: &str) -> Result<Client, ClientError> {
    let oauth = OAuth::builder(FollowRedirect::new())
        .redirect_uri("http://127.0.0.1:1/callback")
        .build()?;
    let transport = HttpTransport::builder(format!("{base}/mcp"))
        .oauth(oauth)
        .standalone_stream(false)
        .legacy_fallback(false)
        .build()?;
    Client::builder()
        .era(Era::SessionOnly)
        .connect(transport)
        .await
}

fn authorization_error(result: Result<Client, ClientError>) -> String {
    match result {
        Err(ClientError::Authorization(why)) => why,
        Err(other) => panic!("expected an authorization error, got {other}"),
        Ok(_) => panic!("expected an authorization error, got a connection"),
    }
}

fn bearer_token(form: &str) -> Answer {
    let grant = if form.contains("grant_type=refresh_token") {
        "refreshed"
    } else {
        "first"
    };
    Answer::json(json!({
        "access_token": format!("tok-SECRET-{grant}"),
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": "ref-SECRET",
    }))
}

#[tokio::test]
async fn authorizes_with_pkce_and_then_refreshes_an_expired_token() {
    let (base, seen) = serve(Arc::new(|request: &Seen, base: &str| {
        if let Some(answer) = authorization_server(request, base, &bearer_token) {
            return answer;
        }
        let message: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        // The first token is good for the handshake only; then it has
        // "expired" and only the refreshed one is taken.
        let good = match message["method"].as_str() {
            Some("initialize") | Some("notifications/initialized") => "Bearer tok-SECRET-first",
            _ => "Bearer tok-SECRET-refreshed",
        };
        if request.authorization.as_deref() == Some(good) {
            mcp_answer(request)
        } else {
            unauthorized(base)
        }
    }))
    .await;
    let client = connect(&base).await.expect("authorized and connected");
    client.ping().await.expect("the ping after a refresh");
    let seen = seen.lock().unwrap().clone();
    let authorizations = seen
        .iter()
        .filter(|s| s.target.starts_with("/authorize"))
        .count();
    assert_eq!(
        authorizations, 1,
        "one authorization, then a refresh: {seen:#?}"
    );
    let token_forms: Vec<&str> = seen
        .iter()
        .filter(|s| s.target == "/token")
        .map(|s| s.body.as_str())
        .collect();
    assert_eq!(token_forms.len(), 2);
    assert!(seen
        .iter()
        .filter(|s| s.target == "/token" || s.target == "/register")
        .all(|s| s.method == "POST"));
    assert!(token_forms[0].contains("grant_type=authorization_code"));
    assert!(token_forms[0].contains("code_verifier="));
    assert!(token_forms[0].contains(&format!("resource={}", url_encode(&format!("{base}/mcp")))));
    assert!(token_forms[1].contains("grant_type=refresh_token"));
    assert!(token_forms[1].contains("refresh_token=ref-SECRET"));
    let authorize = seen
        .iter()
        .find(|s| s.target.starts_with("/authorize"))
        .unwrap();
    assert!(authorize.target.contains("code_challenge_method=S256"));
    assert!(format!("{client:?}").find("SECRET").is_none());
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_server_that_refuses_every_token_is_given_up_on() {
    let (base, seen) = serve(Arc::new(|request: &Seen, base: &str| {
        authorization_server(request, base, &bearer_token).unwrap_or_else(|| unauthorized(base))
    }))
    .await;
    let why = authorization_error(connect(&base).await);
    assert!(why.contains("after 3 authorizations"), "{why}");
    assert!(!why.contains("SECRET"), "{why}");
    let seen = seen.lock().unwrap();
    let token_requests = seen.iter().filter(|s| s.target == "/token").count();
    assert_eq!(token_requests, 3, "{seen:#?}");
}

#[tokio::test]
async fn an_error_from_the_token_endpoint_is_named() {
    let (base, _) = serve(Arc::new(|request: &Seen, base: &str| {
        let refuse = |_: &str| Answer {
            status: 400,
            ..Answer::json(
                json!({"error": "invalid_grant", "error_description": "the code expired"}),
            )
        };
        authorization_server(request, base, &refuse).unwrap_or_else(|| unauthorized(base))
    }))
    .await;
    let why = authorization_error(connect(&base).await);
    assert!(
        why.contains("token endpoint refused") && why.contains("invalid_grant"),
        "{why}"
    );
    assert!(why.contains("the code expired"), "{why}");
}

/// A server whose protected resource metadata is `prm` (given the base
/// URL); everything else as usual.
async fn with_resource_metadata(prm: fn(&str) -> Answer) -> String {
    let (base, _) = serve(Arc::new(move |request: &Seen, base: &str| {
        if request.target == "/.well-known/oauth-protected-resource/mcp" {
            return prm(base);
        }
        authorization_server(request, base, &bearer_token).unwrap_or_else(|| unauthorized(base))
    }))
    .await;
    authorization_error(connect(&base).await)
}

#[tokio::test]
async fn metadata_that_is_not_json_is_refused() {
    let why = with_resource_metadata(|_| Answer {
        status: 200,
        headers: vec![("content-type".into(), "text/html".into())],
        body: b"<html>sign in</html>".to_vec(),
    })
    .await;
    assert!(why.contains("is not a valid document"), "{why}");
}

#[tokio::test]
async fn metadata_that_is_too_large_is_refused() {
    let why = with_resource_metadata(|_| Answer {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: vec![b' '; 2 * 1024 * 1024],
    })
    .await;
    assert!(why.contains("larger than"), "{why}");
}

#[tokio::test]
async fn metadata_for_another_resource_is_refused() {
    let why = with_resource_metadata(|base| {
        Answer::json(
            json!({"resource": "https://evil.example.com/mcp", "authorization_servers": [base]}),
        )
    })
    .await;
    assert!(why.contains("not this server"), "{why}");
}

#[tokio::test]
async fn an_authorization_server_on_plain_http_off_loopback_is_refused() {
    let why = with_resource_metadata(|base| {
        Answer::json(json!({
            "resource": format!("{base}/mcp"),
            "authorization_servers": ["http://as.example.com"],
        }))
    })
    .await;
    assert!(why.contains("not HTTPS"), "{why}");
}

#[tokio::test]
async fn authorization_server_metadata_of_another_issuer_is_refused() {
    let (base, seen) = serve(Arc::new(|request: &Seen, base: &str| {
        if request.target == "/.well-known/oauth-authorization-server" {
            return Answer::json(json!({
                "issuer": "https://attacker.example.com",
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "code_challenge_methods_supported": ["S256"],
            }));
        }
        authorization_server(request, base, &bearer_token).unwrap_or_else(|| unauthorized(base))
    }))
    .await;
    let why = authorization_error(connect(&base).await);
    assert!(
        why.contains("names the issuer https://attacker.example.com"),
        "{why}"
    );
    // None of its endpoints was used.
    let seen = seen.lock().unwrap();
    assert!(seen
        .iter()
        .all(|s| !s.target.starts_with("/authorize") && s.target != "/token"));
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let secret = Secret::new("tok-SECRET");
    assert!(!format!("{secret:?}").contains("SECRET"));
}
