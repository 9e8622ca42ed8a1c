//! Our OAuth client against a real authorization server: oidc-provider
//! (tests/oidc/provider.mjs), a person signing in at its own pages in
//! headless Chromium (tests/browser/oidc_login.mjs), and a small protected
//! MCP endpoint here that takes only the provider's JWT access tokens for
//! it (ES256, checked against the provider's JWKS with p256).
//!
//! - the library: sign-in through `LoopbackBrowser`, a call, an expired
//!   access token refreshed without the person, a step-up when the server
//!   asks for more scope;
//! - the host as a child process: `client login` (its browser is the
//!   sign-in script, through `$BROWSER`), a call with the kept tokens,
//!   `client logout`, and `client --no-browser login` with the redirect
//!   pasted on its stdin;
//! - the web UI: its Sign in link, the redirect to its own `/callback`;
//! - the gateway: a protected downstream server reached with the
//!   gateway's client credentials, never the upstream caller's token.
//!
//! Skips, saying why, without Node, oidc-provider or Chromium;
//! `MCP_OIDC_TEST=required` (CI) makes that a failure.

mod support;

use mcp_sdk::Tool;
use mcp_sdk_client::auth::{LoopbackBrowser, MemoryTokenStore, OAuth, TokenStore};
use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{Client, Era};
use mcp_sdk_server::http::{serve_app, ExtraRoutes, HttpConfig, McpBody, StreamableHttpService};
use mcp_sdk_server::{NoArguments, Router};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::oidc::{self, verify_es256, Provider};
use support::{example, TempDir, PATIENCE};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;

/// What the protected endpoint saw and asks for.
struct Guard {
    issuer: String,
    resource: String,
    jwks: Mutex<Value>,
    /// The scopes a token must have.
    required: Mutex<Vec<String>>,
    /// The claims of the tokens it took.
    taken: Mutex<Vec<Value>>,
    /// The Authorization headers it was sent (to show what never came).
    headers: Mutex<Vec<String>>,
    expired: AtomicUsize,
}

impl Guard {
    fn unauthorized(&self, error: &str) -> http::Response<McpBody> {
        http::Response::builder()
            .status(401)
            .header(
                "www-authenticate",
                format!(
                    r#"Bearer error="{error}", resource_metadata="{}""#,
                    self.metadata_url()
                ),
            )
            .body(McpBody::full(""))
            .unwrap()
    }

    fn metadata_url(&self) -> String {
        let base = self.resource.trim_end_matches("/mcp");
        format!("{base}/.well-known/oauth-protected-resource/mcp")
    }

    /// `None` to let the request through to MCP, else the refusal.
    fn check(
        &self,
        request: &http::Request<hyper::body::Incoming>,
    ) -> Option<http::Response<McpBody>> {
        let path = request.uri().path();
        if path == "/.well-known/oauth-protected-resource/mcp" {
            let body = json!({
                "resource": self.resource,
                "authorization_servers": [self.issuer],
                "scopes_supported": ["mcp:read"],
            });
            return Some(
                http::Response::builder()
                    .header("content-type", "application/json")
                    .body(McpBody::full(body.to_string()))
                    .unwrap(),
            );
        }
        if path != "/mcp" {
            return None;
        }
        let header = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        self.headers.lock().unwrap().push(header.to_owned());
        let Some(token) = header.strip_prefix("Bearer ") else {
            return Some(self.unauthorized("invalid_request"));
        };
        let claims = match verify_es256(
            token,
            &self.jwks.lock().unwrap(),
            &self.issuer,
            &self.resource,
        ) {
            Ok(claims) => claims,
            Err(why) => {
                if why == "expired" {
                    self.expired.fetch_add(1, Ordering::SeqCst);
                }
                return Some(self.unauthorized("invalid_token"));
            }
        };
        let granted: Vec<&str> = claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .collect();
        let required = self.required.lock().unwrap().clone();
        if !required.iter().all(|s| granted.contains(&s.as_str())) {
            return Some(
                http::Response::builder()
                    .status(403)
                    .header(
                        "www-authenticate",
                        format!(
                            r#"Bearer error="insufficient_scope", scope="{}", resource_metadata="{}""#,
                            required.join(" "),
                            self.metadata_url()
                        ),
                    )
                    .body(McpBody::full(""))
                    .unwrap(),
            );
        }
        self.taken.lock().unwrap().push(claims);
        None
    }
}

/// A protected MCP server (a `whoami` tool) and its authorization server;
/// `configure` adds to the provider's config.
struct Protected {
    provider: Provider,
    guard: Arc<Guard>,
    url: String,
}

async fn protected(test: &str, configure: impl FnOnce(&mut Value)) -> Option<Protected> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let mut config = json!({
        "resources": [{ "uri": url, "scopes": ["mcp:read", "mcp:write"], "accessTokenTtl": 3600 }],
    });
    configure(&mut config);
    let provider = Provider::start(test, config).await?;
    let guard = Arc::new(Guard {
        issuer: provider.issuer().to_owned(),
        resource: url.clone(),
        jwks: Mutex::new(provider.jwks().await),
        required: Mutex::new(vec!["mcp:read".into()]),
        taken: Mutex::new(Vec::new()),
        headers: Mutex::new(Vec::new()),
        expired: AtomicUsize::new(0),
    });
    let router = Router::new().tool(
        Tool::named("whoami", "Says the call went through"),
        |_: NoArguments| async move { Ok::<_, mcp_sdk::Error>("you are signed in".to_owned()) },
    );
    let service = StreamableHttpService::new(router, HttpConfig::default());
    let check = guard.clone();
    let extra: ExtraRoutes = Arc::new(move |request| check.check(request));
    tokio::spawn(serve_app(
        listener,
        "/mcp",
        service,
        Some(extra),
        std::future::pending(),
    ));
    Some(Protected {
        provider,
        guard,
        url,
    })
}

/// Node and Chromium for a sign-in in the browser, or `None` (skipped).
fn browser(test: &str) -> Option<(PathBuf, PathBuf)> {
    let chromium = oidc::available(test, oidc::chromium())?;
    let node = oidc::available(test, oidc::node())?;
    Some((node, chromium))
}

/// A `LoopbackBrowser` whose "system browser" is the sign-in script as
/// `user`; counts the sign-ins and keeps what the script said.
fn scripted_browser(
    node: &Path,
    chromium: &Path,
    user: &'static str,
) -> (LoopbackBrowser, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let count = Arc::new(AtomicUsize::new(0));
    let said = Arc::new(Mutex::new(Vec::new()));
    let (node, chromium) = (node.to_owned(), chromium.to_owned());
    let (counted, kept) = (count.clone(), said.clone());
    let handler = LoopbackBrowser::new(move |url| {
        counted.fetch_add(1, Ordering::SeqCst);
        let mut command = std::process::Command::new(&node);
        command
            .arg(oidc::login_script())
            .arg(url.as_str())
            .arg(user)
            .env("CHROMIUM", &chromium);
        let kept = kept.clone();
        std::thread::spawn(move || {
            let said = match command.output() {
                Ok(out) => format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => format!("node did not run: {e}"),
            };
            kept.lock().unwrap().push(said);
        });
        Ok(())
    })
    .announce(|_| {})
    .timeout(PATIENCE);
    (handler, count, said)
}

#[tokio::test]
async fn signs_in_refreshes_an_expired_token_and_steps_up() {
    let test = "signs_in_refreshes_an_expired_token_and_steps_up";
    let Some((node, chromium)) = browser(test) else {
        return;
    };
    let Some(server) = protected(test, |_| {}).await else {
        return;
    };
    // The first access token lives 2 s, so that it expires in the test.
    server.provider.set_access_token_ttl(&server.url, 2).await;
    let (handler, sign_ins, said) = scripted_browser(&node, &chromium, "alice");
    let store = Arc::new(MemoryTokenStore::new());
    let oauth = OAuth::builder(handler)
        .client_name("oauth-client-test")
        .store(store.clone())
        .build()
        .unwrap();
    let transport = HttpTransport::builder(&server.url)
        .oauth(oauth)
        .build()
        .unwrap();
    let client = tokio::time::timeout(
        PATIENCE,
        Client::builder().era(Era::SessionOnly).connect(transport),
    )
    .await
    .expect("signed in and connected in time")
    .unwrap_or_else(|e| panic!("{e}\nthe browser said: {:?}", said.lock().unwrap()));
    assert_eq!(sign_ins.load(Ordering::SeqCst), 1);
    for _ in 0..100 {
        if !said.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = said.lock().unwrap().join("\n");
    assert!(page.contains("You can close this tab"), "{page}");
    let result = client.call_tool("whoami", json!({})).await.unwrap();
    assert!(!result.is_error());
    let first = store.tokens(&server.url).unwrap().expect("tokens kept");
    assert_eq!(first.issuer, server.provider.issuer());
    assert!(
        first.refresh_token.is_some(),
        "offline_access gave a refresh token"
    );
    let taken = server.guard.taken.lock().unwrap().last().cloned().unwrap();
    assert_eq!(taken["sub"], "alice");
    assert_eq!(taken["scope"], "mcp:read");

    // The access token expires; the refresh token gets another (of an
    // hour now) without the person.
    server
        .provider
        .set_access_token_ttl(&server.url, 3600)
        .await;
    let expires = store
        .tokens(&server.url)
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    if let Ok(left) = expires.duration_since(SystemTime::now()) {
        tokio::time::sleep(left + Duration::from_millis(1100)).await;
    }
    client.call_tool("whoami", json!({})).await.unwrap();
    assert!(server.guard.expired.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        sign_ins.load(Ordering::SeqCst),
        1,
        "refreshed, not signed in again"
    );
    let refreshed = store.tokens(&server.url).unwrap().unwrap();
    assert_ne!(refreshed.access_token, first.access_token);
    assert_ne!(refreshed.refresh_token, first.refresh_token, "rotated");

    // The server now wants mcp:write: a step-up sign-in asks for both.
    server
        .guard
        .required
        .lock()
        .unwrap()
        .push("mcp:write".into());
    client
        .call_tool("whoami", json!({}))
        .await
        .unwrap_or_else(|e| panic!("{e}\nthe browser said: {:?}", said.lock().unwrap()));
    assert_eq!(sign_ins.load(Ordering::SeqCst), 2);
    let taken = server.guard.taken.lock().unwrap().last().cloned().unwrap();
    let scopes: Vec<&str> = taken["scope"].as_str().unwrap().split(' ').collect();
    assert!(
        scopes.contains(&"mcp:read") && scopes.contains(&"mcp:write"),
        "{scopes:?}"
    );
    client.close().await;
}

/// The host's `client`, with its configuration directory in `config`.
fn client_command(config: &Path) -> Command {
    let mut command = Command::new(example("client"));
    command
        .env("XDG_CONFIG_HOME", config)
        .env_remove("LLM_API_URL")
        .env_remove("LLM_PROVIDER")
        .env_remove("ANTHROPIC_API_KEY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn output(mut command: Command) -> (bool, String, String) {
    let out = tokio::time::timeout(PATIENCE, command.output())
        .await
        .expect("the client ends in time")
        .expect("the client runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `$BROWSER` for the host: a script that signs in with the sign-in
/// script, logging to `log`.
fn browser_script(dir: &TempDir, node: &Path, chromium: &Path) -> (PathBuf, PathBuf) {
    let log = dir.0.join("browser.log");
    let script = dir.write(
        "browser.sh",
        format!(
            "#!/bin/sh\nCHROMIUM='{}' exec '{}' '{}' \"$1\" bob >> '{}' 2>&1\n",
            chromium.display(),
            node.display(),
            oidc::login_script().display(),
            log.display()
        )
        .as_bytes(),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script, log)
}

#[tokio::test]
async fn the_hosts_login_keeps_tokens_for_later_commands_and_logout_forgets_them() {
    let test = "the_hosts_login";
    let Some((node, chromium)) = browser(test) else {
        return;
    };
    let Some(server) = protected(test, |_| {}).await else {
        return;
    };
    let dir = TempDir::new("oauth-host");
    let (script, log) = browser_script(&dir, &node, &chromium);
    let store = dir.0.join("mcp-reference").join("tokens.json");

    let mut login = client_command(&dir.0);
    login.args(["login", &server.url]).env("BROWSER", &script);
    let (ok, stdout, stderr) = output(login).await;
    let browser_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(ok, "{stdout}\n{stderr}\nthe browser: {browser_log}");
    assert!(
        stdout.contains(&format!(
            "Signed in to {} at {}",
            server.url,
            server.provider.issuer()
        )),
        "{stdout}"
    );
    assert!(stdout.contains(&store.display().to_string()), "{stdout}");
    // The browser (run in the background by the client) says what its
    // page showed once it gets to it.
    let mut browser_log = browser_log;
    for _ in 0..200 {
        if browser_log.contains("redirected to the client") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        browser_log = std::fs::read_to_string(&log).unwrap_or_default();
    }
    assert!(
        browser_log.contains("You can close this tab"),
        "{browser_log}"
    );
    let kept = std::fs::read_to_string(&store).unwrap();
    assert!(kept.contains(&server.url));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // A later command uses the kept tokens: no browser (one that fails).
    let mut call = client_command(&dir.0);
    call.args(["--url", &server.url, "call", "whoami"])
        .env("BROWSER", "/bin/false");
    let (ok, stdout, stderr) = output(call).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("you are signed in"), "{stdout}");
    assert_eq!(
        server.guard.taken.lock().unwrap().last().unwrap()["sub"],
        "bob"
    );
    // Tokens never show in what the client prints.
    let token = kept
        .split("\"access_token\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(!stderr.contains(token) && !stdout.contains(token));

    // Logging in again says so; logout forgets.
    let mut again = client_command(&dir.0);
    again
        .args(["login", &server.url])
        .env("BROWSER", "/bin/false");
    let (ok, stdout, _) = output(again).await;
    assert!(ok && stdout.contains("Already signed in"), "{stdout}");
    let mut logout = client_command(&dir.0);
    logout.args(["logout", &server.url]);
    let (ok, stdout, _) = output(logout).await;
    assert!(
        ok && stdout.contains("its tokens are forgotten"),
        "{stdout}"
    );
    assert!(!std::fs::read_to_string(&store)
        .unwrap()
        .contains(&server.url));
    let mut logout = client_command(&dir.0);
    logout.args(["logout", &server.url]);
    let (_, stdout, _) = output(logout).await;
    assert!(stdout.contains("No tokens were kept"), "{stdout}");
}

#[tokio::test]
async fn the_hosts_login_without_a_browser_takes_the_pasted_redirect() {
    let test = "the_hosts_login_without_a_browser";
    let Some((node, chromium)) = browser(test) else {
        return;
    };
    let Some(server) = protected(test, |_| {}).await else {
        return;
    };
    let dir = TempDir::new("oauth-paste");
    let mut login = client_command(&dir.0);
    login
        .args(["--no-browser", "login", &server.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // The address to open is printed on the line after "Open this address".
    let url = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let line = line.trim();
            if line.starts_with("http://") && line.contains("/auth?") {
                return line.to_owned();
            }
        }
        panic!("the client printed no address to open");
    })
    .await
    .expect("the address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let said = oidc::browser_login_with(&node, &chromium, &url, "carol", &["--capture"])
        .await
        .unwrap_or_else(|e| panic!("the sign-in failed: {e}"));
    let redirect = said
        .lines()
        .find_map(|l| l.strip_prefix("redirect: "))
        .expect("the redirect was captured");
    assert!(
        redirect.starts_with("http://127.0.0.1/callback?"),
        "{redirect}"
    );
    stdin
        .write_all(format!("{redirect}\n").as_bytes())
        .await
        .unwrap();
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the login ends in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Signed in to"), "{stdout}");
    assert_eq!(
        server.guard.taken.lock().unwrap().last().unwrap()["sub"],
        "carol"
    );
}

#[tokio::test]
async fn a_pasted_redirect_with_another_state_is_refused() {
    let test = "a_pasted_redirect_with_another_state";
    if oidc::available(test, oidc::node()).is_none() {
        return;
    }
    let Some(server) = protected(test, |_| {}).await else {
        return;
    };
    let dir = TempDir::new("oauth-paste-bad");
    let mut login = client_command(&dir.0);
    login
        .args(["--no-browser", "login", &server.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // From the right issuer, as far as it says, but not this sign-in's.
    let forged = format!(
        "http://127.0.0.1/callback?code=forged&state=forged&iss={}\n",
        server
            .provider
            .issuer()
            .replace(':', "%3A")
            .replace('/', "%2F")
    );
    stdin.write_all(forged.as_bytes()).await.unwrap();
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the login ends in time")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("another state than the request"),
        "{stderr}"
    );
}

/// `GET url` with this `Host`: the status and the body.
async fn get(url: &str, host: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_web_ui_signs_in_through_its_own_callback() {
    let test = "the_web_ui_signs_in";
    let Some((node, chromium)) = browser(test) else {
        return;
    };
    let Some(server) = protected(test, |_| {}).await else {
        return;
    };
    let dir = TempDir::new("oauth-web");
    let mut web = client_command(&dir.0);
    web.args(["--url", &server.url, "web", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = web.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ui = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(i) = line.find("http://") {
                return line[i..].trim_end_matches('/').to_owned();
            }
        }
        panic!("the web UI printed no address");
    })
    .await
    .expect("the address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let state = |ui: String| async move {
        let (_, body) = get(&format!("{ui}/api/state"), None).await;
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let mut sign_in = None;
    for _ in 0..200 {
        if let Some(url) = state(ui.clone()).await["signIn"]["url"].as_str() {
            sign_in = Some(url.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sign_in = sign_in.expect("the page offers a sign-in");
    let port = ui.rsplit(':').next().unwrap();
    assert!(
        sign_in.contains(&format!(
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback"
        )),
        "{sign_in}"
    );
    // A callback with another state, or for another Host, is refused.
    let (status, body) = get(&format!("{ui}/callback?code=x&state=forged"), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not the sign-in's in progress"), "{body}");
    let (status, _) = get(
        &format!("{ui}/callback?code=x&state=forged"),
        Some("evil.example"),
    )
    .await;
    assert_eq!(status, 403);

    let said = oidc::browser_login(&node, &chromium, &sign_in, "dave", false)
        .await
        .unwrap_or_else(|e| panic!("the sign-in failed: {e}"));
    assert!(said.contains("Signed in. You can close this tab"), "{said}");
    let mut status = String::new();
    for _ in 0..200 {
        let now = state(ui.clone()).await;
        status = now["connection"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status == "connected" {
            assert!(now["signIn"].is_null());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "connected");
    assert_eq!(
        server.guard.taken.lock().unwrap().last().unwrap()["sub"],
        "dave"
    );
    let _ = child.start_kill();
}

#[tokio::test]
async fn the_gateway_reaches_a_protected_server_with_its_own_client_credentials() {
    let test = "the_gateway_reaches_a_protected_server";
    let Some(server) = protected(test, |config| {
        config["clients"] = json!([{
            "client_id": "gateway",
            "client_secret": "gateway-secret",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
            "response_types": [],
        }]);
    })
    .await
    else {
        return;
    };
    let dir = TempDir::new("oauth-gateway");
    let config = dir.write(
        "gateway.toml",
        format!(
            "[[server]]\nname = \"locked\"\nurl = \"{}\"\nauth = {{ grant = \"client_credentials\", client_id = \"gateway\", client_secret_env = \"LOCKED_SECRET\" }}\n",
            server.url
        )
        .as_bytes(),
    );
    let mut gateway = Command::new(example("session_manager"));
    gateway
        .args([
            "--config",
            config.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ])
        .env("LOCKED_SECRET", "gateway-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = gateway.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(i) = line.find("http://") {
                return line[i..].split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("the gateway printed no address");
    })
    .await
    .expect("the address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // The upstream caller sends a token of its own: it must not travel.
    let client = support::client_with_authorization(&url, "Bearer upstream-SECRET").await;
    let result = client.call_tool("locked__whoami", json!({})).await.unwrap();
    assert!(!result.is_error(), "{result:?}");
    let taken = server.guard.taken.lock().unwrap().last().cloned().unwrap();
    assert_eq!(taken["client_id"], "gateway");
    assert_eq!(taken["sub"], "gateway");
    let headers = server.guard.headers.lock().unwrap().clone();
    assert!(
        headers.iter().all(|h| !h.contains("upstream-SECRET")),
        "{headers:?}"
    );
    client.close().await;
    let _ = child.start_kill();
}

/// The web UI in front of a gateway protected with `--auth-issuer`, whose
/// server behind is protected too: the page offers the sign-in (for the
/// gateway's resource), a person signs in at the provider's pages in
/// Chromium and comes back to the UI's `/callback`, and a tool of the
/// server behind is called through the gateway from the UI, the server
/// seeing the gateway's own token and never the person's.
#[tokio::test]
async fn the_web_ui_signs_in_at_a_protected_gateway_and_calls_through_it() {
    let test = "the_web_ui_at_a_protected_gateway";
    let Some((node, chromium)) = browser(test) else {
        return;
    };
    let gateway_port = support::free_port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}/mcp");
    let Some(server) = protected(test, |config| {
        config["resources"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "uri": gateway_url, "scopes": ["mcp:read"], "accessTokenTtl": 3600 }));
        config["clients"] = json!([{
            "client_id": "gateway",
            "client_secret": "gateway-secret",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
            "response_types": [],
        }]);
    })
    .await
    else {
        return;
    };
    let dir = TempDir::new("oauth-web-gateway");
    let config = dir.write(
        "gateway.toml",
        format!(
            "[[server]]\nname = \"locked\"\nurl = \"{}\"\nauth = {{ grant = \"client_credentials\", client_id = \"gateway\", client_secret_env = \"LOCKED_SECRET\" }}\n",
            server.url
        )
        .as_bytes(),
    );
    let mut gateway = Command::new(example("session_manager"));
    gateway
        .args(["--config", config.to_str().unwrap(), "--http"])
        .arg(format!("127.0.0.1:{gateway_port}"))
        .args([
            "--auth-issuer",
            server.provider.issuer(),
            "--auth-audience",
            &gateway_url,
            "--auth-scopes",
            "mcp:read",
        ])
        .env("LOCKED_SECRET", "gateway-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut gateway = gateway.spawn().unwrap();
    let mut lines = BufReader::new(gateway.stderr.take().unwrap()).lines();
    tokio::time::timeout(PATIENCE, async {
        let mut printed = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("http://") {
                return;
            }
            printed.push(line);
        }
        panic!("the gateway printed no address: {printed:#?}");
    })
    .await
    .expect("the gateway serves in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let mut web = client_command(&dir.0);
    web.args(["--url", &gateway_url, "web", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = web.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ui = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(i) = line.find("http://") {
                return line[i..].trim_end_matches('/').to_owned();
            }
        }
        panic!("the web UI printed no address");
    })
    .await
    .expect("the address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let state = |ui: String| async move {
        let (_, body) = get(&format!("{ui}/api/state"), None).await;
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let mut sign_in = None;
    for _ in 0..200 {
        if let Some(url) = state(ui.clone()).await["signIn"]["url"].as_str() {
            sign_in = Some(url.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sign_in = sign_in.expect("the page offers a sign-in");
    // The sign-in is for the gateway's resource, not the server behind.
    let resource: String = reqwest::Url::parse(&sign_in)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v.into_owned())
        .expect("a resource parameter");
    assert_eq!(resource, gateway_url, "{sign_in}");

    let said = oidc::browser_login(&node, &chromium, &sign_in, "dave", false)
        .await
        .unwrap_or_else(|e| panic!("the sign-in failed: {e}"));
    assert!(said.contains("Signed in. You can close this tab"), "{said}");
    let mut status = String::new();
    for _ in 0..200 {
        let now = state(ui.clone()).await;
        status = now["connection"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "connected");

    let response = reqwest::Client::new()
        .post(format!("{ui}/api/tools/call"))
        .header("content-type", "application/json")
        .body(json!({ "name": "locked__whoami", "arguments": {} }).to_string())
        .send()
        .await
        .unwrap();
    let code = response.status();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(code.is_success(), "{code} {body}");
    assert_eq!(
        body["result"]["content"][0]["text"], "you are signed in",
        "{body}"
    );
    // The server behind saw the gateway's token, not dave's.
    let taken = server.guard.taken.lock().unwrap().last().cloned().unwrap();
    assert_eq!(taken["client_id"], "gateway", "{taken}");
    assert_eq!(taken["sub"], "gateway", "{taken}");
    let _ = child.start_kill();
    let _ = gateway.start_kill();
}

/// A token store others can read, or one that is not a token store, is
/// refused (and left as it is), saying which file and why.
#[tokio::test]
async fn the_host_refuses_a_token_store_that_is_readable_by_others_or_corrupt() {
    let dir = TempDir::new("oauth-store");
    let store = dir.write("mcp-reference/tokens.json", b"{\"tokens\": {}}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut logout = client_command(&dir.0);
        logout.args(["logout", "http://127.0.0.1:1/mcp"]);
        let (ok, _, stderr) = output(logout).await;
        assert!(!ok);
        assert!(
            stderr.contains("can be read or written by others (mode 644); refused"),
            "{stderr}"
        );
        assert!(stderr.contains(&store.display().to_string()), "{stderr}");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(&store, b"{ not json").unwrap();
    let mut logout = client_command(&dir.0);
    logout.args(["logout", "http://127.0.0.1:1/mcp"]);
    let (ok, _, stderr) = output(logout).await;
    assert!(!ok);
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert_eq!(std::fs::read(&store).unwrap(), b"{ not json");
}
