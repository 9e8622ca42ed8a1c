//! Streamable HTTP over a real TCP socket (`serve_with_shutdown` on
//! 127.0.0.1:0) with a raw hyper client: clients that vanish mid-stream,
//! `Last-Event-ID` resumption, idle expiry, graceful shutdown.
//!
//! The tools of the test router report what they do on a channel and wait
//! for the test to release them, so every step is awaited, never timed.

mod support;

use hyper::body::Incoming;
use hyper::Response;
use mcp_sdk::{LoggingLevel, Tool};
use mcp_sdk_server::http::{serve_with_shutdown, HttpConfig, StreamableHttpService};
use mcp_sdk_server::{NoArguments, RequestContext, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{body_text, json_body, request, Sse, LIMIT};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// What the tools tell the test, and the gate they wait at.
struct Probe {
    events: mpsc::UnboundedSender<&'static str>,
    release: Notify,
}

/// Sends `what` on the probe when dropped: a handler future that is
/// dropped (cancelled) reports it.
struct OnDrop(Arc<Probe>, &'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.events.send(self.1);
    }
}

/// How many `gather` calls wait for each other: one more than the
/// requests of a batch that run at once (`BATCH_CONCURRENCY`, 8).
const GATHER: usize = 9;

fn router(probe: Arc<Probe>) -> Router {
    let p1 = probe.clone();
    let p2 = probe.clone();
    let p3 = probe.clone();
    let p4 = probe.clone();
    let p5 = probe.clone();
    Router::new()
        .tool(Tool::named("hello", "Says hi"), |_: NoArguments| async {
            "hi"
        })
        // Progress, then waits for the test, then more progress and a result.
        .tool(
            Tool::named("stream", "Streams progress"),
            move |_: NoArguments, ctx: RequestContext| {
                let p = p1.clone();
                async move {
                    ctx.progress(1.0, Some(3.0), None).await?;
                    let _ = p.events.send("started");
                    p.release.notified().await;
                    ctx.progress(2.0, Some(3.0), None).await?;
                    ctx.progress(3.0, Some(3.0), None).await?;
                    let _ = p.events.send("finished");
                    Ok::<_, mcp_sdk::Error>("streamed")
                }
            },
        )
        // SEP-1699 polling: events, the connection closed, more events.
        .tool(
            Tool::named("poll", "Closes its SSE stream midway"),
            move |_: NoArguments, ctx: RequestContext| {
                let p = p2.clone();
                async move {
                    ctx.progress(1.0, None, Some("one")).await?;
                    ctx.log(LoggingLevel::Info, "log one").await?;
                    ctx.close_sse_stream().await;
                    p.release.notified().await;
                    ctx.progress(2.0, None, Some("two")).await?;
                    ctx.log(LoggingLevel::Info, "log two").await?;
                    Ok::<_, mcp_sdk::Error>("polled")
                }
            },
        )
        // Frees its connection, then runs until the session ends.
        .tool(
            Tool::named("linger", "Runs until cancelled"),
            move |_: NoArguments, ctx: RequestContext| {
                let guard = OnDrop(p3.clone(), "linger dropped");
                async move {
                    let _guard = guard;
                    ctx.close_sse_stream().await;
                    std::future::pending::<()>().await;
                    "unreachable"
                }
            },
        )
        .tool(
            Tool::named("progress", "Reports progress, then answers"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.progress(1.0, Some(2.0), None).await?;
                ctx.progress(2.0, Some(2.0), None).await?;
                Ok::<_, mcp_sdk::Error>("progressed")
            },
        )
        // Answers at once; once released, announces a tool list change,
        // which goes to the standalone stream (the request's has ended).
        .tool(
            Tool::named("later", "Announces a change after answering"),
            move |_: NoArguments, ctx: RequestContext| {
                let p = p5.clone();
                let peer = ctx.peer().clone();
                async move {
                    tokio::spawn(async move {
                        p.release.notified().await;
                        peer.notify_tool_list_changed().await.unwrap();
                        let _ = p.events.send("announced");
                    });
                    "later"
                }
            },
        )
        // Runs until cancelled, and says when it starts and when it is dropped.
        .tool(Tool::named("hang", "Runs until cancelled"), {
            let probe = probe.clone();
            move |_: NoArguments| {
                let guard = OnDrop(probe.clone(), "hang dropped");
                let _ = probe.events.send("hang started");
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    "unreachable"
                }
            }
        })
        // Sends progress until sending fails (the client is gone).
        .tool(
            Tool::named("flood", "Floods its client with progress"),
            |_: NoArguments, ctx: RequestContext| async move {
                let message = "x".repeat(1024);
                for n in 0..1_000_000 {
                    if ctx.progress(n as f64, None, Some(&message)).await.is_err() {
                        return format!("stopped after {n}");
                    }
                }
                "never stopped".to_owned()
            },
        )
        // Answers once GATHER calls are running at once.
        .tool(Tool::named("gather", "Waits for the others"), {
            let gathering = Arc::new(tokio::sync::Barrier::new(GATHER));
            move |_: NoArguments| {
                let gathering = gathering.clone();
                async move {
                    gathering.wait().await;
                    "gathered"
                }
            }
        })
        .tool(
            Tool::named("slow", "Answers when released"),
            move |_: NoArguments| {
                let p = p4.clone();
                async move {
                    let _ = p.events.send("started");
                    p.release.notified().await;
                    "slow done"
                }
            },
        )
}

struct TestServer {
    addr: SocketAddr,
    service: StreamableHttpService,
    probe: Arc<Probe>,
    events: mpsc::UnboundedReceiver<&'static str>,
    /// Completing it starts the graceful shutdown.
    stop: Option<oneshot::Sender<()>>,
    /// Answers once the server has seen the shutdown signal.
    stopping: Option<oneshot::Receiver<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    async fn start(config: HttpConfig) -> TestServer {
        let (tx, events) = mpsc::unbounded_channel();
        let probe = Arc::new(Probe {
            events: tx,
            release: Notify::new(),
        });
        let service = StreamableHttpService::new(router(probe.clone()), config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (ack, stopping) = oneshot::channel();
        let shutdown = async move {
            let _ = stop_rx.await;
            let _ = ack.send(());
        };
        let task = tokio::spawn(serve_with_shutdown(
            listener,
            "/mcp",
            service.clone(),
            shutdown,
        ));
        TestServer {
            addr,
            service,
            probe,
            events,
            stop: Some(stop),
            stopping: Some(stopping),
            task,
        }
    }

    async fn next_event(&mut self) -> &'static str {
        timeout(LIMIT, self.events.recv())
            .await
            .expect("a tool event in time")
            .unwrap()
    }

    async fn send(
        &self,
        method: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (Response<Incoming>, JoinHandle<()>) {
        request(self.addr, method, headers, body).await
    }

    async fn post(&self, session: Option<&str>, body: &Value) -> Response<Incoming> {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ];
        if let Some(s) = session {
            headers.push(("mcp-session-id", s));
        }
        self.send("POST", &headers, &body.to_string()).await.0
    }

    async fn get(&self, session: &str, last_event_id: Option<&str>) -> Response<Incoming> {
        let mut headers = vec![("accept", "text/event-stream"), ("mcp-session-id", session)];
        if let Some(id) = last_event_id {
            headers.push(("last-event-id", id));
        }
        self.send("GET", &headers, "").await.0
    }

    /// Initializes a session at `version` and returns its id.
    async fn session(&self, version: &str) -> String {
        let resp = self
            .post(
                None,
                &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                    "protocolVersion":version,"capabilities":{},"clientInfo":{"name":"t","version":"0"}}}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let id = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let answer = json_body(resp).await;
        assert_eq!(answer["result"]["protocolVersion"], version);
        let resp = self
            .post(
                Some(&id),
                &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            )
            .await;
        assert_eq!(resp.status(), 202);
        id
    }

    /// Calls `hello` in `session` and checks the answer.
    async fn hello(&self, session: &str) {
        let resp = self.post(Some(session), &call(7, "hello", json!({}))).await;
        assert_eq!(resp.status(), 200);
        let answer = json_body(resp).await;
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["result"]["content"][0]["text"], "hi", "{answer}");
    }
}

fn call(id: i64, tool: &str, meta: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":tool,"arguments":{},"_meta":meta}})
}

/// `S:N` -> (S, N).
fn event_id(id: &str) -> (u64, u64) {
    let (s, n) = id.split_once(':').unwrap();
    (s.parse().unwrap(), n.parse().unwrap())
}

/// Counts panics on any thread of this test binary, on top of the default
/// report.
fn panics() -> &'static AtomicUsize {
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info)
        }));
    });
    &PANICS
}

#[tokio::test]
async fn a_client_gone_mid_stream_leaves_the_request_resumable_and_other_sessions_working() {
    let panics = panics();
    let mut server = TestServer::start(HttpConfig::default()).await;
    let a = server.session("2025-11-25").await;
    let b = server.session("2025-11-25").await;

    let (resp, conn) = server
        .send(
            "POST",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("mcp-session-id", &a),
            ],
            &call(1, "stream", json!({"progressToken": "p"})).to_string(),
        )
        .await;
    let mut sse = Sse::new(resp);
    let priming = sse.next().await.unwrap();
    assert!(priming.data.is_none(), "{priming:?}");
    let first = sse.next().await.unwrap();
    assert_eq!(first.data.as_ref().unwrap()["params"]["progress"], 1.0);
    assert_eq!(server.next_event().await, "started");
    // The client vanishes: its socket closes mid-response.
    conn.abort();
    let _ = conn.await;
    drop(sse);

    // The handler is not stuck on the dead connection: it runs to its end.
    server.probe.release.notify_one();
    assert_eq!(server.next_event().await, "finished");
    // Both sessions go on.
    server.hello(&b).await;
    server.hello(&a).await;

    // What the client missed is still there, exactly once, and the
    // finished stream ends its connection after the result.
    let last = first.id.unwrap();
    let mut resumed = Sse::new(server.get(&a, Some(&last)).await);
    let rest = resumed.rest().await;
    let messages: Vec<&Value> = rest.iter().map(|(_, m)| m).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[0]["params"]["progress"], 2.0);
    assert_eq!(messages[1]["params"]["progress"], 3.0);
    assert_eq!(messages[2]["id"], 1);
    assert_eq!(messages[2]["result"]["content"][0]["text"], "streamed");
    let (stream, seq) = event_id(&last);
    for (i, (id, _)) in rest.iter().enumerate() {
        assert_eq!(event_id(id), (stream, seq + 1 + i as u64));
    }
    assert_eq!(server.service.session_count(), 2);
    assert_eq!(panics.load(Ordering::SeqCst), 0, "something panicked");
}

#[tokio::test]
async fn close_sse_stream_then_last_event_id_delivers_the_rest_once() {
    let mut server = TestServer::start(HttpConfig::default()).await;
    let s = server.session("2025-11-25").await;
    let resp = server
        .post(Some(&s), &call(3, "poll", json!({"progressToken": 9})))
        .await;
    let mut sse = Sse::new(resp);
    // Before the close: the priming event, progress, a log; then the
    // server ends the body (with a retry hint).
    let mut before = vec![];
    let mut ids = vec![];
    while let Some(e) = sse.next().await {
        if let Some(id) = &e.id {
            ids.push(id.clone());
        }
        if let Some(m) = e.data {
            before.push(m);
        }
    }
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(before[0]["method"], "notifications/progress");
    assert_eq!(before[0]["params"]["message"], "one");
    assert_eq!(before[1]["method"], "notifications/message");
    assert_eq!(before[1]["params"]["data"], "log one");
    let last = ids.last().unwrap().clone();

    // Reconnect while the handler still runs, then let it go on.
    let mut resumed = Sse::new(server.get(&s, Some(&last)).await);
    server.probe.release.notify_one();
    let after = resumed.rest().await;
    let messages: Vec<&Value> = after.iter().map(|(_, m)| m).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[0]["params"]["message"], "two");
    assert_eq!(messages[0]["params"]["progressToken"], 9);
    assert_eq!(messages[1]["params"]["data"], "log two");
    assert_eq!(messages[2]["id"], 3);
    assert_eq!(messages[2]["result"]["content"][0]["text"], "polled");
    // One stream, numbered without gaps or repeats across both connections.
    ids.extend(after.iter().map(|(id, _)| id.clone()));
    let numbered: Vec<(u64, u64)> = ids.iter().map(|id| event_id(id)).collect();
    for (i, (stream, seq)) in numbered.iter().enumerate() {
        assert_eq!((*stream, *seq), (numbered[0].0, i as u64), "{ids:?}");
    }
    assert!(server.events.try_recv().is_err());
}

/// A resumption whose events are no longer kept is 410 Gone, not 404: the
/// spec keeps 404 for a session that is gone, which a client must answer
/// by starting a new one. The session lives on: its calls are answered,
/// and a GET without `Last-Event-ID` opens its standalone stream.
#[tokio::test]
async fn a_resumption_whose_events_are_gone_is_410_and_the_session_lives_on() {
    let server = TestServer::start(HttpConfig::default()).await;
    let s = server.session("2025-11-25").await;
    let resp = server.get(&s, Some("99:3")).await;
    assert_eq!(resp.status(), 410);
    let body = json_body(resp).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no longer kept"), "{message}");
    assert!(message.contains("still open"), "{message}");
    server.hello(&s).await;
    assert_eq!(server.get(&s, None).await.status(), 200);
    // An id not of our form stays a 400.
    assert_eq!(server.get(&s, Some("garbage")).await.status(), 400);
}

#[tokio::test]
async fn an_idle_session_expires_cancels_its_requests_and_then_answers_404() {
    let config = HttpConfig {
        session_idle_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let mut server = TestServer::start(config).await;
    let s = server.session("2025-11-25").await;
    let other = server.session("2025-11-25").await;
    // A request that gives up its connection and runs on: the session has
    // no connection left and goes idle.
    let mut sse = Sse::new(server.post(Some(&s), &call(1, "linger", json!({}))).await);
    while sse.next().await.is_some() {}
    // An open standalone stream keeps the other session alive.
    let _standalone = Sse::new(server.get(&other, None).await);

    assert_eq!(server.next_event().await, "linger dropped");
    let resp = server.post(Some(&s), &call(2, "hello", json!({}))).await;
    assert_eq!(resp.status(), 404);
    let answer = json_body(resp).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such session"),
        "{answer}"
    );
    assert_eq!(server.get(&s, None).await.status(), 404);
    server.hello(&other).await;
    assert_eq!(server.service.session_count(), 1);
}

#[tokio::test]
async fn graceful_shutdown_answers_the_call_in_flight_and_refuses_new_connections() {
    let mut server = TestServer::start(HttpConfig::default()).await;
    let s = server.session("2025-11-25").await;
    let mut standalone = Sse::new(server.get(&s, None).await);

    // The call's answer comes as JSON, so its headers come with its result:
    // it runs apart while the server shuts down.
    let addr = server.addr;
    let in_flight = tokio::spawn(async move {
        let headers = [
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-session-id", s.as_str()),
        ];
        let body = call(5, "slow", json!({})).to_string();
        let (resp, _conn) = request(addr, "POST", &headers, &body).await;
        (resp.status(), json_body(resp).await)
    });
    assert_eq!(server.next_event().await, "started");

    server.stop.take().unwrap().send(()).unwrap();
    timeout(LIMIT, server.stopping.take().unwrap())
        .await
        .unwrap()
        .unwrap();
    // The listener is closed as soon as the shutdown begins.
    let refused = TcpStream::connect(addr).await;
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );

    server.probe.release.notify_one();
    let (status, answer) = timeout(LIMIT, in_flight).await.unwrap().unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer["id"], 5);
    assert_eq!(answer["result"]["content"][0]["text"], "slow done");
    // Then every session is closed (its streams end) and the server returns.
    assert!(standalone.rest().await.is_empty());
    timeout(LIMIT, &mut server.task)
        .await
        .expect("the server stops in time")
        .unwrap()
        .unwrap();
    assert_eq!(server.service.session_count(), 0);
}

fn ping(id: i64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"ping"})
}

/// A batch's answers sorted by id.
fn by_id(answers: Vec<Value>) -> Vec<Value> {
    let mut answers = answers;
    answers.sort_by_key(|a| a["id"].to_string());
    answers
}

#[tokio::test]
async fn a_2025_03_26_batch_is_answered_with_a_json_array() {
    let config = HttpConfig {
        response_mode: mcp_sdk_server::http::ResponseMode::Json,
        ..Default::default()
    };
    let server = TestServer::start(config).await;
    let s = server.session("2025-03-26").await;
    let batch = json!([
        ping(1),
        call(2, "progress", json!({"progressToken": "t"})),
        {"jsonrpc":"2.0","method":"notifications/roots/list_changed"},
        "not a message",
    ]);
    let resp = server.post(Some(&s), &batch).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let answers = by_id(json_body(resp).await.as_array().unwrap().clone());
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(answers[0]["result"], json!({}));
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(answers[1]["result"]["content"][0]["text"], "progressed");
    assert_eq!(answers[2]["id"], Value::Null);
    assert_eq!(answers[2]["error"]["code"], -32600);

    // Only notifications and responses: 202 and no body.
    let resp = server
        .post(
            Some(&s),
            &json!([{"jsonrpc":"2.0","method":"notifications/roots/list_changed"},
                    {"jsonrpc":"2.0","id":"x","result":{}}]),
        )
        .await;
    assert_eq!(resp.status(), 202);
    assert_eq!(body_text(resp).await, "");

    // An empty batch is an invalid request.
    let resp = server.post(Some(&s), &json!([])).await;
    assert_eq!(resp.status(), 400);
    let answer = json_body(resp).await;
    assert_eq!(answer["error"]["code"], -32600);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("empty batch"));
}

#[tokio::test]
async fn a_batch_whose_calls_stream_is_answered_on_one_sse_stream() {
    let server = TestServer::start(HttpConfig::default()).await;
    let s = server.session("2025-03-26").await;
    let batch = json!([
        call(1, "progress", json!({"progressToken": "a"})),
        call(2, "hello", json!({})),
        ping(3),
    ]);
    let mut sse = Sse::new(server.post(Some(&s), &batch).await);
    let events = sse.rest().await;
    let seqs: Vec<(u64, u64)> = events.iter().map(|(id, _)| event_id(id)).collect();
    assert!(
        seqs.windows(2).all(|w| w[0].0 == w[1].0 && w[0].1 < w[1].1),
        "one stream, no event twice: {seqs:?}"
    );
    let progress = events
        .iter()
        .filter(|(_, m)| m["method"] == "notifications/progress")
        .count();
    assert_eq!(progress, 2);
    let answers = by_id(
        events
            .into_iter()
            .map(|(_, m)| m)
            .filter(|m| m.get("id").is_some())
            .collect(),
    );
    assert_eq!(
        answers.len(),
        3,
        "every answer, then the stream ends: {answers:?}"
    );
    assert_eq!(answers[0]["result"]["content"][0]["text"], "progressed");
    assert_eq!(answers[1]["result"]["content"][0]["text"], "hi");
    assert_eq!(answers[2]["result"], json!({}));
}

/// A batch of more requests than run at once, which wait for each other:
/// a request that holds its turn too long lets the next one start, so the
/// batch is answered instead of waiting until the requests time out.
#[tokio::test]
async fn a_batch_whose_requests_wait_for_each_other_is_answered() {
    let server = TestServer::start(HttpConfig::default()).await;
    let s = server.session("2025-03-26").await;
    let batch: Vec<Value> = (1..=GATHER as i64)
        .map(|id| call(id, "gather", json!({})))
        .collect();
    let resp = timeout(LIMIT, server.post(Some(&s), &Value::Array(batch)))
        .await
        .expect("the batch is answered");
    assert_eq!(resp.status(), 200);
    let answers = timeout(LIMIT, json_body(resp))
        .await
        .expect("the batch is answered");
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), GATHER, "{answers:?}");
    for answer in answers {
        assert_eq!(
            answer["result"]["content"][0]["text"], "gathered",
            "{answer}"
        );
    }
}

#[tokio::test]
async fn batches_are_refused_in_other_revisions_and_initialize_may_not_be_batched() {
    let server = TestServer::start(HttpConfig::default()).await;
    for version in ["2025-06-18", "2025-11-25"] {
        let s = server.session(version).await;
        let resp = server.post(Some(&s), &json!([ping(1)])).await;
        assert_eq!(resp.status(), 400);
        let answer = json_body(resp).await;
        assert_eq!(answer["error"]["code"], -32600);
        let text = answer["error"]["message"].as_str().unwrap();
        assert!(
            text.contains("not supported") && text.contains(version),
            "{text}"
        );
        server.hello(&s).await;
    }
    let init = json!([{"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}]);
    let resp = server.post(None, &init).await;
    assert_eq!(resp.status(), 400);
    let answer = json_body(resp).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must not be part of a JSON-RPC batch"),
        "{answer}"
    );
    assert_eq!(server.service.session_count(), 2, "no session was made");
}

/// Sessions closed after 4 s idle, warned 3.5 s before: a session is
/// warned once idle for 0.5 s (the sweeper looks every second).
fn warned_soon() -> HttpConfig {
    HttpConfig {
        session_idle_timeout: Duration::from_secs(4),
        session_expiry_notice: Some(Duration::from_millis(3500)),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_idle_session_is_warned_on_its_standalone_stream_before_it_expires() {
    let server = TestServer::start(warned_soon()).await;
    let s = server.session("2025-11-25").await;
    // Idle past the point of warning (0.5 s; the sweeper looks every
    // second), well before expiry (4 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut stream = Sse::new(server.get(&s, None).await);
    let event = loop {
        let e = stream.next().await.expect("the warning");
        if let Some(data) = e.data {
            break data;
        }
    };
    assert_eq!(event["method"], "notifications/message", "{event}");
    assert_eq!(event["params"]["level"], "warning");
    assert_eq!(event["params"]["logger"], "session");
    assert!(
        event["params"]["data"]["message"]
            .as_str()
            .unwrap()
            .contains("will be closed in 3s"),
        "{event}"
    );
}

/// A session whose client waits on a request is in use, not idle: it is
/// not warned that it will be closed (nor closed), however long ago the
/// request came.
#[tokio::test]
async fn a_session_with_a_request_running_is_not_warned() {
    let mut server = TestServer::start(warned_soon()).await;
    let s = server.session("2025-11-25").await;
    let open = server.service.session_count();
    let (addr, body) = (server.addr, call(1, "hang", json!({})).to_string());
    let session = s.clone();
    let hanging = tokio::spawn(async move {
        let headers = [
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-session-id", session.as_str()),
        ];
        request(addr, "POST", &headers, &body).await
    });
    assert_eq!(server.next_event().await, "hang started");
    // Past the point of warning, as in the test above: a warning would
    // wait on the standalone stream, and come as soon as it opens.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut stream = Sse::new(server.get(&s, None).await);
    let warned = timeout(Duration::from_millis(1200), async {
        loop {
            match stream.next().await {
                Some(event) if event.data.is_some() => return event.data,
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await;
    assert!(warned.is_err(), "a session in use was warned: {warned:?}");
    assert_eq!(server.service.session_count(), open, "and it is still open");
    hanging.abort();
}

/// Sends `raw` on a fresh connection and reads the answer until the server
/// closes the connection.
async fn raw_exchange(addr: SocketAddr, raw: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut answer = Vec::new();
    let _ = timeout(LIMIT, stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes in time");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_the_connection_closes() {
    let config = HttpConfig {
        // Short, so the test is quick; the bound, not its length, is tested.
        body_read_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let server = TestServer::start(config).await;
    // 100 bytes declared, one sent, then nothing.
    let raw = "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
               accept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{";
    let answer = raw_exchange(server.addr, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive"), "{answer}");
    // The legacy transport's message path reads bodies the same way.
    let raw = "POST /message?sessionId=x HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
               content-length: 100\r\n\r\n{";
    let answer = raw_exchange(server.addr, raw.as_bytes()).await;
    // No such session: refused before the body is read, or 408 after it.
    assert!(
        answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn connections_over_the_limit_get_503_and_health_answers_once_one_closes() {
    use tokio::io::AsyncWriteExt;
    let config = HttpConfig {
        max_connections: 2,
        ..Default::default()
    };
    let server = TestServer::start(config).await;
    // Two connections that send half a request head and wait.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    // The third is refused with a clear answer (the server accepts in
    // order, so the first two hold the permits).
    let health = "GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";
    let answer = raw_exchange(server.addr, health.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    // One closes; /health answers again once the server saw it go.
    drop(held.pop());
    timeout(LIMIT, async {
        loop {
            let answer = raw_exchange(server.addr, health.as_bytes()).await;
            if answer.starts_with("HTTP/1.1 200") {
                assert!(answer.ends_with("ok"), "{answer}");
                return;
            }
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("/health answers once a connection closed");
}

#[tokio::test]
async fn a_batch_is_bounded_in_items_and_in_the_size_of_its_answer() {
    use mcp_sdk_server::http::{ResponseMode, DEFAULT_MAX_BATCH_ITEMS};
    let config = HttpConfig {
        response_mode: ResponseMode::Json,
        // Two answers to a ping (36 bytes each) fit, the third does not.
        max_batch_answer_bytes: 100,
        ..Default::default()
    };
    let server = TestServer::start(config).await;
    let s = server.session("2025-03-26").await;

    // One item too many: refused whole.
    let batch: Vec<Value> = (0..=DEFAULT_MAX_BATCH_ITEMS as i64).map(ping).collect();
    let resp = server.post(Some(&s), &Value::Array(batch)).await;
    assert_eq!(resp.status(), 400);
    let answer = json_body(resp).await;
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("at most {DEFAULT_MAX_BATCH_ITEMS}")),
        "{answer}"
    );

    // Within the item limit, over the answer limit: the first answers, then
    // errors that say why.
    let batch: Vec<Value> = (1..=5).map(ping).collect();
    let resp = server.post(Some(&s), &Value::Array(batch)).await;
    assert_eq!(resp.status(), 200);
    let answers = by_id(json_body(resp).await.as_array().unwrap().clone());
    assert_eq!(answers.len(), 5, "{answers:?}");
    let ok = answers.iter().filter(|a| a["result"] == json!({})).count();
    assert_eq!(ok, 2, "{answers:?}");
    for a in answers.iter().filter(|a| a.get("error").is_some()) {
        assert_eq!(a["error"]["code"], -32603, "{a}");
        assert!(a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceed 100 bytes"));
    }
}

#[tokio::test]
async fn once_a_batch_spent_its_answer_budget_its_other_requests_are_cancelled_at_once() {
    use mcp_sdk_server::http::ResponseMode;
    for mode in [ResponseMode::Json, ResponseMode::Sse] {
        let config = HttpConfig {
            response_mode: mode,
            // The ping's answer (36 bytes) spends it whole.
            max_batch_answer_bytes: 10,
            ..Default::default()
        };
        let mut server = TestServer::start(config).await;
        let s = server.session("2025-03-26").await;
        // Five calls that run until cancelled, and a ping: answered at once,
        // over the budget. The batch is answered without waiting for the
        // calls, whose answers could only be thrown away.
        let mut batch: Vec<Value> = (1..=5).map(|id| call(id, "hang", json!({}))).collect();
        batch.push(ping(6));
        let resp = server.post(Some(&s), &Value::Array(batch)).await;
        assert_eq!(resp.status(), 200);
        let answers: Vec<Value> = match mode {
            ResponseMode::Json => timeout(LIMIT, json_body(resp))
                .await
                .expect("the batch is answered once its budget is spent")
                .as_array()
                .unwrap()
                .clone(),
            _ => timeout(LIMIT, Sse::new(resp).rest())
                .await
                .expect("the batch's stream ends once its budget is spent")
                .into_iter()
                .map(|(_, m)| m)
                .filter(|m| m.get("id").is_some())
                .collect(),
        };
        let answers = by_id(answers);
        assert_eq!(answers.len(), 6, "{mode:?}: {answers:?}");
        for a in &answers {
            assert_eq!(a["error"]["code"], -32603, "{mode:?}: {a}");
            assert!(
                a["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("exceed 10 bytes"),
                "{mode:?}: {a}"
            );
        }
        // Every call that had started was cancelled (those still waiting
        // for their turn never start).
        let (mut started, mut dropped) = (0, 0);
        while let Ok(event) = server.events.try_recv() {
            match event {
                "hang started" => started += 1,
                "hang dropped" => dropped += 1,
                _ => {}
            }
        }
        while dropped < started {
            match server.next_event().await {
                "hang started" => started += 1,
                "hang dropped" => dropped += 1,
                _ => {}
            }
        }
        assert!(started <= 5, "{mode:?}: {started} calls started");
    }
}

/// With every answer on an SSE stream: a request that answers at once
/// gets a stream that holds its answer and ends; one that waits gets its
/// progress as it comes, then its answer, in order, and the stream ends;
/// a stream can be resumed by its last event id.
#[tokio::test]
async fn sse_mode_streams_answers_given_at_once_and_later_in_order() {
    use mcp_sdk_server::http::ResponseMode;
    let config = HttpConfig {
        response_mode: ResponseMode::Sse,
        ..Default::default()
    };
    let mut server = TestServer::start(config).await;
    let s = server.session("2025-11-25").await;
    for round in 0..3 {
        let resp = server
            .post(Some(&s), &call(10 + round, "hello", json!({})))
            .await;
        let mut sse = Sse::new(resp);
        let priming = sse.next().await.expect("the priming event");
        assert!(priming.data.is_none(), "{priming:?}");
        let rest = timeout(LIMIT, sse.rest()).await.expect("the stream ends");
        let messages: Vec<&Value> = rest.iter().map(|(_, m)| m).collect();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["id"], 10 + round);
        assert_eq!(messages[0]["result"]["content"][0]["text"], "hi");
    }

    let resp = server
        .post(Some(&s), &call(20, "stream", json!({"progressToken": "p"})))
        .await;
    let mut sse = Sse::new(resp);
    assert!(sse.next().await.unwrap().data.is_none(), "priming first");
    let first = sse.next().await.unwrap();
    assert_eq!(first.data.as_ref().unwrap()["params"]["progress"], 1.0);
    assert_eq!(server.next_event().await, "started");
    server.probe.release.notify_one();
    let rest = timeout(LIMIT, sse.rest()).await.expect("the stream ends");
    let messages: Vec<&Value> = rest.iter().map(|(_, m)| m).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[0]["params"]["progress"], 2.0);
    assert_eq!(messages[1]["params"]["progress"], 3.0);
    assert_eq!(messages[2]["id"], 20);
    assert_eq!(messages[2]["result"]["content"][0]["text"], "streamed");
    assert_eq!(server.next_event().await, "finished");

    // Resumed after its first event, the stream gives the rest again.
    let resumed = Sse::new(server.get(&s, first.id.as_deref()).await)
        .rest()
        .await;
    let ids: Vec<&Value> = resumed.iter().map(|(_, m)| &m["id"]).collect();
    assert_eq!(ids.len(), 3, "{resumed:?}");
    assert_eq!(*ids[2], 20);
}

#[tokio::test]
async fn a_legacy_sse_client_that_never_reads_is_disconnected_instead_of_blocking_senders() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(HttpConfig::default()).await;
    // A small receive buffer, so the server's queue fills soon.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut sse = socket.connect(server.addr).await.unwrap();
    sse.write_all(b"GET /sse HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    // Read up to the endpoint event, then never again.
    let mut seen = Vec::new();
    let endpoint = timeout(LIMIT, async {
        loop {
            let mut buf = [0u8; 1024];
            let n = sse.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended early");
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if let Some(at) = text.find("data: /message?sessionId=") {
                if let Some(end) = text[at..].find("\n\n") {
                    return text[at + 6..at + end].to_owned();
                }
            }
        }
    })
    .await
    .expect("the endpoint event in time");
    let post = |body: Value| {
        let (addr, endpoint) = (server.addr, endpoint.clone());
        async move {
            let headers = [("content-type", "application/json")];
            let (resp, _) =
                support::request_to(addr, "POST", &endpoint, &headers, &body.to_string()).await;
            resp.status()
        }
    };
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    assert_eq!(post(init).await, 202);
    assert_eq!(
        post(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).await,
        202
    );
    // The flood stops once the queue is full: the session is closed, where
    // before the sender waited forever on the client.
    let flood = call(1, "flood", json!({"progressToken": "p"}));
    assert_eq!(post(flood).await, 202);
    timeout(LIMIT, async {
        while post(ping(2)).await != 404 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the session of the client that does not read is closed");
    // Everyone else is served as before.
    let s = server.session("2025-06-18").await;
    server.hello(&s).await;
    drop(sse);
}

#[tokio::test]
async fn in_json_mode_a_running_request_keeps_its_session_and_a_gone_client_cancels_it() {
    let config = HttpConfig {
        response_mode: mcp_sdk_server::http::ResponseMode::Json,
        session_idle_timeout: Duration::from_millis(100),
        session_expiry_notice: None,
        ..Default::default()
    };
    let mut server = TestServer::start(config).await;
    let s = server.session("2025-11-25").await;
    let body = call(1, "slow", json!({})).to_string();
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-session-id", s.as_str()),
    ];
    let addr = server.addr;
    let (h, b) = (
        headers.map(|(k, v)| (k.to_owned(), v.to_owned())),
        body.clone(),
    );
    let slow = tokio::spawn(async move {
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (resp, _) = request(addr, "POST", &h, &b).await;
        (resp.status(), json_body(resp).await)
    });
    assert_eq!(server.next_event().await, "started");
    // Many idle timeouts pass while the client waits for its answer: the
    // sweeper must not close the session under it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.probe.release.notify_one();
    let (status, answer) = timeout(LIMIT, slow).await.unwrap().unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["result"]["content"][0]["text"], "slow done",
        "{answer}"
    );

    // A client that disconnects while it waits cancels its request.
    let body = call(2, "hang", json!({})).to_string();
    let (h, b) = (headers.map(|(k, v)| (k.to_owned(), v.to_owned())), body);
    let hang = tokio::spawn(async move {
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        request(addr, "POST", &h, &b).await
    });
    assert_eq!(server.next_event().await, "hang started");
    hang.abort();
    assert_eq!(server.next_event().await, "hang dropped");
    // It no longer runs: its id is free again (a request whose waiting
    // client went away must not hold its id for the session's life).
    let again = call(2, "hello", json!({})).to_string();
    let answer = timeout(LIMIT, async {
        loop {
            let answer = json_body(server.send("POST", &headers, &again).await.0).await;
            if !answer.to_string().contains("already in use") {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the id of the cancelled request is free again");
    assert!(answer["result"]["content"].is_array(), "{answer}");
}

#[tokio::test]
async fn a_protocol_version_header_other_than_the_negotiated_one_gets_400() {
    let server = TestServer::start(HttpConfig::default()).await;
    let s = server.session("2025-11-25").await;
    let hello = call(3, "hello", json!({})).to_string();
    let post = |version: Option<&'static str>, session: String| {
        let hello = hello.clone();
        let server = &server;
        async move {
            let mut headers = vec![
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("mcp-session-id", session.as_str()),
            ];
            if let Some(v) = version {
                headers.push(("mcp-protocol-version", v));
            }
            server.send("POST", &headers, &hello).await.0
        }
    };
    let resp = post(Some("2025-06-18"), s.clone()).await;
    assert_eq!(resp.status(), 400);
    let answer = json_body(resp).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not the version this session negotiated (2025-11-25)"),
        "{answer}"
    );
    // The negotiated version, or none (the negotiated one holds), is served.
    assert_eq!(post(Some("2025-11-25"), s.clone()).await.status(), 200);
    assert_eq!(post(None, s.clone()).await.status(), 200);
    // The standalone stream is checked too.
    let headers = [
        ("accept", "text/event-stream"),
        ("mcp-session-id", s.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    assert_eq!(server.send("GET", &headers, "").await.0.status(), 400);
    // Revision 2025-03-26 has no such header: its sessions are not checked.
    let old = server.session("2025-03-26").await;
    assert_eq!(post(Some("2025-06-18"), old).await.status(), 200);
}

/// Issue 17: the standalone stream sent no priming event (SEP-1699), so a
/// connection cut before its first event left the client no id to resume
/// from: what the cut connection had taken was lost to it. Clients before
/// 2025-11-25 get no empty event.
#[tokio::test]
async fn a_standalone_stream_cut_before_any_event_resumes_after_its_priming_event() {
    let mut server = TestServer::start(HttpConfig::default()).await;
    let s = server.session("2025-11-25").await;
    let mut first = Sse::new(server.get(&s, None).await);
    let primed = first.next().await.expect("the priming event");
    assert!(primed.data.is_none(), "{primed:?}");
    let last = primed.id.expect("the priming event has an id");
    drop(first);

    let answer = body_text(server.post(Some(&s), &call(3, "later", json!({}))).await).await;
    assert!(answer.contains("later"), "{answer}");
    server.probe.release.notify_one();
    assert_eq!(server.next_event().await, "announced");
    let mut resumed = Sse::new(server.get(&s, Some(&last)).await);
    let event = resumed.next().await.expect("the announcement");
    assert_eq!(
        event.data.expect("a message")["method"],
        "notifications/tools/list_changed"
    );
    assert!(event_id(&event.id.unwrap()) > event_id(&last));

    let old = server.session("2025-06-18").await;
    let mut stream = Sse::new(server.get(&old, None).await);
    let answer = body_text(server.post(Some(&old), &call(4, "later", json!({}))).await).await;
    assert!(answer.contains("later"), "{answer}");
    server.probe.release.notify_one();
    assert_eq!(server.next_event().await, "announced");
    let event = stream.next().await.expect("the announcement");
    assert_eq!(
        event.data.expect("a message, no priming event")["method"],
        "notifications/tools/list_changed"
    );
}
