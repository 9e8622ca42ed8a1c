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
//!
//! A server may also say so only when called: a 403
//! `insufficient_scope` challenge that the gateway's credentials cannot
//! meet (an exchanged token holds at most the caller's scopes; the
//! gateway's client may not be allowed the scope). The gateway then
//! learns the scope for that tool (`[learn]`): the call is refused with
//! the JSON-RPC error naming it, and from then on the tool's `_meta`
//! names it, so the next call of a caller without it gets the 403 step-up
//! challenge, and a caller who stepped up gets through.

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

/// Adds `scopes` to those `tool`'s `_meta` says a call needs (scopes a
/// server asked for when the tool was called).
pub(crate) fn learn(tool: &mut Tool, scopes: &[String]) {
    let mut all: Vec<String> = required(tool).into_iter().map(str::to_owned).collect();
    for s in scopes {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    tool.meta
        .get_or_insert_with(Default::default)
        .insert(REQUIRED_SCOPES_META.into(), serde_json::json!(all));
}

/// The refusal of a call that the server `server` answered with a 403
/// step-up challenge for `scope` which the gateway's credentials could
/// not meet (`why`).
pub(crate) fn refused_downstream(server: &str, scope: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::INVALID_REQUEST,
        format!(
            "the downstream server {server:?} needs the scope {scope:?}, which the gateway's credentials for it could not get: {why}"
        ),
    )
    .with_data(serde_json::json!({ "error": "insufficient_scope", "scope": scope, "server": server }))
}

/// The scopes a refusal made by [`refused_downstream`] names.
pub(crate) fn asked_downstream(error: &Error) -> Option<Vec<String>> {
    let data = error.data.as_ref()?;
    data.get("server")?;
    if data.get("error")?.as_str()? != "insufficient_scope" {
        return None;
    }
    let scopes: Vec<String> = data
        .get("scope")?
        .as_str()?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    (!scopes.is_empty()).then_some(scopes)
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

    #[test]
    fn a_scope_asked_downstream_is_learnt_into_the_tools_meta() {
        let mut tool = Tool::named("write", "Writes");
        let refused = refused_downstream("db", "db:write db:admin", "refused");
        let asked = asked_downstream(&refused).unwrap();
        assert_eq!(asked, ["db:write", "db:admin"]);
        learn(&mut tool, &asked);
        learn(&mut tool, &["db:write".to_owned()]);
        assert_eq!(required(&tool), ["db:write", "db:admin"]);
        // The gateway's own refusal (no server named) is not learnt from.
        assert!(asked_downstream(&refusal("db__write", &["db:write"])).is_none());
    }
}
