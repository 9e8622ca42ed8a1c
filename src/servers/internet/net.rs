//! The guarded HTTP client: every hop's address checked (after DNS, through
//! [`GuardedResolver`]; IP literals here), redirects followed by hand (at most
//! [`MAX_REDIRECTS`]), timeouts, and a cap on how much of a body is read.

use super::guard::{self, AllowList, GuardedResolver, Refused};
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION,
    PROXY_AUTHORIZATION,
};
use reqwest::{Method, StatusCode, Url};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How many redirects a request follows.
pub const MAX_REDIRECTS: usize = 5;
/// How long connecting to one address may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take, redirects and body included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many bytes of a response body are read; the rest is cut.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// The `User-Agent` of every request.
pub fn user_agent() -> String {
    format!(
        "mcp-reference-internet/{} (+https://modelcontextprotocol.io)",
        env!("CARGO_PKG_VERSION")
    )
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The method.
    pub method: Method,
    /// The URL.
    pub url: Url,
    /// Headers besides the user agent.
    pub headers: HeaderMap,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

impl Outgoing {
    /// A `GET` of `url`.
    pub fn get(url: Url) -> Self {
        Outgoing {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }
}

/// A response, its body read up to the cap.
#[derive(Debug)]
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub url: Url,
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, at most `max_bytes`.
    pub body: Vec<u8>,
    /// Whether the body was longer and was cut.
    pub truncated: bool,
}

impl Fetched {
    /// The `Content-Type` header, or `""`.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Why a request failed.
#[derive(Debug)]
pub enum FetchError {
    /// The URL cannot be fetched (syntax, scheme, no host).
    BadUrl(String),
    /// A hop's address is internal.
    Refused(Refused),
    /// More than [`MAX_REDIRECTS`] redirects.
    TooManyRedirects(Url),
    /// [`TOTAL_TIMEOUT`] passed.
    Timeout(Url),
    /// Connecting or talking to the server failed.
    Transport(Url, String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::BadUrl(m) => f.write_str(m),
            FetchError::Refused(r) => r.fmt(f),
            FetchError::TooManyRedirects(url) => {
                write!(
                    f,
                    "{url} redirected more than {MAX_REDIRECTS} times; giving up"
                )
            }
            FetchError::Timeout(url) => write!(
                f,
                "{url} did not answer within {} seconds",
                TOTAL_TIMEOUT.as_secs()
            ),
            FetchError::Transport(url, m) => write!(f, "request to {url} failed: {m}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Parses a URL the fetch tools accept: `http` or `https`, with a host.
pub fn parse_url(text: &str) -> Result<Url, FetchError> {
    let url = Url::parse(text.trim())
        .map_err(|e| FetchError::BadUrl(format!("{text:?} is not a valid URL: {e}")))?;
    check_url_shape(&url)?;
    Ok(url)
}

fn check_url_shape(url: &Url) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::BadUrl(format!(
            "only http and https URLs can be fetched, not {}:",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(FetchError::BadUrl(format!("{url} has no host")));
    }
    Ok(())
}

/// The HTTP client of one server: its allow-list, its resolver, its limits.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow: Arc<AllowList>,
    max_bytes: usize,
}

impl Fetcher {
    /// A client that refuses internal addresses except for `allow`'s hosts.
    pub fn new(allow: AllowList) -> Self {
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver::new(allow.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(user_agent())
            .build()
            .expect("the HTTP client's configuration is valid");
        Fetcher {
            client,
            allow,
            max_bytes: MAX_BODY_BYTES,
        }
    }

    /// The body cap, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Checks a hop before connecting: its shape and, for IP literals
    /// (which skip the resolver), its address.
    fn check_hop(&self, url: &Url) -> Result<(), FetchError> {
        check_url_shape(url)?;
        let host = url.host_str().unwrap_or_default();
        // The URL parser has normalized IP literals (decimal, hex, short
        // forms), so a literal parses here; IPv6 ones are bracketed.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
            guard::check(host, ip, &self.allow).map_err(FetchError::Refused)?;
        }
        Ok(())
    }

    /// Sends `req`, following redirects (each hop checked), and reads the
    /// body up to the cap, all within [`TOTAL_TIMEOUT`].
    pub async fn send(&self, req: Outgoing) -> Result<Fetched, FetchError> {
        let url = req.url.clone();
        match tokio::time::timeout(TOTAL_TIMEOUT, self.send_inner(req)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(url)),
        }
    }

    async fn send_inner(&self, mut req: Outgoing) -> Result<Fetched, FetchError> {
        let mut hops = 0;
        loop {
            self.check_hop(&req.url)?;
            let mut builder = self
                .client
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(body) = &req.body {
                builder = builder.body(body.clone());
            }
            let mut response = builder.send().await.map_err(|e| classify(&req.url, &e))?;
            let status = response.status();
            let location = response.headers().get(LOCATION).cloned();
            if let (true, Some(location)) = (is_redirect(status), location) {
                if hops == MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects(req.url));
                }
                hops += 1;
                let next = location
                    .to_str()
                    .ok()
                    .and_then(|l| req.url.join(l).ok())
                    .ok_or_else(|| {
                        FetchError::BadUrl(format!(
                            "{} redirected to an invalid location {location:?}",
                            req.url
                        ))
                    })?;
                redirect(&mut req, status, next);
                continue;
            }
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(&req.url, &e))? {
                let room = self.max_bytes - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(Fetched {
                url: req.url,
                status,
                headers: response.headers().clone(),
                body,
                truncated,
            });
        }
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Turns `req` into the request for the next hop, as browsers do: 303 (and
/// 301/302 after a POST) become a GET without a body; credentials are not
/// sent to another origin.
fn redirect(req: &mut Outgoing, status: StatusCode, next: Url) {
    let to_get = status == StatusCode::SEE_OTHER && req.method != Method::HEAD
        || matches!(status.as_u16(), 301 | 302) && req.method == Method::POST;
    if to_get {
        req.method = Method::GET;
        req.body = None;
        req.headers.remove(CONTENT_TYPE);
        req.headers.remove(CONTENT_LENGTH);
    }
    if next.origin() != req.url.origin() {
        for h in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
            req.headers.remove(h);
        }
    }
    req.url = next;
}

/// A readable error, with the refusal found anywhere in the chain.
fn classify(url: &Url, e: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut parts = Vec::new();
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return FetchError::Refused(refused.clone());
        }
        let text = err.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout(url.clone());
    }
    // reqwest's own top line repeats the URL; keep the causes.
    let detail = if parts.len() > 1 {
        parts[1..].join(": ")
    } else {
        parts.join(": ")
    };
    FetchError::Transport(url.clone(), detail)
}

/// A header value from text, or a readable error.
pub fn header_value(name: &str, value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value)
        .map_err(|_| format!("the value of header {name} is not a valid header value"))
}
