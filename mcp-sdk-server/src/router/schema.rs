//! Tool schemas every MCP client and model provider accepts.
//!
//! `schemars` writes correct JSON Schema 2020-12, but some of it travels
//! badly: `Option<T>` becomes a type array (`["string", "null"]`), which
//! clients that map schemas onto a single-`type` dialect reject; a field of
//! any JSON value becomes a bare `true` (or an object with no keyword at
//! all), which several providers refuse; and integers carry formats such as
//! `uint64` that no JSON Schema defines, so validators warn on every call.
//! The official Inspector's `--strict` check flags all three. [`portable`]
//! rewrites a schema into a form that accepts exactly the same values
//! without them.

use mcp_sdk::JsonObject;
use schemars::transform::{RestrictFormats, Transform};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// The JSON Schema (draft 2020-12) of `T` as a tool's `inputSchema` (what
/// `T` deserializes from), in its [portable] form.
pub fn schema_for<T: JsonSchema>() -> JsonObject {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    finish(schema)
}

/// The JSON Schema (draft 2020-12) of what `T` serializes to, for a tool's
/// `outputSchema`, in its [portable] form. Unlike
/// [`schema_for`], a field that is always written is required even if it
/// has a default, so clients can rely on it.
pub fn output_schema_for<T: JsonSchema>() -> JsonObject {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    finish(schema)
}

fn finish(mut schema: schemars::Schema) -> JsonObject {
    // Formats JSON Schema does not define (`uint64`, `int32`, `double`...)
    // go; the ones it defines (`date-time`, `uri`, `uuid`...) stay.
    RestrictFormats::default().transform(&mut schema);
    let mut value = schema.to_value();
    portable(&mut value);
    match value {
        Value::Object(map) => map,
        // Unreachable after `portable` (a bare boolean became an object),
        // but an object schema is what a tool needs in any case.
        _ => {
            let mut map = Map::new();
            map.insert("type".into(), "object".into());
            map
        }
    }
}

/// Keywords that constrain an instance; a schema with none of them accepts
/// anything. The Inspector's list: assertions, applicators and references
/// (`if` counts only with `then` or `else`).
const CONSTRAINING: &[&str] = &[
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "format",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "required",
    "dependentRequired",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "items",
    "prefixItems",
    "contains",
    "additionalItems",
    "unevaluatedItems",
    "properties",
    "patternProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "dependentSchemas",
    "dependencies",
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
];

/// Keywords whose value may be a boolean without harm: clients read
/// `additionalProperties: false` everywhere.
const BOOLEAN_OK: &[&str] = &[
    "additionalProperties",
    "unevaluatedProperties",
    "additionalItems",
    "unevaluatedItems",
];

/// Keywords holding one subschema.
const ONE_SUBSCHEMA: &[&str] = &[
    "items",
    "contains",
    "not",
    "propertyNames",
    "if",
    "then",
    "else",
    "additionalProperties",
    "unevaluatedProperties",
    "additionalItems",
    "unevaluatedItems",
    "contentSchema",
];

/// Keywords holding a list of subschemas.
const SUBSCHEMA_LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

/// Keywords holding a map of subschemas.
const SUBSCHEMA_MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// Which keywords apply to which instance type, so that a type array split
/// into branches takes each keyword to the branch it constrains.
fn applies_to(keyword: &str) -> Option<&'static [&'static str]> {
    Some(match keyword {
        "minLength" | "maxLength" | "pattern" | "format" | "contentEncoding"
        | "contentMediaType" | "contentSchema" => &["string"],
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => {
            &["number", "integer"]
        }
        "items" | "prefixItems" | "minItems" | "maxItems" | "uniqueItems" | "contains"
        | "minContains" | "maxContains" | "unevaluatedItems" => &["array"],
        "properties"
        | "required"
        | "additionalProperties"
        | "patternProperties"
        | "propertyNames"
        | "minProperties"
        | "maxProperties"
        | "dependentRequired"
        | "dependentSchemas"
        | "unevaluatedProperties" => &["object"],
        _ => return None,
    })
}

/// The schema of any JSON value, written with one `type` per branch.
fn any_value() -> Value {
    json!([
        {"type": "object"},
        {"type": "array"},
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
    ])
}

/// Rewrites `schema` in place so that it accepts exactly the same values,
/// without type arrays, boolean subschemas (except `additionalProperties`
/// and its kin) or schemas that carry no validation keyword:
///
/// - `{"type": ["string", "null"], "maxLength": 5}` becomes
///   `{"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]}`;
/// - `true`, and an object with no validation keyword (`{}`, or only a
///   `description`), becomes an `anyOf` of the six JSON types;
/// - `false` becomes `{"not": {}}`.
///
/// ```
/// use serde_json::json;
///
/// let mut schema = json!({"type": "object", "properties": {
///     "limit": {"type": ["integer", "null"], "minimum": 1},
///     "value": true,
/// }});
/// mcp_sdk_server::router::portable(&mut schema);
/// assert_eq!(schema["properties"]["limit"], json!({"anyOf": [
///     {"type": "integer", "minimum": 1},
///     {"type": "null"},
/// ]}));
/// assert_eq!(schema["properties"]["value"]["anyOf"].as_array().unwrap().len(), 6);
/// ```
pub fn portable(schema: &mut Value) {
    walk(schema, None, 0);
}

/// Deeper than this, schemas are left as they are (a guard for hand-written
/// schemas; generated ones never come near it).
const MAX_DEPTH: usize = 64;

fn walk(node: &mut Value, keyword: Option<&str>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match node {
        Value::Bool(b) => {
            if keyword.is_some_and(|k| BOOLEAN_OK.contains(&k)) {
                return;
            }
            *node = if *b {
                json!({"anyOf": any_value()})
            } else {
                json!({"not": {}})
            };
            return;
        }
        Value::Object(_) => {}
        _ => return,
    }
    let Value::Object(map) = node else { return };
    split_type_array(map);
    let constrains = CONSTRAINING.iter().any(|k| map.contains_key(*k))
        || (map.contains_key("if") && (map.contains_key("then") || map.contains_key("else")));
    if !constrains && keyword != Some("not") {
        map.insert("anyOf".into(), any_value());
    }
    for (key, value) in map.iter_mut() {
        let key = key.as_str();
        if ONE_SUBSCHEMA.contains(&key) {
            if key == "items" {
                if let Value::Array(items) = value {
                    for item in items {
                        walk(item, Some(key), depth + 1);
                    }
                    continue;
                }
            }
            walk(value, Some(key), depth + 1);
        } else if SUBSCHEMA_LIST.contains(&key) {
            if let Value::Array(list) = value {
                for item in list {
                    walk(item, Some(key), depth + 1);
                }
            }
        } else if SUBSCHEMA_MAP.contains(&key) {
            if let Value::Object(entries) = value {
                for item in entries.values_mut() {
                    walk(item, Some(key), depth + 1);
                }
            }
        }
    }
}

/// `"type": [a, b]` as `anyOf` branches of one type each, each taking the
/// keywords that apply to its type; keywords for every type (`enum`,
/// `description`...) stay where they are. A one-element array becomes a
/// plain string.
fn split_type_array(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type") else {
        return;
    };
    let types: Vec<String> = types
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    if types.len() == 1 {
        map.insert("type".into(), Value::String(types[0].clone()));
        return;
    }
    if types.is_empty() {
        return;
    }
    map.remove("type");
    let moved: Vec<String> = map
        .keys()
        .filter(|k| applies_to(k).is_some())
        .cloned()
        .collect();
    let mut branches: Vec<Value> = Vec::with_capacity(types.len());
    for t in &types {
        let mut branch = Map::new();
        branch.insert("type".into(), Value::String(t.clone()));
        for k in &moved {
            let for_type = applies_to(k).unwrap_or_default();
            // `number` keywords constrain integers too.
            if for_type.contains(&t.as_str()) {
                if let Some(v) = map.get(k) {
                    branch.insert(k.clone(), v.clone());
                }
            }
        }
        branches.push(Value::Object(branch));
    }
    for k in &moved {
        map.remove(k);
    }
    let any_of = json!({"anyOf": branches});
    match map.get_mut("anyOf") {
        None => {
            map.insert("anyOf".into(), any_of["anyOf"].clone());
        }
        Some(_) => match map.get_mut("allOf") {
            Some(Value::Array(all)) => all.push(any_of),
            _ => {
                map.insert("allOf".into(), Value::Array(vec![any_of]));
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    /// Every keyword the Inspector's `--strict` check counts as a finding:
    /// type arrays, boolean subschemas, schemas with no validation keyword,
    /// and (the TypeScript SDK's validator's warning) undefined formats.
    fn findings(node: &Value, keyword: Option<&str>, at: &str, out: &mut Vec<String>) {
        match node {
            Value::Bool(_) if !keyword.is_some_and(|k| BOOLEAN_OK.contains(&k)) => {
                out.push(format!("{at}: boolean schema"));
            }
            Value::Object(map) => {
                if map.get("type").is_some_and(Value::is_array) {
                    out.push(format!("{at}: type array"));
                }
                if let Some(f) = map.get("format").and_then(Value::as_str) {
                    if ![
                        "date-time",
                        "date",
                        "time",
                        "duration",
                        "email",
                        "uri",
                        "uuid",
                    ]
                    .contains(&f)
                    {
                        out.push(format!("{at}: format {f}"));
                    }
                }
                let constrains = CONSTRAINING.iter().any(|k| map.contains_key(*k));
                if !constrains && keyword != Some("not") {
                    out.push(format!("{at}: untyped"));
                }
                for (k, v) in map {
                    let here = format!("{at}/{k}");
                    if ONE_SUBSCHEMA.contains(&k.as_str()) {
                        findings(v, Some(k), &here, out);
                    } else if SUBSCHEMA_LIST.contains(&k.as_str()) {
                        for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                            findings(item, Some(k), &format!("{here}/{i}"), out);
                        }
                    } else if SUBSCHEMA_MAP.contains(&k.as_str()) {
                        for (name, item) in v.as_object().into_iter().flatten() {
                            findings(item, Some(k), &format!("{here}/{name}"), out);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    #[derive(Deserialize, Serialize, JsonSchema)]
    #[allow(dead_code)]
    enum Mode {
        Fast,
        Careful { depth: u8 },
    }

    /// A bit of everything schemars writes awkwardly.
    #[derive(Deserialize, Serialize, JsonSchema)]
    #[allow(dead_code)]
    struct Awkward {
        /// A nullable number with a bound.
        #[schemars(range(min = 1))]
        limit: Option<u64>,
        /// Any JSON value.
        value: serde_json::Value,
        values: Vec<serde_json::Value>,
        map: BTreeMap<String, serde_json::Value>,
        ratio: Option<f32>,
        small: i8,
        mode: Option<Mode>,
        #[schemars(length(max = 3))]
        label: Option<String>,
        nested: Option<Box<Awkward>>,
    }

    #[test]
    fn generated_schemas_have_no_finding() {
        let raw = schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<Awkward>()
            .to_value();
        let mut before = Vec::new();
        findings(&raw, None, "", &mut before);
        // The raw schema has every kind of finding; the portable one none.
        for kind in ["type array", "boolean schema", "untyped", "format uint64"] {
            assert!(
                before.iter().any(|f| f.ends_with(kind)),
                "{kind} not in {before:?}"
            );
        }
        for schema in [schema_for::<Awkward>(), output_schema_for::<Awkward>()] {
            let mut after = Vec::new();
            findings(&Value::Object(schema.clone()), None, "", &mut after);
            assert!(after.is_empty(), "{after:?} in {schema:#?}");
        }
    }

    /// The portable schema accepts exactly what the raw one accepts.
    #[test]
    fn portable_schemas_validate_the_same() {
        let raw = schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<Awkward>()
            .to_value();
        let portable = Value::Object(schema_for::<Awkward>());
        let raw = jsonschema::validator_for(&raw).unwrap();
        let portable = jsonschema::validator_for(&portable).unwrap();
        let base = json!({
            "limit": 3, "value": {"any": [1, "x"]}, "values": [null, 1, "a", [], {}],
            "map": {"a": true}, "ratio": 0.5, "small": -3, "mode": "Fast", "label": "abc",
            "nested": null,
        });
        let mut cases = vec![base.clone()];
        for (field, value) in [
            ("limit", json!(null)),
            ("limit", json!(0)),
            ("limit", json!(-1)),
            ("limit", json!("3")),
            ("limit", json!(1.5)),
            ("value", json!(null)),
            ("value", json!("text")),
            ("values", json!("not a list")),
            ("map", json!({"a": null})),
            ("map", json!([])),
            ("ratio", json!(null)),
            ("ratio", json!("x")),
            ("small", json!(200)),
            ("small", json!(null)),
            ("mode", json!({"Careful": {"depth": 2}})),
            ("mode", json!({"Careful": {"depth": 300}})),
            ("mode", json!("Slow")),
            ("mode", json!(null)),
            ("label", json!("abcd")),
            ("label", json!(null)),
            ("label", json!(5)),
            ("nested", base.clone()),
            ("nested", json!({"limit": "x"})),
        ] {
            let mut case = base.clone();
            case[field] = value;
            cases.push(case);
        }
        let mut missing = base.clone();
        missing.as_object_mut().unwrap().remove("value");
        cases.push(missing);
        let mut valid = 0;
        for case in &cases {
            assert_eq!(raw.is_valid(case), portable.is_valid(case), "{case}");
            valid += usize::from(raw.is_valid(case));
        }
        // Both kinds of case are there.
        assert!(valid > 5 && valid < cases.len() - 5, "{valid}");
    }

    #[test]
    fn a_one_type_array_becomes_a_string_and_anyof_is_kept() {
        let mut s = json!({"type": ["string"], "minLength": 1});
        portable(&mut s);
        assert_eq!(s, json!({"type": "string", "minLength": 1}));
        let mut s =
            json!({"type": ["string", "null"], "anyOf": [{"minLength": 1}, {"const": null}]});
        portable(&mut s);
        assert_eq!(s["anyOf"], json!([{"minLength": 1}, {"const": null}]));
        assert_eq!(
            s["allOf"],
            json!([{"anyOf": [{"type": "string"}, {"type": "null"}]}])
        );
        let mut s =
            json!({"type": "object", "additionalProperties": false, "properties": {"x": false}});
        portable(&mut s);
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(s["properties"]["x"], json!({"not": {}}));
    }
}
