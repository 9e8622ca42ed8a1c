//! `tasks/update` (tasks extension, 2026-07-28) with a task store shared by
//! replicas costs one step of the store: the check of the answers against
//! the waiting requests and the taking of them are one call
//! (`TaskStore::answer_checked`, one Redis round trip), not a read of the
//! task followed by an answer. A store that counts its calls, around the
//! in-process one and claiming a lease as a shared store does, shows it;
//! a bad answer is still refused to the client that sent it, and takes
//! nothing.

use async_trait::async_trait;
use mcp_sdk::{ErrorCode, TaskSupport, Tool};
use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{Client, ClientError, ClientHandler};
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::task_store::{
    Answered, InMemoryTaskStore, TaskPage, TaskRecord, TaskStore, TaskStoreError, TaskUpdate,
};
use mcp_sdk_server::{RequestContext, Router, SessionConfig};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// The in-process store, counting the calls `tasks/update` could make
/// (reads and answers; the running work's renewals are not counted), and
/// claiming a lease so that the server treats it as shared by replicas.
#[derive(Debug, Default)]
struct Counting {
    inner: InMemoryTaskStore,
    calls: AtomicUsize,
}

impl Counting {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl TaskStore for Counting {
    async fn create(&self, task: &TaskRecord, limit: usize) -> Result<(), TaskStoreError> {
        self.inner.create(task, limit).await
    }

    async fn get(&self, owner: &str, id: &str) -> Result<Option<TaskRecord>, TaskStoreError> {
        self.count();
        self.inner.get(owner, id).await
    }

    async fn update(
        &self,
        owner: &str,
        id: &str,
        update: TaskUpdate,
    ) -> Result<Option<(TaskRecord, bool)>, TaskStoreError> {
        self.inner.update(owner, id, update).await
    }

    async fn list(
        &self,
        owner: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, TaskStoreError> {
        self.inner.list(owner, cursor, limit).await
    }

    fn lease(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }

    async fn ask(
        &self,
        owner: &str,
        id: &str,
        requests: &Map<String, Value>,
    ) -> Result<bool, TaskStoreError> {
        self.inner.ask(owner, id, requests).await
    }

    async fn answer(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<(TaskRecord, Vec<String>)>, TaskStoreError> {
        self.count();
        self.inner.answer(owner, id, answers).await
    }

    async fn answer_checked(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<Answered>, TaskStoreError> {
        self.count();
        self.inner.answer_checked(owner, id, answers).await
    }

    async fn take_answers(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Map<String, Value>, TaskStoreError> {
        self.inner.take_answers(owner, id).await
    }

    fn changes(&self) -> Option<broadcast::Receiver<Arc<str>>> {
        self.inner.changes()
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Nothing {}

/// A client declaring the tasks extension that answers nothing itself
/// (the test answers with raw `tasks/update`).
struct Extension;

impl ClientHandler for Extension {
    fn capabilities(&self) -> mcp_sdk::ClientCapabilities {
        let mut capabilities = mcp_sdk::ClientCapabilities::default()
            .with_elicitation(mcp_sdk::ElicitationCapability::default().with_form());
        capabilities.extra.insert(
            "extensions".into(),
            json!({ "io.modelcontextprotocol/tasks": {} }),
        );
        capabilities
    }
}

async fn raw(client: &Client, method: &str, params: Value) -> Result<Value, ClientError> {
    client
        .request_raw(method, Some(params), Default::default())
        .await
}

#[tokio::test]
async fn a_tasks_update_is_one_step_of_a_shared_store() {
    let store = Arc::new(Counting::default());
    let router = Router::new().tool(
        Tool::named("confirm", "Goes on as a task, then asks to confirm")
            .with_task_support(TaskSupport::Optional),
        |_: Nothing, ctx: RequestContext| async move {
            ctx.continue_as_task();
            let params: mcp_sdk::ElicitRequestParams = serde_json::from_value(json!({
                "message": "Sure?",
                "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}
            }))
            .map_err(mcp_sdk::Error::internal)?;
            let answer = ctx.elicit(params).await?;
            let ok = answer.content.unwrap_or_default()["ok"] == json!(true);
            Ok::<_, mcp_sdk::Error>(if ok { "confirmed" } else { "not confirmed" })
        },
    );
    let mut session = SessionConfig::default();
    session.tasks.store = store.clone();
    let config = HttpConfig {
        session,
        ..HttpConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let service = StreamableHttpService::new(router, config);
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener, "/mcp", service,
    ));
    let client = Client::builder()
        .handler(Extension)
        .era(mcp_sdk_client::Era::StatelessOnly)
        .connect(HttpTransport::new(&url).unwrap())
        .await
        .unwrap();

    let created = raw(
        &client,
        "tools/call",
        json!({"name": "confirm", "arguments": {}}),
    )
    .await
    .unwrap();
    assert_eq!(created["resultType"], "task", "{created}");
    let id = created["taskId"].as_str().unwrap().to_owned();
    let poll = |done: &'static str| {
        let (client, id) = (&client, &id);
        async move {
            tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let task = raw(client, "tasks/get", json!({"taskId": id}))
                        .await
                        .unwrap();
                    if task["status"] == done {
                        return task;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("the task never got {done}"))
        }
    };
    let waiting = poll("input_required").await;
    let key = (waiting["inputRequests"].as_object().unwrap().keys().next())
        .unwrap()
        .clone();

    // A bad answer: refused to its sender, in one step, nothing taken.
    let before = store.calls.load(Ordering::SeqCst);
    let bad = raw(
        &client,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {key.clone(): {"action": "maybe"}}}),
    )
    .await;
    assert!(
        matches!(&bad, Err(ClientError::Server(e)) if e.code == ErrorCode::INVALID_PARAMS
            && e.message.contains(&format!("inputResponses.{key} is not a valid answer"))),
        "{bad:?}"
    );
    assert_eq!(store.calls.load(Ordering::SeqCst) - before, 1);
    let still = raw(&client, "tasks/get", json!({"taskId": id}))
        .await
        .unwrap();
    assert_eq!(still["status"], "input_required", "{still}");
    assert!(still["inputRequests"].get(&key).is_some(), "{still}");

    // A good one: taken in one step; the work gets it and completes.
    let before = store.calls.load(Ordering::SeqCst);
    let ack = raw(
        &client,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {key: {"action": "accept", "content": {"ok": true}}}}),
    )
    .await
    .unwrap();
    assert_eq!(ack["resultType"], "complete");
    assert_eq!(
        store.calls.load(Ordering::SeqCst) - before,
        1,
        "tasks/update read the task and answered it in separate steps"
    );
    let done = poll("completed").await;
    assert_eq!(done["result"]["content"][0]["text"], "confirmed", "{done}");

    // An unknown task: one step too.
    let before = store.calls.load(Ordering::SeqCst);
    let unknown = raw(
        &client,
        "tasks/update",
        json!({"taskId": "nope", "inputResponses": {}}),
    )
    .await;
    assert!(
        matches!(&unknown, Err(ClientError::Server(e)) if e.code == ErrorCode::INVALID_PARAMS),
        "{unknown:?}"
    );
    assert_eq!(store.calls.load(Ordering::SeqCst) - before, 1);
}
