//! JSON-RPC 2.0 envelopes: requests, notifications, results and errors.
//!
//! [`decode`] turns one line (stdio) or one body (HTTP) into a [`Message`], or
//! into a [`DecodeError`] that says precisely what was wrong and carries the
//! request id whenever it could be read, so the answer can echo it.

use crate::error::Error;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

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
        // Serializing our own envelope cannot fail: every part is plain JSON.
        serde_json::to_vec(self).expect("a JSON-RPC message always serializes")
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
/// method, an id that is neither integer nor string) gives -32600.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError {
        id: None,
        error: Error::parse_error(e),
    })?;
    decode_value(value)
}

/// Decodes one JSON-RPC message from an already-parsed JSON value.
pub fn decode_value(value: Value) -> Result<Message, DecodeError> {
    let mut obj =
        match value {
            Value::Object(obj) => obj,
            Value::Array(_) => return Err(DecodeError::invalid(
                None,
                "expected one JSON-RPC message object, got an array (batches are not supported)",
            )),
            other => {
                return Err(DecodeError::invalid(
                    None,
                    format_args!("expected a JSON-RPC message object, got {}", kind(&other)),
                ))
            }
        };

    // Read the id first, so every later error can echo it.
    let id = match obj.remove("id") {
        None => None,
        Some(Value::Null) => None,
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

    match obj.get("jsonrpc") {
        Some(Value::String(s)) if s == JSONRPC_VERSION => {}
        Some(other) => {
            return Err(DecodeError::invalid(
                id,
                format_args!("\"jsonrpc\" must be \"2.0\", got {other}"),
            ))
        }
        None => return Err(DecodeError::invalid(id, "missing \"jsonrpc\": \"2.0\"")),
    }

    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err(DecodeError::invalid(id, "\"method\" must be a string"));
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => None,
            Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p),
            Some(other) => {
                return Err(DecodeError::invalid(
                    id,
                    format_args!(
                        "\"params\" must be an object or an array, got {}",
                        kind(&other)
                    ),
                ))
            }
        };
        return Ok(match id {
            Some(id) => Message::Request(Request { id, method, params }),
            None => Message::Notification(Notification { method, params }),
        });
    }

    if let Some(result) = obj.remove("result") {
        let Some(id) = id else {
            return Err(DecodeError::invalid(None, "a response needs an \"id\""));
        };
        return Ok(Message::Response(Response { id, result }));
    }

    if let Some(error) = obj.remove("error") {
        let error: Error = serde_json::from_value(error).map_err(|e| {
            DecodeError::invalid(id.clone(), format_args!("malformed \"error\": {e}"))
        })?;
        return Ok(Message::Error(ErrorResponse { id, error }));
    }

    Err(DecodeError::invalid(
        id,
        "a message needs \"method\" (request or notification) or \"result\"/\"error\" (response)",
    ))
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
}
