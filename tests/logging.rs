//! The reference processes' logs: plain text without colour codes when
//! stderr is not a terminal, and JSON lines with `LOG_FORMAT=json`.

mod support;

use std::process::Stdio;
use support::{example, TempDir, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Runs the prompts server over HTTP on a free port with `env` and a
/// prompts folder (whose loading it logs at `info`), and gives the lines it
/// wrote on stderr up to and including its announcement.
async fn first_lines(env: &[(&str, &str)]) -> Vec<String> {
    let dir = TempDir::new("logging");
    dir.write("prompts/hello.md", b"---\nname: hello\n---\nHello\n");
    let prompts = dir.0.join("prompts");
    let mut child = Command::new(example("prompts_server"))
        .args(["--http", "127.0.0.1:0", "--prompts-dir"])
        .arg(&prompts)
        .env_remove("LOG_FORMAT")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.contains("serving MCP at");
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("the server exited without announcing its address: {seen:?}");
    })
    .await
    .expect("the announcement in time");
    seen
}

#[tokio::test]
async fn piped_logs_carry_no_colour_codes() {
    let lines = first_lines(&[]).await;
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "a colour code in {line:?}");
    }
    let logged = lines.iter().find(|l| l.contains("prompt template(s) from"));
    let logged = logged.unwrap_or_else(|| panic!("the folder's loading is logged: {lines:?}"));
    assert!(logged.contains("INFO"), "{logged}");
}

#[tokio::test]
async fn log_format_json_gives_one_object_a_line() {
    let lines = first_lines(&[("LOG_FORMAT", "json")]).await;
    for line in &lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert!(object["timestamp"].is_string(), "{line}");
        assert!(object["level"].is_string(), "{line}");
        assert!(object["message"].is_string(), "{line}");
    }
    let logged = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|o| {
            o["message"]
                .as_str()
                .unwrap()
                .contains("prompt template(s) from")
        })
        .unwrap_or_else(|| panic!("the folder's loading is logged: {lines:?}"));
    assert_eq!(logged["level"], "INFO", "{logged}");
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("serving MCP at http://127.0.0.1:"),
        "{last}"
    );
}
