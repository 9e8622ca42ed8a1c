//! A request as the server takes it, between a transport's decoding and
//! the era that serves it: [`InboundRequest`], whose [`Params`] are JSON or
//! a `tools/call`'s read straight into their type. Below dispatch and the
//! eras, so that each of them (the stateless era's input rounds among
//! them) reads params the same way.

use crate::util::parse;
use mcp_sdk::jsonrpc::{Request, TypedParams};
use mcp_sdk::{CallToolParams, Error, RequestId};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A request as the server takes it: [`Request`], but for params that may
/// already be typed ([`Params`]).
#[derive(Debug)]
pub(crate) struct InboundRequest {
    pub id: RequestId,
    /// Borrowed for a typed `tools/call`: no copy of its name.
    pub method: Cow<'static, str>,
    pub params: Params,
}

/// A request's params: JSON, or a `tools/call`'s read straight into their
/// type from the message's text ([`decode_as`](mcp_sdk::jsonrpc::decode_as)):
/// the tree of the hottest request's params is then never built.
#[derive(Debug)]
pub(crate) enum Params {
    Json(Option<Value>),
    Call(Box<CallToolParams>),
}

impl InboundRequest {
    /// A `tools/call` whose params were read typed.
    pub fn call(id: RequestId, params: Box<CallToolParams>) -> Self {
        InboundRequest {
            id,
            method: Cow::Borrowed(<CallToolParams as TypedParams>::method()),
            params: Params::Call(params),
        }
    }

    /// The request with JSON params, for what reads them so.
    pub fn into_request(self) -> Request {
        Request {
            id: self.id,
            method: self.method.into_owned(),
            params: self.params.into_json(),
        }
    }
}

impl From<Request> for InboundRequest {
    fn from(req: Request) -> Self {
        InboundRequest {
            id: req.id,
            method: Cow::Owned(req.method),
            params: Params::Json(req.params),
        }
    }
}

impl Params {
    /// The params' `_meta`, if it is an object.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        match self {
            Params::Json(params) => params.as_ref()?.get("_meta")?.as_object(),
            Params::Call(call) => call.meta.as_ref(),
        }
    }

    /// A `tools/call`'s `name`, if it is a string.
    pub fn tool_name(&self) -> Option<&str> {
        self.str_member("name")
    }

    /// The params' member called `member`, if it is a string.
    pub fn str_member(&self, member: &str) -> Option<&str> {
        match self {
            Params::Json(params) => params.as_ref()?.get(member)?.as_str(),
            Params::Call(call) if member == "name" => Some(&call.name),
            // `arguments` and `_meta` are objects, never strings; any
            // other member is among the unknown ones.
            Params::Call(call) => call.extra.get(member)?.as_str(),
        }
    }

    /// A `tools/call`'s `arguments`, if they are an object.
    pub fn arguments(&self) -> Option<&Map<String, Value>> {
        match self {
            Params::Json(params) => params.as_ref()?.get("arguments")?.as_object(),
            Params::Call(call) => call.arguments.as_ref(),
        }
    }

    /// The params as JSON.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Params::Json(params) => params,
            Params::Call(call) => Some(call.into_value()),
        }
    }

    /// The params as JSON, borrowed when they are.
    #[cfg(feature = "auth")]
    pub fn as_json(&self) -> Option<std::borrow::Cow<'_, Value>> {
        match self {
            Params::Json(params) => params.as_ref().map(std::borrow::Cow::Borrowed),
            Params::Call(call) => Some(std::borrow::Cow::Owned((**call).clone().into_value())),
        }
    }

    /// The params as JSON, leaving none.
    pub fn take_json(&mut self) -> Option<Value> {
        std::mem::replace(self, Params::Json(None)).into_json()
    }

    /// The members of the params' object (a typed call's unknown ones,
    /// among which are the members a stateless retry adds).
    pub fn members_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            Params::Json(params) => params.as_mut()?.as_object_mut(),
            Params::Call(call) => Some(&mut call.extra),
        }
    }

    /// Whether the params are an object (typed ones always are).
    pub fn is_object(&self) -> bool {
        match self {
            Params::Json(params) => matches!(params, Some(Value::Object(_))),
            Params::Call(_) => true,
        }
    }

    /// A copy of the params as a JSON object without `_meta`; `None` when
    /// they are not an object.
    pub fn object_without_meta(&self) -> Option<Map<String, Value>> {
        match self {
            Params::Json(params) => {
                let map = params.as_ref()?.as_object()?;
                let kept = map.iter().filter(|(k, _)| *k != "_meta");
                Some(kept.map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            Params::Call(call) => {
                let mut call = CallToolParams::clone(call);
                call.meta = None;
                match call.into_value() {
                    Value::Object(map) => Some(map),
                    _ => None,
                }
            }
        }
    }

    /// A `tools/call`'s params: typed, or read from JSON (-32602 when they
    /// do not fit).
    pub fn into_call(self) -> Result<CallToolParams, Error> {
        match self {
            Params::Json(params) => call_tool_params(params),
            Params::Call(call) => Ok(*call),
        }
    }
}

/// The params of `tools/call`, the hottest request, taken apart by hand in
/// one pass over their members: the derived `Deserialize` of
/// [`CallToolParams`] (whose unknown members are flattened into `extra`)
/// buffers every member, the arguments included, and builds them again.
/// Params of any other shape (no string `name`, `arguments` or `_meta` not
/// an object, a `task`) go the derived way, so that their errors read the
/// same.
fn call_tool_params(params: Option<Value>) -> Result<CallToolParams, Error> {
    let map = match params {
        Some(Value::Object(map)) => map,
        other => return parse(other),
    };
    let (mut name, mut arguments, mut meta) = (None, None, None);
    let mut extra = Map::new();
    let mut members = map.into_iter();
    while let Some((key, value)) = members.next() {
        match (key.as_str(), value) {
            ("name", Value::String(n)) => name = Some(n),
            ("arguments", Value::Object(a)) => arguments = Some(a),
            ("_meta", Value::Object(m)) => meta = Some(m),
            ("name" | "arguments" | "_meta" | "task", value) => {
                // Not the usual shape: put the params together again.
                let mut map = extra;
                map.insert(key, value);
                map.extend(members);
                let known = [
                    ("name", name.map(Value::String)),
                    ("arguments", arguments.map(Value::Object)),
                    ("_meta", meta.map(Value::Object)),
                ];
                for (key, value) in known {
                    if let Some(value) = value {
                        map.insert(key.into(), value);
                    }
                }
                return parse(Some(Value::Object(map)));
            }
            (_, value) => {
                extra.insert(key, value);
            }
        }
    }
    let Some(name) = name else {
        if let Some(a) = arguments {
            extra.insert("arguments".into(), Value::Object(a));
        }
        if let Some(m) = meta {
            extra.insert("_meta".into(), Value::Object(m));
        }
        return parse(Some(Value::Object(extra)));
    };
    let mut params = CallToolParams::new(name, arguments);
    params.meta = meta;
    params.extra = extra;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The hand-taken params equal the derived ones, and params of any
    /// other shape fail as the derived `Deserialize` does.
    #[test]
    fn call_tool_params_read_as_the_derived_way() {
        let cases = [
            json!({"name": "echo", "arguments": {"text": "hi"}}),
            json!({"name": "echo"}),
            json!({"name": "echo", "arguments": {}, "_meta": {"progressToken": 3}, "x": 1}),
            json!({"name": "echo", "task": {"ttl": 5}}),
            json!({"name": "echo", "arguments": null}),
            json!({"name": "echo", "_meta": null, "z": 1}),
            json!({"a": 0, "name": "echo", "task": {"ttl": 5}, "zz": [2]}),
        ];
        for case in cases {
            let derived: CallToolParams = parse(Some(case.clone())).unwrap();
            assert_eq!(call_tool_params(Some(case)).unwrap(), derived);
        }
        for bad in [
            json!({"arguments": {}}),
            json!({"name": 7}),
            json!({"arguments": {}, "_meta": {}, "x": 1}),
            json!({"_meta": {}, "name": ["echo"], "z": 1}),
            json!({"name": "echo", "arguments": [1]}),
            json!([1]),
        ] {
            let derived = parse::<CallToolParams>(Some(bad.clone())).unwrap_err();
            let ours = call_tool_params(Some(bad)).unwrap_err();
            assert_eq!(ours.code, derived.code);
            assert_eq!(ours.message, derived.message);
        }
        assert!(call_tool_params(None).is_err());
    }
}
