//! The internet server as a child process, over stdio and HTTP, in the
//! session era and in the stateless era (2026-07-28), against a small
//! website on loopback (reached through `--allow-host 127.0.0.1`), and the
//! refusals of internal addresses without that allowance.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use mcp_sdk::CallToolResult;
use mcp_sdk_client::transport::ChildProcess;
use mcp_sdk_client::Client;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{every_way, http_server, HttpServer, Via, PATIENCE};

const EXAMPLE: &str = "internet_server";
const ALLOW_LOOPBACK: &[&str] = &["--allow-host", "127.0.0.1"];

const PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>Test page</title><style>body { color: red }</style>
<script>document.write("tracking")</script></head>
<body><nav><a href="/">Home</a> | <a href="/menu">Menu</a></nav>
<h1>Welcome &amp; hello</h1>
<p>This is <strong>important</strong> and <a href="/about">about us</a>.</p>
<ul><li>first</li><li>second</li></ul>
<footer>Copyright</footer></body></html>"#;

const ROBOTS: &str =
    "User-agent: *\nDisallow: /\n\nUser-agent: mcp-reference-internet\nDisallow: /no-bots\n";

/// A website on loopback: a page, text, JSON, an echo, redirects.
struct Site {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Site {
    /// A site whose robots.txt keeps us out of `/no-bots` only.
    async fn start(other: Option<SocketAddr>) -> Site {
        Site::start_with(other, 200).await
    }

    /// A site whose robots.txt answers `robots` (200: [`ROBOTS`]).
    async fn start_with(other: Option<SocketAddr>, robots: u16) -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        if req.uri().path() != "/robots.txt" {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        serve(req, addr, other, robots)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Site { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

fn redirect(status: u16, location: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("location", location)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// `line 0000\n` to `line 1199\n`: 12,000 characters.
fn long_text() -> String {
    (0..1200).map(|i| format!("line {i:04}\n")).collect()
}

/// 30,000 nested `<div>`s around a paragraph, and a paragraph after them:
/// html5ever's tree builder alone would take quadratic time on it, and a
/// recursive converter would overflow its stack.
fn deep_page() -> String {
    "<div>".repeat(30_000) + "<p>deep &eacute;</p>" + &"</div>".repeat(30_000) + "<p>after</p>"
}

async fn serve(
    req: Request<Incoming>,
    me: SocketAddr,
    other: Option<SocketAddr>,
    robots: u16,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    Ok(match path.as_str() {
        "/robots.txt" => respond(robots, "text/plain", ROBOTS),
        p if p.starts_with("/no-bots") => respond(200, "text/html", PAGE),
        "/page.html" => respond(200, "text/html; charset=utf-8", PAGE),
        "/long.txt" => respond(200, "text/plain", long_text()),
        "/deep.html" => respond(200, "text/html", deep_page()),
        "/data.json" => respond(200, "application/json", r#"{"ok":true,"items":[1,2]}"#),
        "/image.png" => respond(200, "image/png", &b"\x89PNG\r\n\x1a\n\0\0\0"[..]),
        "/big.txt" => respond(200, "text/plain", vec![b'a'; 6 * 1024 * 1024]),
        "/missing" => respond(404, "text/plain", "not here"),
        "/redirect-ok" => redirect(302, "/page.html"),
        "/see-other" => redirect(303, "/echo"),
        "/loop" => {
            let n: u32 = query.parse().unwrap_or(0);
            redirect(302, &format!("/loop?{}", n + 1))
        }
        "/redirect-localhost" => {
            redirect(302, &format!("http://localhost:{}/page.html", me.port()))
        }
        "/redirect-metadata" => redirect(307, "http://169.254.169.254/latest/meta-data/"),
        "/redirect-private" => redirect(301, "http://10.0.0.1/admin"),
        "/to-other" => redirect(307, &format!("http://{}/echo", other.unwrap_or(me))),
        "/echo" => {
            let method = req.method().to_string();
            let headers: serde_json::Map<String, Value> = req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Value::String(v.to_str().unwrap_or("").to_owned()),
                    )
                })
                .collect();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let echo = json!({
                "method": method,
                "query": query,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            respond(200, "application/json", echo.to_string())
        }
        _ => respond(404, "text/plain", "no route"),
    })
}

/// Starts the server with `args` and connects a client.
async fn connect(via: Via, args: &[&str]) -> (Client, Option<HttpServer>) {
    via.connect(EXAMPLE, args, ()).await
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    tokio::time::timeout(PATIENCE, client.call_tool(tool, args))
        .await
        .expect("an answer in time")
        .expect("a tools/call result")
}

fn text(result: &CallToolResult) -> String {
    assert!(!result.is_error(), "expected success, got {result:?}");
    result.content[0].as_text().unwrap().to_owned()
}

fn error_text(result: &CallToolResult) -> String {
    assert!(result.is_error(), "expected a tool error, got {result:?}");
    result.content[0].as_text().unwrap().to_owned()
}

fn structured(result: &CallToolResult) -> Value {
    assert!(!result.is_error(), "expected success, got {result:?}");
    result
        .structured_content
        .clone()
        .expect("structured content")
}

every_way!(
    lists_the_tools,
    fetch_reads_html_as_markdown_or_raw,
    fetch_pages_long_content,
    fetch_reports_what_it_cannot_read,
    fetch_follows_redirects_within_bounds,
    http_request_sends_method_headers_and_body,
    http_request_refuses_bad_headers,
    internal_addresses_are_refused_without_the_allow_list,
    redirects_to_internal_addresses_are_refused,
    fetch_honours_robots_txt_and_the_prompt_does_not,
    fetch_flattens_hostile_nesting,
);

async fn lists_the_tools(via: Via) {
    let (client, _server) = connect(via, &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["fetch", "http_request", "open_in_browser"]);
    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].name, "fetch");
    assert_eq!(
        prompts[0].arguments.as_ref().unwrap()[0].required,
        Some(true)
    );
    let fetch = &tools[0].input_schema;
    assert_eq!(fetch["required"], json!(["url"]));
    assert_eq!(fetch["properties"]["max_length"]["default"], 5000);
    assert!(fetch["properties"]["start_index"].is_object());
    assert!(fetch["properties"]["raw"].is_object());
    assert_eq!(
        tools[0].annotations.as_ref().unwrap().read_only_hint,
        Some(true)
    );
    assert!(tools[1].output_schema.is_some());
    client.close().await;
}

async fn fetch_reads_html_as_markdown_or_raw(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let url = site.url("/page.html");
    let page = text(&call(&client, "fetch", json!({"url": url})).await);
    let about = site.url("/about");
    assert_eq!(
        page,
        format!(
            "Contents of {url}:\n# Welcome & hello\n\nThis is **important** and [about us]({about}).\n\n- first\n- second"
        )
    );
    let raw = text(&call(&client, "fetch", json!({"url": url, "raw": true})).await);
    assert!(
        raw.starts_with(&format!("Contents of {url}:\n<!DOCTYPE html>")),
        "{raw}"
    );
    assert!(raw.contains("<script>"));
    client.close().await;
}

async fn fetch_pages_long_content(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let url = site.url("/long.txt");
    let full = long_text();

    let first = text(&call(&client, "fetch", json!({"url": url})).await);
    let header = format!(
        "Content type text/plain cannot be simplified to markdown, but here is the raw content:\nContents of {url}:\n"
    );
    let hint = "\n\n<error>Content truncated. Call the fetch tool with a start_index of 5000 to get more content.</error>";
    assert_eq!(first, format!("{header}{}{hint}", &full[..5000]));

    let second = text(
        &call(
            &client,
            "fetch",
            json!({"url": url, "start_index": 5000, "max_length": 6000}),
        )
        .await,
    );
    let hint = "\n\n<error>Content truncated. Call the fetch tool with a start_index of 11000 to get more content.</error>";
    assert_eq!(second, format!("{header}{}{hint}", &full[5000..11000]));

    let last = text(
        &call(
            &client,
            "fetch",
            json!({"url": url, "start_index": 11000, "max_length": 6000}),
        )
        .await,
    );
    assert_eq!(last, format!("{header}{}", &full[11000..]));

    let past = text(&call(&client, "fetch", json!({"url": url, "start_index": 12000})).await);
    assert_eq!(
        past,
        format!("{header}<error>No more content available.</error>")
    );

    let json_doc = text(&call(&client, "fetch", json!({"url": site.url("/data.json")})).await);
    assert!(
        json_doc.starts_with("Content type application/json cannot be simplified"),
        "{json_doc}"
    );
    assert!(
        json_doc.ends_with(r#"{"ok":true,"items":[1,2]}"#),
        "{json_doc}"
    );

    // Bodies past the cap are cut, and the answer says so.
    let big = text(
        &call(
            &client,
            "fetch",
            json!({"url": site.url("/big.txt"), "max_length": 10}),
        )
        .await,
    );
    assert!(
        big.starts_with("Note: the response was larger than 5 MiB"),
        "{big}"
    );
    assert!(big.contains("start_index of 10 "), "{big}");
    client.close().await;
}

async fn fetch_reports_what_it_cannot_read(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let missing = site.url("/missing");
    let message = error_text(&call(&client, "fetch", json!({"url": missing})).await);
    assert_eq!(
        message,
        format!("Failed to fetch {missing} - status code 404")
    );
    let message = error_text(&call(&client, "fetch", json!({"url": site.url("/image.png")})).await);
    assert!(message.contains("is not text (image/png)"), "{message}");
    let message =
        error_text(&call(&client, "fetch", json!({"url": "ftp://example.com/file"})).await);
    assert!(message.contains("only http and https"), "{message}");
    let message = error_text(&call(&client, "fetch", json!({"url": "not a url"})).await);
    assert!(message.contains("not a valid URL"), "{message}");
    for bad in [
        json!({}),
        json!({"url": 7}),
        json!({"url": "http://x", "max_length": 0}),
        json!({"url": "http://x", "max_length": 1_000_000}),
        json!({"url": "http://x", "start_index": -1}),
        json!({"url": "http://x", "raw": "yes"}),
    ] {
        let result = call(&client, "fetch", bad.clone()).await;
        assert!(result.is_error(), "{bad} should be refused: {result:?}");
    }
    assert!(client
        .call_tool("browse", json!({"url": "http://x"}))
        .await
        .is_err());
    client.close().await;
}

async fn fetch_follows_redirects_within_bounds(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let page = text(&call(&client, "fetch", json!({"url": site.url("/redirect-ok")})).await);
    assert!(
        page.starts_with(&format!(
            "Contents of {}:\n# Welcome",
            site.url("/redirect-ok")
        )),
        "{page}"
    );
    let before = site.hits();
    let message = error_text(&call(&client, "fetch", json!({"url": site.url("/loop")})).await);
    assert!(
        message.contains("redirected more than 5 times"),
        "{message}"
    );
    assert_eq!(
        site.hits() - before,
        6,
        "the first request and five redirects"
    );
    client.close().await;
}

async fn http_request_sends_method_headers_and_body(via: Via) {
    let other = Site::start(None).await;
    let site = Site::start(Some(other.addr)).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;

    let result = call(
        &client,
        "http_request",
        json!({"url": site.url("/echo?x=1"), "method": "POST",
               "headers": {"X-Test": "yes"}, "body": {"a": [1, 2]}}),
    )
    .await;
    let out = structured(&result);
    assert_eq!(out["status"], 200);
    assert_eq!(out["truncated"], false);
    assert_eq!(out["headers"]["content-type"], "application/json");
    let echo = &out["body"];
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["body"], r#"{"a":[1,2]}"#);
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(echo["headers"]["x-test"], "yes");
    let agent = echo["headers"]["user-agent"].as_str().unwrap();
    assert!(
        agent.starts_with("mcp-reference-internet/")
            && agent.ends_with("(+https://modelcontextprotocol.io)"),
        "{agent}"
    );

    // A string body with a non-JSON content type goes as it is.
    let out = structured(
        &call(
            &client,
            "http_request",
            json!({"url": site.url("/echo"), "method": "PUT",
                   "headers": {"content-type": "text/plain"}, "body": "plain words"}),
        )
        .await,
    );
    assert_eq!(out["body"]["body"], "plain words");
    assert_eq!(out["body"]["headers"]["content-type"], "text/plain");

    // 303 after a POST: a GET without the body.
    let out = structured(
        &call(
            &client,
            "http_request",
            json!({"url": site.url("/see-other"), "method": "POST", "body": {"x": 1}}),
        )
        .await,
    );
    assert_eq!(out["url"], site.url("/echo"));
    assert_eq!(out["body"]["method"], "GET");
    assert_eq!(out["body"]["body"], "");

    // Credentials do not follow a redirect to another origin.
    let out = structured(
        &call(
            &client,
            "http_request",
            json!({"url": site.url("/to-other"), "headers": {"Authorization": "Bearer secret", "X-Keep": "1"}}),
        )
        .await,
    );
    assert_eq!(out["url"], other.url("/echo"));
    assert!(
        out["body"]["headers"].get("authorization").is_none(),
        "{out}"
    );
    assert_eq!(out["body"]["headers"]["x-keep"], "1");

    // Error statuses are results, not failures; text bodies stay text.
    let out = structured(
        &call(
            &client,
            "http_request",
            json!({"url": site.url("/missing")}),
        )
        .await,
    );
    assert_eq!(out["status"], 404);
    assert_eq!(out["body"], "not here");

    // Long bodies are cut to max_length.
    let out = structured(
        &call(
            &client,
            "http_request",
            json!({"url": site.url("/long.txt"), "max_length": 9}),
        )
        .await,
    );
    assert_eq!(out["body"], "line 0000");
    assert_eq!(out["truncated"], true);

    // HEAD has no body.
    let out = structured(
        &call(
            &client,
            "http_request",
            json!({"url": site.url("/data.json"), "method": "HEAD"}),
        )
        .await,
    );
    assert_eq!(out["body"], Value::Null);
    client.close().await;
}

async fn http_request_refuses_bad_headers(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let url = site.url("/echo");
    let message = error_text(
        &call(
            &client,
            "http_request",
            json!({"url": url, "headers": {"Host": "evil"}}),
        )
        .await,
    );
    assert!(
        message.contains("header Host is set by the HTTP client"),
        "{message}"
    );
    let message = error_text(
        &call(
            &client,
            "http_request",
            json!({"url": url, "headers": {"bad header": "x"}}),
        )
        .await,
    );
    assert!(message.contains("not a valid header name"), "{message}");
    let message = error_text(
        &call(
            &client,
            "http_request",
            json!({"url": url, "headers": {"X-A": "line\nbreak"}}),
        )
        .await,
    );
    assert!(message.contains("not a valid header value"), "{message}");
    for bad in [
        json!({"url": url, "method": "TRACE"}),
        json!({"url": url, "headers": ["X-A: b"]}),
        json!({"url": url, "headers": {"X-A": 1}}),
        json!({"method": "GET"}),
    ] {
        let result = call(&client, "http_request", bad.clone()).await;
        assert!(result.is_error(), "{bad} should be refused: {result:?}");
    }
    assert_eq!(site.hits(), 0, "no refused request reached the site");
    client.close().await;
}

async fn internal_addresses_are_refused_without_the_allow_list(via: Via) {
    let site = Site::start(None).await;
    let port = site.addr.port();
    let (client, _server) = connect(via, &[]).await;
    let cases = [
        (
            format!("http://127.0.0.1:{port}/page.html"),
            "refused to connect to 127.0.0.1: it is a loopback address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "it is a cloud metadata address",
        ),
        (
            format!("http://localhost:{port}/page.html"),
            "refused to connect to localhost: it resolves to",
        ),
        (format!("http://[::1]:{port}/"), "it is a loopback address"),
        (
            format!("http://2130706433:{port}/"),
            "refused to connect to 127.0.0.1",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            "a loopback address",
        ),
        (
            "http://10.0.0.1/".to_owned(),
            "a private address (10.0.0.0/8)",
        ),
        ("http://192.168.1.1/".to_owned(), "a private address"),
        ("http://0.0.0.0/".to_owned(), "the unspecified address"),
        (
            "http://[fd00:ec2::254]/".to_owned(),
            "a cloud metadata address",
        ),
    ];
    for (url, expected) in &cases {
        let message = error_text(&call(&client, "fetch", json!({"url": url})).await);
        assert!(message.contains(expected), "{url}: {message}");
        assert!(message.contains("--allow-host"), "{message}");
        let message = error_text(
            &call(
                &client,
                "http_request",
                json!({"url": url, "method": "POST"}),
            )
            .await,
        );
        assert!(message.contains(expected), "{url}: {message}");
    }
    let message = error_text(
        &call(
            &client,
            "fetch",
            json!({"url": format!("http://localhost:{port}/")}),
        )
        .await,
    );
    assert!(message.contains("a loopback address"), "{message}");
    assert_eq!(site.hits(), 0, "nothing reached the loopback site");
    client.close().await;
}

async fn redirects_to_internal_addresses_are_refused(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let message = error_text(
        &call(
            &client,
            "fetch",
            json!({"url": site.url("/redirect-localhost")}),
        )
        .await,
    );
    assert!(
        message.contains("refused to connect to localhost"),
        "{message}"
    );
    let message = error_text(
        &call(
            &client,
            "fetch",
            json!({"url": site.url("/redirect-metadata")}),
        )
        .await,
    );
    assert!(
        message.contains("refused to connect to 169.254.169.254: it is a cloud metadata address"),
        "{message}"
    );
    let message = error_text(
        &call(
            &client,
            "http_request",
            json!({"url": site.url("/redirect-private"), "method": "DELETE"}),
        )
        .await,
    );
    assert!(
        message.contains("refused to connect to 10.0.0.1"),
        "{message}"
    );
    assert_eq!(site.hits(), 3, "only the allowed first hops were made");
    client.close().await;
}

/// The allow-list can come from the environment too. (A client left to
/// pick its era, as here, speaks the stateless one.)
#[tokio::test]
async fn the_allow_list_comes_from_the_environment() {
    let site = Site::start(None).await;
    let mut command = tokio::process::Command::new(support::example(EXAMPLE));
    command
        .arg("--stdio")
        .env("INTERNET_ALLOW_HOSTS", "example.invalid, 127.0.0.1");
    let transport = ChildProcess::spawn(&mut command).unwrap();
    let client = tokio::time::timeout(PATIENCE, Client::connect(transport))
        .await
        .unwrap()
        .unwrap();
    assert!(client.is_stateless());
    let page = text(&call(&client, "fetch", json!({"url": site.url("/page.html")})).await);
    assert!(page.contains("# Welcome & hello"), "{page}");
    client.close().await;
}

#[tokio::test]
async fn health_answers_with_the_seed_json() {
    let server = http_server(EXAMPLE, &[]).await;
    let health = support::health(&server.base).await;
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["serverId"], "5");
    assert_eq!(health["capabilities"], json!(["internet"]));
}

#[tokio::test]
async fn help_says_how_to_plug_it_in() {
    let help = support::help(EXAMPLE);
    for needle in [
        "fetch",
        "http_request",
        "--allow-host",
        "--ignore-robots-txt",
        "--stdio",
        "mcpServers",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}: {help}");
    }
}

async fn fetch_honours_robots_txt_and_the_prompt_does_not(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let url = site.url("/no-bots/page.html");
    let message = error_text(&call(&client, "fetch", json!({"url": url})).await);
    assert!(
        message.contains("robots.txt") && message.contains("does not allow autonomous fetching"),
        "{message}"
    );
    assert_eq!(site.hits(), 0);
    // Our own group applies, not the `*` one that disallows everything.
    let page = text(&call(&client, "fetch", json!({"url": site.url("/page.html")})).await);
    assert!(page.contains("# Welcome"), "{page}");

    // The prompt is the user's own request: robots.txt is not consulted.
    let prompt = client
        .get_prompt("fetch", [("url", url.as_str())])
        .await
        .unwrap();
    assert_eq!(
        prompt.description.as_deref(),
        Some(format!("Contents of {url}").as_str())
    );
    let body = prompt.messages[0].content.as_text().unwrap();
    assert!(
        body.starts_with(&format!("Contents of {url}:\n# Welcome & hello")),
        "{body}"
    );
    let failed = client
        .get_prompt("fetch", [("url", "http://10.0.0.1/")])
        .await
        .unwrap();
    assert_eq!(
        failed.description.as_deref(),
        Some("Failed to fetch http://10.0.0.1/")
    );
    assert!(failed.messages[0]
        .content
        .as_text()
        .unwrap()
        .contains("a private address"));
    let missing = client
        .get_prompt("fetch", Vec::<(String, String)>::new())
        .await;
    assert!(missing.is_err(), "{missing:?}");
    client.close().await;

    // A robots.txt answering 403 keeps the tool out, unless told to ignore it.
    let closed = Site::start_with(None, 403).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let message =
        error_text(&call(&client, "fetch", json!({"url": closed.url("/page.html")})).await);
    assert!(message.contains("received status 403"), "{message}");
    client.close().await;
    let (client, _server) =
        connect(via, &["--allow-host", "127.0.0.1", "--ignore-robots-txt"]).await;
    let page = text(&call(&client, "fetch", json!({"url": closed.url("/no-bots/x")})).await);
    assert!(page.contains("# Welcome"), "{page}");
    client.close().await;
}

async fn fetch_flattens_hostile_nesting(via: Via) {
    let site = Site::start(None).await;
    let (client, _server) = connect(via, ALLOW_LOOPBACK).await;
    let url = site.url("/deep.html");
    let page = text(&call(&client, "fetch", json!({"url": url})).await);
    assert_eq!(
        page,
        format!(
            "Note: the page nests elements more than 128 levels deep; 29875 deeper elements \
             were flattened into their ancestors (their text is kept).\n\
             Contents of {url}:\ndeep é\n\nafter"
        )
    );
    client.close().await;
}
