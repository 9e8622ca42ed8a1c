//! The command-line host (`examples/client`) as a child process against the
//! tools reference server, over stdio and Streamable HTTP, in both eras:
//! listing tools, calling one (with JSON output), clear failures with a
//! non-zero exit, and a chat with the offline assistant.

mod support;

use serde_json::{json, Value};
use std::process::{Output, Stdio};
use support::{example, http_server, HttpServer, PATIENCE};
use tokio::process::Command;

/// Runs the client with `args`, stdin closed and no LLM configured (so the
/// offline assistant answers), and waits for it, with a hang guard.
async fn client(args: &[&str]) -> Output {
    let mut command = Command::new(example("client"));
    command
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .env("RUST_LOG", "error");
    for var in [
        "LLM_API_URL",
        "LLM_API_KEY",
        "LLM_MODEL",
        "LLM_PROVIDER",
        "ANTHROPIC_API_KEY",
    ] {
        command.env_remove(var);
    }
    tokio::time::timeout(PATIENCE, command.output())
        .await
        .expect("the client finishes in time")
        .expect("the client runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A run that must succeed; gives its stdout.
async fn ok(args: &[&str]) -> String {
    let output = client(args).await;
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// A run that must fail; gives its stderr.
async fn fails(args: &[&str]) -> String {
    let output = client(args).await;
    assert!(
        !output.status.success(),
        "{args:?} succeeded: {}",
        stdout(&output)
    );
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The connection flags for the tools server over stdio or (with the
/// server running) HTTP, in an era.
fn server_args(http: Option<&HttpServer>, era: &str) -> Vec<String> {
    let mut args = match http {
        Some(server) => vec!["--url".to_owned(), server.url.clone()],
        None => vec![
            "--stdio".to_owned(),
            format!("{} --stdio", example("tools_server").display()),
        ],
    };
    args.extend(["--era".to_owned(), era.to_owned()]);
    args
}

/// Every check against one server connection.
async fn scenario(http: Option<&HttpServer>, era: &str) {
    let base = server_args(http, era);
    let with = |more: &[&str]| -> Vec<String> {
        base.iter()
            .cloned()
            .chain(more.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        client(&refs).await
    };
    let ok = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&refs).await
    };
    let fails = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&refs).await
    };

    // tools: one line per tool and one for its parameters.
    let listing = ok(with(&["tools"])).await;
    assert!(
        listing.starts_with("add  Adds two numbers: a + b."),
        "{listing}"
    );
    assert!(
        listing.contains("    a: number (required), b: number (required)"),
        "{listing}"
    );
    assert!(listing.contains("\ncsv_to_json  "), "{listing}");
    let tools: Value = serde_json::from_str(&ok(with(&["tools", "--json"])).await).unwrap();
    assert_eq!(tools.as_array().unwrap().len(), 12);
    assert_eq!(tools[0]["name"], "add");

    // call: the structured result as JSON, or the text.
    let sum: Value =
        serde_json::from_str(&ok(with(&["call", "add", "a=2", "b=3", "--json"])).await).unwrap();
    assert_eq!(sum, json!({"result": 5}));
    let upper = ok(with(&["call", "to_upper_case", "text=123"])).await;
    assert_eq!(
        upper.trim(),
        r#"{"result":"123"}"#,
        "a string stays a string"
    );

    // Bad calls: a clear message and a non-zero exit.
    let err = fails(with(&["call", "ad", "a=2", "b=3"])).await;
    assert!(
        err.contains(r#"unknown tool "ad" (did you mean "add"?)"#),
        "{err}"
    );
    let err = fails(with(&["call", "add", "a=2", "b"])).await;
    assert!(
        err.contains(r#"bad argument "b": expected key=value"#),
        "{err}"
    );
    let err = fails(with(&["call", "add", "a=2", "b=x"])).await;
    assert!(err.contains("the tool add failed"), "{err}");
    let err = fails(with(&["call", "divide", "a=1", "b=0"])).await;
    assert!(
        err.contains("the tool divide failed: Division by zero"),
        "{err}"
    );

    // skills: the tools server declares no skills extension, so none are
    // listed and none loads.
    let listing = ok(with(&["skills"])).await;
    assert_eq!(listing.trim(), "(the server offers no skills)");
    let err = fails(with(&["skill", "pdf-processing"])).await;
    assert!(
        err.contains(
            "the server does not offer skills (it declares no io.modelcontextprotocol/skills)"
        ),
        "{err}"
    );

    // chat with the offline assistant: it calls add and answers 5.
    let answer = ok(with(&["chat", "--message", "add 2 and 3"])).await;
    assert_eq!(answer.trim(), "[offline assistant] add gave 5");
    let output = run(with(&["chat", "--message", "add 2 and 3", "--json"])).await;
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["answer"], "[offline assistant] add gave 5");
    assert_eq!(answer["toolRuns"][0]["tool"], "add");
    assert!(answer["model"]
        .as_str()
        .unwrap()
        .starts_with("offline assistant"));
    // The REPL reads stdin; closed stdin ends it at once.
    let output = run(with(&["chat"])).await;
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn stdio_session() {
    scenario(None, "session").await
}

#[tokio::test]
async fn stdio_stateless() {
    scenario(None, "stateless").await
}

#[tokio::test]
async fn http_session() {
    let server = http_server("tools_server", &[]).await;
    scenario(Some(&server), "session").await
}

#[tokio::test]
async fn http_stateless() {
    let server = http_server("tools_server", &[]).await;
    scenario(Some(&server), "stateless").await
}

#[tokio::test]
async fn http_auto_finds_the_stateless_era() {
    let server = http_server("tools_server", &[]).await;
    let sum = ok(&["--url", &server.url, "call", "add", "a=2", "b=3", "--json"]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&sum).unwrap(),
        json!({"result": 5})
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    // A port that was free a moment ago: nothing listens there.
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let err = fails(&["--url", &url, "tools"]).await;
    assert!(
        err.contains(&format!("could not connect to the MCP server {url}")),
        "{err}"
    );
    let err = fails(&["--stdio", "/nonexistent/server --stdio", "tools"]).await;
    assert!(err.contains("could not start /nonexistent/server"), "{err}");
    let err = fails(&["--stdio", "server 'unclosed", "tools"]).await;
    assert!(err.contains("unclosed '"), "{err}");
    let err = fails(&["--url", "ftp://x", "tools"]).await;
    assert!(
        err.contains("--url must be an http:// or https:// URL"),
        "{err}"
    );
}

#[tokio::test]
async fn sampling_needs_approval_without_a_terminal() {
    let server = format!("{} --stdio", example("sampling_server").display());
    for era in ["session", "stateless"] {
        let err = fails(&[
            "--stdio",
            &server,
            "--era",
            era,
            "call",
            "summarize",
            "text=hello",
        ])
        .await;
        assert!(err.contains("run it with --auto-approve"), "{era}: {err}");
        // Approved, the host's model (the offline assistant) answers.
        let out = ok(&[
            "--stdio",
            &server,
            "--era",
            era,
            "--auto-approve",
            "call",
            "summarize",
            "text=hello",
            "--json",
        ])
        .await;
        let result: Value = serde_json::from_str(&out).unwrap();
        assert!(
            result["summary"]
                .as_str()
                .unwrap()
                .starts_with("[offline assistant]"),
            "{result}"
        );
    }
}

/// `call --task` against a server whose tool may run as a task (the
/// conformance server's `slow_compute`): a 2025-11-25 task in the session
/// era, the 2026-07-28 tasks extension statelessly; followed to its end.
/// A tool that cannot be a task: -32601 in the session era, an answer at
/// once statelessly (the server decides there).
#[tokio::test]
async fn a_call_runs_as_a_task_in_both_eras() {
    let server = format!("{} --stdio", example("conformance_server").display());
    for era in ["session", "stateless"] {
        let args = [
            "--stdio",
            &server,
            "--era",
            era,
            "call",
            "slow_compute",
            "seconds=1",
            "label=x",
            "--task",
        ];
        let output = client(&args).await;
        assert!(output.status.success(), "{era}: {}", stderr(&output));
        assert_eq!(stdout(&output).trim(), "computed x in 1 s", "{era}");
        let said = stderr(&output);
        assert!(
            said.contains("task ") && said.contains(" ended"),
            "{era}: {said}"
        );
    }
    let refused = fails(&[
        "--stdio",
        &server,
        "--era",
        "session",
        "call",
        "test_simple_text",
        "--task",
    ])
    .await;
    assert!(
        refused.contains("-32601") || refused.contains("cannot run as a task"),
        "{refused}"
    );
    let at_once = client(&[
        "--stdio",
        &server,
        "--era",
        "stateless",
        "call",
        "test_simple_text",
        "--task",
    ])
    .await;
    assert!(at_once.status.success(), "{}", stderr(&at_once));
    assert!(stderr(&at_once).contains("answered at once"));
}
