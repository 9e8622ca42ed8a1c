//! Every official example (2026-07-28/examples/TYPE/NAME.json) deserializes
//! into our type and serializes back to the same JSON, those of the
//! stateless era's own types included. Fields the session-era types do not
//! name (`resultType`, `ttlMs`, `io.modelcontextprotocol/*` in `_meta`...)
//! survive in `extra` and `_meta`.

mod common;

use mcp_sdk::jsonrpc::{decode_value, Message, Notification, Request, Response};
use mcp_sdk::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// How an example directory is checked.
type Check = fn(&Value) -> Result<(), String>;

/// Round-trips a value through `T`.
fn data<T: Serialize + DeserializeOwned>(v: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| format!("deserialize: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("serialize: {e}"))?;
    same(v, &back)
}

/// Round-trips params through `P` (absent params are `{}`).
fn params<P: RequestParams>(p: Option<&Value>) -> Result<Option<Value>, String> {
    let input = p
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let typed: P = serde_json::from_value(input).map_err(|e| format!("params: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("serialize params: {e}"))?;
    Ok(match (p, back) {
        (None, Value::Object(m)) if m.is_empty() => None,
        (_, back) => Some(back),
    })
}

fn notification_params<P: NotificationParams>(p: Option<&Value>) -> Result<Option<Value>, String> {
    let input = p
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let typed: P = serde_json::from_value(input).map_err(|e| format!("params: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("serialize params: {e}"))?;
    Ok(match (p, back) {
        (None, Value::Object(m)) if m.is_empty() => None,
        (_, back) => Some(back),
    })
}

fn decode(v: &Value) -> Result<Message, String> {
    decode_value(v.clone()).map_err(|e| format!("not a JSON-RPC message: {e}"))
}

fn encode(m: &Message) -> Value {
    serde_json::to_value(m).unwrap()
}

/// A full JSON-RPC request whose params are `P`.
fn request<P: RequestParams>(v: &Value) -> Result<(), String> {
    let Message::Request(r) = decode(v)? else {
        return Err("not a request".into());
    };
    if r.method != P::METHOD {
        return Err(format!("method {:?}, expected {:?}", r.method, P::METHOD));
    }
    let params = params::<P>(r.params.as_ref())?;
    same(v, &encode(&Message::Request(Request { params, ..r })))
}

/// A full JSON-RPC notification whose params are `P`.
fn notification<P: NotificationParams>(v: &Value) -> Result<(), String> {
    let Message::Notification(n) = decode(v)? else {
        return Err("not a notification".into());
    };
    if n.method != P::METHOD {
        return Err(format!("method {:?}, expected {:?}", n.method, P::METHOD));
    }
    let params = notification_params::<P>(n.params.as_ref())?;
    same(
        v,
        &encode(&Message::Notification(Notification { params, ..n })),
    )
}

/// A full JSON-RPC response whose result is `R`.
fn response<R: Serialize + DeserializeOwned>(v: &Value) -> Result<(), String> {
    let Message::Response(r) = decode(v)? else {
        return Err("not a response".into());
    };
    let typed: R = serde_json::from_value(r.result.clone()).map_err(|e| format!("result: {e}"))?;
    let result = serde_json::to_value(&typed).unwrap();
    same(v, &encode(&Message::Response(Response { result, ..r })))
}

/// A request as embedded in other messages (no `jsonrpc`, maybe no `id`):
/// `{"method": ..., "params": ...}`.
fn embedded_request<P: RequestParams>(v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("not an object")?;
    if obj.get("method").and_then(Value::as_str) != Some(P::METHOD) {
        return Err(format!(
            "method {:?}, expected {:?}",
            obj.get("method"),
            P::METHOD
        ));
    }
    let mut back = obj.clone();
    match params::<P>(obj.get("params"))? {
        Some(p) => back.insert("params".into(), p),
        None => back.remove("params"),
    };
    same(v, &Value::Object(back))
}

/// The 2026-07-28 URL elicitation example lacks `elicitationId`, which
/// 2025-11-25 requires: check it with one added, and that it is refused
/// without.
fn url_params_with_session_id(v: &Value) -> Result<(), String> {
    if serde_json::from_value::<ElicitRequestParams>(v.clone()).is_ok() {
        return Err("accepted URL-mode params without elicitationId".into());
    }
    let mut v = v.clone();
    v.as_object_mut()
        .ok_or("not an object")?
        .insert("elicitationId".into(), "el-1".into());
    data::<ElicitRequestUrlParams>(&v)?;
    data::<ElicitRequestParams>(&v)
}

fn same(original: &Value, back: &Value) -> Result<(), String> {
    if original == back {
        Ok(())
    } else {
        Err(format!(
            "round trip changed the JSON:\n      original: {original}\n      ours:     {back}"
        ))
    }
}

/// Example type -> the checks to run on each of its files.
fn mapping() -> Vec<(&'static str, Vec<Check>)> {
    vec![
        (
            "AudioContent",
            vec![data::<ContentBlock>, data::<SamplingContentBlock>],
        ),
        (
            "BlobResourceContents",
            vec![data::<ResourceContents>, data::<BlobResourceContents>],
        ),
        (
            "BooleanSchema",
            vec![data::<BooleanSchema>, data::<PrimitiveSchemaDefinition>],
        ),
        ("CallToolRequest", vec![request::<CallToolParams>]),
        ("CallToolRequestParams", vec![data::<CallToolParams>]),
        ("CallToolResult", vec![data::<CallToolResult>]),
        ("CallToolResultResponse", vec![response::<CallToolResult>]),
        (
            "CancelledNotification",
            vec![notification::<CancelledNotificationParams>],
        ),
        (
            "CancelledNotificationParams",
            vec![data::<CancelledNotificationParams>],
        ),
        ("ClientCapabilities", vec![data::<ClientCapabilities>]),
        ("CompleteRequest", vec![request::<CompleteParams>]),
        ("CompleteRequestParams", vec![data::<CompleteParams>]),
        ("CompleteResult", vec![data::<CompleteResult>]),
        ("CompleteResultResponse", vec![response::<CompleteResult>]),
        (
            "CreateMessageRequest",
            vec![embedded_request::<CreateMessageParams>],
        ),
        (
            "CreateMessageRequestParams",
            vec![data::<CreateMessageParams>],
        ),
        ("CreateMessageResult", vec![data::<CreateMessageResult>]),
        (
            "ElicitRequest",
            vec![embedded_request::<ElicitRequestParams>],
        ),
        (
            "ElicitRequestFormParams",
            vec![data::<ElicitRequestFormParams>, data::<ElicitRequestParams>],
        ),
        // Adapted: see `url_params_with_session_id`.
        ("ElicitRequestURLParams", vec![url_params_with_session_id]),
        ("ElicitResult", vec![data::<ElicitResult>]),
        // The stateless era (2026-07-28).
        ("DiscoverRequest", vec![request::<DiscoverParams>]),
        ("DiscoverResult", vec![data::<DiscoverResult>]),
        ("DiscoverResultResponse", vec![response::<DiscoverResult>]),
        ("InputRequests", vec![data::<InputRequests>]),
        ("InputRequiredResult", vec![data::<InputRequiredResult>]),
        ("InputResponses", vec![data::<InputResponses>]),
        (
            "SubscriptionsAcknowledgedNotification",
            vec![notification::<SubscriptionsAcknowledgedNotificationParams>],
        ),
        (
            "SubscriptionsListenRequest",
            vec![request::<SubscriptionsListenParams>],
        ),
        (
            "SubscriptionsListenResult",
            vec![data::<SubscriptionsListenResult>],
        ),
        (
            "SubscriptionsListenResultResponse",
            vec![response::<SubscriptionsListenResult>],
        ),
        ("HeaderMismatchError", vec![|v| error_response(-32020, v)]),
        (
            "MissingRequiredClientCapabilityError",
            vec![|v| error_response(-32021, v)],
        ),
        (
            "UnsupportedProtocolVersionError",
            vec![|v| error_response(-32022, v)],
        ),
        ("EmbeddedResource", vec![data::<ContentBlock>]),
        ("GetPromptRequest", vec![request::<GetPromptParams>]),
        ("GetPromptRequestParams", vec![data::<GetPromptParams>]),
        ("GetPromptResult", vec![data::<GetPromptResult>]),
        ("GetPromptResultResponse", vec![response::<GetPromptResult>]),
        (
            "ImageContent",
            vec![data::<ContentBlock>, data::<SamplingContentBlock>],
        ),
        // Plain JSON-RPC error objects: the SDK's `Error`.
        ("InternalError", vec![data::<Error>]),
        ("InvalidParamsError", vec![data::<Error>]),
        ("MethodNotFoundError", vec![data::<Error>]),
        ("ParseError", vec![data::<Error>]),
        ("ListPromptsRequest", vec![request::<ListPromptsParams>]),
        ("ListPromptsResult", vec![data::<ListPromptsResult>]),
        (
            "ListPromptsResultResponse",
            vec![response::<ListPromptsResult>],
        ),
        (
            "ListResourceTemplatesRequest",
            vec![request::<ListResourceTemplatesParams>],
        ),
        (
            "ListResourceTemplatesResult",
            vec![data::<ListResourceTemplatesResult>],
        ),
        (
            "ListResourceTemplatesResultResponse",
            vec![response::<ListResourceTemplatesResult>],
        ),
        ("ListResourcesRequest", vec![request::<ListResourcesParams>]),
        ("ListResourcesResult", vec![data::<ListResourcesResult>]),
        (
            "ListResourcesResultResponse",
            vec![response::<ListResourcesResult>],
        ),
        (
            "ListRootsRequest",
            vec![embedded_request::<ListRootsParams>],
        ),
        ("ListRootsResult", vec![data::<ListRootsResult>]),
        ("ListToolsRequest", vec![request::<ListToolsParams>]),
        ("ListToolsResult", vec![data::<ListToolsResult>]),
        ("ListToolsResultResponse", vec![response::<ListToolsResult>]),
        (
            "LoggingMessageNotification",
            vec![notification::<LoggingMessageNotificationParams>],
        ),
        (
            "LoggingMessageNotificationParams",
            vec![data::<LoggingMessageNotificationParams>],
        ),
        ("ModelPreferences", vec![data::<ModelPreferences>]),
        (
            "NumberSchema",
            vec![data::<NumberSchema>, data::<PrimitiveSchemaDefinition>],
        ),
        (
            "PaginatedRequestParams",
            vec![data::<PaginatedParams>, data::<ListToolsParams>],
        ),
        (
            "ProgressNotification",
            vec![notification::<ProgressNotificationParams>],
        ),
        (
            "ProgressNotificationParams",
            vec![data::<ProgressNotificationParams>],
        ),
        (
            "PromptListChangedNotification",
            vec![notification::<PromptListChangedNotificationParams>],
        ),
        ("ReadResourceRequest", vec![request::<ReadResourceParams>]),
        ("ReadResourceResult", vec![data::<ReadResourceResult>]),
        (
            "ReadResourceResultResponse",
            vec![response::<ReadResourceResult>],
        ),
        ("Resource", vec![data::<Resource>]),
        ("ResourceLink", vec![data::<ContentBlock>]),
        (
            "ResourceListChangedNotification",
            vec![notification::<ResourceListChangedNotificationParams>],
        ),
        (
            "ResourceUpdatedNotification",
            vec![notification::<ResourceUpdatedNotificationParams>],
        ),
        (
            "ResourceUpdatedNotificationParams",
            vec![data::<ResourceUpdatedNotificationParams>],
        ),
        ("Root", vec![data::<Root>]),
        ("SamplingMessage", vec![data::<SamplingMessage>]),
        ("ServerCapabilities", vec![data::<ServerCapabilities>]),
        (
            "StringSchema",
            vec![data::<StringSchema>, data::<PrimitiveSchemaDefinition>],
        ),
        (
            "TextContent",
            vec![data::<ContentBlock>, data::<SamplingContentBlock>],
        ),
        (
            "TextResourceContents",
            vec![data::<ResourceContents>, data::<TextResourceContents>],
        ),
        (
            "TitledMultiSelectEnumSchema",
            vec![
                data::<TitledMultiSelectEnumSchema>,
                data::<PrimitiveSchemaDefinition>,
            ],
        ),
        (
            "TitledSingleSelectEnumSchema",
            vec![
                data::<TitledSingleSelectEnumSchema>,
                data::<PrimitiveSchemaDefinition>,
            ],
        ),
        ("Tool", vec![data::<Tool>]),
        (
            "ToolListChangedNotification",
            vec![notification::<ToolListChangedNotificationParams>],
        ),
        ("ToolResultContent", vec![data::<SamplingContentBlock>]),
        ("ToolUseContent", vec![data::<SamplingContentBlock>]),
        (
            "UntitledMultiSelectEnumSchema",
            vec![
                data::<UntitledMultiSelectEnumSchema>,
                data::<PrimitiveSchemaDefinition>,
            ],
        ),
        (
            "UntitledSingleSelectEnumSchema",
            vec![
                data::<UntitledSingleSelectEnumSchema>,
                data::<PrimitiveSchemaDefinition>,
            ],
        ),
    ]
}

/// A full JSON-RPC error response with this code.
fn error_response(code: i32, v: &Value) -> Result<(), String> {
    let Message::Error(e) = decode(v)? else {
        return Err("not an error response".into());
    };
    if e.error.code.0 != code {
        return Err(format!("code {}, expected {code}", e.error.code));
    }
    same(v, &encode(&Message::Error(e)))
}

fn example_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn official_examples_round_trip() {
    let Some(dir) = common::schema_dir() else {
        return;
    };
    let examples = dir.join("2026-07-28").join("examples");
    let mapping = mapping();
    let mut dirs: Vec<String> = std::fs::read_dir(&examples)
        .unwrap_or_else(|e| panic!("{}: {e}", examples.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();

    let mut failures = Vec::new();
    let mut files_checked = 0;
    let mut round_trips = 0;
    let mut types_checked = BTreeSet::new();
    for name in &dirs {
        let Some((_, checks)) = mapping.iter().find(|(n, _)| n == name) else {
            failures.push(format!("{name}: example type not mapped to an SDK type"));
            continue;
        };
        types_checked.insert(name.clone());
        for file in example_files(&examples.join(name)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            files_checked += 1;
            for check in checks {
                round_trips += 1;
                if let Err(e) = check(&value) {
                    failures.push(format!(
                        "{name}/{}: {e}",
                        file.file_name().unwrap().to_string_lossy()
                    ));
                }
            }
        }
    }
    for (name, _) in &mapping {
        if !dirs.contains(&name.to_string()) {
            failures.push(format!("{name}: mapped but no such example directory"));
        }
    }

    eprintln!(
        "examples: {files_checked} files of {} types round-tripped ({round_trips} round trips)",
        types_checked.len(),
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        files_checked >= 100,
        "only {files_checked} example files checked"
    );
    assert!(
        types_checked.len() >= 70,
        "only {} example types checked",
        types_checked.len()
    );
}
