//! Our client against our server over an in-process pipe: every typed call,
//! the handler's answers to the server, notifications, progress, timeouts,
//! cancellation and a server that goes away.

use mcp_sdk::{
    ClientCapabilities, CompleteParams, CompleteResult, Completion, CreateMessageParams,
    CreateMessageResult, ElicitRequestParams, ElicitResult, ElicitationCapability, Error,
    ErrorCode, GetPromptResult, ListRootsResult, LoggingLevel, LoggingMessageNotificationParams,
    Prompt, PromptArgument, PromptMessage, ReadResourceResult, Resource, ResourceTemplate,
    ResourceUpdatedNotificationParams, Root, RootsCapability, SamplingCapability, Tool,
};
use mcp_sdk_client::transport::IoTransport;
use mcp_sdk_client::{
    async_trait, Client, ClientError, ClientHandler, Era, RequestContext, RequestOptions,
};
use mcp_sdk_server::{
    NoArguments, PromptArguments, RequestContext as ServerContext, ResourceRequest, Router,
    SessionConfig,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Serves `router` on one end of a duplex pipe and connects to the other,
/// in the session era (these tests are about sessions: server-to-client
/// requests, `resources/subscribe`, `logging/setLevel`, `ping`).
async fn connect(router: Router, handler: impl ClientHandler) -> Client {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(server_end);
    tokio::spawn(mcp_sdk_server::stdio::serve_io(
        router,
        SessionConfig::default(),
        read,
        write,
    ));
    let (read, write) = tokio::io::split(client_end);
    Client::builder()
        .era(Era::SessionOnly)
        .handler(handler)
        .connect(IoTransport::new(read, write))
        .await
        .expect("the handshake succeeds")
}

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    a: f64,
    b: f64,
}

fn tools_router(page_size: usize) -> Router {
    let mut router = Router::new().with_page_size(page_size);
    for i in 0..5 {
        router = router.tool(
            Tool::named(format!("t{i}"), "A numbered tool"),
            |_: NoArguments| async { "ok" },
        );
    }
    router
        .tool(Tool::named("add", "Adds"), |args: AddArgs| async move {
            format!("{}", args.a + args.b)
        })
        .tool(
            Tool::named("sleep", "Sleeps until cancelled"),
            |_: NoArguments, cx: ServerContext| async move {
                cx.cancelled().await;
                "cancelled"
            },
        )
}

#[tokio::test]
async fn handshake_tools_pagination_and_errors() {
    let client = connect(tools_router(2), ()).await;
    assert_eq!(client.protocol_version().as_str(), "2025-11-25");
    assert!(client.server_capabilities().tools.is_some());

    let first = client.list_tools(None).await.unwrap();
    assert_eq!(first.tools.len(), 2);
    assert!(first.next_cursor.is_some());
    let all = client.list_all_tools().await.unwrap();
    let names: Vec<_> = all.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4", "add", "sleep"]);

    let sum = client
        .call_tool("add", json!({"a": 2, "b": 40}))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&sum.content).unwrap(),
        json!([{"type": "text", "text": "42"}])
    );

    // Arguments that fail the tool's schema give a result with isError.
    let bad = client.call_tool("add", json!({"a": "two"})).await.unwrap();
    assert!(bad.is_error());

    // An unknown tool is a JSON-RPC error, -32602.
    let err = client.call_tool("nope", json!({})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS), "{err}");

    // Arguments that are not an object never leave the client.
    let err = client.call_tool("add", json!([1, 2])).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS), "{err}");

    // A method the server does not offer: -32601.
    let err = client.list_prompts(None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND), "{err}");

    client.ping().await.unwrap();
}

#[tokio::test]
async fn timeouts_and_cancellation_reach_the_server() {
    let client = connect(tools_router(50), ()).await;

    let err = client
        .call_tool_with(
            "sleep",
            json!({}),
            RequestOptions::new().timeout(Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert_eq!(err.code(), Some(ErrorCode::REQUEST_TIMEOUT));

    let token = tokio_util::sync::CancellationToken::new();
    let call = tokio::spawn({
        let client = client.clone();
        let token = token.clone();
        async move {
            client
                .call_tool_with(
                    "sleep",
                    json!({}),
                    RequestOptions::new().cancellation(token),
                )
                .await
        }
    });
    tokio::task::yield_now().await;
    token.cancel();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Cancelled { .. }), "{err}");

    // A dropped call is cancelled too; the connection keeps working.
    let dropped = tokio::time::timeout(
        Duration::from_millis(20),
        client.call_tool("sleep", json!({})),
    )
    .await;
    assert!(dropped.is_err());
    assert_eq!(
        client
            .call_tool("add", json!({"a": 1, "b": 1}))
            .await
            .unwrap()
            .content
            .len(),
        1
    );
}

/// Server tools that call back into the client.
fn callback_router(updates: mpsc::Sender<()>) -> Router {
    Router::new()
        .tool(
            Tool::named("progress", "Reports progress"),
            |_: NoArguments, cx: ServerContext| async move {
                for i in 1..=3 {
                    cx.progress(i as f64, Some(3.0), Some(&format!("step {i}")))
                        .await?;
                }
                cx.log(LoggingLevel::Warning, "careful").await?;
                cx.log(LoggingLevel::Debug, "chatter").await?;
                Ok::<_, Error>("done")
            },
        )
        .tool(
            Tool::named("ask", "Samples, lists roots and elicits"),
            |_: NoArguments, cx: ServerContext| async move {
                let sampled = cx
                    .sample(serde_json::from_value::<CreateMessageParams>(json!({
                        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                        "maxTokens": 10,
                    })).unwrap())
                    .await?;
                let roots = cx.list_roots().await?;
                let elicited = cx
                    .elicit(
                        serde_json::from_value::<ElicitRequestParams>(json!({
                            "message": "Who are you?",
                            "requestedSchema": {"type": "object", "properties": {
                                "name": {"type": "string", "default": "Ada"},
                                "age": {"type": "integer"},
                            }},
                        }))
                        .unwrap(),
                    )
                    .await?;
                Ok::<_, Error>(mcp_sdk::CallToolResult::structured(json!({
                    "sampled": sampled.model,
                    "roots": roots.roots.iter().map(|r| r.uri.clone()).collect::<Vec<_>>(),
                    "elicited": elicited.content,
                })))
            },
        )
        .resource(
            Resource::new("test://watched", "Watched"),
            |r: ResourceRequest| async move { Ok(ReadResourceResult::text(r.uri, "text/plain", "v1")) },
        )
        .resource_template(
            ResourceTemplate::new("test://item/{id}", "Items"),
            |r: ResourceRequest| async move { Ok(ReadResourceResult::text(r.uri.clone(), "text/plain", r.uri)) },
        )
        .tool(Tool::named("touch", "Updates the watched resource"), {
            move |_: NoArguments, cx: ServerContext| {
                let updates = updates.clone();
                async move {
                    cx.peer().notify_resource_updated("test://watched").await?;
                    let _ = updates.send(()).await;
                    Ok::<_, Error>("touched")
                }
            }
        })
        .prompt(
            Prompt::new("greet", "Greets").with_argument(PromptArgument::new("name", "Who", true)),
            |args: PromptArguments| async move {
                let name = args.get("name").cloned().unwrap_or_default();
                Ok(GetPromptResult::new(vec![PromptMessage::user_text(
                    format!("Hello, {name}"),
                )]))
            },
        )
        .completion(|_: CompleteParams| async {
            let completion = Completion::new(vec!["Ada".into(), "Alan".into()])
                .with_total(2)
                .with_has_more(false);
            Ok(CompleteResult::default().with_completion(completion))
        })
}

#[derive(Default)]
struct Recorder {
    logs: Mutex<Vec<LoggingMessageNotificationParams>>,
    updated: Mutex<Vec<String>>,
}

#[async_trait]
impl ClientHandler for Recorder {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
            .with_sampling(SamplingCapability::default())
            .with_roots(RootsCapability::default())
            .with_elicitation(ElicitationCapability::default())
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        assert_eq!(params.max_tokens, 10);
        Ok(serde_json::from_value(json!({
            "role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "fake-model",
        }))
        .unwrap())
    }

    async fn list_roots(&self, _cx: RequestContext) -> Result<ListRootsResult, Error> {
        Ok(ListRootsResult::new(vec![Root::new("file:///work")]))
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        assert_eq!(params.message(), "Who are you?");
        Ok(ElicitResult::accept(
            json!({"age": 36}).as_object().unwrap().clone(),
        ))
    }

    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        self.logs.lock().unwrap().push(params);
    }

    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        self.updated.lock().unwrap().push(params.uri);
    }
}

#[tokio::test]
async fn server_requests_notifications_and_progress() {
    let (updates_tx, mut updates) = mpsc::channel(4);
    let recorder = Arc::new(Recorder::default());
    let client = connect(callback_router(updates_tx), recorder.clone()).await;

    // Sampling, roots and elicitation answered by the handler; the schema's
    // default filled in for the field the handler left out.
    let asked = client.call_tool("ask", json!({})).await.unwrap();
    assert_eq!(
        asked.structured_content,
        Some(
            json!({"sampled": "fake-model", "roots": ["file:///work"], "elicited": {"name": "Ada", "age": 36}})
        )
    );

    // Progress reaches the call's callback; logs at or above the level set
    // reach the handler, in order.
    client.set_logging_level(LoggingLevel::Info).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = RequestOptions::new().on_progress({
        let seen = seen.clone();
        move |p| seen.lock().unwrap().push((p.progress, p.message))
    });
    client
        .call_tool_with("progress", json!({}), options)
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (1.0, Some("step 1".into())),
            (2.0, Some("step 2".into())),
            (3.0, Some("step 3".into()))
        ]
    );
    // The log notification was sent before the result; the handler runs in
    // its own task, so wait for it with a ping round trip.
    client.ping().await.unwrap();
    let logs: Vec<_> = recorder
        .logs
        .lock()
        .unwrap()
        .iter()
        .map(|l| (l.level, l.data.clone()))
        .collect();
    assert_eq!(logs, [(LoggingLevel::Warning, json!("careful"))]);

    // Subscriptions and updates.
    client.subscribe("test://watched").await.unwrap();
    client.call_tool("touch", json!({})).await.unwrap();
    updates.recv().await.unwrap();
    client.ping().await.unwrap();
    assert_eq!(*recorder.updated.lock().unwrap(), ["test://watched"]);
    client.unsubscribe("test://watched").await.unwrap();

    // Resources, templates, prompts, completion.
    assert_eq!(
        client.list_all_resources().await.unwrap()[0].uri,
        "test://watched"
    );
    assert_eq!(
        client.list_all_resource_templates().await.unwrap()[0].uri_template,
        "test://item/{id}"
    );
    let read = client.read_resource("test://item/7").await.unwrap();
    assert_eq!(
        serde_json::to_value(&read.contents).unwrap()[0]["text"],
        "test://item/7"
    );
    let err = client.read_resource("test://missing").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RESOURCE_NOT_FOUND), "{err}");
    let prompt = client.get_prompt("greet", [("name", "Ada")]).await.unwrap();
    assert_eq!(
        serde_json::to_value(&prompt.messages).unwrap()[0]["content"]["text"],
        "Hello, Ada"
    );
    let err = client
        .get_prompt("greet", Vec::<(String, String)>::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS), "{err}");
    let completion = client
        .complete(
            serde_json::from_value(json!({
                "ref": {"type": "ref/prompt", "name": "greet"},
                "argument": {"name": "name", "value": "A"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(completion.completion.values, ["Ada", "Alan"]);
}

#[tokio::test]
async fn undeclared_capabilities_are_refused_to_the_server() {
    // No handler: the server's sampling request fails with -32601 from its
    // own capability check, and the call reports the tool's failure.
    let (tx, _rx) = mpsc::channel(1);
    let client = connect(callback_router(tx), ()).await;
    let asked = client.call_tool("ask", json!({})).await;
    match asked {
        Ok(result) => assert!(result.is_error()),
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::METHOD_NOT_FOUND), "{e}"),
    }
}

#[tokio::test]
async fn a_server_that_goes_away_fails_waiting_calls() {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(client_end);
    let (ready_tx, ready) = oneshot::channel();
    // A hand-written server: answers initialize, then drops the pipe when
    // the first tool call arrives.
    tokio::spawn(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let (r, mut w) = tokio::io::split(server_end);
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let msg: Value = serde_json::from_str(&line).unwrap();
            match msg["method"].as_str() {
                Some("initialize") => {
                    let answer = json!({"jsonrpc": "2.0", "id": msg["id"], "result": {
                        "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                        "serverInfo": {"name": "fragile", "version": "0"}}});
                    w.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
                    // Garbage and an answer to nobody: skipped, not fatal.
                    w.write_all(b"not json\n{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{}}\n")
                        .await
                        .unwrap();
                }
                Some("tools/call") => {
                    let _ = ready_tx.send(());
                    return;
                }
                _ => {}
            }
        }
    });
    // A session-era server that ignores what it does not know: no probe.
    let client = Client::builder()
        .era(Era::SessionOnly)
        .connect(IoTransport::new(read, write))
        .await
        .unwrap();
    assert_eq!(client.protocol_version().as_str(), "2025-06-18");
    let err = client.call_tool("anything", json!({})).await.unwrap_err();
    ready.await.unwrap();
    assert!(matches!(err, ClientError::Closed(_)), "{err}");
    assert!(client.is_closed());
    let again = client.ping().await.unwrap_err();
    assert!(matches!(again, ClientError::Closed(_)), "{again}");
}

#[tokio::test]
async fn a_server_with_no_common_version_is_refused_clearly() {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(client_end);
    tokio::spawn(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let (r, mut w) = tokio::io::split(server_end);
        let mut lines = BufReader::new(r).lines();
        if let Ok(Some(line)) = lines.next_line().await {
            let msg: Value = serde_json::from_str(&line).unwrap();
            let answer = json!({"jsonrpc": "2.0", "id": msg["id"], "result": {
                "protocolVersion": "1999-01-01", "capabilities": {},
                "serverInfo": {"name": "old", "version": "0"}}});
            w.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
            let _ = lines.next_line().await;
        }
    });
    // It answers its first line, whatever it is, as `initialize`.
    let err = Client::builder()
        .era(Era::SessionOnly)
        .connect(IoTransport::new(read, write))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ClientError::UnsupportedVersion { .. }),
        "{text}"
    );
    assert!(
        text.contains("1999-01-01") && text.contains("2025-11-25"),
        "{text}"
    );
}

/// A handler whose callbacks panic.
struct Panicker;

#[async_trait]
impl ClientHandler for Panicker {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default().with_sampling(SamplingCapability::default())
    }

    async fn create_message(
        &self,
        _params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        panic!("create_message failed")
    }

    async fn on_log(&self, _params: LoggingMessageNotificationParams) {
        panic!("on_log failed")
    }
}

/// A panic in a callback (a call's `on_progress`, a handler's notification
/// callback, a handler's answer to a server request) stays there: the
/// connection goes on, and the server's request gets an error at once.
#[tokio::test]
async fn a_panicking_callback_leaves_the_connection_working() {
    let (updates_tx, _updates) = mpsc::channel(4);
    let client = connect(callback_router(updates_tx), Panicker).await;
    // Bounded here so that a dead connection fails the test instead of
    // waiting for the client's own timeout.
    let limit = Duration::from_secs(20);
    let options = RequestOptions::new().on_progress(|_| panic!("on_progress failed"));
    let done = tokio::time::timeout(limit, client.call_tool_with("progress", json!({}), options))
        .await
        .expect("the call is answered although its progress callback panicked")
        .unwrap();
    assert_eq!(done.is_error, None, "{done:?}");
    // The handler's on_log panicked on the "careful" log of that call.
    tokio::time::timeout(limit, client.ping())
        .await
        .expect("a ping is answered after on_log panicked")
        .unwrap();
    assert!(!client.is_closed());
    // The server's sampling request gets an error, so the tool fails.
    let asked = tokio::time::timeout(limit, client.call_tool("ask", json!({})))
        .await
        .expect("the sampling request is answered although the handler panicked");
    match asked {
        Ok(result) => assert_eq!(result.is_error, Some(true), "{result:?}"),
        Err(e) => assert!(matches!(e, ClientError::Server(_)), "{e}"),
    }
    tokio::time::timeout(limit, client.ping())
        .await
        .expect("a ping is answered after create_message panicked")
        .unwrap();
    assert!(!client.is_closed());
}
