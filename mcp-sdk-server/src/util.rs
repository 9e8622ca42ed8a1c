//! Small helpers every layer uses: decoding params, encoding results,
//! reading the progress token, locking.

use mcp_sdk::{CallToolResult, ContentBlock, Error, ProgressToken};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::SystemTime;

/// Decodes params, treating absent params as `{}`; a mismatch is -32602.
pub(crate) fn parse<P: DeserializeOwned>(params: Option<Value>) -> Result<P, Error> {
    let value = params.unwrap_or_else(|| Value::Object(Default::default()));
    serde_json::from_value(value).map_err(Error::invalid_params)
}

/// Encodes a result; a failure is -32603.
pub(crate) fn to_value<T: Serialize>(value: T) -> Result<Value, Error> {
    serde_json::to_value(value)
        .map_err(|e| Error::internal(format_args!("the result did not serialize: {e}")))
}

/// Encodes a tool's result as [`to_value`] does, but by moving its parts
/// into the JSON rather than serializing a copy of them: `tools/call` is the
/// hottest request, and its result is mostly text that would be copied once
/// more on the way (plus a map key allocated for each member, and the
/// struct dropped after). Text blocks without annotations, `_meta` or
/// unknown members, the usual ones, are built by hand; any other block goes
/// the serde way, so the JSON is the same either way.
pub(crate) fn tool_result_value(result: CallToolResult) -> Result<Value, Error> {
    let CallToolResult {
        mut content,
        structured_content,
        is_error,
        meta,
        extra,
        ..
    } = result;
    let mut blocks = Vec::with_capacity(content.len());
    // The blocks are read in place, and only their text taken: moving each
    // block out whole copies it.
    for block in &mut content {
        blocks.push(match block {
            ContentBlock::Text(text)
                if text.annotations.is_none() && text.meta.is_none() && text.extra.is_empty() =>
            {
                let mut object = Map::new();
                object.insert("type".into(), Value::String("text".into()));
                object.insert("text".into(), Value::String(std::mem::take(&mut text.text)));
                Value::Object(object)
            }
            other => to_value(&*other)?,
        });
    }
    // The members in the order the derived `Serialize` writes them, the
    // unknown ones last (they overwrite a known one of the same name, as
    // there).
    let mut object = Map::new();
    object.insert("content".into(), Value::Array(blocks));
    if let Some(structured) = structured_content {
        object.insert("structuredContent".into(), structured);
    }
    if let Some(is_error) = is_error {
        object.insert("isError".into(), Value::Bool(is_error));
    }
    if let Some(meta) = meta {
        object.insert("_meta".into(), Value::Object(meta));
    }
    if !extra.is_empty() {
        object.extend(extra);
    }
    Ok(Value::Object(object))
}

/// The `_meta.progressToken` of a request's params.
pub(crate) fn progress_token(params: Option<&Value>) -> Option<ProgressToken> {
    let token = params?.get("_meta")?.get("progressToken")?;
    serde_json::from_value(token.clone()).ok()
}

/// Locks a mutex, going on if a panicking thread poisoned it: the maps it
/// guards stay consistent because every critical section is a single call.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// 128 random bits as 32 hex digits: not guessable, as the spec requires
/// where tasks are not bound to an authorization context.
pub(crate) fn random_task_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 in UTC, to the millisecond.
pub(crate) fn timestamp(t: SystemTime) -> String {
    mcp_sdk::time::rfc3339_millis(t)
}

/// The text of a failed tool result, for a task's status message (both kinds of
/// task say why their tool failed the same way).
pub(crate) fn failed_tool_text(result: &Value) -> String {
    let texts: Vec<&str> = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect();
    if texts.is_empty() {
        "the tool reported an error".to_owned()
    } else {
        texts.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-built JSON of a tool result is the serde one, whatever the
    /// result holds.
    #[test]
    fn tool_results_encode_as_serde_does() {
        use mcp_sdk::{Annotations, TextContent};
        use serde_json::json;
        let mut annotated = TextContent::new("noted");
        annotated.annotations = Some(Annotations::default());
        annotated.extra.insert("x-vendor".into(), json!(1));
        let mut with_meta = TextContent::new("meta");
        with_meta.meta = Some(json!({"k": "v"}).as_object().cloned().unwrap());
        let mut full = CallToolResult::new(vec![
            ContentBlock::text("plain"),
            ContentBlock::Text(annotated),
            ContentBlock::Text(with_meta),
            ContentBlock::image("aGk=", "image/png"),
        ])
        .with_structured_content(json!({"n": 1}));
        full.is_error = Some(false);
        full.meta = Some(json!({"m": true}).as_object().cloned().unwrap());
        full.extra.insert("future".into(), json!([1, 2]));
        let mut clash = CallToolResult::text("shadowed");
        clash.extra.insert("content".into(), json!("extra wins"));
        let cases = [
            CallToolResult::text("hello"),
            CallToolResult::error_text("it failed"),
            CallToolResult::new(vec![]),
            CallToolResult::structured(json!({"a": [1, "b"]})),
            full,
            clash,
        ];
        for case in cases {
            let serde = serde_json::to_value(&case).unwrap();
            assert_eq!(tool_result_value(case).unwrap(), serde);
        }
    }

    #[test]
    fn task_ids_are_random_hex() {
        let (a, b) = (random_task_id(), random_task_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
