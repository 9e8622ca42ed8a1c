//! The stateless era (2026-07-28) on the same endpoint as sessions, over a
//! real TCP socket with a raw hyper client, and over an in-process pipe:
//! `server/discover`, the header and `_meta` checks and their errors, multi
//! round-trip requests with sealed `requestState`, per-request logging,
//! `subscriptions/listen`, cancellation by disconnect.

mod support;

use mcp_sdk::{
    GetPromptResult, InputRequest, InputResponse, LoggingLevel, Prompt, PromptMessage, Resource,
    Tool,
};
use mcp_sdk_server::http::{serve_with_shutdown, HttpConfig, StreamableHttpService};
use mcp_sdk_server::{
    NoArguments, PromptArguments, RequestContext, ResourceRequest, Router, SessionConfig,
};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use support::{json_body, request, Sse, LIMIT};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

const V: &str = "2026-07-28";

fn elicit(message: &str) -> InputRequest {
    serde_json::from_value(json!({"method": "elicitation/create", "params": {
        "message": message,
        "requestedSchema": {"type": "object", "properties": {"v": {"type": "string"}}}
    }}))
    .unwrap()
}

fn said(answer: &InputResponse) -> String {
    match answer {
        InputResponse::Elicit(e) => e.content.as_ref().unwrap()["v"]
            .as_str()
            .unwrap()
            .to_owned(),
        other => panic!("not an elicitation answer: {other:?}"),
    }
}

/// Reports each start of a handler, so a test sees replays and cancellations.
fn router(runs: mpsc::UnboundedSender<&'static str>) -> Router {
    let runs2 = runs.clone();
    Router::new()
        .with_list_changed()
        .tool(Tool::named("hello", "Says hi"), |_: NoArguments| async {
            "hi"
        })
        .resource(
            Resource::new("file:///a", "a"),
            |r: ResourceRequest| async move {
                Ok(mcp_sdk::ReadResourceResult::text(r.uri, "text/plain", "a"))
            },
        )
        .prompt(
            Prompt::new("greet", "A greeting"),
            |_: PromptArguments| async {
                Ok(GetPromptResult::new(vec![PromptMessage::user_text("hi")]))
            },
        )
        // Two questions, one after the other: three runs in all.
        .tool(
            Tool::new(
                "where",
                "Mirrors its arguments in headers",
                json!({"type": "object", "properties": {
                    "region": {"type": "string", "x-mcp-header": "Region"},
                    "limits": {"type": "object", "properties": {
                        "max": {"type": "integer", "x-mcp-header": "Max"},
                    }},
                }})
                .as_object()
                .unwrap()
                .clone(),
            ),
            |_: mcp_sdk::JsonObject| async { "here" },
        )
        .tool(
            Tool::named("interview", "Asks two questions"),
            move |_: NoArguments, ctx: RequestContext| {
                let runs = runs.clone();
                async move {
                    let _ = runs.send("interview");
                    let first = ctx.input("first", elicit("First?")).await?;
                    let second = ctx.input("second", elicit("Second?")).await?;
                    Ok::<_, mcp_sdk::Error>(format!("{} then {}", said(&first), said(&second)))
                }
            },
        )
        .tool(
            Tool::named("sample", "Asks the client's LLM"),
            |_: NoArguments, ctx: RequestContext| async move {
                let params = serde_json::from_value(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                    "maxTokens": 5,
                }))
                .unwrap();
                // The error is swallowed here on purpose: a missing
                // capability must still reach the client as -32021.
                let _ = ctx.sample(params).await;
                "sampled"
            },
        )
        .tool(
            Tool::named("chatty", "Progress and logs"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.progress(1.0, Some(2.0), None).await?;
                ctx.log(LoggingLevel::Debug, "debug detail").await?;
                ctx.log(LoggingLevel::Error, "an error line").await?;
                Ok::<_, mcp_sdk::Error>("chatted")
            },
        )
        .tool(
            Tool::named("change", "Changes the tool list"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.peer().notify_tool_list_changed().await?;
                Ok::<_, mcp_sdk::Error>("changed")
            },
        )
        .tool(
            Tool::named("hang", "Never answers"),
            move |_: NoArguments, _ctx: RequestContext| {
                let runs = runs2.clone();
                async move {
                    let _ = runs.send("hang");
                    let _guard = OnDrop(runs);
                    std::future::pending::<()>().await;
                    "unreachable"
                }
            },
        )
}

struct OnDrop(mpsc::UnboundedSender<&'static str>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.send("hang dropped");
    }
}

struct Server {
    addr: SocketAddr,
    service: StreamableHttpService,
    /// The router's own notifier, which the service must use.
    notifier: mcp_sdk_server::Notifier,
    runs: mpsc::UnboundedReceiver<&'static str>,
}

/// Serves `service` at `/mcp` on a loopback port of its own.
async fn serve(service: StreamableHttpService) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_with_shutdown(
        listener,
        "/mcp",
        service,
        std::future::pending(),
    ));
    addr
}

async fn start() -> Server {
    let (tx, runs) = mpsc::unbounded_channel();
    let router = router(tx);
    let notifier = router.notifier().clone();
    let service = StreamableHttpService::new(router, HttpConfig::default());
    let addr = serve(service.clone()).await;
    Server {
        addr,
        service,
        notifier,
        runs,
    }
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": V,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "0"},
    })
}

fn call(id: i64, tool: &str, extra: Value) -> Value {
    let mut params = json!({"name": tool, "arguments": {}, "_meta": meta()});
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

/// POSTs `body` with the standard headers its contents imply, replaced or
/// removed (empty value) by `overrides`.
async fn post(
    addr: SocketAddr,
    body: &Value,
    overrides: &[(&str, &str)],
) -> hyper::Response<hyper::body::Incoming> {
    let method = body["method"].as_str().unwrap_or_default().to_owned();
    let name = body["params"]["name"]
        .as_str()
        .or(body["params"]["uri"].as_str())
        .unwrap_or_default()
        .to_owned();
    let mut headers: Vec<(&str, String)> = vec![
        ("content-type", "application/json".into()),
        ("accept", "application/json, text/event-stream".into()),
        ("mcp-protocol-version", V.into()),
        ("mcp-method", method),
    ];
    if !name.is_empty() {
        headers.push(("mcp-name", name));
    }
    for (k, v) in overrides {
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        if !v.is_empty() {
            headers.push((k, (*v).to_owned()));
        }
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    request(addr, "POST", &headers, &body.to_string()).await.0
}

/// The status and JSON body of a POST answered with JSON.
async fn post_json(addr: SocketAddr, body: &Value, overrides: &[(&str, &str)]) -> (u16, Value) {
    let resp = post(addr, body, overrides).await;
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(
        resp.headers().get("mcp-session-id").is_none(),
        "no sessions in 2026-07-28"
    );
    (status, json_body(resp).await)
}

#[tokio::test]
async fn discover_and_a_plain_call_need_no_session() {
    let s = start().await;
    let discover = json!({"jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": {"_meta": meta()}});
    let (status, answer) = post_json(s.addr, &discover, &[]).await;
    assert_eq!(status, 200, "{answer}");
    let result = &answer["result"];
    assert_eq!(result["resultType"], "complete");
    let versions = result["supportedVersions"].as_array().unwrap();
    assert!(versions.contains(&json!(V)) && versions.contains(&json!("2025-11-25")));
    assert_eq!(result["capabilities"]["tools"]["listChanged"], true);
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-sdk-server"
    );
    assert!(result["ttlMs"].is_u64() && result["cacheScope"] == "private");

    let (status, answer) = post_json(s.addr, &call(2, "hello", json!({})), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"]["content"][0]["text"], "hi");
    assert_eq!(answer["result"]["resultType"], "complete");

    let list =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": meta()}});
    let (_, answer) = post_json(s.addr, &list, &[]).await;
    assert_eq!(answer["result"]["ttlMs"], 0);
    assert_eq!(answer["result"]["cacheScope"], "private");
    assert_eq!(s.service.session_count(), 0);
}

/// A body, header overrides, and the status, code and message expected.
type Case = (
    Value,
    Vec<(&'static str, &'static str)>,
    u16,
    i64,
    &'static str,
);

#[tokio::test]
async fn headers_and_meta_that_do_not_fit_get_the_errors_the_spec_names() {
    let s = start().await;
    let hello = call(7, "hello", json!({}));
    let cases: Vec<Case> = vec![
        (hello.clone(), vec![("mcp-protocol-version", "")], 400, -32020, "MCP-Protocol-Version header is required"),
        (hello.clone(), vec![("mcp-protocol-version", "2025-11-25")], 400, -32020, "does not match"),
        (hello.clone(), vec![("mcp-method", "")], 400, -32020, "Mcp-Method header is required"),
        (hello.clone(), vec![("mcp-method", "tools/list")], 400, -32020, "does not match the body's method"),
        (hello.clone(), vec![("mcp-name", "other")], 400, -32020, "does not match params.name"),
        (hello.clone(), vec![("mcp-name", "")], 400, -32020, "Mcp-Name header is required"),
        (hello.clone(), vec![("mcp-name", "=?base64?***?=")], 400, -32020, "not valid"),
        (
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "hello"}}),
            vec![], 400, -32602, "lacks io.modelcontextprotocol/protocolVersion and io.modelcontextprotocol/clientCapabilities",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "hello",
                "_meta": {"io.modelcontextprotocol/protocolVersion": V}}}),
            vec![], 400, -32602, "lacks io.modelcontextprotocol/clientCapabilities",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"_meta": meta()}}),
            vec![], 404, -32601, "ping does not exist in protocol revision 2026-07-28",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 7, "method": "no/such", "params": {"_meta": meta()}}),
            vec![], 404, -32601, "no/such",
        ),
        (call(7, "sample", json!({})), vec![], 400, -32021, "sampling"),
    ];
    for (body, overrides, status, code, message) in cases {
        let (got, answer) = post_json(s.addr, &body, &overrides).await;
        assert_eq!(
            (got, &answer["error"]["code"]),
            (status, &json!(code)),
            "{overrides:?}: {answer}"
        );
        assert_eq!(answer["id"], 7, "errors carry the request id: {answer}");
        let text = answer["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text:?} lacks {message:?}");
    }

    // An unknown version in both places: -32022 naming what we speak.
    let mut future = call(8, "hello", json!({}));
    future["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let (status, answer) =
        post_json(s.addr, &future, &[("mcp-protocol-version", "2099-01-01")]).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!(-32022)),
        "{answer}"
    );
    assert_eq!(answer["error"]["data"]["requested"], "2099-01-01");
    assert!(answer["error"]["data"]["supported"]
        .as_array()
        .unwrap()
        .contains(&json!(V)));

    // A name outside plain ASCII travels base64-encoded.
    let (status, answer) = post_json(
        s.addr,
        &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "héllo", "_meta": meta()}}),
        &[("mcp-name", "=?base64?aMOpbGxv?=")],
    )
    .await;
    assert_eq!(
        status, 400,
        "the name matched, so the unknown tool is the error: {answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("héllo"),
        "{answer}"
    );

    // Arguments mirrored in Mcp-Param-* headers must agree with the body.
    let args = json!({"arguments": {"region": "us-west1", "limits": {"max": 42}}});
    let good = [("mcp-param-region", "us-west1"), ("mcp-param-max", "42.0")];
    let (status, answer) = post_json(s.addr, &call(10, "where", args.clone()), &good).await;
    assert_eq!(
        (status, &answer["result"]["content"][0]["text"]),
        (200, &json!("here")),
        "{answer}"
    );
    let encoded = [
        ("mcp-param-region", "=?base64?dXMtd2VzdDE=?="),
        ("mcp-param-max", "42"),
    ];
    let (status, answer) = post_json(s.addr, &call(10, "where", args.clone()), &encoded).await;
    assert_eq!(status, 200, "{answer}");
    let bad: [(&[(&str, &str)], &str); 4] = [
        (
            &[("mcp-param-max", "42")],
            "Mcp-Param-Region header is required",
        ),
        (
            &[("mcp-param-region", "us-east1"), ("mcp-param-max", "42")],
            "does not match arguments.region",
        ),
        (
            &[("mcp-param-region", "us-west1"), ("mcp-param-max", "41")],
            "does not match arguments.limits.max",
        ),
        (
            &[
                ("mcp-param-region", "=?base64?dXMtd2VzdDE?="),
                ("mcp-param-max", "42"),
            ],
            "not valid",
        ),
    ];
    for (headers, message) in bad {
        let (status, answer) = post_json(s.addr, &call(10, "where", args.clone()), headers).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (400, &json!(-32020)),
            "{answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{answer}"
        );
    }
    // An argument that is absent needs no header.
    let (status, _) = post_json(s.addr, &call(10, "where", json!({})), &[]).await;
    assert_eq!(status, 200);

    // The session era still works on the same endpoint.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "old", "version": "0"}}});
    let (resp, _) = request(
        s.addr,
        "POST",
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ],
        &init.to_string(),
    )
    .await;
    assert!(resp.headers().get("mcp-session-id").is_some());
    assert_eq!(
        json_body(resp).await["result"]["protocolVersion"],
        "2025-11-25"
    );
}

#[tokio::test]
async fn a_handler_that_asks_twice_takes_three_rounds_and_refuses_altered_state() {
    let mut s = start().await;
    let (_, first) = post_json(s.addr, &call(1, "interview", json!({})), &[]).await;
    let first = &first["result"];
    assert_eq!(first["resultType"], "input_required", "{first}");
    assert_eq!(
        first["inputRequests"]["first"]["method"],
        "elicitation/create"
    );
    assert!(
        first["inputRequests"].get("second").is_none(),
        "one question at a time"
    );
    assert_eq!(
        first["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-sdk-server"
    );
    assert!(
        first.get("ttlMs").is_none(),
        "interim results carry no caching hints"
    );
    let state1 = first["requestState"].as_str().unwrap().to_owned();

    let answer = |v: &str| json!({"action": "accept", "content": {"v": v}});
    let (_, second) = post_json(
        s.addr,
        &call(
            2,
            "interview",
            json!({"inputResponses": {"first": answer("A")}, "requestState": state1}),
        ),
        &[],
    )
    .await;
    let second = &second["result"];
    assert_eq!(
        second["inputRequests"]["second"]["method"], "elicitation/create",
        "{second}"
    );
    let state2 = second["requestState"].as_str().unwrap().to_owned();
    assert_ne!(state1, state2);

    // The last round gives only the second answer: the first travels in the state.
    let (_, done) = post_json(
        s.addr,
        &call(3, "interview", json!({"inputResponses": {"second": answer("B"), "unasked": answer("x")}, "requestState": state2})),
        &[],
    )
    .await;
    assert_eq!(done["result"]["content"][0]["text"], "A then B", "{done}");
    for _ in 0..3 {
        assert_eq!(s.runs.recv().await, Some("interview"));
    }

    // Altered state, state of another request, answers of the wrong shape.
    let mut altered = state2.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let refused: Vec<(Value, &str)> = vec![
        (
            json!({"inputResponses": {"second": answer("B")}, "requestState": altered}),
            "requestState refused",
        ),
        (
            json!({"arguments": {"other": 1}, "inputResponses": {"second": answer("B")}, "requestState": state2}),
            "different request",
        ),
        (
            json!({"inputResponses": {"first": 12345}}),
            "inputResponses.first must be an object",
        ),
        (
            json!({"inputResponses": {"first": {"action": "maybe"}}}),
            "inputResponses.first is not a valid answer",
        ),
        (
            json!({"inputResponses": null}),
            "inputResponses must be an object",
        ),
        (json!({"requestState": 5}), "requestState must be a string"),
    ];
    for (extra, message) in refused {
        let (status, reply) = post_json(s.addr, &call(4, "interview", extra.clone()), &[]).await;
        assert_eq!(
            (status, &reply["error"]["code"]),
            (400, &json!(-32602)),
            "{extra}: {reply}"
        );
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn progress_streams_and_logs_flow_only_at_the_level_the_request_asked() {
    let s = start().await;
    // No logLevel in _meta: no log messages at all, and progress needs a
    // token, so the answer comes alone, as JSON.
    let (_, quiet) = post_json(s.addr, &call(1, "chatty", json!({})), &[]).await;
    assert_eq!(quiet["result"]["content"][0]["text"], "chatted");

    let mut m = meta();
    m["io.modelcontextprotocol/logLevel"] = json!("warning");
    m["progressToken"] = json!("p");
    let resp = post(s.addr, &call(2, "chatty", json!({"_meta": m})), &[]).await;
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    let mut sse = Sse::new(resp);
    let mut seen = vec![];
    while let Some(e) = sse.next().await {
        assert!(e.id.is_none(), "2026-07-28 streams are not resumable");
        if let Some(data) = e.data {
            seen.push(data);
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0]["method"], "notifications/progress");
    assert_eq!(
        seen[1]["params"]["level"], "error",
        "debug is below warning"
    );
    assert_eq!(seen[2]["result"]["content"][0]["text"], "chatted");
}

#[tokio::test]
async fn listen_streams_carry_what_they_asked_for_until_the_client_leaves() {
    let mut s = start().await;
    let listen = |id: i64, filter: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
            "params": {"_meta": meta(), "notifications": filter}})
    };
    let tools = Sse::new(post(s.addr, &listen(10, json!({"toolsListChanged": true})), &[]).await);
    let prompts = Sse::new(
        post(
            s.addr,
            &listen(11, json!({"promptsListChanged": true, "bogus": true})),
            &[],
        )
        .await,
    );
    let (mut tools, mut prompts) = (tools, prompts);
    let ack = tools.next().await.unwrap().data.unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true})
    );
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        10
    );
    let ack = prompts.next().await.unwrap().data.unwrap();
    assert_eq!(
        ack["params"]["notifications"],
        json!({"promptsListChanged": true})
    );

    let (_, changed) = post_json(s.addr, &call(1, "change", json!({})), &[]).await;
    assert_eq!(
        changed["result"]["content"][0]["text"], "changed",
        "the change is not on the call's stream"
    );
    let note = tools.next().await.unwrap().data.unwrap();
    assert_eq!(note["method"], "notifications/tools/list_changed");
    assert_eq!(
        note["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        10
    );

    // A stream watching a resource: the server can see which URIs are
    // watched, until the stream ends.
    let mut watched = s.notifier.watched_resources();
    assert!(watched.borrow().is_empty());
    let mut resource = Sse::new(
        post(
            s.addr,
            &listen(12, json!({"resourceSubscriptions": ["file:///a"]})),
            &[],
        )
        .await,
    );
    let ack = resource.next().await.unwrap().data.unwrap();
    assert_eq!(
        ack["params"]["notifications"],
        json!({"resourceSubscriptions": ["file:///a"]})
    );
    assert!(watched.borrow_and_update().contains("file:///a"));
    s.notifier.resource_updated("file:///a");
    let note = resource.next().await.unwrap().data.unwrap();
    assert_eq!(note["params"]["uri"], "file:///a");
    drop(resource);
    timeout(LIMIT, watched.wait_for(|w| w.is_empty()))
        .await
        .expect("the URI is no longer watched once its stream ends")
        .unwrap();

    // From outside any request, through the notifier the router owns.
    s.notifier.prompt_list_changed();
    let note = prompts.next().await.unwrap().data.unwrap();
    assert_eq!(note["method"], "notifications/prompts/list_changed");
    assert_eq!(s.service.notifier().listeners(), 2);

    // A client that closes its stream ends its subscription.
    drop(tools);
    drop(prompts);
    timeout(LIMIT, async {
        while s.service.notifier().listeners() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the subscriptions end with their streams");

    // Closing the request's connection cancels the request, even before
    // any byte of the answer was sent.
    let addr = s.addr;
    let client = tokio::spawn(async move {
        post(addr, &call(2, "hang", json!({})), &[]).await;
    });
    assert_eq!(timeout(LIMIT, s.runs.recv()).await.unwrap(), Some("hang"));
    client.abort();
    let dropped = timeout(LIMIT, s.runs.recv()).await;
    assert_eq!(
        dropped.expect("the handler is dropped"),
        Some("hang dropped")
    );
}

/// One message as a line of the stdio framing.
fn line(v: Value) -> Vec<u8> {
    let mut line = v.to_string().into_bytes();
    line.push(b'\n');
    line
}

#[tokio::test]
async fn a_pipe_serves_stateless_requests_without_initialize() {
    let (tx, _runs) = mpsc::unbounded_channel();
    let (client, server) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(server);
    tokio::spawn(mcp_sdk_server::stdio::serve_io(
        router(tx),
        SessionConfig::default(),
        read,
        write,
    ));
    let (read, mut write) = tokio::io::split(client);
    let mut lines = BufReader::new(read).lines();
    let mut recv = async || -> Value {
        let line = timeout(LIMIT, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str(&line).unwrap()
    };

    write
        .write_all(&line(call(1, "interview", json!({}))))
        .await
        .unwrap();
    let answer = recv().await;
    assert_eq!(answer["result"]["resultType"], "input_required", "{answer}");

    // A listen stream over the pipe, then its cancellation.
    let listen = json!({"jsonrpc": "2.0", "id": "L", "method": "subscriptions/listen",
        "params": {"_meta": meta(), "notifications": {"toolsListChanged": true}}});
    write.write_all(&line(listen)).await.unwrap();
    let ack = recv().await;
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "L"
    );
    write
        .write_all(&line(call(2, "change", json!({}))))
        .await
        .unwrap();
    let got = [recv().await, recv().await];
    assert!(
        got.iter()
            .any(|m| m["method"] == "notifications/tools/list_changed"
                && m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "L"),
        "{got:?}"
    );
    assert!(got.iter().any(|m| m["id"] == 2), "{got:?}");
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "L"}});
    write.write_all(&line(cancel)).await.unwrap();
    let discover = json!({"jsonrpc": "2.0", "id": 3, "method": "server/discover", "params": {"_meta": meta()}});
    write.write_all(&line(discover)).await.unwrap();
    let next = recv().await;
    assert_eq!(
        next["id"], 3,
        "a cancelled subscription sends nothing more: {next}"
    );
}

/// Offers tools only once switched on, and says so through its notifier.
struct Switchable {
    on: std::sync::atomic::AtomicBool,
    notifier: mcp_sdk_server::Notifier,
}

#[mcp_sdk_server::async_trait]
impl mcp_sdk_server::Server for Switchable {
    fn capabilities(&self) -> mcp_sdk::ServerCapabilities {
        let mut caps = mcp_sdk::ServerCapabilities::default();
        if self.on.load(std::sync::atomic::Ordering::SeqCst) {
            caps.tools = Some(Default::default());
        }
        caps
    }

    fn notifier(&self) -> Option<mcp_sdk_server::Notifier> {
        Some(self.notifier.clone())
    }

    async fn list_tools(
        &self,
        _: mcp_sdk::ListToolsParams,
        _: RequestContext,
    ) -> Result<mcp_sdk::ListToolsResult, mcp_sdk::Error> {
        Ok(mcp_sdk::ListToolsResult::default())
    }
}

#[tokio::test]
async fn capabilities_are_read_again_when_the_notifier_says_they_changed() {
    let server = std::sync::Arc::new(Switchable {
        on: Default::default(),
        notifier: Default::default(),
    });
    let service = StreamableHttpService::new(server.clone(), HttpConfig::default());
    let addr = serve(service).await;
    let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta()}});
    let list =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta()}});

    let (_, found) = post_json(addr, &discover, &[]).await;
    assert!(
        found["result"]["capabilities"].get("tools").is_none(),
        "{found}"
    );
    assert_eq!(post_json(addr, &list, &[]).await.0, 404);

    // Switched on without a word: nothing changes.
    server.on.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(post_json(addr, &list, &[]).await.0, 404);

    server.notifier.capabilities_changed();
    assert_eq!(post_json(addr, &list, &[]).await.0, 200);
    let (_, found) = post_json(addr, &discover, &[]).await;
    assert!(
        found["result"]["capabilities"].get("tools").is_some(),
        "{found}"
    );
}

/// A server of its own whose `call_tool` answers with the `_meta` it was
/// given, as JSON text.
struct MetaEcho;

#[async_trait::async_trait]
impl mcp_sdk_server::Server for MetaEcho {
    fn capabilities(&self) -> mcp_sdk::ServerCapabilities {
        mcp_sdk::ServerCapabilities::default().with_tools(Default::default())
    }

    async fn call_tool(
        &self,
        params: mcp_sdk::CallToolParams,
        _ctx: RequestContext,
    ) -> Result<mcp_sdk::CallToolResult, mcp_sdk::Error> {
        Ok(mcp_sdk::CallToolResult::text(
            serde_json::to_string(&params.meta).unwrap(),
        ))
    }
}

/// A server that reads `params.meta` gets all of it, as the client sent
/// it, over HTTP and over a pipe: the stateless keys the SDK reads for
/// itself stay in it, beside a vendor's key, a progress token and a trace.
#[tokio::test]
async fn a_server_that_reads_meta_gets_all_of_it() {
    let mut sent = meta();
    sent["vendor/x"] = json!({"y": [1, null, "\u{e9}"]});
    sent["progressToken"] = json!("p");
    sent["traceparent"] = json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "any", "arguments": {}, "_meta": sent}});
    let echoed = |answer: &Value| -> Value {
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        serde_json::from_str(text).unwrap()
    };

    let service = StreamableHttpService::new(MetaEcho, HttpConfig::default());
    let addr = serve(service).await;
    let (status, answer) = post_json(addr, &body, &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(echoed(&answer), sent, "over HTTP");

    let (client, server) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(server);
    tokio::spawn(mcp_sdk_server::stdio::serve_io(
        MetaEcho,
        SessionConfig::default(),
        read,
        write,
    ));
    let (read, mut write) = tokio::io::split(client);
    write.write_all(&line(body.clone())).await.unwrap();
    let mut lines = BufReader::new(read).lines();
    let answer = timeout(LIMIT, lines.next_line()).await.unwrap().unwrap();
    let answer: Value = serde_json::from_str(&answer.unwrap()).unwrap();
    assert_eq!(echoed(&answer), sent, "over a pipe");
}
