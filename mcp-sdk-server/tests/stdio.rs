//! One session over an in-process byte pipe (`serve_io` on a tokio duplex):
//! cancellation, progress, logging levels, panics, and sampling round trips.

use mcp_sdk::{LoggingLevel, Tool};
use mcp_sdk_server::{stdio::serve_io, NoArguments, RequestContext, Router, SessionConfig};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

struct Client {
    to_server: WriteHalf<DuplexStream>,
    from_server: Lines<BufReader<ReadHalf<DuplexStream>>>,
}

impl Client {
    /// Serves `router` in a task and initializes with `capabilities`.
    async fn start(router: Router, capabilities: Value) -> Client {
        Client::start_at(router, capabilities, "2025-11-25").await
    }

    /// Like [`start`](Self::start), at protocol revision `version`.
    async fn start_at(router: Router, capabilities: Value, version: &str) -> Client {
        let (client_end, server_end) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server_end);
        tokio::spawn(serve_io(
            router,
            SessionConfig::default(),
            server_read,
            server_write,
        ));
        let (read, write) = tokio::io::split(client_end);
        let mut client = Client {
            to_server: write,
            from_server: BufReader::new(read).lines(),
        };
        client
            .send(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                "protocolVersion":version,"capabilities":capabilities,"clientInfo":{"name":"t","version":"0"}}}))
            .await;
        assert_eq!(client.recv().await["result"]["protocolVersion"], version);
        client
            .send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        client
    }

    async fn send(&mut self, v: Value) {
        let mut line = v.to_string().into_bytes();
        line.push(b'\n');
        self.to_server.write_all(&line).await.unwrap();
    }

    async fn recv(&mut self) -> Value {
        let line = timeout(LIMIT, self.from_server.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .unwrap();
        serde_json::from_str(&line).unwrap()
    }

    async fn call(&mut self, id: i64, tool: &str, meta: Value) {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{},"_meta":meta}}))
            .await;
    }
}

fn router() -> Router {
    Router::new()
        .tool(
            Tool::named("sleep", "Sleeps until cancelled"),
            |_: NoArguments| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "woke up"
            },
        )
        .tool(Tool::named("panic", "Panics"), |_: NoArguments| async {
            if true {
                panic!("boom");
            }
            "unreachable"
        })
        .tool(
            Tool::named("work", "Reports progress and logs"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.progress(1.0, Some(2.0), None).await?;
                ctx.progress(2.0, Some(2.0), None).await?;
                ctx.log(LoggingLevel::Debug, "debug detail").await?;
                ctx.log(LoggingLevel::Error, "an error line").await?;
                Ok::<_, mcp_sdk::Error>("done")
            },
        )
        .tool(
            Tool::named("ask", "Samples the client's LLM"),
            |_: NoArguments, ctx: RequestContext| async move {
                let params = serde_json::from_value(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                    "maxTokens": 10,
                }))
                .unwrap();
                let answer = ctx.sample(params).await?;
                Ok::<_, mcp_sdk::Error>(serde_json::to_string(&answer.content).unwrap())
            },
        )
}

#[tokio::test]
async fn cancelled_request_gets_no_answer_and_the_session_goes_on() {
    let mut c = Client::start(router(), json!({})).await;
    c.call(1, "sleep", json!({})).await;
    c.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"test"}}))
        .await;
    c.send(json!({"jsonrpc":"2.0","id":2,"method":"ping"}))
        .await;
    let answer = c.recv().await;
    assert_eq!(
        answer["id"], 2,
        "the first answer is the ping, not the cancelled call: {answer}"
    );
    // The id is free again once the cancelled request ended.
    c.call(1, "work", json!({})).await;
    loop {
        let m = c.recv().await;
        if m["id"] == 1 {
            assert_eq!(m["result"]["content"][0]["text"], "done");
            break;
        }
    }
}

#[tokio::test]
async fn progress_carries_the_token_and_logging_honours_the_level() {
    let mut c = Client::start(router(), json!({})).await;
    c.send(
        json!({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"warning"}}),
    )
    .await;
    assert_eq!(c.recv().await["result"], json!({}));
    c.call(2, "work", json!({"progressToken": "tok"})).await;
    let mut progress = vec![];
    let mut logs = vec![];
    loop {
        let m = c.recv().await;
        match m["method"].as_str() {
            Some("notifications/progress") => {
                assert_eq!(m["params"]["progressToken"], "tok");
                progress.push(m["params"]["progress"].as_f64().unwrap());
            }
            Some("notifications/message") => {
                logs.push(m["params"]["level"].as_str().unwrap().to_owned())
            }
            _ => {
                assert_eq!(m["id"], 2);
                break;
            }
        }
    }
    assert_eq!(progress, vec![1.0, 2.0]);
    assert_eq!(
        logs,
        vec!["error"],
        "debug is below the level the client set"
    );
    // Without a token there is no progress at all.
    c.call(3, "work", json!({})).await;
    let m = c.recv().await;
    assert_ne!(m["method"], "notifications/progress", "{m}");
}

#[tokio::test]
async fn a_panicking_tool_answers_internal_error_and_the_session_survives() {
    let mut c = Client::start(router(), json!({})).await;
    c.call(1, "panic", json!({})).await;
    let m = c.recv().await;
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].clone()),
        (json!(1), json!(-32603)),
        "{m}"
    );
    c.send(json!({"jsonrpc":"2.0","id":2,"method":"ping"}))
        .await;
    assert_eq!(c.recv().await["id"], 2);
}

#[tokio::test]
async fn sampling_round_trip_and_refusal_without_the_capability() {
    let mut c = Client::start(router(), json!({"sampling": {}})).await;
    c.call(1, "ask", json!({})).await;
    let req = c.recv().await;
    assert_eq!(req["method"], "sampling/createMessage");
    c.send(json!({"jsonrpc":"2.0","id":req["id"],"result":{
        "role":"assistant","content":{"type":"text","text":"sampled!"},"model":"m"}}))
        .await;
    let m = c.recv().await;
    assert_eq!(m["id"], 1);
    assert!(
        m["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("sampled!"),
        "{m}"
    );

    let mut c = Client::start(router(), json!({})).await;
    c.call(1, "ask", json!({})).await;
    let m = c.recv().await;
    assert_eq!(m["id"], 1);
    // The failure reaches the model as a tool error, naming what is missing.
    assert_eq!(
        m["result"]["isError"], true,
        "a client without sampling: {m}"
    );
    assert!(m["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("sampling"));
}

#[tokio::test]
async fn requests_before_initialize_are_refused_but_ping_works() {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (r, w) = tokio::io::split(server_end);
    tokio::spawn(serve_io(router(), SessionConfig::default(), r, w));
    let (read, write) = tokio::io::split(client_end);
    let mut c = Client {
        to_server: write,
        from_server: BufReader::new(read).lines(),
    };
    c.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    let m = c.recv().await;
    assert_eq!(m["error"]["code"], -32600);
    assert!(m["error"]["message"]
        .as_str()
        .unwrap()
        .contains("initialize"));
    c.send(json!({"jsonrpc":"2.0","id":2,"method":"ping"}))
        .await;
    assert_eq!(c.recv().await["result"], json!({}));
}

/// The ids of the answers in a batch's answer, in order of id.
fn answers_by_id(answers: &Value) -> Vec<(Value, Value)> {
    let mut all: Vec<(Value, Value)> = answers
        .as_array()
        .unwrap_or_else(|| panic!("an array: {answers}"))
        .iter()
        .map(|a| (a["id"].clone(), a.clone()))
        .collect();
    all.sort_by_key(|(id, _)| id.to_string());
    all
}

#[tokio::test]
async fn a_2025_03_26_batch_is_answered_with_one_array_line() {
    let mut c = Client::start_at(router(), json!({}), "2025-03-26").await;
    c.send(json!([
        {"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"work","arguments":{},"_meta":{"progressToken":"b"}}},
        {"jsonrpc":"2.0","method":"notifications/roots/list_changed"},
        42,
        {"jsonrpc":"1.0","id":3,"method":"ping"}
    ]))
    .await;
    // What the call sends on the way comes first, each on its own line;
    // then all answers together, as one array.
    let mut progress = 0;
    let answers = loop {
        let m = c.recv().await;
        if m.is_array() {
            break m;
        }
        assert!(
            m["method"].is_string(),
            "only notifications before the answers: {m}"
        );
        if m["method"] == "notifications/progress" {
            progress += 1;
        }
    };
    assert_eq!(progress, 2);
    let answers = answers_by_id(&answers);
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert_eq!(answers[0].0, 1);
    assert_eq!(answers[0].1["result"], json!({}));
    assert_eq!(answers[1].0, 2);
    assert_eq!(answers[1].1["result"]["content"][0]["text"], "done");
    assert_eq!(answers[2].0, 3);
    assert_eq!(answers[2].1["error"]["code"], -32600);
    // The element that is not an object: an error without an id.
    assert_eq!(answers[3].0, Value::Null);
    assert_eq!(answers[3].1["error"]["code"], -32600);
}

#[tokio::test]
async fn a_batch_of_notifications_gets_no_answer_and_an_empty_one_is_invalid() {
    let mut c = Client::start_at(router(), json!({}), "2025-03-26").await;
    c.send(json!([
        {"jsonrpc":"2.0","method":"notifications/roots/list_changed"},
        {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}}
    ]))
    .await;
    c.send(json!({"jsonrpc":"2.0","id":7,"method":"ping"}))
        .await;
    assert_eq!(c.recv().await["id"], 7, "nothing was written for the batch");

    c.send(json!([])).await;
    let m = c.recv().await;
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].clone()),
        (Value::Null, json!(-32600)),
        "{m}"
    );
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("empty batch"),
        "{m}"
    );
}

#[tokio::test]
async fn initialize_may_not_be_part_of_a_batch() {
    // Before initialization there is no revision yet: the batch is refused whole.
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (r, w) = tokio::io::split(server_end);
    tokio::spawn(serve_io(router(), SessionConfig::default(), r, w));
    let (read, write) = tokio::io::split(client_end);
    let mut c = Client {
        to_server: write,
        from_server: BufReader::new(read).lines(),
    };
    c.send(json!([{"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}]))
        .await;
    let m = c.recv().await;
    assert_eq!(m["error"]["code"], -32600, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("initialize"),
        "{m}"
    );

    // In a 2025-03-26 session, the initialize element alone is refused.
    let mut c = Client::start_at(router(), json!({}), "2025-03-26").await;
    c.send(json!([
        {"jsonrpc":"2.0","id":5,"method":"initialize","params":{
            "protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"0"}}},
        {"jsonrpc":"2.0","id":6,"method":"ping"}
    ]))
    .await;
    let answers = answers_by_id(&c.recv().await);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0].1["error"]["code"], -32600);
    assert!(answers[0].1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("must not be part of a JSON-RPC batch"));
    assert_eq!(answers[1].1["result"], json!({}));
}

#[tokio::test]
async fn other_revisions_refuse_batches_and_go_on() {
    for version in ["2024-11-05", "2025-06-18", "2025-11-25"] {
        let mut c = Client::start_at(router(), json!({}), version).await;
        c.send(json!([{"jsonrpc":"2.0","id":1,"method":"ping"}]))
            .await;
        let m = c.recv().await;
        assert!(m.is_object(), "{m}");
        assert_eq!(
            (m["id"].clone(), m["error"]["code"].clone()),
            (Value::Null, json!(-32600))
        );
        let text = m["error"]["message"].as_str().unwrap();
        assert!(
            text.contains("not supported") && text.contains(version),
            "{text}"
        );
        c.send(json!({"jsonrpc":"2.0","id":2,"method":"ping"}))
            .await;
        assert_eq!(c.recv().await["id"], 2);
    }
}

#[tokio::test]
async fn a_cancelled_request_of_a_batch_leaves_the_others_answered() {
    let mut c = Client::start_at(router(), json!({}), "2025-03-26").await;
    c.send(json!([
        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sleep","arguments":{}}},
        {"jsonrpc":"2.0","id":2,"method":"ping"}
    ]))
    .await;
    c.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}))
        .await;
    let answers = answers_by_id(&c.recv().await);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, 2);
}

/// A client that pipelines requests faster than it reads the answers: the
/// server stops building answers once its output queue and the running
/// requests are full, instead of holding every answer in memory; reading
/// then gets every answer.
#[tokio::test]
async fn pipelined_requests_of_a_client_that_does_not_read_stay_bounded() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const REQUESTS: usize = 20_000;
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let router = Router::new().tool(
        Tool::named("count", "Counts its calls"),
        move |_: NoArguments| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "x".repeat(100) }
        },
    );
    let Client {
        mut to_server,
        mut from_server,
    } = Client::start(router, json!({})).await;
    let writer = tokio::spawn(async move {
        let mut lines = Vec::new();
        for id in 1..=REQUESTS {
            let req = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"count","arguments":{}}});
            lines.extend_from_slice(req.to_string().as_bytes());
            lines.push(b'\n');
        }
        to_server.write_all(&lines).await.unwrap();
        to_server
    });
    // Let every task that can run, run, until nothing changes any more
    // (the writer stalls too: the server stops reading once its requests
    // waiting for a permit are at their bound).
    let (mut last, mut still) = (usize::MAX, 0);
    while still < 500 {
        tokio::task::yield_now().await;
        let now = built.load(Ordering::SeqCst);
        (last, still) = (now, if now == last { still + 1 } else { 0 });
    }
    // The writer's queue (256), the running requests (64), and what the
    // pipe and the writer's buffer hold (about 64 KiB each) of answers of
    // ~200 bytes: far below the 20,000 asked for.
    assert!(
        last < 2_000,
        "{last} answers were built while the client read none"
    );
    let mut ids = std::collections::HashSet::new();
    while ids.len() < REQUESTS {
        let line = timeout(LIMIT, from_server.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .unwrap();
        let m: Value = serde_json::from_str(&line).unwrap();
        assert!(m["result"].is_object(), "{m}");
        assert!(ids.insert(m["id"].as_u64().unwrap()), "{m}");
    }
    assert_eq!(built.load(Ordering::SeqCst), REQUESTS);
    let _to_server = writer.await.unwrap();
}

/// A client that pipelines requests beyond the concurrency limit while
/// they run: at most `MAX_WAITING_REQUESTS` of them wait for a permit, and
/// the server reads no further from stdin until one finishes
/// (back-pressure, not errors). Once they finish, every request is read
/// and answered. Before the bound, every request was read at once and
/// waited in memory (issue 17).
#[tokio::test]
async fn requests_waiting_for_a_permit_are_bounded_by_reading_no_further() {
    use mcp_sdk_server::stdio::MAX_WAITING_REQUESTS;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const RUNNING: usize = 2;
    // Past the bound, and past what the pipe and the server's read buffer
    // (64 KiB each) hold of these 16 KiB lines.
    const REQUESTS: usize = RUNNING + MAX_WAITING_REQUESTS + 100;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (gate_t, started_t) = (gate.clone(), started.clone());
    let router = Router::new().tool(
        Tool::named("wait", "Waits for the gate"),
        move |_: NoArguments| {
            let (gate, started) = (gate_t.clone(), started_t.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                let _pass = gate.acquire().await;
                "done"
            }
        },
    );
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (server_read, server_write) = tokio::io::split(server_end);
    let config = SessionConfig {
        max_concurrent_requests: RUNNING,
        ..SessionConfig::default()
    };
    tokio::spawn(serve_io(router, config, server_read, server_write));
    let (read, mut to_server) = tokio::io::split(client_end);
    let mut from_server = BufReader::new(read).lines();
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    for m in [init, initialized] {
        to_server
            .write_all(format!("{m}\n").as_bytes())
            .await
            .unwrap();
    }
    from_server.next_line().await.unwrap().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let writer = tokio::spawn(async move {
        let pad = "x".repeat(16 * 1024);
        for id in 1..=REQUESTS {
            let req = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                "params":{"name":"wait","arguments":{},"_meta":{"pad":pad}}});
            to_server
                .write_all(format!("{req}\n").as_bytes())
                .await
                .unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
        }
        to_server
    });
    // Let every task that can run, run, until nothing changes any more.
    let (mut last, mut still) = (usize::MAX, 0);
    while still < 500 {
        tokio::task::yield_now().await;
        let now = written.load(Ordering::SeqCst);
        (last, still) = (now, if now == last { still + 1 } else { 0 });
    }
    assert_eq!(started.load(Ordering::SeqCst), RUNNING);
    // Taken in: the running ones, the waiting ones, one waiting to be taken
    // in; buffered: about 4 lines in the pipe and 4 in the read buffer.
    assert!(
        last <= RUNNING + MAX_WAITING_REQUESTS + 12,
        "{last} requests were read while {RUNNING} ran"
    );
    assert!(last < REQUESTS, "the client could write every request");
    gate.add_permits(REQUESTS);
    let mut ids = std::collections::HashSet::new();
    while ids.len() < REQUESTS {
        let line = timeout(LIMIT, from_server.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .unwrap();
        let m: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(m["result"]["content"][0]["text"], "done", "{m}");
        assert!(ids.insert(m["id"].as_u64().unwrap()), "{m}");
    }
    let _to_server = writer.await.unwrap();
}

/// `stdio::run` starts a runtime of its own, which cannot start inside
/// another: called there, it says so at once (it panicked before).
#[tokio::test]
async fn run_inside_a_runtime_is_a_clear_error() {
    let error = mcp_sdk_server::stdio::run(Router::new()).expect_err("refused inside a runtime");
    assert!(error.to_string().contains("await stdio::serve"), "{error}");
}
