//! Property tests: every JSON-RPC message, and every MCP request,
//! result and notification type, reads back as it was written.

use mcp_sdk::jsonrpc::{decode, decode_batch, encode_batch, Incoming};
use mcp_sdk::*;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// JSON of bounded size: scalars (floats as JSON writes them back), and
/// arrays and objects of them.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Object keys: MCP's field names (so typed messages do get built) and
/// others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "name",
            "uri",
            "arguments",
            "cursor",
            "_meta",
            "progressToken",
            "progress",
            "total",
            "message",
            "level",
            "data",
            "content",
            "type",
            "text",
            "role",
            "messages",
            "maxTokens",
            "protocolVersion",
            "capabilities",
            "clientInfo",
            "serverInfo",
            "version",
            "tools",
            "resources",
            "prompts",
            "contents",
            "mimeType",
            "requestId",
            "reason",
            "taskId",
            "isError",
            "structuredContent",
            "nextCursor",
            "values",
            "ref",
            "argument",
            "value",
            "roots",
            "mode",
            "requestedSchema",
            "action",
            "inputSchema",
            "description",
            "title",
            "status",
            "ttl",
            "model",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z_]{1,8}",
    ]
}

/// Objects whose keys are MCP's field names, the shape of params and
/// results; text values are sometimes a known `type` tag.
fn object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        key(),
        prop_oneof![
            json(),
            prop::sample::select(vec![
                "text",
                "image",
                "audio",
                "resource",
                "resource_link",
                "ref/prompt",
                "ref/resource",
                "user",
                "assistant",
                "info",
                "error",
                "accept",
                "working",
                "completed"
            ])
            .prop_map(|s| Value::String(s.to_owned())),
        ],
        0..8,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

fn request_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![
        any::<i64>().prop_map(RequestId::Number),
        ".{0,8}".prop_map(RequestId::String),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let params = || prop::option::of(object());
    prop_oneof![
        (request_id(), ".{1,16}", params()).prop_map(|(id, m, p)| Message::request(id, m, p)),
        (".{1,16}", params()).prop_map(|(m, p)| Message::notification(m, p)),
        (request_id(), json()).prop_map(|(id, r)| Message::response(id, r)),
        (
            prop::option::of(request_id()),
            any::<i32>(),
            ".{0,16}",
            prop::option::of(json())
        )
            .prop_map(|(id, code, text, data)| {
                let mut error = Error::new(ErrorCode(code), text);
                // `"data": null` reads back as no data: the wire cannot
                // tell them apart, so only a non-null value is generated.
                error.data = data.filter(|data| !data.is_null());
                Message::error(id, error)
            }),
    ]
}

/// If `value` reads as `T`, what `T` writes reads back and writes the same.
fn typed_round_trip<T: Serialize + DeserializeOwned>(value: &Value) -> Result<(), TestCaseError> {
    if let Ok(typed) = serde_json::from_value::<T>(value.clone()) {
        let written = serde_json::to_value(&typed).expect("a typed message writes");
        let again: T = serde_json::from_value(written.clone()).map_err(|e| {
            TestCaseError::fail(format!(
                "{} does not read back: {e}: {written}",
                std::any::type_name::<T>()
            ))
        })?;
        prop_assert_eq!(serde_json::to_value(&again).unwrap(), written);
    }
    Ok(())
}

macro_rules! all_round_trip {
    ($value:expr; $($t:ty),* $(,)?) => {
        $( typed_round_trip::<$t>($value)?; )*
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_rpc_messages_round_trip(msg in message()) {
        let text = msg.to_vec();
        prop_assert_eq!(decode(&text).unwrap(), msg.clone());
        match decode_batch(&encode_batch(std::slice::from_ref(&msg))).unwrap() {
            Incoming::Batch(items) => prop_assert_eq!(items, vec![Ok(msg)]),
            Incoming::Single(_) => prop_assert!(false, "a batch of one read as a single message"),
        }
    }

    #[test]
    fn mcp_types_round_trip(value in object()) {
        all_round_trip!(&value;
            InitializeParams, InitializeResult, PingParams, EmptyResult,
            SetLevelParams, LoggingMessageNotificationParams,
            ListToolsParams, ListToolsResult, ListResourcesParams, ListResourcesResult,
            ListResourceTemplatesParams, ListResourceTemplatesResult,
            ListPromptsParams, ListPromptsResult, ListTasksParams, ListTasksResult,
            GetPromptParams, GetPromptResult, ReadResourceParams, ReadResourceResult,
            SubscribeParams, UnsubscribeParams, ListRootsParams, ListRootsResult,
            CreateMessageParams, CreateMessageResult, CompleteParams, CompleteResult,
            ElicitRequestParams, ElicitResult, DiscoverParams, DiscoverResult,
            SubscriptionsListenParams, SubscriptionsListenResult,
            GetTaskParams, GetTaskResult, GetTaskPayloadParams, GetTaskPayloadResult,
            CancelTaskParams, CancelTaskResult, CallToolParams, CallToolResult,
            ProgressNotificationParams, CancelledNotificationParams,
            ResourceUpdatedNotificationParams, ElicitationCompleteNotificationParams,
            Tool, Resource, ResourceTemplate, Prompt, ContentBlock,
        );
    }
}
