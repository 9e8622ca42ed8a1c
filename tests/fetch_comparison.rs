//! The internet server side by side with the official fetch server
//! (`mcp-server-fetch` on PyPI, in the venv `.ci/python-tools` makes, whose
//! interpreter `MCP_PYTHON` names): both fetch the same pages of the Python
//! documentation (Debian's `python3.11-doc`, copied under
//! `tests/fixtures/python-docs`, PSF-licensed) from a site on loopback, and
//! their Markdown is checked for the page's features, not its bytes:
//! headings as headings, links with their absolute URLs, code blocks in
//! fences, tables as tables. Ours must keep at least as many of each as
//! theirs. Both take the same arguments.
//!
//! Skipped, saying so, when `MCP_PYTHON` is unset; CI sets it, and then a
//! venv without `mcp-server-fetch` is a failure.

mod support;

use bytes::Bytes;
use dom_query::Document;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use mcp_sdk_client::transport::ChildProcess;
use mcp_sdk_client::{Client, Era};
use reqwest::Url;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use support::{stdio_client, PATIENCE};

/// The pages, by the path they are served at.
const PAGES: &[(&str, &str)] = &[
    (
        "/library/struct.html",
        include_str!("fixtures/python-docs/library-struct.html"),
    ),
    (
        "/library/warnings.html",
        include_str!("fixtures/python-docs/library-warnings.html"),
    ),
    (
        "/tutorial/introduction.html",
        include_str!("fixtures/python-docs/tutorial-introduction.html"),
    ),
];

/// Serves [`PAGES`] on loopback (no robots.txt: 404).
async fn site() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let page = PAGES.iter().find(|(path, _)| *path == req.uri().path());
                    let (status, body) = page.map_or((404, ""), |(_, html)| (200, *html));
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(status)
                            .header("content-type", "text/html; charset=utf-8")
                            .body(Full::new(Bytes::from_static(body.as_bytes())))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// The official fetch server over stdio, or `None` (with the reason on
/// stderr) when `MCP_PYTHON` is unset.
async fn official_server() -> Option<Client> {
    let python = match std::env::var("MCP_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => {
            eprintln!(
                "SKIPPED: MCP_PYTHON is not set (run .ci/python-tools, which installs \
                 mcp-server-fetch, and point it at .conformance/python/bin/python)"
            );
            return None;
        }
    };
    let installed = tokio::process::Command::new(&python)
        .args(["-c", "import mcp_server_fetch"])
        .output()
        .await
        .expect("MCP_PYTHON runs");
    assert!(
        installed.status.success(),
        "mcp-server-fetch is not installed in {python}'s environment (.ci/python-tools \
         installs it): {}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let mut command = tokio::process::Command::new(&python);
    command.args([
        "-m",
        "mcp_server_fetch",
        "--allow-private-ips",
        "--ignore-robots-txt",
    ]);
    let transport = ChildProcess::spawn(&mut command).expect("the official server starts");
    // The session era, as for ours: with the era probed, a Python server
    // still importing when the probe times out answers `server/discover`
    // late, and then refuses `initialize`.
    Some(
        tokio::time::timeout(
            PATIENCE,
            Client::builder().era(Era::SessionOnly).connect(transport),
        )
        .await
        .expect("the official server's handshake in time")
        .expect("the official server's handshake"),
    )
}

async fn our_server() -> Client {
    stdio_client(
        "internet_server",
        &["--allow-host", "127.0.0.1", "--ignore-robots-txt"],
        (),
    )
    .await
}

/// `fetch` with `arguments`: the answer's text, after the `Contents of`
/// line (and any notes before it).
async fn fetch(client: &Client, arguments: Value) -> String {
    // The official server reads each page with Readability.js in Node
    // (installing it with npm the first time), so it gets more time.
    let result = tokio::time::timeout(PATIENCE * 4, client.call_tool("fetch", arguments))
        .await
        .expect("an answer in time")
        .expect("a tools/call result");
    assert!(!result.is_error(), "fetch failed: {result:?}");
    let text = result.content[0].as_text().unwrap();
    let at = text.find("Contents of ").expect("the Contents line");
    let body = &text[at..];
    body[body.find('\n').unwrap() + 1..].to_owned()
}

/// What a page holds, read from its HTML, and how much of it a Markdown
/// rendering kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Kept {
    headings: usize,
    links: usize,
    code_blocks: usize,
    tables: usize,
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "headings {:>3}, links {:>3}, code blocks {:>3}, tables {:>2}",
            self.headings, self.links, self.code_blocks, self.tables
        )
    }
}

/// The features of the page's main content (`div[role=main]`, where
/// Sphinx writes it).
struct Features {
    headings: Vec<String>,
    links: Vec<String>,
    code_blocks: Vec<String>,
    /// The first cell of each table.
    tables: Vec<String>,
}

fn features(html: &str, url: &Url) -> Features {
    let doc = Document::from(html);
    let main = doc.select("div[role=main]");
    let text = |sel: &dom_query::Selection| normalize(&sel.text());
    let headings = main
        .select("h1, h2, h3, h4")
        .iter()
        .map(|h| text(&h))
        .collect();
    let links = main
        .select("a[href]")
        .iter()
        .filter_map(|a| {
            let href = a.attr("href")?;
            if href.starts_with('#') || a.text().trim().is_empty() {
                return None;
            }
            url.join(&href).ok().map(|u| u.to_string())
        })
        .collect();
    let code_blocks = main
        .select("pre")
        .iter()
        .filter_map(|pre| {
            pre.text()
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let tables = main
        .select("table")
        .iter()
        .filter_map(|t| {
            t.select("th, td")
                .iter()
                .map(|c| text(&c))
                .find(|c| !c.is_empty())
        })
        .collect();
    Features {
        headings,
        links,
        code_blocks,
        tables,
    }
}

/// Text without Markdown's escapes and link syntax, the pilcrow of
/// permalinks, and runs of whitespace.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '¶' | '`' | '*' => {}
            c => out.push(c),
        }
    }
    // `[text](destination "title")` becomes `text`.
    let mut plain = String::new();
    let mut rest = out.as_str();
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else {
            break;
        };
        plain.push_str(&rest[..open]);
        plain.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a CommonMark reader (GFM tables on) finds in `md`: heading texts,
/// link destinations, code block texts, and each table's first row.
#[derive(Default)]
struct Rendered {
    headings: Vec<String>,
    links: Vec<String>,
    code: String,
    table_heads: Vec<String>,
}

fn render(md: &str) -> Rendered {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut rendered = Rendered::default();
    // The text of the heading or table head being read, if any.
    let mut heading: Option<String> = None;
    let mut table_head: Option<String> = None;
    let mut in_code = false;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                rendered
                    .headings
                    .extend(heading.take().map(|h| normalize(&h)));
            }
            Event::Start(Tag::TableHead) => table_head = Some(String::new()),
            Event::End(TagEnd::TableHead) => {
                rendered
                    .table_heads
                    .extend(table_head.take().map(|h| normalize(&h)));
            }
            Event::Start(Tag::Link { dest_url, .. }) => rendered.links.push(dest_url.to_string()),
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(text) | Event::Code(text) => {
                if in_code {
                    rendered.code.push_str(&text);
                }
                for open in [&mut heading, &mut table_head].into_iter().flatten() {
                    open.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak | Event::End(TagEnd::TableCell) => {
                for open in [&mut heading, &mut table_head].into_iter().flatten() {
                    open.push(' ');
                }
            }
            _ => {}
        }
    }
    rendered
}

/// How many of `features` the Markdown `md` keeps, as a CommonMark reader
/// sees it (a table indented into a code block is no table).
fn kept(md: &str, features: &Features, who: &str) -> Kept {
    let rendered = render(md);
    let count = |wanted: &[String], what: &str, found: &dyn Fn(&str) -> bool| {
        wanted
            .iter()
            .filter(|w| {
                let ok = found(w);
                if !ok {
                    eprintln!("    {who} lacks the {what} {w:?}");
                }
                ok
            })
            .count()
    };
    Kept {
        headings: count(&features.headings, "heading", &|h| {
            rendered.headings.iter().any(|r| r == h)
        }),
        links: count(&features.links, "link", &|url| {
            rendered.links.iter().any(|r| r == url)
        }),
        code_blocks: count(&features.code_blocks, "code block", &|first| {
            rendered.code.contains(first)
        }),
        tables: count(&features.tables, "table", &|cell| {
            rendered.table_heads.iter().any(|head| head.contains(cell))
        }),
    }
}

#[tokio::test]
async fn our_markdown_keeps_at_least_what_the_official_fetch_server_keeps() {
    let Some(official) = official_server().await else {
        return;
    };
    let ours = our_server().await;
    let addr = site().await;
    for (path, html) in PAGES {
        let url = Url::parse(&format!("http://{addr}{path}")).unwrap();
        let want = features(html, &url);
        let total = Kept {
            headings: want.headings.len(),
            links: want.links.len(),
            code_blocks: want.code_blocks.len(),
            tables: want.tables.len(),
        };
        let arguments = json!({"url": url.as_str(), "max_length": 999_999});
        let our_md = fetch(&ours, arguments.clone()).await;
        let their_md = fetch(&official, arguments).await;
        let (our, their) = (
            kept(&our_md, &want, "ours"),
            kept(&their_md, &want, "official"),
        );
        eprintln!("{path}\n  page:     {total}\n  ours:     {our}\n  official: {their}");
        assert!(total.headings > 2 && total.code_blocks > 2);
        // Ours keeps every heading, link (with its absolute URL), code
        // block and table of the page's main content...
        assert_eq!(our, total, "ours lost features of {path}:\n{our_md}");
        // ... so at least as many as the official server, feature by
        // feature.
        assert!(our.headings >= their.headings);
        assert!(our.links >= their.links);
        assert!(our.code_blocks >= their.code_blocks);
        assert!(our.tables >= their.tables);
    }
    ours.close().await;
    official.close().await;
}

/// The input schema's `properties` of the `fetch` tool.
async fn fetch_properties(client: &Client) -> Value {
    let tools = client.list_all_tools().await.unwrap();
    let fetch = tools
        .iter()
        .find(|t| t.name == "fetch")
        .expect("a fetch tool");
    serde_json::to_value(&fetch.input_schema).unwrap()["properties"].clone()
}

#[tokio::test]
async fn both_servers_take_the_same_arguments() {
    let Some(official) = official_server().await else {
        return;
    };
    let ours = our_server().await;
    let addr = site().await;
    let (our_schema, their_schema) = (
        fetch_properties(&ours).await,
        fetch_properties(&official).await,
    );
    for (name, default) in [
        ("url", Value::Null),
        ("max_length", json!(5000)),
        ("start_index", json!(0)),
        ("raw", json!(false)),
    ] {
        for (who, schema) in [("ours", &our_schema), ("official", &their_schema)] {
            let property = &schema[name];
            assert!(property.is_object(), "{who} lacks {name}: {schema}");
            if !default.is_null() {
                assert_eq!(property["default"], default, "{who}'s {name}: {schema}");
            }
        }
    }
    let url = format!("http://{addr}/library/struct.html");
    for client in [&ours, &official] {
        // max_length cuts the page and says where to continue...
        let first = fetch(client, json!({"url": url, "max_length": 300})).await;
        assert!(
            first.ends_with(
                "<error>Content truncated. Call the fetch tool with a start_index of 300 to \
                 get more content.</error>"
            ),
            "{first}"
        );
        // ... start_index continues there...
        let next = fetch(
            client,
            json!({"url": url, "start_index": 300, "max_length": 300}),
        )
        .await;
        assert!(next.contains("start_index of 600"), "{next}");
        assert_ne!(first.lines().next(), next.lines().next());
        // ... past the end there is nothing more...
        let past = fetch(client, json!({"url": url, "start_index": 999_999})).await;
        assert_eq!(past, "<error>No more content available.</error>");
        // ... and raw gives the HTML as it came.
        let raw = fetch(client, json!({"url": url, "raw": true, "max_length": 50})).await;
        assert!(raw.trim_start().starts_with("<!DOCTYPE html>"), "{raw}");
    }
    ours.close().await;
    official.close().await;
}
