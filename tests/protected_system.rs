//! The reference system protected, against a real authorization server
//! (oidc-provider, tests/oidc/provider.mjs):
//!
//! - the gateway as an auth boundary: it checks the upstream caller's
//!   token itself (`[auth]` in its config file), reaches a protected
//!   server with its own client credentials, and the server, which
//!   records every `Authorization` header it gets, never sees the
//!   caller's token;
//! - a downstream tool's scope the caller lacks is the gateway's own 403
//!   step-up challenge naming it; a caller who has it gets through; a
//!   scope the tool's `_meta` does not name is learnt from the server's
//!   403 (the call refused naming it, the next one the gateway's 403);
//! - a downstream 401 without a challenge is a clear error, its body and
//!   no token in it;
//! - `reference_system --auth-issuer`: the whole system behind a
//!   protected gateway, a tool called with a token;
//! - the official Python SDK's client (`mcp` on PyPI, `$MCP_PYTHON`)
//!   signs in with its OAuth provider (a person at the provider's pages in
//!   Chromium) and calls a tool of a protected server of ours.
//!
//! Skips, saying why, without Node, oidc-provider, Chromium or Python;
//! `MCP_OIDC_TEST=required` (CI) makes that a failure.

mod support;

use mcp_sdk::Tool;
use mcp_sdk_server::auth::{JwtVerifier, ResourceServer};
use mcp_sdk_server::http::{serve_app, ExtraRoutes, HttpConfig, StreamableHttpService};
use mcp_sdk_server::router::Route;
use mcp_sdk_server::{NoArguments, RequestContext, Router};
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::oidc::{self, verify_es256, Provider};
use support::{example, free_port, TempDir, PATIENCE};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// A client registered for the client credentials grant; its secret is
/// `<id>-secret`.
fn machine_client(id: &str) -> Value {
    json!({
        "client_id": id, "client_secret": format!("{id}-secret"),
        "grant_types": ["client_credentials"], "redirect_uris": [], "response_types": [],
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

/// A protected MCP server of the SDK's (`whoami` says who called,
/// `write` needs `mcp:write`) that records the `Authorization` header of
/// every request it gets, before anything checks it.
struct Downstream {
    headers: Arc<Mutex<Vec<String>>>,
}

async fn downstream(listener: TcpListener, issuer: &str) -> Downstream {
    downstream_listing(listener, issuer, Listing::ScopesInMeta).await
}

/// Whether a downstream server's `tools/list` says which scopes a tool
/// needs.
#[derive(PartialEq)]
enum Listing {
    ScopesInMeta,
    /// No `_meta`: a call without the scope learns it from the 403.
    ScopesUnsaid,
}

/// A [`Router`] whose `tools/list` leaves out every `_meta` (so its
/// tools' scopes are not said), while its HTTP layer still asks for them
/// (`find_tool` keeps them).
struct Unsaid(Router);

#[mcp_sdk_server::async_trait]
impl mcp_sdk_server::Server for Unsaid {
    fn info(&self) -> mcp_sdk::Implementation {
        self.0.info()
    }
    fn capabilities(&self) -> mcp_sdk::ServerCapabilities {
        self.0.capabilities()
    }
    fn find_tool(&self, name: &str) -> Option<Tool> {
        self.0.find_tool(name)
    }
    async fn list_tools(
        &self,
        params: mcp_sdk::ListToolsParams,
        ctx: RequestContext,
    ) -> Result<mcp_sdk::ListToolsResult, mcp_sdk::Error> {
        let mut listed = self.0.list_tools(params, ctx).await?;
        for tool in &mut listed.tools {
            tool.meta = None;
        }
        Ok(listed)
    }
    async fn call_tool(
        &self,
        params: mcp_sdk::CallToolParams,
        ctx: RequestContext,
    ) -> Result<mcp_sdk::CallToolResult, mcp_sdk::Error> {
        self.0.call_tool(params, ctx).await
    }
}

async fn downstream_listing(listener: TcpListener, issuer: &str, listing: Listing) -> Downstream {
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let router = Router::new()
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
        );
    let verifier = JwtVerifier::new(issuer, &url);
    let auth = ResourceServer::new(&url, verifier)
        .unwrap()
        .authorization_server(issuer)
        .scopes_supported(["mcp:read", "mcp:write"])
        .require_scopes(["mcp:read"]);
    let config = HttpConfig {
        auth: Some(Arc::new(auth)),
        ..HttpConfig::default()
    };
    let service = match listing {
        Listing::ScopesInMeta => StreamableHttpService::new(router, config),
        Listing::ScopesUnsaid => StreamableHttpService::new(Unsaid(router), config),
    };
    let headers = Arc::new(Mutex::new(Vec::new()));
    let seen = headers.clone();
    let record: ExtraRoutes = Arc::new(move |request| {
        let header = request
            .headers()
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        seen.lock().unwrap().push(header.unwrap_or_default());
        None
    });
    tokio::spawn(serve_app(
        listener,
        "/mcp",
        service,
        Some(record),
        std::future::pending(),
    ));
    Downstream { headers }
}

/// Runs the example `name` with `args` and `env`, and waits for the line
/// Starts the session manager on `gateway_port`, taking `issuer`'s tokens
/// for its own URL, in front of the server "locked" at `down_url`, which it
/// reaches with its own credentials: `grant` opens that server's `auth`
/// table (the client id and secret follow).
async fn protected_gateway(
    dir: &TempDir,
    issuer: &str,
    gateway_port: u16,
    down_url: &str,
    grant: &str,
) -> Child {
    let gateway_url = format!("http://127.0.0.1:{gateway_port}/mcp");
    let config = dir.write(
        "gateway.toml",
        format!(
            r#"
[auth]
issuer = "{issuer}"
audience = "{gateway_url}"
scopes = ["mcp:read"]

[[server]]
name = "locked"
url = "{down_url}"
auth = {{ {grant}, client_id = "gateway", client_secret_env = "LOCKED_SECRET" }}
"#
        )
        .as_bytes(),
    );
    let addr = format!("127.0.0.1:{gateway_port}");
    serving(
        "session_manager",
        &["--config", config.to_str().unwrap(), "--http", &addr],
        &[("LOCKED_SECRET", "gateway-secret")],
    )
    .await
}

/// on stderr that starts serving; its stderr is drained from then on.
async fn serving(name: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut child = Command::new(example(name))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("serving MCP at") {
                return;
            }
        }
        panic!("{name} exited without serving");
    })
    .await
    .expect("the example serves in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// Status, `WWW-Authenticate` and body of a JSON-RPC request POSTed to
/// `url` with `token`, in `session` if given; and the session id the
/// answer names.
async fn post(
    url: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: Value,
) -> (u16, String, String, Option<String>) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(id) = session {
        request = request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let www = header("www-authenticate").unwrap_or_default();
    let session = header("mcp-session-id");
    (status, www, response.text().await.unwrap(), session)
}

/// A session at `url` opened with `token`; its id.
async fn session(url: &str, token: &str) -> String {
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let (status, _, body, session) = post(url, Some(token), None, initialize).await;
    assert_eq!(status, 200, "{body}");
    let session = session.expect("a session id");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _, body, _) = post(url, Some(token), Some(&session), initialized).await;
    assert_eq!(status, 202, "{body}");
    session
}

fn call(name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": name, "arguments": {}}})
}

/// The text of the first content block of a tool result.
fn text(result: &mcp_sdk::CallToolResult) -> String {
    serde_json::to_value(&result.content[0]).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The gateway checks the caller's token itself and reaches the
/// protected server with its own client credentials: the server never
/// sees the caller's token; a scope the server's tool needs is asked of
/// the caller as the gateway's own step-up.
#[tokio::test]
async fn the_gateway_is_an_auth_boundary() {
    let test = "the_gateway_is_an_auth_boundary";
    let down_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_url = format!("http://{}/mcp", down_listener.local_addr().unwrap());
    let gateway_port = free_port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}/mcp");
    let scopes = ["mcp:read", "mcp:write"];
    let config = json!({
        "resources": [
            { "uri": down_url, "scopes": scopes },
            { "uri": gateway_url, "scopes": scopes },
        ],
        "clients": [machine_client("gateway"), machine_client("alice"), machine_client("bob")],
    });
    let Some(provider) = Provider::start(test, config).await else {
        return;
    };
    let issuer = provider.issuer().to_owned();
    let server = downstream(down_listener, &issuer).await;
    let dir = TempDir::new("gateway-auth");
    let _gateway = protected_gateway(
        &dir,
        &issuer,
        gateway_port,
        &down_url,
        r#"grant = "client_credentials""#,
    )
    .await;

    // No token: the gateway's own challenge, naming its own metadata.
    let (status, www, _, _) = post(&gateway_url, None, None, call("locked__whoami")).await;
    assert_eq!(status, 401);
    assert!(
        www.contains(&format!(
            "http://127.0.0.1:{gateway_port}/.well-known/oauth-protected-resource/mcp"
        )),
        "{www}"
    );
    // A token for the server behind the gateway is not one for the gateway.
    let for_downstream = token(&provider, "alice", &down_url, "mcp:read").await;
    let (status, www, body, _) = post(
        &gateway_url,
        Some(&for_downstream),
        None,
        call("locked__whoami"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(www.contains("invalid_token"), "{www}");
    assert!(!body.contains(&for_downstream) && !www.contains(&for_downstream));

    // Alice's token for the gateway: the call goes through, and the
    // server behind sees the gateway, not Alice.
    let alice = token(&provider, "alice", &gateway_url, "mcp:read").await;
    let client = support::client_with_authorization(&gateway_url, &format!("Bearer {alice}")).await;
    let result = client.call_tool("locked__whoami", json!({})).await.unwrap();
    assert!(!result.is_error(), "{result:?}");
    assert_eq!(text(&result), "gateway");
    let jwks = provider.jwks().await;
    let headers = server.headers.lock().unwrap().clone();
    assert!(!headers.is_empty());
    for header in &headers {
        assert!(
            !header.contains(&alice),
            "the caller's token went downstream"
        );
        assert!(!header.contains(&for_downstream));
        // The first request of all may carry no token (it asks for the
        // challenge); every token sent is the gateway's own.
        let Some(sent) = header.strip_prefix("Bearer ") else {
            assert_eq!(header, "", "{headers:?}");
            continue;
        };
        let claims = verify_es256(sent, &jwks, &issuer, &down_url).unwrap();
        assert_eq!(claims["client_id"], "gateway", "{claims}");
        assert_eq!(claims["sub"], "gateway", "{claims}");
    }

    // `write` needs mcp:write downstream, which Alice was not granted:
    // the gateway's own 403 step-up challenge names it, before anything
    // reaches the server.
    let id = session(&gateway_url, &alice).await;
    let before = server.headers.lock().unwrap().len();
    let (status, www, body, _) =
        post(&gateway_url, Some(&alice), Some(&id), call("locked__write")).await;
    assert_eq!(status, 403, "{body}");
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(www.contains("mcp:write"), "{www}");
    assert!(
        www.contains(&format!(
            "127.0.0.1:{gateway_port}/.well-known/oauth-protected-resource"
        )),
        "{www}"
    );
    assert_eq!(server.headers.lock().unwrap().len(), before);
    let refused = client.call_tool("locked__write", json!({})).await;
    assert!(refused.is_err(), "{refused:?}");
    client.close().await;

    // Bob was granted it: through the gateway, whose credentials step up
    // to it at the server (the token it sends names the scope).
    let bob = token(&provider, "bob", &gateway_url, "mcp:read mcp:write").await;
    let client = support::client_with_authorization(&gateway_url, &format!("Bearer {bob}")).await;
    let result = client.call_tool("locked__write", json!({})).await.unwrap();
    assert!(!result.is_error(), "{result:?}");
    assert_eq!(text(&result), "written");
    let last = server.headers.lock().unwrap().last().cloned().unwrap();
    assert!(!last.contains(&bob));
    let claims = verify_es256(
        last.strip_prefix("Bearer ").unwrap(),
        &jwks,
        &issuer,
        &down_url,
    )
    .unwrap();
    assert_eq!(claims["client_id"], "gateway");
    assert!(
        claims["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "mcp:write"),
        "{claims}"
    );
    client.close().await;
}

/// A server that answers every request 401 with no `WWW-Authenticate`,
/// and a body that must not travel.
async fn refusing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
                let body = "DOWNSTREAM-BODY token=Bearer abc.def";
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

/// A 401 without a challenge from a server behind the gateway: a clear
/// error naming the server, in time, without the server's body.
#[tokio::test]
async fn a_downstream_401_without_a_challenge_is_a_clear_error() {
    let refusing = refusing_server().await;
    let dir = TempDir::new("gateway-401");
    let config = dir.write(
        "gateway.toml",
        format!("connect_timeout_secs = 5\n[[server]]\nname = \"closed\"\nurl = \"{refusing}\"\n")
            .as_bytes(),
    );
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _gateway = serving(
        "session_manager",
        &["--config", config.to_str().unwrap(), "--http", &addr],
        &[],
    )
    .await;
    let url = format!("http://{addr}/mcp");
    let client = support::http_client(&url, ()).await;
    let error = tokio::time::timeout(PATIENCE, client.call_tool("closed__anything", json!({})))
        .await
        .expect("an answer in time")
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"closed\""), "{error}");
    assert!(error.contains("HTTP 401"), "{error}");
    assert!(!error.contains("DOWNSTREAM-BODY"), "{error}");
    assert!(!error.contains("abc.def"), "{error}");
    let health = support::health(&format!("http://{addr}")).await;
    let state = health["downstream"][0].to_string();
    assert!(state.contains("HTTP 401"), "{state}");
    assert!(!state.contains("DOWNSTREAM-BODY"), "{state}");
    client.close().await;
}

/// `reference_system --auth-issuer`: the gateway in front of the seven
/// servers takes only the provider's tokens; a call with one goes through.
#[tokio::test]
async fn the_reference_system_protected_by_auth_issuer() {
    let test = "the_reference_system_protected_by_auth_issuer";
    // The gateway's port is the system's to choose: its tokens name a
    // resource URI of their own (--auth-audience).
    let audience = "http://gateway.reference.test/mcp";
    let config = json!({
        "resources": [{ "uri": audience, "scopes": ["mcp:read"] }],
        "clients": [machine_client("alice")],
    });
    let Some(provider) = Provider::start(test, config).await else {
        return;
    };
    let data = TempDir::new("protected-system");
    let mut system = Command::new(example("reference_system"))
        .args([
            "--ports",
            "auto",
            "--quiet",
            "--no-client-app",
            "--data-dir",
        ])
        .arg(&data.0)
        .args([
            "--auth-issuer",
            provider.issuer(),
            "--auth-audience",
            audience,
            "--auth-scopes",
            "mcp:read",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut errors = BufReader::new(system.stderr.take().unwrap()).lines();
    let said = Arc::new(Mutex::new(Vec::new()));
    let kept = said.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = errors.next_line().await {
            kept.lock().unwrap().push(line);
        }
    });
    let mut lines = BufReader::new(system.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("reference_system ready: ") {
                return url.to_owned();
            }
        }
        panic!(
            "reference_system ended before it was ready:\n{}",
            said.lock().unwrap().join("\n")
        );
    })
    .await
    .expect("the system ready in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let (status, www, _, _) = post(&url, None, None, call("tools__add")).await;
    assert_eq!(status, 401);
    assert!(www.contains("resource_metadata="), "{www}");
    let metadata = reqwest::get(url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["resource"], audience);
    assert_eq!(
        metadata["authorization_servers"],
        json!([provider.issuer()])
    );

    let alice = token(&provider, "alice", audience, "mcp:read").await;
    let client = support::client_with_authorization(&url, &format!("Bearer {alice}")).await;
    let result = client
        .call_tool("tools__add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert!(!result.is_error(), "{result:?}");
    assert_eq!(result.structured_content, Some(json!({"result": 5})));
    client.close().await;
    // SIGTERM: the system stops its children itself.
    let pid = system.id().unwrap().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = tokio::time::timeout(PATIENCE, system.wait()).await;
}

/// The official Python SDK's client, with its OAuth provider, signs in to
/// a protected server of ours (discovery, registration, PKCE, a person at
/// the provider's pages) and calls a tool.
#[tokio::test]
async fn the_python_sdk_client_signs_in_with_oauth_and_calls_a_tool() {
    let test = "the_python_sdk_client_signs_in_with_oauth_and_calls_a_tool";
    let python = match std::env::var("MCP_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => {
            oidc::available::<()>(
                test,
                Err("MCP_PYTHON is not set (run .ci/python-tools)".into()),
            );
            return;
        }
    };
    let Some(chromium) = oidc::available(test, oidc::chromium()) else {
        return;
    };
    let Some(node) = oidc::available(test, oidc::node()) else {
        return;
    };
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let config = json!({
        "resources": [{ "uri": url, "scopes": ["mcp:read"] }],
        // The Python client registers with the scope the server's
        // challenge names.
        "extraScopes": ["mcp:read"],
    });
    let Some(provider) = Provider::start(test, config).await else {
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    let _server = serving(
        "tools_server",
        &[
            "--http",
            &addr,
            "--auth-issuer",
            provider.issuer(),
            "--auth-scopes",
            "mcp:read",
        ],
        &[],
    )
    .await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/oauth_call.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .args([url.as_str(), "add", r#"{"a": 2, "b": 3}"#])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let complaints = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        let mut result = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(authorize) = line.strip_prefix("authorize: ") {
                let said =
                    oidc::browser_login_with(&node, &chromium, authorize, "alice", &["--capture"])
                        .await
                        .expect("alice signs in");
                let redirect = said
                    .lines()
                    .find(|l| l.starts_with("redirect: "))
                    .unwrap_or_else(|| panic!("no redirect captured: {said}"));
                stdin
                    .write_all(format!("{redirect}\n").as_bytes())
                    .await
                    .unwrap();
            } else if let Some(json) = line.strip_prefix("result: ") {
                result = Some(serde_json::from_str::<Value>(json).unwrap());
            }
        }
        result
    })
    .await
    .expect("the Python client ends in time");
    let status = child.wait().await.unwrap();
    let complaints = complaints.await.unwrap();
    assert!(status.success(), "the Python client failed:\n{complaints}");
    let result = outcome.unwrap_or_else(|| panic!("no result:\n{complaints}"));
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(
        result["structuredContent"],
        json!({"result": 5}),
        "{result}"
    );
}

/// The gateway's protection comes from `[auth]` or from the flags, not
/// both; a bad `[auth]` table stops it, saying what is wrong.
#[tokio::test]
async fn the_gateway_refuses_a_bad_or_doubled_auth_table() {
    let dir = TempDir::new("gateway-auth-table");
    let server = "[[server]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/mcp\"\n";
    let cases = [
        (
            format!("[auth]\nissuer = \"http://127.0.0.1:9\"\n{server}"),
            vec!["--auth-issuer", "http://127.0.0.1:9"],
            "both protect the gateway; give one",
        ),
        (
            format!("[auth]\nscopes = [\"mcp:read\"]\n{server}"),
            vec![],
            "[auth]: issuer is missing",
        ),
        (
            format!("[auth]\nissuer = \"http://127.0.0.1:9\"\nscope = \"x\"\n{server}"),
            vec![],
            "unknown field `scope`",
        ),
    ];
    for (i, (text, flags, expected)) in cases.into_iter().enumerate() {
        let config = dir.write(&format!("gateway-{i}.toml"), text.as_bytes());
        let out = tokio::time::timeout(
            PATIENCE,
            Command::new(example("session_manager"))
                .arg("--config")
                .arg(&config)
                .args(["--http", "127.0.0.1:0"])
                .args(&flags)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("it stops in time")
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(expected), "{text}: {stderr}");
    }
}

/// With `grant = "token_exchange"` the gateway trades each caller's token
/// at the authorization server for one for the server behind (RFC 8693):
/// the server sees who asked, and still never the caller's own token.
#[tokio::test]
async fn the_gateway_exchanges_each_callers_token_for_one_of_the_server() {
    let test = "the_gateway_exchanges_each_callers_token_for_one_of_the_server";
    let down_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_url = format!("http://{}/mcp", down_listener.local_addr().unwrap());
    let gateway_port = free_port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}/mcp");
    let scopes = ["mcp:read", "mcp:write"];
    let mut gateway_client = machine_client("gateway");
    gateway_client["grant_types"] = json!([
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange"
    ]);
    let config = json!({
        "resources": [
            { "uri": down_url, "scopes": scopes },
            { "uri": gateway_url, "scopes": scopes },
        ],
        "clients": [gateway_client, machine_client("alice"), machine_client("bob")],
        "tokenExchange": true,
    });
    let Some(provider) = Provider::start(test, config).await else {
        return;
    };
    let issuer = provider.issuer().to_owned();
    let token_endpoint = provider.info["token_endpoint"].as_str().unwrap().to_owned();
    let server = downstream(down_listener, &issuer).await;
    let dir = TempDir::new("gateway-exchange");
    let _gateway = protected_gateway(
        &dir,
        &issuer,
        gateway_port,
        &down_url,
        &format!(r#"grant = "token_exchange", token_endpoint = "{token_endpoint}""#),
    )
    .await;
    let jwks = provider.jwks().await;
    let mut upstream = Vec::new();
    for user in ["alice", "bob"] {
        let own = token(&provider, user, &gateway_url, "mcp:read").await;
        let client =
            support::client_with_authorization(&gateway_url, &format!("Bearer {own}")).await;
        let result = client.call_tool("locked__whoami", json!({})).await.unwrap();
        assert!(!result.is_error(), "{result:?}");
        assert_eq!(text(&result), user, "the server sees who asked");
        // Again: the user's connection is kept.
        let again = client.call_tool("locked__whoami", json!({})).await.unwrap();
        assert_eq!(text(&again), user);
        client.close().await;
        upstream.push(own);
    }
    let headers = server.headers.lock().unwrap().clone();
    let mut subjects = std::collections::BTreeSet::new();
    for header in &headers {
        for own in &upstream {
            assert!(
                !header.contains(own.as_str()),
                "a caller's token went downstream"
            );
        }
        let Some(sent) = header.strip_prefix("Bearer ") else {
            continue;
        };
        let claims = verify_es256(sent, &jwks, &issuer, &down_url).unwrap();
        assert_eq!(claims["client_id"], "gateway", "{claims}");
        subjects.insert(claims["sub"].as_str().unwrap().to_owned());
    }
    // The gateway's own connection (lists) and one per user.
    assert_eq!(
        subjects,
        ["alice", "bob", "gateway"].map(str::to_owned).into(),
        "{headers:?}"
    );
}

/// A downstream tool whose scope its server's `tools/list` does not say
/// (no `_meta`): the server answers the exchanged token, which holds only
/// the caller's scopes, with 403 `insufficient_scope`. The gateway learns
/// the scope from that answer: the call is refused naming it, the next
/// one gets the gateway's own 403 step-up challenge, and the caller with
/// a token that holds the scope gets through.
#[tokio::test]
async fn a_downstream_scope_learnt_from_a_403_is_the_gateways_step_up() {
    let test = "a_downstream_scope_learnt_from_a_403_is_the_gateways_step_up";
    let down_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_url = format!("http://{}/mcp", down_listener.local_addr().unwrap());
    let gateway_port = free_port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}/mcp");
    let scopes = ["mcp:read", "mcp:write"];
    let mut gateway_client = machine_client("gateway");
    gateway_client["grant_types"] = json!([
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange"
    ]);
    let config = json!({
        "resources": [
            { "uri": down_url, "scopes": scopes },
            { "uri": gateway_url, "scopes": scopes },
        ],
        "clients": [gateway_client, machine_client("alice")],
        "tokenExchange": true,
    });
    let Some(provider) = Provider::start(test, config).await else {
        return;
    };
    let issuer = provider.issuer().to_owned();
    let token_endpoint = provider.info["token_endpoint"].as_str().unwrap().to_owned();
    let _server = downstream_listing(down_listener, &issuer, Listing::ScopesUnsaid).await;
    let dir = TempDir::new("gateway-learnt-scope");
    let _gateway = protected_gateway(
        &dir,
        &issuer,
        gateway_port,
        &down_url,
        &format!(r#"grant = "token_exchange", token_endpoint = "{token_endpoint}""#),
    )
    .await;

    let reader = token(&provider, "alice", &gateway_url, "mcp:read").await;
    let client =
        support::client_with_authorization(&gateway_url, &format!("Bearer {reader}")).await;
    let listed = client.list_all_tools().await.unwrap();
    let write = listed.iter().find(|t| t.name == "locked__write").unwrap();
    assert!(write.meta.is_none(), "the server says no scope: {write:?}");
    // The first call reaches the server, which refuses the exchanged
    // token: the scope is learnt and named.
    let e = client
        .call_tool("locked__write", json!({}))
        .await
        .unwrap_err();
    let e = e.server_error().expect("a JSON-RPC error").clone();
    assert!(e.message.contains("mcp:write"), "{e:?}");
    assert!(!e.message.contains(&reader), "no token in the message");
    let data = e.data.clone().unwrap_or_else(|| panic!("no data: {e:?}"));
    assert_eq!(data["error"], "insufficient_scope", "{data}");
    assert_eq!(data["scope"], "mcp:write", "{data}");
    client.close().await;

    // From then on the gateway's own HTTP layer asks for it: a 403 step-up
    // challenge naming the scope, before anything goes downstream.
    let id = session(&gateway_url, &reader).await;
    let (status, www, body, _) = post(
        &gateway_url,
        Some(&reader),
        Some(&id),
        call("locked__write"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(www.contains("mcp:write"), "{www}");

    // The caller steps up: a token with the scope gets through (its own
    // exchanged token holds it).
    let writer = token(&provider, "alice", &gateway_url, "mcp:read mcp:write").await;
    let client =
        support::client_with_authorization(&gateway_url, &format!("Bearer {writer}")).await;
    let result = client.call_tool("locked__write", json!({})).await.unwrap();
    assert!(!result.is_error(), "{result:?}");
    assert_eq!(text(&result), "written");
    client.close().await;
}

/// The gateway's client may not be granted a scope a downstream tool asks
/// for only when called (no `_meta`): the call is refused naming the
/// scope and saying the gateway's credentials could not get it, with no
/// token in the message; the scope is learnt, so a caller without it then
/// gets the gateway's own 403 step-up challenge.
#[tokio::test]
async fn a_scope_the_gateways_client_is_not_allowed_is_named() {
    let test = "a_scope_the_gateways_client_is_not_allowed_is_named";
    let down_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_url = format!("http://{}/mcp", down_listener.local_addr().unwrap());
    let gateway_port = free_port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}/mcp");
    let scopes = ["mcp:read", "mcp:write"];
    let mut gateway_client = machine_client("gateway");
    // The gateway's client may ask for mcp:read only.
    gateway_client["scope"] = json!("mcp:read offline_access");
    let config = json!({
        "resources": [
            { "uri": down_url, "scopes": scopes },
            { "uri": gateway_url, "scopes": scopes },
        ],
        "clients": [gateway_client, machine_client("alice"), machine_client("bob")],
        // So that a client's `scope` may name them.
        "extraScopes": scopes,
    });
    let Some(provider) = Provider::start(test, config).await else {
        return;
    };
    let issuer = provider.issuer().to_owned();
    let _server = downstream_listing(down_listener, &issuer, Listing::ScopesUnsaid).await;
    let dir = TempDir::new("gateway-client-scope");
    let _gateway = protected_gateway(
        &dir,
        &issuer,
        gateway_port,
        &down_url,
        r#"grant = "client_credentials""#,
    )
    .await;

    let writer = token(&provider, "alice", &gateway_url, "mcp:read mcp:write").await;
    let client =
        support::client_with_authorization(&gateway_url, &format!("Bearer {writer}")).await;
    let e = client
        .call_tool("locked__write", json!({}))
        .await
        .unwrap_err();
    let e = e.server_error().expect("a JSON-RPC error").clone();
    assert!(e.message.contains("mcp:write"), "{e:?}");
    assert!(e.message.contains("gateway's credentials"), "{e:?}");
    assert!(!e.message.contains(&writer), "no token in the message");
    let data = e.data.clone().unwrap_or_else(|| panic!("no data: {e:?}"));
    assert_eq!(data["error"], "insufficient_scope", "{data}");
    assert_eq!(data["server"], "locked", "{data}");
    // The gateway's own connection still serves the rest.
    let ok = client.call_tool("locked__whoami", json!({})).await.unwrap();
    assert!(!ok.is_error(), "{ok:?}");
    client.close().await;

    let reader = token(&provider, "bob", &gateway_url, "mcp:read").await;
    let id = session(&gateway_url, &reader).await;
    let (status, www, body, _) = post(
        &gateway_url,
        Some(&reader),
        Some(&id),
        call("locked__write"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(www.contains("mcp:write"), "{www}");
}
