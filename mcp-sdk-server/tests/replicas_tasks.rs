//! Two services sharing `Replicas::in_memory()` and one task store act as
//! replicas of one server: a task of a session (2025-11-25 tasks) created
//! on one is read, listed, fetched and cancelled on the other, a cancel on
//! the other stops its tool, and another session never sees it.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use mcp_sdk::{TaskSupport, Tool};
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::task_store::InMemoryTaskStore;
use mcp_sdk_server::{RequestContext, Router, SessionConfig};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

#[derive(Deserialize, schemars::JsonSchema)]
struct Work {
    ms: u64,
}

/// Notifies when dropped: the tool was stopped before it finished.
struct Dropped(Arc<Notify>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// A replica whose `work` tool says on `started` how long it works when
/// it starts, and notifies `stopped` when stopped before it finished.
fn replica(
    shared: &Replicas,
    store: &Arc<InMemoryTaskStore>,
    started: mpsc::UnboundedSender<u64>,
    stopped: Arc<Notify>,
) -> StreamableHttpService {
    let router = Router::new().tool(
        Tool::named("work", "Works for `ms` milliseconds").with_task_support(TaskSupport::Optional),
        move |w: Work, ctx: RequestContext| {
            let guard = Dropped(stopped.clone());
            let _ = started.send(w.ms);
            async move {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(w.ms)) => {}
                    _ = ctx.cancelled() => return Err("cancelled".to_owned()),
                }
                // Finished: nothing to tell (a leaked Arc, in a test).
                std::mem::forget(guard);
                Ok(format!("worked {} ms", w.ms))
            }
        },
    );
    let mut session = SessionConfig::default();
    session.tasks.store = store.clone();
    let config = HttpConfig {
        session,
        replicas: Some(shared.clone()),
        ..HttpConfig::default()
    };
    StreamableHttpService::new(router, config)
}

/// POSTs `body` in `session` (none for `initialize`): the answer with the
/// request's id (JSON, or in the SSE stream), and the session id given.
async fn post(
    service: &StreamableHttpService,
    session: Option<&str>,
    body: Value,
) -> (Value, Option<String>) {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(id) = session {
        req = req.header("mcp-session-id", id);
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), service.handle(req))
        .await
        .expect("an answer in time");
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if body.get("id").is_none() {
        return (Value::Null, session);
    }
    let answer = std::iter::once(text.as_str())
        .chain(text.lines().filter_map(|l| l.strip_prefix("data:")))
        .filter_map(|t| serde_json::from_str::<Value>(t.trim()).ok())
        .find(|m| m.get("id") == body.get("id"))
        .unwrap_or_else(|| panic!("no answer to {body} in {text:?}"));
    (answer, session)
}

/// Two replicas sharing sessions and a task store, and what their `work`
/// tools tell: how long each works as it starts, and when one was stopped.
struct Pair {
    a: StreamableHttpService,
    b: StreamableHttpService,
    starts: mpsc::UnboundedReceiver<u64>,
    stopped: Arc<Notify>,
}

impl Pair {
    fn new() -> Pair {
        let shared = Replicas::in_memory();
        let store = Arc::new(InMemoryTaskStore::default());
        let stopped = Arc::new(Notify::new());
        let (started, starts) = mpsc::unbounded_channel();
        Pair {
            a: replica(&shared, &store, started.clone(), stopped.clone()),
            b: replica(&shared, &store, started, stopped.clone()),
            starts,
            stopped,
        }
    }
}

/// A new initialized session on `service`.
async fn open(service: &StreamableHttpService) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "replicas-tasks-test", "version": "1"}}});
    let (_, id) = post(service, None, init).await;
    let id = id.expect("a session id");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(service, Some(&id), initialized).await;
    id
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Starts `work` for `ms` as a task; gives its id.
async fn start(service: &StreamableHttpService, session: &str, ms: u64) -> String {
    let call = request(
        1,
        "tools/call",
        json!({"name": "work", "arguments": {"ms": ms}, "task": {"ttl": 60000}}),
    );
    let (created, _) = post(service, Some(session), call).await;
    created["result"]["task"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("not a task: {created}"))
        .to_owned()
}

#[tokio::test]
async fn a_sessions_task_is_served_by_another_replica_to_that_session_only() {
    let Pair {
        a,
        b,
        mut starts,
        stopped,
    } = Pair::new();
    let session = open(&a).await;

    // Created on A; read, listed and fetched on B.
    let task = start(&a, &session, 300).await;
    let get = |n| request(n, "tasks/get", json!({"taskId": task}));
    let (seen, _) = post(&b, Some(&session), get(2)).await;
    assert_eq!(seen["result"]["taskId"], task.as_str(), "{seen}");
    let (listed, _) = post(&b, Some(&session), request(3, "tasks/list", json!({}))).await;
    assert_eq!(
        listed["result"]["tasks"][0]["taskId"],
        task.as_str(),
        "{listed}"
    );
    let result = request(4, "tasks/result", json!({"taskId": task}));
    let (result, _) = post(&b, Some(&session), result).await;
    assert_eq!(
        result["result"]["content"][0]["text"], "worked 300 ms",
        "{result}"
    );
    assert_eq!(
        result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        task.as_str(),
        "{result}"
    );
    let (done, _) = post(&b, Some(&session), get(5)).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");

    // Created on A, cancelled on B: A says so, and its tool stops.
    let long = start(&a, &session, 600_000).await;
    // Running (a cancel heard before the work first ran stops it before
    // the tool starts, which is not what this looks at).
    let running = async { while starts.recv().await != Some(600_000) {} };
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the tool on A starts");
    let cancel = request(6, "tasks/cancel", json!({"taskId": long}));
    let (cancelled, _) = post(&b, Some(&session), cancel.clone()).await;
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    tokio::time::timeout(Duration::from_secs(30), stopped.notified())
        .await
        .expect("the tool on A stops");
    let (seen, _) = post(
        &a,
        Some(&session),
        request(7, "tasks/get", json!({"taskId": long})),
    )
    .await;
    assert_eq!(seen["result"]["status"], "cancelled", "{seen}");
    let (again, _) = post(&a, Some(&session), cancel).await;
    assert_eq!(again["error"]["code"], -32602, "ended already: {again}");

    // Another session, on either replica: unknown, as an id never given.
    let other = open(&b).await;
    let unknown = "0123456789abcdef0123456789abcdef";
    for replica in [&a, &b] {
        let (theirs, _) = post(replica, Some(&other), get(8)).await;
        let (none, _) = post(
            replica,
            Some(&other),
            request(8, "tasks/get", json!({"taskId": unknown})),
        )
        .await;
        assert_eq!(theirs["error"]["code"], -32602, "{theirs}");
        assert_eq!(
            theirs["error"]["message"]
                .as_str()
                .unwrap()
                .replace(&task, "ID"),
            none["error"]["message"]
                .as_str()
                .unwrap()
                .replace(unknown, "ID"),
        );
        let (listed, _) = post(replica, Some(&other), request(9, "tasks/list", json!({}))).await;
        assert_eq!(listed["result"]["tasks"], json!([]), "{listed}");
    }
}

#[tokio::test]
async fn a_task_cancelled_elsewhere_before_its_work_first_ran_does_not_run_on() {
    let Pair {
        a,
        b,
        mut starts,
        stopped,
    } = Pair::new();
    let session = open(&a).await;

    // On this one-thread runtime, nothing else ran between the two: the
    // work on A has not started when B cancels it.
    let long = start(&a, &session, 600_000).await;
    let cancel = request(2, "tasks/cancel", json!({"taskId": long}));
    let (cancelled, _) = post(&b, Some(&session), cancel).await;
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");

    // A hears of it when its work first runs: the tool is stopped, or
    // never starts. Missed, the tool would work its 10 minutes.
    let stops = tokio::time::timeout(Duration::from_secs(5), stopped.notified()).await;
    if stops.is_err() {
        assert!(
            starts.try_recv().is_err(),
            "the tool on A started and runs on, although the task was cancelled"
        );
    }
}
