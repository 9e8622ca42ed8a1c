//! The stateless era (revision `2026-07-28`): what each request carries in
//! `_meta` instead of a handshake, `server/discover`, multi round-trip
//! requests (`InputRequiredResult`, `inputResponses`, `requestState`),
//! `subscriptions/listen`, and cacheable results.

use super::{
    impl_has_meta, impl_notification, impl_request, impl_with_extra, meta_only, ClientCapabilities,
    CreateMessageParams, CreateMessageResult, ElicitRequestParams, ElicitResult, Implementation,
    ListRootsParams, ListRootsResult, LoggingLevel, Meta, ProgressToken, ServerCapabilities,
};
use crate::RequestId;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `_meta` key: the revision a stateless request speaks.
pub const PROTOCOL_VERSION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key: what the client can do, sent with each stateless request.
pub const CLIENT_CAPABILITIES_META_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key: who the client is.
pub const CLIENT_INFO_META_KEY: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key: who the server is, in results.
pub const SERVER_INFO_META_KEY: &str = "io.modelcontextprotocol/serverInfo";
/// `_meta` key: the least severe log level this request wants to hear.
pub const LOG_LEVEL_META_KEY: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key: the subscription a notification belongs to.
pub const SUBSCRIPTION_ID_META_KEY: &str = "io.modelcontextprotocol/subscriptionId";

/// What a stateless request says about itself in `_meta` (the schema's
/// `RequestMetaObject`). Other `_meta` members are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestMeta {
    /// The revision the request speaks, such as `"2026-07-28"`.
    #[serde(
        rename = "io.modelcontextprotocol/protocolVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub protocol_version: Option<String>,
    /// What the client can do.
    #[serde(
        rename = "io.modelcontextprotocol/clientCapabilities",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_capabilities: Option<ClientCapabilities>,
    /// Who the client is.
    #[serde(
        rename = "io.modelcontextprotocol/clientInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_info: Option<Implementation>,
    /// The least severe log level to send while answering this request.
    #[serde(
        rename = "io.modelcontextprotocol/logLevel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub log_level: Option<LoggingLevel>,
    /// The token progress notifications should carry.
    #[serde(
        rename = "progressToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_token: Option<ProgressToken>,
    /// Other `_meta` members, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RequestMeta {
    /// Reads the stateless keys out of a request's `_meta`; a key of the
    /// wrong shape is an error (the caller answers -32602). The same as
    /// the derived `Deserialize` (the first malformed key in key order is
    /// the error, with its message), read key by key in place: a server
    /// reads this on every stateless request, and the derived reading
    /// buffers the whole object first. Only the members kept in `extra`
    /// are copied.
    pub fn from_meta(meta: &Meta) -> Result<Self, serde_json::Error> {
        let (mut protocol_version, mut client_capabilities, mut client_info) = (None, None, None);
        let (mut log_level, mut progress_token) = (None, None);
        let mut extra = Map::new();
        for (key, value) in meta {
            match key.as_str() {
                PROTOCOL_VERSION_META_KEY => protocol_version = Option::deserialize(value)?,
                CLIENT_CAPABILITIES_META_KEY => {
                    client_capabilities = match value {
                        // What most clients send, as it reads.
                        Value::Object(caps) if caps.is_empty() => Some(Default::default()),
                        other => Option::deserialize(other)?,
                    }
                }
                CLIENT_INFO_META_KEY => client_info = Option::deserialize(value)?,
                LOG_LEVEL_META_KEY => log_level = Option::deserialize(value)?,
                "progressToken" => progress_token = Option::deserialize(value)?,
                _ => {
                    extra.insert(key.clone(), value.clone());
                }
            }
        }
        // Every member named: one added to the type does not compile until
        // it is read here too.
        Ok(RequestMeta {
            protocol_version,
            client_capabilities,
            client_info,
            log_level,
            progress_token,
            extra,
        })
    }

    /// Sets the revision the request speaks.
    #[must_use]
    pub fn with_protocol_version(mut self, protocol_version: impl Into<String>) -> Self {
        self.protocol_version = Some(protocol_version.into());
        self
    }

    /// Sets what the client can do.
    #[must_use]
    pub fn with_client_capabilities(mut self, client_capabilities: ClientCapabilities) -> Self {
        self.client_capabilities = Some(client_capabilities);
        self
    }

    /// Sets who the client is.
    #[must_use]
    pub fn with_client_info(mut self, client_info: Implementation) -> Self {
        self.client_info = Some(client_info);
        self
    }

    /// Sets the least severe log level to send while answering.
    #[must_use]
    pub fn with_log_level(mut self, log_level: LoggingLevel) -> Self {
        self.log_level = Some(log_level);
        self
    }

    /// Sets the token progress notifications should carry.
    #[must_use]
    pub fn with_progress_token(mut self, progress_token: impl Into<ProgressToken>) -> Self {
        self.progress_token = Some(progress_token.into());
        self
    }

    /// The `_meta` object these keys make.
    pub fn into_meta(self) -> Meta {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Meta::new(),
        }
    }
}

/// What kind of result this is (`resultType`, 2026-07-28). A result
/// without one is complete.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultType {
    /// The request is answered.
    #[default]
    Complete,
    /// The server needs input from the client first: an [`InputRequiredResult`].
    InputRequired,
    /// The request goes on as a task (the tasks extension,
    /// `io.modelcontextprotocol/tasks`): a `CreateTaskResult`, to follow
    /// with `tasks/get`.
    Task,
    /// A kind this SDK does not know.
    #[serde(untagged)]
    Other(String),
}

/// Who may cache a cacheable result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    /// Only the client that asked.
    Private,
    /// Any client of this server.
    Public,
}

meta_only! {
    /// Params of `server/discover`: what the server supports, asked without
    /// a session (2026-07-28). The client's identity rides in `_meta`.
    DiscoverParams;
}

/// The result of `server/discover`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DiscoverResult {
    /// Always `complete`.
    pub result_type: ResultType,
    /// The revisions the server speaks.
    pub supported_versions: Vec<String>,
    /// What the server can do.
    pub capabilities: ServerCapabilities,
    /// How to use the server, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// How long the answer may be cached, in milliseconds.
    pub ttl_ms: u64,
    /// Who may cache it.
    pub cache_scope: CacheScope,
    /// Metadata (`_meta`), with the server's identity under
    /// [`SERVER_INFO_META_KEY`].
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DiscoverResult {
    /// A complete answer: the revisions the server speaks, what it can do,
    /// and for how long and by whom the answer may be cached.
    pub fn new(
        supported_versions: Vec<String>,
        capabilities: ServerCapabilities,
        ttl_ms: u64,
        cache_scope: CacheScope,
    ) -> Self {
        DiscoverResult {
            result_type: ResultType::Complete,
            supported_versions,
            capabilities,
            instructions: None,
            ttl_ms,
            cache_scope,
            meta: None,
            extra: Map::new(),
        }
    }

    /// Sets the instructions for the model.
    #[must_use]
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }
}

/// A request the server needs the client to answer before it can finish
/// (2026-07-28): what `sampling/createMessage`, `roots/list` and
/// `elicitation/create` became once servers stopped sending requests.
#[derive(Debug, Clone, PartialEq)]
pub enum InputRequest {
    /// `sampling/createMessage`.
    CreateMessage(CreateMessageParams),
    /// `roots/list`.
    ListRoots(ListRootsParams),
    /// `elicitation/create`.
    Elicit(ElicitRequestParams),
}

impl InputRequest {
    /// The method the client answers, as in the session era.
    pub fn method(&self) -> &'static str {
        use super::RequestParams;
        match self {
            InputRequest::CreateMessage(_) => CreateMessageParams::METHOD,
            InputRequest::ListRoots(_) => ListRootsParams::METHOD,
            InputRequest::Elicit(_) => ElicitRequestParams::METHOD,
        }
    }
}

/// `{"method": ..., "params": ...}` on the wire.
#[derive(Serialize, Deserialize)]
struct RawInputRequest {
    method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<Value>,
}

impl Serialize for InputRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let params = match self {
            InputRequest::CreateMessage(p) => serde_json::to_value(p),
            InputRequest::ListRoots(p) => serde_json::to_value(p),
            InputRequest::Elicit(p) => serde_json::to_value(p),
        }
        .map_err(serde::ser::Error::custom)?;
        let params = match params {
            Value::Object(m) if m.is_empty() => None,
            other => Some(other),
        };
        RawInputRequest {
            method: self.method().to_owned(),
            params,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for InputRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawInputRequest::deserialize(d)?;
        let params = raw.params.unwrap_or_else(|| Value::Object(Map::new()));
        match raw.method.as_str() {
            "sampling/createMessage" => serde_json::from_value(params).map(InputRequest::CreateMessage),
            "roots/list" => serde_json::from_value(params).map(InputRequest::ListRoots),
            "elicitation/create" => serde_json::from_value(params).map(InputRequest::Elicit),
            other => {
                return Err(D::Error::custom(format_args!(
                    "an input request cannot be {other:?} (only sampling/createMessage, roots/list and elicitation/create)"
                )))
            }
        }
        .map_err(D::Error::custom)
    }
}

/// The client's answer to one [`InputRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputResponse {
    /// The answer to `elicitation/create`.
    Elicit(ElicitResult),
    /// The answer to `roots/list`.
    ListRoots(ListRootsResult),
    /// The answer to `sampling/createMessage`.
    CreateMessage(Box<CreateMessageResult>),
}

/// Input requests by the key the server chose.
pub type InputRequests = BTreeMap<String, InputRequest>;

/// Input responses by the key of the request they answer.
pub type InputResponses = BTreeMap<String, InputResponse>;

/// The answer to a request that needs input from the client first
/// (2026-07-28): the client answers the `input_requests` and sends the same
/// request again with `inputResponses` and the `requestState` back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InputRequiredResult {
    /// Always `input_required`.
    pub result_type: ResultType,
    /// What the server needs, by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<InputRequests>,
    /// Opaque state to send back with the retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_state: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InputRequiredResult {
    /// Asks for `requests`, with `state` to come back in the retry.
    pub fn new(requests: InputRequests, state: Option<String>) -> Self {
        InputRequiredResult {
            result_type: ResultType::InputRequired,
            input_requests: Some(requests),
            request_state: state,
            meta: None,
            extra: Map::new(),
        }
    }
}

/// The members any request may add when it retries after an
/// [`InputRequiredResult`] (the schema's `InputResponseRequestParams`);
/// the request's own params are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InputResponseRequestParams {
    /// The answers, by the keys of the input requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_responses: Option<InputResponses>,
    /// The state the server sent with the input requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_state: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// The request's other params.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InputResponseRequestParams {
    /// Sets the answers, by the keys of the input requests.
    #[must_use]
    pub fn with_input_responses(mut self, input_responses: InputResponses) -> Self {
        self.input_responses = Some(input_responses);
        self
    }

    /// Sets the state the server sent with the input requests.
    #[must_use]
    pub fn with_request_state(mut self, request_state: impl Into<String>) -> Self {
        self.request_state = Some(request_state.into());
        self
    }
}

/// Which notifications a `subscriptions/listen` stream should carry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionFilter {
    /// `notifications/tools/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_list_changed: Option<bool>,
    /// `notifications/prompts/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_list_changed: Option<bool>,
    /// `notifications/resources/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_list_changed: Option<bool>,
    /// `notifications/resources/updated` for these URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_subscriptions: Option<Vec<String>>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SubscriptionFilter {
    /// Sets whether to hear `notifications/tools/list_changed`.
    #[must_use]
    pub fn with_tools_list_changed(mut self, tools_list_changed: bool) -> Self {
        self.tools_list_changed = Some(tools_list_changed);
        self
    }

    /// Sets whether to hear `notifications/prompts/list_changed`.
    #[must_use]
    pub fn with_prompts_list_changed(mut self, prompts_list_changed: bool) -> Self {
        self.prompts_list_changed = Some(prompts_list_changed);
        self
    }

    /// Sets whether to hear `notifications/resources/list_changed`.
    #[must_use]
    pub fn with_resources_list_changed(mut self, resources_list_changed: bool) -> Self {
        self.resources_list_changed = Some(resources_list_changed);
        self
    }

    /// Sets the URIs to hear `notifications/resources/updated` for.
    #[must_use]
    pub fn with_resource_subscriptions(mut self, resource_subscriptions: Vec<String>) -> Self {
        self.resource_subscriptions = Some(resource_subscriptions);
        self
    }
}

/// Params of `subscriptions/listen` (2026-07-28): opens a stream of the
/// notifications the filter names, until the client closes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionsListenParams {
    /// What to hear about.
    pub notifications: SubscriptionFilter,
    /// Metadata (`_meta`): the stateless request keys.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SubscriptionsListenParams {
    /// Listens for the notifications `filter` names.
    pub fn new(notifications: SubscriptionFilter) -> Self {
        SubscriptionsListenParams {
            notifications,
            ..Default::default()
        }
    }
}

/// The result of `subscriptions/listen`, sent when the stream ends; its
/// `_meta` names the subscription under [`SUBSCRIPTION_ID_META_KEY`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionsListenResult {
    /// Always `complete`.
    pub result_type: ResultType,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params of `notifications/subscriptions/acknowledged`: the server accepted
/// a `subscriptions/listen` and says which notifications it will send.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionsAcknowledgedNotificationParams {
    /// What the stream will carry.
    pub notifications: SubscriptionFilter,
    /// Metadata (`_meta`), with the subscription id.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SubscriptionsAcknowledgedNotificationParams {
    /// Acknowledges a subscription that will carry these notifications.
    pub fn new(notifications: SubscriptionFilter) -> Self {
        SubscriptionsAcknowledgedNotificationParams {
            notifications,
            ..Default::default()
        }
    }
}

/// The subscription id in a `_meta` object, if there is one.
pub fn subscription_id(meta: &Option<Meta>) -> Option<RequestId> {
    serde_json::from_value(meta.as_ref()?.get(SUBSCRIPTION_ID_META_KEY)?.clone()).ok()
}

/// The `data` of a -32021 error: the capabilities the request needs.
pub fn missing_capability_data(required: &ClientCapabilities) -> Value {
    serde_json::json!({ "requiredCapabilities": required })
}

impl_has_meta!(
    DiscoverResult,
    InputRequiredResult,
    InputResponseRequestParams,
    SubscriptionsListenParams,
    SubscriptionsListenResult,
    SubscriptionsAcknowledgedNotificationParams
);

impl_with_extra!(
    RequestMeta,
    DiscoverResult,
    InputRequiredResult,
    InputResponseRequestParams,
    SubscriptionFilter,
    SubscriptionsListenParams,
    SubscriptionsListenResult,
    SubscriptionsAcknowledgedNotificationParams,
);

impl_request! {
    DiscoverParams => DiscoverResult, "server/discover";
    SubscriptionsListenParams => SubscriptionsListenResult, "subscriptions/listen";
}

impl_notification! {
    SubscriptionsAcknowledgedNotificationParams, "notifications/subscriptions/acknowledged";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_meta_reads_as_the_derived_deserialize_does() {
        let cases = [
            json!({}),
            json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}},
                "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
                "io.modelcontextprotocol/logLevel": "debug",
                "progressToken": "p",
                "vendor/x": {"y": [1, null]},
            }),
            json!({"io.modelcontextprotocol/clientCapabilities": {}}),
            json!({"io.modelcontextprotocol/clientCapabilities": {"x": 1}}),
            json!({"io.modelcontextprotocol/protocolVersion": null, "progressToken": null}),
            json!({"io.modelcontextprotocol/protocolVersion": 5}),
            json!({"io.modelcontextprotocol/protocolVersion": 1.5, "progressToken": []}),
            json!({"io.modelcontextprotocol/clientCapabilities": []}),
            json!({"io.modelcontextprotocol/clientCapabilities": "x"}),
            json!({"io.modelcontextprotocol/clientCapabilities": {"sampling": 1}}),
            json!({"io.modelcontextprotocol/clientInfo": {"name": 1}}),
            json!({"io.modelcontextprotocol/clientInfo": {"name": "n"}}),
            json!({"io.modelcontextprotocol/logLevel": "loud"}),
            json!({"progressToken": {"a": 1}}),
            json!({"progressToken": -3}),
        ];
        for case in cases {
            let Value::Object(map) = &case else {
                unreachable!()
            };
            match (RequestMeta::from_meta(map), RequestMeta::deserialize(&case)) {
                (Ok(ours), Ok(derived)) => assert_eq!(ours, derived, "{case}"),
                (Err(ours), Err(derived)) => {
                    assert_eq!(ours.to_string(), derived.to_string(), "{case}")
                }
                (ours, derived) => panic!("{case}: {ours:?} against {derived:?}"),
            }
        }
    }

    #[test]
    fn request_meta_reads_the_stateless_keys_and_keeps_the_rest() {
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
            "io.modelcontextprotocol/logLevel": "warning",
            "progressToken": 7,
            "vendor/x": 1,
        });
        let parsed = RequestMeta::from_meta(meta.as_object().unwrap()).unwrap();
        assert_eq!(parsed.protocol_version.as_deref(), Some("2026-07-28"));
        assert!(parsed
            .client_capabilities
            .as_ref()
            .unwrap()
            .sampling
            .is_some());
        assert_eq!(parsed.log_level, Some(LoggingLevel::Warning));
        assert_eq!(parsed.progress_token, Some(ProgressToken::Number(7)));
        assert_eq!(Value::Object(parsed.into_meta()), meta);

        let bad = json!({"io.modelcontextprotocol/logLevel": "loud"});
        assert!(RequestMeta::from_meta(bad.as_object().unwrap()).is_err());
    }

    #[test]
    fn input_requests_are_only_the_three_client_methods() {
        let roots: InputRequest = serde_json::from_value(json!({"method": "roots/list"})).unwrap();
        assert_eq!(roots, InputRequest::ListRoots(ListRootsParams::default()));
        assert_eq!(
            serde_json::to_value(&roots).unwrap(),
            json!({"method": "roots/list"})
        );
        let err =
            serde_json::from_value::<InputRequest>(json!({"method": "tools/call", "params": {}}))
                .unwrap_err();
        assert!(
            err.to_string().contains("cannot be \"tools/call\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_result_types_survive() {
        let t: ResultType = serde_json::from_value(json!("partial")).unwrap();
        assert_eq!(t, ResultType::Other("partial".into()));
        assert_eq!(serde_json::to_value(&t).unwrap(), json!("partial"));
        let t: ResultType = serde_json::from_value(json!("input_required")).unwrap();
        assert_eq!(t, ResultType::InputRequired);
    }
}
