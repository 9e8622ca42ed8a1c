//! Our client against our server over Streamable HTTP on a real socket
//! (JSON and SSE answers, server-to-client requests, a stream dropped and
//! resumed, session expiry and DELETE, the legacy fallback), and against
//! hand-written servers that misbehave.

use mcp_sdk::{
    ClientCapabilities, CreateMessageParams, CreateMessageResult, Error, ErrorCode, LoggingLevel,
    SamplingCapability, Tool,
};
use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{
    async_trait, Client, ClientError, ClientHandler, Era, RequestContext, RequestOptions,
};
use mcp_sdk_server::http::{HttpConfig, ResponseMode, StreamableHttpService};
use mcp_sdk_server::{NoArguments, RequestContext as ServerContext, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn router() -> Router {
    Router::new()
        .tool(Tool::named("hello", "Says hello"), |_: NoArguments| async {
            "hello"
        })
        .tool(
            Tool::named("steps", "Reports progress, drops its stream, goes on"),
            |_: NoArguments, cx: ServerContext| async move {
                cx.progress(1.0, Some(4.0), None).await?;
                cx.progress(2.0, Some(4.0), None).await?;
                cx.close_sse_stream().await;
                cx.progress(3.0, Some(4.0), None).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                cx.progress(4.0, Some(4.0), None).await?;
                Ok::<_, Error>("all steps done")
            },
        )
        .tool(
            Tool::named("sample", "Asks the client's model"),
            |_: NoArguments, cx: ServerContext| async move {
                let answer = cx
                    .sample(serde_json::from_value::<CreateMessageParams>(json!({
                        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                        "maxTokens": 5,
                    })).unwrap())
                    .await?;
                Ok::<_, Error>(format!("model said via {}", answer.model))
            },
        )
        .tool(
            Tool::named("log", "Logs"),
            |_: NoArguments, cx: ServerContext| async move {
                cx.log(LoggingLevel::Error, "bad news").await?;
                Ok::<_, Error>("logged")
            },
        )
}

async fn serve(config: HttpConfig) -> (SocketAddr, StreamableHttpService) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = StreamableHttpService::new(router(), config);
    tokio::spawn(mcp_sdk_server::http::serve_with_shutdown(
        listener,
        "/mcp",
        service.clone(),
        std::future::pending(),
    ));
    (addr, service)
}

fn config(mode: ResponseMode) -> HttpConfig {
    HttpConfig {
        response_mode: mode,
        sse_retry: Duration::from_millis(50),
        ..Default::default()
    }
}

struct Model;

#[async_trait]
impl ClientHandler for Model {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default().with_sampling(SamplingCapability::default())
    }

    async fn create_message(
        &self,
        _params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        Ok(serde_json::from_value(json!({
            "role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "fake",
        }))
        .unwrap())
    }
}

fn text(result: &mcp_sdk::CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap()[0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// These tests are about sessions (Mcp-Session-Id, the GET stream,
/// resumption, DELETE, server-to-client requests): the session era, chosen
/// explicitly, whatever else the server speaks.
async fn session(transport: HttpTransport) -> Result<Client, ClientError> {
    Client::builder()
        .era(Era::SessionOnly)
        .connect(transport)
        .await
}

#[tokio::test]
async fn json_and_sse_answers_and_server_requests() {
    for mode in [ResponseMode::Json, ResponseMode::Sse, ResponseMode::Auto] {
        let (addr, service) = serve(config(mode)).await;
        let transport = HttpTransport::new(format!("http://{addr}/mcp")).unwrap();
        let client = Client::builder()
            .era(Era::SessionOnly)
            .handler(Model)
            .connect(transport)
            .await
            .unwrap();
        assert_eq!(service.session_count(), 1);
        assert_eq!(
            text(&client.call_tool("hello", json!({})).await.unwrap()),
            "hello"
        );
        // The server's sampling request travels on the call's SSE stream (or
        // the standalone GET stream in JSON mode); the answer is POSTed.
        if mode != ResponseMode::Json {
            let sampled = client.call_tool("sample", json!({})).await.unwrap();
            assert_eq!(text(&sampled), "model said via fake", "{mode:?}");
        }
        let err = client.call_tool("missing", json!({})).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS), "{err}");

        // close() deletes the session on the server.
        client.close().await;
        assert_eq!(service.session_count(), 0, "{mode:?}");
        assert!(matches!(
            client.ping().await.unwrap_err(),
            ClientError::Closed(_)
        ));
    }
}

#[tokio::test]
async fn a_dropped_stream_is_resumed_without_losing_a_message() {
    let (addr, _service) = serve(config(ResponseMode::Sse)).await;
    let client = session(HttpTransport::new(format!("http://{addr}/mcp")).unwrap())
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = RequestOptions::new().on_progress({
        let seen = seen.clone();
        move |p| seen.lock().unwrap().push(p.progress)
    });
    let result = client
        .call_tool_with("steps", json!({}), options)
        .await
        .unwrap();
    assert_eq!(text(&result), "all steps done");
    assert_eq!(*seen.lock().unwrap(), [1.0, 2.0, 3.0, 4.0]);
}

#[tokio::test]
async fn an_expired_session_is_reported_as_such() {
    let (addr, service) = serve(HttpConfig {
        session_idle_timeout: Duration::from_millis(200),
        ..config(ResponseMode::Json)
    })
    .await;
    let transport = HttpTransport::builder(format!("http://{addr}/mcp"))
        .standalone_stream(false)
        .build()
        .unwrap();
    let client = session(transport).await.unwrap();
    client.ping().await.unwrap();
    // Wait (without a timed assertion) until the server has expired it.
    while service.session_count() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err, ClientError::SessionExpired(_)), "{err}");
    assert!(err.to_string().contains("connect again"), "{err}");

    // A new client on a new transport starts a new session.
    let again = session(HttpTransport::new(format!("http://{addr}/mcp")).unwrap())
        .await
        .unwrap();
    again.ping().await.unwrap();
}

#[tokio::test]
async fn custom_headers_reach_the_server_and_a_bad_header_is_refused() {
    let (addr, _service) = serve(config(ResponseMode::Json)).await;
    // A Host header our server refuses (DNS-rebinding protection): the
    // client reports the 403 clearly.
    let transport = HttpTransport::builder(format!("http://{addr}/mcp"))
        .header("origin", "http://evil.example")
        .legacy_fallback(false)
        .build()
        .unwrap();
    let err = Client::connect(transport).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Http { status: 403, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("evil.example"), "{err}");

    let err = HttpTransport::builder("http://127.0.0.1/mcp")
        .header("bad header", "x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("invalid header name"), "{err}");
    let err = HttpTransport::new("not a url").unwrap_err();
    assert!(err.to_string().contains("invalid URL"), "{err}");
}

#[tokio::test]
async fn old_servers_are_reached_through_the_legacy_transport() {
    let (addr, _service) = serve(config(ResponseMode::Auto)).await;
    // Our server's 2024-11-05 endpoint is /sse: the POST there is refused
    // with 4xx, and the client falls back to GET + endpoint event.
    let client = Client::builder()
        .handler(Model)
        .connect(HttpTransport::new(format!("http://{addr}/sse")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        text(&client.call_tool("hello", json!({})).await.unwrap()),
        "hello"
    );
    let sampled = client.call_tool("sample", json!({})).await.unwrap();
    assert_eq!(text(&sampled), "model said via fake");
}

/// A server that answers every request with the same raw HTTP response,
/// except `initialize`, which it answers properly.
async fn misbehaving(answer: &'static str) -> SocketAddr {
    let get = |_: &str| {
        "HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            .to_owned()
    };
    scripted(answer, get).await
}

/// A hand-written session-era server: `initialize` answered properly,
/// notifications accepted, a GET or DELETE answered by `get`, any other
/// request by `answer`. One request per connection.
async fn scripted(
    answer: &'static str,
    get: impl Fn(&str) -> String + Send + Sync + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let get = Arc::new(get);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let get = get.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut len = 0;
                // Read the head and a body of Content-Length bytes.
                let request = loop {
                    let Ok(n) = socket.read(&mut buf[len..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    len += n;
                    let text = String::from_utf8_lossy(&buf[..len]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if len >= end + 4 + length {
                            break text;
                        }
                    }
                };
                let response = if request.starts_with("POST") && request.contains("\"initialize\"")
                {
                    let id: Value =
                        serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..])
                            .unwrap();
                    let body = json!({"jsonrpc": "2.0", "id": id["id"], "result": {
                        "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                        "serverInfo": {"name": "misbehaving", "version": "0"}}})
                    .to_string();
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                } else if request.starts_with("POST") && !request.contains("\"id\"") {
                    "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_owned()
                } else if request.starts_with("GET") || request.starts_with("DELETE") {
                    get(&request)
                } else {
                    answer.to_owned()
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

async fn call_misbehaving(answer: &'static str) -> ClientError {
    let addr = misbehaving(answer).await;
    let client = Client::builder()
        .timeout(Duration::from_millis(500))
        .connect(HttpTransport::new(format!("http://{addr}/mcp")).unwrap())
        .await
        .unwrap();
    let err = client.call_tool("x", json!({})).await.unwrap_err();
    // The client stays usable for the next call.
    let again = client.call_tool("x", json!({})).await.unwrap_err();
    assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&again));
    err
}

/// Hears the server's log messages.
struct Logs(tokio::sync::mpsc::UnboundedSender<String>);

#[async_trait]
impl ClientHandler for Logs {
    async fn on_log(&self, params: mcp_sdk::LoggingMessageNotificationParams) {
        let _ = self.0.send(params.data.to_string());
    }
}

#[tokio::test]
async fn a_standalone_stream_whose_events_are_gone_is_reopened_without_them() {
    // The first GET stream carries one event and ends; resuming after it
    // is refused with 410 (the server keeps the session, not the events);
    // a GET without Last-Event-ID opens a new stream with a later message.
    let log = |id: &str, text: &str| {
        let data = json!({"jsonrpc": "2.0", "method": "notifications/message",
            "params": {"level": "info", "data": text}});
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nretry: 20\nid: {id}\ndata: {data}\n\n")
    };
    let opened = Arc::new(Mutex::new(0));
    let get = move |request: &str| {
        if request.to_ascii_lowercase().contains("last-event-id:") {
            let body = "Gone: the events after \"0:5\" are no longer kept";
            return format!(
                "HTTP/1.1 410 Gone\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        let mut opened = opened.lock().unwrap();
        *opened += 1;
        match *opened {
            1 => log("0:5", "before the gap"),
            _ => log("0:9", "after the gap"),
        }
    };
    let addr = scripted(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        get,
    )
    .await;
    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let _client = Client::builder()
        .era(Era::SessionOnly)
        .handler(Logs(tx))
        .connect(HttpTransport::new(format!("http://{addr}/mcp")).unwrap())
        .await
        .unwrap();
    let wait = Duration::from_secs(20);
    let first = tokio::time::timeout(wait, heard.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(first.contains("before the gap"), "{first}");
    let next = tokio::time::timeout(wait, heard.recv())
        .await
        .expect("the stream is reopened after the refused resumption")
        .unwrap();
    assert!(next.contains("after the gap"), "{next}");
}

#[tokio::test]
async fn a_5xx_is_a_clear_http_error() {
    let err = call_misbehaving("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 11\r\nconnection: close\r\n\r\nbe back soon").await;
    match &err {
        ClientError::Http { status, message } => {
            assert_eq!(*status, 503);
            assert!(message.contains("be back"), "{message}");
        }
        other => panic!("expected an HTTP error, got {other}"),
    }
}

#[tokio::test]
async fn garbage_json_is_a_protocol_error() {
    let err = call_misbehaving("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{garbage}").await;
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
}

#[tokio::test]
async fn an_sse_event_with_invalid_json_then_a_closed_stream_fails_the_call() {
    let err = call_misbehaving("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {not json\n\n").await;
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
    assert!(err.to_string().contains("cannot be resumed"), "{err}");
}

#[tokio::test]
async fn an_answer_to_another_id_leaves_the_call_to_time_out() {
    let err = call_misbehaving("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 38\r\nconnection: close\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":777,\"result\":{}}").await;
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    // The probe fails below HTTP: that is the error, no fallback.
    let err = Client::connect(HttpTransport::new(format!("http://{addr}/mcp")).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
}
