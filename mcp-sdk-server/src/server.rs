//! The [`Server`] trait: one async method per MCP operation, each with a
//! default, in the manner of `tower-lsp`'s `LanguageServer`.
//!
//! Implement the methods for the features you offer and say so in
//! [`Server::capabilities`]; the session answers every method whose capability
//! is not advertised with -32601 before your code is reached. Most servers use
//! the [`Router`](crate::Router), which implements this trait from
//! registrations and derives the capabilities itself.

use crate::context::RequestContext;
use crate::notifier::Notifier;
use crate::peer::Peer;
use async_trait::async_trait;
use mcp_sdk::{
    CallToolParams, CallToolResult, CompleteParams, CompleteResult, Error, GetPromptParams,
    GetPromptResult, Implementation, ListPromptsParams, ListPromptsResult,
    ListResourceTemplatesParams, ListResourceTemplatesResult, ListResourcesParams,
    ListResourcesResult, ListToolsParams, ListToolsResult, ReadResourceParams, ReadResourceResult,
    ServerCapabilities, SubscribeParams, Tool, UnsubscribeParams,
};
use serde_json::Value;
use std::borrow::Cow;

/// An error of any type, as [`Server::check`] gives it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An MCP server: what it is, what it offers, and how it answers.
///
/// Every operation has a default that answers "method not found", so a server
/// implements only what it offers. Handlers receive a [`RequestContext`] with
/// cancellation, progress, logging and the [`Peer`] for calls back to the
/// client.
///
/// `Arc<S>` and `Box<S>` of a server are servers too: every method forwards
/// to `S` (written by `auto_impl`, so a method added to the trait cannot be
/// forgotten there and silently fall back to its default).
#[async_trait]
#[auto_impl::auto_impl(Arc, Box)]
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

    /// [`find_tool`](Self::find_tool), lent rather than copied when the
    /// server keeps its definitions: the transport asks on every 2026-07-28
    /// `tools/call`, and a copy of a tool (its schemas and all) cost more
    /// than the rest of the header checks together. The default copies what
    /// `find_tool` gives, so a server that implements only `find_tool` is
    /// answered as before; the [`Router`](crate::Router) lends its own.
    fn find_tool_ref(&self, name: &str) -> Option<Cow<'_, Tool>> {
        self.find_tool(name).map(Cow::Owned)
    }

    /// The OAuth scopes a request of `method` with `params` needs, when the
    /// server knows without running it. A protected HTTP transport answers
    /// a caller whose token lacks one with the 403 `insufficient_scope`
    /// step-up challenge, before the request runs. The default knows the
    /// scopes a `tools/call` needs from the tool's `_meta` (see
    /// [`find_tool`](Self::find_tool)); the [`Router`](crate::Router) also
    /// knows those of its prompts and resources
    /// ([`Route::requires_scope`](crate::router::Route)).
    fn required_scopes(&self, method: &str, params: Option<&Value>) -> Vec<String> {
        let name = params.and_then(|p| p.get("name")).and_then(Value::as_str);
        match (method, name) {
            ("tools/call", Some(name)) => self
                .find_tool_ref(name)
                .map_or_else(Vec::new, |t| tool_scopes(&t)),
            _ => Vec::new(),
        }
    }

    /// Whether the server can serve. The transports call this once before
    /// they serve and refuse to start with its error ([`stdio::serve`] and
    /// [`http::serve`] return it as an `io::Error` of kind `InvalidInput`).
    /// The [`Router`](crate::Router) reports its registration mistakes here
    /// (a duplicate name, a tool name MCP does not allow...); the default
    /// finds nothing wrong.
    ///
    /// [`stdio::serve`]: crate::stdio::serve
    /// [`http::serve`]: crate::http::serve
    fn check(&self) -> Result<(), BoxError> {
        Ok(())
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
    /// to forget what you kept for the session (subscriptions, caches); data
    /// kept in [`Peer::session_extensions`] goes with the session by itself.
    /// Stateless requests (2026-07-28) have no session and never come here.
    async fn on_session_closed(&self, _peer: Peer) {}
}

/// The `_meta` key under which a tool lists the OAuth scopes a call of it
/// needs (see [`Route::requires_scope`](crate::router::Route::requires_scope)),
/// so that a client can step up before it calls.
pub const REQUIRED_SCOPES_META: &str = "dev.mcp-sdk/requiredScopes";

/// The scopes a tool's `_meta` says a call of it needs
/// ([`REQUIRED_SCOPES_META`]).
pub(crate) fn tool_scopes(tool: &Tool) -> Vec<String> {
    tool.meta
        .as_ref()
        .and_then(|m| m.get(REQUIRED_SCOPES_META))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! Every method of a server answers the same through `Arc` and `Box` as
    //! directly: none falls back to its default.
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Answers each method with an error naming it, and records callbacks.
    #[derive(Default)]
    struct Marked {
        heard: Mutex<Vec<String>>,
    }

    fn mark(method: &str) -> Error {
        Error::internal(format!("marked {method}"))
    }

    #[async_trait]
    impl Server for Marked {
        fn info(&self) -> Implementation {
            Implementation::new("marked", "1")
        }
        fn capabilities(&self) -> ServerCapabilities {
            ServerCapabilities::default().with_logging()
        }
        fn instructions(&self) -> Option<String> {
            Some("marked".into())
        }
        fn find_tool(&self, name: &str) -> Option<Tool> {
            Some(Tool::named(name, "marked"))
        }
        fn notifier(&self) -> Option<Notifier> {
            Some(Notifier::default())
        }
        fn check(&self) -> Result<(), BoxError> {
            Err("marked check".into())
        }
        async fn list_tools(
            &self,
            _: ListToolsParams,
            _: RequestContext,
        ) -> Result<ListToolsResult, Error> {
            Err(mark("tools/list"))
        }
        async fn call_tool(
            &self,
            _: CallToolParams,
            _: RequestContext,
        ) -> Result<CallToolResult, Error> {
            Err(mark("tools/call"))
        }
        async fn list_resources(
            &self,
            _: ListResourcesParams,
            _: RequestContext,
        ) -> Result<ListResourcesResult, Error> {
            Err(mark("resources/list"))
        }
        async fn list_resource_templates(
            &self,
            _: ListResourceTemplatesParams,
            _: RequestContext,
        ) -> Result<ListResourceTemplatesResult, Error> {
            Err(mark("resources/templates/list"))
        }
        async fn read_resource(
            &self,
            _: ReadResourceParams,
            _: RequestContext,
        ) -> Result<ReadResourceResult, Error> {
            Err(mark("resources/read"))
        }
        async fn subscribe(&self, _: SubscribeParams, _: RequestContext) -> Result<(), Error> {
            Err(mark("resources/subscribe"))
        }
        async fn unsubscribe(&self, _: UnsubscribeParams, _: RequestContext) -> Result<(), Error> {
            Err(mark("resources/unsubscribe"))
        }
        async fn list_prompts(
            &self,
            _: ListPromptsParams,
            _: RequestContext,
        ) -> Result<ListPromptsResult, Error> {
            Err(mark("prompts/list"))
        }
        async fn get_prompt(
            &self,
            _: GetPromptParams,
            _: RequestContext,
        ) -> Result<GetPromptResult, Error> {
            Err(mark("prompts/get"))
        }
        async fn complete(
            &self,
            _: CompleteParams,
            _: RequestContext,
        ) -> Result<CompleteResult, Error> {
            Err(mark("completion/complete"))
        }
        async fn custom_request(
            &self,
            method: &str,
            _: Option<Value>,
            _: RequestContext,
        ) -> Result<Value, Error> {
            Err(mark(method))
        }
        async fn on_initialized(&self, _: Peer) {
            self.heard.lock().unwrap().push("initialized".into());
        }
        async fn on_roots_list_changed(&self, _: Peer) {
            self.heard.lock().unwrap().push("roots".into());
        }
        async fn on_notification(&self, method: &str, _: Option<Value>, _: Peer) {
            self.heard.lock().unwrap().push(method.into());
        }
        async fn on_session_closed(&self, _: Peer) {
            self.heard.lock().unwrap().push("closed".into());
        }
    }

    fn ctx() -> RequestContext {
        RequestContext::builder().build()
    }

    fn message(r: Result<impl std::fmt::Debug, Error>) -> String {
        r.expect_err("the marked server answers every request with an error")
            .message
    }

    /// Calls every method of `s` and lists what came back.
    async fn exercise(s: &dyn Server) -> Vec<String> {
        let mut seen = vec![
            s.info().name,
            format!("{:?}", s.capabilities().logging.is_some()),
            s.instructions().unwrap_or_default(),
            s.find_tool("t").map(|t| t.name).unwrap_or_default(),
            format!("{:?}", s.notifier().is_some()),
            s.check().unwrap_err().to_string(),
            message(s.list_tools(Default::default(), ctx()).await),
            message(s.call_tool(CallToolParams::new("t", None), ctx()).await),
            message(s.list_resources(Default::default(), ctx()).await),
            message(s.list_resource_templates(Default::default(), ctx()).await),
            message(
                s.read_resource(
                    serde_json::from_value(serde_json::json!({"uri": "a:b"})).unwrap(),
                    ctx(),
                )
                .await,
            ),
            message(
                s.subscribe(
                    serde_json::from_value(serde_json::json!({"uri": "a:b"})).unwrap(),
                    ctx(),
                )
                .await,
            ),
            message(
                s.unsubscribe(
                    serde_json::from_value(serde_json::json!({"uri": "a:b"})).unwrap(),
                    ctx(),
                )
                .await,
            ),
            message(s.list_prompts(Default::default(), ctx()).await),
            message(
                s.get_prompt(
                    serde_json::from_value(serde_json::json!({"name": "p"})).unwrap(),
                    ctx(),
                )
                .await,
            ),
            message(
                s.complete(
                    serde_json::from_value(serde_json::json!({
                        "ref": {"type": "ref/prompt", "name": "p"},
                        "argument": {"name": "a", "value": ""},
                    }))
                    .unwrap(),
                    ctx(),
                )
                .await,
            ),
            message(s.custom_request("x/y", None, ctx()).await),
        ];
        let peer = ctx().peer().clone();
        s.on_initialized(peer.clone()).await;
        s.on_roots_list_changed(peer.clone()).await;
        s.on_notification("notifications/x", None, peer.clone())
            .await;
        s.on_session_closed(peer).await;
        seen.push("callbacks".into());
        seen
    }

    #[tokio::test]
    async fn arc_and_box_forward_every_method() {
        let direct = Marked::default();
        let expected = exercise(&direct).await;
        assert!(
            expected.iter().all(|m| !m.contains("Method not found")),
            "{expected:?}"
        );
        let heard = direct.heard.lock().unwrap().clone();
        assert_eq!(heard, ["initialized", "roots", "notifications/x", "closed"]);

        let arc = Arc::new(Marked::default());
        assert_eq!(exercise(&arc).await, expected);
        assert_eq!(*arc.heard.lock().unwrap(), heard);

        let boxed: Box<dyn Server> = Box::new(Marked::default());
        assert_eq!(exercise(&boxed).await, expected);
        let arc_dyn: Arc<dyn Server> = Arc::new(Marked::default());
        assert_eq!(exercise(&arc_dyn).await, expected);
    }
}
