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
                "protocolVersion":"2025-11-25","capabilities":capabilities,"clientInfo":{"name":"t","version":"0"}}}))
            .await;
        assert_eq!(
            client.recv().await["result"]["protocolVersion"],
            "2025-11-25"
        );
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
