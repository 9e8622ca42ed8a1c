//! HTTP request metadata of revision `2026-07-28`: the value encoding of the
//! `Mcp-Name` and `Mcp-Param-{Name}` headers, and the `x-mcp-header`
//! annotations in a tool's `inputSchema` that ask the client to mirror an
//! argument into a header.
//!
//! ```
//! use mcp_sdk_client::headers::encode_value;
//!
//! assert_eq!(encode_value("us-west1"), "us-west1");
//! assert_eq!(encode_value("Hello, 世界"), "=?base64?SGVsbG8sIOS4lueVjA==?=");
//! assert_eq!(encode_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
//! ```

use serde_json::{Map, Value};
use std::collections::HashSet;

/// The prefix of a Base64-encoded header value.
const SENTINEL_START: &str = "=?base64?";
/// The suffix of a Base64-encoded header value.
const SENTINEL_END: &str = "?=";

/// Encodes a header value as the spec's Value Encoding says: as it is when
/// it is plain visible ASCII (spaces allowed inside), otherwise, and when it
/// has leading or trailing whitespace or looks like an encoded value itself,
/// as `=?base64?{Base64 of the UTF-8 bytes}?=`.
pub fn encode_value(value: &str) -> String {
    if needs_base64(value) {
        format!("{SENTINEL_START}{}{SENTINEL_END}", base64(value.as_bytes()))
    } else {
        value.to_owned()
    }
}

/// Whether [`encode_value`] has to Base64-encode `value`.
fn needs_base64(value: &str) -> bool {
    value.bytes().any(|b| !(0x20..=0x7e).contains(&b))
        || value.starts_with(' ')
        || value.ends_with(' ')
        || (value.starts_with(SENTINEL_START)
            && value.ends_with(SENTINEL_END)
            && value.len() >= SENTINEL_START.len() + SENTINEL_END.len())
}

/// Standard Base64 with padding (RFC 4648 section 4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The JSON type an `x-mcp-header` parameter may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderParamType {
    /// `"type": "string"`: sent as it is (encoded when needed).
    String,
    /// `"type": "integer"`: sent in decimal.
    Integer,
    /// `"type": "boolean"`: sent as `true` or `false`.
    Boolean,
}

/// One tool argument to mirror into an `Mcp-Param-{name}` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderParam {
    /// The chain of `properties` keys leading to the argument.
    pub path: Vec<String>,
    /// The `x-mcp-header` value: the header is `Mcp-Param-{name}`.
    pub name: String,
    /// The argument's declared type.
    pub kind: HeaderParamType,
}

impl HeaderParam {
    /// The header's full name.
    pub fn header_name(&self) -> String {
        format!("Mcp-Param-{}", self.name)
    }

    /// The header's value for these arguments, encoded; `None` when the
    /// argument is absent or `null` (the header is then omitted).
    pub fn value(&self, arguments: &Map<String, Value>) -> Option<String> {
        let (first, rest) = self.path.split_first()?;
        let mut value = arguments.get(first)?;
        for key in rest {
            value = value.as_object()?.get(key)?;
        }
        let text = match value {
            Value::Null | Value::Array(_) | Value::Object(_) => return None,
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (_, Some(u), _) => u.to_string(),
                // 42.0 is the integer 42.
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                    format!("{}", f as i64)
                }
                _ => n.to_string(),
            },
        };
        Some(encode_value(&text))
    }
}

/// The `x-mcp-header` annotations of a tool's `inputSchema`, or why they are
/// invalid (which makes the whole tool invalid: a client on Streamable HTTP
/// drops it from `tools/list`).
///
/// An annotation is valid when its value is a non-empty RFC 9110 token,
/// unique (ignoring case) within the schema, on a property whose `type` is
/// `string`, `integer` or `boolean`, reached from the root through
/// `properties` keys only (not through `items`, `anyOf`, `$ref`, `$defs`
/// and the like). `$ref` is never followed.
///
/// ```
/// use mcp_sdk_client::headers::header_params;
/// use serde_json::json;
///
/// let schema = json!({"type": "object", "properties": {
///     "region": {"type": "string", "x-mcp-header": "Region"}}});
/// let params = header_params(schema.as_object().unwrap()).unwrap();
/// assert_eq!(params[0].header_name(), "Mcp-Param-Region");
///
/// let bad = json!({"type": "object", "properties": {
///     "score": {"type": "number", "x-mcp-header": "Score"}}});
/// assert!(header_params(bad.as_object().unwrap()).is_err());
/// ```
pub fn header_params(schema: &Map<String, Value>) -> Result<Vec<HeaderParam>, String> {
    let mut found = Vec::new();
    walk(schema, &mut Vec::new(), true, &mut found)?;
    let mut seen = HashSet::new();
    for param in &found {
        if !seen.insert(param.name.to_ascii_lowercase()) {
            return Err(format!(
                "x-mcp-header {:?} is used more than once (names are compared ignoring case)",
                param.name
            ));
        }
    }
    Ok(found)
}

/// Keywords whose values are instances, not schemas: never searched.
const INSTANCE_KEYWORDS: [&str; 4] = ["default", "const", "enum", "examples"];

fn walk(
    schema: &Map<String, Value>,
    path: &mut Vec<String>,
    reachable: bool,
    found: &mut Vec<HeaderParam>,
) -> Result<(), String> {
    if let Some(name) = schema.get("x-mcp-header") {
        let at = if path.is_empty() {
            "the schema root".to_owned()
        } else {
            format!("property {:?}", path.join("."))
        };
        if !reachable || path.is_empty() {
            return Err(format!(
                "x-mcp-header on {at} is not reachable from the root through properties alone"
            ));
        }
        let name = match name {
            Value::String(s) => s,
            other => return Err(format!("x-mcp-header on {at} is not a string: {other}")),
        };
        if name.is_empty() {
            return Err(format!("x-mcp-header on {at} is empty"));
        }
        if !name.bytes().all(is_tchar) {
            return Err(format!(
                "x-mcp-header {name:?} on {at} is not an HTTP field-name token"
            ));
        }
        let kind =
            match schema.get("type").and_then(Value::as_str) {
                Some("string") => HeaderParamType::String,
                Some("integer") => HeaderParamType::Integer,
                Some("boolean") => HeaderParamType::Boolean,
                other => {
                    return Err(format!(
                    "x-mcp-header {name:?} on {at} needs type string, integer or boolean, not {}",
                    other.map_or_else(
                        || schema.get("type").map_or("none".to_owned(), Value::to_string),
                        str::to_owned
                    )
                ))
                }
            };
        found.push(HeaderParam {
            path: path.clone(),
            name: name.clone(),
            kind,
        });
    }
    for (key, value) in schema {
        if INSTANCE_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        if key == "properties" {
            if let Value::Object(properties) = value {
                for (name, sub) in properties {
                    if let Value::Object(sub) = sub {
                        path.push(name.clone());
                        let result = walk(sub, path, reachable, found);
                        path.pop();
                        result?;
                    }
                }
                continue;
            }
        }
        walk_value(value, path, found)?;
    }
    Ok(())
}

/// Searches a value under a keyword other than `properties`: anything
/// found there is unreachable.
fn walk_value(
    value: &Value,
    path: &mut Vec<String>,
    found: &mut Vec<HeaderParam>,
) -> Result<(), String> {
    match value {
        Value::Object(map) => walk(map, path, false, found),
        Value::Array(items) => items.iter().try_for_each(|v| walk_value(v, path, found)),
        _ => Ok(()),
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_encoded_only_when_they_must_be() {
        assert_eq!(encode_value("us west 1"), "us west 1");
        assert_eq!(encode_value(""), "");
        assert_eq!(encode_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(
            encode_value("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
        assert_eq!(encode_value("\tindented"), "=?base64?CWluZGVudGVk?=");
        assert_eq!(encode_value("a\tb"), "=?base64?YQli?=");
        assert_eq!(encode_value("trailing "), "=?base64?dHJhaWxpbmcg?=");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    #[test]
    fn nested_properties_are_reachable_and_values_follow_their_path() {
        let schema = json!({"type": "object", "properties": {
            "target": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "n": {"type": "integer", "x-mcp-header": "N"},
                "on": {"type": "boolean", "x-mcp-header": "On"},
            }},
            "x": {"type": "string", "default": {"x-mcp-header": "not a schema"}},
        }});
        let params = header_params(schema.as_object().unwrap()).unwrap();
        assert_eq!(params.len(), 3);
        let args = json!({"target": {"region": "eu", "n": 42.0, "on": false}});
        let args = args.as_object().unwrap();
        let values: Vec<_> = params.iter().map(|p| p.value(args)).collect();
        assert!(values.contains(&Some("eu".into())));
        assert!(values.contains(&Some("42".into())));
        assert!(values.contains(&Some("false".into())));
        let null = json!({"target": {"region": null}});
        assert_eq!(params[0].value(null.as_object().unwrap()), None);
    }

    #[test]
    fn invalid_annotations_are_refused() {
        for bad in [
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A B"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A:B"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "Région"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A\t1"}}}),
            json!({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "object", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "null", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"x-mcp-header": "A"}}}),
            json!({"properties": {
                "a": {"type": "string", "x-mcp-header": "MyField"},
                "b": {"type": "string", "x-mcp-header": "myfield"}}}),
            json!({"properties": {"a": {"type": "array",
                "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
            json!({"$defs": {"a": {"type": "string", "x-mcp-header": "A"}},
                "properties": {"a": {"$ref": "#/$defs/a"}}}),
            json!({"type": "string", "x-mcp-header": "Root"}),
        ] {
            assert!(header_params(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
