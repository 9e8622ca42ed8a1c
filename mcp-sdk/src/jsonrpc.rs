//! JSON-RPC 2.0 envelopes: requests, notifications, results and errors.
//!
//! [`decode`] turns one line (stdio) or one body (HTTP) into a [`Message`], or
//! into a [`DecodeError`] that says precisely what was wrong and carries the
//! request id whenever it could be read, so the answer can echo it.
//! [`decode_batch`] also accepts the JSON-RPC batches (arrays) of revision
//! 2025-03-26. [`decode_as`] decodes as [`decode`] does, but reads one
//! method's params (a server's `tools/call`) straight into their type.

use crate::error::Error;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::marker::PhantomData;

/// The `jsonrpc` member every message carries.
pub const JSONRPC_VERSION: &str = "2.0";

/// A request id: a number or a string, chosen by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => n.fmt(f),
            RequestId::String(s) => s.fmt(f),
        }
    }
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

impl From<String> for RequestId {
    fn from(s: String) -> Self {
        RequestId::String(s)
    }
}

impl From<&str> for RequestId {
    fn from(s: &str) -> Self {
        RequestId::String(s.to_owned())
    }
}

impl RequestId {
    /// Reads an id from JSON: an integer or a string, nothing else.
    fn from_value(v: &Value) -> Option<RequestId> {
        match v {
            Value::String(s) => Some(RequestId::String(s.clone())),
            Value::Number(n) => n.as_i64().map(RequestId::Number),
            _ => None,
        }
    }
}

/// A request: a method call that expects exactly one response.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The id the response will carry.
    pub id: RequestId,
    /// The method name, such as `tools/call`.
    pub method: String,
    /// The params object, if any.
    pub params: Option<Value>,
}

/// A notification: a one-way message with no response.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The method name, such as `notifications/progress`.
    pub method: String,
    /// The params object, if any.
    pub params: Option<Value>,
}

/// A successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The id of the request this answers.
    pub id: RequestId,
    /// The result object.
    pub result: Value,
}

/// An error response. The id is absent only when the request's id could not
/// be read (it is then `null` on the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorResponse {
    /// The id of the request this answers, if known.
    pub id: Option<RequestId>,
    /// What went wrong.
    pub error: Error,
}

/// Any JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A notification.
    Notification(Notification),
    /// A successful response.
    Response(Response),
    /// An error response.
    Error(ErrorResponse),
}

impl Message {
    /// A request with typed params.
    pub fn request(
        id: impl Into<RequestId>,
        method: impl Into<String>,
        params: Option<Value>,
    ) -> Self {
        Message::Request(Request {
            id: id.into(),
            method: method.into(),
            params,
        })
    }

    /// A notification.
    pub fn notification(method: impl Into<String>, params: Option<Value>) -> Self {
        Message::Notification(Notification {
            method: method.into(),
            params,
        })
    }

    /// A successful response.
    pub fn response(id: RequestId, result: Value) -> Self {
        Message::Response(Response { id, result })
    }

    /// An error response.
    pub fn error(id: Option<RequestId>, error: Error) -> Self {
        Message::Error(ErrorResponse { id, error })
    }

    /// The method, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request(r) => Some(&r.method),
            Message::Notification(n) => Some(&n.method),
            _ => None,
        }
    }

    /// Whether this is a response (result or error).
    pub fn is_response(&self) -> bool {
        matches!(self, Message::Response(_) | Message::Error(_))
    }

    /// The message as compact JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        // Room for a small message at once: growing from empty copies it
        // several times. Serializing our own envelope cannot fail: every
        // part is plain JSON.
        let mut out = Vec::with_capacity(256);
        serde_json::to_writer(&mut out, self).expect("a JSON-RPC message always serializes");
        out
    }
}

/// Why some input was not a JSON-RPC message: the error to answer with, and
/// the id to answer to when it could be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct DecodeError {
    /// The id of the offending request, if one could be read.
    pub id: Option<RequestId>,
    /// The JSON-RPC error (-32700 or -32600).
    pub error: Error,
}

impl DecodeError {
    fn invalid(id: Option<RequestId>, detail: impl fmt::Display) -> Self {
        DecodeError {
            id,
            error: Error::invalid_request(detail),
        }
    }

    /// The error response to send back.
    pub fn into_message(self) -> Message {
        Message::Error(ErrorResponse {
            id: self.id,
            error: self.error,
        })
    }
}

/// Decodes one JSON-RPC message from bytes (one stdio line or one HTTP body).
///
/// Invalid UTF-8 and malformed JSON give -32700; JSON that is not a single
/// JSON-RPC message object (an array, a scalar, a wrong `jsonrpc`, a missing
/// method, an id that is neither integer nor string) gives -32600. For the
/// batches of revision 2025-03-26, see [`decode_batch`].
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    decode_as::<Untyped>(bytes).map(Decoded::into_message)
}

/// Params that [`decode_as`] reads straight from the text into their type,
/// for one method: a server spares the JSON tree of its hottest request
/// (`tools/call`), built only to be taken apart again.
pub trait TypedParams: Sized {
    /// The method whose params these are (a function, not a constant: the
    /// params' [`RequestParams::METHOD`](crate::RequestParams::METHOD)
    /// would be ambiguous beside one).
    fn method() -> &'static str;

    /// Reads the params object. Params of an unusual shape (a member of
    /// the wrong type, one missing, one the type reads only through its
    /// derived `Deserialize`) come back as their JSON tree, for the
    /// caller to read as it always does, with the same errors.
    ///
    /// # Errors
    /// Only what the JSON itself gets wrong (malformed text).
    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Result<Self, Value>, A::Error>;

    /// The params as JSON, for a caller that needs them so after all.
    fn into_value(self) -> Value;
}

/// A message as [`decode_as`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded<P> {
    /// A request for `P`'s method, its params read into `P` (boxed: the
    /// message is moved on whole, and params can be large).
    Typed(RequestId, Box<P>),
    /// Any other message, exactly as [`decode`] gives it.
    Message(Message),
}

impl<P: TypedParams> Decoded<P> {
    /// The message as [`decode`] gives it: typed params become JSON again.
    pub fn into_message(self) -> Message {
        match self {
            Decoded::Typed(id, params) => Message::Request(Request {
                id,
                method: P::method().to_owned(),
                params: Some((*params).into_value()),
            }),
            Decoded::Message(msg) => msg,
        }
    }
}

/// [`decode`], with the params of a `P::method()` request read into `P` when
/// `method` comes before `params` (as every client writes them) and they
/// have their usual shape. Errors are [`decode`]'s, byte for byte.
///
/// ```
/// use mcp_sdk::jsonrpc::{decode_as, Decoded, TypedParams};
/// use mcp_sdk::{CallToolParams, RequestParams};
/// let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
/// let Ok(Decoded::Typed(id, params)) = decode_as::<CallToolParams>(call) else { panic!() };
/// assert_eq!((id, params.name.as_str()), (1.into(), "echo"));
/// // Both traits in scope: each names the method its own way.
/// assert_eq!(CallToolParams::method(), CallToolParams::METHOD);
/// let ping = br#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
/// assert!(matches!(decode_as::<CallToolParams>(ping), Ok(Decoded::Message(_))));
/// ```
pub fn decode_as<P: TypedParams>(bytes: &[u8]) -> Result<Decoded<P>, DecodeError> {
    match parse::<P>(bytes)? {
        Payload::Object(envelope) => envelope.into_decoded(),
        Payload::Array(_) => Err(DecodeError::invalid(None, NO_BATCHES)),
        Payload::Other(kind) => Err(not_an_object(kind)),
    }
}

/// No params typed: what [`decode`] and [`decode_batch`] read with.
enum Untyped {}

impl TypedParams for Untyped {
    // The one method with no name: its params, if any, read as a tree.
    fn method() -> &'static str {
        ""
    }

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Result<Self, Value>, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Err)
    }

    fn into_value(self) -> Value {
        match self {}
    }
}

/// One JSON-RPC payload: a single message, or a batch of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A single message object.
    Single(Message),
    /// A non-empty array of messages (JSON-RPC batching, which MCP allows
    /// only in revision 2025-03-26). Each element decodes on its own: an
    /// invalid one is answered with its own error, the others still count.
    Batch(Vec<Result<Message, DecodeError>>),
}

/// Decodes one message or a batch of them (a JSON array, as revision
/// 2025-03-26 allows).
///
/// Malformed JSON gives -32700; an empty array or a top-level scalar gives
/// -32600 for the whole payload.
///
/// ```
/// use mcp_sdk::jsonrpc::{decode_batch, Incoming};
/// let batch = decode_batch(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"}]"#).unwrap();
/// assert!(matches!(batch, Incoming::Batch(ref items) if items.len() == 2));
/// assert_eq!(decode_batch(b"[]").unwrap_err().error.code, mcp_sdk::ErrorCode::INVALID_REQUEST);
/// ```
pub fn decode_batch(bytes: &[u8]) -> Result<Incoming, DecodeError> {
    match parse::<Untyped>(bytes)? {
        Payload::Object(envelope) => envelope.into_message().map(Incoming::Single),
        Payload::Array(items) if items.is_empty() => Err(DecodeError::invalid(
            None,
            "an empty batch (a batch needs at least one message)",
        )),
        Payload::Array(items) => Ok(Incoming::Batch(
            items
                .into_iter()
                .map(|item| match item {
                    Payload::Object(envelope) => envelope.into_message(),
                    Payload::Array(_) => Err(DecodeError::invalid(
                        None,
                        "a batch element must be a JSON-RPC message object, got an array",
                    )),
                    Payload::Other(kind) => Err(DecodeError::invalid(
                        None,
                        format_args!(
                            "a batch element must be a JSON-RPC message object, got {kind}"
                        ),
                    )),
                })
                .collect(),
        )),
        Payload::Other(kind) => Err(not_an_object(kind)),
    }
}

/// Whether `bytes` hold a JSON array (a batch) rather than an object: the
/// first byte that is not JSON whitespace is `[`. A cheap test for
/// transports, made before decoding.
pub fn is_batch(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'[')
}

/// Encodes messages as one JSON array: the answer to a batch.
pub fn encode_batch(messages: &[Message]) -> Vec<u8> {
    // As for `Message::to_vec`: our own envelopes always serialize.
    serde_json::to_vec(messages).expect("JSON-RPC messages always serialize")
}

const NO_BATCHES: &str =
    "expected one JSON-RPC message object, got an array (batches are not supported)";

fn not_an_object(kind: &str) -> DecodeError {
    DecodeError::invalid(
        None,
        format_args!("expected a JSON-RPC message object, got {kind}"),
    )
}

fn parse<P: TypedParams>(bytes: &[u8]) -> Result<Payload<P>, DecodeError> {
    // The whole text is checked for UTF-8 once, and serde_json then reads a
    // `str`: reading bytes, it checks each string it meets on its own, a
    // tenth of a small message's decoding.
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError {
        id: None,
        error: Error::parse_error(format_args!(
            "the message is not UTF-8 (an invalid byte at offset {})",
            e.valid_up_to()
        )),
    })?;
    serde_json::from_str(text).map_err(|e| DecodeError {
        id: None,
        error: Error::parse_error(e),
    })
}

/// Decodes one JSON-RPC message from an already-parsed JSON value.
pub fn decode_value(value: Value) -> Result<Message, DecodeError> {
    match value {
        Value::Object(obj) => Envelope::<Untyped>::from_map(obj).into_message(),
        Value::Array(_) => Err(DecodeError::invalid(None, NO_BATCHES)),
        other => Err(not_an_object(kind(&other))),
    }
}

/// A top-level JSON value as decoding sees it. Objects are read straight
/// into an [`Envelope`]: no map of the whole message is built, and member
/// names are matched without allocating.
enum Payload<P> {
    Object(Envelope<P>),
    Array(Vec<Payload<P>>),
    /// Anything else, by kind ("a number", "null"...).
    Other(&'static str),
}

/// The members of a message object that JSON-RPC defines; others are
/// ignored. A member given twice counts with its last value.
struct Envelope<P> {
    jsonrpc: Option<Value>,
    id: Option<Value>,
    method: Option<Value>,
    params: Option<Params<P>>,
    result: Option<Value>,
    error: Option<Value>,
}

/// A message's params: read as `P` ([`TypedParams`]), or as JSON.
enum Params<P> {
    Typed(Box<P>),
    Json(Value),
}

impl<P> Default for Envelope<P> {
    fn default() -> Self {
        Envelope {
            jsonrpc: None,
            id: None,
            method: None,
            params: None,
            result: None,
            error: None,
        }
    }
}

impl Envelope<Untyped> {
    fn from_map(mut obj: Map<String, Value>) -> Self {
        Envelope {
            jsonrpc: obj.remove("jsonrpc"),
            id: obj.remove("id"),
            method: obj.remove("method"),
            params: obj.remove("params").map(Params::Json),
            result: obj.remove("result"),
            error: obj.remove("error"),
        }
    }

    fn into_message(self) -> Result<Message, DecodeError> {
        self.into_decoded().map(Decoded::into_message)
    }
}

impl<P: TypedParams> Envelope<P> {
    fn into_decoded(self) -> Result<Decoded<P>, DecodeError> {
        // Read the id first, so every later error can echo it. A null id
        // is allowed on an error response only: a request with one is
        // refused, not mistaken for a notification (which has no id).
        let null_id = matches!(self.id, Some(Value::Null));
        let id = match self.id {
            None | Some(Value::Null) => None,
            Some(v) => match RequestId::from_value(&v) {
                Some(id) => Some(id),
                None => {
                    return Err(DecodeError::invalid(
                        None,
                        format_args!("\"id\" must be an integer or a string, got {}", kind(&v)),
                    ))
                }
            },
        };

        match &self.jsonrpc {
            Some(Value::String(s)) if s == JSONRPC_VERSION => {}
            Some(other) => {
                return Err(DecodeError::invalid(
                    id,
                    format_args!("\"jsonrpc\" must be \"2.0\", got {other}"),
                ))
            }
            None => return Err(DecodeError::invalid(id, "missing \"jsonrpc\": \"2.0\"")),
        }

        if let Some(method) = self.method {
            let Value::String(method) = method else {
                return Err(DecodeError::invalid(id, "\"method\" must be a string"));
            };
            let params = match self.params {
                // (Typed by the method that came before them, which a
                // later `method` member may have replaced.)
                Some(Params::Typed(typed)) if !null_id && method == P::method() => {
                    return Ok(match id {
                        Some(id) => Decoded::Typed(id, typed),
                        // A notification of the method: JSON, as ever.
                        None => Decoded::Message(Message::Notification(Notification {
                            method,
                            params: Some((*typed).into_value()),
                        })),
                    });
                }
                Some(Params::Typed(typed)) => Some((*typed).into_value()),
                None | Some(Params::Json(Value::Null)) => None,
                Some(Params::Json(p @ (Value::Object(_) | Value::Array(_)))) => Some(p),
                Some(Params::Json(other)) => {
                    return Err(DecodeError::invalid(
                        id,
                        format_args!(
                            "\"params\" must be an object or an array, got {}",
                            kind(&other)
                        ),
                    ))
                }
            };
            if null_id {
                return Err(DecodeError::invalid(
                    None,
                    "a request's \"id\" must be an integer or a string, not null \
                     (a notification has no \"id\" member)",
                ));
            }
            return Ok(Decoded::Message(match id {
                Some(id) => Message::Request(Request { id, method, params }),
                None => Message::Notification(Notification { method, params }),
            }));
        }

        if let Some(result) = self.result {
            let Some(id) = id else {
                return Err(DecodeError::invalid(None, "a response needs an \"id\""));
            };
            return Ok(Decoded::Message(Message::Response(Response { id, result })));
        }

        if let Some(error) = self.error {
            let error: Error = serde_json::from_value(error).map_err(|e| {
                DecodeError::invalid(id.clone(), format_args!("malformed \"error\": {e}"))
            })?;
            return Ok(Decoded::Message(Message::Error(ErrorResponse {
                id,
                error,
            })));
        }

        Err(DecodeError::invalid(
            id,
            "a message needs \"method\" (request or notification) or \"result\"/\"error\" (response)",
        ))
    }
}

/// The name of a member of a message object.
enum Member {
    Jsonrpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Member;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
                Ok(match name {
                    "jsonrpc" => Member::Jsonrpc,
                    "id" => Member::Id,
                    "method" => Member::Method,
                    "params" => Member::Params,
                    "result" => Member::Result,
                    "error" => Member::Error,
                    _ => Member::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de, P: TypedParams> Deserialize<'de> for Payload<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<P>(PhantomData<P>);
        impl<'de, P: TypedParams> Visitor<'de> for V<P> {
            type Value = Payload<P>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload<P>, A::Error> {
                let mut e = Envelope::default();
                while let Some(member) = map.next_key::<Member>()? {
                    let slot = match member {
                        Member::Jsonrpc => &mut e.jsonrpc,
                        Member::Id => &mut e.id,
                        Member::Method => &mut e.method,
                        Member::Params => {
                            let typed = !P::method().is_empty()
                                && matches!(&e.method, Some(Value::String(m)) if m == P::method());
                            e.params = Some(if typed {
                                map.next_value_seed(ParamsSeed(PhantomData))?
                            } else {
                                Params::Json(map.next_value()?)
                            });
                            continue;
                        }
                        Member::Result => &mut e.result,
                        Member::Error => &mut e.error,
                        Member::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(Payload::Object(e))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Payload<P>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Payload::Array(items))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Payload<P>, E> {
                Ok(Payload::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Payload<P>, E> {
                Ok(Payload::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Payload<P>, E> {
                Ok(Payload::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Payload<P>, E> {
                Ok(Payload::Other("a number"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Payload<P>, E> {
                Ok(Payload::Other("a string"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Payload<P>, E> {
                Ok(Payload::Other("null"))
            }
            fn visit_none<E: de::Error>(self) -> Result<Payload<P>, E> {
                Ok(Payload::Other("null"))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Reads params as `P` when they are an object, else as the JSON they are
/// (for the envelope's checks to refuse or pass on as ever).
struct ParamsSeed<P>(PhantomData<P>);

impl<'de, P: TypedParams> de::DeserializeSeed<'de> for ParamsSeed<P> {
    type Value = Params<P>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Params<P>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, P: TypedParams> Visitor<'de> for ParamsSeed<P> {
    type Value = Params<P>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Params<P>, A::Error> {
        Ok(match P::read(map)? {
            Ok(typed) => Params::Typed(Box::new(typed)),
            Err(json) => Params::Json(json),
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Params<P>, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Params::Json)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Params<P>, E> {
        Ok(Params::Json(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Params<P>, E> {
        Ok(Params::Json(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Params<P>, E> {
        Ok(Params::Json(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Params<P>, E> {
        Ok(Params::Json(v.into()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Params<P>, E> {
        Ok(Params::Json(v.into()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Params<P>, E> {
        Ok(Params::Json(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Params<P>, E> {
        Ok(Params::Json(Value::Null))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("jsonrpc", JSONRPC_VERSION)?;
        match self {
            Message::Request(r) => {
                map.serialize_entry("id", &r.id)?;
                map.serialize_entry("method", &r.method)?;
                if let Some(p) = &r.params {
                    map.serialize_entry("params", p)?;
                }
            }
            Message::Notification(n) => {
                map.serialize_entry("method", &n.method)?;
                if let Some(p) = &n.params {
                    map.serialize_entry("params", p)?;
                }
            }
            Message::Response(r) => {
                map.serialize_entry("id", &r.id)?;
                map.serialize_entry("result", &r.result)?;
            }
            Message::Error(e) => {
                map.serialize_entry("id", &e.id)?;
                map.serialize_entry("error", &e.error)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        decode_value(value).map_err(serde::de::Error::custom)
    }
}

/// Params or result objects as a JSON map, for code that builds them by hand.
pub type Object = Map<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::json;

    /// Reading `tools/call`'s params typed changes nothing a caller sees:
    /// every message decodes to what `decode` gives, errors included, and
    /// typed params are what the derived reading makes of the tree.
    #[test]
    fn typed_call_params_decode_as_the_tree_does() {
        use crate::CallToolParams;
        let call = |params: &str| {
            format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{params}}}"#)
        };
        let mut typed = 0;
        let cases = [
            call(r#"{"name":"echo","arguments":{"text":"hi"}}"#),
            call(r#"{"name":"echo"}"#),
            call(r#"{"name":"echo","arguments":{},"_meta":{"progressToken":3},"x":1}"#),
            call(r#"{"arguments":{"a":[1,{"b":null}]},"name":"e\u0063ho","z":{"y":2}}"#),
            call(r#"{"name":"a","name":"echo","x":1,"x":2}"#),
            call(r#"{"na\u006de":"echo"}"#),
            // Not the usual shape: the tree, and the derived reading's errors.
            call(r#"{"name":"echo","task":{"ttl":5}}"#),
            call(r#"{"name":"echo","arguments":null}"#),
            call(r#"{"name":"echo","_meta":null,"z":1}"#),
            call(r#"{"name":"echo","name":7}"#),
            call(r#"{"arguments":{}}"#),
            call(r#"{"name":["echo"],"_meta":{}}"#),
            call(r#"{"name":"echo","arguments":[1]}"#),
            call("[1]"),
            call("null"),
            call("7"),
            call(r#""echo""#),
            call(r#"{"name":"echo","arguments":{"text":"hi"}"#),
            // Not a request with its params after its method.
            r#"{"jsonrpc":"2.0","id":7,"params":{"name":"echo"},"method":"tools/call"}"#.into(),
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}"#.into(),
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo"}}"#.into(),
            r#"{"jsonrpc":"1.0","id":7,"method":"tools/call","params":{"name":"echo"}}"#.into(),
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"name":"echo"}}"#.into(),
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a"},"method":"ping"}"#.into(),
        ];
        for case in &cases {
            let bytes = case.as_bytes();
            let plain = decode(bytes);
            let ours = decode_as::<CallToolParams>(bytes);
            if let Ok(Decoded::Typed(id, params)) = &ours {
                typed += 1;
                let Ok(Message::Request(req)) = &plain else {
                    panic!("{case}: typed, but decode gives {plain:?}");
                };
                assert_eq!((id, req.method.as_str()), (&req.id, "tools/call"), "{case}");
                let derived: CallToolParams =
                    serde_json::from_value(req.params.clone().unwrap()).unwrap();
                assert_eq!(**params, derived, "{case}");
            }
            assert_eq!(ours.map(Decoded::into_message), plain, "{case}");
        }
        assert_eq!(typed, 6, "the usual shapes are read typed");
    }

    #[test]
    fn a_request_with_a_null_id_is_invalid_not_a_notification() {
        let err = decode(br#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#).unwrap_err();
        assert_eq!(err.error.code, ErrorCode::INVALID_REQUEST);
        assert!(
            err.error.message.contains("not null"),
            "{}",
            err.error.message
        );
        // Without an id it is a notification; an error answer may have a null id.
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"n"}"#),
            Ok(Message::Notification(_))
        ));
        let answer = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#;
        assert!(matches!(
            decode(answer),
            Ok(Message::Error(ErrorResponse { id: None, .. }))
        ));
    }

    fn err(bytes: &[u8]) -> DecodeError {
        decode(bytes).unwrap_err()
    }

    #[test]
    fn decodes_each_kind() {
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}"#).unwrap(),
            Message::Request(Request { id: RequestId::String(ref s), .. }) if s == "a"
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap(),
            Message::Notification(_)
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#).unwrap(),
            Message::Response(Response {
                id: RequestId::Number(3),
                ..
            })
        ));
        let m = decode(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#)
            .unwrap();
        assert!(
            matches!(m, Message::Error(ErrorResponse { id: None, ref error }) if error.code == ErrorCode::PARSE_ERROR)
        );
    }

    #[test]
    fn round_trips() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","method":"x","params":{"a":1}}"#,
            r#"{"jsonrpc":"2.0","id":"s","result":{"k":[1,2]}}"#,
            r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"nope","data":{"m":"x"}}}"#,
        ] {
            let m = decode(text.as_bytes()).unwrap();
            let back: Value = serde_json::from_slice(&m.to_vec()).unwrap();
            assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
        }
    }

    #[test]
    fn garbage_truncated_and_bad_utf8_are_parse_errors() {
        for bad in [
            &b"\x00\x01garbage"[..],
            br#"{"jsonrpc":"2.0","id":1,"#,
            b"\xff\xfe{}",
            b"",
        ] {
            let e = err(bad);
            assert_eq!(e.error.code, ErrorCode::PARSE_ERROR, "{bad:?}");
            assert_eq!(e.id, None);
        }
        // Invalid UTF-8 is named as such, inside a string or out of one.
        for (bad, offset) in [
            (&b"\xff\xfe{}"[..], 0),
            (
                &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\xff\"}"[..],
                35,
            ),
        ] {
            let e = err(bad);
            assert_eq!(e.error.code, ErrorCode::PARSE_ERROR, "{bad:?}");
            let expected = format!("not UTF-8 (an invalid byte at offset {offset})");
            assert!(e.error.message.contains(&expected), "{}", e.error.message);
        }
    }

    #[test]
    fn non_objects_are_invalid_requests() {
        for bad in [
            &b"[]"[..],
            b"[{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}]",
            b"42",
            b"\"s\"",
            b"null",
            b"true",
        ] {
            assert_eq!(err(bad).error.code, ErrorCode::INVALID_REQUEST, "{bad:?}");
        }
    }

    /// A `jsonrpc` member of any kind but the string "2.0" is -32600
    /// naming what came, as it is read from text or from a tree.
    #[test]
    fn a_wrong_jsonrpc_member_says_what_came() {
        let cases = [
            (r#""1.0""#, r#"got "1.0""#),
            ("2.0", "got 2.0"),
            ("2", "got 2"),
            ("-2", "got -2"),
            ("true", "got true"),
            ("null", "got null"),
            (r#"{"v":"2.0"}"#, r#"got {"v":"2.0"}"#),
            (r#"["2.0"]"#, r#"got ["2.0"]"#),
        ];
        for (member, said) in cases {
            let text = format!(r#"{{"jsonrpc":{member},"id":7,"method":"ping"}}"#);
            let from_text = err(text.as_bytes());
            let tree: Value = serde_json::from_str(&text).unwrap();
            let from_tree = decode_value(tree).unwrap_err();
            for e in [from_text, from_tree] {
                assert_eq!(e.error.code, ErrorCode::INVALID_REQUEST, "{member}");
                assert_eq!(e.id, Some(RequestId::Number(7)));
                assert!(
                    e.error.message.contains(said),
                    "{member}: {}",
                    e.error.message
                );
            }
        }
        // Escaped, it is still "2.0".
        assert!(decode(br#"{"jsonrpc":"\u0032.0","method":"n"}"#).is_ok());
    }

    #[test]
    fn invalid_requests_echo_the_id() {
        let e = err(br#"{"jsonrpc":"1.0","id":9,"method":"ping"}"#);
        assert_eq!(
            (e.error.code, e.id),
            (ErrorCode::INVALID_REQUEST, Some(RequestId::Number(9)))
        );
        let e = err(br#"{"id":"q","method":"ping"}"#);
        assert_eq!(
            (e.error.code, e.id),
            (ErrorCode::INVALID_REQUEST, Some(RequestId::from("q")))
        );
        let e = err(br#"{"jsonrpc":"2.0","id":4}"#);
        assert_eq!(
            (e.error.code, e.id),
            (ErrorCode::INVALID_REQUEST, Some(RequestId::Number(4)))
        );
        let e = err(br#"{"jsonrpc":"2.0","id":4,"method":17}"#);
        assert_eq!(e.error.code, ErrorCode::INVALID_REQUEST);
        let e = err(br#"{"jsonrpc":"2.0","id":4,"method":"x","params":3}"#);
        assert_eq!(
            (e.error.code, e.id),
            (ErrorCode::INVALID_REQUEST, Some(RequestId::Number(4)))
        );
    }

    #[test]
    fn object_and_fractional_ids_are_invalid_and_not_echoed() {
        for bad in [
            &br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#[..],
            br#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#,
            br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            br#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
        ] {
            let e = err(bad);
            assert_eq!(
                (e.error.code, e.id),
                (ErrorCode::INVALID_REQUEST, None),
                "{bad:?}"
            );
        }
        // The error response for an unreadable id carries `"id": null`.
        let m = err(br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#).into_message();
        assert_eq!(serde_json::to_value(&m).unwrap()["id"], json!(null));
    }

    #[test]
    fn reading_bytes_and_reading_a_value_agree() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"method":"x","jsonrpc":"2.0","extra":{"deep":[1,{"a":null}]},"params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":"s","result":null}"#,
            r#"{"jsonrpc":"2.0","id":"s","result":1,"result":2}"#,
            r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"nope"}}"#,
            r#"{"jsonrpc":"2.0","id":5,"error":{"code":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"n","params":null}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"m","result":{}}"#,
            r#"{"jsonrpc":2,"id":7,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":["x"]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":"p"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
            r#"{"jsonrp\u0063":"2.0","id":1,"method":"escaped member name"}"#,
            r#"[]"#,
            r#"[{"jsonrpc":"2.0","method":"x"}]"#,
            r#"3"#,
            r#""s""#,
            r#"null"#,
            r#"false"#,
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(decode(text.as_bytes()), decode_value(value), "{text}");
        }
    }

    #[test]
    fn batches_decode_element_by_element() {
        let text = br#" [{"jsonrpc":"2.0","id":1,"method":"ping"},
            {"jsonrpc":"2.0","method":"notifications/x"},
            {"jsonrpc":"2.0","id":2,"result":{}},
            {"jsonrpc":"1.0","id":3,"method":"ping"},
            42, [1]] "#;
        assert!(is_batch(text));
        let Incoming::Batch(items) = decode_batch(text).unwrap() else {
            panic!("a batch");
        };
        assert_eq!(items.len(), 6);
        assert!(matches!(&items[0], Ok(Message::Request(r)) if r.method == "ping"));
        assert!(matches!(&items[1], Ok(Message::Notification(_))));
        assert!(matches!(&items[2], Ok(Message::Response(_))));
        let bad = items[3].as_ref().unwrap_err();
        assert_eq!(
            (bad.error.code, bad.id.clone()),
            (ErrorCode::INVALID_REQUEST, Some(RequestId::Number(3)))
        );
        for item in &items[4..] {
            let e = item.as_ref().unwrap_err();
            assert_eq!(
                (e.error.code, e.id.clone()),
                (ErrorCode::INVALID_REQUEST, None)
            );
        }
        // A single object is not a batch; `decode` still refuses arrays.
        let one = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        assert!(!is_batch(one));
        assert!(matches!(decode_batch(one).unwrap(), Incoming::Single(_)));
        assert_eq!(err(text).error.code, ErrorCode::INVALID_REQUEST);
    }

    #[test]
    fn an_empty_batch_scalars_and_broken_json_are_refused_whole() {
        let e = decode_batch(b" [ ] ").unwrap_err();
        assert_eq!((e.error.code, e.id), (ErrorCode::INVALID_REQUEST, None));
        assert!(
            e.error.message.contains("empty batch"),
            "{}",
            e.error.message
        );
        assert_eq!(
            decode_batch(b"17").unwrap_err().error.code,
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            decode_batch(b"[{\"jsonrpc\"").unwrap_err().error.code,
            ErrorCode::PARSE_ERROR
        );
    }

    #[test]
    fn batch_answers_encode_as_one_array() {
        let answers = [
            Message::response(RequestId::Number(1), json!({})),
            Message::error(Some(RequestId::from("b")), Error::method_not_found("m")),
        ];
        let back: Value = serde_json::from_slice(&encode_batch(&answers)).unwrap();
        assert_eq!(back[0], json!({"jsonrpc":"2.0","id":1,"result":{}}));
        assert_eq!(back[1]["id"], "b");
        assert_eq!(back[1]["error"]["code"], -32601);
    }
}
