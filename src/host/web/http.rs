//! The web UI's HTTP plumbing: the guard every request passes (Host and
//! Origin checks, JSON-only actions, the framing and caching headers),
//! bounded JSON bodies, JSON and error answers, and Server-Sent Events.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::middleware::Next;
use axum::response::IntoResponse;
use futures_util::{Stream, StreamExt};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, ORIGIN};
use http::{HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// An answer.
pub type Response = axum::response::Response;

/// The largest request body the page may send (a tool's arguments, a chat
/// message, a form): far more than a person types.
pub const MAX_BODY: usize = 1 << 20;

/// How long a whole request body may take to arrive; later, 408 and the
/// connection closes, so a stalled upload holds nothing for longer.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A request the UI refuses, with the status and the message the page
/// shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with this status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such thing.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

/// The answer carrying it: `{"error": message}`.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json(self.status, &serde_json::json!({ "error": self.message }))
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|e| {
        format!("{{\"error\":\"the answer could not be written as JSON: {e}\"}}").into_bytes()
    });
    with_type(status, "application/json", Bytes::from(body))
}

/// What every answer says about framing: no other page may put this one
/// in a frame, or it could overlay the approval dialogs and trick a person
/// into clicking them (clickjacking). `X-Frame-Options` for old browsers,
/// the CSP `frame-ancestors` directive for the rest.
pub const FRAME_OPTIONS: &str = "DENY";

/// The `Content-Security-Policy` of every answer: see [`FRAME_OPTIONS`].
pub const CONTENT_SECURITY_POLICY: &str = "frame-ancestors 'none'";

/// An answer of `content_type` with `body`.
pub fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// The guard in front of every route: the [`Allowed`] Host and Origin
/// checks; every POST must say it sends JSON (even one without a body: no
/// HTML form, of another site, can); and every answer, errors and 404s
/// included, is not to be cached (the assets change with the binary), not
/// sniffed, and never framed by another page.
pub async fn guard(
    axum::extract::State(allowed): axum::extract::State<Arc<Allowed>>,
    request: Request,
    next: Next,
) -> Response {
    let checked = allowed.check(&request).and_then(|()| {
        if request.method() == Method::POST {
            check_json(&request)
        } else {
            Ok(())
        }
    });
    let mut response = match checked {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static(FRAME_OPTIONS));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

/// The names the page may be reached by: the listening address and
/// `localhost` on its port. Anything else in `Host` is a DNS-rebinding
/// attempt or a misconfiguration.
#[derive(Debug, Clone)]
pub struct Allowed {
    hosts: Vec<String>,
}

impl Allowed {
    /// The hosts allowed for a server listening on `addr`: the loopback
    /// names on its port (and the address itself, when it is loopback).
    pub fn for_addr(addr: SocketAddr) -> Self {
        let port = addr.port();
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        if addr.ip().is_loopback() && !hosts.contains(&addr.to_string()) {
            hosts.insert(0, addr.to_string());
        }
        Allowed { hosts }
    }

    /// Checks `Host` (it must name this server) and `Origin` (absent, as
    /// from curl, or this server's own page): the page's endpoints can
    /// call tools and answer sampling requests, so no other site may
    /// reach them from a browser.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), ApiError> {
        let forbidden = |message: String| ApiError::new(StatusCode::FORBIDDEN, message);
        let host = request
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if !self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Err(forbidden(format!(
                "the Host {host:?} is not this server's (open http://{}/ instead)",
                self.hosts[0]
            )));
        }
        if let Some(origin) = request.headers().get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("(not text)");
            let same = origin
                .strip_prefix("http://")
                .is_some_and(|o| self.hosts.iter().any(|h| h.eq_ignore_ascii_case(o)));
            if !same {
                return Err(forbidden(format!(
                    "requests from the origin {origin} are refused: only this server's own \
                     page may use its API"
                )));
            }
        }
        Ok(())
    }
}

/// The request's JSON body as `T`: it must say `Content-Type:
/// application/json` (which no plain HTML form can send, a second guard
/// against other sites), fit in [`MAX_BODY`], arrive within
/// [`BODY_TIMEOUT`] and parse.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        check_json(&request)?;
        let body = read_bounded(request.into_body(), BODY_TIMEOUT).await?;
        serde_json::from_slice(&body)
            .map(Json)
            .map_err(|e| ApiError::bad_request(format!("the body is not the JSON expected: {e}")))
    }
}

/// Checks that the request says `Content-Type: application/json` (415
/// otherwise).
pub fn check_json<B>(request: &Request<B>) -> Result<(), ApiError> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON, sent with Content-Type: application/json",
        ))
    }
}

/// The most of an oversized body that is read (and dropped) before the
/// 413 goes out: a client still sending when the server answers and closes
/// would see a broken pipe instead of the message.
const MAX_DRAIN: usize = 16 << 20;

/// The body, at most [`MAX_BODY`] bytes of it (413 beyond), all of it
/// within `timeout` (408 later).
async fn read_bounded(body: Body, timeout: std::time::Duration) -> Result<Bytes, ApiError> {
    tokio::time::timeout(timeout, read_all(body))
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} s", timeout.as_secs_f64()),
            ))
        })
}

async fn read_all(body: Body) -> Result<Bytes, ApiError> {
    let mut chunks = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(data) = chunks.next().await {
        let data =
            data.map_err(|e| ApiError::bad_request(format!("the body could not be read: {e}")))?;
        seen += data.len();
        if seen <= MAX_BODY {
            kept.extend_from_slice(&data);
        } else if seen > MAX_DRAIN {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    Ok(Bytes::from(kept))
}

/// A Server-Sent Events answer streaming `events` (already framed).
pub fn event_stream(events: impl Stream<Item = Bytes> + Send + 'static) -> Response {
    let body = Body::from_stream(events.map(Ok::<_, Infallible>));
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (
                http::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response()
}

/// One SSE event: `event: NAME`, then the data (JSON, one line).
pub fn sse_event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that sends one byte and then stalls, like a client that
    /// declared more than it sends.
    fn stalled_body() -> Body {
        let first = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"{"))]);
        Body::from_stream(first.chain(futures_util::stream::pending()))
    }

    #[tokio::test]
    async fn a_stalled_body_gets_408_instead_of_being_held() {
        // Short, so the test is quick; the bound, not its length, is tested.
        let timeout = std::time::Duration::from_millis(50);
        let err = read_bounded(stalled_body(), timeout).await.unwrap_err();
        assert_eq!(err.status, StatusCode::REQUEST_TIMEOUT);
        assert!(err.message.contains("did not arrive"), "{}", err.message);
        let whole = Body::from("{}");
        assert_eq!(read_bounded(whole, BODY_TIMEOUT).await.unwrap(), "{}");
    }

    fn request(host: &str, origin: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::get("/api/state").header(HOST, host);
        if let Some(origin) = origin {
            builder = builder.header(ORIGIN, origin);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn host_and_origin_must_be_this_server() {
        let allowed = Allowed::for_addr("127.0.0.1:8080".parse().unwrap());
        assert!(allowed.check(&request("127.0.0.1:8080", None)).is_ok());
        assert!(allowed.check(&request("localhost:8080", None)).is_ok());
        assert!(allowed
            .check(&request("127.0.0.1:8080", Some("http://localhost:8080")))
            .is_ok());
        for (host, origin) in [
            ("evil.example:8080", None),
            ("127.0.0.1:9999", None),
            ("127.0.0.1:8080", Some("http://evil.example")),
            ("127.0.0.1:8080", Some("https://127.0.0.1:8080")),
            ("127.0.0.1:8080", Some("null")),
            ("0.0.0.0:8080", None),
        ] {
            let error = allowed.check(&request(host, origin)).unwrap_err();
            assert_eq!(error.status, StatusCode::FORBIDDEN, "{host} {origin:?}");
        }
    }
}
