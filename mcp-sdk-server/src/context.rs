//! [`RequestContext`]: what a handler gets besides its params.

use crate::peer::Peer;
use crate::session::ClientInfo;
use crate::stateless::Notifier;
use mcp_sdk::{
    CreateMessageParams, CreateMessageResult, ElicitRequestParams, ElicitResult, Error,
    InputRequest, InputResponse, ListRootsResult, LoggingLevel, ProgressNotificationParams,
    ProgressToken, ProtocolVersion, RequestId,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The context of one request: its id, its cancellation, its progress token,
/// and the [`Peer`] for calls back to the client.
///
/// Cloning is cheap; clones share the cancellation.
#[derive(Clone, Debug)]
pub struct RequestContext {
    id: RequestId,
    progress_token: Option<ProgressToken>,
    cancel: CancellationToken,
    peer: Peer,
}

impl RequestContext {
    pub(crate) fn new(
        id: RequestId,
        progress_token: Option<ProgressToken>,
        cancel: CancellationToken,
        peer: Peer,
    ) -> Self {
        RequestContext {
            id,
            progress_token,
            cancel,
            peer,
        }
    }

    /// Answers the client now with a task and goes on in the background
    /// (the tasks extension of 2026-07-28): for a stateless `tools/call` of
    /// a tool with task support from a client that declared the extension;
    /// without a call, that happens anyway once the call has run for
    /// [`TaskConfig::grace`](crate::TaskConfig::grace). Input asked for
    /// before becomes a multi round-trip request, input asked for after is
    /// listed in the task and answered with `tasks/update`. Anywhere else
    /// this does nothing.
    pub fn continue_as_task(&self) {
        if let Some(round) = self.peer.input_round() {
            round.want_task();
        }
    }

    /// The id of the request being handled.
    pub fn request_id(&self) -> &RequestId {
        &self.id
    }

    /// The client's handle: requests and notifications sent through it travel
    /// with this request's response.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// What the client said about itself in `initialize`.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.peer.client()
    }

    /// Whether the client cancelled this request (or the session ended).
    /// A cancelled handler is dropped at its next `.await`; long synchronous
    /// work can check this between steps.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the request is cancelled.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The token that fires on cancellation, to hand to other tasks.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The progress token the client sent, if it asked for progress.
    pub fn progress_token(&self) -> Option<&ProgressToken> {
        self.progress_token.as_ref()
    }

    /// Reports progress, if the client asked for it (sends nothing otherwise).
    /// `progress` must grow from one call to the next.
    pub async fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
    ) -> Result<(), Error> {
        let Some(token) = &self.progress_token else {
            return Ok(());
        };
        let mut p = ProgressNotificationParams::new(token.clone(), progress);
        p.total = total;
        p.message = message.map(str::to_owned);
        self.peer.notify(p).await
    }

    /// Sends an MCP log message (`notifications/message`) if the client's
    /// logging level lets it through.
    pub async fn log(&self, level: LoggingLevel, data: impl Into<Value>) -> Result<(), Error> {
        self.peer.log(level, None, data.into()).await
    }

    /// Over Streamable HTTP, closes this request's SSE connection now; the
    /// client reconnects with `Last-Event-ID` and receives the rest,
    /// including the result (SEP-1699 polling). Lets a long-running handler
    /// free the connection. Does nothing on other transports.
    pub async fn close_sse_stream(&self) {
        self.peer.send_control(crate::sink::CLOSE_SSE_STREAM).await
    }

    /// Asks the client's LLM for a message (`sampling/createMessage`).
    pub async fn sample(&self, params: CreateMessageParams) -> Result<CreateMessageResult, Error> {
        self.peer.create_message(params).await
    }

    /// Asks the client for its roots (`roots/list`).
    pub async fn list_roots(&self) -> Result<ListRootsResult, Error> {
        self.peer.list_roots().await
    }

    /// Asks the user for input through the client (`elicitation/create`).
    pub async fn elicit(&self, params: ElicitRequestParams) -> Result<ElicitResult, Error> {
        self.peer.elicit(params).await
    }

    /// Asks the client for one input under a key of your choosing (see
    /// [`Peer::input`]). [`sample`](Self::sample), [`elicit`](Self::elicit)
    /// and [`list_roots`](Self::list_roots) do the same with keys numbered in
    /// the order the handler asks (`sampling-1`, `elicitation-1`, ...).
    ///
    /// In a stateless request (2026-07-28) the first run of the handler
    /// stops at the first input the client has not given yet: the client
    /// gets an `InputRequiredResult`, answers, and sends the request again;
    /// the handler then runs from the start and finds the answers. So a
    /// handler that asks for input should do nothing irreversible before it
    /// has all its answers, and ask in the same order each run. Inputs the
    /// client did not declare the capability for end the request with
    /// -32021, whatever the handler does with the error.
    pub async fn input(
        &self,
        key: impl Into<String>,
        request: InputRequest,
    ) -> Result<InputResponse, Error> {
        self.peer.input(key, request).await
    }

    /// The revision this request speaks: the session's, or the one its
    /// `_meta` names in the stateless era.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.client().map(|c| c.protocol_version)
    }

    /// Announces changes to the `subscriptions/listen` streams of stateless
    /// clients. (Session-era clients hear of changes through their
    /// [`Peer`].)
    pub fn notifier(&self) -> &Notifier {
        self.peer.notifier()
    }
}
