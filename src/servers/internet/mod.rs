//! The internet server (the seed's server 5, and its tools server's
//! `api-call`): `fetch` reads a web page as Markdown (or raw text) in
//! chunks, as the popular Python fetch server does, and `http_request` calls
//! an HTTP API with a method, headers and a JSON body; `open_in_browser`
//! asks the user to open a page themselves (URL-mode elicitation, see
//! [`open`]).
//!
//! Both refuse internal destinations (loopback, private, link-local, cloud
//! metadata...) after DNS resolution and on every redirect, unless the host
//! is on the operator's allow-list; see [`guard`].
//!
//! The tools keep no per-session state, so the same handlers serve the
//! session era and the stateless era (2026-07-28), with the same refusals;
//! `open_in_browser` asks the client in either (a request in a session, an
//! input request statelessly).

pub mod guard;
pub mod html;
pub mod nesting;
pub mod net;
pub mod open;
pub mod robots;

use super::tools::offload::Offload;
use super::tools::transform::TransformError;
use super::ServerSpec;
use guard::AllowList;
use mcp_sdk::{
    GetPromptResult, Implementation, Prompt, PromptArgument, PromptMessage, Tool, ToolAnnotations,
};
use mcp_sdk_server::{PromptArguments, RequestContext, Router, Structured};
use net::{FetchError, Fetcher, Outgoing};
use reqwest::header::{HeaderMap, HeaderName, CONTENT_TYPE};
use reqwest::{Method, Url};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The internet server's identity: id 5, port 5005.
pub fn spec() -> ServerSpec {
    ServerSpec {
        id: "5",
        name: "internet",
        default_port: 5005,
        capabilities: &["internet"],
    }
}

/// The environment variable with more allowed hosts, comma-separated.
pub const ALLOW_HOSTS_ENV: &str = "INTERNET_ALLOW_HOSTS";

/// How many pages are converted to Markdown at once by default; more
/// calls wait for a slot, within their time budget.
pub const DEFAULT_MAX_CONVERSIONS: usize = 2;

/// The time one page's conversion to Markdown may take by default, waiting
/// for a slot included. A 5 MiB page of documentation takes about a second
/// in a release build.
pub const DEFAULT_CONVERSION_BUDGET: Duration = Duration::from_secs(20);

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Hosts reachable even though their addresses are internal.
    pub allow: AllowList,
    /// Fetch pages even where the site's `robots.txt` forbids it.
    pub ignore_robots_txt: bool,
    /// How many pages are converted at once (each on a blocking thread).
    pub max_conversions: usize,
    /// The time one conversion may take, waiting for a slot included.
    pub conversion_budget: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow: AllowList::default(),
            ignore_robots_txt: false,
            max_conversions: DEFAULT_MAX_CONVERSIONS,
            conversion_budget: DEFAULT_CONVERSION_BUDGET,
        }
    }
}

impl Config {
    /// A configuration allowing `hosts` plus those in [`ALLOW_HOSTS_ENV`].
    pub fn from_flags_and_env(hosts: &[String]) -> Self {
        let env = std::env::var(ALLOW_HOSTS_ENV).unwrap_or_default();
        let all = hosts
            .iter()
            .map(String::as_str)
            .chain(env.split(',').map(str::trim).filter(|h| !h.is_empty()));
        Config {
            allow: AllowList::new(all),
            ..Config::default()
        }
    }
}

fn default_max_length() -> usize {
    5000
}

fn default_body_length() -> usize {
    20_000
}

/// Arguments of `fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FetchArgs {
    /// URL to fetch (http or https).
    pub url: String,
    /// Maximum number of characters to return.
    #[serde(default = "default_max_length")]
    #[schemars(range(min = 1, max = 999_999))]
    pub max_length: usize,
    /// Start the content at this character index; use it when a previous
    /// fetch was truncated and more is needed.
    #[serde(default)]
    pub start_index: usize,
    /// Return the page as it came (HTML included) instead of simplified to
    /// Markdown.
    #[serde(default)]
    pub raw: bool,
}

/// HTTP methods `http_request` sends.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET` (the default).
    #[default]
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `HEAD`.
    Head,
    /// `OPTIONS`.
    Options,
}

impl From<HttpMethod> for Method {
    fn from(m: HttpMethod) -> Method {
        match m {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Patch => Method::PATCH,
            HttpMethod::Delete => Method::DELETE,
            HttpMethod::Head => Method::HEAD,
            HttpMethod::Options => Method::OPTIONS,
        }
    }
}

/// Arguments of `http_request`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HttpRequestArgs {
    /// The URL (http or https).
    pub url: String,
    /// The HTTP method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers, name to value.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: any JSON value, sent as `application/json`. A string is
    /// sent as it is when a `Content-Type` header names something else.
    #[serde(default)]
    pub body: Option<Value>,
    /// Maximum number of characters of the response body to return.
    #[serde(default = "default_body_length")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_length: usize,
}

/// What `http_request` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The URL that answered, after redirects.
    pub url: String,
    /// The response headers (repeated ones joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body: parsed JSON when it is JSON, else text; `null` when empty.
    pub body: Value,
    /// Whether the body was longer than returned.
    pub truncated: bool,
}

/// Headers that the transport sets, which a caller may not.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// The most headers a request may carry.
const MAX_HEADERS: usize = 64;

/// The internet server's tools, with `config`'s allow-list.
pub fn router(config: Config) -> Router {
    let fetcher = Fetcher::new(config.allow);
    let offload = Offload::new(config.max_conversions, config.conversion_budget);
    let for_fetch = (fetcher.clone(), offload.clone());
    let for_prompt = (fetcher.clone(), offload);
    let check_robots = !config.ignore_robots_txt;
    Router::new()
        .with_info(Implementation::new(
            "mcp-reference-internet",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Reads the web. `fetch` returns a page as Markdown in chunks of max_length \
             characters (continue with start_index); `http_request` calls an HTTP API. \
             Internal network addresses are refused.",
        )
        .tool(
            Tool::named(
                "fetch",
                "Fetches a URL from the internet and returns its contents as Markdown \
                 (or raw text). Long pages come in chunks: when the answer says the content \
                 was truncated, call again with the start_index it gives.",
            )
            .with_title("Fetch a web page")
            .with_annotations(
                ToolAnnotations::default()
                    .with_read_only_hint(true)
                    .with_open_world_hint(true),
            ),
            move |args: FetchArgs, ctx: RequestContext| {
                let (fetcher, offload) = for_fetch.clone();
                async move { fetch(&fetcher, &offload, &ctx, args, check_robots).await }
            },
        )
        .tool(
            Tool::named(
                "http_request",
                "Sends an HTTP request (method, headers, JSON body) to an API and returns the \
                 status, headers and body (parsed when JSON).",
            )
            .with_title("Call an HTTP API")
            .with_annotations(
                ToolAnnotations::default()
                    .with_read_only_hint(false)
                    .with_destructive_hint(true)
                    .with_open_world_hint(true),
            ),
            move |args: HttpRequestArgs| {
                let fetcher = fetcher.clone();
                async move { http_request(&fetcher, args).await.map(Structured) }
            },
        )
        .tool(
            Tool::named(
                "open_in_browser",
                "Asks the user to open a page in their own browser, for a page that needs \
                 them there (their sign-in, a captcha, a payment) and that fetch cannot read \
                 for them. The page's content does not come back; ask the user what they \
                 need to tell you.",
            )
            .with_title("Ask the user to open a page")
            .with_annotations(
                ToolAnnotations::default()
                    .with_read_only_hint(true)
                    .with_open_world_hint(true),
            ),
            |args: open::OpenArgs, ctx: RequestContext| async move {
                open::open_in_browser(args, &ctx).await
            },
        )
        .prompt(
            Prompt::new("fetch", "Fetch a URL and extract its contents as markdown")
                .with_argument(PromptArgument::new("url", "URL to fetch", true)),
            move |args: PromptArguments, ctx: RequestContext| {
                let (fetcher, offload) = for_prompt.clone();
                async move { Ok(fetch_prompt(&fetcher, &offload, &ctx, args).await) }
            },
        )
}

/// The most characters the `fetch` prompt puts into the conversation.
const PROMPT_MAX_LENGTH: usize = 100_000;

/// The `fetch` prompt: the user asked for the page, so `robots.txt` is not
/// consulted (as in the Python server); failures become the message.
async fn fetch_prompt(
    fetcher: &Fetcher,
    offload: &Offload,
    ctx: &RequestContext,
    args: PromptArguments,
) -> GetPromptResult {
    let url = args.get("url").cloned().unwrap_or_default();
    let fetch_args = FetchArgs {
        url: url.clone(),
        max_length: PROMPT_MAX_LENGTH,
        start_index: 0,
        raw: false,
    };
    match fetch(fetcher, offload, ctx, fetch_args, false).await {
        Ok(text) => GetPromptResult::new(vec![PromptMessage::user_text(text)])
            .with_description(format!("Contents of {url}")),
        Err(error) => GetPromptResult::new(vec![PromptMessage::user_text(error)])
            .with_description(format!("Failed to fetch {url}")),
    }
}

/// Whether the site's `robots.txt` lets us fetch `url` on the model's
/// behalf: 401 and 403 mean no, other 4xx mean yes, else its rules decide.
async fn check_robots(fetcher: &Fetcher, url: &Url) -> Result<(), String> {
    let mut robots_url = url.clone();
    robots_url.set_path("/robots.txt");
    robots_url.set_query(None);
    robots_url.set_fragment(None);
    let shown = robots_url.to_string();
    let answer = match fetcher.send(Outgoing::get(robots_url)).await {
        Ok(answer) => answer,
        Err(e @ (FetchError::Refused(_) | FetchError::BadUrl(_))) => return Err(e.to_string()),
        Err(e) => {
            return Err(format!(
                "Failed to fetch robots.txt {shown} due to a connection issue: {e}"
            ))
        }
    };
    match answer.status.as_u16() {
        status @ (401 | 403) => Err(format!(
            "When fetching robots.txt ({shown}), received status {status} so assuming that \
             autonomous fetching is not allowed; the user can try fetching the page manually \
             with the fetch prompt"
        )),
        400..=499 => Ok(()),
        _ => {
            let body = &answer.body[..answer.body.len().min(robots::MAX_ROBOTS_BYTES)];
            let rules = String::from_utf8_lossy(body);
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            if robots::allows(&rules, robots::PRODUCT_TOKEN, &path) {
                Ok(())
            } else {
                Err(format!(
                    "The site's robots.txt ({shown}) does not allow autonomous fetching of {url} \
                     by {}. Let the user know the page could not be read; they can fetch it \
                     manually with the fetch prompt.",
                    robots::PRODUCT_TOKEN
                ))
            }
        }
    }
}

/// Content types that are not text.
fn is_binary(content_type: &str, body: &[u8]) -> bool {
    let ct = content_type.to_ascii_lowercase();
    let binary_type = ["image/", "audio/", "video/", "font/"]
        .iter()
        .any(|p| ct.starts_with(p))
        || [
            "application/octet-stream",
            "application/pdf",
            "application/zip",
            "application/gzip",
            "application/x-",
            "application/vnd.",
            "application/wasm",
        ]
        .iter()
        .any(|p| {
            ct.starts_with(p)
                && !ct.contains("json")
                && !ct.contains("xml")
                && !ct.contains("javascript")
        });
    binary_type || body.iter().take(4096).any(|&b| b == 0)
}

/// `fetch`, as the Python fetch server does it.
/// With `check_robots`, the site's `robots.txt` is honoured first. The
/// conversion to Markdown runs on `offload`, under its time budget and the
/// request's cancellation.
pub async fn fetch(
    fetcher: &Fetcher,
    offload: &Offload,
    ctx: &RequestContext,
    args: FetchArgs,
    check_robots: bool,
) -> Result<String, String> {
    let url = net::parse_url(&args.url).map_err(|e| e.to_string())?;
    if check_robots {
        self::check_robots(fetcher, &url).await?;
    }
    let shown = url.to_string();
    let page = fetcher
        .send(Outgoing::get(url))
        .await
        .map_err(|e: FetchError| e.to_string())?;
    if page.status.as_u16() >= 400 {
        return Err(format!(
            "Failed to fetch {shown} - status code {}",
            page.status.as_u16()
        ));
    }
    let content_type = page.content_type().to_owned();
    if is_binary(&content_type, &page.body) {
        let what = if content_type.is_empty() {
            "binary data"
        } else {
            content_type.as_str()
        };
        return Err(format!(
            "{shown} is not text ({what}); fetch returns text and HTML only"
        ));
    }
    let text = String::from_utf8_lossy(&page.body).into_owned();
    let is_html = content_type.to_ascii_lowercase().contains("text/html")
        || content_type.is_empty()
        || html::looks_like_html(&text);
    let mut prefix = String::new();
    if page.truncated {
        prefix.push_str(&format!(
            "Note: the response was larger than {} MiB; only its beginning was read.\n",
            fetcher.max_bytes() / (1024 * 1024)
        ));
    }
    let content = if is_html && !args.raw {
        let base = page.url.clone();
        let converted = offload
            .run(ctx, move |budget| {
                html::to_markdown(&text, Some(&base), budget)
            })
            .await
            .map_err(|e| match e {
                TransformError::OverBudget(budget) => format!(
                    "{shown} could not be simplified to Markdown within the {} s this server \
                     allows one page; fetch it with raw: true for its HTML as it came",
                    budget.as_secs()
                ),
                other => format!("{shown} could not be simplified to Markdown: {other}"),
            })?;
        for note in &converted.notes {
            prefix.push_str(&format!("Note: {note}.\n"));
        }
        if converted.text.is_empty() {
            "<error>Page failed to be simplified from HTML</error>".to_owned()
        } else {
            converted.text
        }
    } else {
        if !is_html {
            prefix.push_str(&format!(
                "Content type {content_type} cannot be simplified to markdown, but here is the raw content:\n"
            ));
        }
        text
    };
    let body = page_chunk(&content, args.start_index, args.max_length);
    Ok(format!("{prefix}Contents of {shown}:\n{body}"))
}

/// Characters `start..start+max` of `content`, with the hint for the next
/// chunk when more remains.
fn page_chunk(content: &str, start: usize, max: usize) -> String {
    let total = content.chars().count();
    if start >= total {
        return "<error>No more content available.</error>".to_owned();
    }
    let chunk: String = content.chars().skip(start).take(max).collect();
    let taken = chunk.chars().count();
    if taken == max && total > start + taken {
        let next = start + taken;
        format!(
            "{chunk}\n\n<error>Content truncated. Call the fetch tool with a start_index of {next} to get more content.</error>"
        )
    } else {
        chunk
    }
}

/// `http_request`: the seed's `api-call`, guarded.
pub async fn http_request(
    fetcher: &Fetcher,
    args: HttpRequestArgs,
) -> Result<HttpResponse, String> {
    let url = net::parse_url(&args.url).map_err(|e| e.to_string())?;
    if args.headers.len() > MAX_HEADERS {
        return Err(format!("too many headers (at most {MAX_HEADERS})"));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &args.headers {
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("{name:?} is not a valid header name"))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(format!(
                "header {name} is set by the HTTP client and cannot be given"
            ));
        }
        headers.append(header, net::header_value(name, value)?);
    }
    let body = match args.body {
        None => None,
        Some(Value::String(text))
            if headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| !ct.to_ascii_lowercase().contains("json")) =>
        {
            Some(text.into_bytes())
        }
        Some(value) => {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, "application/json".parse().expect("valid"));
            }
            Some(serde_json::to_vec(&value).map_err(|e| e.to_string())?)
        }
    };
    let response = fetcher
        .send(Outgoing {
            method: args.method.into(),
            url,
            headers,
            body,
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut out_headers = BTreeMap::new();
    for (name, value) in &response.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out_headers
            .entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let is_json = response
        .content_type()
        .to_ascii_lowercase()
        .contains("json");
    let text = String::from_utf8_lossy(&response.body);
    let total = text.chars().count();
    let mut truncated = response.truncated;
    let body = if response.body.is_empty() {
        Value::Null
    } else if is_binary(response.content_type(), &response.body) {
        Value::String(format!(
            "<{} bytes of binary content ({}) not shown>",
            response.body.len(),
            response.content_type()
        ))
    } else if total <= args.max_length && !truncated && is_json {
        serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
    } else if total <= args.max_length {
        Value::String(text.into_owned())
    } else {
        truncated = true;
        Value::String(text.chars().take(args.max_length).collect())
    };
    Ok(HttpResponse {
        status: response.status.as_u16(),
        url: response.url.to_string(),
        headers: out_headers,
        body,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_carry_the_next_start_index() {
        let text = "abcdefghij";
        assert_eq!(
            page_chunk(text, 0, 4),
            "abcd\n\n<error>Content truncated. Call the fetch tool with a start_index of 4 to get more content.</error>"
        );
        assert_eq!(page_chunk(text, 8, 4), "ij");
        assert_eq!(page_chunk(text, 6, 4), "ghij");
        assert_eq!(
            page_chunk(text, 10, 4),
            "<error>No more content available.</error>"
        );
        assert_eq!(page_chunk("héllo", 1, 2).lines().next(), Some("él"));
    }

    #[test]
    fn binary_is_told_apart_from_text() {
        assert!(is_binary("image/png", b"\x89PNG"));
        assert!(is_binary("", b"abc\0def"));
        assert!(!is_binary("application/json", b"{}"));
        assert!(!is_binary("application/vnd.api+json", b"{}"));
        assert!(!is_binary("text/plain; charset=utf-8", b"hello"));
    }
}
