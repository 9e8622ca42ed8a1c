//! The host's web UI (`client web`) as a browser would use it: the real
//! `client` binary serving on a free loopback port, connected to real
//! reference servers, driven over HTTP with its live events read from
//! `GET /api/events`. The browser test (`tests/browser/ui.mjs`, run by
//! `tests/browser.rs`) drives the page itself.

mod support;

use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use support::{example, http_server, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `client ARGS web --listen 127.0.0.1:0`, running, and its address.
struct Ui {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Ui {
    /// Starts the UI with the client's global flags `args`, and no model
    /// (the offline assistant).
    async fn start(args: &[&str]) -> Ui {
        Ui::start_with_model(args, None).await
    }

    /// Starts the UI with the OpenAI-compatible API at `llm_url`.
    async fn start_with_model(args: &[&str], llm_url: Option<&str>) -> Ui {
        Ui::start_with(args, &[], llm_url).await
    }

    /// Starts the UI with the client's global flags `args`, `web`'s own
    /// flags `web_args`, and the model at `llm_url`.
    async fn start_with(args: &[&str], web_args: &[&str], llm_url: Option<&str>) -> Ui {
        let mut command = Command::new(example("client"));
        command
            .args(args)
            .args(["web", "--listen", "127.0.0.1:0"])
            .args(web_args)
            .env_remove("LLM_API_URL")
            .env_remove("LLM_API_KEY")
            .env_remove("LLM_PROVIDER")
            .env_remove("ANTHROPIC_API_KEY");
        if let Some(url) = llm_url {
            command.env("LLM_API_URL", url).env("LLM_MODEL", "fake");
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the client starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(at) = line.strip_prefix("client: serving the web UI at ") {
                    return at.trim_end_matches('/').to_owned();
                }
            }
            panic!("the client ended without serving the UI");
        })
        .await
        .expect("the UI serves in time");
        // Keep draining stderr so the child never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ui {
            child,
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        post(&self.http, &format!("{}{path}", self.base), body).await
    }

    /// Posts in a task of its own, for a request that waits on the page
    /// (a dialog) before it can be answered.
    fn post_in_background(&self, path: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
        let (http, url) = (self.http.clone(), format!("{}{path}", self.base));
        tokio::spawn(async move { post(&http, &url, body).await })
    }

    /// Waits until the state's connection status is `status`; gives the
    /// state.
    async fn wait_status(&self, status: &str) -> Value {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let (_, state) = self.get("/api/state").await;
                if state["connection"]["status"] == status {
                    return state;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the connection did not become {status}"))
    }

    /// The page's live events.
    async fn events(&self) -> Events {
        let response = self
            .http
            .get(format!("{}/api/events", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "events are SSE"
        );
        Events {
            response,
            buffer: String::new(),
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

/// An open `GET /api/events` stream.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// How many events named `name` arrive within `window`.
    async fn count(&mut self, name: &str, window: Duration) -> usize {
        let mut seen = 0;
        let deadline = tokio::time::Instant::now() + window;
        while tokio::time::timeout_at(deadline, self.next(name))
            .await
            .is_ok()
        {
            seen += 1;
        }
        seen
    }

    /// The next event named `name` (others are skipped), as JSON.
    async fn next(&mut self, name: &str) -> Value {
        tokio::time::timeout(PATIENCE, async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let event: String = self.buffer.drain(..end + 2).collect();
                    let mut event_name = None;
                    let mut data = None;
                    for line in event.lines() {
                        if let Some(n) = line.strip_prefix("event: ") {
                            event_name = Some(n.to_owned());
                        } else if let Some(d) = line.strip_prefix("data: ") {
                            data = Some(d.to_owned());
                        }
                    }
                    if event_name.as_deref() == Some(name) {
                        return serde_json::from_str(&data.unwrap()).unwrap();
                    }
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream goes on");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {name} event in time"))
    }
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_page_its_api_and_its_guards() {
    let tools = http_server("tools_server", &[]).await;
    let ui = Ui::start(&["--url", &tools.url]).await;
    let state = ui.wait_status("connected").await;
    assert_eq!(state["connection"]["server"]["name"], "mcp-reference-tools");
    assert_eq!(state["model"]["offline"], true, "no LLM is configured");

    // The page and its assets come from the binary.
    let page = reqwest::get(format!("{}/", ui.base)).await.unwrap();
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("app.js") && html.contains("style.css"),
        "{html}"
    );
    for asset in ["/app.js", "/style.css"] {
        let response = reqwest::get(format!("{}{asset}", ui.base)).await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.text().await.unwrap().len() > 100,
            "{asset} is real"
        );
    }

    let (status, listed) = ui.get("/api/tools").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"add"), "{names:?}");

    let (status, called) = ui
        .post(
            "/api/tools/call",
            json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(status, 200, "{called}");
    assert_eq!(called["result"]["structuredContent"]["result"], 5);

    // A tool's own failure is a result; a call the server refuses is an
    // error with the server's words.
    let (status, failed) = ui
        .post(
            "/api/tools/call",
            json!({"name": "divide", "arguments": {"a": 1, "b": 0}}),
        )
        .await;
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["result"]["isError"], true);
    let (status, unknown) = ui
        .post("/api/tools/call", json!({"name": "nope", "arguments": {}}))
        .await;
    assert_eq!(status, 400, "{unknown}");
    assert!(
        unknown["error"].as_str().unwrap().contains("nope"),
        "{unknown}"
    );

    let (status, chat) = ui
        .post("/api/chat", json!({"message": "add 2 and 3"}))
        .await;
    assert_eq!(status, 200, "{chat}");
    assert!(chat["answer"].as_str().unwrap().contains('5'), "{chat}");
    assert_eq!(chat["toolRuns"][0]["name"], "add");
    let (status, empty) = ui.post("/api/chat", json!({"message": "  "})).await;
    assert_eq!(status, 400, "{empty}");

    // Bad requests, each with its status and a message.
    let raw = |builder: reqwest::RequestBuilder| async move {
        let response = builder.send().await.unwrap();
        answer(response).await
    };
    let url = |path: &str| format!("{}{path}", ui.base);
    for (what, request, status) in [
        (
            "a foreign Origin",
            ui.http
                .post(url("/api/tools/call"))
                .header("origin", "http://evil.example")
                .header("content-type", "application/json")
                .body(r#"{"name":"add","arguments":{"a":1,"b":1}}"#),
            403,
        ),
        (
            "a foreign Host (DNS rebinding)",
            ui.http
                .get(url("/api/state"))
                .header("host", "evil.example"),
            403,
        ),
        (
            "a form post",
            ui.http
                .post(url("/api/chat"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("message=hi"),
            415,
        ),
        (
            "JSON that is not the body expected",
            ui.http
                .post(url("/api/tools/call"))
                .header("content-type", "application/json")
                .body(r#"{"arguments": 7}"#),
            400,
        ),
        (
            "a body too large",
            ui.http
                .post(url("/api/chat"))
                .header("content-type", "application/json")
                .body(format!(r#"{{"message":"{}"}}"#, "x".repeat(2 << 20))),
            413,
        ),
        (
            "an action without a JSON content type",
            ui.http.post(url("/api/chat/reset")),
            415,
        ),
        ("a GET of an action", ui.http.get(url("/api/chat")), 405),
        ("an unknown path", ui.http.get(url("/nothing")), 404),
        (
            "an approval nobody asked for",
            ui.http
                .post(url("/api/approvals/a99"))
                .header("content-type", "application/json")
                .body(r#"{"approve":true}"#),
            404,
        ),
    ] {
        let (got, body) = raw(request).await;
        assert_eq!(got, status, "{what}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.len() > 10),
            "{what}: {body}"
        );
    }
}

/// No other site may frame the page or its answers, or it could overlay
/// the approval dialogs (issue 17, #9: clickjacking).
#[tokio::test]
async fn no_other_site_may_frame_the_page() {
    use mcp_reference::host::web::http::{CONTENT_SECURITY_POLICY, FRAME_OPTIONS};
    assert_eq!(FRAME_OPTIONS, "DENY");
    assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    let tools = http_server("tools_server", &[]).await;
    let ui = Ui::start(&["--url", &tools.url]).await;
    ui.wait_status("connected").await;
    let http = reqwest::Client::new();
    for (path, origin) in [
        ("/", None),
        ("/index.html", None),
        ("/app.js", None),
        ("/style.css", None),
        ("/api/state", None),
        ("/no-such-page", None),
        ("/api/state", Some("http://evil.example")),
    ] {
        let mut request = http.get(format!("{}{path}", ui.base));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers();
        assert_eq!(
            headers.get("x-frame-options").map(|v| v.to_str().unwrap()),
            Some("DENY"),
            "{path} {origin:?}: {headers:?}"
        );
        let csp = headers
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp:?}");
    }
}

#[tokio::test]
async fn sampling_waits_for_the_person_at_the_page() {
    let sampling = http_server("sampling_server", &[]).await;
    let ui = Ui::start(&["--url", &sampling.url]).await;
    ui.wait_status("connected").await;
    let mut events = ui.events().await;
    let first = events.next("state").await;
    assert_eq!(first["connection"]["status"], "connected");

    for approve in [true, false] {
        let text = "The cat sat on the mat. It was warm.";
        let call = ui.post_in_background(
            "/api/tools/call",
            json!({"name": "summarize", "arguments": {"text": text}}),
        );
        let asked = events.next("approval").await;
        let id = asked["id"].as_str().unwrap().to_owned();
        assert!(
            asked["params"]["messages"]
                .to_string()
                .contains("The cat sat"),
            "{asked}"
        );
        let (_, pending) = ui.get("/api/pending").await;
        assert_eq!(pending["approvals"][0]["id"], id.as_str());
        let (status, body) = ui
            .post(&format!("/api/approvals/{id}"), json!({"approve": approve}))
            .await;
        assert_eq!(status, 200, "{body}");
        let closed = events.next("dialogClosed").await;
        assert_eq!(closed["id"], id.as_str());
        assert_eq!(
            closed["outcome"],
            if approve { "approved" } else { "declined" }
        );
        let (status, result) = call.await.unwrap();
        if approve {
            assert_eq!(status, 200, "{result}");
            assert_ne!(result["result"]["isError"], true, "{result}");
            assert!(text_of(&result["result"]).contains("offline"), "{result}");
        } else {
            // The server hears the refusal and says so.
            let said = result.to_string();
            assert!(said.contains("declined"), "{said}");
        }
        // Answered once: a second answer finds nothing waiting.
        let (status, _) = ui
            .post(&format!("/api/approvals/{id}"), json!({"approve": true}))
            .await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn an_elicitation_form_is_checked_before_it_goes_back() {
    let server = format!("{} --stdio", example("conformance_server").display());
    let ui = Ui::start(&["--stdio", &server]).await;
    ui.wait_status("connected").await;
    let mut events = ui.events().await;
    let call = ui.post_in_background(
        "/api/tools/call",
        json!({"name": "test_elicitation", "arguments": {"message": "Who are you?"}}),
    );
    let asked = events.next("elicitation").await;
    let id = asked["id"].as_str().unwrap().to_owned();
    assert_eq!(asked["params"]["message"], "Who are you?");
    let path = format!("/api/elicitations/{id}");
    let (status, body) = ui
        .post(
            &path,
            json!({"action": "accept", "content": {"username": "ada"}}),
        )
        .await;
    assert_eq!(status, 400, "a required field is missing: {body}");
    assert!(body["error"].as_str().unwrap().contains("email"), "{body}");
    let (status, body) = ui.post(&path, json!({"action": "maybe"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = ui
        .post(
            &path,
            json!({"action": "accept", "content": {"username": "ada", "email": "ada@example.com"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, result) = call.await.unwrap();
    assert_eq!(status, 200, "{result}");
    let text = text_of(&result["result"]);
    assert!(
        text.contains("accept") && text.contains("ada@example.com"),
        "{text}"
    );
}

/// Subscribed resources are followed live, in either era.
#[tokio::test]
async fn resource_updates_reach_the_page_in_both_eras() {
    let dir = support::TempDir::new("web-resources");
    let resources = http_server("resources_server", &["--dir", dir.0.to_str().unwrap()]).await;
    for era in ["session", "stateless"] {
        let ui = Ui::start(&["--url", &resources.url, "--era", era]).await;
        let state = ui.wait_status("connected").await;
        assert_eq!(state["connection"]["era"], era);
        let uri = format!("notes://web-{era}");
        let write = |text: &str| {
            ui.post(
                "/api/tools/call",
                json!({"name": "write_note", "arguments": {"name": format!("web-{era}"), "text": text}}),
            )
        };
        let (status, body) = write("first").await;
        assert_eq!(status, 200, "{body}");
        let mut events = ui.events().await;
        let (status, body) = ui
            .post("/api/resources/subscribe", json!({"uri": uri}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["subscriptions"], json!([uri]));
        // The stateless era's stream may take a moment to be acknowledged;
        // write until the update arrives.
        let updated = tokio::time::timeout(PATIENCE, async {
            loop {
                write("second").await;
                let next =
                    tokio::time::timeout(Duration::from_secs(2), events.next("resourceUpdated"));
                if let Ok(event) = next.await {
                    return event;
                }
            }
        })
        .await
        .expect("an update in time");
        assert_eq!(updated["uri"], uri.as_str());
        // One change, one event (a stateless stream's notification also
        // reaches the handler: it must not be published twice).
        assert_eq!(
            events
                .count("resourceUpdated", Duration::from_millis(500))
                .await,
            0,
            "{era}: a second event for the same change"
        );
        let (status, read) = ui.post("/api/resources/read", json!({"uri": uri})).await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["result"]["contents"][0]["text"], "second");
        let (status, body) = ui
            .post("/api/resources/unsubscribe", json!({"uri": uri}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["subscriptions"], json!([]));
    }
}

/// A server that goes away: the page says so and requests fail clearly;
/// when it is back, the UI reconnects by itself.
#[tokio::test]
async fn a_server_that_goes_away_is_reported_and_reconnected() {
    let mut tools = http_server("tools_server", &[]).await;
    let addr = tools.base.trim_start_matches("http://").to_owned();
    let ui = Ui::start(&["--url", &tools.url]).await;
    ui.wait_status("connected").await;
    tools.child.kill().await.unwrap();
    tools.child.wait().await.unwrap();

    // The next request finds it gone (stateless HTTP has no standing
    // connection to notice it sooner).
    let (status, body) = ui
        .post(
            "/api/tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 1}}),
        )
        .await;
    assert!(status == 503 || status == 502, "{status} {body}");
    let state = ui.wait_status("disconnected").await;
    assert!(
        state["connection"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{state}"
    );
    let (status, body) = ui
        .post("/api/chat", json!({"message": "add 1 and 1"}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not connected"),
        "{body}"
    );

    // Back on the same address: the backoff brings the UI back.
    let _again = Command::new(example("tools_server"))
        .args(["--http", &addr])
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    ui.wait_status("connected").await;
    let (status, body) = ui
        .post(
            "/api/tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    drop(ui.child);
}

/// A model API that refuses every request (a wrong key): the chat answers
/// 502 with the API's own words, and the next turn works the same way
/// (nothing stuck).
#[tokio::test]
async fn a_failing_model_is_reported_in_the_chat() {
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/v1", api.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = api.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                // Read the request head and body, whatever they are.
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = tokio::time::timeout(Duration::from_millis(200), async {
                    while socket.read(&mut buffer).await.unwrap_or(0) > 0 {}
                })
                .await;
                let body = r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#;
                let response = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    let tools = http_server("tools_server", &[]).await;
    let ui = Ui::start_with_model(&["--url", &tools.url], Some(&api_url)).await;
    let state = ui.wait_status("connected").await;
    assert_eq!(state["model"]["offline"], false, "{state}");
    for _ in 0..2 {
        let (status, body) = ui
            .post("/api/chat", json!({"message": "add 2 and 3"}))
            .await;
        assert_eq!(status, 502, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("Incorrect API key") && error.contains("401"),
            "{error}"
        );
    }
}

#[test]
fn the_page_refuses_to_listen_beyond_loopback() {
    let out = std::process::Command::new(example("client"))
        .args([
            "--url",
            "http://127.0.0.1:9/mcp",
            "web",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
}

/// Prompts: listed, completed as the person types, and got with text
/// arguments (anything else is refused before the server is asked).
#[tokio::test]
async fn prompts_complete_and_render() {
    let prompts = http_server("prompts_server", &[]).await;
    let ui = Ui::start(&["--url", &prompts.url]).await;
    ui.wait_status("connected").await;
    let (status, listed) = ui.get("/api/prompts").await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "code_review"),
        "{listed}"
    );
    let (status, completed) = ui
        .post(
            "/api/complete",
            json!({"ref": {"type": "ref/prompt", "name": "code_review"},
                   "argument": {"name": "focus", "value": "sec"}}),
        )
        .await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["completion"]["values"], json!(["security"]));
    let (status, got) = ui
        .post(
            "/api/prompts/get",
            json!({"name": "code_review", "arguments": {"code": "fn main() {}", "language": "Rust"}}),
        )
        .await;
    assert_eq!(status, 200, "{got}");
    assert!(got["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap()
        .contains("Rust code"));
    let (status, refused) = ui
        .post(
            "/api/prompts/get",
            json!({"name": "code_review", "arguments": {"code": 7}}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("text"),
        "{refused}"
    );
    // The prompts server has no resources: an empty list, not an error.
    let (status, resources) = ui.get("/api/resources").await;
    assert_eq!(status, 200, "{resources}");
}

/// The host as an inspector: the History pane's messages (a tool call's
/// request and answer, raw, with their method and direction, and no
/// token), ping, and connecting to another server from the page, by URL
/// in the stateless era and by command in the session era, with a clear
/// error for each bad target.
#[tokio::test]
async fn history_ping_and_connecting_to_another_server() {
    let tools = http_server("tools_server", &[]).await;
    let prompts = http_server("prompts_server", &[]).await;
    let ui = Ui::start(&["--url", &tools.url]).await;
    ui.wait_status("connected").await;

    let (status, called) = ui
        .post(
            "/api/tools/call",
            json!({"name": "add", "arguments": {"a": 20, "b": 22}}),
        )
        .await;
    assert_eq!(status, 200, "{called}");
    let (status, history) = ui.get("/api/history").await;
    assert_eq!(status, 200, "{history}");
    assert!(history["capacity"].as_u64().unwrap() >= 100, "{history}");
    let entries = history["entries"].as_array().unwrap();
    let call = |direction: &str, kind: &str| {
        entries
            .iter()
            .rev()
            .find(|e| {
                e["direction"] == direction && e["kind"] == kind && e["method"] == "tools/call"
            })
            .unwrap_or_else(|| panic!("no {direction} {kind} of tools/call in {history}"))
    };
    let request: Value =
        serde_json::from_str(call("sent", "request")["raw"].as_str().unwrap()).unwrap();
    assert_eq!(request["params"]["arguments"], json!({"a": 20, "b": 22}));
    let answer: Value =
        serde_json::from_str(call("received", "response")["raw"].as_str().unwrap()).unwrap();
    assert_eq!(answer["id"], request["id"]);
    assert_eq!(answer["result"]["structuredContent"]["result"], 42);
    assert!(call("sent", "request")["time"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );
    assert!(!history.to_string().to_lowercase().contains("authorization"));

    let (status, ping) = ui.post("/api/ping", json!({})).await;
    assert_eq!(status, 200, "{ping}");
    assert!(ping["ms"].as_f64().unwrap() >= 0.0, "{ping}");
    // Ping is `server/discover` in the stateless era (which this is).
    let (_, history) = ui.get("/api/history").await;
    let last = history["entries"].as_array().unwrap().last().unwrap();
    assert_eq!(last["kind"], "response", "{last}");
    assert_eq!(last["method"], "server/discover", "{last}");

    // Another server by URL, in the stateless era: the lists are its own.
    let (status, state) = ui
        .post(
            "/api/connect",
            json!({"url": prompts.url, "era": "stateless"}),
        )
        .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["connection"]["status"], "connected", "{state}");
    assert_eq!(state["connection"]["era"], "stateless", "{state}");
    assert_eq!(state["connection"]["target"], prompts.url);
    let (status, listed) = ui.get("/api/prompts").await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        !listed["prompts"].as_array().unwrap().is_empty(),
        "{listed}"
    );

    // Bad targets: each a clear error, and the page stays usable.
    let missing = "/nonexistent/mcp-server --stdio";
    for (body, want, words) in [
        (json!({"url": "ftp://example.com/mcp"}), 400, "http://"),
        (json!({"url": tools.url, "command": "x"}), 400, "either"),
        (json!({"url": tools.url, "era": "medieval"}), 400, "era"),
        (
            json!({"command": "tools_server 'unclosed"}),
            400,
            "unclosed",
        ),
        (json!({"command": missing}), 502, "/nonexistent/mcp-server"),
        (json!({"url": "http://127.0.0.1:9/mcp"}), 502, "127.0.0.1:9"),
    ] {
        let (status, error) = ui.post("/api/connect", body.clone()).await;
        assert_eq!(status, want, "{body}: {error}");
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{body}: {message}");
    }

    // A command in the session era.
    let command = format!("{} --stdio", example("tools_server").display());
    let (status, state) = ui
        .post(
            "/api/connect",
            json!({"command": command, "era": "session"}),
        )
        .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["connection"]["era"], "session", "{state}");
    assert_eq!(state["connection"]["server"]["name"], "mcp-reference-tools");
    let (status, called) = ui
        .post(
            "/api/tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(status, 200, "{called}");
    assert_eq!(called["result"]["structuredContent"]["result"], 3);
    let (_, history) = ui.get("/api/history").await;
    let last = history["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["server"].as_str().unwrap().contains("tools_server"),
        "{last}"
    );
}

/// A UI that listens beyond loopback (`--any-address`, in a container)
/// connects by URL from the page but never runs a command.
#[tokio::test]
async fn a_ui_listening_beyond_loopback_runs_no_command() {
    let tools = http_server("tools_server", &[]).await;
    let ui = Ui::start_with(&["--url", &tools.url], &["--any-address"], None).await;
    let state = ui.wait_status("connected").await;
    assert_eq!(state["allowCommands"], false, "{state}");
    let command = format!("{} --stdio", example("tools_server").display());
    let (status, refused) = ui.post("/api/connect", json!({ "command": command })).await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("--any-address"),
        "{refused}"
    );
    let (status, state) = ui.post("/api/connect", json!({ "url": tools.url })).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["connection"]["status"], "connected");
}
