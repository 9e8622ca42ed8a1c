//! The Streamable HTTP transport, with the `2024-11-05` HTTP+SSE transport
//! as a fallback for old servers.
//!
//! Each message is POSTed to the server's MCP URL. The answer to a request
//! comes back as the POST's JSON body or as an SSE stream; when such a
//! stream drops before the answer, the transport waits the server's `retry`
//! hint and resumes it with a GET carrying `Last-Event-ID`, losing nothing.
//! Once initialized, a GET stream carries what the server sends on its own.
//!
//! In revision `2026-07-28` (set with
//! [`Transport::set_protocol_version`]) there are no sessions, no GET
//! stream and no resumption: every POST carries `MCP-Protocol-Version`,
//! `Mcp-Method` and, for `tools/call`, `prompts/get` and `resources/read`,
//! `Mcp-Name`; a JSON-RPC error in the body of a 4xx answers its request;
//! a broken response stream fails its request with
//! [`ClientError::StreamLost`]; and cancelling a request closes its response
//! stream instead of sending `notifications/cancelled`.

mod legacy;
mod sse;

use super::{Inbox, Incoming, Transport};
use crate::headers::encode_value;
use crate::ClientError;
use async_trait::async_trait;
use mcp_sdk::jsonrpc::{decode, ErrorResponse};
use mcp_sdk::{Message, ProtocolVersion, RequestId};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use sse::{SseEvent, SseParser};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The header naming the session.
const SESSION_ID: &str = "mcp-session-id";
/// The header naming the negotiated revision.
const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// The header naming the method (2026-07-28).
const MCP_METHOD: &str = "mcp-method";
/// The header naming the tool, prompt or resource (2026-07-28).
const MCP_NAME: &str = "mcp-name";
/// The largest JSON body accepted: 64 MiB.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How long to wait before resuming a stream when the server gave no
/// `retry` hint.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// The Streamable HTTP transport.
///
/// ```no_run
/// # async fn run() -> Result<(), mcp_sdk_client::ClientError> {
/// use mcp_sdk_client::{Client, transport::HttpTransport};
///
/// let transport = HttpTransport::builder("http://127.0.0.1:3000/mcp")
///     .header("authorization", "Bearer my-token")
///     .build()?;
/// let client = Client::connect(transport).await?;
/// client.ping().await?;
/// client.close().await; // DELETE ends the session
/// # Ok(()) }
/// ```
pub struct HttpTransport {
    shared: Arc<Shared>,
    inbox: Inbox,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.shared.url.as_str())
            .field("session", &*lock(&self.shared.session))
            .finish_non_exhaustive()
    }
}

/// Settings for an [`HttpTransport`].
#[derive(Debug, Clone)]
pub struct HttpTransportBuilder {
    url: String,
    headers: Vec<(String, String)>,
    client: Option<reqwest::Client>,
    max_resume_attempts: u32,
    legacy_fallback: bool,
    standalone_stream: bool,
    #[cfg(feature = "auth")]
    oauth: Option<crate::auth::OAuth>,
}

impl HttpTransportBuilder {
    /// Authorizes with OAuth 2.1: every request carries the access token,
    /// and a 401 or a 403 for want of scope starts an authorization (see
    /// [`auth`](crate::auth)).
    #[cfg(feature = "auth")]
    pub fn oauth(mut self, oauth: crate::auth::OAuth) -> Self {
        self.oauth = Some(oauth);
        self
    }

    /// Sends this header with every request (an `Authorization` token, for
    /// instance).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Uses this `reqwest` client (for proxies, TLS roots, timeouts).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// How many times in a row a dropped stream is resumed before its
    /// request fails; 5 by default.
    pub fn max_resume_attempts(mut self, attempts: u32) -> Self {
        self.max_resume_attempts = attempts;
        self
    }

    /// Whether to try the `2024-11-05` HTTP+SSE transport when the server
    /// refuses the `initialize` POST with a 4xx status; on by default.
    pub fn legacy_fallback(mut self, enabled: bool) -> Self {
        self.legacy_fallback = enabled;
        self
    }

    /// Whether to open the GET stream for messages the server sends on its
    /// own once initialized; on by default.
    pub fn standalone_stream(mut self, enabled: bool) -> Self {
        self.standalone_stream = enabled;
        self
    }

    /// The transport. Fails on a URL that does not parse or a header that
    /// is not valid.
    pub fn build(self) -> Result<HttpTransport, ClientError> {
        let url = Url::parse(&self.url)
            .map_err(|e| ClientError::Transport(format!("invalid URL {}: {e}", self.url)))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| ClientError::Transport(format!("invalid header name {name}: {e}")))?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|e| {
                ClientError::Transport(format!("invalid value for header {name}: {e}"))
            })?;
            headers.append(name, value);
        }
        let http = match self.client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .tcp_nodelay(true)
                .build()
                .map_err(|e| ClientError::Transport(e.to_string()))?,
        };
        let (tx, inbox) = Inbox::new();
        Ok(HttpTransport {
            shared: Arc::new(Shared {
                http,
                url,
                headers,
                tx,
                session: Mutex::new(None),
                version: Mutex::new(None),
                legacy: Mutex::new(None),
                streams: Mutex::new(HashMap::new()),
                stop: CancellationToken::new(),
                max_resume_attempts: self.max_resume_attempts,
                legacy_fallback: self.legacy_fallback,
                standalone_stream: self.standalone_stream,
                #[cfg(feature = "auth")]
                oauth: self.oauth,
            }),
            inbox,
        })
    }
}

impl HttpTransport {
    /// A transport to the MCP endpoint at `url`, with default settings.
    pub fn new(url: impl Into<String>) -> Result<Self, ClientError> {
        Self::builder(url).build()
    }

    /// Settings for a transport to the MCP endpoint at `url`.
    pub fn builder(url: impl Into<String>) -> HttpTransportBuilder {
        HttpTransportBuilder {
            url: url.into(),
            headers: Vec::new(),
            client: None,
            max_resume_attempts: 5,
            legacy_fallback: true,
            standalone_stream: true,
            #[cfg(feature = "auth")]
            oauth: None,
        }
    }

    /// The session id the server gave, once initialized.
    pub fn session_id(&self) -> Option<String> {
        lock(&self.shared.session).clone()
    }
}

/// What the transport's tasks share.
struct Shared {
    http: reqwest::Client,
    url: Url,
    headers: HeaderMap,
    tx: mpsc::Sender<Incoming>,
    session: Mutex<Option<String>>,
    version: Mutex<Option<ProtocolVersion>>,
    /// The message URL, once fallen back to the legacy transport.
    legacy: Mutex<Option<Url>>,
    /// The response streams being read, by request, to close them when the
    /// request is cancelled (2026-07-28).
    streams: Mutex<HashMap<RequestId, CancellationToken>>,
    /// Stops every stream task.
    stop: CancellationToken,
    max_resume_attempts: u32,
    legacy_fallback: bool,
    standalone_stream: bool,
    #[cfg(feature = "auth")]
    oauth: Option<crate::auth::OAuth>,
}

impl Shared {
    /// Sends the request `build` makes, with the access token when there
    /// is authorization; a 401, or a 403 that asks for more scope, is
    /// answered by authorizing and sending it again, at most
    /// [`MAX_AUTHORIZATIONS`](crate::auth::MAX_AUTHORIZATIONS) times.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        #[cfg(feature = "auth")]
        if let Some(oauth) = &self.oauth {
            use crate::auth::{Challenge, MAX_AUTHORIZATIONS};
            let mut authorizations = 0;
            let mut nonce_retries = 0;
            loop {
                let mut request = build().build().map_err(transport_error)?;
                let generation = oauth.authorize_request(&self.url, &mut request)?;
                let response = self.http.execute(request).await.map_err(transport_error)?;
                let status = response.status();
                let new_nonce = oauth.server_nonce(&response);
                if !matches!(status.as_u16(), 401 | 403) {
                    return Ok(response);
                }
                let challenge = Challenge::parse(
                    response
                        .headers()
                        .get_all(reqwest::header::WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                );
                if challenge.wants_dpop_nonce() && new_nonce && nonce_retries < 2 {
                    // The server wants its nonce in the proof (RFC 9449
                    // §9): the same request again, with it.
                    nonce_retries += 1;
                    continue;
                }
                if status == StatusCode::FORBIDDEN && !challenge.insufficient_scope() {
                    // Refused for another reason than scope: more
                    // authorization will not help.
                    return Ok(response);
                }
                let step_up = status == StatusCode::FORBIDDEN;
                if authorizations == MAX_AUTHORIZATIONS {
                    let reason = format!(
                        "the server still answered HTTP {status} after {MAX_AUTHORIZATIONS} authorizations; giving up"
                    );
                    return Err(if step_up {
                        ClientError::InsufficientScope {
                            scope: challenge.scope.clone().unwrap_or_default(),
                            reason,
                        }
                    } else {
                        ClientError::Authorization(reason)
                    });
                }
                authorizations += 1;
                match oauth.challenged(&self.url, &challenge, generation).await {
                    Ok(()) => {}
                    // The step-up was refused (the authorization server
                    // would not grant the scope): say which scope.
                    Err(ClientError::Authorization(reason)) if step_up => {
                        return Err(ClientError::InsufficientScope {
                            scope: challenge.scope.clone().unwrap_or_default(),
                            reason,
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        build().send().await.map_err(transport_error)
    }

    /// A request to the MCP URL with the headers every request carries.
    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, self.url.clone())
            .headers(self.headers.clone());
        if let Some(session) = lock(&self.session).as_deref() {
            req = req.header(SESSION_ID, session);
        }
        if let Some(version) = *lock(&self.version) {
            req = req.header(PROTOCOL_VERSION, version.as_str());
        }
        req
    }

    /// Whether the revision is of the stateless era (`2026-07-28` on).
    fn stateless(&self) -> bool {
        lock(&self.version).is_some_and(|v| !v.is_session_era())
    }

    async fn deliver(&self, incoming: Incoming) {
        let _ = self.tx.send(incoming).await;
    }

    /// The error for a 404 on a session we had.
    fn expired(&self) -> Option<ClientError> {
        lock(&self.session).clone().map(ClientError::SessionExpired)
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&self, msg: Message) -> Result<(), ClientError> {
        self.send_with_headers(msg, Vec::new()).await
    }

    async fn send_with_headers(
        &self,
        msg: Message,
        headers: Vec<(String, String)>,
    ) -> Result<(), ClientError> {
        let shared = &self.shared;
        let legacy_endpoint = lock(&shared.legacy).clone();
        if let Some(endpoint) = legacy_endpoint {
            return legacy::post(shared, &endpoint, &msg).await;
        }
        let awaiting = match &msg {
            Message::Request(r) => Some(r.id.clone()),
            _ => None,
        };
        let is_initialize = msg.method() == Some("initialize");
        let stateless = shared.stateless();
        let mut request = shared
            .request(reqwest::Method::POST)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json");
        if stateless {
            request = request.headers(request_metadata(&msg, headers)?);
        }
        let body = msg.to_vec();
        let response = shared
            .send(|| {
                request
                    .try_clone()
                    .expect("a request with a byte body clones")
                    .body(body.clone())
            })
            .await?;
        let status = response.status();
        // A step-up the transport could not meet (it has no authorization,
        // or the authorization server refused): in either era, the error
        // that names the scope, not the body's JSON-RPC error.
        #[cfg(feature = "auth")]
        if let Some(scope) = step_up_asked(&response) {
            return Err(unmet_step_up(scope, response).await);
        }

        if stateless && !status.is_success() {
            // A stateless server answers with 4xx and a JSON-RPC error in
            // the body (an unsupported revision, a header mismatch, a
            // missing capability, an unknown method): that is the answer.
            let body = read_body(response).await.unwrap_or_default();
            if let (Some(id), Ok(Message::Error(e))) = (&awaiting, decode(&body)) {
                if e.id.is_none() || e.id.as_ref() == Some(id) {
                    let answer = ErrorResponse {
                        id: Some(id.clone()),
                        error: e.error,
                    };
                    shared
                        .deliver(Incoming::Message(Message::Error(answer)))
                        .await;
                    return Ok(());
                }
            }
            return Err(http_error(status, &body));
        }

        if is_initialize
            && status.is_client_error()
            && !matches!(status.as_u16(), 401 | 403)
            && shared.legacy_fallback
        {
            // A server from before Streamable HTTP answers the POST with
            // 4xx; try the old transport (spec: backwards compatibility).
            match legacy::open(shared).await {
                Ok(endpoint) => {
                    tracing::info!(%endpoint, "the server speaks the 2024-11-05 HTTP+SSE transport; using it");
                    *lock(&shared.legacy) = Some(endpoint.clone());
                    return legacy::post(shared, &endpoint, &msg).await;
                }
                Err(e) => tracing::debug!("no legacy HTTP+SSE transport either: {e}"),
            }
        }
        if status == StatusCode::NOT_FOUND {
            if let Some(expired) = shared.expired() {
                return Err(expired);
            }
        }
        if status.is_success()
            && msg.method() == Some("notifications/initialized")
            && shared.standalone_stream
        {
            // Initialized: open the stream for what the server sends unasked
            // before going on, so that nothing it sends is missed and later
            // requests find it open.
            let first = resume(shared, None).await;
            tokio::spawn(read_standalone_stream(self.shared.clone(), first));
        }
        if status == StatusCode::ACCEPTED {
            return match awaiting {
                None => Ok(()),
                Some(_) => Err(ClientError::Protocol(
                    "the server answered a request with 202 Accepted and no response".into(),
                )),
            };
        }
        if !status.is_success() {
            return refusal(response).await;
        }
        if is_initialize {
            if let Some(session) = response
                .headers()
                .get(SESSION_ID)
                .and_then(|v| v.to_str().ok())
            {
                *lock(&shared.session) = Some(session.to_owned());
            }
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            let shared = self.shared.clone();
            let stop = shared.stop.child_token();
            if let (true, Some(id)) = (stateless, &awaiting) {
                lock(&shared.streams).insert(id.clone(), stop.clone());
            }
            tokio::spawn(async move {
                read_response_stream(&shared, response, awaiting.clone(), &stop).await;
                if let Some(id) = awaiting {
                    lock(&shared.streams).remove(&id);
                }
            });
            Ok(())
        } else if content_type.starts_with("application/json") {
            let body = read_body(response).await?;
            match decode(&body) {
                Ok(answer) => {
                    shared.deliver(Incoming::Message(answer)).await;
                    Ok(())
                }
                Err(e) if awaiting.is_some() => Err(ClientError::Protocol(format!(
                    "the server answered with a body that is not JSON-RPC: {e}"
                ))),
                Err(e) => {
                    tracing::warn!("ignored a JSON body that is not JSON-RPC: {e}");
                    Ok(())
                }
            }
        } else if awaiting.is_none() {
            Ok(())
        } else {
            Err(ClientError::Protocol(format!(
                "the server answered with Content-Type {content_type:?}, neither JSON nor an event stream"
            )))
        }
    }

    async fn receive(&self) -> Option<Incoming> {
        self.inbox.receive().await
    }

    fn set_protocol_version(&self, version: ProtocolVersion) {
        *lock(&self.shared.version) = Some(version);
    }

    fn clear_protocol_version(&self) {
        *lock(&self.shared.version) = None;
    }

    fn mirrors_headers(&self) -> bool {
        lock(&self.shared.legacy).is_none()
    }

    #[cfg(feature = "auth")]
    fn user_activity(&self) -> u64 {
        self.shared
            .oauth
            .as_ref()
            .map_or(0, crate::auth::OAuth::user_activity)
    }

    /// In revision `2026-07-28`, closes the request's response stream (a
    /// JSON answer's connection closes when the caller drops the send).
    fn cancel(&self, id: &RequestId) -> bool {
        if !self.shared.stateless() {
            return false;
        }
        if let Some(stop) = lock(&self.shared.streams).remove(id) {
            stop.cancel();
        }
        true
    }

    /// Stops the streams and deletes the session.
    async fn close(&self) {
        self.shared.stop.cancel();
        if lock(&self.shared.session).is_some() {
            let _ = self
                .shared
                .send(|| self.shared.request(reqwest::Method::DELETE))
                .await;
            *lock(&self.shared.session) = None;
        }
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        // Delete the session, if a runtime is there to do it.
        let session = lock(&self.shared.session).take();
        if let (Some(session), Ok(rt)) = (session, tokio::runtime::Handle::try_current()) {
            let mut req = self
                .shared
                .http
                .delete(self.shared.url.clone())
                .headers(self.shared.headers.clone())
                .header(SESSION_ID, session);
            if let Some(version) = *lock(&self.shared.version) {
                req = req.header(PROTOCOL_VERSION, version.as_str());
            }
            rt.spawn(async move {
                let _ = req.send().await;
            });
        }
    }
}

/// The headers a stateless request carries besides `MCP-Protocol-Version`:
/// `Mcp-Method`, `Mcp-Name` where the method has one, and `extra` (the
/// `Mcp-Param-{Name}` headers).
fn request_metadata(msg: &Message, extra: Vec<(String, String)>) -> Result<HeaderMap, ClientError> {
    let mut headers = HeaderMap::new();
    let invalid =
        |e: &dyn std::fmt::Display| ClientError::Transport(format!("invalid header: {e}"));
    if let Message::Request(request) = msg {
        headers.insert(
            MCP_METHOD,
            HeaderValue::try_from(request.method.as_str()).map_err(|e| invalid(&e))?,
        );
        let key = match request.method.as_str() {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" => Some("uri"),
            // The tasks extension routes by task (SEP-2663).
            "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
            _ => None,
        };
        let name = key.and_then(|k| request.params.as_ref()?.get(k)?.as_str());
        if let Some(name) = name {
            headers.insert(
                MCP_NAME,
                HeaderValue::try_from(encode_value(name)).map_err(|e| invalid(&e))?,
            );
        }
    }
    for (name, value) in extra {
        let name = HeaderName::try_from(name.as_str()).map_err(|e| invalid(&e))?;
        headers.insert(name, HeaderValue::try_from(value).map_err(|e| invalid(&e))?);
    }
    Ok(headers)
}

/// An error status becomes [`ClientError::Http`], with the message of the
/// JSON-RPC error in the body if there is one, or else the body's text.
///
/// A 403 whose challenge asks for more scope (which reaches here only when
/// the transport has no authorization to step up with) becomes
/// [`ClientError::InsufficientScope`], naming the scope.
async fn refusal(response: reqwest::Response) -> Result<(), ClientError> {
    let status = response.status();
    #[cfg(feature = "auth")]
    if let Some(scope) = step_up_asked(&response) {
        return Err(unmet_step_up(scope, response).await);
    }
    let body = read_body(response).await.unwrap_or_default();
    Err(http_error(status, &body))
}

/// The scopes a 403 `insufficient_scope` challenge asks for (empty when
/// it names none); `None` for any other answer.
#[cfg(feature = "auth")]
fn step_up_asked(response: &reqwest::Response) -> Option<String> {
    if response.status() != StatusCode::FORBIDDEN {
        return None;
    }
    let challenge = crate::auth::Challenge::parse(
        response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    challenge
        .insufficient_scope()
        .then(|| challenge.scope.unwrap_or_default())
}

/// [`ClientError::InsufficientScope`] for a step-up challenge asking for
/// `scope` that reached a transport with no authorization to meet it.
#[cfg(feature = "auth")]
async fn unmet_step_up(scope: String, response: reqwest::Response) -> ClientError {
    let status = response.status();
    let body = read_body(response).await.unwrap_or_default();
    let message = http_message(status, &body);
    ClientError::InsufficientScope {
        scope,
        reason: format!("no authorization to step up with (HTTP {status}: {message})"),
    }
}

/// [`ClientError::Http`] for an error status and its body.
fn http_error(status: StatusCode, body: &[u8]) -> ClientError {
    ClientError::Http {
        status: status.as_u16(),
        message: http_message(status, body),
    }
}

/// What an error answer says: the message of the JSON-RPC error in
/// `body`, else its text (shortened), else the status's reason.
fn http_message(status: StatusCode, body: &[u8]) -> String {
    let mut message: String = match decode(body) {
        Ok(Message::Error(e)) => e.error.message,
        _ => String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(300)
            .collect(),
    };
    if message.is_empty() {
        message = status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_owned();
    }
    message
}

/// Reads a whole body, up to [`MAX_BODY_BYTES`].
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ClientError::Protocol(format!(
                "the server's answer is larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(e: reqwest::Error) -> ClientError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    ClientError::Transport(text)
}

/// What reading one SSE connection came to.
enum StreamEnd {
    /// The awaited answer arrived.
    Answered,
    /// The connection ended (cleanly or not) before it.
    Dropped(String),
    /// The transport is stopping.
    Stopped,
}

/// Reads one SSE connection, delivering each message; stops at the answer
/// to `awaiting`, if given.
async fn read_events(
    shared: &Shared,
    response: &mut reqwest::Response,
    parser: &mut SseParser,
    awaiting: Option<&RequestId>,
    saw_event: &mut bool,
    stop: &CancellationToken,
) -> StreamEnd {
    let mut events: Vec<SseEvent> = Vec::new();
    parser.begin_connection();
    loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            _ = stop.cancelled() => return StreamEnd::Stopped,
        };
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return StreamEnd::Dropped("the server closed the stream".into()),
            Err(e) => return StreamEnd::Dropped(transport_error(e).to_string()),
        };
        if parser.feed(&chunk, &mut events).is_err() {
            return StreamEnd::Dropped("the server sent an event over 16 MiB".into());
        }
        for event in events.drain(..) {
            *saw_event = true;
            if event.event != "message" || event.data.trim().is_empty() {
                continue; // a priming event, or one MCP does not define
            }
            match decode(event.data.as_bytes()) {
                Ok(msg) => {
                    let answered = match (&msg, awaiting) {
                        (Message::Response(r), Some(id)) => &r.id == id,
                        (Message::Error(e), Some(id)) => e.id.as_ref() == Some(id),
                        _ => false,
                    };
                    let incoming = match awaiting {
                        Some(id) => Incoming::Related {
                            request: id.clone(),
                            message: msg,
                        },
                        None => Incoming::Message(msg),
                    };
                    shared.deliver(incoming).await;
                    if answered {
                        return StreamEnd::Answered;
                    }
                }
                Err(e) => match (e.id.as_ref(), awaiting) {
                    (Some(bad), Some(id)) if bad == id => {
                        shared
                            .deliver(Incoming::Failed {
                                id: id.clone(),
                                error: ClientError::Protocol(format!(
                                    "the server's answer is invalid: {e}"
                                )),
                            })
                            .await;
                        return StreamEnd::Answered;
                    }
                    _ => tracing::warn!("ignored an SSE event that is not JSON-RPC: {e}"),
                },
            }
        }
    }
}

/// Opens a GET stream that resumes after `last_event_id`.
async fn resume(
    shared: &Shared,
    last_event_id: Option<&str>,
) -> Result<reqwest::Response, ClientError> {
    let response = shared
        .send(|| {
            let req = shared
                .request(reqwest::Method::GET)
                .header(ACCEPT, "text/event-stream");
            match last_event_id {
                Some(id) => req.header("last-event-id", id),
                None => req,
            }
        })
        .await?;
    match response.status() {
        s if s.is_success() => Ok(response),
        StatusCode::NOT_FOUND if shared.expired().is_some() => Err(shared.expired().unwrap()),
        s => {
            let body = read_body(response).await.unwrap_or_default();
            let what = if last_event_id.is_some() {
                "resuming the stream"
            } else {
                "opening the stream"
            };
            Err(ClientError::Http {
                status: s.as_u16(),
                message: format!("{what} was refused: {}", http_message(s, &body)),
            })
        }
    }
}

/// Whether a resumption was refused for its `Last-Event-ID`, the session
/// living on: 410 Gone (the server no longer keeps the events after it),
/// or another 4xx that is not about the session (404), the method (405),
/// authorization (401, 403) or the rate (429). The stream may then be
/// opened afresh, without the events missed.
fn events_gone(e: &ClientError) -> bool {
    matches!(e, ClientError::Http { status, .. }
        if (400..500).contains(status) && !matches!(status, 401 | 403 | 404 | 405 | 429))
}

/// Reads the SSE answer to one POSTed request, resuming it after drops
/// until the answer arrives; fails the request when it cannot.
async fn read_response_stream(
    shared: &Shared,
    mut response: reqwest::Response,
    awaiting: Option<RequestId>,
    stop: &CancellationToken,
) {
    let mut parser = SseParser::default();
    let mut attempts = 0;
    loop {
        let mut saw_event = false;
        let why = match read_events(
            shared,
            &mut response,
            &mut parser,
            awaiting.as_ref(),
            &mut saw_event,
            stop,
        )
        .await
        {
            StreamEnd::Answered | StreamEnd::Stopped => return,
            StreamEnd::Dropped(why) => why,
        };
        let Some(id) = awaiting.clone() else {
            return; // nothing to wait for on a notification's stream
        };
        if shared.stateless() {
            // No resumption in 2026-07-28: the request is lost.
            let error = ClientError::StreamLost(format!("{why} before the answer"));
            shared.deliver(Incoming::Failed { id, error }).await;
            return;
        }
        if saw_event {
            attempts = 0;
        }
        let Some(last) = parser.last_event_id.clone() else {
            let error = ClientError::Transport(format!(
                "{why} before the answer, and the stream cannot be resumed (no event ids)"
            ));
            shared.deliver(Incoming::Failed { id, error }).await;
            return;
        };
        attempts += 1;
        if attempts > shared.max_resume_attempts {
            let error = ClientError::Transport(format!(
                "{why}; resuming failed {} times",
                shared.max_resume_attempts
            ));
            shared.deliver(Incoming::Failed { id, error }).await;
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(parser.retry.unwrap_or(DEFAULT_RETRY)) => {}
            _ = stop.cancelled() => return,
        }
        tracing::debug!(%id, last_event_id = %last, "resuming a dropped response stream: {why}");
        match resume(shared, Some(&last)).await {
            Ok(r) => response = r,
            Err(e @ ClientError::SessionExpired(_)) => {
                shared.deliver(Incoming::Failed { id, error: e }).await;
                return;
            }
            Err(e) => {
                let error = ClientError::Transport(format!("{why}, and resuming it failed: {e}"));
                shared.deliver(Incoming::Failed { id, error }).await;
                return;
            }
        }
    }
}

/// The GET stream for messages the server sends on its own, reopened
/// (after the server's `retry` hint) whenever it ends.
async fn read_standalone_stream(
    shared: Arc<Shared>,
    first: Result<reqwest::Response, ClientError>,
) {
    let mut parser = SseParser::default();
    let mut failures = 0u32;
    let mut next = Some(first);
    loop {
        let opened = match next.take() {
            Some(first) => first,
            None => resume(&shared, parser.last_event_id.as_deref()).await,
        };
        let response = match opened {
            Ok(r) => r,
            Err(ClientError::Http { status: 405, .. }) => {
                tracing::debug!("the server offers no standalone SSE stream (405)");
                return;
            }
            Err(e @ ClientError::SessionExpired(_)) => {
                // The session is gone (404): so is its stream. The next
                // request says so to the caller, who starts a new one.
                tracing::warn!("the standalone SSE stream ends: {e}");
                return;
            }
            Err(e) if events_gone(&e) && parser.last_event_id.is_some() => {
                // The server no longer keeps the events after ours, and
                // would refuse the same resumption again: the stream is
                // opened afresh at once, without what was missed.
                tracing::warn!(
                    "the standalone SSE stream could not be resumed ({e}); reopened without \
                     Last-Event-ID, so some notifications were missed"
                );
                parser.last_event_id = None;
                continue;
            }
            Err(e) => {
                failures += 1;
                if failures > shared.max_resume_attempts {
                    tracing::warn!("giving up on the standalone SSE stream: {e}");
                    return;
                }
                tracing::debug!("the standalone SSE stream failed: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(parser.retry.unwrap_or(DEFAULT_RETRY) * failures) => continue,
                    _ = shared.stop.cancelled() => return,
                }
            }
        };
        let mut response = response;
        let mut saw_event = false;
        match read_events(
            &shared,
            &mut response,
            &mut parser,
            None,
            &mut saw_event,
            &shared.stop,
        )
        .await
        {
            StreamEnd::Stopped => return,
            StreamEnd::Answered | StreamEnd::Dropped(_) => {}
        }
        if saw_event {
            failures = 0;
        }
        tokio::select! {
            _ = tokio::time::sleep(parser.retry.unwrap_or(DEFAULT_RETRY)) => {}
            _ = shared.stop.cancelled() => return,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
