//! Downstream scopes asked of the upstream caller.
//!
//! The gateway reaches a protected server with credentials of its own,
//! which may hold more scope than the person calling through it. So a tool
//! that needs a scope downstream needs it upstream too: the gateway asks
//! the caller's token for it before the call goes on.
//!
//! The mapping is by name: a downstream scope `S` is asked of the caller
//! as `S`. The gateway and the servers behind it share one authorization
//! server (one vocabulary of scopes), as in the reference system. A tool
//! says what it needs in its `_meta` (`dev.mcp-sdk/requiredScopes`, which
//! `Route::requires_scope` writes); the gateway keeps that `_meta` when it
//! lists the tool, so its own HTTP layer answers a caller that lacks the
//! scope with the 403 `insufficient_scope` step-up challenge naming it,
//! before anything reaches the server. A tool the gateway has not listed
//! yet is listed at its server first; a caller outside HTTP (no
//! challenge to send) gets a JSON-RPC error naming the scope.

use mcp_sdk::{Error, ErrorCode, Tool};
use mcp_sdk_server::auth::Identity;
use mcp_sdk_server::router::REQUIRED_SCOPES_META;

/// The scopes `tool`'s `_meta` says a call needs.
pub(crate) fn required(tool: &Tool) -> Vec<&str> {
    tool.meta
        .as_ref()
        .and_then(|m| m.get(REQUIRED_SCOPES_META))
        .and_then(serde_json::Value::as_array)
        .map(|list| list.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default()
}

/// The scopes `tool` needs that `identity` was not granted.
pub(crate) fn missing<'a>(tool: &'a Tool, identity: &Identity) -> Vec<&'a str> {
    required(tool)
        .into_iter()
        .filter(|s| !identity.has_scope(s))
        .collect()
}

/// The refusal of a call of `tool` (its prefixed name) whose caller lacks
/// `scopes`.
pub(crate) fn refusal(tool: &str, scopes: &[&str]) -> Error {
    Error::new(
        ErrorCode::INVALID_REQUEST,
        format!(
            "{tool} needs the scope {} which the caller's access token was not granted; \
             ask the authorization server for it and call again",
            scopes.join(" ")
        ),
    )
    .with_data(serde_json::json!({ "error": "insufficient_scope", "scope": scopes.join(" ") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_needs_the_scopes_its_meta_names() {
        let mut tool = Tool::named("write", "Writes");
        assert!(required(&tool).is_empty());
        tool.meta = serde_json::from_value(
            serde_json::json!({ REQUIRED_SCOPES_META: ["db:write", "db:read"] }),
        )
        .unwrap();
        let reader = Identity {
            scopes: vec!["db:read".into()],
            ..Identity::default()
        };
        assert_eq!(missing(&tool, &reader), ["db:write"]);
        let e = refusal("db__write", &missing(&tool, &reader));
        assert!(
            e.message.contains("db__write needs the scope db:write"),
            "{e:?}"
        );
    }
}
