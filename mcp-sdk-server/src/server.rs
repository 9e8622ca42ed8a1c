//! The [`Server`] trait: one async method per MCP operation, each with a
//! default, in the manner of `tower-lsp`'s `LanguageServer`.
//!
//! Implement the methods for the features you offer and say so in
//! [`Server::capabilities`]; the session answers every method whose capability
//! is not advertised with -32601 before your code is reached. Most servers use
//! the [`Router`](crate::Router), which implements this trait from
//! registrations and derives the capabilities itself.

use crate::context::RequestContext;
use crate::peer::Peer;
use crate::stateless::Notifier;
use async_trait::async_trait;
use mcp_sdk::{
    CallToolParams, CallToolResult, CompleteParams, CompleteResult, Error, GetPromptParams,
    GetPromptResult, Implementation, ListPromptsParams, ListPromptsResult,
    ListResourceTemplatesParams, ListResourceTemplatesResult, ListResourcesParams,
    ListResourcesResult, ListToolsParams, ListToolsResult, ReadResourceParams, ReadResourceResult,
    ServerCapabilities, SubscribeParams, Tool, UnsubscribeParams,
};
use serde_json::Value;

/// An MCP server: what it is, what it offers, and how it answers.
///
/// Every operation has a default that answers "method not found", so a server
/// implements only what it offers. Handlers receive a [`RequestContext`] with
/// cancellation, progress, logging and the [`Peer`] for calls back to the
/// client.
#[async_trait]
pub trait Server: Send + Sync + 'static {
    /// Name and version sent in the `initialize` result.
    fn info(&self) -> Implementation {
        Implementation::new("mcp-sdk-server", env!("CARGO_PKG_VERSION"))
    }

    /// What this server offers. Requests for features not listed here are
    /// refused with -32601 before any handler runs.
    fn capabilities(&self) -> ServerCapabilities {
        ServerCapabilities::default()
    }

    /// Optional instructions for the model, sent in the `initialize` result.
    fn instructions(&self) -> Option<String> {
        None
    }

    /// The definition of the tool `name`, when the server knows it without
    /// a request. Over Streamable HTTP (2026-07-28) it lets the transport
    /// check the `Mcp-Param-*` headers a client mirrors from arguments whose
    /// schema property carries `x-mcp-header`. The default knows no tool,
    /// so those headers go unchecked; the [`Router`](crate::Router) knows
    /// its own.
    fn find_tool(&self, _name: &str) -> Option<Tool> {
        None
    }

    /// The [`Notifier`] that feeds the `subscriptions/listen` streams of
    /// stateless (2026-07-28) clients. Return one you keep, to announce
    /// changes from outside a request; by default the transport makes one
    /// (handlers reach it through [`RequestContext::notifier`]).
    fn notifier(&self) -> Option<Notifier> {
        None
    }

    /// `tools/list`.
    async fn list_tools(
        &self,
        _params: ListToolsParams,
        _ctx: RequestContext,
    ) -> Result<ListToolsResult, Error> {
        Err(Error::method_not_found("tools/list"))
    }

    /// `tools/call`. A tool that fails should answer `Ok` with `isError: true`
    /// (so the model sees the failure); `Err` is for protocol errors such as an
    /// unknown tool.
    async fn call_tool(
        &self,
        _params: CallToolParams,
        _ctx: RequestContext,
    ) -> Result<CallToolResult, Error> {
        Err(Error::method_not_found("tools/call"))
    }

    /// `resources/list`.
    async fn list_resources(
        &self,
        _params: ListResourcesParams,
        _ctx: RequestContext,
    ) -> Result<ListResourcesResult, Error> {
        Err(Error::method_not_found("resources/list"))
    }

    /// `resources/templates/list`.
    async fn list_resource_templates(
        &self,
        _params: ListResourceTemplatesParams,
        _ctx: RequestContext,
    ) -> Result<ListResourceTemplatesResult, Error> {
        Err(Error::method_not_found("resources/templates/list"))
    }

    /// `resources/read`.
    async fn read_resource(
        &self,
        _params: ReadResourceParams,
        _ctx: RequestContext,
    ) -> Result<ReadResourceResult, Error> {
        Err(Error::method_not_found("resources/read"))
    }

    /// `resources/subscribe`: send `notifications/resources/updated` for this
    /// URI through [`RequestContext::peer`] (keep the [`Peer`]) until
    /// unsubscribed.
    async fn subscribe(&self, _params: SubscribeParams, _ctx: RequestContext) -> Result<(), Error> {
        Err(Error::method_not_found("resources/subscribe"))
    }

    /// `resources/unsubscribe`.
    async fn unsubscribe(
        &self,
        _params: UnsubscribeParams,
        _ctx: RequestContext,
    ) -> Result<(), Error> {
        Err(Error::method_not_found("resources/unsubscribe"))
    }

    /// `prompts/list`.
    async fn list_prompts(
        &self,
        _params: ListPromptsParams,
        _ctx: RequestContext,
    ) -> Result<ListPromptsResult, Error> {
        Err(Error::method_not_found("prompts/list"))
    }

    /// `prompts/get`.
    async fn get_prompt(
        &self,
        _params: GetPromptParams,
        _ctx: RequestContext,
    ) -> Result<GetPromptResult, Error> {
        Err(Error::method_not_found("prompts/get"))
    }

    /// `completion/complete`.
    async fn complete(
        &self,
        _params: CompleteParams,
        _ctx: RequestContext,
    ) -> Result<CompleteResult, Error> {
        Err(Error::method_not_found("completion/complete"))
    }

    /// A request whose method MCP does not define (an extension). The params
    /// arrive as they came; the result goes back as it is.
    async fn custom_request(
        &self,
        method: &str,
        _params: Option<Value>,
        _ctx: RequestContext,
    ) -> Result<Value, Error> {
        Err(Error::method_not_found(method))
    }

    /// The client finished the handshake (`notifications/initialized`). The
    /// peer stays valid for the whole session: keep it to notify later.
    /// Like every notification callback, it runs in a task of its own, so
    /// it may await requests to the client.
    async fn on_initialized(&self, _peer: Peer) {}

    /// The client's roots changed (`notifications/roots/list_changed`); a
    /// server that cares asks again with
    /// [`Peer::list_roots`](crate::Peer::list_roots).
    async fn on_roots_list_changed(&self, _peer: Peer) {}

    /// Any other notification from the client.
    async fn on_notification(&self, _method: &str, _params: Option<Value>, _peer: Peer) {}

    /// A session ended: the client deleted it, it expired, its stdio stream
    /// closed, or the server shut down. Its peer is already closed; use it
    /// to forget what you kept for the session (subscriptions, caches).
    /// Stateless requests (2026-07-28) have no session and never come here.
    async fn on_session_closed(&self, _peer: Peer) {}
}

#[async_trait]
impl<S: Server + ?Sized> Server for std::sync::Arc<S> {
    fn info(&self) -> Implementation {
        (**self).info()
    }
    fn capabilities(&self) -> ServerCapabilities {
        (**self).capabilities()
    }
    fn instructions(&self) -> Option<String> {
        (**self).instructions()
    }
    fn find_tool(&self, name: &str) -> Option<Tool> {
        (**self).find_tool(name)
    }
    fn notifier(&self) -> Option<Notifier> {
        (**self).notifier()
    }
    async fn list_tools(
        &self,
        p: ListToolsParams,
        c: RequestContext,
    ) -> Result<ListToolsResult, Error> {
        (**self).list_tools(p, c).await
    }
    async fn call_tool(
        &self,
        p: CallToolParams,
        c: RequestContext,
    ) -> Result<CallToolResult, Error> {
        (**self).call_tool(p, c).await
    }
    async fn list_resources(
        &self,
        p: ListResourcesParams,
        c: RequestContext,
    ) -> Result<ListResourcesResult, Error> {
        (**self).list_resources(p, c).await
    }
    async fn list_resource_templates(
        &self,
        p: ListResourceTemplatesParams,
        c: RequestContext,
    ) -> Result<ListResourceTemplatesResult, Error> {
        (**self).list_resource_templates(p, c).await
    }
    async fn read_resource(
        &self,
        p: ReadResourceParams,
        c: RequestContext,
    ) -> Result<ReadResourceResult, Error> {
        (**self).read_resource(p, c).await
    }
    async fn subscribe(&self, p: SubscribeParams, c: RequestContext) -> Result<(), Error> {
        (**self).subscribe(p, c).await
    }
    async fn unsubscribe(&self, p: UnsubscribeParams, c: RequestContext) -> Result<(), Error> {
        (**self).unsubscribe(p, c).await
    }
    async fn list_prompts(
        &self,
        p: ListPromptsParams,
        c: RequestContext,
    ) -> Result<ListPromptsResult, Error> {
        (**self).list_prompts(p, c).await
    }
    async fn get_prompt(
        &self,
        p: GetPromptParams,
        c: RequestContext,
    ) -> Result<GetPromptResult, Error> {
        (**self).get_prompt(p, c).await
    }
    async fn complete(
        &self,
        p: CompleteParams,
        c: RequestContext,
    ) -> Result<CompleteResult, Error> {
        (**self).complete(p, c).await
    }
    async fn custom_request(
        &self,
        m: &str,
        p: Option<Value>,
        c: RequestContext,
    ) -> Result<Value, Error> {
        (**self).custom_request(m, p, c).await
    }
    async fn on_initialized(&self, peer: Peer) {
        (**self).on_initialized(peer).await
    }
    async fn on_roots_list_changed(&self, peer: Peer) {
        (**self).on_roots_list_changed(peer).await
    }
    async fn on_notification(&self, m: &str, p: Option<Value>, peer: Peer) {
        (**self).on_notification(m, p, peer).await
    }
    async fn on_session_closed(&self, peer: Peer) {
        (**self).on_session_closed(peer).await
    }
}
