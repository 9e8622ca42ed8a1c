//! The stateless era (revision 2026-07-28) against small scripted servers:
//! HTTP/1.1 on loopback sockets and newline-delimited JSON over in-process
//! pipes. Each server answers from a script and records what it got, so the
//! tests can check the wire: `_meta`, headers, ids, `requestState`.

use mcp_sdk::{
    ClientCapabilities, ElicitRequestParams, ElicitResult, ElicitationCapability, Error,
    ListRootsResult, Root, RootsCapability, SubscriptionFilter,
};
use mcp_sdk_client::transport::{HttpTransport, IoTransport};
use mcp_sdk_client::{
    async_trait, Client, ClientError, ClientHandler, Era, RequestContext, MAX_INPUT_ROUNDS,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

/// One HTTP request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    verb: String,
    headers: HashMap<String, String>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    fn method(&self) -> &str {
        self.body["method"].as_str().unwrap_or_default()
    }
}

/// How the server answers one request.
enum Reply {
    /// A JSON body with this status.
    Json(u16, Value),
    /// A text body with this status.
    Text(u16, &'static str),
    /// An SSE stream of these messages, then held open until the client
    /// closes it.
    Stream(Vec<Value>),
    /// An SSE stream that the server closes at once, without an answer.
    Cut,
}

type Script = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

struct HttpServer {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Signalled when the client closes a held-open stream.
    closed: Arc<Notify>,
}

impl HttpServer {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn posts(&self, method: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.verb == "POST" && s.method() == method)
            .collect()
    }
}

/// An HTTP/1.1 server on loopback: one request per connection.
async fn http_server(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> HttpServer {
    let script: Script = Arc::new(script);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let closed = Arc::new(Notify::new());
    let (s, c) = (seen.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (script, seen, closed) = (script.clone(), s.clone(), c.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head, body) = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break (head, buf[end + 4..end + 4 + length].to_vec());
                    }
                };
                let mut lines = head.lines();
                let verb = lines
                    .next()
                    .unwrap_or_default()
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let headers = lines
                    .filter_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    })
                    .collect();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let request = Seen {
                    verb,
                    headers,
                    body,
                };
                seen.lock().unwrap().push(request.clone());
                let reply = if request.verb == "POST" {
                    script(&request)
                } else {
                    Reply::Text(405, "")
                };
                let reason = |status| match status {
                    200 => "OK",
                    202 => "Accepted",
                    400 => "Bad Request",
                    404 => "Not Found",
                    _ => "Other",
                };
                match reply {
                    Reply::Json(status, body) => {
                        let body = body.to_string();
                        let response = format!(
                            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            reason(status),
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                    }
                    Reply::Text(status, body) => {
                        let response = format!(
                            "HTTP/1.1 {status} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            reason(status),
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                    }
                    Reply::Cut => {
                        let response = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n: nothing\n\n";
                        let _ = socket.write_all(response.as_bytes()).await;
                    }
                    Reply::Stream(messages) => {
                        let mut response = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_owned();
                        for m in messages {
                            response.push_str(&format!("event: message\ndata: {m}\n\n"));
                        }
                        let _ = socket.write_all(response.as_bytes()).await;
                        // Held open until the client goes.
                        while let Ok(n) = socket.read(&mut chunk).await {
                            if n == 0 {
                                break;
                            }
                        }
                        closed.notify_one();
                        return;
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    HttpServer { url, seen, closed }
}

fn ok(request: &Seen, result: Value) -> Reply {
    Reply::Json(
        200,
        json!({"jsonrpc": "2.0", "id": request.body["id"], "result": result}),
    )
}

fn discover_result() -> Value {
    json!({
        "resultType": "complete",
        "supportedVersions": ["2026-07-28"],
        "capabilities": {"tools": {"listChanged": true}, "prompts": {}, "resources": {}},
        "instructions": "be kind",
        "ttlMs": 0,
        "cacheScope": "public",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "scripted", "version": "1.2.3"}},
    })
}

/// A stateless server: `server/discover` answered, the rest by `rest`.
async fn stateless_server(rest: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> HttpServer {
    http_server(move |request| match request.method() {
        "server/discover" => ok(request, discover_result()),
        _ => rest(request),
    })
    .await
}

async fn connect(url: &str, handler: impl ClientHandler) -> Client {
    Client::builder()
        .handler(handler)
        .timeout(Duration::from_secs(5))
        .connect(HttpTransport::new(url).unwrap())
        .await
        .unwrap()
}

/// Answers input requests: elicitations with a name (the schema's defaults
/// fill the rest), roots with one root.
struct Answers;

#[async_trait]
impl ClientHandler for Answers {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
            .with_elicitation(ElicitationCapability::default())
            .with_roots(RootsCapability::default())
    }

    async fn elicit(
        &self,
        _params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        Ok(ElicitResult::accept(
            json!({"name": "Ada"}).as_object().unwrap().clone(),
        ))
    }

    async fn list_roots(&self, _cx: RequestContext) -> Result<ListRootsResult, Error> {
        Ok(ListRootsResult::new(vec![Root::new("file:///work")]))
    }
}

fn text_result(text: &str) -> Value {
    json!({"resultType": "complete", "content": [{"type": "text", "text": text}]})
}

#[tokio::test]
async fn a_stateless_server_gets_meta_and_headers_on_every_request() {
    let server = stateless_server(|request| match request.method() {
        "tools/call" => ok(request, text_result("called")),
        "resources/read" => ok(
            request,
            json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "private", "contents": []}),
        ),
        _ => Reply::Json(
            404,
            json!({"jsonrpc": "2.0", "id": request.body["id"],
                "error": {"code": -32601, "message": "Method not found"}}),
        ),
    })
    .await;
    let client = connect(&server.url, Answers).await;
    assert!(client.is_stateless());
    assert_eq!(client.protocol_version().as_str(), "2026-07-28");
    assert_eq!(client.server().server_info.name, "scripted");
    assert_eq!(client.server().instructions.as_deref(), Some("be kind"));
    assert!(client.server_capabilities().tools.is_some());
    assert_eq!(
        client.discovery().unwrap().supported_versions,
        ["2026-07-28"]
    );

    client
        .set_logging_level(mcp_sdk::LoggingLevel::Warning)
        .await
        .unwrap();
    client.call_tool("héllo wörld", json!({})).await.unwrap();
    client.read_resource("file:///a b.txt").await.unwrap();
    client.ping().await.unwrap(); // server/discover, as there is no ping
    let err = client.subscribe("file:///a").await.unwrap_err();
    assert!(matches!(err, ClientError::Unsupported(_)), "{err}");
    // An unknown method: 404 with a JSON-RPC error, which is the answer.
    let err = client.request_raw("x/y", None, Default::default()).await;
    assert_eq!(
        err.unwrap_err().code(),
        Some(mcp_sdk::ErrorCode::METHOD_NOT_FOUND)
    );

    let seen = server.seen();
    assert!(seen.iter().all(|s| s.verb == "POST"), "no GET, no DELETE");
    for request in &seen {
        let meta = &request.body["params"]["_meta"];
        assert_eq!(
            meta["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert!(meta["io.modelcontextprotocol/clientCapabilities"]["elicitation"].is_object());
        assert!(meta["io.modelcontextprotocol/clientInfo"]["name"].is_string());
        assert_eq!(request.header("mcp-protocol-version"), Some("2026-07-28"));
        assert_eq!(request.header("mcp-method"), Some(request.method()));
        assert_eq!(request.header("mcp-session-id"), None);
    }
    let call = &server.posts("tools/call")[0];
    assert_eq!(
        call.body["params"]["_meta"]["io.modelcontextprotocol/logLevel"],
        "warning"
    );
    // Not plain ASCII: the base64 sentinel.
    assert_eq!(
        call.header("mcp-name"),
        Some("=?base64?aMOpbGxvIHfDtnJsZA==?=")
    );
    let read = &server.posts("resources/read")[0];
    assert_eq!(read.header("mcp-name"), Some("file:///a b.txt"));
    assert_eq!(server.posts("server/discover").len(), 2);
    client.close().await;
}

#[tokio::test]
async fn a_400_with_unsupported_protocol_version_is_a_stateless_server() {
    let refused = Arc::new(Mutex::new(false));
    let server = http_server(move |request| {
        let mut refused = refused.lock().unwrap();
        if !*refused {
            *refused = true;
            return Reply::Json(
                400,
                json!({"jsonrpc": "2.0", "id": request.body["id"], "error": {
                    "code": -32022, "message": "Unsupported protocol version",
                    "data": {"supported": ["2026-07-28", "2025-11-25"], "requested": "x"}}}),
            );
        }
        match request.method() {
            "server/discover" => ok(request, discover_result()),
            _ => ok(request, json!({"tools": []})),
        }
    })
    .await;
    let client = connect(&server.url, ()).await;
    assert!(client.is_stateless());
    assert!(client.list_tools(None).await.unwrap().tools.is_empty());
    assert!(server.posts("initialize").is_empty(), "no fallback");
    assert_eq!(server.posts("server/discover").len(), 2);
}

#[tokio::test]
async fn a_400_naming_only_session_revisions_gets_initialize() {
    let server = http_server(|request| match request.method() {
        "server/discover" => Reply::Json(
            400,
            json!({"jsonrpc": "2.0", "id": request.body["id"], "error": {
                "code": -32022, "message": "Unsupported protocol version",
                "data": {"supported": ["2025-06-18"], "requested": "2026-07-28"}}}),
        ),
        "initialize" => ok(
            request,
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                "serverInfo": {"name": "dual", "version": "0"}}),
        ),
        "notifications/initialized" => Reply::Text(202, ""),
        _ => ok(request, json!({"tools": []})),
    })
    .await;
    let client = Client::builder()
        .timeout(Duration::from_secs(5))
        .connect(
            HttpTransport::builder(&server.url)
                .standalone_stream(false)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(!client.is_stateless());
    assert_eq!(client.protocol_version().as_str(), "2025-06-18");

    // Only stateless wanted: a clear refusal instead.
    let err = Client::builder()
        .era(Era::StatelessOnly)
        .connect(HttpTransport::new(&server.url).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unsupported(_)), "{err}");
}

#[tokio::test]
async fn a_legacy_server_refusing_the_probe_without_a_modern_body_gets_initialize() {
    let server = http_server(|request| match request.method() {
        "initialize" => {
            assert_eq!(
                request.header("mcp-method"),
                None,
                "session era: no new headers"
            );
            ok(
                request,
                json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                    "serverInfo": {"name": "legacy", "version": "0"}}),
            )
        }
        "notifications/initialized" => Reply::Text(202, ""),
        "tools/list" => ok(request, json!({"tools": []})),
        // What a session-era server says to anything before initialize.
        _ => Reply::Json(
            400,
            json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": -32000, "message": "Bad Request: Server not initialized"}}),
        ),
    })
    .await;
    let client = Client::builder()
        .timeout(Duration::from_secs(5))
        .connect(
            HttpTransport::builder(&server.url)
                .standalone_stream(false)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(!client.is_stateless());
    assert_eq!(client.server().server_info.name, "legacy");
    client.list_tools(None).await.unwrap();
    let list = &server.posts("tools/list")[0];
    // Session era: none of the stateless era's `_meta`, only the trace
    // context every request carries (SEP-414).
    let meta = list.body["params"]["_meta"].as_object().unwrap();
    assert_eq!(meta.keys().collect::<Vec<_>>(), ["traceparent"]);
    assert_eq!(server.posts("server/discover").len(), 1);

    // Even a plain-text 400.
    let plain = http_server(|request| match request.method() {
        "initialize" => ok(
            request,
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                "serverInfo": {"name": "plain", "version": "0"}}),
        ),
        "notifications/initialized" => Reply::Text(202, ""),
        _ => Reply::Text(400, "no"),
    })
    .await;
    let client = Client::builder()
        .connect(
            HttpTransport::builder(&plain.url)
                .standalone_stream(false)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(client.server().server_info.name, "plain");
}

#[tokio::test]
async fn input_requests_are_answered_and_the_state_is_echoed_byte_for_byte() {
    // Escapes, non-ASCII and JSON-looking text: the state must come back
    // exactly as sent.
    let state = "{\"a\":1}\u{2603} \\n\t=?base64?x?= ";
    let server = stateless_server(move |request| {
        let params = &request.body["params"];
        match params.get("requestState").and_then(Value::as_str) {
            None => ok(
                request,
                json!({"resultType": "input_required", "requestState": state,
                    "inputRequests": {
                        "who": {"method": "elicitation/create", "params": {
                            "mode": "form", "message": "Who?",
                            "requestedSchema": {"type": "object", "properties": {
                                "name": {"type": "string"},
                                "age": {"type": "integer", "default": 36}}}}},
                        "where": {"method": "roots/list"}}}),
            ),
            Some(echoed) if echoed == state => ok(request, text_result("thanks")),
            Some(other) => panic!("the state came back changed: {other:?}"),
        }
    })
    .await;
    let client = connect(&server.url, Answers).await;
    let result = client.call_tool("greet", json!({"x": 1})).await.unwrap();
    assert_eq!(result.content.len(), 1);

    let calls = server.posts("tools/call");
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0].body["id"], calls[1].body["id"], "a new id");
    let retry = &calls[1].body["params"];
    assert_eq!(retry["name"], "greet");
    assert_eq!(retry["arguments"], json!({"x": 1}));
    assert_eq!(
        retry["inputResponses"]["who"],
        json!({"action": "accept", "content": {"name": "Ada", "age": 36}})
    );
    assert_eq!(
        retry["inputResponses"]["where"]["roots"][0]["uri"],
        "file:///work"
    );
    assert!(calls[0].body["params"].get("inputResponses").is_none());
}

#[tokio::test]
async fn no_request_state_is_sent_when_the_server_sent_none() {
    let server = stateless_server(|request| {
        if request.body["params"].get("inputResponses").is_none() {
            ok(
                request,
                json!({"resultType": "input_required", "inputRequests": {
                    "r": {"method": "roots/list"}}}),
            )
        } else {
            ok(request, text_result("done"))
        }
    })
    .await;
    let client = connect(&server.url, Answers).await;
    client.call_tool("t", json!({})).await.unwrap();
    let calls = server.posts("tools/call");
    assert_eq!(calls.len(), 2);
    assert!(calls[1].body["params"].get("requestState").is_none());
}

#[tokio::test]
async fn bad_input_required_results_are_errors() {
    let server = stateless_server(|request| {
        let name = request.body["params"]["name"].as_str().unwrap_or_default();
        match name {
            "unknown_type" => ok(request, json!({"resultType": "partial", "content": []})),
            "neither" => ok(request, json!({"resultType": "input_required"})),
            "forever" => ok(
                request,
                json!({"resultType": "input_required", "requestState": "again"}),
            ),
            "undeclared" => ok(
                request,
                json!({"resultType": "input_required", "inputRequests": {
                    "s": {"method": "sampling/createMessage", "params": {
                        "messages": [], "maxTokens": 1}}}}),
            ),
            _ => ok(request, json!({"content": []})), // no resultType: complete
        }
    })
    .await;
    let client = connect(&server.url, Answers).await;

    let err = client
        .call_tool("unknown_type", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    assert!(err.to_string().contains("partial"), "{err}");

    let err = client.call_tool("neither", json!({})).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("neither inputRequests nor requestState"),
        "{err}"
    );

    let err = client.call_tool("forever", json!({})).await.unwrap_err();
    assert!(err.to_string().contains("rounds"), "{err}");
    let rounds = server
        .posts("tools/call")
        .iter()
        .filter(|c| c.body["params"]["name"] == "forever")
        .count();
    assert_eq!(rounds, MAX_INPUT_ROUNDS + 1);

    // Sampling was not declared: the handler is not asked, the call fails.
    let err = client.call_tool("undeclared", json!({})).await.unwrap_err();
    match err {
        ClientError::InputRequest { key, method, error } => {
            assert_eq!(
                (key.as_str(), method.as_str()),
                ("s", "sampling/createMessage")
            );
            assert_eq!(error.code, mcp_sdk::ErrorCode::METHOD_NOT_FOUND);
        }
        other => panic!("expected an input request error, got {other}"),
    }

    let fine = client.call_tool("plain", json!({})).await.unwrap();
    assert!(fine.content.is_empty());
    // input_required where it is not allowed.
    let server = stateless_server(|request| {
        ok(
            request,
            json!({"resultType": "input_required", "requestState": "s"}),
        )
    })
    .await;
    let client = connect(&server.url, Answers).await;
    let err = client.list_tools(None).await.unwrap_err();
    assert!(err.to_string().contains("only tools/call"), "{err}");
}

#[tokio::test]
async fn x_mcp_header_arguments_become_headers_and_invalid_tools_are_dropped() {
    let server = stateless_server(|request| match request.method() {
        "tools/list" => ok(
            request,
            json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "private", "tools": [
                {"name": "good", "inputSchema": {"type": "object", "properties": {
                    "region": {"type": "string", "x-mcp-header": "Region"},
                    "n": {"type": "integer", "x-mcp-header": "N"},
                    "flag": {"type": "boolean", "x-mcp-header": "Flag"},
                    "greeting": {"type": "string", "x-mcp-header": "Greeting"},
                    "nested": {"type": "object", "properties": {
                        "deep": {"type": "string", "x-mcp-header": "Deep"}}},
                    "plain": {"type": "string"}}}},
                {"name": "number", "inputSchema": {"type": "object", "properties": {
                    "x": {"type": "number", "x-mcp-header": "X"}}}},
                {"name": "duplicate", "inputSchema": {"type": "object", "properties": {
                    "a": {"type": "string", "x-mcp-header": "Same"},
                    "b": {"type": "string", "x-mcp-header": "same"}}}},
                {"name": "through_ref", "inputSchema": {"type": "object",
                    "$defs": {"r": {"type": "string", "x-mcp-header": "R"}},
                    "properties": {"r": {"$ref": "https://example.com/never-fetched.json"}}}},
                {"name": "bad_token", "inputSchema": {"type": "object", "properties": {
                    "a": {"type": "string", "x-mcp-header": "A B"}}}},
            ]}),
        ),
        _ => ok(request, text_result("ok")),
    })
    .await;
    let client = connect(&server.url, ()).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["good"]);

    client
        .call_tool(
            "good",
            json!({"region": "us-west1", "n": 42, "flag": false, "greeting": " Hello, 世界",
                "nested": {"deep": "=?base64?x?="}, "plain": "not mirrored"}),
        )
        .await
        .unwrap();
    client
        .call_tool("good", json!({"region": null, "n": 7}))
        .await
        .unwrap();
    let calls = server.posts("tools/call");
    let first = &calls[0];
    assert_eq!(first.header("mcp-param-region"), Some("us-west1"));
    assert_eq!(first.header("mcp-param-n"), Some("42"));
    assert_eq!(first.header("mcp-param-flag"), Some("false"));
    assert_eq!(
        first.header("mcp-param-greeting"),
        Some("=?base64?IEhlbGxvLCDkuJbnlYw=?=")
    );
    assert_eq!(
        first.header("mcp-param-deep"),
        Some("=?base64?PT9iYXNlNjQ/eD89?=")
    );
    assert_eq!(first.header("mcp-param-plain"), None);
    let second = &calls[1];
    assert_eq!(second.header("mcp-param-region"), None, "null: omitted");
    assert_eq!(second.header("mcp-param-flag"), None, "absent: omitted");
    assert_eq!(second.header("mcp-param-n"), Some("7"));
}

#[tokio::test]
async fn a_header_mismatch_rereads_tools_list_and_retries_once() {
    let server = stateless_server(|request| match request.method() {
        "tools/list" => ok(
            request,
            json!({"tools": [{"name": "t", "inputSchema": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"}}}}]}),
        ),
        _ if request.header("mcp-param-region").is_none() => Reply::Json(
            400,
            json!({"jsonrpc": "2.0", "id": request.body["id"], "error": {
                "code": -32020, "message": "Header mismatch: Mcp-Param-Region is missing"}}),
        ),
        _ => ok(request, text_result("ok")),
    })
    .await;
    let client = connect(&server.url, ()).await;
    // Never listed: the first call lacks the header, the retry has it.
    client
        .call_tool("t", json!({"region": "eu"}))
        .await
        .unwrap();
    assert_eq!(server.posts("tools/list").len(), 1);
    assert_eq!(server.posts("tools/call").len(), 2);
}

#[tokio::test]
async fn results_are_cached_for_their_ttl_and_forgotten_on_list_changed() {
    let server = stateless_server(|request| match request.method() {
        "tools/list" => ok(
            request,
            json!({"resultType": "complete", "ttlMs": 60000, "cacheScope": "public",
                "tools": [{"name": "t", "inputSchema": {"type": "object"}}]}),
        ),
        "prompts/list" => ok(
            request,
            json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "public", "prompts": []}),
        ),
        "resources/read" => ok(
            request,
            json!({"resultType": "complete", "ttlMs": -5, "cacheScope": "private", "contents": []}),
        ),
        "subscriptions/listen" => Reply::Stream(vec![
            json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": request.body["id"]},
                    "notifications": {"toolsListChanged": true}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
                "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": request.body["id"]}}}),
        ]),
        _ => ok(request, text_result("ok")),
    })
    .await;
    let client = connect(&server.url, ()).await;
    client.list_tools(None).await.unwrap();
    client.list_tools(None).await.unwrap();
    assert_eq!(server.posts("tools/list").len(), 1, "fresh for 60 s");
    client.list_prompts(None).await.unwrap();
    client.list_prompts(None).await.unwrap();
    assert_eq!(server.posts("prompts/list").len(), 2, "ttlMs 0");
    client.read_resource("file:///x").await.unwrap();
    client.read_resource("file:///x").await.unwrap();
    assert_eq!(server.posts("resources/read").len(), 2, "negative is 0");

    // A list_changed notification forgets the cached list.
    let filter = SubscriptionFilter::default().with_tools_list_changed(true);
    let mut subscription = client.listen(filter).await.unwrap();
    assert_eq!(subscription.acknowledged().tools_list_changed, Some(true));
    let changed = subscription.next().await.unwrap();
    assert_eq!(changed.method, "notifications/tools/list_changed");
    client.list_tools(None).await.unwrap();
    assert_eq!(server.posts("tools/list").len(), 2);
    let listen = &server.posts("subscriptions/listen")[0];
    assert_eq!(
        listen.body["params"]["notifications"]["toolsListChanged"],
        true
    );
    assert_eq!(
        listen.body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
        "2026-07-28"
    );

    // Dropping the subscription closes its stream: that is the
    // cancellation over HTTP, no notifications/cancelled.
    drop(subscription);
    tokio::time::timeout(Duration::from_secs(5), server.closed.notified())
        .await
        .expect("the listen stream was closed");
    assert!(server.posts("notifications/cancelled").is_empty());
}

/// A scripted stdio server: answers each line with what `script` says (any
/// number of lines), and reports every line it got.
fn stdio_server(
    script: impl Fn(&Value) -> Vec<Value> + Send + 'static,
) -> (IoTransport, mpsc::UnboundedReceiver<Value>) {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (got_tx, got) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(server_end);
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let msg: Value = serde_json::from_str(&line).unwrap();
            let _ = got_tx.send(msg.clone());
            for answer in script(&msg) {
                if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    });
    let (read, write) = tokio::io::split(client_end);
    (IoTransport::new(read, write), got)
}

#[tokio::test]
async fn stdio_subscriptions_are_tagged_and_cancelled_with_a_notification() {
    let (transport, mut got) = stdio_server(|msg| {
        let id = msg["id"].clone();
        match msg["method"].as_str() {
            Some("server/discover") => {
                vec![json!({"jsonrpc": "2.0", "id": id, "result": discover_result()})]
            }
            Some("subscriptions/listen") => {
                let meta = json!({"io.modelcontextprotocol/subscriptionId": id});
                vec![
                    // Another subscription's notification first: not ours.
                    json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
                        "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": 999}}}),
                    json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                        "params": {"_meta": meta, "notifications": {
                            "resourceSubscriptions": ["file:///a"]}}}),
                    json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                        "params": {"_meta": meta, "uri": "file:///a"}}),
                ]
            }
            _ => vec![],
        }
    });
    let client = Client::connect(transport).await.unwrap();
    assert!(client.is_stateless());
    let filter = SubscriptionFilter::default()
        .with_resource_subscriptions(vec!["file:///a".into(), "file:///b".into()]);
    let mut subscription = client.listen(filter).await.unwrap();
    assert_eq!(
        subscription.acknowledged().resource_subscriptions,
        Some(vec!["file:///a".to_owned()])
    );
    let updated = subscription.next().await.unwrap();
    assert_eq!(updated.method, "notifications/resources/updated");
    assert_eq!(updated.params.unwrap()["uri"], "file:///a");
    assert!(subscription.end().is_none());
    let id = serde_json::to_value(subscription.id()).unwrap();
    drop(subscription);

    // A subscription that outlives its client ends with it.
    let mut second = client.listen(SubscriptionFilter::default()).await.unwrap();
    second.next().await.unwrap(); // the resources/updated the script sends
    drop(client);
    let end = tokio::time::timeout(Duration::from_secs(5), second.next())
        .await
        .expect("the subscription ended with the client");
    assert!(end.is_none());
    assert!(matches!(second.end(), Some(Err(ClientError::Closed(_)))));

    let cancelled = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let msg = got.recv().await.unwrap();
            if msg["method"] == "notifications/cancelled" {
                return msg;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(cancelled["params"]["requestId"], id);
}

#[tokio::test]
async fn a_silent_stdio_server_is_probed_then_initialized() {
    let (transport, mut got) = stdio_server(|msg| {
        let id = msg["id"].clone();
        match msg["method"].as_str() {
            Some("initialize") => vec![json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "serverInfo": {"name": "quiet", "version": "0"}}})],
            _ => vec![], // says nothing to what it does not know
        }
    });
    let client = Client::builder()
        .probe_timeout(Duration::from_millis(200))
        .connect(transport)
        .await
        .unwrap();
    assert!(!client.is_stateless());
    assert_eq!(client.server().server_info.name, "quiet");
    assert_eq!(got.recv().await.unwrap()["method"], "server/discover");
}

#[tokio::test]
async fn a_stdio_server_answering_the_probe_with_method_not_found_is_initialized() {
    let (transport, _got) = stdio_server(|msg| {
        let id = msg["id"].clone();
        match msg["method"].as_str() {
            Some("initialize") => vec![json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "serverInfo": {"name": "old", "version": "0"}}})],
            Some(_) if !id.is_null() => vec![json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": "Method not found"}})],
            _ => vec![],
        }
    });
    let client = Client::connect(transport).await.unwrap();
    assert!(!client.is_stateless());
    assert_eq!(client.protocol_version().as_str(), "2025-06-18");
}

#[tokio::test]
async fn over_http_a_timeout_closes_the_stream_and_a_broken_stream_is_sent_again() {
    let cut = Arc::new(Mutex::new(false));
    let server = stateless_server(
        move |request| match request.body["params"]["name"].as_str() {
            Some("slow") => Reply::Stream(vec![json!({"jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": 1, "progress": 1}})]),
            Some("flaky") => {
                let mut cut = cut.lock().unwrap();
                if *cut {
                    ok(request, text_result("second time lucky"))
                } else {
                    *cut = true;
                    Reply::Cut
                }
            }
            _ => ok(request, text_result("ok")),
        },
    )
    .await;
    let client = connect(&server.url, ()).await;
    let options = mcp_sdk_client::RequestOptions::new().timeout(Duration::from_millis(300));
    let err = client
        .call_tool_with("slow", json!({}), options)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    tokio::time::timeout(Duration::from_secs(5), server.closed.notified())
        .await
        .expect("the timed-out request's stream was closed");
    assert!(server.posts("notifications/cancelled").is_empty());

    let result = client.call_tool("flaky", json!({})).await.unwrap();
    assert_eq!(result.content.len(), 1);
    let calls: Vec<_> = server
        .posts("tools/call")
        .into_iter()
        .filter(|c| c.body["params"]["name"] == "flaky")
        .collect();
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0].body["id"], calls[1].body["id"]);
}

#[tokio::test]
async fn over_stdio_a_timed_out_stateless_request_is_cancelled_with_a_notification() {
    let (transport, mut got) = stdio_server(|msg| {
        let id = msg["id"].clone();
        match msg["method"].as_str() {
            Some("server/discover") => {
                vec![json!({"jsonrpc": "2.0", "id": id, "result": discover_result()})]
            }
            _ => vec![], // never answers anything else
        }
    });
    let client = Client::builder()
        .timeout(Duration::from_millis(300))
        .connect(transport)
        .await
        .unwrap();
    let err = client.call_tool("slow", json!({})).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    let mut call_id = None;
    let cancelled = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let msg = got.recv().await.unwrap();
            if msg["method"] == "tools/call" {
                call_id = Some(msg["id"].clone());
            }
            if msg["method"] == "notifications/cancelled" {
                return msg;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(Some(cancelled["params"]["requestId"].clone()), call_id);
}

/// A stdio server whose `subscriptions/listen` sends `updates` (URIs) after
/// its acknowledgement, then (with `end`) its graceful end; `tools/list`
/// comes after, so its answer says the client read all of that.
fn listen_server(updates: Vec<String>, end: bool) -> (IoTransport, mpsc::UnboundedReceiver<Value>) {
    stdio_server(move |msg| {
        let id = msg["id"].clone();
        let meta = json!({"io.modelcontextprotocol/subscriptionId": id});
        match msg["method"].as_str() {
            Some("server/discover") => {
                vec![json!({"jsonrpc": "2.0", "id": id, "result": discover_result()})]
            }
            Some("subscriptions/listen") => {
                let mut out = vec![json!({"jsonrpc": "2.0",
                    "method": "notifications/subscriptions/acknowledged",
                    "params": {"_meta": meta, "notifications": msg["params"]["notifications"]}})];
                out.extend(updates.iter().map(|uri| {
                    json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                        "params": {"_meta": meta, "uri": uri}})
                }));
                if end {
                    out.push(json!({"jsonrpc": "2.0", "id": id,
                        "result": {"resultType": "complete", "_meta": meta}}));
                }
                out
            }
            Some("tools/list") => vec![json!({"jsonrpc": "2.0", "id": id,
                "result": {"resultType": "complete", "tools": []}})],
            _ => vec![],
        }
    })
}

/// Issue 17: a subscription read more slowly than its notifications came
/// dropped those that did not fit its queue (256), silently: its user
/// never heard that `b` changed. Those that wait now are told once per
/// kind and URI.
#[tokio::test]
async fn a_slow_subscription_hears_of_every_uri_that_changed() {
    let mut updates = vec!["file:///a".to_owned(); 300];
    updates.push("file:///b".to_owned());
    let (transport, _got) = listen_server(updates, true);
    let client = Client::connect(transport).await.unwrap();
    let filter = SubscriptionFilter::default()
        .with_resource_subscriptions(vec!["file:///a".into(), "file:///b".into()]);
    let mut subscription = client.listen(filter).await.unwrap();
    // Read by the client, not yet by us.
    client.list_tools(None).await.unwrap();
    let mut heard = Vec::new();
    while let Some(n) = subscription.next().await {
        heard.push(n.params.unwrap()["uri"].as_str().unwrap().to_owned());
    }
    assert_eq!(heard.len(), 256 + 1 + 1, "the queue, then a and b once");
    assert_eq!(heard.last().map(String::as_str), Some("file:///b"));
    assert!(matches!(subscription.end(), Some(Ok(()))));
}

/// Past [`MAX_WAITING_KINDS`] distinct notifications waiting, the
/// subscription ends with an error saying it fell behind (and is
/// cancelled), rather than skip any.
#[tokio::test]
async fn a_subscription_too_far_behind_ends_saying_so() {
    let updates: Vec<String> = (0..256 + mcp_sdk_client::MAX_WAITING_KINDS + 1)
        .map(|n| format!("file:///{n}"))
        .collect();
    let (transport, mut got) = listen_server(updates, false);
    let client = Client::connect(transport).await.unwrap();
    let filter =
        SubscriptionFilter::default().with_resource_subscriptions(vec!["file:///0".into()]);
    let mut subscription = client.listen(filter).await.unwrap();
    client.list_tools(None).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        let mut heard = 0;
        while subscription.next().await.is_some() {
            heard += 1;
        }
        heard
    })
    .await
    .expect("the subscription ends");
    assert_eq!(heard, 256 + mcp_sdk_client::MAX_WAITING_KINDS);
    match subscription.end() {
        Some(Err(ClientError::Protocol(why))) => assert!(why.contains("fell behind"), "{why}"),
        other => panic!("{other:?}"),
    }
    let cancelled = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let msg = got.recv().await.unwrap();
            if msg["method"] == "notifications/cancelled" {
                return msg;
            }
        }
    })
    .await
    .expect("the subscription is cancelled at the server");
    assert_eq!(
        cancelled["params"]["requestId"],
        serde_json::to_value(subscription.id()).unwrap()
    );
}
