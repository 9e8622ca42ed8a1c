//! The JSON-RPC core: calls with their timeout, progress and cancellation
//! (also when dropped), and the loop that reads what the server sends.

use super::contain;
use super::lock;
use super::serve::{serve_request, ForHandler};
use crate::handler::ClientHandler;
use crate::headers::HeaderParam;
use crate::request::{Progress, RequestOptions, Responder};
use crate::stateless::Cache;
use crate::transport::{Incoming, Transport};
use crate::ClientError;
use mcp_sdk::jsonrpc::{ErrorResponse, Notification, Response};
use mcp_sdk::trace::{TraceContext, TRACEPARENT_META_KEY};
use mcp_sdk::{
    CancelledNotificationParams, ClientCapabilities, Implementation, InitializeParams, JsonObject,
    LoggingLevel, Message, NotificationParams, ProgressNotificationParams, ProgressToken,
    ProtocolVersion, RequestId, RequestParams, SubscriptionsAcknowledgedNotificationParams,
    CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY, SUBSCRIPTION_ID_META_KEY,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub(super) type Answer = oneshot::Sender<Result<Value, ClientError>>;

/// The state the client's tasks share.
pub(crate) struct Core {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) handler: Arc<dyn ClientHandler>,
    pub(crate) capabilities: ClientCapabilities,
    /// Calls waiting for their answer, by request id.
    pub(crate) pending: Mutex<HashMap<RequestId, Answer>>,
    /// Progress callbacks, by progress token.
    pub(crate) progress: Mutex<HashMap<ProgressToken, Progress>>,
    /// Server requests being answered, to cancel them.
    pub(crate) serving: Mutex<HashMap<RequestId, CancellationToken>>,
    /// The handlers of calls that have their own, by request id: they
    /// answer the server requests related to that call.
    pub(crate) responders: Mutex<HashMap<RequestId, Responder>>,
    pub(crate) next_id: AtomicI64,
    pub(crate) timeout: Duration,
    pub(crate) closed: Mutex<Option<ClientError>>,
    /// Who the client is, for `_meta` in the stateless era.
    pub(crate) info: Implementation,
    /// The stateless revision requests speak (also while probing).
    pub(crate) stateless: Mutex<Option<ProtocolVersion>>,
    /// The log level set with `set_logging_level`, sent in `_meta`.
    pub(crate) log_level: Mutex<Option<LoggingLevel>>,
    /// Open subscriptions, by the id of their `subscriptions/listen`.
    pub(crate) subscriptions: Mutex<HashMap<RequestId, crate::stateless::Feed>>,
    pub(crate) cache: Mutex<Cache>,
    pub(crate) caching: bool,
    /// The `x-mcp-header` annotations of each tool, from `tools/list`.
    pub(crate) tool_headers: Mutex<HashMap<String, Vec<HeaderParam>>>,
}

impl Core {
    /// The handler that answers the server, and the capabilities it
    /// answers for: a call's own, or else the client's.
    pub(super) fn answering<'a>(
        &'a self,
        responder: Option<&'a Responder>,
    ) -> (&'a dyn ClientHandler, &'a ClientCapabilities) {
        match responder {
            Some(r) => (&*r.handler, &*r.capabilities),
            None => (&*self.handler, &self.capabilities),
        }
    }

    pub(crate) fn closed_reason(&self) -> Option<ClientError> {
        lock(&self.closed).clone()
    }

    pub(super) fn next_request_id(&self) -> RequestId {
        RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Adds what a stateless request carries in `_meta`: the revision, the
    /// client's capabilities (or `capabilities`, a call's own) and
    /// identity, and the log level if one was set.
    pub(super) fn add_stateless_meta(
        &self,
        params: &mut Value,
        capabilities: Option<&ClientCapabilities>,
    ) {
        let Some(version) = *lock(&self.stateless) else {
            return;
        };
        let Some(meta) = request_meta(params) else {
            return;
        };
        meta.insert(PROTOCOL_VERSION_META_KEY.into(), version.as_str().into());
        if !meta.contains_key(CLIENT_CAPABILITIES_META_KEY) {
            let capabilities = capabilities.unwrap_or(&self.capabilities);
            let capabilities = serde_json::to_value(capabilities).unwrap_or_default();
            meta.insert(CLIENT_CAPABILITIES_META_KEY.into(), capabilities);
        }
        if !meta.contains_key(CLIENT_INFO_META_KEY) {
            let info = serde_json::to_value(&self.info).unwrap_or_default();
            meta.insert(CLIENT_INFO_META_KEY.into(), info);
        }
        if let Some(level) = *lock(&self.log_level) {
            if !meta.contains_key(LOG_LEVEL_META_KEY) {
                let level = serde_json::to_value(level).unwrap_or_default();
                meta.insert(LOG_LEVEL_META_KEY.into(), level);
            }
        }
    }

    /// Ends a subscription the client no longer wants: forgets it and
    /// cancels its `subscriptions/listen` request, unless it already ended.
    pub(crate) fn end_subscription(self: &Arc<Self>, id: &RequestId) {
        lock(&self.subscriptions).remove(id);
        let waiting = lock(&self.pending).remove(id).is_some();
        if !waiting || self.closed_reason().is_some() || self.transport.cancel(id) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let core = self.clone();
            let notice = cancelled(id, "the client closed the subscription");
            runtime.spawn(notify_cancelled(core, notice));
        }
    }

    /// Ends a subscription whose user fell too far behind (see
    /// [`MAX_WAITING_KINDS`](crate::stateless::MAX_WAITING_KINDS)): it
    /// ends with an error saying so, and its request is cancelled.
    fn fell_behind(self: &Arc<Self>, id: &RequestId) {
        tracing::warn!(%id, "a subscription is not being read; it ends");
        lock(&self.subscriptions).remove(id);
        let Some(answer) = lock(&self.pending).remove(id) else {
            return;
        };
        let _ = answer.send(Err(ClientError::Protocol(format!(
            "the subscription {id} fell behind: more than {} kinds of notification waited \
             unread, so some would have been lost; read again what it watched, and listen anew",
            crate::stateless::MAX_WAITING_KINDS
        ))));
        if self.closed_reason().is_some() || self.transport.cancel(id) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let core = self.clone();
            let notice = cancelled(id, "the subscription fell behind");
            runtime.spawn(notify_cancelled(core, notice));
        }
    }

    /// Marks the connection ended and fails every waiting call.
    pub(super) fn shut(&self, reason: ClientError) {
        lock(&self.closed).get_or_insert(reason.clone());
        for (_, answer) in lock(&self.pending).drain() {
            let _ = answer.send(Err(reason.clone()));
        }
        for (_, token) in lock(&self.serving).drain() {
            token.cancel();
        }
        lock(&self.progress).clear();
        lock(&self.responders).clear();
        lock(&self.subscriptions).clear();
    }

    pub(super) async fn notify<P: NotificationParams>(&self, params: P) -> Result<(), ClientError> {
        if let Some(reason) = self.closed_reason() {
            return Err(reason);
        }
        let params =
            serde_json::to_value(params).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.transport
            .send(Message::notification(P::METHOD, Some(params)))
            .await
    }

    /// Sends a request and waits for its answer, its timeout, or its
    /// cancellation. Dropping the future cancels the request too.
    /// `headers` go with the request over HTTP (the `Mcp-Param` headers).
    pub(super) async fn call(
        self: &Arc<Self>,
        method: &str,
        params: impl serde::Serialize,
        options: RequestOptions,
        headers: Vec<(String, String)>,
    ) -> Result<Value, ClientError> {
        if let Some(reason) = self.closed_reason() {
            return Err(reason);
        }
        let mut params = serde_json::to_value(params)
            .map_err(|e| ClientError::Protocol(format!("params of {method}: {e}")))?;
        let responder = Responder::of(&options, &self.handler);
        self.add_stateless_meta(&mut params, responder.as_ref().map(|r| &*r.capabilities));
        add_trace_context(&mut params);
        let id = self.next_request_id();
        let (tx, mut rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        if let Some(responder) = responder {
            lock(&self.responders).insert(id.clone(), responder);
        }
        let mut guard = InFlight {
            core: self.clone(),
            id: id.clone(),
            method: method.to_owned(),
            token: None,
            armed: method != InitializeParams::METHOD,
        };
        let progressed = match options.on_progress {
            Some(callback) => {
                let token = ProgressToken::Number(match &id {
                    RequestId::Number(n) => *n,
                    RequestId::String(_) => unreachable!("the client numbers its requests"),
                });
                set_progress_token(&mut params, token.clone());
                let progress = Progress::new(callback);
                let progressed = progress.signal.clone();
                lock(&self.progress).insert(token.clone(), progress);
                guard.token = Some(token);
                Some(progressed)
            }
            None => None,
        };
        let params = match params {
            Value::Null => None,
            other => Some(other),
        };
        // Sending may take as long as the answer (an HTTP POST answered
        // with JSON), so it runs under the same timeout and cancellation.
        let send = self
            .transport
            .send_with_headers(Message::request(id, method, params), headers);
        tokio::pin!(send);
        let mut sent = false;
        let timeout = options.timeout.unwrap_or(self.timeout);
        let cancel = options.cancellation.unwrap_or_default();
        let mut deadline = tokio::time::Instant::now() + timeout;
        let mut user_activity = self.transport.user_activity();
        let answer = loop {
            tokio::select! {
                result = &mut send, if !sent => {
                    sent = true;
                    if let Err(e) = result {
                        guard.armed = false;
                        return Err(e);
                    }
                }
                answer = &mut rx => break answer,
                _ = tokio::time::sleep_until(deadline) => {
                    // A person signing in (now, or since the last look) is
                    // not a server that does not answer.
                    let now = self.transport.user_activity();
                    if now % 2 == 1 || now != user_activity {
                        user_activity = now;
                        deadline = tokio::time::Instant::now() + timeout;
                        continue;
                    }
                    guard.cancel("timed out").await;
                    return Err(ClientError::Timeout { method: method.to_owned(), after: timeout });
                }
                _ = cancel.cancelled() => {
                    guard.cancel("cancelled by the caller").await;
                    return Err(ClientError::Cancelled { method: method.to_owned() });
                }
                _ = wait_progress(&progressed) => {
                    if options.reset_timeout_on_progress {
                        deadline = tokio::time::Instant::now() + timeout;
                    }
                }
            }
        };
        guard.armed = false;
        match answer {
            Ok(answer) => answer,
            Err(_) => Err(self
                .closed_reason()
                .unwrap_or_else(|| ClientError::Closed("the connection ended".into()))),
        }
    }

    /// Delivers an answer to the call waiting for it (which, for a
    /// subscription, ends it).
    pub(super) fn resolve(&self, id: RequestId, answer: Result<Value, ClientError>) {
        lock(&self.subscriptions).remove(&id);
        match lock(&self.pending).remove(&id) {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None => {
                tracing::warn!(%id, "the server answered a request that is not waiting (unknown, timed out or cancelled); ignored")
            }
        }
    }
}

async fn wait_progress(signal: &Option<Arc<tokio::sync::Notify>>) {
    match signal {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// Writes the trace context into the request's `_meta` (SEP-414): the
/// running task's ([`TraceContext::current`], set by the server SDK for a
/// handler, so a gateway's requests continue its client's trace), or else a
/// new trace. A `traceparent` the caller put there stays.
fn add_trace_context(params: &mut Value) {
    let Some(meta) = request_meta(params) else {
        return;
    };
    if !meta.contains_key(TRACEPARENT_META_KEY) {
        TraceContext::current()
            .unwrap_or_else(TraceContext::new_root)
            .write_meta(meta);
    }
}

fn set_progress_token(params: &mut Value, token: ProgressToken) {
    if let Some(meta) = request_meta(params) {
        meta.insert(mcp_sdk::PROGRESS_TOKEN_META_KEY.into(), token.into());
    }
}

/// The `_meta` object of a request's params, made when missing (absent
/// params become `{}`, and a `_meta` that is not an object is replaced);
/// `None` when the params are not an object, which carry no `_meta`.
fn request_meta(params: &mut Value) -> Option<&mut JsonObject> {
    if params.is_null() {
        *params = Value::Object(JsonObject::new());
    }
    let Value::Object(map) = params else {
        return None;
    };
    let meta = map
        .entry("_meta")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    if !meta.is_object() {
        *meta = Value::Object(JsonObject::new());
    }
    meta.as_object_mut()
}

/// A request on its way: forgets it when dropped, and unless it was
/// answered, tells the server it is cancelled.
struct InFlight {
    core: Arc<Core>,
    id: RequestId,
    method: String,
    token: Option<ProgressToken>,
    armed: bool,
}

impl InFlight {
    pub(super) async fn cancel(&mut self, reason: &str) {
        self.armed = false;
        lock(&self.core.pending).remove(&self.id);
        if self.core.transport.cancel(&self.id) {
            return; // closing the response stream said it
        }
        notify_cancelled(self.core.clone(), cancelled(&self.id, reason)).await;
    }
}

/// How long telling the server of a cancellation may take: a hung server
/// must not hold the timed-out or cancelled call (or a task) forever.
const CANCEL_NOTICE_TIMEOUT: Duration = Duration::from_secs(5);

async fn notify_cancelled(core: Arc<Core>, notice: CancelledNotificationParams) {
    if tokio::time::timeout(CANCEL_NOTICE_TIMEOUT, core.notify(notice))
        .await
        .is_err()
    {
        tracing::debug!("the server did not take a cancellation within {CANCEL_NOTICE_TIMEOUT:?}");
    }
}

fn cancelled(id: &RequestId, reason: &str) -> CancelledNotificationParams {
    CancelledNotificationParams::new(id.clone()).with_reason(reason)
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.core.pending).remove(&self.id);
        lock(&self.core.responders).remove(&self.id);
        if let Some(token) = &self.token {
            lock(&self.core.progress).remove(token);
        }
        if !self.armed
            || self.core.closed_reason().is_some()
            || self.core.transport.cancel(&self.id)
        {
            return;
        }
        // The caller dropped the call before its answer came.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let core = self.core.clone();
            let notice = cancelled(&self.id, "the caller stopped waiting");
            tracing::debug!(id = %self.id, method = %self.method, "call dropped; cancelling it");
            runtime.spawn(notify_cancelled(core, notice));
        }
    }
}

/// Reads what the transport delivers until it ends: answers go to their
/// calls, requests to the handler, notifications (in order) to the notifier.
pub(super) async fn read_loop(core: Arc<Core>, notifications: mpsc::Sender<ForHandler>) {
    let reason = loop {
        let Some(incoming) = core.transport.receive().await else {
            break ClientError::Closed("the transport ended".into());
        };
        let (message, related) = match incoming {
            Incoming::Message(message) => (message, None),
            Incoming::Related { request, message } => (message, Some(request)),
            Incoming::Failed { id, error } => {
                core.resolve(id, Err(error));
                continue;
            }
            Incoming::Closed(reason) => break reason,
        };
        match message {
            Message::Response(Response { id, result }) => core.resolve(id, Ok(result)),
            Message::Error(ErrorResponse {
                id: Some(id),
                error,
            }) => core.resolve(id, Err(ClientError::Server(error))),
            Message::Error(ErrorResponse { id: None, error }) => {
                tracing::warn!("the server sent an error without an id: {error}");
            }
            Message::Request(request) => {
                // The handler of the call it came with, if that call has
                // its own and is still waiting.
                let responder = related.and_then(|id| lock(&core.responders).get(&id).cloned());
                let core = core.clone();
                tokio::spawn(serve_request(core, request, responder));
            }
            Message::Notification(n) => {
                if let Some(n) = core.intercept(n) {
                    // A log message on the stream of a call with its own
                    // handler is that call's (a gateway relays it to the
                    // upstream request that made the call).
                    let handler = match related {
                        Some(id)
                            if n.method == mcp_sdk::LoggingMessageNotificationParams::METHOD =>
                        {
                            lock(&core.responders).get(&id).map(|r| r.handler.clone())
                        }
                        _ => None,
                    };
                    if notifications.send((n, handler)).await.is_err() {
                        break ClientError::Closed("the client was dropped".into());
                    }
                }
            }
        }
    };
    tracing::debug!("connection ended: {reason}");
    core.shut(reason);
}

impl Core {
    /// Handles the notifications the client itself acts on (progress for
    /// its calls, cancellation of the server's requests); gives back the
    /// rest for the handler.
    pub(super) fn intercept(self: &Arc<Self>, n: Notification) -> Option<Notification> {
        if self.caching {
            lock(&self.cache).invalidate(&n);
        }
        if let Some(id) = subscription_of(&n) {
            let subscription = lock(&self.subscriptions).get(&id).cloned();
            if let Some(feed) = subscription {
                if let Err(mpsc::error::TrySendError::Full(n)) = feed.tx.try_send(n.clone()) {
                    // Its user is slow: the notification waits apart, once
                    // per kind and URI; past the bound, it ends.
                    if !lock(&feed.overflow).push(n) {
                        self.fell_behind(&id);
                    }
                }
            }
        }
        match n.method.as_str() {
            SubscriptionsAcknowledgedNotificationParams::METHOD => None,
            ProgressNotificationParams::METHOD => {
                let params: ProgressNotificationParams =
                    match serde_json::from_value(n.params.clone().unwrap_or_default()) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!("ignored a malformed progress notification: {e}");
                            return None;
                        }
                    };
                let progress = lock(&self.progress).get(&params.progress_token).cloned();
                match progress {
                    Some(progress) => {
                        contain::sync_callback("on_progress", || progress.report(params));
                        None
                    }
                    None => Some(n),
                }
            }
            CancelledNotificationParams::METHOD => {
                if let Some(Ok(p)) = n
                    .params
                    .map(serde_json::from_value::<CancelledNotificationParams>)
                {
                    if let Some(token) = lock(&self.serving).remove(&p.request_id) {
                        token.cancel();
                    }
                }
                None
            }
            _ => Some(n),
        }
    }
}

/// The subscription a notification belongs to, from its `_meta`.
fn subscription_of(n: &Notification) -> Option<RequestId> {
    let id = n
        .params
        .as_ref()?
        .get("_meta")?
        .get(SUBSCRIPTION_ID_META_KEY)?;
    serde_json::from_value(id.clone()).ok()
}
