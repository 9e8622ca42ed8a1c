//! The Router's ergonomics, through a real client in process: state in
//! handlers, merging and nesting, registration mistakes, guards, hooks,
//! typed prompt arguments and template variables, completions per prompt
//! and template, listed resources paged by URI, and subscriptions.

use mcp_sdk::{
    CallToolResult, ClientCapabilities, CompleteParams, CompleteResult, CompletionReference, Error,
    ErrorCode, GetPromptResult, ListRootsResult, Prompt, PromptMessage, ReadResourceResult,
    Resource, ResourceTemplate, ResourceUpdatedNotificationParams, Root, RootsCapability, Tool,
};
use mcp_sdk_client::testing::{self, ERAS};
use mcp_sdk_client::{async_trait, ClientError, ClientHandler, Era};
use mcp_sdk_server::router::{Call, CallKind, Refusal, Route, State};
use mcp_sdk_server::{
    NoArguments, Peer, PromptArguments, RequestContext, ResourceRequest, Router, Server,
    SessionConfig,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn text(result: &CallToolResult) -> String {
    match result.content.first().map(serde_json::to_value) {
        Some(Ok(v)) => v["text"].as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

fn server_error(e: ClientError) -> Error {
    match e {
        ClientError::Server(e) => e,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[derive(Default)]
struct Counter {
    calls: AtomicUsize,
}

#[derive(Deserialize, JsonSchema)]
struct Add {
    n: usize,
}

#[tokio::test]
async fn handlers_take_the_state_without_cloning_it_themselves() {
    let counter = Arc::new(Counter::default());
    let router = Router::new()
        .with_state(counter.clone())
        .tool(
            Tool::named("add", "Adds to the counter"),
            |State(c): State<Arc<Counter>>, a: Add| async move {
                (c.calls.fetch_add(a.n, Ordering::SeqCst) + a.n).to_string()
            },
        )
        .tool(
            Tool::named("read", "Reads the counter"),
            |State(c): State<Arc<Counter>>, _: NoArguments, ctx: RequestContext| async move {
                format!("{} {}", c.calls.load(Ordering::SeqCst), ctx.request_id())
            },
        );
    testing::in_each_era(router, |client, era| async move {
        let r = client.call_tool("add", json!({"n": 2})).await.unwrap();
        assert!(["2", "4"].contains(&text(&r).as_str()), "{era:?}");
        let r = client.call_tool("read", json!({})).await.unwrap();
        assert!(text(&r).starts_with(['2', '4']), "{era:?} {}", text(&r));
    })
    .await
    .unwrap();
    // Both eras counted in the one state.
    assert_eq!(counter.calls.load(Ordering::SeqCst), 4);
}

/// Refuses calls whose name starts with `secret`.
fn no_secrets(call: &Call<'_>, _: &RequestContext) -> Result<(), Refusal> {
    if call.name().starts_with("secret") {
        return Err(Refusal::message(format!("{} is secret", call.name())));
    }
    Ok(())
}

#[tokio::test]
async fn merged_and_nested_routers_keep_their_state_and_their_guards() {
    let names = Router::new()
        .with_state("names".to_owned())
        .tool(
            Tool::named("whoami", "Names the state"),
            |State(s): State<String>, _: NoArguments| async move { s },
        )
        .tool(
            Tool::named("secret_name", "Guarded by its own router"),
            |_: NoArguments| async { "leaked" },
        )
        .guard(no_secrets);
    let numbers = Router::new().with_state(7u32).tool(
        Tool::named("seven", "Gives the state"),
        |State(n): State<u32>, _: NoArguments| async move { n.to_string() },
    );
    let router = Router::new()
        .tool(
            Tool::named("secret_own", "Not guarded by the merged router's guard"),
            |_: NoArguments| async { "own" },
        )
        .merge(names)
        .nest("num_", numbers);
    assert!(router.check().is_ok(), "{:?}", router.check());
    let listed: Vec<String> = router
        .tools()
        .definitions()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(listed, ["secret_own", "whoami", "secret_name", "num_seven"]);

    testing::in_each_era(router, |client, era| async move {
        let r = client.call_tool("whoami", json!({})).await.unwrap();
        assert_eq!(text(&r), "names", "{era:?}");
        let r = client.call_tool("num_seven", json!({})).await.unwrap();
        assert_eq!(text(&r), "7", "{era:?}");
        // The nested name is the only one.
        let e = client.call_tool("seven", json!({})).await.unwrap_err();
        assert_eq!(server_error(e).code, ErrorCode::INVALID_PARAMS);
        // The merged router's guard covers its own routes only.
        let r = client.call_tool("secret_name", json!({})).await.unwrap();
        assert_eq!(r.is_error, Some(true));
        assert_eq!(text(&r), "secret_name is secret");
        let r = client.call_tool("secret_own", json!({})).await.unwrap();
        assert_eq!(text(&r), "own");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_router_wide_guard_covers_merged_routes_and_unknown_names() {
    let other = Router::new().tool(Tool::named("secret_b", "B"), |_: NoArguments| async { "b" });
    let router = Router::new()
        .tool(Tool::named("open", "Open"), |_: NoArguments| async {
            "open"
        })
        .guard(no_secrets)
        .merge(other)
        .guard(|call, _| {
            if call.kind() == CallKind::Tool && call.name() == "switched_off" {
                return Err(Refusal::Error(Error::invalid_params(
                    "switched_off is switched off on this server",
                )));
            }
            Ok(())
        })
        .tool(
            Route::new(Tool::named("admin", "Admins only")).guard(|_call, ctx| {
                match ctx.extensions().get::<&'static str>() {
                    Some(&"admin") => Ok(()),
                    _ => Err(Refusal::message("admin is for administrators")),
                }
            }),
            |_: NoArguments| async { "done" },
        );
    let client = testing::connect(router, Era::SessionOnly).await.unwrap();
    let r = client.call_tool("secret_b", json!({})).await.unwrap();
    assert_eq!(text(&r), "secret_b is secret");
    // A guard sees names no route has: it answers before the lookup.
    let e = client
        .call_tool("switched_off", json!({}))
        .await
        .unwrap_err();
    let e = server_error(e);
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(e.message.contains("switched off"), "{}", e.message);
    let r = client.call_tool("admin", json!({})).await.unwrap();
    assert_eq!(text(&r), "admin is for administrators");
    assert_eq!(
        text(&client.call_tool("open", json!({})).await.unwrap()),
        "open"
    );
}

#[tokio::test]
async fn registration_mistakes_are_listed_and_stop_the_server_before_it_serves() {
    let router = Router::new()
        .tool(Tool::named("twice", "One"), |_: NoArguments| async { "1" })
        .tool(Tool::named("twice", "Two"), |_: NoArguments| async { "2" })
        .tool(
            Tool::named("has space", "Bad name"),
            |_: NoArguments| async { "" },
        )
        .tool(Tool::named("", "Empty name"), |_: NoArguments| async { "" })
        .tool(
            Tool::named("x".repeat(129), "Too long"),
            |_: NoArguments| async { "" },
        )
        .tool(
            Tool::named("not_an_object", "Takes a string"),
            |s: String| async move { s },
        )
        .resource_template(
            ResourceTemplate::new("bad://{", "bad"),
            |_: ResourceRequest| async { Err::<ReadResourceResult, _>(Error::internal("never")) },
        )
        .prompt_completion("no_such_prompt", |_: CompleteParams| async {
            Vec::<String>::new()
        })
        .merge(
            Router::new().tool(Tool::named("twice", "Three"), |_: NoArguments| async {
                "3"
            }),
        );
    let problems = router.check().unwrap_err().problems().to_vec();
    let all = problems.join("\n");
    assert_eq!(problems.len(), 8, "{all}");
    for needle in [
        "two tools are registered as \"twice\"",
        "\"has space\" is not a valid tool name",
        "\"\" is not a valid tool name",
        "1 to 128 characters",
        "not_an_object",
        "invalid URI template \"bad://{\"",
        "prompt \"no_such_prompt\", which is not registered",
    ] {
        assert!(all.contains(needle), "{needle} not in:\n{all}");
    }
    // The first registration of a duplicate stays; nothing is replaced.
    assert_eq!(
        router.tools().get("twice").unwrap().description.as_deref(),
        Some("One")
    );

    // The transports refuse to start, with every mistake in the error.
    let (_client_end, server_end) = tokio::io::duplex(1024);
    let (read, write) = tokio::io::split(server_end);
    let e = mcp_sdk_server::stdio::serve_io(router.clone(), SessionConfig::default(), read, write)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("has space"), "{e}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = mcp_sdk_server::http::StreamableHttpService::new(
        router.clone(),
        mcp_sdk_server::http::HttpConfig::default(),
    );
    let e = mcp_sdk_server::http::serve_with_shutdown(listener, "/mcp", service, async {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = testing::connect(router.clone(), Era::SessionOnly)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Closed(m) if m.contains("twice")),
        "{e}"
    );

    // Called anyway, every request says what is wrong.
    let e = router
        .list_tools(Default::default(), RequestContext::builder().build())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::INTERNAL_ERROR);
    assert!(
        e.message.contains("misconfigured") && e.message.contains("twice"),
        "{}",
        e.message
    );
}

#[test]
fn tool_names_follow_the_spec() {
    for good in [
        "a",
        "getUser",
        "DATA_EXPORT_v2",
        "admin.tools.list",
        "a-b",
        &"x".repeat(128),
    ] {
        assert!(mcp_sdk_server::router::is_valid_tool_name(good), "{good}");
    }
    for bad in ["", "a b", "a/b", "a,b", "é", "a\n", &"x".repeat(129)] {
        assert!(!mcp_sdk_server::router::is_valid_tool_name(bad), "{bad:?}");
    }
}

/// Records what the hooks heard.
#[derive(Default)]
struct Heard(Mutex<Vec<String>>);

impl Heard {
    fn push(&self, what: &str) {
        self.0.lock().unwrap().push(what.to_owned());
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct WithRoots;

#[async_trait]
impl ClientHandler for WithRoots {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default().with_roots(RootsCapability::default().with_list_changed(true))
    }
    async fn list_roots(
        &self,
        _: mcp_sdk_client::RequestContext,
    ) -> Result<ListRootsResult, Error> {
        Ok(ListRootsResult::new(vec![Root::new("file:///tmp")]))
    }
}

async fn until(heard: &Heard, what: &str) {
    timeout(LIMIT, async {
        while !heard.all().iter().any(|h| h == what) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} not heard: {:?}", heard.all()));
}

#[tokio::test]
async fn hooks_hear_sessions_open_change_their_roots_and_close() {
    let heard = Arc::new(Heard::default());
    let router = Router::new()
        .with_state(heard.clone())
        .tool(Tool::named("t", "T"), |_: NoArguments| async { "t" })
        .on_initialized(
            |State(h): State<Arc<Heard>>, _peer: Peer| async move { h.push("initialized") },
        )
        .on_roots_list_changed(|State(h): State<Arc<Heard>>, _peer: Peer| async move {
            h.push("roots changed")
        })
        .on_session_closed(|State(h): State<Arc<Heard>>, peer: Peer| async move {
            assert!(peer.is_closed());
            h.push("closed")
        });
    let client = testing::in_process()
        .handler(WithRoots)
        .connect(router, Era::SessionOnly)
        .await
        .unwrap();
    until(&heard, "initialized").await;
    client.notify_roots_list_changed().await.unwrap();
    until(&heard, "roots changed").await;
    client.close().await;
    until(&heard, "closed").await;
    assert_eq!(heard.all(), ["initialized", "roots changed", "closed"]);
}

/// Typed prompt arguments.
#[derive(Deserialize, JsonSchema)]
struct ReviewArgs {
    /// The code to review.
    code: String,
    /// How strict to be.
    strictness: Option<Strictness>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(rename_all = "lowercase")]
enum Strictness {
    Gentle,
    Harsh,
}

#[derive(Deserialize, JsonSchema)]
struct NotStrings {
    #[allow(dead_code)]
    count: u32,
}

#[tokio::test]
async fn prompt_arguments_come_from_a_struct_and_are_checked() {
    let router = Router::new()
        .prompt(
            Prompt::new("review", "Reviews code"),
            |args: ReviewArgs| async move {
                GetPromptResult::new(vec![PromptMessage::user_text(format!(
                    "{:?}: {}",
                    args.strictness, args.code
                ))])
            },
        )
        .prompt(
            Prompt::new("raw", "Any arguments"),
            |args: PromptArguments| async move {
                GetPromptResult::new(vec![PromptMessage::user_text(format!("{}", args.len()))])
            },
        );
    let prompt = &router
        .list_prompts(Default::default(), RequestContext::builder().build())
        .await
        .unwrap()
        .prompts[0];
    let args = prompt.arguments.as_ref().unwrap();
    assert_eq!(args.len(), 2);
    assert_eq!(args[0].name, "code");
    assert_eq!(args[0].required, Some(true));
    assert_eq!(args[0].description.as_deref(), Some("The code to review."));
    assert_eq!(args[1].name, "strictness");
    assert_eq!(args[1].required, None);

    testing::in_each_era(router, |client, era| async move {
        let got = client
            .get_prompt("review", [("code", "x = 1"), ("strictness", "harsh")])
            .await
            .unwrap();
        let text = serde_json::to_value(&got.messages[0].content).unwrap()["text"].clone();
        assert_eq!(text, "Some(Harsh): x = 1", "{era:?}");
        // A missing required argument, and a value the enum does not have.
        let e = server_error(
            client
                .get_prompt("review", [("strictness", "harsh")])
                .await
                .unwrap_err(),
        );
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
        assert!(e.message.contains("code"), "{}", e.message);
        let e = server_error(
            client
                .get_prompt("review", [("code", "x"), ("strictness", "rude")])
                .await
                .unwrap_err(),
        );
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
        assert!(e.message.contains("rude"), "{}", e.message);
        assert!(client.get_prompt("raw", [("a", "1")]).await.is_ok());
    })
    .await
    .unwrap();

    let bad = Router::new().prompt(Prompt::new("count", "Counts"), |_: NotStrings| async {
        GetPromptResult::new(vec![])
    });
    let e = bad.check().unwrap_err().to_string();
    assert!(e.contains("\"count\" is not a string"), "{e}");
}

/// Typed template variables.
#[derive(Deserialize, JsonSchema)]
struct Page {
    book: String,
    page: String,
}

#[derive(Deserialize, JsonSchema)]
struct Stranger {
    #[allow(dead_code)]
    chapter: String,
}

#[tokio::test]
async fn template_variables_come_from_a_struct_and_completions_per_template_and_prompt() {
    let router = Router::new()
        .resource_template(
            ResourceTemplate::new("book://{book}/page/{page}", "pages"),
            |req: ResourceRequest<Page>| async move {
                let page: u32 = req
                    .variables
                    .page
                    .parse()
                    .map_err(|_| Error::resource_not_found(&req.uri))?;
                Ok(ReadResourceResult::text(
                    req.uri,
                    "text/plain",
                    format!("{} p{page}", req.variables.book),
                ))
            },
        )
        .template_completion(
            "book://{book}/page/{page}",
            |p: CompleteParams| async move {
                let all = ["dune", "emma", "ulysses"];
                all.iter()
                    .filter(|b| b.starts_with(&p.argument.value))
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
            },
        )
        .prompt(
            Prompt::new("plain", "No completion"),
            |_: PromptArguments| async { GetPromptResult::new(vec![]) },
        )
        .prompt(
            Prompt::new("greet", "Completed"),
            |_: PromptArguments| async { GetPromptResult::new(vec![]) },
        )
        .prompt_completion(
            "greet",
            |State(()): State<()>, p: CompleteParams, _ctx: RequestContext| async move {
                Ok::<_, Error>(CompleteResult::new(vec![format!("{}!", p.argument.value)]))
            },
        );
    assert!(router.check().is_ok(), "{:?}", router.check());
    testing::in_each_era(router, |client, era| async move {
        let r = client.read_resource("book://emma/page/12").await.unwrap();
        assert_eq!(
            serde_json::to_value(&r.contents[0]).unwrap()["text"],
            "emma p12",
            "{era:?}"
        );
        let e = server_error(
            client
                .read_resource("book://emma/page/twelve")
                .await
                .unwrap_err(),
        );
        // -32002, which revision 2026-07-28 numbers -32602.
        assert!(
            [ErrorCode::RESOURCE_NOT_FOUND, ErrorCode::INVALID_PARAMS].contains(&e.code),
            "{e:?}"
        );
        let c = client
            .complete(CompleteParams::new(
                CompletionReference::resource("book://{book}/page/{page}"),
                "book",
                "e",
            ))
            .await
            .unwrap();
        assert_eq!(c.completion.values, ["emma"]);
        let c = client
            .complete(CompleteParams::new(
                CompletionReference::prompt("greet"),
                "name",
                "Ada",
            ))
            .await
            .unwrap();
        assert_eq!(c.completion.values, ["Ada!"]);
        // A known prompt without a completion has nothing to suggest; an
        // unknown one is an error.
        let c = client
            .complete(CompleteParams::new(
                CompletionReference::prompt("plain"),
                "x",
                "",
            ))
            .await
            .unwrap();
        assert!(c.completion.values.is_empty());
        let e = client
            .complete(CompleteParams::new(
                CompletionReference::prompt("nope"),
                "x",
                "",
            ))
            .await
            .unwrap_err();
        assert_eq!(server_error(e).code, ErrorCode::INVALID_PARAMS);
    })
    .await
    .unwrap();

    let bad = Router::new().resource_template(
        ResourceTemplate::new("book://{book}", "books"),
        |_: ResourceRequest<Stranger>| async { Err::<ReadResourceResult, _>(Error::internal("x")) },
    );
    let e = bad.check().unwrap_err().to_string();
    assert!(
        e.contains("chapter") && e.contains("its variables: book"),
        "{e}"
    );
}

#[tokio::test]
async fn listed_resources_are_paged_by_uri_and_read_through_the_fallback() {
    let files = Arc::new(Mutex::new(vec!["file:///c", "file:///a"]));
    let router =
        Router::new()
            .with_state(files.clone())
            .with_page_size(2)
            .resource(
                Resource::new("file:///b", "fixed"),
                |r: ResourceRequest| async move {
                    ReadResourceResult::text(r.uri, "text/plain", "fixed")
                },
            )
            .resource_lister(
                |State(f): State<Arc<Mutex<Vec<&'static str>>>>| async move {
                    let f = f.lock().unwrap().clone();
                    f.into_iter()
                        .map(|u| Resource::new(u, u))
                        .collect::<Vec<_>>()
                },
            )
            .resource_fallback(
                |State(f): State<Arc<Mutex<Vec<&'static str>>>>, r: ResourceRequest| async move {
                    if f.lock().unwrap().contains(&r.uri.as_str()) {
                        Ok(ReadResourceResult::text(r.uri, "text/plain", "listed"))
                    } else {
                        Err(Error::resource_not_found(&r.uri))
                    }
                },
            );
    let client = testing::connect(router, Era::SessionOnly).await.unwrap();
    let first = client.list_resources(None).await.unwrap();
    let uris: Vec<&str> = first.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["file:///a", "file:///b"]);
    // A file appears before the cursor while the client pages: the next
    // page still starts after the last URI seen.
    files.lock().unwrap().push("file:///0");
    let second = client.list_resources(first.next_cursor).await.unwrap();
    let uris: Vec<&str> = second.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["file:///c"]);
    assert!(second.next_cursor.is_none());
    let e = client
        .list_resources(Some("not a cursor!".into()))
        .await
        .unwrap_err();
    assert_eq!(server_error(e).code, ErrorCode::INVALID_PARAMS);
    let r = client.read_resource("file:///c").await.unwrap();
    assert_eq!(
        serde_json::to_value(&r.contents[0]).unwrap()["text"],
        "listed"
    );
    let e = client.read_resource("file:///zzz").await.unwrap_err();
    assert_eq!(server_error(e).code, ErrorCode::RESOURCE_NOT_FOUND);
}

/// Hears resource updates.
struct Updates(mpsc::UnboundedSender<String>);

#[async_trait]
impl ClientHandler for Updates {
    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        let _ = self.0.send(params.uri);
    }
}

#[tokio::test]
async fn subscriptions_are_checked_keyed_and_bounded() {
    let base = Router::new();
    let announcer = base.announcer().clone();
    let router = base
        .resource_template(
            ResourceTemplate::new("note://{name}", "notes"),
            |r: ResourceRequest| async move { ReadResourceResult::text(r.uri, "text/plain", "") },
        )
        // Subscriptions are kept under the name in lower case.
        .on_subscribe(|p: mcp_sdk::SubscribeParams| async move {
            match p.uri.strip_prefix("note://") {
                Some(name) if !name.is_empty() => Ok(format!("note://{}", name.to_lowercase())),
                _ => Err(Error::resource_not_found(&p.uri)),
            }
        });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = testing::in_process()
        .handler(Updates(tx))
        .connect(router.clone(), Era::SessionOnly)
        .await
        .unwrap();
    client.subscribe("note://Todo").await.unwrap();
    let e = client.subscribe("other://x").await.unwrap_err();
    assert_eq!(server_error(e).code, ErrorCode::RESOURCE_NOT_FOUND);
    // Announced under its key, heard under the URI the client wrote.
    announcer.resource_updated("note://todo").await;
    assert_eq!(
        timeout(LIMIT, rx.recv()).await.unwrap().unwrap(),
        "note://Todo"
    );
    client.unsubscribe("note://Todo").await.unwrap();
    assert!(!announcer.is_subscribed("note://todo"));

    // One session may hold so many subscriptions and no more.
    for i in 0..mcp_sdk_server::router::MAX_SUBSCRIPTIONS_PER_SESSION {
        client.subscribe(&format!("note://n{i}")).await.unwrap();
    }
    let e = server_error(client.subscribe("note://one-more").await.unwrap_err());
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(e.message.contains("unsubscribe"), "{}", e.message);
    // Another session is not held back by the first one's.
    let other = testing::connect(router, Era::SessionOnly).await.unwrap();
    other.subscribe("note://one-more").await.unwrap();
    // Closing a session drops its subscriptions.
    client.close().await;
    timeout(LIMIT, async {
        while announcer.is_subscribed("note://n0") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the closed session's subscriptions are dropped");
    assert!(announcer.is_subscribed("note://one-more"));
}

#[tokio::test]
async fn the_announcer_of_a_merged_router_reaches_the_merged_routers_sessions() {
    let inner = Router::new().tool(Tool::named("t", "T"), |_: NoArguments| async { "t" });
    let inner_announcer = inner.announcer().clone();
    let router = Router::new().with_list_changed().merge(inner);
    let (tx, mut rx) = mpsc::unbounded_channel();
    struct Lists(mpsc::UnboundedSender<&'static str>);
    #[async_trait]
    impl ClientHandler for Lists {
        async fn on_tool_list_changed(&self) {
            let _ = self.0.send("tools");
        }
    }
    let _client = testing::in_process()
        .handler(Lists(tx))
        .connect(router, Era::SessionOnly)
        .await
        .unwrap();
    // The session registers as it initializes; announce until it hears.
    timeout(LIMIT, async {
        loop {
            inner_announcer.tool_list_changed().await;
            if let Ok(Some(what)) = timeout(Duration::from_millis(50), rx.recv()).await {
                assert_eq!(what, "tools");
                return;
            }
        }
    })
    .await
    .expect("the merged router's session hears the inner announcer");
}

/// Answers roots; counts how often it was asked.
struct CountingRoots(Arc<AtomicUsize>);

#[async_trait]
impl ClientHandler for CountingRoots {
    fn capabilities(&self) -> ClientCapabilities {
        WithRoots.capabilities()
    }
    async fn list_roots(
        &self,
        cx: mcp_sdk_client::RequestContext,
    ) -> Result<ListRootsResult, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        WithRoots.list_roots(cx).await
    }
}

/// The README's claims about what differs between eras for a handler.
#[tokio::test]
async fn what_differs_between_eras_for_a_handler() {
    let runs = Arc::new(AtomicUsize::new(0));
    let router = Router::new().with_state(runs.clone()).tool(
        Tool::named("roots", "Asks the client for its roots"),
        |State(runs): State<Arc<AtomicUsize>>, _: NoArguments, ctx: RequestContext| async move {
            runs.fetch_add(1, Ordering::SeqCst);
            match ctx.list_roots().await {
                Ok(r) => Ok(r.roots[0].uri.clone()),
                Err(e) => Err(format!("no roots: {}", e.message)),
            }
        },
    );
    let mut seen = Vec::new();
    for era in ERAS {
        // A handler that asks for input runs once in a session, and twice
        // statelessly: the first run stops at the question, the retry
        // with the answer runs it from the start.
        runs.store(0, Ordering::SeqCst);
        let asked = Arc::new(AtomicUsize::new(0));
        let client = testing::in_process()
            .handler(CountingRoots(asked.clone()))
            .connect(router.clone(), era)
            .await
            .unwrap();
        let r = client.call_tool("roots", json!({})).await.unwrap();
        assert_eq!(text(&r), "file:///tmp");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        let run_count = runs.load(Ordering::SeqCst);

        // The same failure (a client without roots) is a tool result the
        // handler shaped in a session, and a JSON-RPC error (-32021) that
        // ends the request statelessly, whatever the handler does with it.
        let bare = testing::connect(router.clone(), era).await.unwrap();
        let outcome = match bare.call_tool("roots", json!({})).await {
            Ok(r) => {
                assert_eq!(r.is_error, Some(true));
                assert!(text(&r).starts_with("no roots"), "{}", text(&r));
                "tool error".to_owned()
            }
            Err(e) => format!("{:?}", server_error(e).code),
        };
        seen.push((run_count, outcome));
    }
    assert_eq!(
        seen,
        [
            (1, "tool error".to_owned()),
            (
                2,
                format!("{:?}", ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY)
            )
        ]
    );
}

#[tokio::test]
async fn a_hand_written_server_keeps_the_routers_argument_validation() {
    struct Mine {
        tools: Router,
    }
    #[async_trait]
    impl Server for Mine {
        fn capabilities(&self) -> mcp_sdk::ServerCapabilities {
            self.tools.capabilities()
        }
        async fn list_tools(
            &self,
            _: mcp_sdk::ListToolsParams,
            _: RequestContext,
        ) -> Result<mcp_sdk::ListToolsResult, Error> {
            Ok(mcp_sdk::ListToolsResult::new(
                self.tools.tools().definitions().cloned().collect(),
            ))
        }
        async fn call_tool(
            &self,
            p: mcp_sdk::CallToolParams,
            ctx: RequestContext,
        ) -> Result<CallToolResult, Error> {
            self.tools.tools().call(p, ctx).await
        }
    }
    let mine = Mine {
        tools: Router::new().tool(Tool::named("add", "Adds"), |a: Add| async move {
            (a.n + 1).to_string()
        }),
    };
    assert!(mine.tools.tools().validate("add", &json!({"n": 1})).is_ok());
    let problems = mine
        .tools
        .tools()
        .validate("add", &json!({"n": "x"}))
        .unwrap_err();
    assert!(problems[0].contains("/n"), "{problems:?}");
    let client = testing::connect(Arc::new(mine), Era::SessionOnly)
        .await
        .unwrap();
    let r = client.call_tool("add", json!({"n": -1})).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(
        text(&r).starts_with("Invalid arguments for tool add"),
        "{}",
        text(&r)
    );
    let r = client.call_tool("add", json!({"n": 1})).await.unwrap();
    assert_eq!(text(&r), "2");
    let tools = client.list_all_tools().await.unwrap();
    // The advertised schema is the portable one: no `format: uint`.
    let schema: Value = Value::Object(tools[0].input_schema.clone());
    assert!(!schema.to_string().contains("format"), "{schema}");
}
