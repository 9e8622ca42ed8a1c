//! The Streamable HTTP service mounted in an axum app, behind the app's own
//! middleware, beside its own routes: a tool reads what the middleware put
//! in the request (a typed extension) and the request's headers, in both
//! eras; per-session data; a panicking tool; the service after shutdown.

mod support;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use mcp_sdk::Tool;
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::{NoArguments, RequestContext, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use support::{body_text, json_body, request, request_to};
use tokio::net::TcpListener;

/// What the app's authentication layer learned about the caller.
#[derive(Clone, Debug)]
struct Claims {
    user: String,
}

/// The app's own middleware: a bearer token becomes [`Claims`]; no token
/// is 401, before MCP sees the request.
async fn authenticate(mut req: Request, next: Next) -> Response {
    let user = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(user) = user else {
        return (http::StatusCode::UNAUTHORIZED, "who are you?").into_response();
    };
    req.extensions_mut().insert(Claims { user });
    next.run(req).await
}

/// Counts the calls of one session.
#[derive(Clone, Default)]
struct Visits(std::sync::Arc<std::sync::atomic::AtomicUsize>);

fn tools() -> Router {
    Router::new()
        .tool(
            Tool::named("whoami", "Who the app's middleware says is calling"),
            |_: NoArguments, ctx: RequestContext| async move {
                let user = ctx
                    .extensions()
                    .get::<Claims>()
                    .map(|c| c.user.clone())
                    .unwrap_or_else(|| "nobody".into());
                let parts = ctx.http_parts().expect("the request came over HTTP");
                let request_id = parts
                    .headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_owned();
                format!(
                    "{user} {request_id} {} sample={} elicit={}",
                    parts.method,
                    ctx.can_sample(),
                    ctx.can_elicit()
                )
            },
        )
        .tool(
            Tool::named("visit", "Counts this session's visits"),
            |_: NoArguments, ctx: RequestContext| async move {
                let visits = ctx.session_extensions().get_or_insert_with(Visits::default);
                let n = visits.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                n.to_string()
            },
        )
        .tool(
            Tool::named("explode", "Panics"),
            |_: NoArguments| async move {
                if true {
                    panic!("the tool blew up");
                }
                "unreachable"
            },
        )
}

/// The app: MCP at `/mcp` and a route of its own, both behind the
/// authentication layer.
async fn start() -> (SocketAddr, StreamableHttpService) {
    let mcp = StreamableHttpService::new(tools(), HttpConfig::default());
    let app = axum::Router::new()
        .route("/status", axum::routing::get(|| async { "app ok" }))
        .nest_service("/mcp", mcp.clone())
        .layer(middleware::from_fn(authenticate));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, mcp)
}

const POST: [(&str, &str); 2] = [
    ("content-type", "application/json"),
    ("accept", "application/json, text/event-stream"),
];

async fn post(
    addr: SocketAddr,
    extra: &[(&str, &str)],
    body: Value,
) -> (u16, Value, Option<String>) {
    let mut headers = POST.to_vec();
    headers.extend_from_slice(extra);
    let (resp, _conn) = request(addr, "POST", &headers, &body.to_string()).await;
    let status = resp.status().as_u16();
    let session = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, json_body(resp).await, session)
}

/// A session initialized as `user`, with elicitation declared.
async fn session(addr: SocketAddr, auth: &str) -> String {
    let (status, answer, session) = post(
        addr,
        &[("authorization", auth)],
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},
            "clientInfo":{"name":"t","version":"0"}}}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    session.expect("a session id")
}

fn call(id: i64, tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{}}})
}

fn text(answer: &Value) -> &str {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {answer}"))
}

#[tokio::test]
async fn a_tool_reads_what_the_apps_middleware_set_in_a_session() {
    let (addr, _mcp) = start().await;
    let id = session(addr, "Bearer alice").await;
    let (status, answer, _) = post(
        addr,
        &[
            ("authorization", "Bearer alice"),
            ("mcp-session-id", &id),
            ("x-request-id", "req-42"),
        ],
        call(1, "whoami"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(text(&answer), "alice req-42 POST sample=false elicit=true");

    // The middleware runs on every request, not once per session: another
    // caller's token on the same session is that caller.
    let (_, answer, _) = post(
        addr,
        &[("authorization", "Bearer bob"), ("mcp-session-id", &id)],
        call(2, "whoami"),
    )
    .await;
    assert_eq!(text(&answer), "bob none POST sample=false elicit=true");
}

#[tokio::test]
async fn a_stateless_tool_reads_what_the_apps_middleware_set() {
    let (addr, _mcp) = start().await;
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
    "name":"whoami","arguments":{},"_meta":{
        "io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientCapabilities":{"sampling":{}},
    }}});
    let (status, answer, session) = post(
        addr,
        &[
            ("authorization", "Bearer carol"),
            ("x-request-id", "r-7"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "whoami"),
        ],
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(session, None);
    assert_eq!(text(&answer), "carol r-7 POST sample=true elicit=false");
}

#[tokio::test]
async fn the_apps_middleware_guards_mcp_and_its_routes_sit_beside_it() {
    let (addr, _mcp) = start().await;
    let (resp, _conn) = request(addr, "POST", &POST, &call(1, "whoami").to_string()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(body_text(resp).await, "who are you?");
    let (resp, _conn) =
        request_to(addr, "GET", "/status", &[("authorization", "Bearer a")], "").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_text(resp).await, "app ok");
}

#[tokio::test]
async fn session_extensions_live_as_long_as_their_session() {
    let (addr, _mcp) = start().await;
    let auth = ("authorization", "Bearer a");
    let first = session(addr, auth.1).await;
    let second = session(addr, auth.1).await;
    let visit = |session: String, id: i64| async move {
        let (_, answer, _) = post(
            addr,
            &[auth, ("mcp-session-id", session.as_str())],
            call(id, "visit"),
        )
        .await;
        text(&answer).to_owned()
    };
    assert_eq!(visit(first.clone(), 1).await, "1");
    assert_eq!(visit(first.clone(), 2).await, "2");
    assert_eq!(visit(second.clone(), 3).await, "1");
    assert_eq!(visit(first, 4).await, "3");
}

#[tokio::test]
async fn a_panicking_tool_answers_an_error_and_the_session_lives_on() {
    let (addr, _mcp) = start().await;
    let auth = ("authorization", "Bearer a");
    let id = session(addr, auth.1).await;
    let headers = [auth, ("mcp-session-id", id.as_str())];
    let (status, answer, _) = post(addr, &headers, call(1, "explode")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("failed unexpectedly"));
    let (_, answer, _) = post(addr, &headers, call(2, "visit")).await;
    assert_eq!(text(&answer), "1");
}

#[tokio::test]
async fn a_service_shut_down_answers_503_and_opens_no_session() {
    let (addr, mcp) = start().await;
    let auth = ("authorization", "Bearer a");
    let id = session(addr, auth.1).await;
    assert_eq!(mcp.session_count(), 1);
    mcp.shutdown();
    assert_eq!(mcp.session_count(), 0);
    let (status, answer, _) = post(addr, &[auth, ("mcp-session-id", &id)], call(1, "visit")).await;
    assert_eq!(status, 503);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shut down"),
        "{answer}"
    );
    let (resp, _conn) = request(
        addr,
        "POST",
        &[POST[0], POST[1], auth],
        &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"t","version":"0"}}})
        .to_string(),
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(mcp.session_count(), 0);
}
