//! The lifecycle: `initialize`, capabilities, `notifications/initialized`
//! and `ping`.

use super::{
    impl_has_meta, impl_notification, impl_request, impl_with_extra, meta_only, EmptyResult, Icon,
    JsonObject, Meta,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The name and version of an MCP client or server.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Implementation {
    /// A name for programs (or people, when there is no title).
    pub name: String,
    /// A name for people (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The version.
    pub version: String,
    /// What it is, for people (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Icons to show for it (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon>>,
    /// Its website (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_url: Option<String>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Implementation {
    /// A name and a version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Implementation {
            name: name.into(),
            version: version.into(),
            ..Default::default()
        }
    }

    /// Sets the title (2025-06-18+).
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the description (2025-11-25).
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the icons (2025-11-25).
    #[must_use]
    pub fn with_icons(mut self, icons: Vec<Icon>) -> Self {
        self.icons = Some(icons);
        self
    }

    /// Sets the website (2025-11-25).
    #[must_use]
    pub fn with_website_url(mut self, website_url: impl Into<String>) -> Self {
        self.website_url = Some(website_url.into());
        self
    }
}

/// Experimental, non-standard capabilities, by name.
pub type ExperimentalCapabilities = BTreeMap<String, JsonObject>;

/// What a client can do, sent in `initialize`. A present member (even `{}`)
/// means the client offers that feature.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClientCapabilities {
    /// Non-standard capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<ExperimentalCapabilities>,
    /// The client can list roots (`roots/list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots: Option<RootsCapability>,
    /// The client can sample from a model (`sampling/createMessage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<SamplingCapability>,
    /// The client can ask the user for input (`elicitation/create`, 2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elicitation: Option<ElicitationCapability>,
    /// The client can run requests as tasks (2025-11-25, experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<ClientTasksCapability>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClientCapabilities {
    /// Declares the roots capability.
    #[must_use]
    pub fn with_roots(mut self, roots: RootsCapability) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Declares the sampling capability.
    #[must_use]
    pub fn with_sampling(mut self, sampling: SamplingCapability) -> Self {
        self.sampling = Some(sampling);
        self
    }

    /// Declares the elicitation capability (2025-06-18+).
    #[must_use]
    pub fn with_elicitation(mut self, elicitation: ElicitationCapability) -> Self {
        self.elicitation = Some(elicitation);
        self
    }

    /// Declares the tasks capability (2025-11-25, experimental).
    #[must_use]
    pub fn with_tasks(mut self, tasks: ClientTasksCapability) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Declares a non-standard capability.
    #[must_use]
    pub fn with_experimental(mut self, name: impl Into<String>, value: JsonObject) -> Self {
        self.experimental
            .get_or_insert_with(ExperimentalCapabilities::new)
            .insert(name.into(), value);
        self
    }
}

/// The client's roots capability.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RootsCapability {
    /// The client sends `notifications/roots/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RootsCapability {
    /// Sets whether the client sends `notifications/roots/list_changed`.
    #[must_use]
    pub fn with_list_changed(mut self, list_changed: bool) -> Self {
        self.list_changed = Some(list_changed);
        self
    }
}

/// The client's sampling capability.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SamplingCapability {
    /// The client honours `includeContext` other than `"none"` (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<JsonObject>,
    /// The client supports `tools` and `toolChoice` (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<JsonObject>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SamplingCapability {
    /// Declares that the client honours `includeContext` (2025-11-25).
    #[must_use]
    pub fn with_context(mut self) -> Self {
        self.context = Some(JsonObject::new());
        self
    }

    /// Declares that the client supports `tools` and `toolChoice`
    /// (2025-11-25).
    #[must_use]
    pub fn with_tools(mut self) -> Self {
        self.tools = Some(JsonObject::new());
        self
    }
}

/// The client's elicitation capability. An empty object means form mode only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitationCapability {
    /// The client supports form-mode elicitation (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<JsonObject>,
    /// The client supports URL-mode elicitation (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<JsonObject>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ElicitationCapability {
    /// Declares form mode (2025-11-25; an empty capability implies it).
    #[must_use]
    pub fn with_form(mut self) -> Self {
        self.form = Some(JsonObject::new());
        self
    }

    /// Declares URL mode (2025-11-25).
    #[must_use]
    pub fn with_url(mut self) -> Self {
        self.url = Some(JsonObject::new());
        self
    }

    /// Whether form mode is supported: declared, or implied by an empty
    /// capability.
    pub fn supports_form(&self) -> bool {
        self.form.is_some() || self.url.is_none()
    }

    /// Whether URL mode is supported.
    pub fn supports_url(&self) -> bool {
        self.url.is_some()
    }
}

/// The client's tasks capability (2025-11-25, experimental).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClientTasksCapability {
    /// The client answers `tasks/list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<JsonObject>,
    /// The client answers `tasks/cancel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<JsonObject>,
    /// Which requests to the client may run as tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ClientTaskRequests>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClientTasksCapability {
    /// Declares that the client answers `tasks/list`.
    #[must_use]
    pub fn with_list(mut self) -> Self {
        self.list = Some(JsonObject::new());
        self
    }

    /// Declares that the client answers `tasks/cancel`.
    #[must_use]
    pub fn with_cancel(mut self) -> Self {
        self.cancel = Some(JsonObject::new());
        self
    }

    /// Sets which requests to the client may run as tasks.
    #[must_use]
    pub fn with_requests(mut self, requests: ClientTaskRequests) -> Self {
        self.requests = Some(requests);
        self
    }
}

/// The requests a client can run as tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClientTaskRequests {
    /// Sampling requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<SamplingTaskRequests>,
    /// Elicitation requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elicitation: Option<ElicitationTaskRequests>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClientTaskRequests {
    /// Sets which sampling requests may run as tasks.
    #[must_use]
    pub fn with_sampling(mut self, sampling: SamplingTaskRequests) -> Self {
        self.sampling = Some(sampling);
        self
    }

    /// Sets which elicitation requests may run as tasks.
    #[must_use]
    pub fn with_elicitation(mut self, elicitation: ElicitationTaskRequests) -> Self {
        self.elicitation = Some(elicitation);
        self
    }
}

/// Sampling requests a client can run as tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SamplingTaskRequests {
    /// `sampling/createMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_message: Option<JsonObject>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SamplingTaskRequests {
    /// Declares that `sampling/createMessage` may run as a task.
    #[must_use]
    pub fn with_create_message(mut self) -> Self {
        self.create_message = Some(JsonObject::new());
        self
    }
}

/// Elicitation requests a client can run as tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitationTaskRequests {
    /// `elicitation/create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<JsonObject>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ElicitationTaskRequests {
    /// Declares that `elicitation/create` may run as a task.
    #[must_use]
    pub fn with_create(mut self) -> Self {
        self.create = Some(JsonObject::new());
        self
    }
}

/// What a server can do, sent in the `initialize` result. A present member
/// (even `{}`) means the server offers that feature.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServerCapabilities {
    /// Non-standard capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<ExperimentalCapabilities>,
    /// The server sends log messages (`logging/setLevel`, `notifications/message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<JsonObject>,
    /// The server completes arguments (`completion/complete`, 2025-03-26+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<JsonObject>,
    /// The server offers prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<PromptsCapability>,
    /// The server offers resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesCapability>,
    /// The server offers tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsCapability>,
    /// The server can run requests as tasks (2025-11-25, experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<ServerTasksCapability>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerCapabilities {
    /// Declares that the server sends log messages.
    #[must_use]
    pub fn with_logging(mut self) -> Self {
        self.logging = Some(JsonObject::new());
        self
    }

    /// Declares that the server completes arguments (2025-03-26+).
    #[must_use]
    pub fn with_completions(mut self) -> Self {
        self.completions = Some(JsonObject::new());
        self
    }

    /// Declares the prompts capability.
    #[must_use]
    pub fn with_prompts(mut self, prompts: PromptsCapability) -> Self {
        self.prompts = Some(prompts);
        self
    }

    /// Declares the resources capability.
    #[must_use]
    pub fn with_resources(mut self, resources: ResourcesCapability) -> Self {
        self.resources = Some(resources);
        self
    }

    /// Declares the tools capability.
    #[must_use]
    pub fn with_tools(mut self, tools: ToolsCapability) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Declares the tasks capability (2025-11-25, experimental).
    #[must_use]
    pub fn with_tasks(mut self, tasks: ServerTasksCapability) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Declares a non-standard capability.
    #[must_use]
    pub fn with_experimental(mut self, name: impl Into<String>, value: JsonObject) -> Self {
        self.experimental
            .get_or_insert_with(ExperimentalCapabilities::new)
            .insert(name.into(), value);
        self
    }
}

/// The server's prompts capability.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PromptsCapability {
    /// The server sends `notifications/prompts/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PromptsCapability {
    /// Sets whether the server sends `notifications/prompts/list_changed`.
    #[must_use]
    pub fn with_list_changed(mut self, list_changed: bool) -> Self {
        self.list_changed = Some(list_changed);
        self
    }
}

/// The server's resources capability.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResourcesCapability {
    /// The server accepts `resources/subscribe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<bool>,
    /// The server sends `notifications/resources/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ResourcesCapability {
    /// Sets whether the server accepts `resources/subscribe`.
    #[must_use]
    pub fn with_subscribe(mut self, subscribe: bool) -> Self {
        self.subscribe = Some(subscribe);
        self
    }

    /// Sets whether the server sends `notifications/resources/list_changed`.
    #[must_use]
    pub fn with_list_changed(mut self, list_changed: bool) -> Self {
        self.list_changed = Some(list_changed);
        self
    }
}

/// The server's tools capability.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolsCapability {
    /// The server sends `notifications/tools/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolsCapability {
    /// Sets whether the server sends `notifications/tools/list_changed`.
    #[must_use]
    pub fn with_list_changed(mut self, list_changed: bool) -> Self {
        self.list_changed = Some(list_changed);
        self
    }
}

/// The server's tasks capability (2025-11-25, experimental).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServerTasksCapability {
    /// The server answers `tasks/list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<JsonObject>,
    /// The server answers `tasks/cancel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<JsonObject>,
    /// Which requests to the server may run as tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ServerTaskRequests>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerTasksCapability {
    /// Task-augmented `tools/call`, with `tasks/list` and `tasks/cancel`.
    pub fn tool_calls() -> Self {
        ServerTasksCapability::default()
            .with_list()
            .with_cancel()
            .with_requests(
                ServerTaskRequests::default().with_tools(ToolsTaskRequests::default().with_call()),
            )
    }

    /// Declares that the server answers `tasks/list`.
    #[must_use]
    pub fn with_list(mut self) -> Self {
        self.list = Some(JsonObject::new());
        self
    }

    /// Declares that the server answers `tasks/cancel`.
    #[must_use]
    pub fn with_cancel(mut self) -> Self {
        self.cancel = Some(JsonObject::new());
        self
    }

    /// Sets which requests to the server may run as tasks.
    #[must_use]
    pub fn with_requests(mut self, requests: ServerTaskRequests) -> Self {
        self.requests = Some(requests);
        self
    }
}

/// The requests a server can run as tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServerTaskRequests {
    /// Tool requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsTaskRequests>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerTaskRequests {
    /// Sets which tool requests may run as tasks.
    #[must_use]
    pub fn with_tools(mut self, tools: ToolsTaskRequests) -> Self {
        self.tools = Some(tools);
        self
    }
}

/// Tool requests a server can run as tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolsTaskRequests {
    /// `tools/call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<JsonObject>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolsTaskRequests {
    /// Declares that `tools/call` may run as a task.
    #[must_use]
    pub fn with_call(mut self) -> Self {
        self.call = Some(JsonObject::new());
        self
    }
}

/// Params of `initialize`, the client's first request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InitializeParams {
    /// The newest protocol revision the client supports, such as
    /// `"2025-11-25"`. Kept as a string: a client may name one this SDK does
    /// not know, and the server then answers with one it does.
    pub protocol_version: String,
    /// What the client can do.
    pub capabilities: ClientCapabilities,
    /// Who the client is.
    pub client_info: Implementation,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InitializeParams {
    /// Params for a client that speaks `protocol_version`.
    pub fn new(
        protocol_version: impl Into<String>,
        capabilities: ClientCapabilities,
        client_info: Implementation,
    ) -> Self {
        InitializeParams {
            protocol_version: protocol_version.into(),
            capabilities,
            client_info,
            ..Default::default()
        }
    }
}

/// The result of `initialize`: the server's side of the handshake.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InitializeResult {
    /// The protocol revision the session will use.
    pub protocol_version: String,
    /// What the server can do.
    pub capabilities: ServerCapabilities,
    /// Who the server is.
    pub server_info: Implementation,
    /// How to use the server, for the model (for example in a system prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InitializeResult {
    /// The server's answer: the revision the session will use, what the
    /// server can do and who it is.
    pub fn new(
        protocol_version: impl Into<String>,
        capabilities: ServerCapabilities,
        server_info: Implementation,
    ) -> Self {
        InitializeResult {
            protocol_version: protocol_version.into(),
            capabilities,
            server_info,
            ..Default::default()
        }
    }

    /// Sets the instructions for the model.
    #[must_use]
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }
}

meta_only! {
    /// Params of `notifications/initialized`: the client is ready, after
    /// the `initialize` exchange.
    InitializedNotificationParams;
    /// Params of `ping`, which either side may send to check the other is
    /// alive; the answer is an [`EmptyResult`].
    PingParams;
}

impl_has_meta!(InitializeParams, InitializeResult);

impl_with_extra!(
    Implementation,
    ClientCapabilities,
    RootsCapability,
    SamplingCapability,
    ElicitationCapability,
    ClientTasksCapability,
    ClientTaskRequests,
    SamplingTaskRequests,
    ElicitationTaskRequests,
    ServerCapabilities,
    PromptsCapability,
    ResourcesCapability,
    ToolsCapability,
    ServerTasksCapability,
    ServerTaskRequests,
    ToolsTaskRequests,
    InitializeParams,
    InitializeResult,
);

impl_request! {
    InitializeParams => InitializeResult, "initialize";
    PingParams => EmptyResult, "ping";
}

impl_notification! {
    InitializedNotificationParams, "notifications/initialized";
}
