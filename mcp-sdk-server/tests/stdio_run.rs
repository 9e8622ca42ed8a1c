//! `stdio::run` end to end: this test's binary starts itself again as a
//! server child process (stdin and stdout real pipes, as an MCP host starts
//! servers) and talks to it. Without the test harness (`harness = false`),
//! so that nothing but the server writes to the child's stdout.

use mcp_sdk::Tool;
use mcp_sdk_server::{NoArguments, Router};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::{self, ThreadId};
use std::time::Duration;

/// Set in the child: serve instead of testing.
const CHILD: &str = "MCP_STDIO_RUN_CHILD";

/// The thread that called `stdio::run`, in the child.
static RUN_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Whether the calling handler runs on the thread that called `run`.
fn on_run_thread() -> String {
    (RUN_THREAD.get() == Some(&thread::current().id())).to_string()
}

fn router() -> Router {
    Router::new()
        .tool(
            Tool::named("where", "Whether it runs on run's thread"),
            |_: NoArguments| async { on_run_thread() },
        )
        .tool(
            Tool::named("blocking", "Blocks on a thread of its own first"),
            |_: NoArguments| async {
                // What `run`'s documentation advises for blocking work.
                tokio::task::spawn_blocking(|| thread::sleep(Duration::from_millis(50)))
                    .await
                    .unwrap();
                on_run_thread()
            },
        )
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        RUN_THREAD.set(thread::current().id()).unwrap();
        return mcp_sdk_server::stdio::run(router()).unwrap();
    }
    // A hung child must fail the test, not hang it.
    thread::spawn(|| {
        thread::sleep(Duration::from_secs(60));
        eprintln!("stdio_run: no answer within 60 s");
        std::process::exit(1);
    });
    run_serves_a_session_on_one_thread_and_drains_when_stdin_closes();
    println!("stdio_run: ok");
}

fn run_serves_a_session_on_one_thread_and_drains_when_stdin_closes() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server child starts");
    let mut to = child.stdin.take().unwrap();
    let mut from = BufReader::new(child.stdout.take().unwrap());
    // Owns the pipe: dropping it closes the child's stdin.
    let mut send = move |v: Value| writeln!(to, "{v}").unwrap();
    let mut recv = || {
        let mut line = String::new();
        assert!(from.read_line(&mut line).unwrap() > 0, "stdout closed");
        serde_json::from_str::<Value>(&line).unwrap()
    };
    let call = |id: u64, tool: &str| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{}}});

    send(
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}),
    );
    assert_eq!(recv()["result"]["protocolVersion"], "2025-11-25");
    send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));

    send(call(1, "where"));
    let answer = recv();
    assert_eq!(answer["id"], 1, "{answer}");
    assert_eq!(
        answer["result"]["content"][0]["text"], "true",
        "a handler ran off the thread that called run: {answer}"
    );

    // Still running when stdin closes: answered before the child exits.
    send(call(2, "blocking"));
    drop(send);
    let answer = recv();
    assert_eq!(answer["id"], 2, "{answer}");
    assert_eq!(answer["result"]["content"][0]["text"], "true", "{answer}");
    let mut rest = String::new();
    assert_eq!(from.read_line(&mut rest).unwrap(), 0, "more output: {rest}");
    let status = child.wait().unwrap();
    assert!(status.success(), "the child exited with {status}");
}
