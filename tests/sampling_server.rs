//! The sampling server as a child process, over stdio and HTTP, in both
//! protocol eras, with our client answering through a deterministic fake
//! model (a test double for a hosted LLM) that records what it was sent:
//! `sampling/createMessage` requests in a session, input requests of a
//! multi round-trip `tools/call` in the stateless era (2026-07-28).

mod support;

use mcp_sdk::{
    CallToolResult, ClientCapabilities, CreateMessageParams, CreateMessageResult, Error, ErrorCode,
    JsonObject, Role, SamplingCapability, SamplingContent, SamplingContentBlock, ToolChoiceMode,
    ToolUseContent,
};
use mcp_sdk_client::{
    async_trait, Client, ClientError, ClientHandler, RequestContext, RequestOptions,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use support::{every_way, http_server, HttpServer, Via, PATIENCE};

const EXAMPLE: &str = "sampling_server";
const NEEDS_SAMPLING: &str = "this tool needs a client that supports sampling";

type Answer = dyn Fn(&CreateMessageParams) -> Result<CreateMessageResult, Error> + Send + Sync;

/// A client that samples from a scripted model and keeps every request.
#[derive(Clone)]
struct FakeModel {
    tools: bool,
    seen: Arc<Mutex<Vec<CreateMessageParams>>>,
    answer: Arc<Answer>,
}

impl FakeModel {
    fn new(
        tools: bool,
        answer: impl Fn(&CreateMessageParams) -> Result<CreateMessageResult, Error>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        FakeModel {
            tools,
            seen: Arc::default(),
            answer: Arc::new(answer),
        }
    }

    fn text(reply: &'static str) -> Self {
        Self::new(false, move |_| {
            Ok(CreateMessageResult::text("fake-llm-1", reply))
        })
    }

    fn seen(&self) -> Vec<CreateMessageParams> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl ClientHandler for FakeModel {
    fn capabilities(&self) -> ClientCapabilities {
        let mut sampling = SamplingCapability::default();
        sampling.tools = self.tools.then(JsonObject::new);
        ClientCapabilities::default().with_sampling(sampling)
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        self.seen.lock().unwrap().push(params.clone());
        (self.answer)(&params)
    }
}

/// Starts the server and connects a client with `handler`.
async fn connect(via: Via, handler: impl ClientHandler) -> (Client, Option<HttpServer>) {
    via.connect(EXAMPLE, &[], handler).await
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    tokio::time::timeout(PATIENCE, client.call_tool(tool, args))
        .await
        .expect("an answer in time")
        .expect("a tools/call result")
}

fn error_text(result: &CallToolResult) -> String {
    assert!(result.is_error(), "expected a tool error, got {result:?}");
    result.content[0].as_text().unwrap_or_default().to_owned()
}

fn structured(result: &CallToolResult) -> Value {
    assert!(!result.is_error(), "expected success, got {result:?}");
    result
        .structured_content
        .clone()
        .expect("structured content")
}

fn first_text(params: &CreateMessageParams) -> String {
    params.messages[0]
        .content
        .text()
        .unwrap_or_default()
        .to_owned()
}

every_way!(
    lists_the_tools,
    summarize_sends_prompt_preferences_and_returns_the_summary,
    translate_names_both_languages,
    classify_sentiment_reads_untidy_answers,
    ask_with_tools_runs_the_tool_loop,
    ask_with_tools_reports_bad_tool_uses_and_stops_at_the_bound,
    clients_without_sampling_get_a_clear_error,
    a_refusing_client_becomes_a_tool_error,
    bad_arguments_are_refused,
);

async fn lists_the_tools(via: Via) {
    let (client, _server) = connect(via, FakeModel::text("x")).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "summarize",
            "translate",
            "classify_sentiment",
            "ask_with_tools"
        ]
    );
    for tool in &tools {
        let props = tool.input_schema["properties"].as_object().unwrap();
        for option in ["model_hint", "system_prompt", "max_tokens"] {
            assert!(props.contains_key(option), "{} lacks {option}", tool.name);
        }
        assert!(
            tool.output_schema.is_some(),
            "{} has no output schema",
            tool.name
        );
    }
    let classify = &tools[2];
    let schema = Value::Object(classify.output_schema.clone().unwrap());
    assert!(schema["properties"]["label"].is_object(), "{schema}");
    assert!(schema["properties"]["confidence"].is_object(), "{schema}");
    for label in ["positive", "negative", "neutral", "mixed"] {
        assert!(
            schema
                .to_string()
                .contains(&format!(r#""const":"{label}""#)),
            "{schema}"
        );
    }
    client.close().await;
}

async fn summarize_sends_prompt_preferences_and_returns_the_summary(via: Via) {
    let model = FakeModel::text("  A short summary.\n");
    let (client, _server) = connect(via, model.clone()).await;
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(20);
    let result = call(
        &client,
        "summarize",
        json!({"text": text, "max_words": 20, "model_hint": "claude-3-5-sonnet", "system_prompt": "Be terse."}),
    )
    .await;
    assert_eq!(
        structured(&result),
        json!({"summary": "A short summary.", "model": "fake-llm-1"})
    );

    let seen = model.seen();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(sent.system_prompt.as_deref(), Some("Be terse."));
    let prefs = sent.model_preferences.as_ref().expect("model preferences");
    let hints = prefs.hints.as_ref().expect("hints");
    assert_eq!(hints[0].name.as_deref(), Some("claude-3-5-sonnet"));
    assert!(prefs.speed_priority.is_some() && prefs.intelligence_priority.is_some());
    assert_eq!(sent.messages.len(), 1);
    assert_eq!(sent.messages[0].role, Role::User);
    let prompt = first_text(sent);
    assert!(prompt.contains("at most 20 words"), "{prompt}");
    assert!(prompt.contains(text.trim()), "{prompt}");
    assert_eq!(sent.max_tokens, 1024);
    assert!(sent.tools.is_none() && sent.tool_choice.is_none());

    // Without options: the tool's own system prompt, no hint.
    call(&client, "summarize", json!({"text": "Short."})).await;
    let sent = &model.seen()[1];
    assert!(sent
        .system_prompt
        .as_deref()
        .unwrap()
        .contains("summarizer"));
    assert!(sent.model_preferences.as_ref().unwrap().hints.is_none());
    assert!(first_text(sent).contains("at most 100 words"));
    client.close().await;
}

async fn translate_names_both_languages(via: Via) {
    let model = FakeModel::text("Bonjour le monde");
    let (client, _server) = connect(via, model.clone()).await;
    let result = call(
        &client,
        "translate",
        json!({"text": "Hello world", "target_language": "French", "source_language": "English", "max_tokens": 300}),
    )
    .await;
    assert_eq!(
        structured(&result),
        json!({"translation": "Bonjour le monde", "target_language": "French", "model": "fake-llm-1"})
    );
    let sent = &model.seen()[0];
    let prompt = first_text(sent);
    assert!(prompt.contains("from English into French"), "{prompt}");
    assert!(prompt.contains("Hello world"));
    assert_eq!(sent.max_tokens, 300);
    assert!(sent
        .system_prompt
        .as_deref()
        .unwrap()
        .contains("translator"));
    client.close().await;
}

async fn classify_sentiment_reads_untidy_answers(via: Via) {
    let model = FakeModel::new(false, |p| {
        let prompt = first_text(p);
        let reply = if prompt.contains("love") {
            "Sure! Here is my analysis:\n```json\n{\"label\": \"Positive\", \"confidence\": \"92%\"}\n```"
        } else if prompt.contains("hate") {
            "This text is negative. Confidence: 0.7"
        } else if prompt.contains("shrug") {
            "{\"sentiment\": \"neutral\"}"
        } else {
            "I would rather not say."
        };
        Ok(CreateMessageResult::text("fake-llm-2", reply))
    });
    let (client, _server) = connect(via, model.clone()).await;

    let love = call(
        &client,
        "classify_sentiment",
        json!({"text": "I love this!"}),
    )
    .await;
    assert_eq!(
        structured(&love),
        json!({"label": "positive", "confidence": 0.92, "model": "fake-llm-2"})
    );
    let hate = call(
        &client,
        "classify_sentiment",
        json!({"text": "I hate Mondays."}),
    )
    .await;
    assert_eq!(structured(&hate)["label"], "negative");
    assert_eq!(structured(&hate)["confidence"], 0.7);
    let shrug = call(&client, "classify_sentiment", json!({"text": "*shrug*"})).await;
    assert_eq!(
        structured(&shrug),
        json!({"label": "neutral", "confidence": null, "model": "fake-llm-2"})
    );
    let unreadable = call(&client, "classify_sentiment", json!({"text": "Hmm."})).await;
    let message = error_text(&unreadable);
    assert!(
        message.contains("could not be read as a sentiment"),
        "{message}"
    );
    assert!(message.contains("rather not say"), "{message}");

    let sent = &model.seen()[0];
    assert_eq!(sent.temperature, Some(0.0));
    assert!(sent.system_prompt.as_deref().unwrap().contains("JSON"));
    client.close().await;
}

fn tool_use(id: &str, name: &str, input: Value) -> SamplingContentBlock {
    SamplingContentBlock::ToolUse(ToolUseContent::new(
        id,
        name,
        input.as_object().cloned().unwrap(),
    ))
}

fn tool_use_answer(blocks: Vec<SamplingContentBlock>) -> CreateMessageResult {
    CreateMessageResult::new(
        Role::Assistant,
        SamplingContent::Multiple(blocks),
        "fake-llm-tools",
    )
    .with_stop_reason(CreateMessageResult::TOOL_USE)
}

/// The tool results of the last message of a request.
fn results_of(params: &CreateMessageParams) -> Vec<(String, String, bool)> {
    let last = params.messages.last().unwrap();
    assert_eq!(last.role, Role::User);
    last.content
        .blocks()
        .iter()
        .map(|b| match b {
            SamplingContentBlock::ToolResult(r) => (
                r.tool_use_id.clone(),
                r.content[0].as_text().unwrap().to_owned(),
                r.is_error == Some(true),
            ),
            other => panic!("a tool-result message holds only tool results, not {other:?}"),
        })
        .collect()
}

async fn ask_with_tools_runs_the_tool_loop(via: Via) {
    let model = FakeModel::new(true, |p| {
        if p.messages.len() == 1 {
            // First turn: ask for two tools in parallel.
            Ok(tool_use_answer(vec![
                SamplingContentBlock::text("Let me compute."),
                tool_use(
                    "call_1",
                    "calculator",
                    json!({"operation": "multiply", "a": 6, "b": 7}),
                ),
                tool_use("call_2", "clock", json!({})),
            ]))
        } else {
            let results = results_of(p);
            let answer = format!("6 x 7 = {}; now is {}", results[0].1, results[1].1);
            Ok(CreateMessageResult::text("fake-llm-tools", answer))
        }
    });
    let (client, _server) = connect(via, model.clone()).await;
    let progress = Arc::new(Mutex::new(Vec::new()));
    let options = RequestOptions::new().on_progress({
        let progress = progress.clone();
        move |p| progress.lock().unwrap().push((p.progress, p.total))
    });
    let result = tokio::time::timeout(
        PATIENCE,
        client.call_tool_with(
            "ask_with_tools",
            json!({"question": "What is 6 times 7, and what time is it?", "model_hint": "haiku"}),
            options,
        ),
    )
    .await
    .expect("an answer in time")
    .expect("a tools/call result");
    let out = structured(&result);
    let answer = out["answer"].as_str().unwrap();
    assert!(answer.starts_with("6 x 7 = 42; now is 20"), "{answer}");
    assert_eq!(out["rounds"], 2);
    assert_eq!(out["model"], "fake-llm-tools");
    let calls = out["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0],
        json!({"name": "calculator", "input": {"operation": "multiply", "a": 6, "b": 7}, "output": "42", "is_error": false})
    );
    assert_eq!(calls[1]["name"], "clock");
    assert!(calls[1]["output"].as_str().unwrap().ends_with('Z'));

    // A session reports each round of the one request; stateless runs
    // replay the earlier rounds, so they report none (see the server).
    let progress = progress.lock().unwrap().clone();
    if via.stateless() {
        assert!(progress.is_empty(), "{via:?}: {progress:?}");
    } else {
        assert_eq!(progress, [(1.0, Some(5.0)), (2.0, Some(5.0))], "{via:?}");
    }

    // Each round reached the model once, though a stateless handler ran
    // three times (once per answer missing, then to the end).
    let seen = model.seen();
    assert_eq!(seen.len(), 2);
    let first = &seen[0];
    let offered: Vec<&str> = first
        .tools
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(offered, ["calculator", "clock"]);
    assert_eq!(
        first.tool_choice.as_ref().unwrap().mode,
        Some(ToolChoiceMode::Auto)
    );
    assert_eq!(
        first
            .model_preferences
            .as_ref()
            .unwrap()
            .hints
            .as_ref()
            .unwrap()[0]
            .name
            .as_deref(),
        Some("haiku")
    );
    // The follow-up carries the history: question, the model's tool uses,
    // and one user message of matching tool results.
    let second = &seen[1];
    assert_eq!(second.messages.len(), 3);
    assert_eq!(second.messages[1].role, Role::Assistant);
    assert_eq!(second.messages[1].content.blocks().len(), 3);
    let results = results_of(second);
    assert_eq!(results[0], ("call_1".to_owned(), "42".to_owned(), false));
    assert_eq!(results[1].0, "call_2");
    assert!(second.tools.is_some());
    client.close().await;
}

async fn ask_with_tools_reports_bad_tool_uses_and_stops_at_the_bound(via: Via) {
    // A model that never stops asking for tools, badly.
    let model = FakeModel::new(true, |p| {
        Ok(tool_use_answer(match p.messages.len() {
            1 => vec![tool_use(
                "a",
                "calculator",
                json!({"operation": "modulo", "a": 1, "b": 2}),
            )],
            3 => vec![tool_use("b", "shell", json!({"cmd": "ls"}))],
            _ => vec![tool_use(
                "c",
                "calculator",
                json!({"operation": "divide", "a": 1, "b": 0}),
            )],
        }))
    });
    let (client, _server) = connect(via, model.clone()).await;
    let result = call(
        &client,
        "ask_with_tools",
        json!({"question": "Loop forever", "max_rounds": 3}),
    )
    .await;
    let message = error_text(&result);
    assert!(
        message.contains("still asked for tools after 3 rounds"),
        "{message}"
    );

    let seen = model.seen();
    assert_eq!(seen.len(), 3);
    let (id, text, is_error) = results_of(&seen[1]).remove(0);
    assert_eq!(id, "a");
    assert!(
        is_error && text.contains("invalid input for calculator"),
        "{text}"
    );
    let (id, text, is_error) = results_of(&seen[2]).remove(0);
    assert_eq!(id, "b");
    assert!(is_error && text.contains("unknown tool"), "{text}");
    // The last round forbids tools.
    assert_eq!(
        seen[2].tool_choice.as_ref().unwrap().mode,
        Some(ToolChoiceMode::None)
    );
    assert_eq!(
        seen[1].tool_choice.as_ref().unwrap().mode,
        Some(ToolChoiceMode::Auto)
    );
    client.close().await;
}

/// The server checks the client's capabilities itself before sampling, so
/// that a client without them gets the same tool error in both eras (the
/// model can read it and tell the user), not the stateless era's -32021,
/// which the SDK would send for a sample the client cannot answer.
async fn clients_without_sampling_get_a_clear_error(via: Via) {
    let (client, _server) = connect(via, ()).await;
    let calls = [
        ("summarize", json!({"text": "t"})),
        (
            "translate",
            json!({"text": "t", "target_language": "German"}),
        ),
        ("classify_sentiment", json!({"text": "t"})),
        ("ask_with_tools", json!({"question": "q"})),
    ];
    for (tool, args) in calls {
        let message = error_text(&call(&client, tool, args).await);
        assert!(message.starts_with(NEEDS_SAMPLING), "{tool}: {message}");
    }
    client.close().await;

    // Sampling without tool use: the plain tools work, the loop refuses.
    let model = FakeModel::text("ok");
    let (client, _server2) = connect(via, model.clone()).await;
    let message = error_text(&call(&client, "ask_with_tools", json!({"question": "q"})).await);
    assert!(message.contains("tool use in sampling"), "{message}");
    assert!(
        model.seen().is_empty(),
        "no tool-enabled request may reach such a client"
    );
    let ok = call(&client, "summarize", json!({"text": "t"})).await;
    assert_eq!(structured(&ok)["summary"], "ok");
    client.close().await;
}

async fn a_refusing_client_becomes_a_tool_error(via: Via) {
    let model = FakeModel::new(false, |_| {
        Err(Error::new(ErrorCode(-1), "User rejected sampling request"))
    });
    let (client, _server) = connect(via, model).await;
    if via.stateless() {
        // An input request has no error answer: the client ends the call.
        let refused = client
            .call_tool("summarize", json!({"text": "t"}))
            .await
            .unwrap_err();
        let ClientError::InputRequest { key, method, error } = &refused else {
            panic!("expected the handler's refusal, got {refused:?}");
        };
        assert_eq!(
            (key.as_str(), method.as_str()),
            ("sampling-1", "sampling/createMessage")
        );
        assert!(error.message.contains("User rejected"), "{refused}");
    } else {
        let message = error_text(&call(&client, "summarize", json!({"text": "t"})).await);
        assert!(
            message.contains("User rejected sampling request"),
            "{message}"
        );
    }

    // A model that answers without text.
    let silent = FakeModel::new(false, |_| {
        Ok(tool_use_answer(vec![SamplingContentBlock::Image(
            serde_json::from_value(json!({"data": "AAAA", "mimeType": "image/png"})).unwrap(),
        )]))
    });
    let (client2, _server2) = connect(via, silent).await;
    let message = error_text(
        &call(
            &client2,
            "translate",
            json!({"text": "t", "target_language": "Welsh"}),
        )
        .await,
    );
    assert!(message.contains("answered without text"), "{message}");
    client.close().await;
    client2.close().await;
}

async fn bad_arguments_are_refused(via: Via) {
    let model = FakeModel::text("never");
    let (client, _server) = connect(via, model.clone()).await;
    for (tool, args) in [
        ("summarize", json!({})),
        ("summarize", json!({"text": 42})),
        ("summarize", json!({"text": "t", "max_words": "ten"})),
        ("summarize", json!({"text": "t", "max_words": 0})),
        ("summarize", json!({"text": ""})),
        ("translate", json!({"text": "t"})),
        ("classify_sentiment", json!({"text": "t", "max_tokens": -5})),
        ("ask_with_tools", json!({"question": "q", "max_rounds": 11})),
        ("ask_with_tools", json!({"question": "q", "model_hint": ""})),
    ] {
        let result = call(&client, tool, args.clone()).await;
        assert!(result.is_error(), "{tool} {args} should fail: {result:?}");
    }
    assert!(
        model.seen().is_empty(),
        "invalid calls must not reach the model"
    );
    let unknown = client.call_tool("no_such_tool", json!({})).await;
    assert!(unknown.is_err(), "{unknown:?}");
    client.close().await;
}

/// What a new user can try by hand over stdio (no SDK client): a stateless
/// `tools/call` answers `input_required` with the sampling request under
/// `sampling-1`; the same call again with the answer and the
/// `requestState` gets the summary.
#[tokio::test]
async fn a_stateless_call_by_hand_over_stdio() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let mut child = tokio::process::Command::new(support::example(EXAMPLE))
        .arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut exchange = async |message: Value| -> Value {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str(&line).unwrap()
    };

    let mut params = json!({
        "name": "summarize",
        "arguments": {"text": "A long text about foxes."},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
            "io.modelcontextprotocol/clientInfo": {"name": "by-hand", "version": "1"},
        },
    });
    let first =
        exchange(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}))
            .await;
    let asked = &first["result"];
    assert_eq!(asked["resultType"], "input_required", "{first}");
    let request = &asked["inputRequests"]["sampling-1"];
    assert_eq!(request["method"], "sampling/createMessage", "{first}");
    let prompt = request["params"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(prompt.contains("A long text about foxes."), "{prompt}");

    params["requestState"] = asked["requestState"].clone();
    params["inputResponses"] = json!({"sampling-1": {
        "role": "assistant", "content": {"type": "text", "text": "Foxes."}, "model": "by-hand-llm",
    }});
    let second =
        exchange(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}))
            .await;
    assert_eq!(second["result"]["resultType"], "complete", "{second}");
    assert_eq!(
        second["result"]["structuredContent"],
        json!({"summary": "Foxes.", "model": "by-hand-llm"})
    );
}

#[tokio::test]
async fn health_answers_with_the_seed_json() {
    let server = http_server(EXAMPLE, &[]).await;
    let health = support::health(&server.base).await;
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["serverId"], "2");
    assert_eq!(health["capabilities"], json!(["sampling"]));
}

#[tokio::test]
async fn help_says_how_to_plug_it_in() {
    let help = support::help(EXAMPLE);
    assert!(
        help.contains("sampling") && help.contains("--stdio") && help.contains("mcpServers"),
        "{help}"
    );
}
