//! System tests of the tools server: the `tools_server` example as a child
//! process, driven by our client over stdio and over Streamable HTTP, in
//! the session era and in the stateless era (2026-07-28).

mod support;

use mcp_sdk::{CallToolResult, ErrorCode, ProgressNotificationParams, Tool};
use mcp_sdk_client::{async_trait, Client, ClientHandler, Era, RequestOptions};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{every_way, http_client_in, http_server, HttpServer, Transport, Via, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const NAME: &str = "tools_server";
const ERAS: [Era; 2] = [Era::SessionOnly, Era::StatelessOnly];

/// A client handler that keeps the progress reports no call waits for
/// (those of a call that was dropped).
#[derive(Clone, Default)]
struct Strays(Arc<Mutex<Vec<ProgressNotificationParams>>>);

#[async_trait]
impl ClientHandler for Strays {
    async fn on_progress(&self, params: ProgressNotificationParams) {
        self.0.lock().unwrap().push(params);
    }
}

/// Starts the server with `args` and connects a client `via` a transport
/// and era; the server (if HTTP) lives as long as the returned guard.
async fn connect(via: Via, args: &[&str], handler: Strays) -> (Client, Option<HttpServer>) {
    let (client, server) = via.connect(NAME, args, handler).await;
    assert_eq!(client.server().server_info.name, "mcp-reference-tools");
    (client, server)
}

const TOOLS: [&str; 12] = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "power",
    "word_count",
    "character_count",
    "sentence_count",
    "to_upper_case",
    "to_lower_case",
    "json_to_csv",
    "csv_to_json",
];

/// The tools by name, each checked for honest annotations and schemas.
async fn tools(client: &Client) -> HashMap<String, Tool> {
    let list = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, TOOLS);
    for tool in &list {
        let a = tool.annotations.as_ref().expect("annotated");
        assert_eq!(a.read_only_hint, Some(true), "{}", tool.name);
        assert_eq!(a.destructive_hint, Some(false), "{}", tool.name);
        assert_eq!(a.idempotent_hint, Some(true), "{}", tool.name);
        assert_eq!(a.open_world_hint, Some(false), "{}", tool.name);
        assert!(
            tool.output_schema.is_some(),
            "{} has an output schema",
            tool.name
        );
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
    }
    list.into_iter().map(|t| (t.name.clone(), t)).collect()
}

/// Calls a tool that must succeed; checks its structured content against
/// the tool's output schema and returns it.
async fn ok(client: &Client, tools: &HashMap<String, Tool>, name: &str, args: Value) -> Value {
    let result = timeout(PATIENCE, client.call_tool(name, args.clone()))
        .await
        .expect("an answer in time")
        .expect("a result");
    assert!(
        !result.is_error(),
        "{name}({args}) failed: {:?}",
        result.content
    );
    let structured = result
        .structured_content
        .clone()
        .expect("structured content");
    let schema = Value::Object(tools[name].output_schema.clone().unwrap());
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&structured)
        .map(|e| e.to_string())
        .collect();
    assert!(
        problems.is_empty(),
        "{name}: {structured} does not match its schema: {problems:?}"
    );
    // The text copy is the same JSON value.
    let text: Value = serde_json::from_str(result.content[0].as_text().unwrap()).unwrap();
    assert_eq!(text, structured);
    structured
}

/// Calls a tool that must fail as a tool (`isError`); returns its message.
async fn tool_error(client: &Client, name: &str, args: Value) -> String {
    let result: CallToolResult = timeout(PATIENCE, client.call_tool(name, args))
        .await
        .expect("an answer in time")
        .expect("a tool result, not a protocol error");
    assert!(result.is_error(), "{name} should have failed: {result:?}");
    result.content[0].as_text().unwrap().to_owned()
}

/// What every transport must show: each tool, and each bad input.
async fn exercise(client: &Client) {
    let tools = tools(client).await;

    // Calculator, with Python's number rules.
    assert_eq!(
        ok(client, &tools, "add", json!({"a": 2, "b": 3})).await,
        json!({"result": 5})
    );
    assert_eq!(
        ok(client, &tools, "add", json!({"a": 0.5, "b": 2})).await,
        json!({"result": 2.5})
    );
    assert_eq!(
        ok(client, &tools, "subtract", json!({"a": 2, "b": 5})).await,
        json!({"result": -3})
    );
    assert_eq!(
        ok(client, &tools, "multiply", json!({"a": 4, "b": 2.5})).await,
        json!({"result": 10.0})
    );
    let six_by_three = ok(client, &tools, "divide", json!({"a": 6, "b": 3})).await;
    assert_eq!(six_by_three, json!({"result": 2.0}));
    assert!(
        six_by_three["result"].is_f64(),
        "true division gives a float"
    );
    assert_eq!(
        ok(client, &tools, "power", json!({"a": 2, "b": 10})).await,
        json!({"result": 1024})
    );
    assert_eq!(
        ok(client, &tools, "power", json!({"a": 2, "b": -2})).await,
        json!({"result": 0.25})
    );

    // Failures the model can read.
    assert_eq!(
        tool_error(client, "divide", json!({"a": 1, "b": 0})).await,
        "Division by zero"
    );
    assert!(tool_error(client, "power", json!({"a": 0, "b": -1}))
        .await
        .contains("negative power"));
    let wrong_type = tool_error(client, "add", json!({"a": "two", "b": 3})).await;
    assert!(
        wrong_type.contains("Invalid arguments") && wrong_type.contains("/a"),
        "{wrong_type}"
    );
    let missing = tool_error(client, "multiply", json!({"a": 1})).await;
    assert!(
        missing.contains("\"b\" is a required property"),
        "{missing}"
    );
    let missing_text = tool_error(client, "word_count", json!({})).await;
    assert!(missing_text.contains("\"text\""), "{missing_text}");
    let unknown = client
        .call_tool("modulo", json!({"a": 1, "b": 2}))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some(ErrorCode::INVALID_PARAMS), "{unknown}");

    // Text processor.
    let text = json!({"text": "Hello, world! How are you? Fine.  Straße"});
    assert_eq!(
        ok(client, &tools, "word_count", text.clone()).await,
        json!({"result": 7})
    );
    assert_eq!(
        ok(client, &tools, "character_count", text.clone()).await,
        json!({"result": 40})
    );
    assert_eq!(
        ok(client, &tools, "sentence_count", text.clone()).await,
        json!({"result": 4})
    );
    assert_eq!(
        ok(client, &tools, "to_upper_case", text.clone()).await,
        json!({"result": "HELLO, WORLD! HOW ARE YOU? FINE.  STRASSE"})
    );
    assert_eq!(
        ok(client, &tools, "to_lower_case", text).await,
        json!({"result": "hello, world! how are you? fine.  straße"})
    );
    let not_text = tool_error(client, "to_upper_case", json!({"text": 42})).await;
    assert!(not_text.contains("Invalid arguments"), "{not_text}");

    // Data transformer, both ways.
    let csv = "name,age,score\r\nAda,36,9.5\r\n\"Lovelace, A.\",-1,007\r\n";
    let rows = ok(client, &tools, "csv_to_json", json!({"csv_data": csv})).await;
    assert_eq!(
        rows,
        json!({"result": [
            {"name": "Ada", "age": 36, "score": 9.5},
            {"name": "Lovelace, A.", "age": "-1", "score": 7},
        ]})
    );
    // The text copy keeps the header's column order.
    let raw = client
        .call_tool("csv_to_json", json!({"csv_data": csv}))
        .await
        .unwrap();
    assert!(raw.content[0]
        .as_text()
        .unwrap()
        .starts_with(r#"{"result":[{"name":"Ada","age":36"#));
    let back = ok(
        client,
        &tools,
        "json_to_csv",
        json!({"json_data": rows["result"], "columns": ["name", "age", "score"]}),
    )
    .await;
    assert_eq!(
        back["result"],
        "name,age,score\r\nAda,36,9.5\r\n\"Lovelace, A.\",-1,7\r\n"
    );
    // JSON given as text keeps the first object's key order.
    let from_text = ok(
        client,
        &tools,
        "json_to_csv",
        json!({"json_data": r#"[{"z": 1, "a": true}, {"a": null, "z": 2.0}]"#}),
    )
    .await;
    assert_eq!(from_text["result"], "z,a\r\n1,True\r\n2.0,\r\n");
    assert_eq!(
        ok(client, &tools, "json_to_csv", json!({"json_data": []})).await,
        json!({"result": ""})
    );

    // Bad CSV and bad JSON.
    let ragged = tool_error(client, "csv_to_json", json!({"csv_data": "a,b\n1,2\n3\n"})).await;
    assert!(
        ragged.contains("row 2 (line 3) has 1 field but the header has 2"),
        "{ragged}"
    );
    let open_quote = tool_error(client, "csv_to_json", json!({"csv_data": "a\n\"oops\n"})).await;
    assert!(open_quote.contains("never closed"), "{open_quote}");
    let bad_json = tool_error(client, "json_to_csv", json!({"json_data": "[{\"a\": 1,]"})).await;
    assert!(bad_json.contains("not valid JSON"), "{bad_json}");
    let not_objects = tool_error(client, "json_to_csv", json!({"json_data": [1, 2]})).await;
    assert!(
        not_objects.contains("json_data[0] is a number, not an object"),
        "{not_objects}"
    );
    let extra = tool_error(
        client,
        "json_to_csv",
        json!({"json_data": [{"a": 1}, {"b": 2}]}),
    )
    .await;
    assert!(
        extra.contains("json_data[1] has fields not in the header: 'b'"),
        "{extra}"
    );
    let no_csv = tool_error(client, "csv_to_json", json!({"csv_data": ["a", "b"]})).await;
    assert!(no_csv.contains("Invalid arguments"), "{no_csv}");
}

/// A CSV of `rows` rows.
fn big_csv(rows: usize) -> String {
    let mut csv = String::from("id,name,value\n");
    for i in 0..rows {
        csv.push_str(&format!("{i},name {i},{}.5\n", i * 7));
    }
    csv
}

/// A long transform reports growing progress up to its total.
async fn reports_progress(client: &Client) {
    let csv = big_csv(20_000);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = RequestOptions::new().on_progress(move |p| {
        sink.lock().unwrap().push((p.progress, p.total));
    });
    let result = timeout(
        PATIENCE,
        client.call_tool_with("csv_to_json", json!({"csv_data": csv}), options),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!result.is_error());
    assert_eq!(
        result.structured_content.unwrap()["result"]
            .as_array()
            .unwrap()
            .len(),
        20_000
    );
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 5, "progress reports: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "growing: {seen:?}"
    );
    let total = csv.len() as f64;
    assert!(seen.iter().all(|p| p.1 == Some(total)), "{seen:?}");
    assert_eq!(seen.last().unwrap().0, total);
}

/// Dropping a long call at its first progress report cancels it (with
/// `notifications/cancelled`, or over stateless HTTP by closing the
/// response stream); the server stops that work and goes on serving.
async fn cancels(client: &Client, strays: &Strays) {
    let csv = big_csv(100_000);
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let first_tx = Mutex::new(Some(first_tx));
    let options = RequestOptions::new().on_progress(move |_| {
        if let Some(tx) = first_tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
    });
    let call = client.call_tool_with("csv_to_json", json!({"csv_data": csv}), options);
    let finished = timeout(PATIENCE, async {
        tokio::select! {
            biased;
            _ = first_rx => false,
            _ = call => true,
        }
    })
    .await
    .unwrap();
    assert!(
        !finished,
        "the call was cancelled at its first progress report"
    );
    let after = client
        .call_tool("add", json!({"a": 1, "b": 1}))
        .await
        .unwrap();
    assert_eq!(after.structured_content, Some(json!({"result": 2})));

    // The same work again, to the end: had the first call gone on, it
    // would have finished by then too, and its last report (done = total)
    // would have reached the handler as a stray (where its stream is
    // still open: over stdio, and HTTP in a session).
    let whole = timeout(
        PATIENCE,
        client.call_tool_with(
            "csv_to_json",
            json!({"csv_data": csv}),
            RequestOptions::new().on_progress(|_| {}),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!whole.is_error());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let total = csv.len() as f64;
    let strays = strays.0.lock().unwrap();
    assert!(
        strays.iter().all(|p| p.progress < total),
        "the cancelled transform ran to its end: {:?}",
        strays.last()
    );
}

every_way!(
    every_tool_and_every_bad_input,
    long_transform_reports_progress_and_cancels
);

async fn every_tool_and_every_bad_input(via: Via) {
    let (client, _server) = connect(via, &[], Strays::default()).await;
    exercise(&client).await;
    client.close().await;
}

async fn long_transform_reports_progress_and_cancels(via: Via) {
    let strays = Strays::default();
    let (client, _server) = connect(via, &[], strays.clone()).await;
    reports_progress(&client).await;
    cancels(&client, &strays).await;
    client.close().await;
}

#[tokio::test]
async fn stdio_refuses_a_huge_csv() {
    let huge = "x,y\n".repeat(11 * 1024 * 1024 / 4);
    for era in ERAS {
        let stdio = Via {
            transport: Transport::Stdio,
            era,
        };
        let (client, _) = connect(stdio, &[], Strays::default()).await;
        let e = tool_error(&client, "csv_to_json", json!({"csv_data": huge})).await;
        assert!(e.starts_with("csv_data is 11.0 MiB"), "{era:?}: {e}");
        assert!(e.contains("at most 10.0 MiB"), "{e}");
        let e = tool_error(&client, "word_count", json!({"text": huge})).await;
        assert!(e.starts_with("text is 11.0 MiB"), "{era:?}: {e}");
        // Still serving.
        let r = client
            .call_tool("add", json!({"a": 1, "b": 2}))
            .await
            .unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": 3})));
        client.close().await;
    }
}

#[tokio::test]
async fn http_refuses_inputs_over_the_limit() {
    let server = http_server(NAME, &["--max-input-bytes", "1048576"]).await;
    let csv = big_csv(100_000);
    assert!(csv.len() > 1024 * 1024 && csv.len() < 3 * 1024 * 1024);
    let rows: Vec<Value> = (0..40_000)
        .map(|i| json!({"id": i, "name": "some name"}))
        .collect();
    for era in ERAS {
        let client = http_client_in(era, &server.url, ()).await;
        let e = tool_error(&client, "csv_to_json", json!({"csv_data": csv})).await;
        assert!(
            e.contains("at most 1.0 MiB (1048576 bytes)"),
            "{era:?}: {e}"
        );
        let e = tool_error(&client, "json_to_csv", json!({"json_data": rows})).await;
        assert!(e.contains("json_data is more than 1.0 MiB"), "{era:?}: {e}");
        // The server goes on serving (in a session: the same session).
        let r = client
            .call_tool("subtract", json!({"a": 1, "b": 2}))
            .await
            .unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": -1})));
        client.close().await;
    }
}

/// One HTTP/1.1 request on its own connection; the whole response.
async fn raw(addr: &str, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

#[tokio::test]
async fn http_health_answers_as_the_seed() {
    let server = http_server(NAME, &[]).await;
    let health = support::health(&server.base).await;
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["serverId"], "3");
    assert_eq!(health["server"], "tools");
    assert_eq!(health["capabilities"], json!(["tools"]));
    assert!(health["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn only_loopback_and_the_allowed_hosts_may_reach_the_endpoint() {
    let server = http_server(NAME, &["--accept-host", "mcp-tools"]).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let post = |host: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n\
             Mcp-Method: server/discover\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    // A name a container network gives the server, allowed by flag.
    let allowed = raw(&addr, &post("mcp-tools:5003")).await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    // Any other name is a DNS-rebinding attempt.
    let refused = raw(&addr, &post("evil.example.com")).await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(refused.contains("evil.example.com"), "{refused}");
}

/// A CSV header of `columns` names and one row of ones.
fn wide_csv(columns: usize) -> String {
    let names: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    format!("{}\n{}\n", names.join(","), vec!["1"; columns].join(","))
}

/// Wide inputs convert in one pass, off the async workers: two 300,000
/// column conversions (107 s each before, and every client stalled) run
/// while another client and `/health` are answered (issue 17, #4).
#[tokio::test]
async fn wide_conversions_are_linear_and_stall_no_one() {
    let server = http_server(NAME, &[]).await;
    let csv = wide_csv(300_000);
    assert!(csv.len() < 4 * 1024 * 1024, "fits in one HTTP body");
    let (a, b) = (
        http_client_in(Era::SessionOnly, &server.url, ()).await,
        http_client_in(Era::StatelessOnly, &server.url, ()).await,
    );
    let other = http_client_in(Era::SessionOnly, &server.url, ()).await;
    let wide = |client: Client| {
        let csv = csv.clone();
        tokio::spawn(async move {
            let r = timeout(
                PATIENCE,
                client.call_tool("csv_to_json", json!({"csv_data": csv})),
            )
            .await
            .expect("a 300,000-column CSV converts in time")
            .unwrap();
            assert!(!r.is_error(), "{:?}", r.content);
            let row = &r.structured_content.unwrap()["result"][0];
            assert_eq!(row.as_object().unwrap().len(), 300_000);
            assert_eq!(row["c299999"], 1);
        })
    };
    let (first, second) = (wide(a), wide(b));
    let health = timeout(PATIENCE, support::health(&server.base))
        .await
        .expect("/health answers while conversions run");
    assert_eq!(health["status"], "healthy");
    let sum = timeout(PATIENCE, other.call_tool("add", json!({"a": 2, "b": 3})))
        .await
        .expect("another client is answered while conversions run")
        .unwrap();
    assert_eq!(sum.structured_content, Some(json!({"result": 5})));
    first.await.unwrap();
    second.await.unwrap();

    // A 150,000-key object to CSV (31 s for 100,000 keys before).
    let object: serde_json::Map<String, Value> =
        (0..150_000).map(|i| (format!("k{i}"), json!(i))).collect();
    let r = timeout(
        PATIENCE,
        other.call_tool("json_to_csv", json!({"json_data": [object]})),
    )
    .await
    .expect("a 150,000-key object converts in time")
    .unwrap();
    assert!(!r.is_error(), "{:?}", r.content);
    let text = r.structured_content.unwrap()["result"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(text.lines().count(), 2);
    // Keys of a decoded object come in alphabetical order: k99999 last.
    assert!(text.starts_with("k0,k1,k10,"), "{}", &text[..40]);
    assert!(
        text.ends_with(",99998,99999\r\n"),
        "{}",
        &text[text.len() - 40..]
    );
}

/// CSV output neutralises formula cells (OWASP): text starting with `=`,
/// `+`, `-`, `@`, tab or CR gets a `'` and quotes (issue 17, #9).
#[tokio::test]
async fn csv_output_neutralises_formulas() {
    let stdio = Via {
        transport: Transport::Stdio,
        era: Era::SessionOnly,
    };
    let (client, _) = connect(stdio, &[], Strays::default()).await;
    let tools = tools(&client).await;
    let rows = json!([{
        "a": "=HYPERLINK(\"http://evil.example\",\"x\")",
        "b": "+1+1",
        "c": "-2+3",
        "d": "@SUM(A1)",
        "e": "\tTAB",
        "f": "\rCR",
        "g": -4,
        "h": "-4",
        "i": "plain"
    }]);
    let csv = ok(&client, &tools, "json_to_csv", json!({"json_data": rows})).await;
    assert_eq!(
        csv["result"],
        "a,b,c,d,e,f,g,h,i\r\n\
         \"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",\"'+1+1\",\"'-2+3\",\
         \"'@SUM(A1)\",\"'\tTAB\",\"'\rCR\",-4,-4,plain\r\n"
    );
    // Column names too.
    let csv = ok(
        &client,
        &tools,
        "json_to_csv",
        json!({"json_data": [{"=cmd": 1}]}),
    )
    .await;
    assert_eq!(csv["result"], "\"'=cmd\"\r\n1\r\n");
    client.close().await;
}

/// A conversion over its time budget fails with a message, and the
/// server goes on serving (issue 17, #4).
#[tokio::test]
async fn a_conversion_over_its_budget_fails_with_a_message() {
    let stdio = Via {
        transport: Transport::Stdio,
        era: Era::StatelessOnly,
    };
    let (client, _) = connect(stdio, &["--conversion-budget-ms", "0"], Strays::default()).await;
    let e = tool_error(&client, "csv_to_json", json!({"csv_data": "a\n1\n"})).await;
    assert!(
        e.contains("the conversion took longer than the 0.0 s this server allows one call"),
        "{e}"
    );
    let e = tool_error(&client, "json_to_csv", json!({"json_data": [{"a": 1}]})).await;
    assert!(e.contains("took longer than"), "{e}");
    let r = client
        .call_tool("add", json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    assert_eq!(r.structured_content, Some(json!({"result": 3})));
    client.close().await;
}

/// An answer that would pass the result bound stops while it is built,
/// with a message (issue 17, #4).
#[tokio::test]
async fn an_answer_over_the_bound_is_refused_while_built() {
    use mcp_reference::servers::tools::MAX_CONVERTED_BYTES;
    let stdio = Via {
        transport: Transport::Stdio,
        era: Era::SessionOnly,
    };
    let (client, _) = connect(stdio, &[], Strays::default()).await;
    // Short rows under a long column name: about 8 MiB of CSV that would
    // be far more as JSON.
    let name = "a".repeat(200);
    let mut csv = format!("{name}\n");
    while csv.len() < 8 * 1024 * 1024 {
        csv.push_str("1\n");
    }
    let e = tool_error(&client, "csv_to_json", json!({"csv_data": csv})).await;
    assert!(
        e.contains(&format!(
            "the result would be longer than the {MAX_CONVERTED_BYTES} bytes one answer may carry"
        )),
        "{e}"
    );
    client.close().await;
}
