//! The refusals of a protected server: `WWW-Authenticate: Bearer ...`
//! challenges (RFC 6750 §3, RFC 9728 §5.1), or `DPoP ...` ones (RFC 9449
//! §7.1) for requests that came with a DPoP-bound token, with a JSON-RPC
//! error body.

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
    respond(StatusCode::UNAUTHORIZED, "Bearer", &params, message)
}

/// 401 under the DPoP scheme: `error` is `invalid_token` (the token, or
/// its scheme, is wrong), `invalid_dpop_proof` or `use_dpop_nonce` (then
/// `nonce` goes in the `DPoP-Nonce` header); `algs` lists the proof
/// algorithms taken.
pub(super) fn dpop(
    metadata: &str,
    error: &str,
    why: &str,
    algs: &str,
    nonce: Option<&str>,
) -> Response<McpBody> {
    let params = [
        ("error", error.to_owned()),
        ("error_description", why.to_owned()),
        ("algs", algs.to_owned()),
        ("resource_metadata", metadata.to_owned()),
    ];
    let message = match error {
        "use_dpop_nonce" => "Unauthorized: the DPoP proof must carry the server's nonce",
        "invalid_dpop_proof" => "Unauthorized: the DPoP proof is not valid for this request",
        _ => "Unauthorized: the access token is not valid for this server",
    };
    let mut resp = respond(StatusCode::UNAUTHORIZED, "DPoP", &params, message);
    if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
        resp.headers_mut().insert("dpop-nonce", value);
    }
    resp
}

/// 403 `insufficient_scope` naming the scopes the request needs.
/// `scheme` is that of the request's token (`Bearer` or `DPoP`).
pub(super) fn insufficient_scope(metadata: &str, scheme: &str, scope: &str) -> Response<McpBody> {
    let params = [
        ("error", "insufficient_scope".to_owned()),
        ("scope", scope.to_owned()),
        ("resource_metadata", metadata.to_owned()),
        ("error_description", format!("this needs the scope {scope}")),
    ];
    respond(
        StatusCode::FORBIDDEN,
        scheme,
        &params,
        &format!("Forbidden: this needs the scope {scope}"),
    )
}

/// 503: the token could not be checked now (the issuer unreachable, or
/// too many DPoP proofs to remember another): `message` says which.
pub(super) fn unavailable(message: &str) -> Response<McpBody> {
    let msg = Message::error(None, Error::new(ErrorCode::INTERNAL_ERROR, message));
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

fn respond(
    status: StatusCode,
    scheme: &str,
    params: &[(&str, String)],
    message: &str,
) -> Response<McpBody> {
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
    if let Ok(value) = HeaderValue::from_str(&format!("{scheme} {challenge}")) {
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
