//! Tasks (2025-11-25, experimental), our client against our server over an
//! in-process pipe and over Streamable HTTP on a real socket: a tool call
//! run as a task answers at once, is polled, fetched, listed and
//! cancelled; its elicitation carries the related-task `_meta` while the
//! task is `input_required`; the tool's and the request's rules on task
//! support are enforced; tasks belong to their session.

mod support;

use mcp_sdk::{
    ElicitRequestParams, ElicitResult, ElicitationCapability, Error, ErrorCode, JsonObject,
    TaskStatus, TaskSupport, Tool, RELATED_TASK_META_KEY,
};
use mcp_sdk_client::transport::{HttpTransport, IoTransport};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, RequestContext, ToolTask};
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::{RequestContext as ServerContext, Router, SessionConfig};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::PATIENCE;

#[derive(Deserialize, JsonSchema)]
struct Wait {
    /// How long to run, in milliseconds.
    ms: u64,
}

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

fn server() -> Router {
    Router::new()
        .tool(
            Tool::named("slow", "Runs for a while, reporting progress")
                .with_task_support(TaskSupport::Optional),
            |args: Wait, ctx: ServerContext| async move {
                for step in 1..=10u64 {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(args.ms / 10)) => {}
                        _ = ctx.cancelled() => return Err("cancelled".to_owned()),
                    }
                    let _ = ctx.progress(step as f64, Some(10.0), None).await;
                }
                Ok(format!("ran {} ms", args.ms))
            },
        )
        .tool(
            Tool::named("only_task", "Runs only as a task").with_task_support(TaskSupport::Required),
            |_: Nothing| async { "done" },
        )
        .tool(Tool::named("plain", "Never a task"), |_: Nothing| async {
            "plain"
        })
        .tool(
            Tool::named("fails", "Always fails").with_task_support(TaskSupport::Optional),
            |_: Nothing| async { Err::<String, _>("boom") },
        )
        .tool(
            Tool::named("confirm", "Goes on as a task, then asks to confirm")
                .with_task_support(TaskSupport::Optional),
            |_: Nothing, ctx: ServerContext| async move {
                ctx.continue_as_task();
                let params: ElicitRequestParams = serde_json::from_value(json!({
                    "message": "Sure?",
                    "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}
                }))
                .map_err(Error::internal)?;
                let answer = ctx.elicit(params).await?;
                let ok = answer.content.unwrap_or_default()["ok"] == json!(true);
                Ok::<_, Error>(if ok { "confirmed" } else { "not confirmed" })
            },
        )
        .tool(
            Tool::named("ask", "Asks the user's name").with_task_support(TaskSupport::Optional),
            |_: Nothing, ctx: ServerContext| async move {
                let params: ElicitRequestParams = serde_json::from_value(json!({
                    "message": "Your name?",
                    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}
                }))
                .map_err(Error::internal)?;
                let answer = ctx.elicit(params).await?;
                let name = answer.content.unwrap_or_default()["name"].clone();
                Ok::<_, Error>(format!("hello {}", name.as_str().unwrap_or("?")))
            },
        )
}

/// Answers elicitation with a name, noting the related task it came with,
/// and notes every task status announced.
#[derive(Default, Clone)]
struct Person {
    related: Arc<Mutex<Vec<Value>>>,
    statuses: Arc<Mutex<Vec<(String, String)>>>,
    /// Declares the tasks extension of 2026-07-28.
    tasks_extension: bool,
}

#[async_trait]
impl ClientHandler for Person {
    fn capabilities(&self) -> mcp_sdk::ClientCapabilities {
        let mut capabilities = mcp_sdk::ClientCapabilities::default()
            .with_elicitation(ElicitationCapability::default().with_form());
        if self.tasks_extension {
            capabilities.extra.insert(
                "extensions".into(),
                json!({ "io.modelcontextprotocol/tasks": {} }),
            );
        }
        capabilities
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        if let ElicitRequestParams::Form(form) = &params {
            let related = form
                .meta
                .as_ref()
                .and_then(|m| m.get(RELATED_TASK_META_KEY))
                .cloned()
                .unwrap_or(Value::Null);
            self.related.lock().unwrap().push(related);
        }
        let mut content = JsonObject::new();
        content.insert("name".into(), json!("Ada"));
        content.insert("ok".into(), json!(true));
        Ok(ElicitResult::accept(content))
    }

    async fn on_notification(&self, method: &str, params: Option<Value>) {
        if method == "notifications/tasks/status" {
            let params = params.unwrap_or_default();
            let id = params["taskId"].as_str().unwrap_or_default().to_owned();
            let status = params["status"].as_str().unwrap_or_default().to_owned();
            self.statuses.lock().unwrap().push((id, status));
        }
    }
}

impl Person {
    /// The statuses announced for `task`, waiting (a little) for the last
    /// to be `last`.
    async fn statuses_of(&self, task: &str, last: &str) -> Vec<String> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let seen: Vec<String> = self
                    .statuses
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(id, _)| id == task)
                    .map(|(_, s)| s.clone())
                    .collect();
                if seen.last().map(String::as_str) == Some(last) {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {last} status announced for {task}"))
    }
}

fn config() -> SessionConfig {
    let mut config = SessionConfig::default();
    config.tasks.max_tasks = 8;
    config.tasks.max_ttl = Duration::from_secs(60);
    config
}

/// Our client on an in-process pipe to the server.
async fn in_process(handler: Person) -> Client {
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let (server_read, server_write) = tokio::io::split(server_side);
    tokio::spawn(mcp_sdk_server::stdio::serve_io(
        server(),
        config(),
        server_read,
        server_write,
    ));
    let (read, write) = tokio::io::split(client_side);
    // Tasks are of the session era (2026-07-28 makes them an extension).
    Client::builder()
        .handler(handler)
        .era(mcp_sdk_client::Era::SessionOnly)
        .connect(IoTransport::new(read, write))
        .await
        .expect("connects")
}

/// The server over Streamable HTTP on a free port; its MCP URL.
async fn http_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let http = HttpConfig {
        session: config(),
        ..HttpConfig::default()
    };
    let service = StreamableHttpService::new(server(), http);
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener, "/mcp", service,
    ));
    url
}

async fn http_client(url: &str, handler: Person) -> Client {
    Client::builder()
        .handler(handler)
        .era(mcp_sdk_client::Era::SessionOnly)
        .connect(HttpTransport::new(url).unwrap())
        .await
        .expect("connects")
}

/// The task a call started (the session era always starts one).
fn running(outcome: ToolTask) -> mcp_sdk::Task {
    match outcome {
        ToolTask::Running(task) => task,
        ToolTask::Finished(result) => panic!("expected a task, got the result {result:?}"),
    }
}

fn server_error(result: Result<impl std::fmt::Debug, ClientError>) -> Error {
    match result {
        Err(ClientError::Server(e)) => e,
        other => panic!("expected the server's error, got {other:?}"),
    }
}

async fn until_status(client: &Client, id: &str, status: TaskStatus) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if client.get_task(id).await.unwrap().status == status {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("task {id} never became {status:?}"));
}

/// Everything a client of one session sees.
async fn lifecycle(client: &Client, handler: &Person) {
    let caps = client
        .server_capabilities()
        .tasks
        .clone()
        .expect("tasks declared");
    assert!(caps.list.is_some() && caps.cancel.is_some());
    let tools = client.list_all_tools().await.unwrap();
    let slow = tools.iter().find(|t| t.name == "slow").unwrap();
    assert_eq!(
        slow.execution.as_ref().unwrap().task_support,
        Some(TaskSupport::Optional)
    );

    // Created at once, working; polled to completion; the result is the
    // tool's, tied to the task.
    let task = running(
        client
            .call_tool_as_task("slow", json!({"ms": 200}), Some(Duration::from_secs(600)))
            .await
            .unwrap(),
    );
    assert_eq!(task.status, TaskStatus::Working);
    assert_eq!(task.ttl, Some(60_000), "the ttl is capped by the server");
    assert!(task.poll_interval.is_some());
    assert_eq!(task.task_id.len(), 32);
    let result: mcp_sdk::CallToolResult = client.task_result(&task.task_id).await.unwrap();
    assert_eq!(result.content[0].as_text(), Some("ran 200 ms"));
    assert_eq!(
        result.meta.as_ref().unwrap()[RELATED_TASK_META_KEY]["taskId"],
        task.task_id.as_str()
    );
    let done = client.get_task(&task.task_id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.created_at, task.created_at);

    // Cancelled while it runs; a second cancel is refused.
    let long = running(
        client
            .call_tool_as_task("slow", json!({"ms": 30_000}), None)
            .await
            .unwrap(),
    );
    let cancelled = client.cancel_task(&long.task_id).await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    let again = server_error(client.cancel_task(&long.task_id).await);
    assert_eq!(again.code, ErrorCode::INVALID_PARAMS);
    assert!(again.message.contains("cancelled"), "{}", again.message);
    let after = server_error(client.task_result::<Value>(&long.task_id).await);
    assert!(after.message.contains("cancelled"), "{}", after.message);

    // A tool that fails: the task fails, with the tool's words.
    let failing = running(
        client
            .call_tool_as_task("fails", json!({}), None)
            .await
            .unwrap(),
    );
    let result: mcp_sdk::CallToolResult = client.task_result(&failing.task_id).await.unwrap();
    assert!(result.is_error());
    let failed = client.get_task(&failing.task_id).await.unwrap();
    assert_eq!(failed.status, TaskStatus::Failed);
    assert!(failed.status_message.unwrap().contains("boom"));

    // The tool asks the user: input_required, then working again; the
    // elicitation carries the related task.
    let asking = running(
        client
            .call_tool_as_task("ask", json!({}), None)
            .await
            .unwrap(),
    );
    let result: mcp_sdk::CallToolResult = client.task_result(&asking.task_id).await.unwrap();
    assert_eq!(result.content[0].as_text(), Some("hello Ada"));
    assert_eq!(
        handler.related.lock().unwrap().last().unwrap()["taskId"],
        asking.task_id.as_str()
    );
    until_status(client, &asking.task_id, TaskStatus::Completed).await;
    assert_eq!(
        handler.statuses_of(&asking.task_id, "completed").await,
        ["input_required", "working", "completed"]
    );
    assert_eq!(
        handler.statuses_of(&long.task_id, "cancelled").await,
        ["cancelled"]
    );

    // The rules: a task-only tool called plainly, a never-task tool called
    // as a task; unknown ids.
    let plainly = server_error(client.call_tool("only_task", json!({})).await);
    assert_eq!(plainly.code, ErrorCode::METHOD_NOT_FOUND);
    let tasked = server_error(client.call_tool_as_task("plain", json!({}), None).await);
    assert_eq!(tasked.code, ErrorCode::METHOD_NOT_FOUND);
    let only = running(
        client
            .call_tool_as_task("only_task", json!({}), None)
            .await
            .unwrap(),
    );
    let result: mcp_sdk::CallToolResult = client.task_result(&only.task_id).await.unwrap();
    assert_eq!(result.content[0].as_text(), Some("done"));
    assert_eq!(
        client
            .call_tool("slow", json!({"ms": 10}))
            .await
            .unwrap()
            .content[0]
            .as_text(),
        Some("ran 10 ms"),
        "an optional tool still runs plainly"
    );
    for unknown in [
        server_error(client.get_task("nope").await),
        server_error(client.task_result::<Value>("nope").await),
        server_error(client.cancel_task("nope").await),
    ] {
        assert_eq!(unknown.code, ErrorCode::INVALID_PARAMS);
    }

    // Listed in creation order, all five.
    let listed = client.list_tasks(None).await.unwrap();
    let ids: Vec<&str> = listed.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(
        ids,
        [&task, &long, &failing, &asking, &only].map(|t| t.task_id.as_str())
    );
    let bad_cursor = server_error(client.list_tasks(Some("no-such-cursor".into())).await);
    assert_eq!(bad_cursor.code, ErrorCode::INVALID_PARAMS);

    // At most eight per session.
    for _ in 0..3 {
        running(
            client
                .call_tool_as_task("slow", json!({"ms": 10}), None)
                .await
                .unwrap(),
        );
    }
    let full = server_error(
        client
            .call_tool_as_task("slow", json!({"ms": 10}), None)
            .await,
    );
    assert!(full.message.contains("tasks already"), "{}", full.message);
}

#[tokio::test]
async fn tasks_in_process() {
    let person = Person::default();
    let client = in_process(person.clone()).await;
    tokio::time::timeout(PATIENCE * 2, lifecycle(&client, &person))
        .await
        .expect("in time");
}

#[tokio::test]
async fn tasks_over_http_belong_to_their_session() {
    let url = http_server().await;
    let person = Person::default();
    let client = http_client(&url, person.clone()).await;
    tokio::time::timeout(PATIENCE * 2, lifecycle(&client, &person))
        .await
        .expect("in time");

    // Another session sees none of them.
    let listed = client.list_tasks(None).await.unwrap();
    let other = http_client(&url, Person::default()).await;
    assert!(other.list_tasks(None).await.unwrap().tasks.is_empty());
    let foreign = server_error(other.get_task(&listed.tasks[0].task_id).await);
    assert_eq!(foreign.code, ErrorCode::INVALID_PARAMS);
}

/// A validator for the definition `def` of the 2025-11-25 schema, or
/// `None` (after saying why) when the official schemas are not at
/// `$MCP_SCHEMA_DIR` (default: `../shared/mcp-schema`).
fn schema_of(def: &str) -> Option<jsonschema::Validator> {
    let dir = std::env::var_os("MCP_SCHEMA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/mcp-schema").into());
    let path = dir.join("2025-11-25/schema.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED: no MCP schema at {} (set MCP_SCHEMA_DIR)",
            path.display()
        );
        return None;
    };
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    schema["$ref"] = json!(format!("#/$defs/{def}"));
    Some(jsonschema::validator_for(&schema).unwrap())
}

fn assert_valid(def: &str, value: &Value) {
    let Some(validator) = schema_of(def) else {
        return;
    };
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{def}: {errors:?} in {value}");
}

/// What the server sends for tasks, as raw JSON, against the official
/// 2025-11-25 schema.
#[tokio::test]
async fn task_answers_match_the_schema() {
    let client = in_process(Person::default()).await;
    let raw = |method: &'static str, params| {
        let client = client.clone();
        async move { raw(&client, method, params).await.unwrap() }
    };
    let created = raw(
        "tools/call",
        json!({"name": "slow", "arguments": {"ms": 50}, "task": {"ttl": 30000}}),
    )
    .await;
    assert_valid("CreateTaskResult", &created);
    let id = created["task"]["taskId"].as_str().unwrap().to_owned();
    assert_valid(
        "GetTaskResult",
        &raw("tasks/get", json!({"taskId": id})).await,
    );
    let payload = raw("tasks/result", json!({"taskId": id})).await;
    assert_valid("GetTaskPayloadResult", &payload);
    assert_valid("CallToolResult", &payload);
    assert_valid(
        "GetTaskResult",
        &raw("tasks/get", json!({"taskId": id})).await,
    );
    assert_valid("ListTasksResult", &raw("tasks/list", json!({})).await);
    let long = raw(
        "tools/call",
        json!({"name": "slow", "arguments": {"ms": 30000}, "task": {}}),
    )
    .await;
    let long_id = long["task"]["taskId"].as_str().unwrap().to_owned();
    assert_valid(
        "CancelTaskResult",
        &raw("tasks/cancel", json!({"taskId": long_id})).await,
    );
}

/// A request by method name, its answer as raw JSON.
async fn raw(client: &Client, method: &str, params: Value) -> Result<Value, ClientError> {
    client
        .request_raw(method, Some(params), Default::default())
        .await
}

/// Polls `tasks/get` until `done` says the task is there.
async fn poll_until(client: &Client, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let task = raw(client, "tasks/get", json!({"taskId": id}))
                .await
                .unwrap();
            if done(&task) {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("task {id} never got there"))
}

/// The tasks extension of 2026-07-28 (SEP-2663), stateless over HTTP: the
/// server decides (a quick call answers at once, a slow one becomes a
/// task), input asked after the task began is answered with tasks/update,
/// cancel is an acknowledgement, and a client without the extension is
/// refused with -32021 where it would need it.
#[tokio::test]
async fn the_2026_tasks_extension() {
    let url = http_server().await;
    let person = Person {
        tasks_extension: true,
        ..Default::default()
    };
    let client = Client::builder()
        .handler(person)
        .era(mcp_sdk_client::Era::StatelessOnly)
        .connect(HttpTransport::new(&url).unwrap())
        .await
        .unwrap();
    let extensions = &client.server_capabilities().extra["extensions"];
    assert!(extensions.get("io.modelcontextprotocol/tasks").is_some());
    assert!(client.server_capabilities().tasks.is_none());
    let raw = |method, params| raw(&client, method, params);

    // Quick: answered as usual. Slow: a task, whose result comes inlined.
    let quick = raw(
        "tools/call",
        json!({"name": "slow", "arguments": {"ms": 10}}),
    )
    .await
    .unwrap();
    assert_eq!(quick["resultType"], "complete");
    assert_eq!(quick["content"][0]["text"], "ran 10 ms");
    let created = raw(
        "tools/call",
        json!({"name": "slow", "arguments": {"ms": 600}}),
    )
    .await
    .unwrap();
    assert_eq!(created["resultType"], "task", "{created}");
    let id = created["taskId"].as_str().unwrap().to_owned();
    assert!(created["ttlMs"].as_u64().unwrap() > 0 && created.get("ttl").is_none());
    let done = poll_until(&client, &id, |t| t["status"] == "completed").await;
    assert_eq!(done["result"]["content"][0]["text"], "ran 600 ms", "{done}");
    assert!(done["result"]["_meta"].get(RELATED_TASK_META_KEY).is_none());

    // Input asked in the task: listed, answered by tasks/update.
    let created = raw("tools/call", json!({"name": "confirm", "arguments": {}}))
        .await
        .unwrap();
    assert_eq!(created["resultType"], "task", "{created}");
    let id = created["taskId"].as_str().unwrap().to_owned();
    let waiting = poll_until(&client, &id, |t| t["status"] == "input_required").await;
    let key = waiting["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    assert_eq!(
        waiting["inputRequests"][&key]["method"],
        "elicitation/create"
    );
    let bad = raw(
        "tasks/update",
        json!({"taskId": id, "inputResponses": {key.clone(): {"action": "maybe"}}}),
    )
    .await;
    assert!(matches!(bad, Err(ClientError::Server(e)) if e.code == ErrorCode::INVALID_PARAMS));
    let ack = raw(
        "tasks/update",
        json!({"taskId": id, "inputResponses": {key: {"action": "accept", "content": {"ok": true}}}}),
    )
    .await
    .unwrap();
    assert_eq!(ack["resultType"], "complete");
    assert!(ack.get("taskId").is_none());
    let done = poll_until(&client, &id, |t| t["status"] == "completed").await;
    assert_eq!(done["result"]["content"][0]["text"], "confirmed");

    // Cancel: an acknowledgement, the status follows, again is the same;
    // an unknown task is -32602.
    let created = raw(
        "tools/call",
        json!({"name": "slow", "arguments": {"ms": 30000}}),
    )
    .await
    .unwrap();
    let id = created["taskId"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let ack = raw("tasks/cancel", json!({"taskId": id})).await.unwrap();
        assert_eq!(ack["resultType"], "complete");
    }
    poll_until(&client, &id, |t| t["status"] == "cancelled").await;
    let unknown = raw("tasks/get", json!({"taskId": "nope"})).await;
    assert!(matches!(unknown, Err(ClientError::Server(e)) if e.code == ErrorCode::INVALID_PARAMS));
    for removed in ["tasks/result", "tasks/list"] {
        let gone = raw(removed, json!({"taskId": id})).await;
        assert!(
            matches!(&gone, Err(ClientError::Server(e)) if e.code == ErrorCode::METHOD_NOT_FOUND),
            "{removed}: {gone:?}"
        );
    }

    // Without the extension: plain calls, and -32021 where a task is needed.
    let plain = Client::builder()
        .handler(Person::default())
        .era(mcp_sdk_client::Era::StatelessOnly)
        .connect(HttpTransport::new(&url).unwrap())
        .await
        .unwrap();
    let slow = plain.call_tool("slow", json!({"ms": 400})).await.unwrap();
    assert_eq!(slow.content[0].as_text(), Some("ran 400 ms"));
    for refused in [
        server_error(plain.call_tool("only_task", json!({})).await),
        server_error(
            plain
                .request_raw("tasks/get", Some(json!({"taskId": id})), Default::default())
                .await,
        ),
    ] {
        assert_eq!(refused.code, ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
    }
}

/// The same client calls follow the 2026-07-28 tasks extension on a
/// stateless connection: the client declares the extension per request,
/// the server decides, and the client polls, answers the task's input with
/// its handler and fetches the result.
#[tokio::test]
async fn the_client_follows_extension_tasks() {
    let url = http_server().await;
    let person = Person::default();
    let client = Client::builder()
        .handler(person)
        .era(mcp_sdk_client::Era::StatelessOnly)
        .connect(HttpTransport::new(&url).unwrap())
        .await
        .unwrap();
    let quick = client
        .call_tool_as_task("slow", json!({"ms": 10}), None)
        .await
        .unwrap();
    assert!(matches!(quick, ToolTask::Finished(r) if r.content[0].as_text() == Some("ran 10 ms")));
    let slow = running(
        client
            .call_tool_as_task("slow", json!({"ms": 600}), None)
            .await
            .unwrap(),
    );
    assert_eq!(slow.status, TaskStatus::Working);
    assert!(slow.ttl.is_some() && slow.poll_interval.is_some());
    let result: mcp_sdk::CallToolResult = client.task_result(&slow.task_id).await.unwrap();
    assert_eq!(result.content[0].as_text(), Some("ran 600 ms"));
    assert_eq!(
        client.get_task(&slow.task_id).await.unwrap().status,
        TaskStatus::Completed
    );

    // Input the task asks for is answered by the client's handler.
    let confirm = running(
        client
            .call_tool_as_task("confirm", json!({}), None)
            .await
            .unwrap(),
    );
    let result: mcp_sdk::CallToolResult =
        tokio::time::timeout(PATIENCE, client.task_result(&confirm.task_id))
            .await
            .expect("in time")
            .unwrap();
    assert_eq!(result.content[0].as_text(), Some("confirmed"));

    let long = running(
        client
            .call_tool_as_task("slow", json!({"ms": 30_000}), None)
            .await
            .unwrap(),
    );
    let cancelled = client.cancel_task(&long.task_id).await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    let ended = client.task_result::<Value>(&long.task_id).await;
    assert!(
        matches!(ended, Err(ClientError::Cancelled { .. })),
        "{ended:?}"
    );
    assert!(matches!(
        client.list_tasks(None).await,
        Err(ClientError::Unsupported(_))
    ));
}
