//! Runs N `tools/call`s of the echo tool through one transport in process,
//! on one thread, for counting instructions per call under valgrind:
//!
//! ```text
//! cargo build --release -p mcp-sdk-server --example call_cost
//! valgrind --tool=callgrind target/release/examples/call_cost stdio 2000
//! ```
//!
//! Transports: `stdio` (`serve_io` on a duplex pair, one call in flight;
//! `stdio N K` keeps K in flight, as a client that pipelines does, the
//! bench's `--in-flight`), `session` and `stateless`
//! (`StreamableHttpService::handle` on a `http::Request`, JSON responses),
//! and `sse` (the session era, its answers as SSE streams).
//! Run with two N and divide the difference in instructions by the
//! difference in N to leave the set-up out.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mcp_sdk::{Implementation, Tool};
use mcp_sdk_server::http::{HttpConfig, ResponseMode, StreamableHttpService};
use mcp_sdk_server::Router;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Arguments of `echo`, as in the benches' echo server.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    text: String,
}

/// The benches' echo server: one tool that returns its text.
fn router() -> Router {
    Router::new()
        .with_info(Implementation::new("echo-server", "0"))
        .tool(
            Tool::named("echo", "Returns the given text unchanged"),
            |args: EchoArgs| async move { args.text },
        )
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const CALL: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, bench"}}}"#;
const STATELESS_CALL: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, bench"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"}}}}"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let transport = args.next().unwrap_or_else(|| "stdio".into());
    let n: usize = args
        .next()
        .map_or(1000, |n| n.parse().expect("N, a number"));
    let in_flight: usize = args.next().map_or(1, |k| k.parse().expect("K, a number"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match transport.as_str() {
            "stdio" => stdio(n, in_flight.max(1)).await,
            "session" => http(n, true, ResponseMode::Json).await,
            "sse" => http(n, true, ResponseMode::Sse).await,
            "stateless" => http(n, false, ResponseMode::Json).await,
            other => panic!("unknown transport {other}: stdio, session, sse or stateless"),
        }
    });
}

/// `n` calls over stdio, `in_flight` of them outstanding: each answer
/// is followed by the next call (with the answered call's id), as the
/// bench's client does.
async fn stdio(n: usize, in_flight: usize) {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let (read, write) = tokio::io::split(server_end);
    tokio::spawn(mcp_sdk_server::stdio::serve_io(
        router(),
        mcp_sdk_server::SessionConfig::default(),
        read,
        write,
    ));
    let (read, mut write) = tokio::io::split(client_end);
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    for msg in [INIT, INITIALIZED] {
        write
            .write_all(format!("{msg}\n").as_bytes())
            .await
            .unwrap();
    }
    read.read_until(b'\n', &mut line).await.unwrap();
    // Call `slot` has id `slot + 2`: the answer's id says which to resend.
    let calls: Vec<String> = (0..in_flight)
        .map(|slot| {
            format!(
                "{}\n",
                CALL.replace(r#""id":2"#, &format!(r#""id":{}"#, slot + 2))
            )
        })
        .collect();
    for call in calls.iter().take(n) {
        write.write_all(call.as_bytes()).await.unwrap();
    }
    for answered in 0..n {
        line.clear();
        read.read_until(b'\n', &mut line).await.unwrap();
        assert!(line.ends_with(b"}\n"), "{}", String::from_utf8_lossy(&line));
        if answered + in_flight < n {
            // One in flight: no id to look for (the figures stay those of
            // the mode before there were several).
            let slot = if in_flight == 1 {
                0
            } else {
                answer_id(&line) - 2
            };
            write.write_all(calls[slot].as_bytes()).await.unwrap();
        }
    }
}

/// The integer id of an answer line (`"id":N`).
fn answer_id(line: &[u8]) -> usize {
    let at = line
        .windows(5)
        .position(|w| w == br#""id":"#)
        .expect("an answer with an id")
        + 5;
    line[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + usize::from(b - b'0'))
}

fn post(body: &'static str, session: Option<&str>, stateless: bool) -> http::Request<Full<Bytes>> {
    let mut req = http::Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(s) = session {
        req = req
            .header("mcp-session-id", s)
            .header("mcp-protocol-version", "2025-11-25");
    }
    if stateless {
        req = req
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo");
    }
    req.body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn http(n: usize, session: bool, response_mode: ResponseMode) {
    let config = HttpConfig {
        response_mode,
        ..Default::default()
    };
    let service = StreamableHttpService::new(router(), config);
    let id = if session {
        let resp = service.handle(post(INIT, None, false)).await;
        let id = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        resp.into_body().collect().await.unwrap();
        let resp = service.handle(post(INITIALIZED, Some(&id), false)).await;
        resp.into_body().collect().await.unwrap();
        Some(id)
    } else {
        None
    };
    let body = if session { CALL } else { STATELESS_CALL };
    for _ in 0..n {
        let resp = service.handle(post(body, id.as_deref(), !session)).await;
        assert_eq!(resp.status(), 200);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let end: &[u8] = match response_mode {
            ResponseMode::Sse => b"}\n\n",
            _ => b"}",
        };
        assert!(bytes.ends_with(end), "{}", String::from_utf8_lossy(&bytes));
    }
}
