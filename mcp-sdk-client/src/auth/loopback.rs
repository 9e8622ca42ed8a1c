//! [`LoopbackBrowser`]: the user signs in in their browser, and the
//! authorization server's redirect comes back to a listener on a loopback
//! port (RFC 8252 §7.3, the way for native apps).
//!
//! The listener is open only during one authorization, on 127.0.0.1 and a
//! port the system picks. It takes exactly one request: a `GET` of the
//! redirect path, whose `Host` names the listener, carrying the `state` of
//! the authorization in progress. Anything else (another path, another
//! method, another `Host`, another or no `state`) is answered with an
//! error page and does not end the wait, so a local process or a web page
//! cannot cut a sign-in short; after [`MAX_REFUSED`] such requests, or when
//! the time runs out, the authorization fails.

use super::auth_error;
use super::handler::AuthorizationHandler;
use crate::ClientError;
use async_trait::async_trait;
use reqwest::Url;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// How long the user has to sign in, by default: 5 minutes.
pub const DEFAULT_SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// How many requests that are not the redirect the listener answers
/// before it gives up.
pub const MAX_REFUSED: usize = 32;

/// How many connections the listener serves at once (browsers open a few
/// spare ones).
const MAX_CONNECTIONS: usize = 8;

/// The largest request head read from one connection.
const MAX_HEAD_BYTES: usize = 8 * 1024;

/// How long one connection may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

type Open = Arc<dyn Fn(&Url) -> Result<(), String> + Send + Sync>;
type Announce = Arc<dyn Fn(&Url) + Send + Sync>;

/// An [`AuthorizationHandler`] that opens the authorization page in a
/// browser and takes the redirect on a loopback listener (RFC 8252 §7.3).
///
/// The listener is open only during one authorization, on 127.0.0.1 and a
/// port the system picks. It takes exactly one request: a `GET` of the
/// redirect path, whose `Host` names the listener, carrying the `state` of
/// the authorization in progress; the browser then shows "Signed in. You
/// can close this tab". Anything else is answered with an error page and
/// does not end the wait; after [`MAX_REFUSED`] such requests, or when the
/// time runs out, the authorization fails.
///
/// ```no_run
/// # #[cfg(feature = "browser")]
/// # fn main() -> Result<(), mcp_sdk_client::ClientError> {
/// use mcp_sdk_client::auth::{FileTokenStore, LoopbackBrowser, OAuth};
/// let oauth = OAuth::builder(LoopbackBrowser::system())
///     .store(FileTokenStore::in_config_dir("my-app")?)
///     .build()?;
/// # let _ = oauth; Ok(()) }
/// # #[cfg(not(feature = "browser"))] fn main() {}
/// ```
pub struct LoopbackBrowser {
    open: Open,
    announce: Announce,
    timeout: Duration,
    /// The listener of the authorization about to start, and its redirect
    /// URI.
    pending: Mutex<Option<(TcpListener, Url)>>,
}

impl std::fmt::Debug for LoopbackBrowser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackBrowser")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl LoopbackBrowser {
    /// Opens each authorization URL with `open` (which says why when it
    /// cannot); the URL is also announced on stderr, for when no browser
    /// came up.
    pub fn new(open: impl Fn(&Url) -> Result<(), String> + Send + Sync + 'static) -> Self {
        LoopbackBrowser {
            open: Arc::new(open),
            announce: Arc::new(|url| {
                eprintln!(
                    "Sign in in your browser to authorize this client. If no browser opened, open this address on this machine:\n  {url}"
                )
            }),
            timeout: DEFAULT_SIGN_IN_TIMEOUT,
            pending: Mutex::new(None),
        }
    }

    /// Opens each authorization URL in the system's browser (the
    /// `webbrowser` crate: `$BROWSER`, then `xdg-open` and the desktop's
    /// openers on Unix, the default browser on macOS and Windows; only
    /// `http` and `https` URLs).
    #[cfg(feature = "browser")]
    pub fn system() -> Self {
        Self::new(|url| webbrowser::open(url.as_str()).map_err(|e| e.to_string()))
    }

    /// Tells the user about each authorization URL with `announce` instead
    /// of the message on stderr.
    pub fn announce(mut self, announce: impl Fn(&Url) + Send + Sync + 'static) -> Self {
        self.announce = Arc::new(announce);
        self
    }

    /// How long the user has to sign in ([`DEFAULT_SIGN_IN_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl AuthorizationHandler for LoopbackBrowser {
    async fn redirect_uri(&self, configured: &Url) -> Result<Option<Url>, ClientError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            auth_error(format!(
                "could not open a loopback port for the redirect: {e}"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| auth_error(format!("the loopback listener has no address: {e}")))?
            .port();
        let mut uri = Url::parse(&format!("http://127.0.0.1:{port}/"))
            .map_err(|e| auth_error(e.to_string()))?;
        uri.set_path(configured.path());
        *lock(&self.pending) = Some((listener, uri.clone()));
        Ok(Some(uri))
    }

    async fn authorize(&self, authorization_url: &Url) -> Result<Url, ClientError> {
        let Some((listener, redirect_uri)) = lock(&self.pending).take() else {
            return Err(auth_error(
                "the loopback listener was not opened before the authorization",
            ));
        };
        let state = authorization_url
            .query_pairs()
            .find(|(name, _)| name == "state")
            .map(|(_, value)| value.into_owned())
            .ok_or_else(|| auth_error("the authorization URL has no state"))?;
        let expected = Expected {
            path: redirect_uri.path().to_owned(),
            state,
            port: redirect_uri.port().unwrap_or(80),
        };
        (self.announce)(authorization_url);
        let open = self.open.clone();
        let url = authorization_url.clone();
        // Opening a browser may block (a text browser runs in the terminal).
        match tokio::task::spawn_blocking(move || open(&url)).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => tracing::warn!("could not open a browser: {why}"),
            Err(e) => tracing::warn!("opening a browser failed: {e}"),
        }
        wait_for_redirect(listener, expected, self.timeout).await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the redirect must look like.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    pub path: String,
    pub state: String,
    pub port: u16,
}

/// What one request turned out to be.
enum Outcome {
    /// The redirect: its full URL.
    Redirect(Url),
    /// Something else, answered with an error page.
    Refused(String),
}

/// Serves `listener` until the redirect arrives (its URL), or fails after
/// `timeout` or [`MAX_REFUSED`] other requests. The listener is closed on
/// return.
pub(crate) async fn wait_for_redirect(
    listener: TcpListener,
    expected: Expected,
    timeout: Duration,
) -> Result<Url, ClientError> {
    let expected = Arc::new(expected);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut connections: JoinSet<Outcome> = JoinSet::new();
    let mut refused: Vec<String> = Vec::new();
    let where_ = format!("http://127.0.0.1:{}{}", expected.port, expected.path);
    loop {
        tokio::select! {
            _ = &mut deadline => {
                return Err(auth_error(format!(
                    "no redirect came to {where_} within {} s{}; the sign-in was abandoned",
                    timeout.as_secs(),
                    refused_summary(&refused),
                )));
            }
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => {
                match accepted {
                    Ok((stream, _)) => {
                        let expected = expected.clone();
                        connections.spawn(serve_one(stream, expected));
                    }
                    Err(e) => {
                        tracing::debug!("the loopback listener's accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                match done {
                    Ok(Outcome::Redirect(url)) => return Ok(url),
                    Ok(Outcome::Refused(why)) => {
                        tracing::debug!("the loopback listener refused a request: {why}");
                        refused.push(why);
                        if refused.len() >= MAX_REFUSED {
                            return Err(auth_error(format!(
                                "the redirect listener at {where_} was sent {MAX_REFUSED} requests that were not the authorization's redirect; the sign-in was abandoned{}",
                                refused_summary(&refused),
                            )));
                        }
                    }
                    Err(e) => tracing::debug!("a loopback connection task failed: {e}"),
                }
            }
        }
    }
}

fn refused_summary(refused: &[String]) -> String {
    match refused.first() {
        None => String::new(),
        Some(first) => format!(
            " ({} other request{} refused, the first: {first})",
            refused.len(),
            if refused.len() == 1 { " was" } else { "s were" }
        ),
    }
}

/// Reads one request head from `stream`, answers it, and says what it was.
async fn serve_one(mut stream: TcpStream, expected: Arc<Expected>) -> Outcome {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(why)) => {
            respond(&mut stream, 400, "Bad request", &why).await;
            return Outcome::Refused(why);
        }
        Err(_) => return Outcome::Refused("a connection sent no request in time".into()),
    };
    let (status, title, outcome) = judge(&head, &expected);
    let message = match &outcome {
        Outcome::Redirect(url) => redirect_message(url),
        Outcome::Refused(why) => format!(
            "This address only takes the authorization server's answer to the sign-in in progress: {why}."
        ),
    };
    respond(&mut stream, status, title, &message).await;
    outcome
}

/// The request head: up to the blank line, at most [`MAX_HEAD_BYTES`].
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading the request failed: {e}"))?;
        if n == 0 {
            return Err("the connection closed before a whole request".into());
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(format!("a request head larger than {MAX_HEAD_BYTES} bytes"));
        }
    }
}

/// Whether the request in `head` is the redirect `expected`.
fn judge(head: &[u8], expected: &Expected) -> (u16, &'static str, Outcome) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let refuse = |status, title, why: &str| (status, title, Outcome::Refused(why.to_owned()));
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return refuse(400, "Bad request", "a request that is not HTTP/1.1"),
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return refuse(400, "Bad request", "a request without a method or target");
    };
    let host = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .unwrap_or_default();
    let port = expected.port;
    let own_hosts = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    if !own_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return refuse(400, "Wrong host", "a request for another host");
    }
    if method != "GET" {
        return refuse(405, "Method not allowed", "a request that is not a GET");
    }
    let Ok(url) = Url::parse(&format!("http://127.0.0.1:{port}{target}")) else {
        return refuse(400, "Bad request", "a request target that is not a path");
    };
    if url.path() != expected.path {
        return refuse(404, "Not found", "a request for another path");
    }
    let mut states = url
        .query_pairs()
        .filter(|(name, _)| name == "state")
        .map(|(_, v)| v);
    match (states.next(), states.next()) {
        (Some(state), None) if constant_time_eq(state.as_bytes(), expected.state.as_bytes()) => {
            (200, "Sign-in", Outcome::Redirect(url))
        }
        (None, _) => refuse(400, "Not this sign-in", "a redirect without a state"),
        _ => refuse(
            400,
            "Not this sign-in",
            "a redirect with another state than the sign-in's",
        ),
    }
}

/// Compares without stopping at the first difference, so that the time
/// taken says nothing about how much of a guessed `state` was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the browser shows once the redirect came.
fn redirect_message(url: &Url) -> String {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    match (param("code"), param("error")) {
        (_, Some(error)) => format!(
            "The authorization server refused the sign-in ({error}). You can close this tab."
        ),
        (Some(_), None) => {
            "Signed in. You can close this tab and go back to the application.".to_owned()
        }
        (None, None) => "The authorization server's answer has no code, so the sign-in failed. You can close this tab.".to_owned(),
    }
}

/// Sends a small HTML page and closes the connection.
async fn respond(stream: &mut TcpStream, status: u16, title: &str, message: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><p>{}</p></body></html>\n",
        escape_html(title),
        escape_html(message)
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\n\
         content-length: {}\r\ncache-control: no-store\r\nreferrer-policy: no-referrer\r\n\
         content-security-policy: default-src 'none'\r\nx-content-type-options: nosniff\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected {
        Expected {
            path: "/callback".into(),
            state: "the-state".into(),
            port: 4321,
        }
    }

    fn judged(head: &str) -> Result<Url, String> {
        match judge(head.as_bytes(), &expected()).2 {
            Outcome::Redirect(url) => Ok(url),
            Outcome::Refused(why) => Err(why),
        }
    }

    #[test]
    fn only_the_redirect_with_the_state_is_taken() {
        let url =
            judged("GET /callback?code=c&state=the-state HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n\r\n")
                .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:4321/callback?code=c&state=the-state"
        );
        for (head, why) in [
            (
                "GET /callback?code=c&state=other HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n\r\n",
                "another state",
            ),
            (
                "GET /callback?code=c&state=the-stat HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n\r\n",
                "another state",
            ),
            (
                "GET /callback?code=c&state=the-state&state=x HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n\r\n",
                "another state",
            ),
            (
                "GET /callback?code=c HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n\r\n",
                "without a state",
            ),
            (
                "GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n\r\n",
                "another path",
            ),
            (
                "POST /callback?code=c&state=the-state HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n\r\n",
                "not a GET",
            ),
            (
                "GET /callback?code=c&state=the-state HTTP/1.1\r\nHost: evil.example:4321\r\n\r\n",
                "another host",
            ),
            (
                "GET /callback?code=c&state=the-state HTTP/1.1\r\n\r\n",
                "another host",
            ),
            ("\x16\x03\x01 hello\r\n\r\n", "not HTTP"),
        ] {
            let refused = judged(head).unwrap_err();
            assert!(refused.contains(why), "{head:?}: {refused}");
        }
    }

    #[test]
    fn the_page_escapes_what_the_server_said() {
        let url = Url::parse("http://127.0.0.1/callback?error=%3Cscript%3E&state=s").unwrap();
        let message = redirect_message(&url);
        assert!(escape_html(&message).contains("&lt;script&gt;"));
        assert!(!escape_html(&message).contains("<script>"));
    }
}
