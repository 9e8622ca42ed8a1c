//! Stateless POSTs (2026-07-28): the standard headers checked against the
//! body, the request served on its own, and the answer as JSON or as an SSE
//! stream that belongs to this request alone (no event ids, no resumption;
//! closing it cancels the request).

use super::PROTOCOL_VERSION;
use super::{header_str, json_response, sse_response, HttpResponse, StreamableHttpService};
use crate::dispatch::{run_guarded, ServerShared};
use crate::reply_queue::{reply_queue, ReplyReceiver, TryQueueError};
use crate::request::InboundRequest;
use crate::stateless::{self, input::decode_header_value};
use bytes::{BufMut, Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use mcp_sdk::{
    Error, ErrorCode, Message, ProtocolVersion, RequestId, RequestMeta, PROTOCOL_VERSION_META_KEY,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The header that mirrors the method.
pub const METHOD_HEADER: &str = "mcp-method";
/// The header that mirrors `params.name` or `params.uri`.
pub const NAME_HEADER: &str = "mcp-name";
/// The two as built names, for the look-ups on every stateless request.
static METHOD: HeaderName = HeaderName::from_static(METHOD_HEADER);
static NAME: HeaderName = HeaderName::from_static(NAME_HEADER);

/// How often an idle stream gets an SSE comment, so that proxies and
/// clients do not take a quiet `subscriptions/listen` for a dead one.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Whether the `MCP-Protocol-Version` header names a revision without
/// sessions (2026-07-28 or one we do not know, which the stateless path
/// refuses with -32022).
pub(super) fn header_is_stateless(headers: &HeaderMap) -> bool {
    header_str(headers, &PROTOCOL_VERSION).is_some_and(|v| {
        v.parse::<ProtocolVersion>()
            .map_or(true, |v| !v.is_session_era())
    })
}

impl StreamableHttpService {
    /// Serves a stateless request POSTed without a session, decoded from
    /// `body`.
    pub(super) async fn stateless(
        &self,
        parts: &Arc<Parts>,
        req: InboundRequest,
        body: Bytes,
    ) -> HttpResponse {
        let headers = &parts.headers;
        let http = Some(parts.clone());
        let shared = self.inner.shared.clone();
        let id = req.id.clone();
        let (meta, version) = match check_headers(&shared, headers, &req) {
            Ok(checked) => checked,
            Err(e) => return answer(Message::error(Some(id), e)),
        };
        let (tx, mut rx) = reply_queue::<Message>(64);
        let tx = Arc::new(tx);
        // Where the answer goes when the request ends on a stream.
        let answers = tx.clone();
        let token = CancellationToken::new();
        // Dropped with this future (the client went away before the answer):
        // the request is cancelled.
        let cancel_on_drop = token.clone().drop_guard();
        let served_by = shared.clone();
        // Boxed once, with the handler's state inside: a future is copied
        // whole as it moves (over half of a stateless call's instructions
        // once), and this one only moves as a pointer, into a task if it
        // goes on as one. A box of its own for the handler's state was one
        // allocation more.
        let mut work = Box::pin(async move {
            let reply = tx;
            let work = std::pin::pin!(stateless::serve_checked(
                &shared,
                req,
                Some(body),
                meta,
                version,
                reply,
                token.clone(),
                http,
            ));
            let result = run_guarded(work, &token, &id).await;
            (id, result)
        });
        // Run here, not as a task of its own, until the request answers or
        // sends something first: most answer at once, and a task to spawn
        // (allocated, scheduled, its future copied in) cost more than the
        // rest of the hand-over. A request that sends first goes on as a
        // task, feeding the SSE stream its answer opens.
        tokio::select! {
            biased;
            (id, result) = &mut work => match rx.try_recv() {
                // Only a cancelled request ends without an answer.
                None if result.is_none() => super::empty_response(StatusCode::ACCEPTED),
                None => {
                    cancel_on_drop.disarm();
                    answer_served(&served_by, &id, result)
                }
                // What it sent on the way goes first, then its answer.
                Some(first) => {
                    if let Some(msg) = result.map(|r| to_message(&served_by, id, r)) {
                        if let Err(TryQueueError::Full(msg)) = answers.try_send(msg) {
                            tokio::spawn(async move { answers.send(msg).await });
                        }
                    }
                    stream(first, rx, cancel_on_drop)
                }
            },
            msg = rx.recv() => match msg {
                // The request holds a sender until it ends: not reached.
                None => super::empty_response(StatusCode::ACCEPTED),
                Some(first) => {
                    tokio::spawn(async move {
                        let (id, result) = work.await;
                        if let Some(result) = result {
                            let _ = answers.send(to_message(&served_by, id, result)).await;
                        }
                    });
                    stream(first, rx, cancel_on_drop)
                }
            },
        }
    }
}

/// The answer to a request served here, as a message.
fn to_message(
    shared: &ServerShared,
    id: RequestId,
    result: Result<stateless::Served, Error>,
) -> Message {
    match result.and_then(|served| served.into_value(shared)) {
        Ok(result) => Message::response(id, result),
        Err(e) => Message::error(Some(id), e),
    }
}

/// A JSON answer to request `id` that ended with `result` (a cancelled one
/// has none): a result is written out without being decorated first.
fn answer_served(
    shared: &ServerShared,
    id: &RequestId,
    result: Option<Result<stateless::Served, Error>>,
) -> HttpResponse {
    match result {
        Some(Ok(served)) => {
            super::json_bytes_response(StatusCode::OK, served.write_response(shared, id), None)
        }
        Some(Err(e)) => answer(Message::error(Some(id.clone()), e)),
        None => super::empty_response(StatusCode::ACCEPTED),
    }
}

/// The request's `_meta`, once the headers agree with the body: the
/// protocol version header first (-32020 if missing or different), the
/// `_meta` keys (-32602), the version (-32022), then `Mcp-Method` and
/// `Mcp-Name` (-32020).
fn check_headers(
    shared: &ServerShared,
    headers: &HeaderMap,
    req: &InboundRequest,
) -> Result<(Box<RequestMeta>, ProtocolVersion), Error> {
    let Some(header_version) = headers.get(&PROTOCOL_VERSION) else {
        return Err(Error::header_mismatch(
            "the MCP-Protocol-Version header is required",
        ));
    };
    let meta = stateless::read_meta(&req.params)?;
    let body_version = meta.protocol_version.as_deref().unwrap_or_default();
    if header_version.as_bytes() != body_version.as_bytes() {
        return Err(Error::header_mismatch(format_args!(
            "MCP-Protocol-Version header {:?} does not match params._meta[{PROTOCOL_VERSION_META_KEY:?}] {body_version:?}",
            String::from_utf8_lossy(header_version.as_bytes())
        )));
    }
    let version = stateless::check_version(shared, body_version)?;
    match header_str(headers, &METHOD) {
        None => {
            return Err(Error::header_mismatch(
                "the Mcp-Method header is required (or is not visible ASCII)",
            ))
        }
        Some(m) if m != req.method => {
            return Err(Error::header_mismatch(format_args!(
                "Mcp-Method header {m:?} does not match the body's method {:?}",
                req.method
            )))
        }
        Some(_) => {}
    }
    let field = match &*req.method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        // The tasks extension routes by task (SEP-2663).
        "tasks/get" | "tasks/update" | "tasks/cancel" => "taskId",
        _ => return Ok((meta, version)),
    };
    let body_name = req.params.str_member(field);
    let Some(header_name) = header_str(headers, &NAME) else {
        return Err(Error::header_mismatch(format_args!(
            "the Mcp-Name header is required for {} (it mirrors params.{field})",
            req.method
        )));
    };
    match decode_header_value(header_name) {
        None => {
            return Err(Error::header_mismatch(format_args!(
                "Mcp-Name header {header_name:?} is not valid =?base64?...?= encoding of UTF-8"
            )))
        }
        Some(name) if Some(name.as_str()) != body_name => {
            return Err(Error::header_mismatch(format_args!(
                "Mcp-Name header value {name:?} does not match params.{field} {body_name:?}"
            )))
        }
        Some(_) => {}
    }
    if req.method == "tools/call" {
        if let Some(tool) = body_name.and_then(|name| shared.server.find_tool_ref(name)) {
            // Most tools mirror no argument: no lists to build for them.
            if has_header_property(&tool.input_schema) {
                check_param_headers(headers, &tool.input_schema, req.params.arguments())?;
            }
        }
    }
    Ok((meta, version))
}

/// The `Mcp-Param-*` headers against the arguments they mirror: each
/// property the tool's schema marks with `x-mcp-header` (reached through
/// `properties` only) whose argument is present must come with its header,
/// equal to the argument once decoded (numbers compared as numbers).
fn check_param_headers(
    headers: &HeaderMap,
    schema: &mcp_sdk::JsonObject,
    args: Option<&mcp_sdk::JsonObject>,
) -> Result<(), Error> {
    let mut annotated = Vec::new();
    header_properties(schema, &mut Vec::new(), &mut annotated);
    for (path, name) in annotated {
        let mut keys = path.iter();
        let value = keys
            .next()
            .and_then(|first| args?.get(*first))
            .and_then(|v| keys.try_fold(v, |v, key| v.get(*key)))
            .filter(|v| !v.is_null());
        let Some(value) = value else { continue };
        let header = format!("mcp-param-{}", name.to_ascii_lowercase());
        let Some(raw) = headers.get(header.as_str()) else {
            return Err(Error::header_mismatch(format_args!(
                "the Mcp-Param-{name} header is required: arguments.{} is present",
                path.join(".")
            )));
        };
        let decoded = raw
            .to_str()
            .ok()
            .and_then(decode_header_value)
            .ok_or_else(|| {
                Error::header_mismatch(format_args!(
                    "Mcp-Param-{name} header is not visible ASCII or not valid =?base64?...?= encoding"
                ))
            })?;
        let matches = match value {
            Value::String(s) => *s == decoded,
            Value::Bool(b) => decoded == if *b { "true" } else { "false" },
            Value::Number(n) => decoded.parse::<f64>().ok() == n.as_f64(),
            // Not a primitive: the annotation is invalid and nothing mirrors it.
            _ => true,
        };
        if !matches {
            return Err(Error::header_mismatch(format_args!(
                "Mcp-Param-{name} header value {decoded:?} does not match arguments.{} {value}",
                path.join(".")
            )));
        }
    }
    Ok(())
}

/// Whether [`header_properties`] would find any, without building its lists.
fn has_header_property(schema: &mcp_sdk::JsonObject) -> bool {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return false;
    };
    props.values().any(|sub| match sub {
        Value::Object(sub) => {
            matches!(sub.get("x-mcp-header"), Some(Value::String(_))) || has_header_property(sub)
        }
        _ => false,
    })
}

/// The properties of `schema` marked with `x-mcp-header`, as (path, name),
/// borrowed from the schema: this runs on every `tools/call`.
fn header_properties<'a>(
    schema: &'a mcp_sdk::JsonObject,
    path: &mut Vec<&'a str>,
    out: &mut Vec<(Vec<&'a str>, &'a str)>,
) {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return;
    };
    for (key, sub) in props {
        let Value::Object(sub) = sub else { continue };
        path.push(key);
        if let Some(Value::String(name)) = sub.get("x-mcp-header") {
            out.push((path.clone(), name));
        }
        header_properties(sub, path, out);
        path.pop();
    }
}

fn is_answer(msg: &Message) -> bool {
    matches!(msg, Message::Response(_) | Message::Error(_))
}

/// A JSON answer, with the HTTP status 2026-07-28 gives its error, if any.
fn answer(msg: Message) -> HttpResponse {
    let status = match &msg {
        Message::Error(e) => error_status(e.error.code),
        _ => StatusCode::OK,
    };
    json_response(status, &msg, None)
}

/// 404 for an unknown method, 400 for a request that is malformed or that
/// this server cannot take as it is (headers, `_meta`, version, missing
/// capability), 200 for the rest: a JSON-RPC error is then an ordinary answer.
fn error_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        ErrorCode::PARSE_ERROR
        | ErrorCode::INVALID_REQUEST
        | ErrorCode::INVALID_PARAMS
        | ErrorCode::HEADER_MISMATCH
        | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        | ErrorCode::UNSUPPORTED_PROTOCOL_VERSION => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

/// Answers with an SSE stream: `first`, then what the request sends, until
/// its answer. Keep-alive comments fill quiet periods; a client that goes
/// away cancels the request.
fn stream(
    first: Message,
    mut rx: ReplyReceiver<Message>,
    cancel_on_drop: tokio_util::sync::DropGuard,
) -> HttpResponse {
    let (tx, body) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut next = Some(first);
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.reset();
        loop {
            let msg = match next.take() {
                Some(msg) => msg,
                None => tokio::select! {
                    msg = rx.recv() => match msg {
                        Some(msg) => msg,
                        None => return,
                    },
                    _ = keep_alive.tick() => {
                        if tx.send(Bytes::from_static(b":\n\n")).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    _ = tx.closed() => return,
                },
            };
            let done = is_answer(&msg);
            if tx.send(event(&msg)).await.is_err() {
                return;
            }
            if done {
                cancel_on_drop.disarm();
                return;
            }
        }
    });
    let mut resp = sse_response(body);
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn event(msg: &Message) -> Bytes {
    let data = msg.to_vec();
    let mut buf = BytesMut::with_capacity(data.len() + 24);
    buf.put_slice(b"event: message\ndata: ");
    buf.put_slice(&data);
    buf.put_slice(b"\n\n");
    buf.freeze()
}
