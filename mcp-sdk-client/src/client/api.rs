//! The typed API: one method per server operation.

use super::serve::parse;
use super::{decode_result, lock, tool_arguments, Client, MAX_PAGES};
use crate::request::RequestOptions;
use crate::stateless::Subscription;
use crate::ClientError;
use mcp_sdk::{
    CallToolParams, CallToolResult, CompleteParams, CompleteResult, DiscoverParams,
    GetPromptParams, GetPromptResult, ListPromptsParams, ListPromptsResult,
    ListResourceTemplatesParams, ListResourceTemplatesResult, ListResourcesParams,
    ListResourcesResult, ListToolsParams, ListToolsResult, LoggingLevel, Message,
    NotificationParams, PingParams, Prompt, ReadResourceParams, ReadResourceResult, RequestParams,
    Resource, ResourceTemplate, RootsListChangedNotificationParams, SetLevelParams,
    SubscribeParams, SubscriptionFilter, SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenParams, Tool, UnsubscribeParams,
};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

impl Client {
    /// Sends a typed request and waits for its answer.
    pub async fn request<P: RequestParams>(&self, params: P) -> Result<P::Result, ClientError> {
        self.request_with(params, RequestOptions::default()).await
    }

    /// Sends a typed request with a timeout, progress callback or
    /// cancellation token of its own.
    pub async fn request_with<P: RequestParams>(
        &self,
        params: P,
        options: RequestOptions,
    ) -> Result<P::Result, ClientError> {
        let params = serde_json::to_value(params)
            .map_err(|e| ClientError::Protocol(format!("params of {}: {e}", P::METHOD)))?;
        let answer = self.exchange(P::METHOD, params, options).await?;
        decode_result(P::METHOD, answer)
    }

    /// Sends a request by method name, for methods this SDK has no type for.
    ///
    /// In the stateless era it gets what typed requests get: `_meta`, the
    /// HTTP headers, the answers to input requests and the cache.
    pub async fn request_raw(
        &self,
        method: &str,
        params: Option<Value>,
        options: RequestOptions,
    ) -> Result<Value, ClientError> {
        self.exchange(method, params.unwrap_or(Value::Null), options)
            .await
    }

    /// Sends a typed notification.
    pub async fn notify<P: NotificationParams>(&self, params: P) -> Result<(), ClientError> {
        self.inner.core.notify(params).await
    }

    /// `ping`: checks that the server is there.
    ///
    /// Revision `2026-07-28` has no `ping`; a stateless connection sends
    /// `server/discover` instead, which every stateless server answers.
    pub async fn ping(&self) -> Result<(), ClientError> {
        if self.inner.stateless {
            return self
                .exchange(
                    DiscoverParams::METHOD,
                    Value::Null,
                    RequestOptions::default(),
                )
                .await
                .map(drop);
        }
        self.request(PingParams::default()).await.map(drop)
    }

    /// `tools/list`: one page of tools; pass the previous page's
    /// `next_cursor` to continue.
    pub async fn list_tools(&self, cursor: Option<String>) -> Result<ListToolsResult, ClientError> {
        self.request(ListToolsParams::page(cursor)).await
    }

    /// Every tool, following cursors to the last page.
    pub async fn list_all_tools(&self) -> Result<Vec<Tool>, ClientError> {
        self.all_pages(|c| self.list_tools(c), |p| (p.tools, p.next_cursor))
            .await
    }

    /// `tools/call` with arguments that serialize to a JSON object (or
    /// `null` for none). A tool that failed answers `Ok` with `is_error`.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: impl serde::Serialize,
    ) -> Result<CallToolResult, ClientError> {
        self.call_tool_with(name, arguments, RequestOptions::default())
            .await
    }

    /// `tools/call` with options: a progress callback, a timeout, a
    /// cancellation token.
    pub async fn call_tool_with(
        &self,
        name: &str,
        arguments: impl serde::Serialize,
        options: RequestOptions,
    ) -> Result<CallToolResult, ClientError> {
        let arguments = tool_arguments(arguments)?;
        self.request_with(CallToolParams::new(name, arguments), options)
            .await
    }

    /// `resources/list`: one page of resources.
    pub async fn list_resources(
        &self,
        cursor: Option<String>,
    ) -> Result<ListResourcesResult, ClientError> {
        self.request(ListResourcesParams::page(cursor)).await
    }

    /// Every resource, following cursors to the last page.
    pub async fn list_all_resources(&self) -> Result<Vec<Resource>, ClientError> {
        self.all_pages(|c| self.list_resources(c), |p| (p.resources, p.next_cursor))
            .await
    }

    /// `resources/templates/list`: one page of resource templates.
    pub async fn list_resource_templates(
        &self,
        cursor: Option<String>,
    ) -> Result<ListResourceTemplatesResult, ClientError> {
        self.request(ListResourceTemplatesParams::page(cursor))
            .await
    }

    /// Every resource template, following cursors to the last page.
    pub async fn list_all_resource_templates(&self) -> Result<Vec<ResourceTemplate>, ClientError> {
        self.all_pages(
            |c| self.list_resource_templates(c),
            |p| (p.resource_templates, p.next_cursor),
        )
        .await
    }

    /// `resources/read`.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ClientError> {
        self.request(ReadResourceParams::new(uri)).await
    }

    /// `resources/subscribe`: updates then arrive at
    /// [`ClientHandler::on_resource_updated`](crate::ClientHandler::on_resource_updated).
    ///
    /// Revision `2026-07-28` has no `resources/subscribe`: on a stateless
    /// connection this fails with [`ClientError::Unsupported`]; use
    /// [`listen`](Self::listen) with `resource_subscriptions`.
    pub async fn subscribe(&self, uri: &str) -> Result<(), ClientError> {
        self.session_only(
            SubscribeParams::METHOD,
            "Client::listen with resource_subscriptions",
        )?;
        self.request(SubscribeParams::new(uri)).await.map(drop)
    }

    /// `resources/unsubscribe` (session era only, as
    /// [`subscribe`](Self::subscribe)).
    pub async fn unsubscribe(&self, uri: &str) -> Result<(), ClientError> {
        self.session_only(UnsubscribeParams::METHOD, "dropping the Subscription")?;
        self.request(UnsubscribeParams::new(uri)).await.map(drop)
    }

    /// `subscriptions/listen` (revision `2026-07-28`): opens a stream of the
    /// notifications `filter` names, and waits for the server to
    /// acknowledge it (within the client's timeout).
    ///
    /// Fails with [`ClientError::Unsupported`] on a session-era connection,
    /// where [`subscribe`](Self::subscribe) and the handler's callbacks do
    /// this.
    pub async fn listen(&self, filter: SubscriptionFilter) -> Result<Subscription, ClientError> {
        if !self.inner.stateless {
            return Err(ClientError::Unsupported(format!(
                "subscriptions/listen is part of revision 2026-07-28; this connection speaks {}: use Client::subscribe and the handler's callbacks",
                self.inner.version
            )));
        }
        let core = &self.inner.core;
        if let Some(reason) = core.closed_reason() {
            return Err(reason);
        }
        let id = core.next_request_id();
        let (tx, notifications) = mpsc::channel(256);
        let overflow = Arc::default();
        let (answer, end) = oneshot::channel();
        let feed = crate::stateless::Feed {
            tx,
            overflow: Arc::clone(&overflow),
        };
        lock(&core.subscriptions).insert(id.clone(), feed);
        lock(&core.pending).insert(id.clone(), answer);
        // From here on, dropping `subscription` cancels the request.
        let mut subscription = Subscription {
            id: id.clone(),
            acknowledged: SubscriptionFilter::default(),
            notifications,
            overflow,
            end,
            ended: None,
            core: core.clone(),
        };
        let mut params = serde_json::to_value(SubscriptionsListenParams::new(filter))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        core.add_stateless_meta(&mut params, None);
        let method = SubscriptionsListenParams::METHOD;
        let request = Message::request(id, method, Some(params));
        let acknowledged = tokio::time::timeout(core.timeout, async {
            core.transport.send(request).await?;
            let first = subscription.notifications.recv().await;
            match first {
                Some(n) if n.method == SubscriptionsAcknowledgedNotificationParams::METHOD => {
                    let ack: SubscriptionsAcknowledgedNotificationParams = parse(n.params)
                        .map_err(|e| {
                            ClientError::Protocol(format!("a malformed acknowledgement: {e}"))
                        })?;
                    Ok(ack.notifications)
                }
                Some(n) => Err(ClientError::Protocol(format!(
                    "the server sent {} on a subscription before acknowledging it",
                    n.method
                ))),
                None => match (&mut subscription.end).await {
                    Ok(Ok(_)) => Err(ClientError::Protocol(
                        "the server ended the subscription before acknowledging it".into(),
                    )),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(core
                        .closed_reason()
                        .unwrap_or_else(|| ClientError::Closed("the connection ended".into()))),
                },
            }
        })
        .await
        .map_err(|_| ClientError::Timeout {
            method: method.to_owned(),
            after: core.timeout,
        })??;
        subscription.acknowledged = acknowledged;
        Ok(subscription)
    }

    /// `prompts/list`: one page of prompts.
    pub async fn list_prompts(
        &self,
        cursor: Option<String>,
    ) -> Result<ListPromptsResult, ClientError> {
        self.request(ListPromptsParams::page(cursor)).await
    }

    /// Every prompt, following cursors to the last page.
    pub async fn list_all_prompts(&self) -> Result<Vec<Prompt>, ClientError> {
        self.all_pages(|c| self.list_prompts(c), |p| (p.prompts, p.next_cursor))
            .await
    }

    /// `prompts/get` with string arguments.
    pub async fn get_prompt<K, V>(
        &self,
        name: &str,
        arguments: impl IntoIterator<Item = (K, V)>,
    ) -> Result<GetPromptResult, ClientError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let params = arguments
            .into_iter()
            .fold(GetPromptParams::new(name), |p, (k, v)| {
                p.with_argument(k, v)
            });
        self.request(params).await
    }

    /// `completion/complete`: suggestions for a prompt or template argument.
    pub async fn complete(&self, params: CompleteParams) -> Result<CompleteResult, ClientError> {
        self.request(params).await
    }

    /// `logging/setLevel`: the least severe log level the server should send.
    ///
    /// Revision `2026-07-28` has no `logging/setLevel`: on a stateless
    /// connection the level is kept and sent with every later request, as
    /// `io.modelcontextprotocol/logLevel` in `_meta` (without it, a
    /// stateless server sends no log messages).
    pub async fn set_logging_level(&self, level: LoggingLevel) -> Result<(), ClientError> {
        if self.inner.stateless {
            *lock(&self.inner.core.log_level) = Some(level);
            return Ok(());
        }
        self.request(SetLevelParams::new(level)).await.map(drop)
    }

    /// `notifications/roots/list_changed`: tells the server the roots
    /// changed, so it asks again.
    ///
    /// Revision `2026-07-28` has no such notification (a stateless server
    /// asks for the roots each time it needs them), so on a stateless
    /// connection this does nothing.
    pub async fn notify_roots_list_changed(&self) -> Result<(), ClientError> {
        if self.inner.stateless {
            return Ok(());
        }
        self.notify(RootsListChangedNotificationParams::default())
            .await
    }

    /// Forgets every cached result (stateless era).
    pub fn clear_cache(&self) {
        lock(&self.inner.core.cache).clear();
    }

    /// Ends the connection: waiting calls fail with
    /// [`ClientError::Closed`], an HTTP session is deleted, a child process
    /// gets its stdin closed and then is stopped.
    pub async fn close(&self) {
        self.inner.core.shut(ClientError::Closed(
            "the client closed the connection".into(),
        ));
        self.inner.core.transport.close().await;
    }

    /// Fails, on a stateless connection, with what to use instead.
    pub(super) fn session_only(&self, method: &str, instead: &str) -> Result<(), ClientError> {
        if self.inner.stateless {
            return Err(ClientError::Unsupported(format!(
                "{method} does not exist in revision {}; use {instead}",
                self.inner.version
            )));
        }
        Ok(())
    }

    pub(super) async fn all_pages<T, Page, F, Fut>(
        &self,
        fetch: F,
        split: impl Fn(Page) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, ClientError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Page, ClientError>>,
    {
        let mut all = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_PAGES {
            let (items, next) = split(fetch(cursor).await?);
            all.extend(items);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
        Err(ClientError::Protocol(format!(
            "the server's list went on for more than {MAX_PAGES} pages"
        )))
    }
}
