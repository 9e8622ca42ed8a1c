//! Shared by the system tests: start an example server as a child process
//! and connect our client to it, over stdio or Streamable HTTP.
#![allow(dead_code)] // each test file uses its own part

pub mod haproxy;
pub mod oidc;
pub mod own_redis;
pub mod raw_session;
pub mod relay;

use mcp_sdk_client::transport::{ChildProcess, HttpTransport, Transport as ClientTransport};
use mcp_sdk_client::{Client, ClientHandler, Era};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `$REDIS_URL`, the Redis the replicas of `test` share, or `None` after
/// printing why the test skips; a failure when `MCP_REDIS_TEST=required`
/// (as in CI).
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("MCP_REDIS_TEST").as_deref() == Ok("required") => {
            panic!("{test}: MCP_REDIS_TEST=required but REDIS_URL is not set")
        }
        _ => {
            eprintln!("skipped: {test}: REDIS_URL is not set (the Redis replicas share)");
            None
        }
    }
}

/// A loopback port nobody listens on now, for a server whose URL must be
/// known before it starts (an OAuth resource, HAProxy's frontend).
///
/// The port comes from below the kernel's ephemeral range (32768 and up on
/// Linux), which `bind(":0")` and every outgoing connection draw from: a
/// port probed there and released can be taken by the next connection any
/// test opens, and the server meant for it then fails to bind. Here only
/// another caller of this function could take it, and each picks at random.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    const LOW: u16 = 20_000;
    const SPAN: u16 = 12_000;
    for _ in 0..1000 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let port = LOW + (hasher.finish() % u64::from(SPAN)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN)
}

/// A Redis key prefix (and bus channel) no other test or test run shares.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mcp-test:{test}:{}:{nanos}", std::process::id())
}

/// A guard against hangs, not a performance assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `target/<profile>/examples/<name>`, which `cargo test` builds.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs the example `name` with `args` and `--stdio`, and connects to it in
/// the session era, which the reference servers' own tests exercise.
pub async fn stdio_client(name: &str, args: &[&str], handler: impl ClientHandler) -> Client {
    stdio_client_in(Era::SessionOnly, name, args, handler).await
}

/// Like [`stdio_client`], in the era `era` picks.
pub async fn stdio_client_in(
    era: Era,
    name: &str,
    args: &[&str],
    handler: impl ClientHandler,
) -> Client {
    let mut command = Command::new(example(name));
    command.args(args).arg("--stdio");
    let transport = ChildProcess::spawn(&mut command).expect("the example starts");
    connect(era, transport, handler).await
}

async fn connect(era: Era, transport: impl ClientTransport, handler: impl ClientHandler) -> Client {
    tokio::time::timeout(
        PATIENCE,
        Client::builder()
            .era(era)
            .handler(handler)
            .connect(transport),
    )
    .await
    .expect("the handshake in time")
    .expect("the handshake succeeds")
}

/// A server example running over HTTP; killed when dropped.
pub struct HttpServer {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl HttpServer {
    /// `host:port` of the server.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }
}

/// `n` replicas of the example `name` sharing the Redis at `url` under
/// `prefix` (`--redis-prefix`), with task leases of `lease_ms`, and the
/// requestState key every replica sharing Redis must share (each checks
/// at start; they read the file before they serve, so it may go after).
pub async fn redis_replicas(
    name: &str,
    n: usize,
    url: &str,
    prefix: &str,
    lease_ms: &str,
) -> Vec<HttpServer> {
    let dir = TempDir::new("replica-key");
    let key = dir.write("key", b"replicas-shared-secret-0123456789abcdef\n");
    let key = key.display().to_string();
    let mut replicas = Vec::new();
    for _ in 0..n {
        let args = [
            "--redis-url",
            url,
            "--redis-prefix",
            prefix,
            "--task-lease-ms",
            lease_ms,
            "--request-state-key-file",
            &key,
        ];
        replicas.push(http_server(name, &args).await);
    }
    replicas
}

/// Runs the example `name` with `args` and `--http 127.0.0.1:0`, and waits
/// for the address it prints on stderr ("serving MCP at http://ADDR/mcp").
pub async fn http_server(name: &str, args: &[&str]) -> HttpServer {
    let mut child = Command::new(example(name))
        .args(args)
        .args(["--http", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(i) = line.find("http://") {
                return line[i..].split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("{name} exited without printing its address");
    })
    .await
    .expect("the address in time");
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let base = url.trim_end_matches("/mcp").to_owned();
    HttpServer { child, url, base }
}

/// Connects our client to `url` over Streamable HTTP, in the session era.
pub async fn http_client(url: &str, handler: impl ClientHandler) -> Client {
    http_client_in(Era::SessionOnly, url, handler).await
}

/// Like [`http_client`], in the era `era` picks.
pub async fn http_client_in(era: Era, url: &str, handler: impl ClientHandler) -> Client {
    connect(era, HttpTransport::new(url).unwrap(), handler).await
}

/// A directory of its own under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory whose name starts with `mcp-{tag}`.
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mcp-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(std::fs::canonicalize(&path).unwrap())
    }

    /// Writes `contents` to `rel` inside, creating directories; gives the path.
    pub fn write(&self, rel: &str, contents: &[u8]) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens a `subscriptions/listen` stream (stateless era) for `filter` and
/// waits, with a hang guard, for the server to acknowledge it. Its
/// notifications reach the client's handler too.
pub async fn listen(
    client: &Client,
    filter: mcp_sdk::SubscriptionFilter,
) -> mcp_sdk_client::Subscription {
    tokio::time::timeout(PATIENCE, client.listen(filter))
        .await
        .expect("the acknowledgement in time")
        .expect("the server takes the subscription")
}

/// How a scenario reaches a server: over which transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The server as a child process, over its stdin and stdout.
    Stdio,
    /// The server as a child process serving Streamable HTTP.
    Http,
}

/// How a scenario reaches a server: a transport, and the era the client is
/// pinned to.
#[derive(Clone, Copy, Debug)]
pub struct Via {
    /// Stdio or HTTP.
    pub transport: Transport,
    /// The session era or the stateless one.
    pub era: Era,
}

impl Via {
    /// Whether the client speaks the stateless era (2026-07-28).
    pub fn stateless(self) -> bool {
        self.era == Era::StatelessOnly
    }

    /// Starts the example `name` with `args` and connects a client with
    /// `handler` in this era; the server (if HTTP) lives as long as the
    /// returned guard.
    pub async fn connect(
        self,
        name: &str,
        args: &[&str],
        handler: impl ClientHandler,
    ) -> (Client, Option<HttpServer>) {
        let (client, server) = match self.transport {
            Transport::Stdio => (stdio_client_in(self.era, name, args, handler).await, None),
            Transport::Http => {
                let server = http_server(name, args).await;
                let client = http_client_in(self.era, &server.url, handler).await;
                (client, Some(server))
            }
        };
        assert_eq!(client.is_stateless(), self.stateless(), "{self:?}");
        (client, server)
    }
}

/// Runs each named scenario, an `async fn(Via)` of the test file, four ways:
/// over stdio and over HTTP, each in the session era and in the stateless era.
#[allow(unused_macros)] // each test file uses its own part
macro_rules! every_way {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::support::{Transport, Via};
            use mcp_sdk_client::Era;

            async fn run(transport: Transport, era: Era) {
                super::$name(Via { transport, era }).await
            }
            #[tokio::test]
            async fn stdio_session() {
                run(Transport::Stdio, Era::SessionOnly).await
            }
            #[tokio::test]
            async fn stdio_stateless() {
                run(Transport::Stdio, Era::StatelessOnly).await
            }
            #[tokio::test]
            async fn http_session() {
                run(Transport::Http, Era::SessionOnly).await
            }
            #[tokio::test]
            async fn http_stateless() {
                run(Transport::Http, Era::StatelessOnly).await
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use every_way;

/// `GET {base}/health` of a server started with [`http_server`]: the JSON it
/// answers with (the request must succeed).
pub async fn health(base: &str) -> serde_json::Value {
    let response = tokio::time::timeout(PATIENCE, reqwest::get(format!("{base}/health")))
        .await
        .expect("an answer in time")
        .expect("the health endpoint answers");
    assert!(response.status().is_success(), "{}", response.status());
    let body = response.text().await.unwrap();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// What the example `name` prints for `--help`.
pub fn help(name: &str) -> String {
    let out = std::process::Command::new(example(name))
        .arg("--help")
        .output()
        .expect("the example runs");
    assert!(
        out.status.success(),
        "{name} --help: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A session-era client of the MCP endpoint at `url` that sends
/// `authorization` (such as `Bearer …`) on every request, as a caller
/// holding a token of its own would.
pub async fn client_with_authorization(url: &str, authorization: &str) -> Client {
    let transport = HttpTransport::builder(url)
        .header("authorization", authorization)
        .build()
        .expect("an HTTP transport");
    Client::builder()
        .era(Era::SessionOnly)
        .connect(transport)
        .await
        .expect("connected with the token")
}

/// A session-era request (`body`) POSTed to `url`, in the session `session`
/// if any, with hang guards: the status, the body (a JSON answer or SSE
/// text) and the session id the answer gives.
pub async fn post_raw(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: serde_json::Value,
) -> (u16, String, Option<String>) {
    let mut request = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(id) = session {
        request = request.header("mcp-session-id", id);
    }
    let answer = tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("an answer in time, not a hang")
        .expect("the server answers");
    let status = answer.status().as_u16();
    let id = answer
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = tokio::time::timeout(PATIENCE, answer.text())
        .await
        .expect("the body in time")
        .unwrap_or_default();
    (status, text, id)
}
