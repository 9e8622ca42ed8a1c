//! tools/call round trips of the echo tool over Streamable HTTP, in a
//! session (2025-11-25) and stateless (2026-07-28), beside the physical limit
//! on the same run: a bare hyper server returning the same response bytes.
//!
//! `cargo bench --bench round_trip [-- WORD...]` (only the scenarios whose
//! name holds a WORD, such as `stateless`). The servers run on a one-worker tokio
//! runtime on their own thread; the load generator runs on one thread, one
//! keep-alive connection (and, for MCP, one session) per client.
//!
//! Rounds of ours alternate with rounds of the baseline, [`ROUNDS`] of each
//! per row, and each side's median round is kept (req/s by rate, CPU time
//! by CPU time), as in the stdio bench: on a machine whose other load comes
//! and goes, one round of each could land on a busy moment for one side
//! only, and the ratio of a single pair moved by a third from run to run.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

const CALL: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, bench"}}}"#;
const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
/// The same call in the stateless era: its `_meta` says who asks, and the
/// headers mirror the method and tool name.
const STATELESS_CALL: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, bench"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"}}}}"#;
const STATELESS_HEADERS: [(&str, &str); 3] = [
    ("mcp-protocol-version", "2026-07-28"),
    ("mcp-method", "tools/call"),
    ("mcp-name", "echo"),
];
const RUN: Duration = Duration::from_secs(1);
/// Rounds of each side per row, alternating; the median round is kept.
const ROUNDS: usize = 3;
/// Calls each client makes before the timed ones.
const WARM_UP: usize = 200;

/// Starts a server on its own thread with a one-worker runtime, whose
/// worker is named `name` (for profilers: `perf report --comm NAME`).
fn spawn_server<F, Fut>(name: &'static str, serve: F) -> SocketAddr
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener).await
        });
    });
    rx.recv().unwrap()
}

fn mcp_server(mode: mcp_sdk_server::http::ResponseMode) -> SocketAddr {
    spawn_server("mcp-server", move |listener| async move {
        let config = mcp_sdk_server::http::HttpConfig {
            response_mode: mode,
            ..Default::default()
        };
        let service =
            mcp_sdk_server::http::StreamableHttpService::new(mcp_reference::echo::router(), config);
        let _ = mcp_sdk_server::http::serve_with_shutdown(
            listener,
            "/mcp",
            service,
            std::future::pending(),
        )
        .await;
    })
}

fn baseline_server(content_type: &'static str, body: Bytes) -> SocketAddr {
    spawn_server("bare-server", move |listener| async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let body = body.clone();
                    async move {
                        let _ = req.into_body().collect().await;
                        let mut resp = Response::new(Full::new(body));
                        resp.headers_mut()
                            .insert("content-type", content_type.parse().unwrap());
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// How the load generator talks.
#[derive(Clone, Copy, PartialEq)]
enum Wire {
    /// Plain POSTs, for the bare baseline.
    Bare,
    /// `initialize`, then calls in that session.
    Session,
    /// Stateless calls, each with its `_meta` and headers.
    Stateless,
}

async fn post(
    sender: &mut Sender,
    session: Option<&str>,
    body: &'static str,
) -> (Option<String>, Bytes) {
    post_with(sender, session, body, &[]).await
}

async fn post_with(
    sender: &mut Sender,
    session: Option<&str>,
    body: &'static str,
    headers: &[(&str, &str)],
) -> (Option<String>, Bytes) {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(s) = session {
        req = req
            .header("mcp-session-id", s)
            .header("mcp-protocol-version", "2025-11-25");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(
            req.body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap(),
        )
        .await
        .unwrap();
    let session = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        session,
        resp.into_body().collect().await.unwrap().to_bytes(),
    )
}

#[path = "support/rounds.rs"]
mod rounds;
use rounds::{summarize, Round, Stats};

/// Nanoseconds on a CPU so far of this process's threads named `server`
/// (a server's runtime, see [`spawn_server`]), from Linux's `/proc`.
fn cpu_ns(server: &str) -> Option<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let dir = task.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim_end() != server {
            continue;
        }
        // `schedstat`: nanoseconds on the CPU, then waiting, then slices.
        let sched = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        total += sched.split_whitespace().next()?.parse::<f64>().ok()?;
    }
    Some(total)
}

/// One round: `clients` connections calling in a loop for [`RUN`], each
/// with its own session for [`Wire::Session`], against the server whose
/// threads are named `server`.
async fn load(addr: SocketAddr, server: &str, clients: usize, wire: Wire) -> Round<f64> {
    let cpu_before = cpu_ns(server);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            // Every request the server answers, for its CPU time per request.
            let mut answered = WARM_UP;
            let session = if wire == Wire::Session {
                answered += 2;
                let (s, _) = post(&mut sender, None, INIT).await;
                let s = s.expect("a session id");
                post(
                    &mut sender,
                    Some(&s),
                    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                )
                .await;
                Some(s)
            } else {
                None
            };
            let (body, headers): (&'static str, &[(&str, &str)]) = match wire {
                Wire::Stateless => (STATELESS_CALL, &STATELESS_HEADERS),
                _ => (CALL, &[]),
            };
            for _ in 0..WARM_UP {
                post_with(&mut sender, session.as_deref(), body, headers).await;
            }
            let mut latencies = Vec::new();
            let end = Instant::now() + RUN;
            while Instant::now() < end {
                let t = Instant::now();
                post_with(&mut sender, session.as_deref(), body, headers).await;
                latencies.push(t.elapsed());
            }
            (latencies, answered)
        }));
    }
    let mut all = Vec::new();
    let mut answered = 0;
    for t in tasks {
        let (latencies, more) = t.await.unwrap();
        answered += more + latencies.len();
        all.extend(latencies);
    }
    let cpu_us = match (cpu_before, cpu_ns(server)) {
        (Some(before), Some(after)) => Some((after - before) / answered as f64 / 1000.0),
        _ => None,
    };
    Round {
        rps: all.len() as f64 / RUN.as_secs_f64(),
        latencies: all,
        cost: cpu_us,
    }
}

fn main() {
    // `cargo test --benches` passes flags; run only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // `cargo bench --bench round_trip -- stateless` runs only the scenarios
    // whose name holds one of the words given, as libtest filters tests.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("| scenario | req/s | p50 µs | p99 µs | server CPU µs/req | baseline req/s | baseline p50 µs | baseline CPU µs/req | ratio req/s | ratio p50 | ratio CPU |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        let json = mcp_sdk_server::http::ResponseMode::Json;
        let sse = mcp_sdk_server::http::ResponseMode::Sse;
        for (name, mode, wire) in [
            ("json", json, Wire::Session),
            ("sse", sse, Wire::Session),
            ("stateless json", json, Wire::Stateless),
        ] {
            if !only.is_empty() && !only.iter().any(|word| name.contains(word.as_str())) {
                continue;
            }
            let ours = mcp_server(mode);
            // The baseline returns exactly the bytes our server sends.
            let mut sender = connect(ours).await;
            let body = if wire == Wire::Stateless {
                post_with(&mut sender, None, STATELESS_CALL, &STATELESS_HEADERS).await.1
            } else {
                let (session, _) = post(&mut sender, None, INIT).await;
                post(&mut sender, session.as_deref(), CALL).await.1
            };
            let content_type = if mode == sse { "text/event-stream" } else { "application/json" };
            let base = baseline_server(content_type, body);
            for clients in [1, 16, 64] {
                let (mut bare_rounds, mut our_rounds) = (Vec::new(), Vec::new());
                for _ in 0..ROUNDS {
                    bare_rounds.push(load(base, "bare-server", clients, Wire::Bare).await);
                    our_rounds.push(load(ours, "mcp-server", clients, wire).await);
                }
                let (b, o) = (summarize(bare_rounds, |us| *us), summarize(our_rounds, |us| *us));
                let unit = if wire == Wire::Session { "session(s)" } else { "client(s)" };
                let cpu = |s: &Stats<f64>| s.cost.map_or("-".to_owned(), |us| format!("{us:.2}"));
                // The baseline's CPU per request over ours: 1 would be free.
                let cpu_ratio = match (b.cost, o.cost) {
                    (Some(b), Some(o)) => format!("{:.2}", b / o),
                    _ => "-".to_owned(),
                };
                println!(
                    "| http {name}, {clients} {unit} | {:.0} | {} | {} | {} | {:.0} | {} | {} | {:.2} | {:.2} | {cpu_ratio} |",
                    o.rps,
                    o.p50.as_micros(),
                    o.p99.as_micros(),
                    cpu(&o),
                    b.rps,
                    b.p50.as_micros(),
                    cpu(&b),
                    o.rps / b.rps,
                    o.p50.as_secs_f64() / b.p50.as_secs_f64()
                );
            }
        }
    });
}
