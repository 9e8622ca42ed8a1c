//! The one error type of the SDK: a JSON-RPC error object (code, message, data).
//!
//! Every failure that crosses the wire is an [`Error`]; handlers return it,
//! transports encode it, clients decode it. The codes are JSON-RPC's own plus
//! the few that MCP defines.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A JSON-RPC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// The bytes were not JSON (or not UTF-8).
    pub const PARSE_ERROR: ErrorCode = ErrorCode(-32700);
    /// The JSON is not a valid JSON-RPC message.
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(-32600);
    /// The method does not exist or is not offered (capability not advertised).
    pub const METHOD_NOT_FOUND: ErrorCode = ErrorCode(-32601);
    /// The params do not have the shape the method needs.
    pub const INVALID_PARAMS: ErrorCode = ErrorCode(-32602);
    /// Something failed inside the receiver.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(-32603);
    /// MCP: the resource named by a `resources/read` does not exist.
    pub const RESOURCE_NOT_FOUND: ErrorCode = ErrorCode(-32002);
    /// MCP: the request needs a URL-mode elicitation to finish first.
    pub const URL_ELICITATION_REQUIRED: ErrorCode = ErrorCode(-32042);
    /// SDK-local: the request did not finish in time (never sent by a server).
    pub const REQUEST_TIMEOUT: ErrorCode = ErrorCode(-32001);
    /// SDK-local: the connection closed before the answer came (never sent by a server).
    pub const CONNECTION_CLOSED: ErrorCode = ErrorCode(-32000);
    /// -32020 (2026-07-28): an HTTP header disagrees with the body it
    /// travels with (`Mcp-Method`, `Mcp-Name`, `MCP-Protocol-Version`).
    pub const HEADER_MISMATCH: ErrorCode = ErrorCode(-32020);
    /// -32021 (2026-07-28): the request needs a client capability the
    /// request's `_meta` did not declare.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: ErrorCode = ErrorCode(-32021);
    /// -32022 (2026-07-28): the request names a protocol revision the server
    /// does not speak.
    pub const UNSUPPORTED_PROTOCOL_VERSION: ErrorCode = ErrorCode(-32022);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A JSON-RPC error: what a request failed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (JSON-RPC error {code})")]
pub struct Error {
    /// The JSON-RPC code.
    pub code: ErrorCode,
    /// A message a person can understand.
    pub message: String,
    /// Extra detail for programs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Error {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds machine-readable detail.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// -32700: the input was not JSON.
    pub fn parse_error(detail: impl fmt::Display) -> Self {
        Self::new(ErrorCode::PARSE_ERROR, format!("Parse error: {detail}"))
    }

    /// -32600: the input is JSON but not a valid JSON-RPC message.
    pub fn invalid_request(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::INVALID_REQUEST,
            format!("Invalid request: {detail}"),
        )
    }

    /// -32601: nothing answers this method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )
    }

    /// -32602: the params are wrong.
    pub fn invalid_params(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::INVALID_PARAMS,
            format!("Invalid params: {detail}"),
        )
    }

    /// -32603: the receiver failed.
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::INTERNAL_ERROR,
            format!("Internal error: {detail}"),
        )
    }

    /// -32002: no resource has this URI.
    pub fn resource_not_found(uri: &str) -> Self {
        Self::new(
            ErrorCode::RESOURCE_NOT_FOUND,
            format!("Resource not found: {uri}"),
        )
        .with_data(serde_json::json!({ "uri": uri }))
    }

    /// -32020: a header disagrees with the body.
    pub fn header_mismatch(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::HEADER_MISMATCH,
            format!("Header mismatch: {detail}"),
        )
    }

    /// -32021: the request needs capabilities the client did not declare.
    pub fn missing_required_client_capability(
        what: &str,
        required: &crate::ClientCapabilities,
    ) -> Self {
        Self::new(
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!("Server requires the {what} capability for this request"),
        )
        .with_data(crate::missing_capability_data(required))
    }

    /// -32022: the requested revision is not one of `supported`.
    pub fn unsupported_protocol_version(requested: &str, supported: &[&str]) -> Self {
        Self::new(
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
            format!(
                "Unsupported protocol version {requested:?}; supported: {}",
                supported.join(", ")
            ),
        )
        .with_data(serde_json::json!({ "requested": requested, "supported": supported }))
    }

    /// The HTTP status to use when this error is the whole answer to an HTTP
    /// request (not one message inside a stream): 400 when the body itself was
    /// unusable, 200 otherwise, since a JSON-RPC error is a normal response.
    pub fn http_status(&self) -> u16 {
        match self.code {
            ErrorCode::PARSE_ERROR | ErrorCode::INVALID_REQUEST => 400,
            _ => 200,
        }
    }
}

impl From<serde_json::Error> for Error {
    /// A value that did not fit the expected type is an invalid-params error.
    fn from(e: serde_json::Error) -> Self {
        Error::invalid_params(e)
    }
}
