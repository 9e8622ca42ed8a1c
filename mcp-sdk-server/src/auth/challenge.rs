//! The refusals of a protected server: `WWW-Authenticate: Bearer ...`
//! challenges (RFC 6750 §3, RFC 9728 §5.1) with a JSON-RPC error body.

use crate::http::McpBody;
use http::{HeaderValue, Response, StatusCode};
use mcp_sdk::{Error, ErrorCode, Message};

/// 401: `why` is `None` for a request without a token (no error code, as
/// RFC 6750 asks), else the reason the token was refused.
pub(super) fn unauthorized(
    metadata: &str,
    why: Option<&str>,
    scope: Option<&str>,
) -> Response<McpBody> {
    let mut params = Vec::new();
    if let Some(why) = why {
        params.push(("error", "invalid_token".to_owned()));
        params.push(("error_description", why.to_owned()));
    }
    params.push(("resource_metadata", metadata.to_owned()));
    if let Some(scope) = scope {
        params.push(("scope", scope.to_owned()));
    }
    let message = match why {
        Some(_) => "Unauthorized: the access token is not valid for this server",
        None => "Unauthorized: this server needs an access token",
    };
    respond(StatusCode::UNAUTHORIZED, &params, message)
}

/// 403 `insufficient_scope` naming the scopes the request needs.
pub(super) fn insufficient_scope(metadata: &str, scope: &str) -> Response<McpBody> {
    let params = [
        ("error", "insufficient_scope".to_owned()),
        ("scope", scope.to_owned()),
        ("resource_metadata", metadata.to_owned()),
        ("error_description", format!("this needs the scope {scope}")),
    ];
    respond(
        StatusCode::FORBIDDEN,
        &params,
        &format!("Forbidden: this needs the scope {scope}"),
    )
}

/// 503: the token could not be checked now (the issuer unreachable).
pub(super) fn unavailable() -> Response<McpBody> {
    let msg = Message::error(
        None,
        Error::new(
            ErrorCode::INTERNAL_ERROR,
            "Service Unavailable: the access token cannot be checked now",
        ),
    );
    let mut resp = Response::new(McpBody::full(msg.to_vec()));
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("10"));
    resp
}

fn respond(status: StatusCode, params: &[(&str, String)], message: &str) -> Response<McpBody> {
    let challenge = params
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", quote(value)))
        .collect::<Vec<_>>()
        .join(", ");
    let msg = Message::error(None, Error::new(ErrorCode::INVALID_REQUEST, message));
    let mut resp = Response::new(McpBody::full(msg.to_vec()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Every part is quoted printable ASCII, so this always parses.
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {challenge}")) {
        headers.insert(http::header::WWW_AUTHENTICATE, value);
    }
    resp
}

/// `value` as the inside of a quoted-string: printable ASCII only,
/// quotes and backslashes escaped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_safely() {
        assert_eq!(quote("a \"b\" \\ é\n"), "a \\\"b\\\" \\\\ ??");
    }
}
