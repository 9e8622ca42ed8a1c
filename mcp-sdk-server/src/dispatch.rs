//! Dispatch: from a decoded request to the [`Server`]'s handler and back.
//! The capability gate (a method whose capability is not advertised is
//! -32601 before any handler runs), the match of methods to handlers, the
//! panic guard, and what every era shares of one server ([`ServerShared`]).

use crate::config::SessionConfig;
use crate::context::RequestContext;
use crate::notifier::Notifier;
use crate::offer::Offer;
use crate::reply::{tool_result_value, Reply, ToolForm};
use crate::request::{InboundRequest, Params};
use crate::server::Server;
use crate::stateless::tasks::ExtensionTasks;
use crate::util::{parse, to_value};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use mcp_sdk::{
    CallToolResult, CompleteResult, Error, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, ReadResourceResult,
    RequestId, ServerCapabilities, PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY,
};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What every session of one server shares: the server and what it offers,
/// computed once (the capabilities again when the server's [`Notifier`]
/// says they changed).
pub(crate) struct ServerShared {
    pub server: Arc<dyn Server>,
    /// What the server offers now.
    pub offer: Arc<Offer>,
    pub info: Implementation,
    /// `info` as JSON, for the `serverInfo` of every stateless result.
    pub info_value: Value,
    /// `{"io.modelcontextprotocol/serverInfo": info}` as JSON text: the
    /// `_meta` of most stateless results, written as it is rather than
    /// serialized again on each.
    pub info_meta: Box<RawValue>,
    pub instructions: Option<String>,
    pub config: SessionConfig,
    /// Feeds the `subscriptions/listen` streams of stateless clients.
    pub notifier: Notifier,
    /// The tasks of stateless requests (2026-07-28 tasks extension).
    pub extension_tasks: ExtensionTasks,
}

impl ServerShared {
    pub fn new(server: Arc<dyn Server>, config: SessionConfig) -> Arc<Self> {
        let notifier = server.notifier().unwrap_or_default();
        let reader = server.clone();
        let offer = Offer::new(move || reader.capabilities(), notifier.clone());
        let info_value = serde_json::to_value(server.info()).unwrap_or_default();
        Arc::new(ServerShared {
            offer: Arc::new(offer),
            info: server.info(),
            info_meta: Self::info_meta(&info_value),
            info_value,
            instructions: server.instructions(),
            notifier,
            extension_tasks: ExtensionTasks::new(config.tasks.store.clone()),
            server,
            config,
        })
    }

    /// The `_meta` of a stateless result that has none of its own: the
    /// server's identity `info`, as JSON text.
    pub fn info_meta(info: &Value) -> Box<RawValue> {
        let meta = serde_json::json!({ SERVER_INFO_META_KEY: info });
        // A tree of JSON, whose keys are strings: it serializes.
        serde_json::value::to_raw_value(&meta).expect("a JSON tree serializes")
    }

    /// What the server offers now: read again from [`Server::capabilities`]
    /// after [`Notifier::capabilities_changed`], else as last read.
    pub fn capabilities(&self) -> Arc<ServerCapabilities> {
        self.offer.capabilities()
    }
}

/// Runs a request's work until it answers or `token` cancels it (then
/// `None`: a cancelled request gets no response, not even one its handler
/// gave as it saw the cancellation). A panicking handler must not leave
/// its client waiting: it becomes -32603.
pub(crate) async fn run_guarded<T>(
    work: impl Future<Output = Result<T, Error>>,
    token: &CancellationToken,
    id: &RequestId,
) -> Option<Result<T, Error>> {
    if token.is_cancelled() {
        return None;
    }
    let mut work = std::pin::pin!(AssertUnwindSafe(work).catch_unwind());
    // The work is polled first, and the token only once the work waits:
    // most requests answer at once, and a cancellation's wait registered
    // and dropped for each (two locks) was a twentieth of a stdio call.
    let mut cancelled = std::pin::pin!(token.cancelled());
    let answer = std::future::poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Ready(answer) => Poll::Ready(Some(answer)),
        Poll::Pending => cancelled.as_mut().poll(cx).map(|()| None),
    })
    .await?;
    if token.is_cancelled() {
        return None;
    }
    Some(answer.unwrap_or_else(|_| {
        tracing::error!(%id, "a request handler panicked");
        Err(Error::internal("the handler failed unexpectedly"))
    }))
}

/// Routes one request to the server, refusing what is not advertised, as
/// a span of the request's trace; the result as a JSON tree.
pub(crate) async fn dispatch(
    shared: &ServerShared,
    method: String,
    params: Option<Value>,
    ctx: RequestContext,
) -> Result<Value, Error> {
    dispatch_reply(
        shared,
        method.into(),
        Params::Json(params),
        ctx,
        ToolForm::Tree,
    )
    .await?
    .into_value()
}

/// [`dispatch`], a tool's result in the form its destination writes out
/// best.
pub(crate) async fn dispatch_reply(
    shared: &ServerShared,
    method: Cow<'static, str>,
    params: Params,
    ctx: RequestContext,
    tool_form: ToolForm,
) -> Result<Reply, Error> {
    let tool = (method == "tools/call")
        .then(|| params.tool_name())
        .flatten();
    let (trace, span) = crate::trace::request_span(&method, params.meta(), tool, &ctx);
    let ctx = ctx.with_trace(trace.clone());
    // Boxed: the trace's scope holds what it runs twice over (as its
    // argument, then in the task-local future), and the request's future
    // is moved whole as it is built and held by the transport; a box keeps
    // all of them small.
    trace
        .scope(Box::pin(
            route(shared, method, params, ctx, tool_form).instrument(span),
        ))
        .await
}

/// Routes one request to the server's handler for its method.
async fn route(
    shared: &ServerShared,
    method: Cow<'static, str>,
    params: Params,
    ctx: RequestContext,
    tool_form: ToolForm,
) -> Result<Reply, Error> {
    // The params and the context go into the handler's (boxed) future at
    // once: all this future then holds is that box, where an `await` in
    // each arm would hold the params and the context twice over, and make
    // the request's futures that much larger to build and move.
    start(shared, &method, params, ctx, tool_form)?.await
}

/// The handler's future for `method`, or the error that answers at once.
fn start<'a>(
    shared: &'a ServerShared,
    method: &'a str,
    params: Params,
    ctx: RequestContext,
    tool_form: ToolForm,
) -> Result<Pending<'a>, Error> {
    let s = &*shared.server;
    let caps = shared.capabilities();
    let tools = caps.tools.is_some();
    let resources = caps.resources.is_some();
    let subscribe = caps
        .resources
        .as_ref()
        .is_some_and(|r| r.subscribe == Some(true));
    let prompts = caps.prompts.is_some();
    let completions = caps.completions.is_some();
    if let ("tools/call", true) = (method, tools) {
        return Ok(Pending::Tool {
            answer: s.call_tool(params.into_call()?, ctx),
            form: tool_form,
        });
    }
    let params = params.into_json();
    Ok(match method {
        "tools/list" if tools => Pending::ListTools(s.list_tools(parse(params)?, ctx)),
        "resources/list" if resources => {
            Pending::ListResources(s.list_resources(parse(params)?, ctx))
        }
        "resources/templates/list" if resources => {
            Pending::ListTemplates(s.list_resource_templates(parse(params)?, ctx))
        }
        "resources/read" if resources => Pending::Read(s.read_resource(parse(params)?, ctx)),
        "resources/subscribe" if subscribe => Pending::Empty(s.subscribe(parse(params)?, ctx)),
        "resources/unsubscribe" if subscribe => Pending::Empty(s.unsubscribe(parse(params)?, ctx)),
        "prompts/list" if prompts => Pending::ListPrompts(s.list_prompts(parse(params)?, ctx)),
        "prompts/get" if prompts => Pending::GetPrompt(s.get_prompt(parse(params)?, ctx)),
        "completion/complete" if completions => Pending::Complete(s.complete(parse(params)?, ctx)),
        m if is_mcp_method(m) => return Err(Error::method_not_found(m)),
        m => Pending::Json(s.custom_request(m, params, ctx)),
    })
}

/// A handler's answer to come, by the type of its result.
type Answer<'a, T> = BoxFuture<'a, Result<T, Error>>;

/// A handler at work: the future a [`Server`] method gave, which becomes
/// the JSON of the result when it is done.
enum Pending<'a> {
    /// A tool's result, to be given in `form`.
    Tool {
        answer: Answer<'a, CallToolResult>,
        form: ToolForm,
    },
    ListTools(Answer<'a, ListToolsResult>),
    ListResources(Answer<'a, ListResourcesResult>),
    ListTemplates(Answer<'a, ListResourceTemplatesResult>),
    Read(Answer<'a, ReadResourceResult>),
    /// `resources/subscribe` and `resources/unsubscribe`: `{}`.
    Empty(Answer<'a, ()>),
    ListPrompts(Answer<'a, ListPromptsResult>),
    GetPrompt(Answer<'a, GetPromptResult>),
    Complete(Answer<'a, CompleteResult>),
    /// A custom request: JSON already.
    Json(Answer<'a, Value>),
}

impl Future for Pending<'_> {
    type Output = Result<Reply, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        fn json<T: Serialize>(
            f: &mut Answer<'_, T>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<Reply, Error>> {
            f.as_mut().poll(cx).map(|r| to_value(r?).map(Reply::Value))
        }
        match self.get_mut() {
            Pending::Tool { answer, form } => answer.as_mut().poll(cx).map(|r| match form {
                ToolForm::Tree => tool_result_value(r?).map(Reply::Value),
                ToolForm::Text => Reply::tool_text(r?),
                ToolForm::Typed => r.map(Reply::Tool),
            }),
            Pending::ListTools(f) => json(f, cx),
            Pending::ListResources(f) => json(f, cx),
            Pending::ListTemplates(f) => json(f, cx),
            Pending::Read(f) => json(f, cx),
            Pending::Empty(f) => f
                .as_mut()
                .poll(cx)
                .map(|r| r.map(|()| Reply::Value(Value::Object(Map::new())))),
            Pending::ListPrompts(f) => json(f, cx),
            Pending::GetPrompt(f) => json(f, cx),
            Pending::Complete(f) => json(f, cx),
            Pending::Json(f) => f.as_mut().poll(cx).map(|r| r.map(Reply::Value)),
        }
    }
}

/// Methods MCP defines: these never reach [`Server::custom_request`].
fn is_mcp_method(m: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "tools/",
        "resources/",
        "prompts/",
        "completion/",
        "logging/",
        "sampling/",
        "roots/",
        "elicitation/",
        "tasks/",
    ];
    PREFIXES.iter().any(|p| m.starts_with(p)) || m == "initialize" || m == "ping"
}

/// The era a request speaks, decided once when it arrives: the transport
/// (or the session, for what a connection carries) reads it, and the request
/// then goes to the session era or the stateless era without asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// `initialize`, then requests in a session (up to 2025-11-25).
    Session,
    /// Each request on its own, its `_meta` saying who asks (2026-07-28).
    Stateless,
}

impl Era {
    /// The era of `req` by its body: stateless when its `_meta` names a
    /// protocol version, or its method exists only there.
    pub fn of(req: &InboundRequest) -> Era {
        let stateless = matches!(&*req.method, "server/discover" | "subscriptions/listen")
            || req
                .params
                .meta()
                .is_some_and(|m| m.contains_key(PROTOCOL_VERSION_META_KEY));
        if stateless {
            Era::Stateless
        } else {
            Era::Session
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A request cancelled gets no answer: neither when the cancellation
    /// comes while it waits, nor one its handler gives as it sees the
    /// cancellation, nor (already cancelled) one from a handler that would
    /// have run. A request not cancelled gets its answer, panics included.
    #[tokio::test]
    async fn run_guarded_answers_unless_cancelled() {
        let id = RequestId::Number(1);
        let token = CancellationToken::new();
        let at_once = run_guarded(async { Ok::<_, Error>(7) }, &token, &id).await;
        assert_eq!(at_once.unwrap().unwrap(), 7);
        let panicked = run_guarded(async { panic!("boom") }, &token, &id).await;
        let err: Result<(), Error> = panicked.unwrap();
        assert!(err.unwrap_err().message.contains("failed unexpectedly"));

        // Waiting, then cancelled: the guard ends it.
        let never = std::future::pending::<Result<(), Error>>();
        let cancel = token.clone();
        tokio::spawn(async move { cancel.cancel() });
        assert!(run_guarded(never, &token, &id).await.is_none());

        // A handler that answers as it sees the cancellation.
        let token = CancellationToken::new();
        let seen = token.clone();
        let answers_on_cancel = async move {
            seen.cancelled().await;
            Ok::<_, Error>("too late")
        };
        let cancel = token.clone();
        tokio::spawn(async move { cancel.cancel() });
        assert!(run_guarded(answers_on_cancel, &token, &id).await.is_none());

        // Already cancelled: the handler does not run at all.
        let ran = AtomicBool::new(false);
        let work = async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, Error>(())
        };
        assert!(run_guarded(work, &token, &id).await.is_none());
        assert!(!ran.load(Ordering::SeqCst));
    }

    /// A `tools/call` read typed from its text is, to everything that
    /// reads its params (the era, the trace, the progress token, the tool's
    /// name, the handler), the call read as JSON.
    #[test]
    fn typed_call_params_read_as_json_ones() {
        use mcp_sdk::jsonrpc::{decode, decode_as, Decoded};
        use mcp_sdk::CallToolParams;
        use mcp_sdk::Message;
        let metas = [
            json!(null),
            json!({}),
            json!({"progressToken": "p-1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
            json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "progressToken": 7}),
        ];
        for meta in metas {
            let mut params =
                json!({"name": "echo", "arguments": {"text": "hi"}, "x": [1], "s": "t"});
            if !meta.is_null() {
                params["_meta"] = meta.clone();
            }
            let text = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
                .to_string();
            let Ok(Decoded::Typed(id, call)) = decode_as::<CallToolParams>(text.as_bytes()) else {
                panic!("{text}: the usual shape reads typed");
            };
            let typed = InboundRequest::call(id, call);
            let Ok(Message::Request(req)) = decode(text.as_bytes()) else {
                panic!("{text}");
            };
            let json = InboundRequest::from(req.clone());
            assert_eq!(Era::of(&typed), Era::of(&json), "{text}");
            assert_eq!(typed.params.meta(), json.params.meta(), "{text}");
            assert_eq!(typed.params.tool_name(), Some("echo"));
            assert_eq!(json.params.tool_name(), Some("echo"));
            for member in ["name", "s", "x", "arguments", "none"] {
                let (a, b) = (
                    typed.params.str_member(member),
                    json.params.str_member(member),
                );
                assert_eq!(a, b, "{text}: {member}");
            }
            assert_eq!(typed.params.arguments(), json.params.arguments(), "{text}");
            assert!(typed.params.arguments().is_some());
            assert_eq!(
                crate::util::progress_token(typed.params.meta()),
                crate::util::progress_token(json.params.meta()),
            );
            let back = typed.into_request();
            assert_eq!(back, req, "{text}: JSON again, the same request");
            let (a, b) = (Params::Json(back.params), json.params);
            assert_eq!(a.into_call().unwrap(), b.into_call().unwrap());
        }
    }
}
