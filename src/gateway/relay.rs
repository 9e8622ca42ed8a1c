//! The downstream clients' handler: what a downstream server asks of its
//! client (sampling, roots, elicitation) goes to the upstream client whose
//! request caused it, through that request's [`RequestContext`]; what it
//! announces (list changes) is announced upstream.
//!
//! The upstream context works in both upstream eras: a session client gets
//! a server-to-client request on the call's stream; in a stateless request
//! the ask becomes an input request of the gateway's own
//! `InputRequiredResult`, and the retry runs the gateway's handler (and so
//! the downstream call) again with the answer at hand.
//!
//! Finding "the request that caused it": each downstream call carries a
//! handler of its own ([`Upstream`], through `RequestOptions::handler`),
//! which answers the input requests of a stateless downstream call and the
//! session-era requests that arrive on the call's HTTP response stream, and
//! declares exactly the upstream client's capabilities. What nothing ties
//! to a call (session-era requests over stdio, the legacy HTTP+SSE
//! transport or the standalone GET stream) reaches the client-wide
//! [`Relay`], which passes it to the one upstream request with a call in
//! flight to that server, and refuses when there are several.

use super::downstream::Downstream;
use super::Announcer;
use mcp_sdk::{
    ClientCapabilities, CreateMessageParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationCapability, Error, ListRootsResult, LoggingMessageNotificationParams,
    ResourceUpdatedNotificationParams, RootsCapability, SamplingCapability,
};
use mcp_sdk_client::{async_trait, ClientHandler, RequestContext as DownstreamCx};
use mcp_sdk_server::RequestContext;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The upstream requests with a call in flight to one downstream server.
#[derive(Default)]
pub(crate) struct Callers {
    next: AtomicU64,
    live: Mutex<Vec<(u64, RequestContext)>>,
}

/// Removes its caller from [`Callers`] when the call ends (or is dropped).
struct CallerGuard<'a> {
    callers: &'a Callers,
    id: u64,
}

impl Drop for CallerGuard<'_> {
    fn drop(&mut self) {
        self.callers.live().retain(|(id, _)| *id != self.id);
    }
}

impl Callers {
    fn live(&self) -> std::sync::MutexGuard<'_, Vec<(u64, RequestContext)>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `call` (a call to the downstream server) on behalf of the
    /// upstream request `ctx`, so that requests of the server that nothing
    /// ties to a call can still find their way while it is the only one.
    pub(crate) async fn on_behalf_of<F: Future>(&self, ctx: &RequestContext, call: F) -> F::Output {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.live().push((id, ctx.clone()));
        let _guard = CallerGuard { callers: self, id };
        call.await
    }

    /// How many upstream requests have a call in flight (a call ends, and
    /// leaves this count, when it is answered, times out, or is dropped
    /// because its upstream request was cancelled or its client vanished).
    pub(crate) fn in_flight(&self) -> usize {
        self.live().len()
    }

    /// The upstream request with a call in flight, when it is the only one.
    fn sole(&self) -> Option<RequestContext> {
        match self.live().as_slice() {
            [(_, only)] => Some(only.clone()),
            _ => None,
        }
    }

    /// The caller a request from the downstream server that came without a
    /// call belongs to: the only one in flight.
    fn caller(&self, server: &str, what: &str) -> Result<Upstream, Error> {
        if let Some(only) = self.sole() {
            return Ok(Upstream::new(only, server));
        }
        let live = self.live();
        match live.as_slice() {
            [] => Err(Error::invalid_request(format_args!(
                "the gateway relays {what} from {server:?} only during a call the upstream client made, and none is in flight"
            ))),
            _ => Err(Error::internal(format_args!(
                "{server:?} asked for {what} while {} upstream calls were in flight to it; the gateway cannot tell whose client should answer",
                live.len()
            ))),
        }
    }
}

/// The per-call handler: answers a downstream call's requests through the
/// upstream request it is made for, declaring what that request's client
/// declared, and passes on the log messages that come with the call.
pub(crate) struct Upstream {
    ctx: RequestContext,
    /// The downstream server, which names the logger.
    server: String,
}

impl Upstream {
    /// The handler of a call to `server` made for the upstream request
    /// `ctx`.
    pub(crate) fn new(ctx: RequestContext, server: &str) -> Self {
        Upstream {
            ctx,
            server: server.to_owned(),
        }
    }
}

/// A downstream log message, sent up through `ctx` (so that the upstream
/// client's level applies) with the server's name before the logger.
async fn log_upstream(
    ctx: &RequestContext,
    server: &str,
    params: LoggingMessageNotificationParams,
) {
    let logger = match &params.logger {
        Some(logger) => format!("{server}/{logger}"),
        None => server.to_owned(),
    };
    let _ = ctx
        .peer()
        .log(params.level, Some(&logger), params.data)
        .await;
}

#[async_trait]
impl ClientHandler for Upstream {
    fn capabilities(&self) -> ClientCapabilities {
        let mut capabilities = self
            .ctx
            .client()
            .map(|c| c.capabilities.clone())
            .unwrap_or_default();
        // The upstream client's tasks extension is for the gateway's own
        // tasks: downstream, a plain call stays plain (the gateway declares
        // the extension itself where it wants a task there).
        if let Some(serde_json::Value::Object(extensions)) =
            capabilities.extra.get_mut("extensions")
        {
            extensions.remove(mcp_sdk_client::TASKS_EXTENSION);
        }
        capabilities
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
        _cx: DownstreamCx,
    ) -> Result<CreateMessageResult, Error> {
        self.ctx.sample(params).await
    }

    async fn list_roots(&self, _cx: DownstreamCx) -> Result<ListRootsResult, Error> {
        self.ctx.list_roots().await
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _cx: DownstreamCx,
    ) -> Result<ElicitResult, Error> {
        self.ctx.elicit(params).await
    }

    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        log_upstream(&self.ctx, &self.server, params).await;
    }
}

/// The handler of one downstream server's client: hears its notifications,
/// and relays the requests no call carries a handler for.
pub(crate) struct Relay {
    server: String,
    callers: Arc<Callers>,
    announcer: Arc<Announcer>,
    /// The server, to stop watching a resource nobody is subscribed to
    /// any more (weakly: the server owns the client that owns this).
    downstream: Weak<Downstream>,
}

impl Relay {
    pub(crate) fn new(downstream: &Arc<Downstream>) -> Self {
        Relay {
            server: downstream.name().to_owned(),
            callers: downstream.callers.clone(),
            announcer: downstream.announcer.clone(),
            downstream: Arc::downgrade(downstream),
        }
    }
}

#[async_trait]
impl ClientHandler for Relay {
    /// Everything a client can offer, as `initialize` of a session-era
    /// server must declare what any per-call [`Upstream`] may answer; each
    /// call declares (and answers for) only its upstream client's.
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
            .with_roots(RootsCapability::default().with_list_changed(true))
            .with_sampling(SamplingCapability::default().with_tools())
            .with_elicitation(ElicitationCapability::default().with_form().with_url())
            // MCP Apps pass through unchanged (the tools' `_meta.ui`, the
            // `ui://` resources); the gateway takes `_meta.ui` off again
            // for upstream clients without the extension.
            .with_extra("extensions", mcp_sdk_server::apps::client_capability())
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
        cx: DownstreamCx,
    ) -> Result<CreateMessageResult, Error> {
        let caller = self.callers.caller(&self.server, "sampling")?;
        caller.create_message(params, cx).await
    }

    async fn list_roots(&self, cx: DownstreamCx) -> Result<ListRootsResult, Error> {
        let caller = self.callers.caller(&self.server, "roots")?;
        caller.list_roots(cx).await
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        cx: DownstreamCx,
    ) -> Result<ElicitResult, Error> {
        let caller = self.callers.caller(&self.server, "elicitation")?;
        caller.elicit(params, cx).await
    }

    async fn on_tool_list_changed(&self) {
        self.announcer.tools_changed();
    }

    async fn on_prompt_list_changed(&self) {
        self.announcer.prompts_changed();
    }

    async fn on_resource_list_changed(&self) {
        self.announcer.resources_changed();
    }

    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        if self.announcer.resource_updated(&params.uri) {
            if let Some(downstream) = self.downstream.upgrade() {
                downstream.unwatch(&params.uri).await;
            }
        }
    }

    /// A log message that came with a call reaches that call's
    /// [`Upstream`] (its SSE response stream says whose it is). One that
    /// came without (over stdio, the legacy transport or the standalone
    /// stream) goes to the upstream request with a call in flight to this
    /// server when there is only one, with the same server-named logger;
    /// otherwise (and for what comes between calls) to the gateway's own
    /// log, never to a client it may not belong to.
    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        match self.callers.sole() {
            Some(caller) => log_upstream(&caller, &self.server, params).await,
            None => tracing::info!(
                server = %self.server,
                level = ?params.level,
                logger = params.logger.as_deref().unwrap_or_default(),
                "{}",
                params.data
            ),
        }
    }
}
