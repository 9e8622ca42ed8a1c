//! OAuth against hand-written servers on loopback: a protected MCP
//! endpoint and an authorization server in one, each test bending one
//! piece (metadata that is not JSON, too large, of another issuer, an
//! authorization server on plain HTTP, a server that refuses every token
//! or always wants more scope, an access token that expires and is
//! refreshed), and the loopback redirect listener of [`LoopbackBrowser`]
//! hit by what is not its redirect.

#![cfg(feature = "auth")]

use mcp_sdk_client::auth::{FollowRedirect, LoopbackBrowser, OAuth, Secret};
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

/// A 403 that asks for more scope, every time: the step-ups are bounded
/// too.
#[tokio::test]
async fn a_server_that_always_wants_more_scope_is_given_up_on() {
    let (base, seen) = serve(Arc::new(|request: &Seen, base: &str| {
        authorization_server(request, base, &bearer_token).unwrap_or_else(|| {
            if request.authorization.is_none() {
                return unauthorized(base);
            }
            Answer::status(403).header(
                "www-authenticate",
                format!(
                    r#"Bearer error="insufficient_scope", scope="more", resource_metadata="{base}/.well-known/oauth-protected-resource/mcp""#
                ),
            )
        })
    }))
    .await;
    // The error names the scope the client could not get, so that a
    // caller (a gateway) can ask its own caller for it.
    match connect(&base).await {
        Err(ClientError::InsufficientScope { scope, reason }) => {
            assert_eq!(scope, "more");
            assert!(
                reason.contains("HTTP 403 Forbidden after 3 authorizations"),
                "{reason}"
            );
            assert!(!reason.contains("tok-SECRET"), "{reason}");
        }
        Err(other) => panic!("expected InsufficientScope, got {other}"),
        Ok(_) => panic!("expected InsufficientScope, got a connection"),
    }
    let seen = seen.lock().unwrap();
    let authorizations = seen
        .iter()
        .filter(|s| s.target.starts_with("/authorize"))
        .count();
    assert_eq!(authorizations, 3, "{seen:#?}");
}

/// A transport with a fixed `Authorization` header (no OAuth to step up
/// with) that gets a 403 step-up challenge fails naming the scope, and
/// not with the token it sent.
#[tokio::test]
async fn a_step_up_without_oauth_names_the_scope() {
    let (base, _seen) = serve(Arc::new(|_: &Seen, base: &str| {
        Answer::status(403).header(
            "www-authenticate",
            format!(
                r#"Bearer error="insufficient_scope", scope="db:write", resource_metadata="{base}/.well-known/oauth-protected-resource/mcp""#
            ),
        )
    }))
    .await;
    let transport = HttpTransport::builder(format!("{base}/mcp"))
        .header("authorization", "Bearer fixed-SECRET")
        .standalone_stream(false)
        .legacy_fallback(false)
        .build()
        .unwrap();
    let Err(error) = Client::builder()
        .era(Era::SessionOnly)
        .connect(transport)
        .await
    else {
        panic!("expected a refusal, got a connection");
    };
    assert_eq!(error.insufficient_scope(), Some("db:write"), "{error}");
    assert!(!error.to_string().contains("fixed-SECRET"), "{error}");
}

/// A plain HTTP/1.1 GET from a thread (the "browser" of these tests):
/// the status, and the `Location` header if any, and the body.
fn browser_get(url: &str) -> (u16, Option<String>, String) {
    use std::io::{Read, Write};
    let url = reqwest::Url::parse(url).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
        url.host_str().unwrap(),
        url.port().unwrap()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let location = answer
        .lines()
        .find_map(|l| l.strip_prefix("location: ").map(str::to_owned));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, location, body)
}

/// The redirect URI inside an authorization URL.
fn redirect_of(authorization_url: &reqwest::Url) -> reqwest::Url {
    let uri = authorization_url
        .query_pairs()
        .find(|(n, _)| n == "redirect_uri")
        .unwrap()
        .1;
    reqwest::Url::parse(&uri).unwrap()
}

async fn connect_with(base: &str, handler: LoopbackBrowser) -> Result<Client, ClientError> {
    let oauth = OAuth::builder(handler).build()?;
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

/// A protected server whose good token is `tok-SECRET-first`.
fn protected(request: &Seen, base: &str) -> Answer {
    authorization_server(request, base, &bearer_token).unwrap_or_else(|| {
        if request.authorization.as_deref() == Some("Bearer tok-SECRET-first") {
            mcp_answer(request)
        } else {
            unauthorized(base)
        }
    })
}

#[tokio::test]
async fn the_loopback_listener_takes_the_redirect_and_nothing_else() {
    let (base, seen) = serve(Arc::new(protected)).await;
    let pages = Arc::new(Mutex::new(Vec::new()));
    let kept = pages.clone();
    // The browser's thread, joined before its pages are read: the client
    // may be signed in before the browser has read the last page.
    let browser = Arc::new(Mutex::new(None));
    let browser_slot = browser.clone();
    let handler = LoopbackBrowser::new(move |url| {
        let url = url.clone();
        let pages = kept.clone();
        // The "browser": a stray page first, then the sign-in.
        *browser_slot.lock().unwrap() = Some(std::thread::spawn(move || {
            let redirect = redirect_of(&url);
            let pages = |answer: (u16, Option<String>, String)| {
                pages.lock().unwrap().push((answer.0, answer.2))
            };
            pages(browser_get(&format!(
                "{redirect}?code=forged&state=guessed"
            )));
            pages(browser_get(&format!("{redirect}?code=forged")));
            let mut other = redirect.clone();
            other.set_path("/favicon.ico");
            pages(browser_get(other.as_str()));
            let (status, location, _) = browser_get(url.as_str());
            assert_eq!(status, 302);
            pages(browser_get(&location.unwrap()));
        }));
        Ok(())
    })
    .announce(|_| {});
    let client = connect_with(&base, handler).await.expect("signed in");
    client.ping().await.unwrap();
    let browser = browser.lock().unwrap().take().expect("the browser ran");
    tokio::task::spawn_blocking(move || browser.join())
        .await
        .unwrap()
        .expect("the browser's checks held");
    let pages = pages.lock().unwrap().clone();
    let statuses: Vec<u16> = pages.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [400, 400, 404, 200], "{pages:#?}");
    assert!(pages[0].1.contains("another state"), "{}", pages[0].1);
    assert!(
        pages[3].1.contains("You can close this tab"),
        "{}",
        pages[3].1
    );
    // The redirect URI had a port of its own, the same in the
    // authorization and token requests; the registration named none.
    let seen = seen.lock().unwrap();
    let authorize = seen
        .iter()
        .find(|s| s.target.starts_with("/authorize"))
        .unwrap();
    let authorize = reqwest::Url::parse(&format!("{base}{}", authorize.target)).unwrap();
    let redirect = redirect_of(&authorize);
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    assert_eq!(redirect.path(), "/callback");
    let port = redirect.port().unwrap();
    let token = seen.iter().find(|s| s.target == "/token").unwrap();
    assert!(
        token.body.contains(&url_encode(redirect.as_str())),
        "{}",
        token.body
    );
    // The listener is closed once the redirect came.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused_until_the_time_is_up() {
    let (base, _) = serve(Arc::new(protected)).await;
    let handler = LoopbackBrowser::new(|url| {
        let redirect = redirect_of(url);
        std::thread::spawn(move || {
            browser_get(&format!("{redirect}?code=forged&state=guessed"));
        });
        Ok(())
    })
    .announce(|_| {})
    .timeout(std::time::Duration::from_millis(500));
    let why = authorization_error(connect_with(&base, handler).await);
    assert!(why.contains("no redirect came"), "{why}");
    assert!(
        why.contains("1 other request was refused, the first: a redirect with another state"),
        "{why}"
    );
}

#[tokio::test]
async fn a_listener_flooded_with_foreign_requests_gives_up() {
    let (base, _) = serve(Arc::new(protected)).await;
    let handler = LoopbackBrowser::new(|url| {
        let redirect = redirect_of(url);
        std::thread::spawn(move || {
            for _ in 0..mcp_sdk_client::auth::MAX_REFUSED {
                browser_get(&format!("{redirect}?code=forged&state=guessed"));
            }
        });
        Ok(())
    })
    .announce(|_| {});
    let why = authorization_error(connect_with(&base, handler).await);
    assert!(
        why.contains("32 requests that were not the authorization's redirect"),
        "{why}"
    );
}

#[tokio::test]
async fn a_redirect_without_a_code_fails_the_sign_in() {
    let (base, _) = serve(Arc::new(protected)).await;
    let page = Arc::new(Mutex::new(String::new()));
    let kept = page.clone();
    let handler = LoopbackBrowser::new(move |url| {
        let redirect = redirect_of(url);
        let state = url
            .query_pairs()
            .find(|(n, _)| n == "state")
            .unwrap()
            .1
            .into_owned();
        let page = kept.clone();
        std::thread::spawn(move || {
            let (_, _, body) = browser_get(&format!("{redirect}?state={state}"));
            *page.lock().unwrap() = body;
        });
        Ok(())
    })
    .announce(|_| {});
    let why = authorization_error(connect_with(&base, handler).await);
    assert!(why.contains("has no code"), "{why}");
    // (The browser's page said so too, once the thread got it.)
    for _ in 0..100 {
        if !page.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(page.lock().unwrap().contains("no code"));
}

/// Everything logged at every level during an authorization and a
/// refresh: no token or secret shows.
#[test]
fn tokens_never_show_in_logs() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || Capture(writer.clone()))
        .finish();
    // The process-wide subscriber: a thread-local one misses events whose
    // callsites other tests' threads met first (tracing caches interest),
    // and the other tests' logs are checked along the way.
    tracing::subscriber::set_global_default(subscriber).expect("the only test that sets one");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (base, _) = serve(Arc::new(|request: &Seen, base: &str| {
            if let Some(answer) = authorization_server(request, base, &bearer_token) {
                return answer;
            }
            let message: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
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
        let client = connect(&base).await.unwrap();
        client.ping().await.unwrap();
    });
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logs.contains("authorizing"), "the flow logged: {logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
    assert!(!logs.contains("code-1"), "{logs}");
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A person who takes longer than a request's timeout to sign in: the
/// request waits for them (here the era probe, whose timeout is short).
#[tokio::test]
async fn a_slow_sign_in_does_not_time_the_request_out() {
    let (base, seen) = serve(Arc::new(protected)).await;
    let handler = LoopbackBrowser::new(|url| {
        let url = url.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(800));
            let (_, location, _) = browser_get(url.as_str());
            browser_get(&location.unwrap());
        });
        Ok(())
    })
    .announce(|_| {});
    let oauth = OAuth::builder(handler).build().unwrap();
    let transport = HttpTransport::builder(format!("{base}/mcp"))
        .oauth(oauth)
        .standalone_stream(false)
        .legacy_fallback(false)
        .build()
        .unwrap();
    Client::builder()
        .era(Era::Auto)
        .probe_timeout(std::time::Duration::from_millis(200))
        .timeout(std::time::Duration::from_millis(300))
        .connect(transport)
        .await
        .expect("connected after the slow sign-in");
    let seen = seen.lock().unwrap();
    let authorizations = seen
        .iter()
        .filter(|s| s.target.starts_with("/authorize"))
        .count();
    assert_eq!(authorizations, 1, "{seen:#?}");
}
