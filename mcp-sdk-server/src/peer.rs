//! [`Peer`]: the server's handle on the client, for requests and
//! notifications the server starts (sampling, roots, elicitation, list
//! changes, resource updates, log messages).

use crate::session::{ClientInfo, Session};
use crate::sink::Outbound;
use crate::tasks::TaskEntry;
use mcp_sdk::{
    CreateMessageParams, CreateMessageResult, ElicitRequestParams, ElicitResult, EmptyResult,
    Error, ErrorCode, InputRequest, InputResponse, ListRootsParams, ListRootsResult, LoggingLevel,
    LoggingMessageNotificationParams, Message, NotificationParams, PingParams,
    PromptListChangedNotificationParams, RequestParams, ResourceListChangedNotificationParams,
    ResourceUpdatedNotificationParams, ToolListChangedNotificationParams,
};
use serde_json::Value;
use std::sync::Arc;

/// A handle on the client of one session.
///
/// Inside a request handler, take it from
/// [`RequestContext::peer`](crate::RequestContext::peer): what it sends then
/// travels with that request's response (on the same SSE stream over HTTP).
/// Kept beyond the request, it still works and falls back to the session's
/// standalone stream.
#[derive(Clone)]
pub struct Peer {
    session: Arc<Session>,
    route: Outbound,
    /// The task the handler runs as, if it does (2025-11-25 tasks): what
    /// it sends is tied to the task, and its requests make the task wait
    /// for input.
    task: Option<Arc<TaskEntry>>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field(
                "client",
                &self.session.client().map(|c| &c.implementation.name),
            )
            .finish()
    }
}

impl Peer {
    pub(crate) fn new(session: Arc<Session>, route: Outbound) -> Self {
        Peer {
            session,
            route,
            task: None,
        }
    }

    /// The peer of a [`RequestContext`](crate::RequestContext) built for a
    /// test: its messages go to `outbox` (or nowhere), its requests fail.
    pub(crate) fn detached(
        client: Option<ClientInfo>,
        extensions: crate::SessionExtensions,
        outbox: Option<tokio::sync::mpsc::UnboundedSender<Message>>,
    ) -> Self {
        let out: Outbound = match outbox {
            Some(tx) => Arc::new(tx),
            None => Arc::new(crate::sink::Discard),
        };
        Session::detached(client, extensions, out).peer()
    }

    /// What the server keeps for this peer's session, by type (for a
    /// stateless request, for the request).
    pub fn session_extensions(&self) -> &crate::SessionExtensions {
        &self.session.extensions
    }

    /// This peer for the handler of `task`.
    pub(crate) fn for_task(mut self, task: Arc<TaskEntry>) -> Self {
        self.task = Some(task);
        self
    }

    /// The input round of a stateless request (2026-07-28), if this peer
    /// serves one.
    pub(crate) fn input_round(&self) -> Option<&Arc<crate::stateless::input::InputRound>> {
        self.session.input.as_ref()
    }

    /// What the client said about itself in `initialize`.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.session.client()
    }

    /// The server's [`Notifier`](crate::Notifier) for `subscriptions/listen` streams.
    pub fn notifier(&self) -> &crate::Notifier {
        &self.session.shared.notifier
    }

    /// Whether two peers talk to the same session.
    pub fn same_session(&self, other: &Peer) -> bool {
        Arc::ptr_eq(&self.session, &other.session)
    }

    /// Whether the session has ended; a closed peer can be dropped.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    /// Sends a typed request to the client and waits for its answer, at most
    /// the session's peer-request timeout.
    ///
    /// In a stateless request (2026-07-28) the server cannot send requests:
    /// `sampling/createMessage`, `roots/list` and `elicitation/create` become
    /// input requests of a multi round-trip request (the handler runs again
    /// once the client answered); other methods fail with -32601.
    pub async fn request<P: RequestParams>(&self, params: P) -> Result<P::Result, Error> {
        if self.session.is_closed() {
            return Err(closed());
        }
        if self.session.detached {
            return Err(Error::new(
                ErrorCode::CONNECTION_CLOSED,
                format!(
                    "no client is connected to ask {}: this context was built with \
                     RequestContext::builder",
                    P::METHOD
                ),
            ));
        }
        let params = serde_json::to_value(params).map_err(Error::internal)?;
        if let Some(round) = &self.session.input {
            let request = input_request(P::METHOD, params)?;
            let key = round.auto_key(&request);
            let answer = round.ask(key, request).await;
            return serde_json::from_value(answer).map_err(Error::invalid_params);
        }
        let id = self.session.next_request_id();
        let answer = self.session.register_pending(id.clone());
        // A task waits for the client's answer as `input_required`.
        let waiting = self
            .task
            .as_ref()
            .map(|task| InputWait::new(&self.session, task));
        if let Some(waiting) = &waiting {
            waiting.begin().await;
        }
        self.send(Message::request(id.clone(), P::METHOD, Some(params)))
            .await
            .inspect_err(|_| self.session.forget_pending(&id))?;
        let timeout = self.session.shared.config.peer_request_timeout;
        let answered = tokio::time::timeout(timeout, answer).await;
        if let Some(waiting) = waiting {
            waiting.end().await;
        }
        let result = match answered {
            Ok(Ok(answer)) => answer?,
            Ok(Err(_)) => return Err(closed()),
            Err(_) => {
                self.session.forget_pending(&id);
                let cancel = serde_json::json!({
                    "requestId": id,
                    "reason": "timed out waiting for the client",
                });
                let _ = self
                    .send(Message::notification(
                        "notifications/cancelled",
                        Some(cancel),
                    ))
                    .await;
                return Err(Error::new(
                    ErrorCode::REQUEST_TIMEOUT,
                    format!("the client did not answer {} within {timeout:?}", P::METHOD),
                ));
            }
        };
        serde_json::from_value(result).map_err(|e| {
            Error::internal(format_args!(
                "the client answered {} with a result of the wrong shape: {e}",
                P::METHOD
            ))
        })
    }

    /// Sends a typed notification to the client.
    pub async fn notify<P: NotificationParams>(&self, params: P) -> Result<(), Error> {
        let params = serde_json::to_value(params).map_err(Error::internal)?;
        self.send(Message::notification(P::METHOD, Some(params)))
            .await
    }

    /// Sends a raw message on this peer's route, falling back to the
    /// session's standalone stream when the request's own stream has ended.
    pub(crate) async fn send(&self, mut msg: Message) -> Result<(), Error> {
        if let Some(task) = &self.task {
            match &mut msg {
                Message::Request(r) => task.stamp(&mut r.params),
                Message::Notification(n) => task.stamp(&mut n.params),
                _ => {}
            }
            // The client's latest `tasks/result` stream comes first.
            if let Some(route) = task.route() {
                match route.send(msg).await {
                    Ok(()) => return Ok(()),
                    Err(back) => msg = back,
                }
            }
        }
        match self.route.send(msg).await {
            Ok(()) => Ok(()),
            Err(msg) => self
                .session
                .standalone
                .send(msg)
                .await
                .map_err(|_| closed()),
        }
    }

    /// Asks the transport to close the connection of this peer's route,
    /// leaving its stream resumable (over HTTP; elsewhere nothing happens).
    pub(crate) async fn close_stream(&self) {
        self.route.close_stream().await
    }

    /// `ping`: checks that the client is there.
    pub async fn ping(&self) -> Result<(), Error> {
        self.request(PingParams::default())
            .await
            .map(|_: EmptyResult| ())
    }

    /// `sampling/createMessage`: asks the client's LLM for a completion.
    /// Fails with -32601 when the client did not offer sampling.
    pub async fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> Result<CreateMessageResult, Error> {
        self.require(|c| c.capabilities.sampling.is_some(), "sampling")?;
        self.request(params).await
    }

    /// `roots/list`: the directories or files the client exposes.
    pub async fn list_roots(&self) -> Result<ListRootsResult, Error> {
        self.require(|c| c.capabilities.roots.is_some(), "roots")?;
        self.request(ListRootsParams::default()).await
    }

    /// `elicitation/create`: asks the user for input through the client.
    pub async fn elicit(&self, params: ElicitRequestParams) -> Result<ElicitResult, Error> {
        self.require(|c| c.capabilities.elicitation.is_some(), "elicitation")?;
        self.request(params).await
    }

    /// `notifications/tools/list_changed`.
    pub async fn notify_tool_list_changed(&self) -> Result<(), Error> {
        self.notify(ToolListChangedNotificationParams::default())
            .await
    }

    /// `notifications/resources/list_changed`.
    pub async fn notify_resource_list_changed(&self) -> Result<(), Error> {
        self.notify(ResourceListChangedNotificationParams::default())
            .await
    }

    /// `notifications/prompts/list_changed`.
    pub async fn notify_prompt_list_changed(&self) -> Result<(), Error> {
        self.notify(PromptListChangedNotificationParams::default())
            .await
    }

    /// `notifications/resources/updated` for a subscribed URI.
    pub async fn notify_resource_updated(&self, uri: impl Into<String>) -> Result<(), Error> {
        self.notify(ResourceUpdatedNotificationParams {
            uri: uri.into(),
            ..Default::default()
        })
        .await
    }

    /// `notifications/message`: a log message, sent only if `level` is at or
    /// above the level the client set with `logging/setLevel`.
    pub async fn log(
        &self,
        level: LoggingLevel,
        logger: Option<&str>,
        data: Value,
    ) -> Result<(), Error> {
        if (level as u8) < self.session.min_log_level()
            || self.session.shared.capabilities().logging.is_none()
        {
            return Ok(());
        }
        self.notify(LoggingMessageNotificationParams {
            level,
            logger: logger.map(str::to_owned),
            data,
            ..Default::default()
        })
        .await
    }

    /// Asks the client for one input and waits for the answer. In a
    /// stateless request (2026-07-28) `key` names the input request in the
    /// `InputRequiredResult` (the client answers under the same key); in a
    /// session the request goes to the client at once and `key` is unused.
    pub async fn input(
        &self,
        key: impl Into<String>,
        request: InputRequest,
    ) -> Result<InputResponse, Error> {
        if let Some(round) = &self.session.input {
            let answer = round.ask(key.into(), request).await;
            return serde_json::from_value(answer).map_err(Error::invalid_params);
        }
        Ok(match request {
            InputRequest::CreateMessage(p) => {
                InputResponse::CreateMessage(Box::new(self.create_message(p).await?))
            }
            InputRequest::ListRoots(p) => {
                self.require(|c| c.capabilities.roots.is_some(), "roots")?;
                InputResponse::ListRoots(self.request(p).await?)
            }
            InputRequest::Elicit(p) => InputResponse::Elicit(self.elicit(p).await?),
        })
    }

    fn require(&self, has: impl Fn(&ClientInfo) -> bool, what: &str) -> Result<(), Error> {
        if self.session.input.is_some() {
            // Stateless: the input round checks, and answers -32021.
            return Ok(());
        }
        match self.client() {
            Some(c) if has(c) => Ok(()),
            _ => Err(Error::method_not_found(what).with_data(serde_json::json!({
                "reason": format!("the client did not declare the {what} capability"),
            }))),
        }
    }
}

/// A request to the client as an input request of 2026-07-28.
fn input_request(method: &str, params: Value) -> Result<InputRequest, Error> {
    serde_json::from_value(serde_json::json!({ "method": method, "params": params })).map_err(|_| {
        Error::method_not_found(method).with_data(serde_json::json!({
            "reason": format!("{method} cannot be sent to the client in protocol revision 2026-07-28"),
        }))
    })
}

fn closed() -> Error {
    Error::new(ErrorCode::CONNECTION_CLOSED, "the session is closed")
}

/// A task's wait for its client's answer: `input_required` from the
/// request until the answer (or its failure).
struct InputWait<'a> {
    session: &'a Arc<Session>,
    task: &'a Arc<TaskEntry>,
}

impl<'a> InputWait<'a> {
    fn new(session: &'a Arc<Session>, task: &'a Arc<TaskEntry>) -> Self {
        InputWait { session, task }
    }

    async fn begin(&self) {
        self.session
            .set_task_status(self.task, mcp_sdk::TaskStatus::InputRequired)
            .await;
    }

    async fn end(&self) {
        self.session
            .set_task_status(self.task, mcp_sdk::TaskStatus::Working)
            .await;
    }
}
