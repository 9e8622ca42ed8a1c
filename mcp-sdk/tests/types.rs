//! Behaviour of the `types` module that the schemas cannot check: unknown
//! fields, tagging, ordering, progress tokens, constructors.

use mcp_sdk::jsonrpc::RequestId;
use mcp_sdk::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn round_trip<T: Serialize + DeserializeOwned>(v: Value) -> (T, Value) {
    let typed: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(back, v, "round trip changed the JSON");
    (typed, back)
}

// ------------------------------------------------------------ unknown fields

#[test]
fn unknown_fields_survive_at_every_level() {
    let (r, _) = round_trip::<CallToolResult>(json!({
        "content": [
            {"type": "text", "text": "hi", "future": 1, "annotations": {"priority": 0.5, "weight": "heavy"}},
            {"type": "resource", "resource": {"uri": "file:///a", "blob": "AA==", "checksum": "x"}, "z": []},
            {"type": "resource_link", "uri": "file:///b", "name": "b", "icons": [{"src": "https://e.com/i.png", "dpi": 2}]}
        ],
        "structuredContent": [1, 2],
        "isError": false,
        "resultType": "complete",
        "ttlMs": 1000,
        "_meta": {"k": "v"}
    }));
    assert_eq!(r.extra["resultType"], "complete");
    let ContentBlock::Text(t) = &r.content[0] else {
        panic!()
    };
    assert_eq!(t.extra["future"], 1);
    assert_eq!(t.annotations.as_ref().unwrap().extra["weight"], "heavy");

    let (init, _) = round_trip::<InitializeParams>(json!({
        "protocolVersion": "2099-01-01",
        "capabilities": {
            "roots": {"listChanged": true, "deep": true},
            "sampling": {"tools": {}, "later": {}},
            "elicitation": {"form": {"x": 1}},
            "tasks": {"requests": {"sampling": {"createMessage": {}, "q": 1}, "other": {}}},
            "extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html"]}}
        },
        "clientInfo": {"name": "c", "version": "1", "vendor": "acme"},
        "somethingNew": true
    }));
    assert_eq!(init.protocol_version, "2099-01-01");
    assert!(init.capabilities.extra.contains_key("extensions"));
    assert_eq!(init.client_info.extra["vendor"], "acme");
    assert_eq!(init.extra["somethingNew"], true);

    round_trip::<ServerCapabilities>(json!({
        "tools": {"listChanged": true, "x": 1},
        "resources": {"subscribe": true, "y": 2},
        "prompts": {"z": 3},
        "logging": {"a": {"b": "c"}},
        "tasks": {"requests": {"tools": {"call": {}, "w": 0}}, "list": {}},
        "newCapability": {}
    }));
    round_trip::<Tool>(json!({
        "name": "t",
        "inputSchema": {"type": "object", "oneOf": [{"required": ["a"]}]},
        "annotations": {"readOnlyHint": true, "costHint": "low"},
        "execution": {"taskSupport": "required", "timeoutHint": 5},
        "category": "math"
    }));
    round_trip::<CreateMessageParams>(json!({
        "messages": [
            {"role": "user", "content": {"type": "text", "text": "q"}, "weight": 1},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "1", "name": "n", "input": {}, "cache": true}]},
            {"role": "user", "content": [{"type": "tool_result", "toolUseId": "1", "content": [], "extraResult": 2}]}
        ],
        "maxTokens": 5,
        "modelPreferences": {"hints": [{"name": "m", "family": "f"}], "costPriority": 0.5, "budget": 3},
        "toolChoice": {"mode": "required", "parallel": false},
        "vendor": {"x": 1}
    }));
    round_trip::<ElicitRequestParams>(json!({
        "mode": "url", "message": "m", "url": "https://e.com", "elicitationId": "e", "popup": true
    }));
    round_trip::<ElicitRequestParams>(json!({
        "message": "m",
        "requestedSchema": {
            "type": "object",
            "properties": {
                "a": {"type": "string", "pattern": "^x"},
                "b": {"type": "array", "items": {"anyOf": [{"const": "1", "title": "One", "icon": "i"}], "w": 1}, "uniqueItems": true},
                "c": {"type": "object", "properties": {}},
                "d": {"type": "number", "multipleOf": 2}
            },
            "additionalProperties": false
        },
        "ui": "modal"
    }));
    round_trip::<GetTaskResult>(json!({
        "taskId": "t", "status": "working", "createdAt": "c", "lastUpdatedAt": "l", "ttl": null,
        "progressPercent": 40, "_meta": {"m": 1}
    }));
    round_trip::<CompleteParams>(json!({
        "ref": {"type": "ref/resource", "uri": "file:///{x}", "hint": 1},
        "argument": {"name": "x", "value": "", "cursor": 0},
        "context": {"arguments": {"a": "b"}, "more": 1},
        "z": 1
    }));
    round_trip::<PingParams>(json!({"_meta": {"progressToken": 1}, "x": [1]}));
}

#[test]
fn unknown_fields_can_be_set_and_are_written() {
    let mut tool = Tool::new(
        "t",
        "d",
        json!({"type": "object"}).as_object().cloned().unwrap(),
    );
    tool.extra.insert("x-private".into(), json!(true));
    let v = serde_json::to_value(&tool).unwrap();
    assert_eq!(v["x-private"], true);
    assert_eq!(v["inputSchema"], json!({"type": "object"}));
}

// ------------------------------------------------------------ tagging

#[test]
fn content_blocks_are_tagged_by_type() {
    let resource = Resource::new("file:///a.txt", "a.txt");
    let cases = [
        (ContentBlock::text("t"), "text"),
        (ContentBlock::image("AA==", "image/png"), "image"),
        (ContentBlock::audio("AA==", "audio/wav"), "audio"),
        (ContentBlock::resource_link(resource), "resource_link"),
        (
            ContentBlock::embedded_text("file:///a.txt", "text/plain", "A"),
            "resource",
        ),
    ];
    for (block, tag) in cases {
        let v = serde_json::to_value(&block).unwrap();
        assert_eq!(v["type"], tag);
        let text = serde_json::to_string(&block).unwrap();
        assert_eq!(text.matches(r#""type""#).count(), 1, "{text}");
        let back: ContentBlock = serde_json::from_value(v).unwrap();
        assert_eq!(back, block, "{tag}");
    }
    assert_eq!(
        serde_json::to_value(ContentBlock::text("hi")).unwrap(),
        json!({"type": "text", "text": "hi"})
    );
    assert_eq!(
        serde_json::to_value(ContentBlock::embedded_text("file:///a", "text/plain", "A")).unwrap(),
        json!({"type": "resource", "resource": {"uri": "file:///a", "mimeType": "text/plain", "text": "A"}})
    );

    // The tag chooses the variant; unknown or missing tags are errors.
    let link: ContentBlock =
        serde_json::from_value(json!({"type": "resource_link", "uri": "u", "name": "n"})).unwrap();
    assert!(matches!(link, ContentBlock::ResourceLink(ref r) if r.extra.is_empty()));
    assert!(serde_json::from_value::<ContentBlock>(json!({"type": "video", "data": ""})).is_err());
    assert!(serde_json::from_value::<ContentBlock>(json!({"text": "no tag"})).is_err());
    assert!(
        serde_json::from_value::<ContentBlock>(json!({"type": "image", "data": "AA=="})).is_err()
    );
    // A tool_use block is sampling content, not a content block.
    let tool_use = json!({"type": "tool_use", "id": "1", "name": "n", "input": {}});
    assert!(serde_json::from_value::<ContentBlock>(tool_use.clone()).is_err());
    assert!(matches!(
        serde_json::from_value::<SamplingContentBlock>(tool_use).unwrap(),
        SamplingContentBlock::ToolUse(_)
    ));
}

#[test]
fn resource_contents_are_told_apart_by_text_or_blob() {
    let t: ResourceContents = serde_json::from_value(json!({"uri": "u", "text": ""})).unwrap();
    assert_eq!(t.as_text(), Some(""));
    let b: ResourceContents =
        serde_json::from_value(json!({"uri": "u", "blob": "AA==", "mimeType": "x/y"})).unwrap();
    assert!(matches!(b, ResourceContents::Blob(_)));
    assert_eq!((b.uri(), b.mime_type()), ("u", Some("x/y")));
    assert!(serde_json::from_value::<ResourceContents>(json!({"uri": "u"})).is_err());
}

#[test]
fn completion_references_are_tagged() {
    let p: CompleteParams = serde_json::from_value(json!({
        "ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": "v"}
    }))
    .unwrap();
    assert_eq!(p.reference, CompletionReference::prompt("p"));
    assert_eq!(
        serde_json::to_value(CompletionReference::resource("file:///{x}")).unwrap(),
        json!({"type": "ref/resource", "uri": "file:///{x}"})
    );
}

#[test]
fn sampling_content_is_one_block_or_many() {
    let one: SamplingMessage =
        serde_json::from_value(json!({"role": "user", "content": {"type": "text", "text": "a"}}))
            .unwrap();
    assert!(matches!(one.content, SamplingContent::Single(_)));
    assert_eq!(one.content.text(), Some("a"));
    let many: SamplingMessage = serde_json::from_value(json!({"role": "user", "content": [
        {"type": "image", "data": "AA==", "mimeType": "image/png"}, {"type": "text", "text": "b"}
    ]}))
    .unwrap();
    assert_eq!(many.content.blocks().len(), 2);
    assert_eq!(many.content.text(), Some("b"));
    assert_eq!(
        serde_json::to_value(SamplingMessage::user_text("x")).unwrap(),
        json!({"role": "user", "content": {"type": "text", "text": "x"}})
    );
}

#[test]
fn elicitation_mode_chooses_the_variant() {
    let schema = json!({"type": "object", "properties": {}});
    let form: ElicitRequestParams =
        serde_json::from_value(json!({"message": "m", "requestedSchema": schema})).unwrap();
    assert_eq!(form.mode(), ElicitMode::Form);
    let form: ElicitRequestParams =
        serde_json::from_value(json!({"mode": "form", "message": "m", "requestedSchema": schema}))
            .unwrap();
    assert!(matches!(
        form,
        ElicitRequestParams::Form(ElicitRequestFormParams {
            mode: Some(ElicitMode::Form),
            ..
        })
    ));
    let url: ElicitRequestParams = serde_json::from_value(
        json!({"mode": "url", "message": "m", "url": "https://e.com", "elicitationId": "1"}),
    )
    .unwrap();
    assert_eq!((url.mode(), url.message()), (ElicitMode::Url, "m"));

    let err =
        serde_json::from_value::<ElicitRequestParams>(json!({"mode": "voice", "message": "m"}))
            .unwrap_err();
    assert!(err.to_string().contains("voice"), "{err}");
    // URL mode without its URL is an error, not a form.
    assert!(
        serde_json::from_value::<ElicitRequestParams>(json!({"mode": "url", "message": "m"}))
            .is_err()
    );
    // A form made with the constructor leaves `mode` out, valid in 2025-06-18 too.
    let v =
        serde_json::to_value(ElicitRequestParams::form("m", ElicitationSchema::default())).unwrap();
    assert_eq!(
        v,
        json!({"message": "m", "requestedSchema": {"type": "object", "properties": {}}})
    );
    let v = serde_json::to_value(ElicitRequestParams::url("m", "https://e.com", "e1")).unwrap();
    assert_eq!(
        v,
        json!({"mode": "url", "message": "m", "url": "https://e.com", "elicitationId": "e1"})
    );
}

#[test]
fn primitive_schemas_are_recognized() {
    let kind = |v: Value| -> &'static str {
        match serde_json::from_value::<PrimitiveSchemaDefinition>(v).unwrap() {
            PrimitiveSchemaDefinition::String(_) => "string",
            PrimitiveSchemaDefinition::Number(_) => "number",
            PrimitiveSchemaDefinition::Boolean(_) => "boolean",
            PrimitiveSchemaDefinition::UntitledSingleSelect(_) => "untitled-single",
            PrimitiveSchemaDefinition::TitledSingleSelect(_) => "titled-single",
            PrimitiveSchemaDefinition::UntitledMultiSelect(_) => "untitled-multi",
            PrimitiveSchemaDefinition::TitledMultiSelect(_) => "titled-multi",
            PrimitiveSchemaDefinition::LegacyTitledEnum(_) => "legacy",
            PrimitiveSchemaDefinition::Other(_) => "other",
        }
    };
    assert_eq!(kind(json!({"type": "string", "format": "email"})), "string");
    assert_eq!(kind(json!({"type": "integer", "minimum": 1})), "number");
    assert_eq!(kind(json!({"type": "number"})), "number");
    assert_eq!(kind(json!({"type": "boolean"})), "boolean");
    assert_eq!(
        kind(json!({"type": "string", "enum": ["a"]})),
        "untitled-single"
    );
    assert_eq!(
        kind(json!({"type": "string", "enum": ["a"], "enumNames": ["A"]})),
        "legacy"
    );
    assert_eq!(
        kind(json!({"type": "string", "oneOf": [{"const": "a", "title": "A"}]})),
        "titled-single"
    );
    assert_eq!(
        kind(json!({"type": "array", "items": {"type": "string", "enum": ["a"]}})),
        "untitled-multi"
    );
    assert_eq!(
        kind(json!({"type": "array", "items": {"anyOf": [{"const": "a", "title": "A"}]}})),
        "titled-multi"
    );
    assert_eq!(kind(json!({"type": "object"})), "other");
    assert_eq!(kind(json!({"description": "no type"})), "other");
    // A known kind with wrong member types is an error, not `Other`.
    assert!(serde_json::from_value::<PrimitiveSchemaDefinition>(
        json!({"type": "boolean", "default": "yes"})
    )
    .is_err());
    assert!(serde_json::from_value::<StringSchema>(json!({"type": "number"})).is_err());
}

// ------------------------------------------------------------ logging

#[test]
fn logging_levels_are_ordered_by_severity() {
    use LoggingLevel::*;
    let order = [
        Debug, Info, Notice, Warning, Error, Critical, Alert, Emergency,
    ];
    assert_eq!(LoggingLevel::ALL, order);
    for pair in order.windows(2) {
        assert!(pair[0] < pair[1], "{} < {}", pair[0], pair[1]);
    }
    let mut shuffled = vec![
        Emergency, Debug, Warning, Info, Alert, Notice, Critical, Error,
    ];
    shuffled.sort();
    assert_eq!(shuffled, order);
    assert!(Warning >= Warning && Error > Warning && Debug < Info);
    // Filtering as a server does: send what is at least the requested level.
    let min = Warning;
    let sent: Vec<_> = order.iter().filter(|l| **l >= min).collect();
    assert_eq!(sent, [&Warning, &Error, &Critical, &Alert, &Emergency]);

    for level in order {
        let v = serde_json::to_value(level).unwrap();
        assert_eq!(v, json!(level.as_str()));
        assert_eq!(level.to_string().parse::<LoggingLevel>().unwrap(), level);
    }
    assert!("verbose".parse::<LoggingLevel>().is_err());
    assert!(serde_json::from_value::<LoggingLevel>(json!("WARNING")).is_err());
}

// ------------------------------------------------------------ progress tokens

#[test]
fn progress_tokens_are_read_from_meta() {
    let params: CallToolParams =
        serde_json::from_value(json!({"name": "t", "_meta": {"progressToken": 12}})).unwrap();
    assert_eq!(params.progress_token(), Some(ProgressToken::Number(12)));
    let params: ReadResourceParams =
        serde_json::from_value(json!({"uri": "u", "_meta": {"progressToken": "abc", "other": 1}}))
            .unwrap();
    assert_eq!(
        params.progress_token(),
        Some(ProgressToken::String("abc".into()))
    );
    let params: ListToolsParams = serde_json::from_value(json!({})).unwrap();
    assert_eq!(params.progress_token(), None);
    let params: PingParams = serde_json::from_value(json!({"_meta": {}})).unwrap();
    assert_eq!(params.progress_token(), None);

    // Only strings and integers are tokens.
    for bad in [
        json!(1.5),
        json!(true),
        json!(null),
        json!({"a": 1}),
        json!([1]),
    ] {
        let meta = json!({"progressToken": bad}).as_object().cloned();
        assert_eq!(progress_token(&meta), None, "{bad}");
    }
    assert_eq!(progress_token(&None), None);
    assert_eq!(
        progress_token(&json!({"progressToken": -4}).as_object().cloned()),
        Some(ProgressToken::Number(-4))
    );

    // Setting a token keeps the rest of `_meta`.
    let mut params = CallToolParams::new("t", None)
        .with_meta(json!({"trace": "t"}).as_object().cloned().unwrap());
    params.set_progress_token("p-1");
    assert_eq!(
        serde_json::to_value(&params).unwrap()["_meta"],
        json!({"trace": "t", "progressToken": "p-1"})
    );
    let mut elicit = ElicitRequestParams::url("m", "https://e.com", "e");
    elicit.set_progress_token(5);
    assert_eq!(elicit.progress_token(), Some(ProgressToken::Number(5)));

    // The token type itself is a string or an integer, as on the wire.
    assert_eq!(
        serde_json::to_value(ProgressToken::Number(3)).unwrap(),
        json!(3)
    );
    assert_eq!(
        serde_json::from_value::<ProgressToken>(json!("x")).unwrap(),
        ProgressToken::from("x")
    );
    assert!(serde_json::from_value::<ProgressToken>(json!(2.5)).is_err());
    let n: ProgressNotificationParams =
        serde_json::from_value(json!({"progressToken": 7, "progress": 1, "total": 2.5})).unwrap();
    assert_eq!(n.progress_token, ProgressToken::Number(7));
}

// ------------------------------------------------------------ methods

#[test]
fn methods_are_unique_and_as_specified() {
    fn m<P: RequestParams>() -> &'static str {
        P::METHOD
    }
    fn n<P: NotificationParams>() -> &'static str {
        P::METHOD
    }
    let requests = [
        m::<InitializeParams>(),
        m::<PingParams>(),
        m::<ListToolsParams>(),
        m::<CallToolParams>(),
        m::<ListResourcesParams>(),
        m::<ListResourceTemplatesParams>(),
        m::<ReadResourceParams>(),
        m::<SubscribeParams>(),
        m::<UnsubscribeParams>(),
        m::<ListPromptsParams>(),
        m::<GetPromptParams>(),
        m::<CompleteParams>(),
        m::<SetLevelParams>(),
        m::<CreateMessageParams>(),
        m::<ListRootsParams>(),
        m::<ElicitRequestParams>(),
        m::<GetTaskParams>(),
        m::<GetTaskPayloadParams>(),
        m::<CancelTaskParams>(),
        m::<ListTasksParams>(),
    ];
    let notifications = [
        n::<InitializedNotificationParams>(),
        n::<CancelledNotificationParams>(),
        n::<ProgressNotificationParams>(),
        n::<LoggingMessageNotificationParams>(),
        n::<ResourceUpdatedNotificationParams>(),
        n::<ResourceListChangedNotificationParams>(),
        n::<ToolListChangedNotificationParams>(),
        n::<PromptListChangedNotificationParams>(),
        n::<RootsListChangedNotificationParams>(),
        n::<ElicitationCompleteNotificationParams>(),
        n::<TaskStatusNotificationParams>(),
    ];
    assert_eq!(
        requests.iter().collect::<BTreeSet<_>>().len(),
        requests.len()
    );
    assert_eq!(
        notifications.iter().collect::<BTreeSet<_>>().len(),
        notifications.len()
    );
    assert!(notifications
        .iter()
        .all(|m| m.starts_with("notifications/")));
    assert!(requests.iter().all(|m| !m.starts_with("notifications/")));
    assert_eq!(
        m::<ListResourceTemplatesParams>(),
        "resources/templates/list"
    );
    assert_eq!(m::<GetTaskPayloadParams>(), "tasks/result");
    assert_eq!(
        n::<LoggingMessageNotificationParams>(),
        "notifications/message"
    );
}

#[test]
fn empty_params_accept_empty_objects() {
    for v in [json!({}), json!({"_meta": {"a": 1}})] {
        serde_json::from_value::<PingParams>(v.clone()).unwrap();
        serde_json::from_value::<InitializedNotificationParams>(v.clone()).unwrap();
        serde_json::from_value::<ToolListChangedNotificationParams>(v.clone()).unwrap();
        serde_json::from_value::<ListRootsParams>(v.clone()).unwrap();
        serde_json::from_value::<EmptyResult>(v.clone()).unwrap();
        serde_json::from_value::<ListPromptsParams>(v).unwrap();
    }
    assert_eq!(
        serde_json::to_value(EmptyResult::default()).unwrap(),
        json!({})
    );
}

// ------------------------------------------------------------ constructors and details

#[test]
fn constructors_build_what_the_spec_expects() {
    assert_eq!(
        serde_json::to_value(CallToolResult::text("ok")).unwrap(),
        json!({"content": [{"type": "text", "text": "ok"}]})
    );
    let err = CallToolResult::error_text("bad");
    assert!(err.is_error());
    assert_eq!(serde_json::to_value(&err).unwrap()["isError"], true);
    let s = CallToolResult::structured(json!({"sum": 3}));
    assert_eq!(s.structured_content, Some(json!({"sum": 3})));
    let text = s.content[0].as_text().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        json!({"sum": 3})
    );
    assert!(!s.is_error());

    assert_eq!(
        serde_json::to_value(Implementation::new("n", "1.0")).unwrap(),
        json!({"name": "n", "version": "1.0"})
    );
    assert_eq!(
        serde_json::to_value(PromptMessage::user_text("hi")).unwrap(),
        json!({"role": "user", "content": {"type": "text", "text": "hi"}})
    );
    assert_eq!(
        serde_json::to_value(ReadResourceResult::text("file:///a", "text/plain", "A")).unwrap(),
        json!({"contents": [{"uri": "file:///a", "mimeType": "text/plain", "text": "A"}]})
    );
    assert_eq!(
        serde_json::to_value(Resource::new("file:///a", "a")).unwrap(),
        json!({"uri": "file:///a", "name": "a"})
    );
    let tool = Tool::new(
        "t",
        "does t",
        json!({"type": "object"}).as_object().cloned().unwrap(),
    );
    assert_eq!(
        serde_json::to_value(&tool).unwrap(),
        json!({"name": "t", "description": "does t", "inputSchema": {"type": "object"}})
    );

    let many = CompleteResult::new((0..120).map(|i| i.to_string()).collect());
    assert_eq!(many.completion.values.len(), 100);
    assert_eq!(
        (many.completion.total, many.completion.has_more),
        (Some(120), Some(true))
    );
    let few = CompleteResult::new(vec!["a".into()]);
    assert_eq!(
        (few.completion.total, few.completion.has_more),
        (Some(1), Some(false))
    );

    assert_eq!(
        serde_json::to_value(
            CancelledNotificationParams::new(RequestId::Number(3)).with_reason("r")
        )
        .unwrap(),
        json!({"requestId": 3, "reason": "r"})
    );
    // A cancellation must name its request.
    assert!(serde_json::from_value::<CancelledNotificationParams>(json!({"reason": "r"})).is_err());

    let e = UrlElicitationRequiredData::new(vec![ElicitRequestUrlParams::new(
        "m",
        "https://e.com",
        "e",
    )])
    .into_error("needs auth");
    assert_eq!(e.code, ErrorCode::URL_ELICITATION_REQUIRED);
    assert_eq!(e.data.unwrap()["elicitations"][0]["elicitationId"], "e");
}

/// The types are `#[non_exhaustive]`, so their setters are the only way to
/// build them here: each must set the member it names, on the wire.
#[test]
fn setters_set_the_member_they_name() {
    let obj = |v: Value| v.as_object().cloned().unwrap();
    fn json<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    let tool = Tool::named("t", "does t")
        .with_title("T")
        .with_description("does t well")
        .with_input_schema(obj(json!({"type": "object"})))
        .with_output_schema(obj(json!({"type": "object"})))
        .with_annotations(
            ToolAnnotations::default()
                .with_title("T!")
                .with_read_only_hint(true)
                .with_destructive_hint(false)
                .with_idempotent_hint(true)
                .with_open_world_hint(false),
        )
        .with_execution(ToolExecution::default().with_task_support(TaskSupport::Optional))
        .with_icons(vec![Icon::new("https://e.com/i.png")
            .with_mime_type("image/png")
            .with_sizes(vec!["48x48".into()])
            .with_theme(IconTheme::Dark)])
        .with_meta(obj(json!({"k": 1})))
        .with_extra("future", 2);
    assert_eq!(
        json(&tool),
        json!({
            "name": "t", "title": "T", "description": "does t well",
            "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"},
            "annotations": {"title": "T!", "readOnlyHint": true, "destructiveHint": false,
                            "idempotentHint": true, "openWorldHint": false},
            "execution": {"taskSupport": "optional"},
            "icons": [{"src": "https://e.com/i.png", "mimeType": "image/png",
                       "sizes": ["48x48"], "theme": "dark"}],
            "_meta": {"k": 1}, "future": 2
        })
    );

    let server = Implementation::new("s", "1")
        .with_title("S")
        .with_description("a server")
        .with_website_url("https://e.com");
    let caps = ServerCapabilities::default()
        .with_logging()
        .with_completions()
        .with_prompts(PromptsCapability::default().with_list_changed(true))
        .with_resources(
            ResourcesCapability::default()
                .with_subscribe(true)
                .with_list_changed(false),
        )
        .with_tools(ToolsCapability::default().with_list_changed(true))
        .with_tasks(ServerTasksCapability::tool_calls())
        .with_experimental("x/y", obj(json!({"on": true})));
    assert_eq!(
        json(&InitializeResult::new("2025-11-25", caps, server).with_instructions("be nice")),
        json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {
                "experimental": {"x/y": {"on": true}}, "logging": {}, "completions": {},
                "prompts": {"listChanged": true},
                "resources": {"subscribe": true, "listChanged": false},
                "tools": {"listChanged": true},
                "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
            },
            "serverInfo": {"name": "s", "title": "S", "version": "1",
                           "description": "a server", "websiteUrl": "https://e.com"},
            "instructions": "be nice"
        })
    );
    let client = ClientCapabilities::default()
        .with_roots(RootsCapability::default().with_list_changed(true))
        .with_sampling(SamplingCapability::default().with_context().with_tools())
        .with_elicitation(ElicitationCapability::default().with_form().with_url())
        .with_tasks(
            ClientTasksCapability::default()
                .with_list()
                .with_cancel()
                .with_requests(
                    ClientTaskRequests::default()
                        .with_sampling(SamplingTaskRequests::default().with_create_message())
                        .with_elicitation(ElicitationTaskRequests::default().with_create()),
                ),
        );
    assert_eq!(
        json(&client),
        json!({
            "roots": {"listChanged": true},
            "sampling": {"context": {}, "tools": {}},
            "elicitation": {"form": {}, "url": {}},
            "tasks": {"list": {}, "cancel": {}, "requests": {
                "sampling": {"createMessage": {}}, "elicitation": {"create": {}}}}
        })
    );

    let annotations = Annotations::default()
        .with_audience(vec![Role::User])
        .with_priority(0.5)
        .with_last_modified("2025-01-12T15:00:58Z");
    let resource = Resource::new("file:///a", "a")
        .with_title("A")
        .with_description("the a")
        .with_mime_type("text/plain")
        .with_annotations(annotations.clone())
        .with_size(3);
    assert_eq!(
        json(&ListResourcesResult::new(vec![resource]).with_next_cursor("c")),
        json!({"resources": [{
            "uri": "file:///a", "name": "a", "title": "A", "description": "the a",
            "mimeType": "text/plain", "size": 3,
            "annotations": {"audience": ["user"], "priority": 0.5,
                            "lastModified": "2025-01-12T15:00:58Z"}
        }], "nextCursor": "c"})
    );
    assert_eq!(
        json(&ContentBlock::from(
            ImageContent::new("AA==", "image/png").with_annotations(annotations)
        )),
        json!({"type": "image", "data": "AA==", "mimeType": "image/png",
               "annotations": {"audience": ["user"], "priority": 0.5,
                               "lastModified": "2025-01-12T15:00:58Z"}})
    );

    let prompt = Prompt::new("p", "a prompt")
        .with_title("P")
        .with_argument(PromptArgument::new("a", "first", true).with_title("A"));
    assert_eq!(
        json(&prompt),
        json!({"name": "p", "title": "P", "description": "a prompt",
               "arguments": [{"name": "a", "title": "A", "description": "first", "required": true}]})
    );
    let complete = CompleteParams::new(CompletionReference::prompt("p"), "a", "x")
        .with_context(CompletionContext::default().with_argument("b", "y"));
    assert_eq!(json(&complete)["context"], json!({"arguments": {"b": "y"}}));

    let sampling = CreateMessageParams::new(vec![SamplingMessage::user_text("hi")], 10)
        .with_model_preferences(
            ModelPreferences::default()
                .with_hints(vec![ModelHint::new("sonnet")])
                .with_cost_priority(0.25)
                .with_speed_priority(1.0)
                .with_intelligence_priority(0.0),
        )
        .with_system_prompt("be brief")
        .with_include_context(IncludeContext::None)
        .with_temperature(0.5)
        .with_stop_sequences(vec!["\n".into()])
        .with_metadata(obj(json!({"x": 1})))
        .with_tool_choice(ToolChoice::default().with_mode(ToolChoiceMode::Auto));
    assert_eq!(
        json(&sampling),
        json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
            "maxTokens": 10,
            "modelPreferences": {"hints": [{"name": "sonnet"}], "costPriority": 0.25,
                                 "speedPriority": 1, "intelligencePriority": 0},
            "systemPrompt": "be brief", "includeContext": "none", "temperature": 0.5,
            "stopSequences": ["\n"], "metadata": {"x": 1}, "toolChoice": {"mode": "auto"}
        })
    );
    let answer = CreateMessageResult::new(
        Role::Assistant,
        SamplingContentBlock::ToolUse(ToolUseContent::new("u1", "t", obj(json!({})))),
        "m",
    )
    .with_stop_reason(CreateMessageResult::TOOL_USE);
    assert_eq!(
        json(&answer),
        json!({"role": "assistant", "model": "m", "stopReason": "toolUse",
               "content": {"type": "tool_use", "id": "u1", "name": "t", "input": {}}})
    );

    let form = ElicitationSchema::default()
        .with_property(
            "n",
            StringSchema::default()
                .with_title("N")
                .with_min_length(1)
                .with_format("email")
                .with_default("a@e.com"),
            true,
        )
        .with_property(
            "k",
            NumberSchema::default()
                .with_type(NumberType::Integer)
                .with_maximum(9.0),
            false,
        )
        .with_property(
            "m",
            UntitledMultiSelectEnumSchema::new(UntitledEnumItems::new(vec!["x".into()]))
                .with_max_items(1)
                .with_default(vec!["x".into()]),
            false,
        );
    assert_eq!(
        json(&form),
        json!({"type": "object", "required": ["n"], "properties": {
            "n": {"type": "string", "title": "N", "minLength": 1, "format": "email",
                  "default": "a@e.com"},
            "k": {"type": "integer", "maximum": 9},
            "m": {"type": "array", "maxItems": 1, "items": {"type": "string", "enum": ["x"]},
                  "default": ["x"]}
        }})
    );

    let task = Task::new("t1", TaskStatus::Working, "2025-11-25T10:00:00Z")
        .with_status_message("going")
        .with_last_updated_at("2025-11-25T10:00:05Z")
        .with_ttl(1000)
        .with_poll_interval(50);
    assert_eq!(
        json(&task),
        json!({"taskId": "t1", "status": "working", "statusMessage": "going",
               "createdAt": "2025-11-25T10:00:00Z", "lastUpdatedAt": "2025-11-25T10:00:05Z",
               "ttl": 1000, "pollInterval": 50})
    );

    let filter = SubscriptionFilter::default()
        .with_tools_list_changed(true)
        .with_resource_subscriptions(vec!["file:///a".into()]);
    assert_eq!(
        json(&SubscriptionsListenParams::new(filter)),
        json!({"notifications": {"toolsListChanged": true, "resourceSubscriptions": ["file:///a"]}})
    );
    assert_eq!(json(&ListToolsParams::page(None)), json!({}));
    assert_eq!(
        json(&ListToolsParams::page(Some("c".into()))),
        json!({"cursor": "c"})
    );
}

#[test]
fn whole_numbers_are_written_as_integers() {
    let p = ProgressNotificationParams::new(ProgressToken::Number(1), 50.0).with_total(100.0);
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        r#"{"progressToken":1,"progress":50,"total":100}"#
    );
    let p = ProgressNotificationParams::new(ProgressToken::Number(1), 0.25);
    assert!(serde_json::to_string(&p)
        .unwrap()
        .contains(r#""progress":0.25"#));
    let prefs = ModelPreferences::default()
        .with_speed_priority(1.0)
        .with_cost_priority(0.5);
    assert_eq!(
        serde_json::to_value(prefs).unwrap(),
        json!({"speedPriority": 1, "costPriority": 0.5})
    );
    let big = ProgressNotificationParams::new(ProgressToken::Number(1), 1e300);
    assert_eq!(serde_json::to_value(big).unwrap()["progress"], json!(1e300));
}

#[test]
fn tasks_always_send_ttl_and_carry_related_task_meta() {
    let task = Task::new("t1", TaskStatus::Working, "2025-11-25T00:00:00Z");
    let v = serde_json::to_value(&task).unwrap();
    assert_eq!(v["ttl"], Value::Null);
    assert_eq!(v["status"], "working");
    assert_eq!(
        serde_json::to_value(TaskStatus::InputRequired).unwrap(),
        json!("input_required")
    );
    assert!(TaskStatus::Failed.is_terminal() && !TaskStatus::Working.is_terminal());

    let mut status = TaskStatusNotificationParams::from(task.clone());
    RelatedTaskMetadata::new("t1").insert_into(&mut status.meta);
    let v = serde_json::to_value(&status).unwrap();
    assert_eq!(v["_meta"][RELATED_TASK_META_KEY], json!({"taskId": "t1"}));
    assert_eq!(v["taskId"], "t1");
    assert_eq!(
        RelatedTaskMetadata::from_meta(&status.meta)
            .unwrap()
            .task_id,
        "t1"
    );

    let payload = GetTaskPayloadResult::from_result(&CallToolResult::text("done")).unwrap();
    let back: CallToolResult = payload.into_result().unwrap();
    assert_eq!(back, CallToolResult::text("done"));
}
