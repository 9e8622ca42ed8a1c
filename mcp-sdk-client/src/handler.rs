//! [`ClientHandler`]: how the client answers the server's requests
//! (sampling, roots, elicitation) and hears its notifications.

use async_trait::async_trait;
use mcp_sdk::{
    ClientCapabilities, CreateMessageParams, CreateMessageResult, ElicitAction,
    ElicitRequestParams, ElicitResult, ElicitationCompleteNotificationParams, Error,
    ListRootsResult, LoggingMessageNotificationParams, ProgressNotificationParams, RequestId,
    ResourceUpdatedNotificationParams,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// What a handler gets with each request from the server.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub(crate) id: RequestId,
    pub(crate) cancellation: CancellationToken,
}

impl RequestContext {
    /// The id the server gave the request.
    pub fn request_id(&self) -> &RequestId {
        &self.id
    }

    /// Whether the server has cancelled the request; the answer is then
    /// dropped, so long work can stop early.
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_cancelled()
    }

    /// Resolves when the server cancels the request.
    pub async fn cancelled(&self) {
        self.cancellation.cancelled().await
    }
}

/// Answers the server's requests and hears its notifications.
///
/// Every method has a default: requests answer -32601 (method not found),
/// notifications are ignored. Override what the client supports and declare
/// it in [`capabilities`](Self::capabilities), which is what `initialize`
/// sends; the client refuses, with -32601, requests for features not
/// declared there.
///
/// ```
/// use mcp_sdk::{ClientCapabilities, Error, ListRootsResult, Root, RootsCapability};
/// use mcp_sdk_client::{async_trait, ClientHandler, RequestContext};
///
/// struct Workspace;
///
/// #[async_trait]
/// impl ClientHandler for Workspace {
///     fn capabilities(&self) -> ClientCapabilities {
///         ClientCapabilities::default().with_roots(RootsCapability::default())
///     }
///
///     async fn list_roots(&self, _cx: RequestContext) -> Result<ListRootsResult, Error> {
///         Ok(ListRootsResult::new(vec![Root::new("file:///home/me/project")]))
///     }
/// }
/// ```
#[async_trait]
pub trait ClientHandler: Send + Sync + 'static {
    /// What the client offers; sent in `initialize`.
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
    }

    /// `sampling/createMessage`: run the messages through a model.
    async fn create_message(
        &self,
        _params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        Err(Error::method_not_found("sampling/createMessage"))
    }

    /// `roots/list`: the directories and files the server may work in.
    async fn list_roots(&self, _cx: RequestContext) -> Result<ListRootsResult, Error> {
        Err(Error::method_not_found("roots/list"))
    }

    /// `elicitation/create`: ask the user. For form mode, the client fills
    /// in the schema's defaults for fields an accepting answer leaves out
    /// (SEP-1034), so a handler may accept with only what the user changed.
    async fn elicit(
        &self,
        _params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        Err(Error::method_not_found("elicitation/create"))
    }

    /// Any other request the server sends.
    async fn custom_request(
        &self,
        method: &str,
        _params: Option<Value>,
        _cx: RequestContext,
    ) -> Result<Value, Error> {
        Err(Error::method_not_found(method))
    }

    /// `notifications/tools/list_changed`.
    async fn on_tool_list_changed(&self) {}

    /// `notifications/resources/list_changed`.
    async fn on_resource_list_changed(&self) {}

    /// `notifications/prompts/list_changed`.
    async fn on_prompt_list_changed(&self) {}

    /// `notifications/resources/updated`, for a subscribed resource.
    async fn on_resource_updated(&self, _params: ResourceUpdatedNotificationParams) {}

    /// `notifications/message`: a log message from the server.
    async fn on_log(&self, _params: LoggingMessageNotificationParams) {}

    /// `notifications/progress` whose token no call of this client is
    /// waiting on (calls with a progress callback get theirs there).
    async fn on_progress(&self, _params: ProgressNotificationParams) {}

    /// `notifications/elicitation/complete`: a URL-mode elicitation ended.
    async fn on_elicitation_complete(&self, _params: ElicitationCompleteNotificationParams) {}

    /// Any other notification.
    async fn on_notification(&self, _method: &str, _params: Option<Value>) {}
}

/// No handler: the client offers nothing and ignores notifications.
impl ClientHandler for () {}

#[async_trait]
impl<H: ClientHandler + ?Sized> ClientHandler for std::sync::Arc<H> {
    fn capabilities(&self) -> ClientCapabilities {
        (**self).capabilities()
    }
    async fn create_message(
        &self,
        params: CreateMessageParams,
        cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        (**self).create_message(params, cx).await
    }
    async fn list_roots(&self, cx: RequestContext) -> Result<ListRootsResult, Error> {
        (**self).list_roots(cx).await
    }
    async fn elicit(
        &self,
        params: ElicitRequestParams,
        cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        (**self).elicit(params, cx).await
    }
    async fn custom_request(
        &self,
        method: &str,
        params: Option<Value>,
        cx: RequestContext,
    ) -> Result<Value, Error> {
        (**self).custom_request(method, params, cx).await
    }
    async fn on_tool_list_changed(&self) {
        (**self).on_tool_list_changed().await
    }
    async fn on_resource_list_changed(&self) {
        (**self).on_resource_list_changed().await
    }
    async fn on_prompt_list_changed(&self) {
        (**self).on_prompt_list_changed().await
    }
    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        (**self).on_resource_updated(params).await
    }
    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        (**self).on_log(params).await
    }
    async fn on_progress(&self, params: ProgressNotificationParams) {
        (**self).on_progress(params).await
    }
    async fn on_elicitation_complete(&self, params: ElicitationCompleteNotificationParams) {
        (**self).on_elicitation_complete(params).await
    }
    async fn on_notification(&self, method: &str, params: Option<Value>) {
        (**self).on_notification(method, params).await
    }
}

/// Fills in, for an accepted form-mode elicitation, the `default` of every
/// schema property the answer leaves out (SEP-1034).
pub(crate) fn apply_elicitation_defaults(params: &ElicitRequestParams, result: &mut ElicitResult) {
    let ElicitRequestParams::Form(form) = params else {
        return;
    };
    if result.action != ElicitAction::Accept {
        return;
    }
    let Ok(Value::Object(schema)) = serde_json::to_value(&form.requested_schema) else {
        return;
    };
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return;
    };
    let content = result.content.get_or_insert_with(Default::default);
    for (name, property) in properties {
        if let Some(default) = property.get("default") {
            if !content.contains_key(name) {
                content.insert(name.clone(), default.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(schema: Value) -> ElicitRequestParams {
        serde_json::from_value(json!({"message": "m", "requestedSchema": schema})).unwrap()
    }

    #[test]
    fn accepted_form_answers_get_the_defaults_they_leave_out() {
        let params = form(json!({"type": "object", "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "nick": {"type": "string"},
        }}));
        let mut result = ElicitResult::accept(json!({"age": 41}).as_object().unwrap().clone());
        apply_elicitation_defaults(&params, &mut result);
        assert_eq!(
            Value::Object(result.content.unwrap()),
            json!({"name": "John Doe", "age": 41})
        );
    }

    #[test]
    fn declined_answers_and_url_mode_are_left_alone() {
        let params = form(json!({"type": "object", "properties": {
            "name": {"type": "string", "default": "x"}}}));
        let mut declined = ElicitResult::decline();
        apply_elicitation_defaults(&params, &mut declined);
        assert_eq!(declined.content, None);

        let url = ElicitRequestParams::url("m", "https://example.com", "e1");
        let mut accepted = ElicitResult::accept_url();
        apply_elicitation_defaults(&url, &mut accepted);
        assert_eq!(accepted.content, None);
    }
}
