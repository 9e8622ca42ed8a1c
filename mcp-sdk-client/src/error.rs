//! [`ClientError`]: everything a call through the client can fail with.

use mcp_sdk::{Error, ErrorCode};
use std::time::Duration;

/// Why a call failed: the server answered with a JSON-RPC error, or the
/// answer never came (timeout, cancellation, a closed connection, an expired
/// session, an HTTP failure, a server that broke the protocol).
///
/// It is `Clone` so that one failure (say, the server process exiting) can be
/// given to every call that was waiting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a JSON-RPC error.
    #[error("the server answered: {0}")]
    Server(Error),
    /// No answer came within the call's timeout; the request was cancelled.
    #[error("{method} got no answer within {after:?}; the request was cancelled")]
    Timeout {
        /// The method that timed out.
        method: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// The caller cancelled the request.
    #[error("{method} was cancelled")]
    Cancelled {
        /// The method that was cancelled.
        method: String,
    },
    /// The connection ended: the process exited, the stream closed, or
    /// [`Client::close`](crate::Client::close) was called.
    #[error("the connection is closed: {0}")]
    Closed(String),
    /// The server no longer knows the HTTP session (it answered 404 to its
    /// `Mcp-Session-Id`). Connect again to start a new session.
    #[error("the session {0} expired (the server answered 404); connect again to start a new one")]
    SessionExpired(String),
    /// The server answered an HTTP request with an error status.
    #[error("the server answered HTTP {status}: {message}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// What the body said, shortened.
        message: String,
    },
    /// The connection failed below MCP: I/O, DNS, TLS, a refused connection.
    #[error("transport error: {0}")]
    Transport(String),
    /// The server sent something MCP does not allow: invalid JSON, a result
    /// of the wrong shape, an answer where none was due.
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    /// The response stream of a request broke before its answer (Streamable
    /// HTTP, revision `2026-07-28`, where streams cannot be resumed). The
    /// client sends the request again once, with a new id, before it fails
    /// with this.
    #[error("the response stream broke: {0}")]
    StreamLost(String),
    /// The operation does not exist in the revision the connection speaks
    /// (`resources/subscribe` in `2026-07-28`, say); the message says what to
    /// use instead.
    #[error("{0}")]
    Unsupported(String),
    /// The handler could not answer an input request the server made in an
    /// `InputRequiredResult` (revision `2026-07-28`), so the request it
    /// belongs to cannot go on.
    #[error("the handler could not answer the server's {method} input request {key:?}: {error}")]
    InputRequest {
        /// The key the server gave the input request.
        key: String,
        /// Its method, such as `elicitation/create`.
        method: String,
        /// What the handler answered.
        error: Error,
    },
    /// Authorization (OAuth 2.1) failed: the server's or the authorization
    /// server's metadata, the registration, the user's authorization, the
    /// token endpoint, or a server that kept refusing the tokens it got.
    /// The message says which; it never holds a token or a secret.
    #[error("authorization failed: {0}")]
    Authorization(String),
    /// The server refused the request for want of scope (HTTP 403 with
    /// `WWW-Authenticate: Bearer error="insufficient_scope"`), and the
    /// client could not get a token that holds it: it has no authorization
    /// of its own to step up with (a fixed `Authorization` header), or the
    /// authorization server would not grant the scope. `scope` is what the
    /// challenge named, space-separated (empty when it named none), so that
    /// a caller can pass the step-up on (a gateway asks its own caller for
    /// it). Neither field holds a token.
    #[error("the server needs the scope {scope:?}, which the client could not get: {reason}")]
    InsufficientScope {
        /// The scopes the server's challenge asked for, space-separated.
        scope: String,
        /// Why the client could not get them.
        reason: String,
    },
    /// The server chose a protocol revision this client does not speak.
    #[error(
        "no protocol revision in common: this client speaks {ours}, the server answered {theirs}"
    )]
    UnsupportedVersion {
        /// The revisions this client speaks, comma-separated.
        ours: String,
        /// The revision the server answered with.
        theirs: String,
    },
}

impl ClientError {
    /// The JSON-RPC error code, when the server answered with an error, or
    /// the code MCP uses for a timeout (-32001) or a closed connection
    /// (-32000).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(e) => Some(e.code),
            ClientError::Timeout { .. } => Some(ErrorCode::REQUEST_TIMEOUT),
            ClientError::Closed(_) => Some(ErrorCode::CONNECTION_CLOSED),
            _ => None,
        }
    }

    /// The server's JSON-RPC error, if that is what this is.
    pub fn server_error(&self) -> Option<&Error> {
        match self {
            ClientError::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The scopes a server asked for in a step-up challenge the client
    /// could not meet ([`ClientError::InsufficientScope`]).
    pub fn insufficient_scope(&self) -> Option<&str> {
        match self {
            ClientError::InsufficientScope { scope, .. } => Some(scope),
            _ => None,
        }
    }

    /// This failure as a JSON-RPC error, to pass on (a gateway answering its
    /// own client, say).
    pub fn into_jsonrpc(self) -> Error {
        match self {
            ClientError::Server(e) => e,
            other => {
                let code = other.code().unwrap_or(ErrorCode::INTERNAL_ERROR);
                Error::new(code, other.to_string())
            }
        }
    }
}

impl From<Error> for ClientError {
    fn from(e: Error) -> Self {
        ClientError::Server(e)
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Transport(e.to_string())
    }
}
