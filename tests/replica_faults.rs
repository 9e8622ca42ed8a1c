//! Faults of replicas that share Redis (examples/replica_server.rs with
//! `--redis-url`: the conformance server's tools and Redis wiring, in
//! separate processes, so a kill is a real SIGKILL):
//!
//! - a replica killed under a session's open GET stream while tasks run on
//!   the others: the client resumes its stream on another replica with
//!   `Last-Event-ID` and hears every notification, including those sent
//!   while no stream was open, and the tasks elsewhere finish;
//! - Redis killed, then started again on the same port: what needs it fails
//!   at once with a 503 or a JSON-RPC error that says why, and everything
//!   works again by itself once it is back; the sessions it held are gone
//!   (404), as a Redis without persistence loses them;
//! - Redis frozen (behind a frozen relay): the same errors, within a bounded time, never
//!   a hang.
//!
//! The first needs the machine's Redis (`REDIS_URL`) and HAProxy, the
//! others a `redis-server` of their own (tests/support/own_redis.rs); each
//! skips, saying so, without them, unless CI requires them.
#![cfg(target_os = "linux")] // /proc/net/tcp tells which replica holds a stream

mod support;

use mcp_sdk::{CallToolResult, ClientCapabilities, ContentBlock, SubscriptionFilter};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, ToolTask};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use support::haproxy::{Balancer, HealthCheck};
use support::own_redis::OwnRedis;
use support::raw_session::{assert_store_gone, RawSession as Raw};
use support::relay::Relay;
use support::{http_client_in, redis_url, unique_prefix, HttpServer, PATIENCE};
use tokio::sync::mpsc;

/// `n` replicas (examples/replica_server.rs: the conformance server's tools
/// and `notify_later`) sharing the Redis at `url` under `prefix`, with task
/// leases of `lease_ms`.
async fn replicas(n: usize, url: &str, prefix: &str, lease_ms: &str) -> Vec<HttpServer> {
    support::redis_replicas("replica_server", n, url, prefix, lease_ms).await
}

/// How many established TCP connections `addr` (a loopback listener) has
/// accepted and still holds, from /proc/net/tcp.
fn established(addr: SocketAddr) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!(":{:04X}", addr.port());
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, remote address, state (01: established)
            fields.len() > 3 && fields[1].ends_with(&local) && fields[3] == "01"
        })
        .count()
}

/// Which of `backends` holds the client's GET stream: the only one with a
/// connection open while the client is idle (HAProxy closes the others
/// after each answer), seen so several times in a row (a health check's
/// connection lasts an instant).
async fn stream_holder(backends: &[SocketAddr]) -> usize {
    tokio::time::timeout(PATIENCE, async {
        let mut streak = (usize::MAX, 0);
        loop {
            let open: Vec<usize> = backends.iter().map(|b| established(*b)).collect();
            let holders: Vec<usize> = (0..open.len()).filter(|&i| open[i] > 0).collect();
            streak = match holders[..] {
                [one] if one == streak.0 => (one, streak.1 + 1),
                [one] => (one, 1),
                _ => (usize::MAX, 0),
            };
            if streak.1 == 5 {
                return streak.0;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("one replica holds the GET stream")
}

/// Passes on the labels of the log messages the server sends (those of
/// `notify_later` travel on the session's standalone stream).
struct Notes(mpsc::UnboundedSender<String>);

#[async_trait]
impl ClientHandler for Notes {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
    }

    async fn on_log(&self, params: mcp_sdk::LoggingMessageNotificationParams) {
        let label = params.data.as_str().unwrap_or_default().to_owned();
        let _ = self.0.send(label);
    }
}

/// Has the replica that answers send `label` on the session's standalone
/// stream, just after its answer.
async fn notify_later(client: &Client, label: &str) {
    tokio::time::timeout(
        PATIENCE,
        client.call_tool("notify_later", json!({"label": label})),
    )
    .await
    .expect("an answer in time")
    .unwrap_or_else(|e| panic!("notify_later {label}: {e}"));
}

/// The labels of the next `n` messages heard, sorted (replicas send them
/// concurrently), with a hang guard.
async fn hear(heard: &mut mpsc::UnboundedReceiver<String>, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(PATIENCE, heard.recv()).await {
            Ok(Some(label)) => got.push(label),
            _ => panic!("heard {got:?} of {n} messages in time"),
        }
    }
    got.sort();
    got
}

/// `n0`, `n1`, ... for `range`, sorted as [`hear`] sorts.
fn labels(range: std::ops::Range<usize>) -> Vec<String> {
    let mut labels: Vec<String> = range.map(|i| format!("n{i:02}")).collect();
    labels.sort();
    labels
}

/// A client with no handler of its own (the tasks here ask for no input).
struct Plain;
impl ClientHandler for Plain {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
    }
}

/// `slow_compute` for `seconds` with `label`, which must become a task.
async fn start_task(client: &Client, seconds: f64, label: &str) -> mcp_sdk::Task {
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

fn text(result: &CallToolResult) -> &str {
    match result.content.first() {
        Some(ContentBlock::Text(text)) => &text.text,
        other => panic!("not text: {other:?}"),
    }
}

/// Three replicas behind HAProxy (round-robin, no stickiness). A session
/// (our client, session era) hears log messages on its GET stream; three
/// tasks (2026-07-28 tasks extension, one per replica: three requests in a
/// row go to three replicas) run 3 s. The replica holding the GET stream is
/// killed (SIGKILL); messages are sent at once, while the client waits its
/// second before resuming. The client resumes the stream with
/// `Last-Event-ID` on another replica and hears every message, once; the
/// session goes on; the two tasks on the living replicas give
/// their results, and the killed replica's task fails saying why.
#[tokio::test]
async fn a_replica_killed_under_an_open_stream_loses_no_notification_and_no_task_elsewhere() {
    let test = "a_replica_killed_under_an_open_stream_loses_no_notification_and_no_task_elsewhere";
    let Some(url) = redis_url(test) else { return };
    let channel = unique_prefix(test);
    let mut replicas = replicas(3, &url, &channel, "1000").await;
    let backends: Vec<_> = replicas.iter().map(HttpServer::addr).collect();
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    let (tx, mut heard) = mpsc::unbounded_channel();
    let session = http_client_in(Era::SessionOnly, &balancer.mcp_url(), Notes(tx)).await;
    // Heard before the kill, wherever the stream is open and whichever
    // replica sends them.
    for label in labels(0..4) {
        notify_later(&session, &label).await;
    }
    assert_eq!(hear(&mut heard, 4).await, labels(0..4));
    let holder = stream_holder(&backends).await;

    let tasks_client = http_client_in(Era::StatelessOnly, &balancer.mcp_url(), Plain).await;
    let mut tasks = Vec::new();
    for label in ["t0", "t1", "t2"] {
        tasks.push((label, start_task(&tasks_client, 3.0, label).await));
    }

    replicas[holder].child.start_kill().expect("SIGKILL");
    replicas[holder].child.wait().await.unwrap();
    // While the client waits to resume (its second), nothing reads the
    // stream: these reach it only by its resumption with Last-Event-ID.
    for label in labels(4..10) {
        notify_later(&session, &label).await;
    }
    assert_eq!(
        hear(&mut heard, 6).await,
        labels(4..10),
        "{}",
        balancer.log()
    );
    // The session goes on, on the replicas left.
    for _ in 0..4 {
        let simple =
            tokio::time::timeout(PATIENCE, session.call_tool("test_simple_text", json!({})))
                .await
                .expect("an answer in time")
                .expect("a call after the kill");
        assert_eq!(text(&simple), "This is a simple text response for testing.");
    }
    // Nothing heard twice: one more message is the next thing heard.
    notify_later(&session, "n10").await;
    assert_eq!(hear(&mut heard, 1).await, ["n10"]);

    let (mut completed, mut failed) = (0, 0);
    for (label, task) in tasks {
        let result = tokio::time::timeout(
            PATIENCE,
            tasks_client.task_result::<CallToolResult>(&task.task_id),
        )
        .await
        .expect("the task ends in time");
        match result {
            Ok(result) => {
                assert_eq!(text(&result), format!("computed {label} in 3 s"));
                completed += 1;
            }
            Err(ClientError::Server(e)) if e.message.contains("lease ran out") => failed += 1,
            other => panic!("task {label}: {other:?}"),
        }
    }
    assert_eq!(
        (completed, failed),
        (2, 1),
        "the tasks on the living replicas finish; the killed one's fails"
    );
    session.close().await;
}

/// Evaluates `$done` (a `bool` expression, which may `.await`) until it is
/// true, with a hang guard: for what recovers by itself.
macro_rules! eventually {
    ($what:expr, $done:expr) => {{
        let recovered = tokio::time::timeout(PATIENCE, async {
            while !$done {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(recovered.is_ok(), "{}: not within {PATIENCE:?}", $what);
    }};
}

/// Redis killed, then started again (empty) on the same port, under two
/// replicas A and B:
/// - while it is gone, a new session is refused with a 503 that says why;
///   a session B never loaded is 503 on B; a session A holds goes on on A
///   (what a replica holds needs no Redis); a task cannot start, and says
///   why; a stateless call, which needs no Redis, works;
/// - once it is back, by themselves: new sessions open and are served by
///   both; tasks start; the bus carries list changes between replicas;
///   the old sessions, which Redis forgot, are 404 everywhere (a replica
///   that held a copy answers until its next refresh of the session's
///   expiry, a second at most after a request).
#[tokio::test]
async fn redis_killed_and_restarted_fails_clearly_then_recovers_by_itself() {
    let test = "redis_killed_and_restarted_fails_clearly_then_recovers_by_itself";
    let Some(mut redis) = OwnRedis::start(test).await else {
        return;
    };
    let channel = unique_prefix(test);
    let replicas = replicas(2, &redis.url(), &channel, "1000").await;
    let (a, b) = (replicas[0].url.clone(), replicas[1].url.clone());

    let held = Raw::initialize(&a).await.expect("a session on A");
    assert_eq!(
        held.call(&b, "test_simple_text").await.0,
        200,
        "B serves A's session"
    );
    let unseen_by_b = Raw::initialize(&a).await.expect("another session on A");
    let stateless = http_client_in(Era::StatelessOnly, &a, Plain).await;

    redis.kill().await;
    let refused = Raw::initialize(&a)
        .await
        .err()
        .expect("no session without Redis");
    assert_store_gone(&refused, "initialize");
    assert_store_gone(
        &unseen_by_b.call(&b, "test_simple_text").await,
        "a session B must load",
    );
    assert_eq!(
        held.call(&a, "test_simple_text").await.0,
        200,
        "A holds its session"
    );
    let task = tokio::time::timeout(
        PATIENCE,
        stateless.call_tool_as_task("slow_compute", json!({"seconds": 1.0}), None),
    )
    .await
    .expect("an answer in time, not a hang");
    match task {
        Err(ClientError::Server(e)) => assert!(
            e.message.contains("the task store at REDIS_URL") && e.message.contains("failed"),
            "{e:?}"
        ),
        other => panic!("a task without Redis: {other:?}"),
    }
    let simple = tokio::time::timeout(PATIENCE, stateless.call_tool("test_simple_text", json!({})))
        .await
        .expect("an answer in time")
        .expect("a stateless call needs no Redis");
    assert_eq!(text(&simple), "This is a simple text response for testing.");

    redis.restart().await;
    let mut fresh = None;
    eventually!("a new session once Redis is back", {
        fresh = Raw::initialize(&a).await.ok();
        fresh.is_some()
    });
    let fresh = fresh.unwrap();
    assert_eq!(
        fresh.call(&b, "test_simple_text").await.0,
        200,
        "B serves the new session"
    );
    assert_eq!(fresh.call(&a, "test_simple_text").await.0, 200);
    // Redis forgot the old sessions: B, which must load the one it never
    // saw, says so at once; a replica holding a copy (A both, B the one it
    // served) answers until it next refreshes the session's expiry (at
    // most once a second, after a request), finds it gone and drops it.
    assert_eq!(unseen_by_b.call(&b, "test_simple_text").await.0, 404);
    for (session, replica) in [(&held, &a), (&held, &b), (&unseen_by_b, &a)] {
        eventually!(format!("{replica} forgets a session Redis lost"), {
            match session.call(replica, "test_simple_text").await.0 {
                200 => false,
                404 => true,
                other => panic!("an old session on {replica}: {other}"),
            }
        });
    }

    let started = start_task(&stateless, 0.5, "again").await;
    let result = tokio::time::timeout(
        PATIENCE,
        stateless.task_result::<CallToolResult>(&started.task_id),
    )
    .await
    .expect("the result in time")
    .expect("a task once Redis is back");
    assert_eq!(text(&result), "computed again in 0.5 s");

    // The bus subscribed again: a change announced on B reaches a listen
    // stream on A (announced again until it does: what is published while
    // a replica is not yet subscribed is lost, as the bus says).
    let listener = http_client_in(Era::StatelessOnly, &a, Plain).await;
    let filter = SubscriptionFilter::default().with_tools_list_changed(true);
    let mut sub = support::listen(&listener, filter).await;
    let caller = http_client_in(Era::StatelessOnly, &b, Plain).await;
    eventually!("a list change from B reaches A", {
        caller
            .call_tool("test_trigger_tool_change", json!({}))
            .await
            .expect("the trigger");
        matches!(
            tokio::time::timeout(Duration::from_secs(1), sub.next()).await,
            Ok(Some(n)) if n.method == "notifications/tools/list_changed"
        )
    });
}

/// Redis frozen (behind a frozen [`Relay`]: its connections stay open and
/// nothing answers, as from a Redis that hangs):
/// what needs it is refused within a bounded time, with the same clear
/// 503 or error, never left hanging; thawed, it works again by itself.
#[tokio::test]
async fn a_frozen_redis_gives_clear_errors_in_bounded_time_then_recovers() {
    let test = "a_frozen_redis_gives_clear_errors_in_bounded_time_then_recovers";
    let Some(redis) = OwnRedis::start(test).await else {
        return;
    };
    let relay = Relay::start(redis.addr()).await;
    let channel = unique_prefix(test);
    let replicas = replicas(2, &format!("redis://{}", relay.addr), &channel, "1000").await;
    let (a, b) = (replicas[0].url.clone(), replicas[1].url.clone());
    let unseen_by_b = Raw::initialize(&a).await.expect("a session on A");

    relay.freeze();
    // `post` fails the test on a hang (PATIENCE); each of these must come
    // back well before it.
    let refused = Raw::initialize(&a)
        .await
        .err()
        .expect("no session without Redis");
    let after_refusal = unseen_by_b.call(&b, "test_simple_text").await;
    relay.thaw();
    assert_store_gone(&refused, "initialize while Redis is frozen");
    assert_store_gone(
        &after_refusal,
        "a session B must load while Redis is frozen",
    );

    eventually!(
        "a new session once Redis thaws",
        Raw::initialize(&a).await.is_ok()
    );
    // Nothing was lost: the session opened before is served by B now.
    eventually!(
        "B loads the session once Redis thaws",
        unseen_by_b.call(&b, "test_simple_text").await.0 == 200
    );
}

/// A Redis bus whose subscription connection is cut comes back by itself
/// and counts a gap (what was published meanwhile never came), so the
/// notifier and the replicas resync their streams and sessions; messages
/// published after it are heard again.
#[tokio::test]
async fn a_redis_bus_that_lost_its_subscription_counts_a_gap_and_hears_again() {
    use mcp_sdk_server::bus::{MessageBus, RedisBus};
    let test = "a_redis_bus_that_lost_its_subscription_counts_a_gap_and_hears_again";
    let Some(redis) = OwnRedis::start(test).await else {
        return;
    };
    let bus = RedisBus::connect(&redis.url(), "mcp-gap-test")
        .await
        .expect("the bus connects");
    let (mut gaps, mut heard) = (bus.gaps(), bus.subscribe());
    assert_eq!(*gaps.borrow_and_update(), 0, "no gap yet");
    redis
        .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
        .await
        .expect("the subscription connection is killed");
    tokio::time::timeout(PATIENCE, gaps.changed())
        .await
        .expect("the bus counts a gap once it is subscribed again")
        .expect("the bus lives");
    assert_eq!(*gaps.borrow(), 1);
    bus.publish_now("after the gap").await;
    let message = tokio::time::timeout(PATIENCE, heard.recv())
        .await
        .expect("a message after the gap is heard")
        .expect("the bus lives");
    assert_eq!(&*message, "after the gap");
}
