//! The host's LLM and chat loop against a fake OpenAI-compatible API on
//! loopback and the tools reference server as a child process: the request
//! carries the MCP tools, a tool call runs through MCP and its result goes
//! back in the next request, errors of the API and of the model are
//! reported clearly, and the offline assistant does the loop on its own.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use mcp_reference::host::anthropic::Anthropic;
use mcp_reference::host::chat::{Chat, ChatEvent, EventSink};
use mcp_reference::host::llm::{Llm, LlmError};
use mcp_reference::host::offline::{OfflineAssistant, OFFLINE_LABEL};
use mcp_reference::host::openai::OpenAiCompatible;
use mcp_reference::host::HostError;
use mcp_sdk_client::{Client, Era};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{stdio_client_in, PATIENCE};
use tokio::time::timeout;

/// A request the fake API received: its key headers and body.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    /// `x-api-key` and `anthropic-version` (the messages API).
    api_key: Option<String>,
    api_version: Option<String>,
    body: Value,
}

/// A fake chat-completions API: answers each request with the next of its
/// scripted answers (the last one again when they run out) and keeps what
/// it was sent.
struct FakeApi {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeApi {
    /// A chat-completions API.
    async fn start(script: Vec<(u16, String)>) -> FakeApi {
        FakeApi::start_at("/v1/chat/completions", script).await
    }

    /// An API answering at `path` (under `/v1`).
    async fn start_at(path: &'static str, script: Vec<(u16, String)>) -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (log, script) = (log.clone(), script.clone());
                        async move {
                            assert_eq!(req.uri().path(), path);
                            let header = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .map(|v| v.to_str().unwrap().to_owned())
                            };
                            let authorization = header("authorization");
                            let api_key = header("x-api-key");
                            let api_version = header("anthropic-version");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let body: Value = serde_json::from_slice(&body).unwrap();
                            let n = {
                                let mut log = log.lock().unwrap();
                                log.push(Seen {
                                    authorization,
                                    api_key,
                                    api_version,
                                    body,
                                });
                                log.len() - 1
                            };
                            let (status, answer) = &script[n.min(script.len() - 1)];
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(*status)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(answer.clone())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeApi {
            url: format!("http://{addr}/v1"),
            seen,
        }
    }

    fn llm(&self) -> Arc<dyn Llm> {
        Arc::new(
            OpenAiCompatible::new(
                Some(self.url.clone()),
                Some("test-key".into()),
                Some("fake-model".into()),
            )
            .unwrap()
            .with_timeout(Duration::from_secs(10))
            .unwrap(),
        )
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A chat-completions answer with these tool calls (name, arguments text).
fn tool_calls(calls: &[(&str, &str)]) -> (u16, String) {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, arguments))| {
            json!({"id": format!("call_{i}"), "type": "function",
                   "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    let answer = json!({"id": "x", "model": "fake-model", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": null, "tool_calls": calls},
        "finish_reason": "tool_calls"}]});
    (200, answer.to_string())
}

/// A chat-completions answer with text.
fn text(content: &str) -> (u16, String) {
    let answer = json!({"id": "x", "model": "fake-model", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]});
    (200, answer.to_string())
}

/// The tools server over stdio, in `era`.
async fn tools_server(era: Era) -> Client {
    stdio_client_in(era, "tools_server", &[], ()).await
}

/// A chat whose events are kept.
fn chat(client: Client, llm: Arc<dyn Llm>) -> (Chat, Arc<Mutex<Vec<ChatEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink: EventSink = {
        let events = events.clone();
        Arc::new(move |e| events.lock().unwrap().push(e))
    };
    (Chat::new(client, llm, sink), events)
}

/// The messages of a request with `role`.
fn with_role(body: &Value, role: &str) -> Vec<Value> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == role)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_tool_call_runs_through_mcp_and_its_result_goes_back() {
    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let api = FakeApi::start(vec![
            tool_calls(&[("add", r#"{"a": 2, "b": 3}"#)]),
            text("2 + 3 is 5."),
        ])
        .await;
        let (mut chat, events) = chat(tools_server(era).await, api.llm());
        let answer = timeout(PATIENCE, chat.send("What is 2 + 3?"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.text, "2 + 3 is 5.");
        assert_eq!(answer.tool_runs.len(), 1);
        assert!(!answer.tool_runs[0].is_error);
        assert_eq!(
            serde_json::from_str::<Value>(&answer.tool_runs[0].result).unwrap(),
            json!({"result": 5})
        );

        let seen = api.seen();
        assert_eq!(seen.len(), 2, "{era:?}");
        // The first request: the key, the model, the user's words, and the
        // server's tools as function tools with their input schemas.
        assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
        let first = &seen[0].body;
        assert_eq!(first["model"], "fake-model");
        assert_eq!(with_role(first, "user")[0]["content"], "What is 2 + 3?");
        let tools = first["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 12, "the tools server's twelve tools");
        let add = tools
            .iter()
            .find(|t| t["function"]["name"] == "add")
            .expect("add is offered");
        assert_eq!(add["type"], "function");
        assert_eq!(
            add["function"]["description"],
            "Adds two numbers: a + b. Integers stay integers."
        );
        let parameters = &add["function"]["parameters"];
        assert_eq!(parameters["type"], "object");
        assert!(parameters["properties"]["a"].is_object());
        assert!(parameters["properties"]["b"].is_object());

        // The second: the model's call as it made it, then the result.
        let second = &seen[1].body;
        let assistant = &with_role(second, "assistant")[0];
        assert_eq!(assistant["tool_calls"][0]["id"], "call_0");
        assert_eq!(assistant["tool_calls"][0]["function"]["name"], "add");
        let tool = &with_role(second, "tool")[0];
        assert_eq!(tool["tool_call_id"], "call_0");
        let result: Value = serde_json::from_str(tool["content"].as_str().unwrap()).unwrap();
        assert_eq!(result, json!({"result": 5}));

        let events = events.lock().unwrap().clone();
        assert!(matches!(&events[0], ChatEvent::ToolCall { name, .. } if name == "add"));
        assert!(
            matches!(&events[1], ChatEvent::ToolResult { name, is_error: false, .. } if name == "add")
        );
        // The next turn carries the whole conversation.
        assert_eq!(chat.history().len(), 5);
    }
}

#[tokio::test]
async fn api_errors_are_reported_clearly() {
    let client = tools_server(Era::SessionOnly).await;
    let cases = [
        (
            (
                500,
                r#"{"error": {"message": "the model is overloaded", "type": "server_error"}}"#
                    .to_owned(),
            ),
            "answered HTTP 500: the model is overloaded (server_error)",
        ),
        (
            (401, "Unauthorized".to_owned()),
            "answered HTTP 401: Unauthorized",
        ),
        (
            (
                200,
                r#"{"error": {"message": "quota exceeded"}}"#.to_owned(),
            ),
            "reported an error: quota exceeded",
        ),
        (
            (200, "<html>not json</html>".to_owned()),
            "makes no sense: not JSON",
        ),
        (
            (200, r#"{"choices": []}"#.to_owned()),
            "makes no sense: no choices[0].message",
        ),
        (
            (
                200,
                r#"{"choices": [{"message": {"tool_calls": [{"id": "1", "function": {}}]}}]}"#
                    .to_owned(),
            ),
            "tool call 0 has no function name",
        ),
    ];
    for (answer, expected) in cases {
        let api = FakeApi::start(vec![answer]).await;
        let (mut chat, _) = chat(client.clone(), api.llm());
        let error = timeout(PATIENCE, chat.send("add 2 and 3"))
            .await
            .unwrap()
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(
            message.contains("fake-model at http://127.0.0.1:"),
            "{message}"
        );
        // The failed turn leaves the conversation as it was.
        assert_eq!(chat.history().len(), 1);
    }
}

#[tokio::test]
async fn an_api_that_is_not_there_is_reported() {
    // A port that was free a moment ago: nothing listens there.
    let port = support::free_port();
    let llm =
        OpenAiCompatible::new(Some(format!("http://127.0.0.1:{port}/v1")), None, None).unwrap();
    let error = timeout(PATIENCE, llm.complete(&[], &[]))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, LlmError::Transport { .. }), "{error:?}");
    assert!(
        error.to_string().contains("could not reach the LLM API"),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_calls_and_unknown_tools_go_back_to_the_model() {
    let api = FakeApi::start(vec![
        tool_calls(&[
            ("add", r#"{"a": 2, "b": "#),
            ("no_such_tool", "{}"),
            ("add", "[1, 2]"),
            ("divide", r#"{"a": 1, "b": 0}"#),
        ]),
        text("Sorry, I could not compute that."),
    ])
    .await;
    let (mut chat, events) = chat(tools_server(Era::StatelessOnly).await, api.llm());
    let answer = timeout(PATIENCE, chat.send("add")).await.unwrap().unwrap();
    assert_eq!(answer.text, "Sorry, I could not compute that.");
    let results: Vec<&str> = answer.tool_runs.iter().map(|r| r.result.as_str()).collect();
    assert!(answer.tool_runs.iter().all(|r| r.is_error), "{results:?}");
    assert!(
        results[0].starts_with("error: the arguments of add are not valid JSON"),
        "{}",
        results[0]
    );
    assert!(
        results[1].starts_with(
            "error: there is no tool named \"no_such_tool\"; the tools are: add, subtract"
        ),
        "{}",
        results[1]
    );
    assert_eq!(
        results[2],
        "error: the arguments of add must be a JSON object, not an array"
    );
    // A tool that fails says why, for the model to read.
    assert!(results[3].contains("zero"), "{}", results[3]);

    // The model is told each of them, paired with its call.
    let seen = api.seen();
    let tool_messages = with_role(&seen[1].body, "tool");
    assert_eq!(tool_messages.len(), 4);
    for (i, message) in tool_messages.iter().enumerate() {
        assert_eq!(message["tool_call_id"], format!("call_{i}"));
        assert_eq!(message["content"], results[i]);
    }
    let rejected = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ChatEvent::Rejected { .. }))
        .count();
    assert_eq!(rejected, 3);
}

#[tokio::test]
async fn a_model_that_never_answers_is_stopped() {
    let api = FakeApi::start(vec![tool_calls(&[("no_such_tool", "{}")])]).await;
    let (mut chat, _) = chat(tools_server(Era::SessionOnly).await, api.llm());
    chat.max_rounds = 3;
    let error = timeout(PATIENCE, chat.send("loop"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, HostError::TooManyRounds { rounds: 3 }));
    assert!(
        error
            .to_string()
            .contains("3 rounds of tool calls without giving an answer"),
        "{error}"
    );
    assert_eq!(api.seen().len(), 3);
}

#[tokio::test]
async fn the_offline_assistant_adds_2_and_3() {
    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let (mut chat, _) = chat(tools_server(era).await, Arc::new(OfflineAssistant));
        assert!(chat.llm().is_offline());
        assert!(chat.llm().label().contains("offline assistant"));
        let answer = timeout(PATIENCE, chat.send("add 2 and 3"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.tool_runs.len(), 1);
        assert_eq!(answer.tool_runs[0].name, "add");
        assert_eq!(
            serde_json::from_str::<Value>(&answer.tool_runs[0].arguments).unwrap(),
            json!({"a": 2, "b": 3})
        );
        assert_eq!(answer.text, format!("{OFFLINE_LABEL} add gave 5"));

        // A text tool, and a request it cannot place.
        let answer = timeout(PATIENCE, chat.send("to upper case: hello world"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            answer.text,
            format!("{OFFLINE_LABEL} to_upper_case gave HELLO WORLD")
        );
        let answer = timeout(PATIENCE, chat.send("sing a song"))
            .await
            .unwrap()
            .unwrap();
        assert!(answer.tool_runs.is_empty());
        assert!(answer.text.contains("no tool matches"), "{}", answer.text);
    }
}

#[tokio::test]
async fn a_server_that_goes_away_ends_the_turn_clearly() {
    let client = tools_server(Era::SessionOnly).await;
    let (mut chat, _) = chat(client.clone(), Arc::new(OfflineAssistant));
    client.close().await;
    let error = timeout(PATIENCE, chat.send("add 2 and 3"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("tools/list failed: the connection is closed"),
        "{error}"
    );
}

#[tokio::test]
async fn sampling_requests_are_answered_by_the_same_model_after_approval() {
    use mcp_reference::host::handler::{Approver, AutoApprove, HostHandler};
    use mcp_sdk::CreateMessageParams;

    /// Declines every request, as a user would.
    struct Decline;

    #[mcp_sdk_client::async_trait]
    impl Approver for Decline {
        async fn approve(&self, _params: &CreateMessageParams) -> Result<(), String> {
            Err("the user declined the sampling request".into())
        }
    }

    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let api = FakeApi::start(vec![text("A short summary.")]).await;
        let handler = HostHandler::new(api.llm(), Arc::new(AutoApprove));
        let client = stdio_client_in(era, "sampling_server", &[], handler).await;
        let result = timeout(
            PATIENCE,
            client.call_tool(
                "summarize",
                json!({"text": "MCP connects models to tools."}),
            ),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(!result.is_error(), "{era:?}: {result:?}");
        assert_eq!(
            result.structured_content.as_ref().unwrap()["summary"],
            "A short summary."
        );
        let seen = api.seen();
        assert_eq!(seen.len(), 1);
        let user = with_role(&seen[0].body, "user");
        assert!(
            user[0]["content"]
                .as_str()
                .unwrap()
                .contains("MCP connects models to tools."),
            "{user:?}"
        );

        // Declined, the model is never asked and the tool says why.
        let api = FakeApi::start(vec![text("never sent")]).await;
        let handler = HostHandler::new(api.llm(), Arc::new(Decline));
        let client = stdio_client_in(era, "sampling_server", &[], handler).await;
        let outcome = timeout(
            PATIENCE,
            client.call_tool("summarize", json!({"text": "hello"})),
        )
        .await
        .unwrap();
        let message = match outcome {
            Ok(result) => format!("{result:?}"),
            Err(e) => e.to_string(),
        };
        assert!(message.contains("declined"), "{era:?}: {message}");
        assert!(api.seen().is_empty());
    }
}

/// The Anthropic messages API (a fake one on loopback): the request
/// carries the key, the API version, the system prompt apart and the tools
/// with their input schemas; a `tool_use` runs through MCP and goes back as
/// a `tool_result` block; an API error is reported with the API's words.
#[tokio::test]
async fn the_anthropic_messages_api_runs_the_same_loop() {
    let message = |content: Value, stop: &str| {
        json!({"id": "msg", "type": "message", "role": "assistant", "model": "claude-test",
               "content": content, "stop_reason": stop})
        .to_string()
    };
    let api = FakeApi::start_at(
        "/v1/messages",
        vec![
            (
                200,
                message(
                    json!([{"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 2, "b": 3}}]),
                    "tool_use",
                ),
            ),
            (200, message(json!([{"type": "text", "text": "2 + 3 is 5."}]), "end_turn")),
            (
                401,
                json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
                    .to_string(),
            ),
        ],
    )
    .await;
    let llm: Arc<dyn Llm> = Arc::new(
        Anthropic::new(
            Some(api.url.clone()),
            "test-key".into(),
            Some("claude-test".into()),
        )
        .unwrap(),
    );
    let (mut chat, _events) = chat(tools_server(Era::SessionOnly).await, llm);
    let answer = timeout(PATIENCE, chat.send("What is 2 + 3?"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.text, "2 + 3 is 5.");
    assert_eq!(answer.tool_runs[0].name, "add");

    let seen = api.seen();
    assert_eq!(seen[0].api_key.as_deref(), Some("test-key"));
    assert!(seen[0].api_version.is_some());
    let first = &seen[0].body;
    assert_eq!(first["model"], "claude-test");
    assert!(first["system"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(first["max_tokens"].as_u64().is_some());
    let add = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "add")
        .expect("add is offered");
    assert_eq!(add["input_schema"]["type"], "object");
    assert!(add["input_schema"]["properties"]["a"].is_object());
    // The second request: the model's tool_use, then its result as a
    // tool_result block of a user message.
    let messages = seen[1].body["messages"].as_array().unwrap().clone();
    let used = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("the assistant's turn");
    assert_eq!(used["content"][0]["type"], "tool_use");
    assert_eq!(used["content"][0]["id"], "toolu_1");
    let result = &messages.last().unwrap()["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_1");
    assert!(
        result["content"].as_str().unwrap().contains('5'),
        "{result}"
    );

    let refused = timeout(PATIENCE, chat.send("again"))
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("invalid x-api-key") && refused.contains("401"),
        "{refused}"
    );
}
