//! A request's result on its way to the transport: a JSON tree, or a tool's
//! result already written as JSON text ([`RawAnswer`]).
//!
//! Why text: a `tools/call` result built as a `serde_json::Value` is a tree
//! of maps and strings made, walked once to write it, and freed, for every
//! call. A destination that writes the answer out as it is (the stdio
//! writer, the stream of an HTTP POST, JSON or SSE) takes it as text
//! instead, serialized straight from the handler's typed result: about 2k
//! of the 24k instructions a stdio call took. The paths that keep or
//! reshape results (the stateless era's decoration, tasks, batches over
//! stdio, the in-process and legacy transports) still get the tree, but
//! for the stateless era's JSON answer, which takes the typed result and
//! writes it decorated ([`Reply::Tool`]).

use mcp_sdk::{CallToolResult, ContentBlock, Error, Message, RequestId, TextContent};
use serde::ser::{SerializeMap, SerializeSeq as _};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// A request's result, as dispatch gives it.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A JSON tree.
    Value(Value),
    /// JSON text, as serde_json wrote it, for a destination that
    /// [takes it](crate::sink::MessageSink::takes_raw).
    Raw(String),
    /// A tool's result as its handler gave it, for a destination that
    /// writes it itself: the stateless era's answer, which adds what a
    /// 2026-07-28 result carries as it writes.
    Tool(CallToolResult),
}

/// The form dispatch gives a tool's result in: what its destination
/// writes out best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolForm {
    /// A JSON tree ([`Reply::Value`]), for destinations that keep or
    /// reshape results.
    Tree,
    /// JSON text ([`Reply::Raw`]), for one that writes answers out as they
    /// are.
    Text,
    /// The typed result ([`Reply::Tool`]).
    Typed,
}

impl Reply {
    /// A tool's result as text: serialized from the typed result when its
    /// derived `Serialize` writes what [`CallToolResult::into_value`] makes
    /// (no unknown members, which could repeat a known one's name), else
    /// from that tree.
    pub fn tool_text(result: CallToolResult) -> Result<Reply, Error> {
        let raw = if writes_as_its_tree(&result) {
            serde_json::to_string(&PlainTool(&result))
        } else {
            result
                .into_value()
                .and_then(|tree| serde_json::to_string(&tree))
        };
        raw.map(Reply::Raw)
            .map_err(|e| Error::internal(format_args!("the result did not serialize: {e}")))
    }

    /// The result as a JSON tree (text is read back: only a destination
    /// that refused text, which is rare, pays for that).
    pub fn into_value(self) -> Result<Value, Error> {
        match self {
            Reply::Value(value) => Ok(value),
            Reply::Raw(raw) => serde_json::from_str(&raw)
                .map_err(|e| Error::internal(format_args!("the result did not read back: {e}"))),
            Reply::Tool(result) => tool_result_value(result),
        }
    }
}

/// Encodes a tool's result as `serde_json::to_value` does, by moving its
/// parts ([`CallToolResult::into_value`]): `tools/call` is the hottest
/// request.
pub(crate) fn tool_result_value(result: CallToolResult) -> Result<Value, Error> {
    result
        .into_value()
        .map_err(|e| Error::internal(format_args!("the result did not serialize: {e}")))
}

/// The JSON-RPC answer to request `id`, as a message.
pub(crate) fn response(id: RequestId, answer: Result<Value, Error>) -> Message {
    match answer {
        Ok(result) => Message::response(id, result),
        Err(error) => Message::error(Some(id), error),
    }
}

/// Whether `result`'s derived `Serialize` gives the members of its tree:
/// nothing flattened from `extra` that could repeat a member's name (and
/// so, for one, no `resultType`).
pub(crate) fn writes_as_its_tree(result: &CallToolResult) -> bool {
    result.extra.is_empty()
        && result.content.iter().all(|block| {
            matches!(
                block,
                ContentBlock::Text(TextContent {
                    annotations: None,
                    meta: None,
                    extra,
                    ..
                }) if extra.is_empty()
            )
        })
}

/// A tool's result of plain text blocks only, nothing unknown in it
/// ([`writes_as_its_tree`]), written as its derived `Serialize` would,
/// without the tagged enum's detour for each block.
pub(crate) struct PlainTool<'a>(pub &'a CallToolResult);

impl PlainTool<'_> {
    /// Its members but `_meta`, into `map`: for a writer that adds to the
    /// result (and to its `_meta`).
    pub fn serialize_members<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let result = self.0;
        map.serialize_entry("content", &Blocks(&result.content))?;
        if let Some(structured) = &result.structured_content {
            map.serialize_entry("structuredContent", structured)?;
        }
        if let Some(is_error) = result.is_error {
            map.serialize_entry("isError", &is_error)?;
        }
        Ok(())
    }
}

/// Content blocks, a plain text block as a map of its type and text.
struct Blocks<'a>(&'a [ContentBlock]);

/// A text block with nothing but its text.
struct PlainText<'a>(&'a str);

impl Serialize for PlainTool<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.serialize_members(&mut map)?;
        if let Some(meta) = &self.0.meta {
            map.serialize_entry("_meta", meta)?;
        }
        map.end()
    }
}

impl Serialize for Blocks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for block in self.0 {
            match block {
                // The members `into_value` names for a plain block.
                ContentBlock::Text(TextContent {
                    text,
                    annotations: None,
                    meta: None,
                    extra,
                    ..
                }) if extra.is_empty() => seq.serialize_element(&PlainText(text))?,
                other => seq.serialize_element(other)?,
            }
        }
        seq.end()
    }
}

impl Serialize for PlainText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "text")?;
        map.serialize_entry("text", self.0)?;
        map.end()
    }
}

/// The answer to request `id` as JSON text, written into the response as
/// it is.
#[derive(Debug)]
pub(crate) struct RawAnswer {
    pub id: RequestId,
    /// JSON text, as serde_json wrote it.
    pub result: String,
}

impl RawAnswer {
    /// As a message, for a destination that takes only messages: the
    /// result is read back into a tree.
    pub fn into_message(self) -> Message {
        let id = self.id;
        match Reply::Raw(self.result).into_value() {
            Ok(result) => Message::response(id, result),
            Err(e) => Message::error(Some(id), e),
        }
    }

    /// Appends the JSON-RPC response: what `into_message().to_vec()` gives,
    /// the result's members in the order they were written.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_head(&self.id, out);
        out.extend_from_slice(self.result.as_bytes());
        out.push(b'}');
    }

    /// The JSON-RPC response as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.result.len());
        self.write(&mut out);
        out
    }

    /// [`to_vec`](Self::to_vec), in the result's own buffer: the envelope's
    /// head is written after the result and rotated before it, which moves
    /// a few bytes where a buffer of its own was an allocation and a copy
    /// (a result written by serde_json has room: it starts at 128 bytes).
    pub fn into_vec(self) -> Vec<u8> {
        let mut out = self.result.into_bytes();
        let result_len = out.len();
        write_head(&self.id, &mut out);
        let head_len = out.len() - result_len;
        out.rotate_right(head_len);
        out.push(b'}');
        out
    }
}

/// Appends a JSON-RPC response's head, up to its result.
fn write_head(id: &RequestId, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    // An id is a number or a string: writing it to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, id);
    out.extend_from_slice(br#","result":"#);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text_of(result: &CallToolResult) -> Value {
        match Reply::tool_text(result.clone()).unwrap() {
            Reply::Raw(raw) => serde_json::from_str(&raw).unwrap(),
            _ => panic!("a tool's text is text"),
        }
    }

    #[test]
    fn an_answer_in_its_own_buffer_is_the_answer_written() {
        let ids = [
            RequestId::Number(7),
            RequestId::String("a \"quoted\" id, longer than the room a result leaves".repeat(4)),
        ];
        for id in ids {
            for result in ["{}", r#"{"content":[{"type":"text","text":"hi"}]}"#] {
                let answer = RawAnswer {
                    id: id.clone(),
                    result: result.to_owned(),
                };
                let written = answer.to_vec();
                assert_eq!(answer.into_vec(), written);
                let expected = Message::response(id.clone(), serde_json::from_str(result).unwrap());
                let read = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap();
                assert_eq!(read(&written), read(&expected.to_vec()));
            }
        }
    }

    #[test]
    fn a_tool_result_as_text_reads_as_its_tree() {
        let mut structured = CallToolResult::text("hi");
        structured.structured_content = Some(json!({"n": 1}));
        structured.is_error = Some(false);
        structured.meta = Some(json!({"k": "v"}).as_object().unwrap().clone());
        let mut with_extra = CallToolResult::error_text("no");
        with_extra.extra.insert(
            "content".into(),
            json!([{"type": "text", "text": "theirs"}]),
        );
        with_extra.extra.insert("x".into(), json!(1));
        let mut annotated = CallToolResult::text("a");
        if let ContentBlock::Text(t) = &mut annotated.content[0] {
            t.extra.insert("text".into(), json!("repeated"));
        }
        let image: CallToolResult = serde_json::from_value(json!({
            "content": [{"type": "image", "data": "AAAA", "mimeType": "image/png"},
                        {"type": "text", "text": "t", "annotations": {"priority": 1.0}}]
        }))
        .unwrap();
        for result in [
            CallToolResult::text("hello, \"bench\"\n"),
            CallToolResult::new(Vec::new()),
            structured,
            with_extra,
            annotated,
            image,
        ] {
            assert_eq!(
                text_of(&result),
                result.clone().into_value().unwrap(),
                "{result:?}"
            );
        }
    }

    #[test]
    fn a_raw_answer_writes_the_message_it_stands_for() {
        for id in [RequestId::Number(7), RequestId::String("a\"b".into())] {
            let Reply::Raw(result) = Reply::tool_text(CallToolResult::text("hi")).unwrap() else {
                panic!("text");
            };
            let answer = RawAnswer { id, result };
            let written: Value = serde_json::from_slice(&answer.to_vec()).unwrap();
            let message = answer.into_message();
            assert_eq!(
                written,
                serde_json::from_slice::<Value>(&message.to_vec()).unwrap()
            );
            assert_eq!(written["result"]["content"][0]["text"], "hi");
        }
    }

    #[test]
    fn text_that_does_not_read_back_is_an_internal_error() {
        // Deeper than serde_json reads (128 levels): written, not read back.
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let mut result = CallToolResult::text("deep");
        result.structured_content = Some(deep);
        let answer = match Reply::tool_text(result).unwrap() {
            Reply::Raw(result) => RawAnswer {
                id: RequestId::Number(1),
                result,
            },
            _ => panic!("a tool's text is text"),
        };
        match answer.into_message() {
            Message::Error(e) => {
                assert_eq!(e.id, Some(RequestId::Number(1)));
                assert!(
                    e.error.message.contains("did not read back"),
                    "{}",
                    e.error.message
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
