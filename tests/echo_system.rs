//! System tests: the `echo_server` example as a real child process, over a
//! real pipe (stdio) and real sockets (Streamable HTTP and the 2024-11-05
//! HTTP+SSE transport).

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// `target/<profile>/examples/echo_server`, which `cargo test` builds.
fn echo_server() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir
        .join("examples")
        .join(format!("echo_server{}", std::env::consts::EXE_SUFFIX))
}

fn initialize(id: i64, version: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name":"system-test","version":"0"}}})
}

#[tokio::test]
async fn stdio_child_process_answers_and_survives_bad_lines() {
    let mut child: Child = Command::new(echo_server())
        .arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the echo_server example is built by cargo test");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let send = |v: String| {
        let mut line = v.into_bytes();
        line.push(b'\n');
        line
    };
    let input = [
        send(initialize(1, "2025-06-18").to_string()),
        send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into()),
        send("this is not json".into()),
        send(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#.into()),
        send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#.into()),
    ]
    .concat();
    stdin.write_all(&input).await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..4 {
        let line = timeout(LIMIT, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        answers.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert_eq!(answers[0]["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(answers[1]["error"]["code"], -32700);
    assert_eq!(answers[2]["error"]["code"], -32600);
    assert_eq!(answers[2]["id"], Value::Null);
    assert_eq!(answers[3]["id"], 2);
    assert_eq!(answers[3]["result"]["content"][0]["text"], "hello");
    // Closing stdin ends the server cleanly.
    drop(stdin);
    let status = timeout(LIMIT, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Starts `echo_server --http 127.0.0.1:0` and returns it with its address.
async fn http_child() -> (Child, String) {
    let mut child = Command::new(echo_server())
        .args(["--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = timeout(LIMIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("http://").nth(1) {
                return rest.trim_end_matches("/mcp").to_owned();
            }
        }
        panic!("echo_server exited without saying where it listens");
    })
    .await
    .unwrap();
    (child, addr)
}

/// One HTTP/1.1 exchange on a fresh connection: status, headers, body.
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    // A server may answer (413) and close before it read the whole body, so
    // a failed write is not a failure: the answer is what counts.
    let _ = stream.write_all(req.as_bytes()).await;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    timeout(LIMIT, async {
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut head = head.lines();
    let status = head
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = head
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

const JSON_AND_SSE: (&str, &str) = ("Accept", "application/json, text/event-stream");
const JSON: (&str, &str) = ("Content-Type", "application/json");

#[tokio::test]
async fn streamable_http_child_process_round_trip_and_refusals() {
    let (_child, addr) = http_child().await;
    let (status, headers, body) = http(
        &addr,
        "POST",
        "/mcp",
        &[JSON, JSON_AND_SSE],
        &initialize(1, "2025-11-25").to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let session = header(&headers, "mcp-session-id")
        .expect("a session id")
        .to_owned();
    assert_eq!(session.len(), 32);
    let with_session = [
        JSON,
        JSON_AND_SSE,
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    let (status, _, _) = http(
        &addr,
        "POST",
        "/mcp",
        &with_session,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    assert_eq!(status, 202);
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"over http"}}}"#;
    let (status, _, body) = http(&addr, "POST", "/mcp", &with_session, call).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["result"]["content"][0]["text"], "over http");

    // Refusals: each with a status and a readable message.
    let (status, _, body) = http(
        &addr,
        "POST",
        "/mcp",
        &[JSON, JSON_AND_SSE, ("Mcp-Session-Id", "nope")],
        call,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = http(
        &addr,
        "POST",
        "/mcp",
        &[JSON, JSON_AND_SSE, ("Origin", "http://evil.example")],
        call,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, body) = http(&addr, "POST", "/mcp", &with_session, "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        -32700
    );
    let (status, _, _) = http(
        &addr,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "text/plain"),
            JSON_AND_SSE,
            ("Mcp-Session-Id", session.as_str()),
        ],
        call,
    )
    .await;
    assert_eq!(status, 415);
    let (status, _, _) = http(
        &addr,
        "POST",
        "/mcp",
        &[
            JSON,
            ("Accept", "text/html"),
            ("Mcp-Session-Id", session.as_str()),
        ],
        call,
    )
    .await;
    assert_eq!(status, 406);
    let (status, _, body) = http(&addr, "POST", "/mcp", &[JSON, JSON_AND_SSE], call).await;
    assert_eq!(status, 400, "a request without a session: {body}");
    let (status, _, body) = http(
        &addr,
        "POST",
        "/mcp",
        &[
            JSON,
            JSON_AND_SSE,
            ("Mcp-Session-Id", session.as_str()),
            ("MCP-Protocol-Version", "1999-01-01"),
        ],
        call,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("1999-01-01"), "{body}");
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let (status, _, _) = http(&addr, "POST", "/mcp", &with_session, &huge).await;
    assert_eq!(status, 413);
    let (status, _, _) = http(&addr, "PUT", "/mcp", &with_session, call).await;
    assert_eq!(status, 405);
    let (status, _, _) = http(
        &addr,
        "POST",
        "/mcp",
        &[JSON, JSON_AND_SSE, ("Host", "evil.example")],
        call,
    )
    .await;
    assert_eq!(status, 403, "DNS rebinding: a foreign Host is refused");
    let (status, _, body) = http(&addr, "POST", "/mcp", &with_session, "[]").await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        -32600
    );
    // The session survived every refusal.
    let (status, _, body) = http(&addr, "POST", "/mcp", &with_session, call).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http(&addr, "GET", "/elsewhere", &[], "").await;
    assert_eq!(status, 404);
    let (status, _, body) = http(&addr, "GET", "/health", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "ok"));

    // DELETE ends the session.
    let (status, _, _) = http(&addr, "DELETE", "/mcp", &with_session, "").await;
    assert_eq!(status, 200);
    let (status, _, _) = http(&addr, "POST", "/mcp", &with_session, call).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn legacy_http_sse_child_process_round_trip() {
    let (_child, addr) = http_child().await;
    let mut sse = TcpStream::connect(&addr).await.unwrap();
    sse.write_all(
        format!("GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut events = BufReader::new(sse).lines();
    let endpoint = timeout(LIMIT, async {
        while let Some(line) = events.next_line().await.unwrap() {
            if let Some(path) = line.strip_prefix("data: ") {
                return path.to_owned();
            }
        }
        panic!("no endpoint event");
    })
    .await
    .unwrap();
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    let (status, _, _) = http(
        &addr,
        "POST",
        &endpoint,
        &[JSON],
        &initialize(1, "2024-11-05").to_string(),
    )
    .await;
    assert_eq!(status, 202);
    let answer = timeout(LIMIT, async {
        while let Some(line) = events.next_line().await.unwrap() {
            if let Some(data) = line.strip_prefix("data: ") {
                return serde_json::from_str::<Value>(data).unwrap();
            }
        }
        panic!("no answer event");
    })
    .await
    .unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["protocolVersion"], "2024-11-05");
    let (status, _, _) = http(&addr, "POST", "/message?sessionId=unknown", &[JSON], "{}").await;
    assert_eq!(status, 404);
}
