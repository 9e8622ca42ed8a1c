//! Tasks of the 2026-07-28 tasks extension across replicas of the
//! conformance server that share a Redis task store (`--redis-url`): a task
//! created on one replica is read, cancelled and its result fetched on the
//! others, and a replica killed while it runs a task leaves the task
//! failed, saying why, rather than "working" forever; a task's input
//! requests are shown and answered on any replica. The tasks of the session
//! era (2025-11-25) are shared the same way, bound to their session.
//!
//! These need Redis (`REDIS_URL`) and skip, saying so, without it; CI sets
//! `MCP_REDIS_TEST=required`, which makes that a failure. The balancer test
//! needs HAProxy too (see tests/support/haproxy.rs).

mod support;

use mcp_sdk::{CallToolResult, ClientCapabilities, TaskStatus};
use mcp_sdk_client::{Client, ClientError, ClientHandler, Era, ToolTask};
use serde_json::json;
use std::time::Duration;
use support::haproxy::{Balancer, HealthCheck};
use support::{http_client_in, redis_url, unique_prefix, HttpServer, PATIENCE};

/// `n` conformance servers sharing the Redis at `url` under `prefix`.
async fn replicas(n: usize, url: &str, prefix: &str, lease_ms: &str) -> Vec<HttpServer> {
    support::redis_replicas("conformance_server", n, url, prefix, lease_ms).await
}

/// A client with no handler of its own (the tasks here ask for no input).
struct Plain;
impl ClientHandler for Plain {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
    }
}

async fn stateless(url: &str) -> Client {
    http_client_in(Era::StatelessOnly, url, Plain).await
}

/// `slow_compute` for `seconds`, which must become a task.
async fn start(client: &Client, seconds: f64, label: &str) -> mcp_sdk::Task {
    let started = tokio::time::timeout(
        PATIENCE,
        client.call_tool_as_task(
            "slow_compute",
            json!({"seconds": seconds, "label": label}),
            None,
        ),
    )
    .await
    .expect("an answer in time")
    .expect("the call");
    match started {
        ToolTask::Running(task) => task,
        other => panic!("not a task: {other:?}"),
    }
}

/// Three replicas behind HAProxy (round-robin, no stickiness), one client:
/// each request goes to the next replica, so the task is created on one,
/// and read, cancelled and fetched on the others.
#[tokio::test]
async fn tasks_created_on_one_replica_are_read_cancelled_and_fetched_on_the_others() {
    let test = "tasks_created_on_one_replica_are_read_cancelled_and_fetched_on_the_others";
    let Some(url) = redis_url(test) else { return };
    let channel = unique_prefix(test);
    let replicas = replicas(3, &url, &channel, "3000").await;
    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let client = stateless(&balancer.mcp_url()).await;

    // Created on one, polled on the next ones until its result is there.
    let task = start(&client, 1.0, "across").await;
    assert_eq!(task.status, TaskStatus::Working);
    let seen = client.get_task(&task.task_id).await.unwrap();
    assert_eq!(seen.task_id, task.task_id);
    assert!(
        matches!(seen.status, TaskStatus::Working | TaskStatus::Completed),
        "{seen:?}"
    );
    let result: CallToolResult = tokio::time::timeout(PATIENCE, client.task_result(&task.task_id))
        .await
        .expect("the result in time")
        .unwrap_or_else(|e| panic!("the result across replicas: {e}\n{}", balancer.log()));
    assert_eq!(
        result.content[0].as_text(),
        Some("computed across in 1 s"),
        "{result:?}"
    );
    for _ in 0..3 {
        let done = client.get_task(&task.task_id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Completed);
    }

    // Cancelled on another replica than the one running it; every replica
    // says so after, and the result is the cancellation.
    let long = start(&client, 120.0, "long").await;
    let cancelled = client.cancel_task(&long.task_id).await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    for _ in 0..3 {
        let seen = client.get_task(&long.task_id).await.unwrap();
        assert_eq!(seen.status, TaskStatus::Cancelled, "{seen:?}");
    }
    let ended = client.task_result::<CallToolResult>(&long.task_id).await;
    assert!(
        matches!(ended, Err(ClientError::Cancelled { .. })),
        "{ended:?}"
    );

    // An id no replica gave is unknown everywhere.
    for _ in 0..3 {
        let unknown = client.get_task("00000000000000000000000000000000").await;
        assert!(
            matches!(&unknown, Err(ClientError::Server(e)) if e.code == mcp_sdk::ErrorCode::INVALID_PARAMS),
            "{unknown:?}"
        );
    }
}

/// A replica killed (SIGKILL) while it runs a task: its lease runs out,
/// and the other replica then answers that the task failed and why; the
/// client gets that error from its result, not a task working forever.
#[tokio::test]
async fn a_task_whose_replica_is_killed_fails_with_a_clear_message() {
    let test = "a_task_whose_replica_is_killed_fails_with_a_clear_message";
    let Some(url) = redis_url(test) else { return };
    let channel = unique_prefix(test);
    let mut replicas = replicas(2, &url, &channel, "600").await;
    // Directly to each replica (no balancer), to know which one runs it.
    let on_a = stateless(&replicas[0].url).await;
    let on_b = stateless(&replicas[1].url).await;
    let task = start(&on_a, 120.0, "doomed").await;
    // Alive: renewed past several leases, still working when read on B.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = on_b.get_task(&task.task_id).await.unwrap();
    assert_eq!(seen.status, TaskStatus::Working, "{seen:?}");

    replicas[0].child.start_kill().expect("SIGKILL");
    replicas[0].child.wait().await.unwrap();
    let failed = tokio::time::timeout(PATIENCE, async {
        loop {
            let seen = on_b.get_task(&task.task_id).await.unwrap();
            if seen.status != TaskStatus::Working {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the task leaves working once its lease has run out");
    assert_eq!(failed.status, TaskStatus::Failed, "{failed:?}");
    let message = failed.status_message.unwrap_or_default();
    assert!(message.contains("lease ran out"), "{message}");
    let result = on_b.task_result::<CallToolResult>(&task.task_id).await;
    match result {
        Err(ClientError::Server(e)) => assert!(e.message.contains("lease ran out"), "{e:?}"),
        other => panic!("not the task's error: {other:?}"),
    }
}

/// Says every token names the user it spells (`Bearer alice` is alice).
struct TokenIsTheUser;

#[mcp_sdk_server::async_trait]
impl mcp_sdk_server::auth::TokenVerifier for TokenIsTheUser {
    async fn verify(
        &self,
        token: &str,
    ) -> Result<mcp_sdk_server::auth::Identity, mcp_sdk_server::auth::VerifyError> {
        Ok(mcp_sdk_server::auth::Identity {
            subject: Some(token.to_owned()),
            issuer: Some("https://issuer.example".to_owned()),
            ..Default::default()
        })
    }
}

/// A stateless client of `url` that sends `Bearer {user}`.
async fn signed_in(url: &str, user: &str) -> Client {
    let transport = mcp_sdk_client::transport::HttpTransport::builder(url)
        .header("authorization", format!("Bearer {user}"))
        .build()
        .expect("an HTTP transport");
    Client::builder()
        .era(Era::StatelessOnly)
        .connect(transport)
        .await
        .expect("connected with the token")
}

/// The message of a refused task request, its task id replaced by `ID`.
fn refusal(result: Result<mcp_sdk::Task, ClientError>, id: &str) -> (mcp_sdk::ErrorCode, String) {
    match result {
        Err(ClientError::Server(e)) => (e.code, e.message.replace(id, "ID")),
        other => panic!("not refused: {other:?}"),
    }
}

/// On a protected server a task belongs to the principal that created it:
/// another user who presents its id gets exactly the answer an unknown id
/// gets, cannot cancel it, and the owner still sees it running.
#[tokio::test]
async fn another_users_task_is_answered_as_an_unknown_one() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let auth = mcp_sdk_server::auth::ResourceServer::new(&url, TokenIsTheUser).unwrap();
    let config = mcp_sdk_server::http::HttpConfig {
        auth: Some(std::sync::Arc::new(auth)),
        ..Default::default()
    };
    let service = mcp_sdk_server::http::StreamableHttpService::new(
        mcp_reference::conformance::router(),
        config,
    );
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener, "/mcp", service,
    ));
    let alice = signed_in(&url, "alice").await;
    let mallory = signed_in(&url, "mallory").await;
    let task = start(&alice, 120.0, "private").await;
    let unknown = "0123456789abcdef0123456789abcdef";
    let theirs = refusal(mallory.get_task(&task.task_id).await, &task.task_id);
    let none = refusal(mallory.get_task(unknown).await, unknown);
    assert_eq!(theirs, none);
    assert_eq!(theirs.0, mcp_sdk::ErrorCode::INVALID_PARAMS);
    let cancel = refusal(mallory.cancel_task(&task.task_id).await, &task.task_id);
    assert_eq!(cancel, refusal(mallory.cancel_task(unknown).await, unknown));
    let seen = alice.get_task(&task.task_id).await.unwrap();
    assert_eq!(seen.status, TaskStatus::Working, "{seen:?}");
    let cancelled = alice.cancel_task(&task.task_id).await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
}

/// A user who confirms whatever the server asks (an elicitation of one
/// boolean `confirm`).
struct Confirms;

#[mcp_sdk_client::async_trait]
impl ClientHandler for Confirms {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default().with_elicitation(Default::default())
    }

    async fn elicit(
        &self,
        _params: mcp_sdk::ElicitRequestParams,
        _cx: mcp_sdk_client::RequestContext,
    ) -> Result<mcp_sdk::ElicitResult, mcp_sdk::Error> {
        let answer = json!({"confirm": true});
        Ok(mcp_sdk::ElicitResult::accept(
            answer.as_object().unwrap().clone(),
        ))
    }
}

/// Tasks extension: a task waiting for input on one replica shows its
/// input requests on another, whose `tasks/update` brings the answer to
/// the work (through the store), which completes; a third replica then
/// gives the result.
#[tokio::test]
async fn a_tasks_input_is_answered_on_another_replica_than_the_one_running_it() {
    let test = "a_tasks_input_is_answered_on_another_replica_than_the_one_running_it";
    let Some(url) = redis_url(test) else { return };
    let channel = unique_prefix(test);
    let replicas = replicas(3, &url, &channel, "3000").await;
    let on_a = http_client_in(Era::StatelessOnly, &replicas[0].url, Confirms).await;
    let on_b = http_client_in(Era::StatelessOnly, &replicas[1].url, Confirms).await;
    let on_c = stateless(&replicas[2].url).await;
    let started = tokio::time::timeout(
        PATIENCE,
        on_a.call_tool_as_task("confirm_delete", json!({"filename": "far.txt"}), None),
    )
    .await
    .expect("an answer in time")
    .expect("the call");
    let ToolTask::Running(task) = started else {
        panic!("not a task: {started:?}")
    };
    // B sees it wait for input, answers it (tasks/update on B), and
    // polls until the work on A has finished.
    let waiting = tokio::time::timeout(PATIENCE, async {
        loop {
            let seen = on_b.get_task(&task.task_id).await.unwrap();
            if seen.status != TaskStatus::Working {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("replica B sees the task wait for input");
    assert_eq!(waiting.status, TaskStatus::InputRequired, "{waiting:?}");
    let result: CallToolResult = tokio::time::timeout(PATIENCE, on_b.task_result(&task.task_id))
        .await
        .expect("the input reaches the work on A in time")
        .expect("the result");
    assert_eq!(result.content[0].as_text(), Some("deleted far.txt"));
    let done = on_c.get_task(&task.task_id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed, "{done:?}");
}

/// A session-era client (2025-11-25 tasks) through HAProxy in front of
/// three replicas sharing Redis: each request goes to the next replica, so
/// a task created on one is read, listed, fetched and cancelled on the
/// others; another session never sees it.
#[tokio::test]
async fn session_tasks_created_on_one_replica_are_served_by_the_others() {
    let test = "session_tasks_created_on_one_replica_are_served_by_the_others";
    let Some(url) = redis_url(test) else { return };
    let channel = unique_prefix(test);
    let replicas = replicas(3, &url, &channel, "3000").await;
    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let client = http_client_in(Era::SessionOnly, &balancer.mcp_url(), Plain).await;
    let task = start(&client, 1.0, "in a session").await;
    for _ in 0..3 {
        let seen = client
            .get_task(&task.task_id)
            .await
            .unwrap_or_else(|e| panic!("tasks/get on every replica: {e}\n{}", balancer.log()));
        assert_eq!(seen.task_id, task.task_id);
        let listed = client.list_tasks(None).await.unwrap();
        assert!(
            listed.tasks.iter().any(|t| t.task_id == task.task_id),
            "{listed:?}"
        );
    }
    let result: CallToolResult = tokio::time::timeout(PATIENCE, client.task_result(&task.task_id))
        .await
        .expect("the result in time")
        .expect("the result across replicas");
    assert_eq!(
        result.content[0].as_text(),
        Some("computed in a session in 1 s"),
        "{result:?}"
    );
    for _ in 0..3 {
        let done = client.get_task(&task.task_id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Completed, "{done:?}");
    }

    // Cancelled on whichever replica: every replica says so after, and a
    // second cancel is refused (it has ended).
    let long = start(&client, 120.0, "long").await;
    let cancelled = client.cancel_task(&long.task_id).await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    for _ in 0..3 {
        let seen = client.get_task(&long.task_id).await.unwrap();
        assert_eq!(seen.status, TaskStatus::Cancelled, "{seen:?}");
    }
    let again = client.cancel_task(&long.task_id).await;
    assert!(
        matches!(&again, Err(ClientError::Server(e)) if e.code == mcp_sdk::ErrorCode::INVALID_PARAMS),
        "{again:?}"
    );
    let ended = client.task_result::<CallToolResult>(&long.task_id).await;
    assert!(ended.is_err(), "{ended:?}");

    // Another session, on every replica: unknown, as an id never given.
    let other = http_client_in(Era::SessionOnly, &balancer.mcp_url(), Plain).await;
    for _ in 0..3 {
        let theirs = other.get_task(&task.task_id).await;
        assert!(
            matches!(&theirs, Err(ClientError::Server(e)) if e.code == mcp_sdk::ErrorCode::INVALID_PARAMS),
            "{theirs:?}"
        );
        assert!(other.list_tasks(None).await.unwrap().tasks.is_empty());
    }
    let refused = other.cancel_task(&long.task_id).await;
    assert!(refused.is_err(), "{refused:?}");
    client.close().await;
    other.close().await;
}

/// One POST of JSON-RPC `body` to `url` in the session `session` (none for
/// `initialize`): the answer with the request's id (from JSON or from an
/// SSE stream), and the session id the server gave.
async fn post(
    url: &str,
    session: Option<&str>,
    body: serde_json::Value,
) -> (serde_json::Value, Option<String>) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("an answer in time")
        .expect("the replica answers");
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    if body.get("id").is_none() {
        return (serde_json::Value::Null, session);
    }
    let answer = std::iter::once(text.as_str())
        .chain(text.lines().filter_map(|l| l.strip_prefix("data:")))
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(t.trim()).ok())
        .find(|m| m.get("id") == body.get("id"))
        .unwrap_or_else(|| panic!("no answer to {body} in {text:?}"));
    (answer, session)
}

/// A session-era task whose replica is killed (SIGKILL): its lease runs
/// out, and another replica then answers, for that session, that the task
/// failed and why.
#[tokio::test]
async fn a_session_task_whose_replica_is_killed_fails_with_a_clear_message() {
    let test = "a_session_task_whose_replica_is_killed_fails_with_a_clear_message";
    let Some(url) = redis_url(test) else { return };
    let channel = unique_prefix(test);
    let mut replicas = replicas(2, &url, &channel, "600").await;
    let (a, b) = (replicas[0].url.clone(), replicas[1].url.clone());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": test, "version": "1"}}});
    let (_, session) = post(&a, None, init).await;
    let session = session.expect("a session id");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(&a, Some(&session), initialized).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "slow_compute", "arguments": {"seconds": 120, "label": "doomed"},
        "task": {"ttl": 60000}}});
    let (created, _) = post(&a, Some(&session), call).await;
    let id = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("not a task: {created}"))
        .to_owned();
    let get = |n: u64| json!({"jsonrpc": "2.0", "id": n, "method": "tasks/get", "params": {"taskId": id}});
    // Alive: renewed past several leases, still working when read on B.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (seen, _) = post(&b, Some(&session), get(3)).await;
    assert_eq!(seen["result"]["status"], "working", "{seen}");

    replicas[0].child.start_kill().expect("SIGKILL");
    replicas[0].child.wait().await.unwrap();
    let failed = tokio::time::timeout(PATIENCE, async {
        for n in 4.. {
            let (seen, _) = post(&b, Some(&session), get(n)).await;
            if seen["result"]["status"] != "working" {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        unreachable!()
    })
    .await
    .expect("the task leaves working once its lease has run out");
    assert_eq!(failed["result"]["status"], "failed", "{failed}");
    let message = failed["result"]["statusMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("lease ran out"), "{failed}");
    let result =
        json!({"jsonrpc": "2.0", "id": 1000, "method": "tasks/result", "params": {"taskId": id}});
    let (answer, _) = post(&b, Some(&session), result).await;
    let error = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("lease ran out"), "{answer}");
}
