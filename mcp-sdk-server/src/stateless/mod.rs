//! The stateless era (revision 2026-07-28), beside the session era on the
//! same endpoint: a request whose `_meta` names its protocol version is
//! served on its own, with no session. Its `_meta` says who the client is
//! and what it can do; `server/discover` says what we are;
//! `ctx.sample(..)`, `ctx.elicit(..)` and `ctx.list_roots(..)` become
//! multi round-trip requests ([`input`]); change notifications flow on
//! `subscriptions/listen` streams ([`crate::notifier`]).
//!
//! Transports call [`serve`] (stdio, in-process) or check the HTTP headers
//! first and then call [`serve_checked`].

pub(crate) mod input;
pub(crate) mod tasks;

use crate::client_info::ClientInfo;
use crate::context::Http;
use crate::context::RequestContext;
use crate::dispatch::{dispatch, ServerShared};
use crate::peer::{Asker, Link, Peer};
use crate::sink::{MessageSink, Outbound};
use crate::util::{parse, progress_token};
use async_trait::async_trait;
use bytes::Bytes;
use input::{input_required_result, InputRound, Outcome};
use mcp_sdk::jsonrpc::Request;
use mcp_sdk::{
    DiscoverResult, Error, ErrorCode, Implementation, Message, ProtocolVersion, RequestMeta,
    SubscriptionsListenParams, SERVER_INFO_META_KEY,
};
use serde::Deserialize as _;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Methods of the session era that 2026-07-28 removed: a stateless request
/// for one of them is -32601.
const REMOVED: [&str; 6] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "notifications/initialized",
];

/// The requests that may answer with an `InputRequiredResult`.
const MULTI_ROUND: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];

/// The results that carry caching hints.
const CACHEABLE: [&str; 5] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// The request's `_meta`, with the keys every stateless request must carry;
/// -32602 when one is missing or malformed.
pub(crate) fn read_meta(params: Option<&Value>) -> Result<RequestMeta, Error> {
    let meta = match params {
        None => None,
        Some(Value::Object(p)) => p.get("_meta"),
        Some(_) => return Err(Error::invalid_params("params must be an object")),
    };
    let meta = match meta {
        // Read in place: the `_meta` object is not copied first.
        Some(m @ Value::Object(_)) => RequestMeta::deserialize(m)
            .map_err(|e| Error::invalid_params(format_args!("params._meta is malformed: {e}")))?,
        Some(_) => return Err(Error::invalid_params("params._meta must be an object")),
        None => RequestMeta::default(),
    };
    let mut missing = Vec::new();
    if meta.protocol_version.is_none() {
        missing.push(mcp_sdk::PROTOCOL_VERSION_META_KEY);
    }
    if meta.client_capabilities.is_none() {
        missing.push(mcp_sdk::CLIENT_CAPABILITIES_META_KEY);
    }
    if !missing.is_empty() {
        return Err(Error::invalid_params(format_args!(
            "params._meta lacks {}; every request of protocol revision 2026-07-28 carries them",
            missing.join(" and ")
        )));
    }
    Ok(meta)
}

/// The revisions this server speaks, newest first, as `server/discover`
/// and -32022 list them.
pub(crate) fn supported_versions(shared: &ServerShared) -> Vec<&'static str> {
    let mut versions = shared.config.protocol_versions.clone();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    versions.dedup();
    versions.into_iter().map(ProtocolVersion::as_str).collect()
}

/// The stateless revision `requested` names, or -32022 listing what we speak.
pub(crate) fn check_version(
    shared: &ServerShared,
    requested: &str,
) -> Result<ProtocolVersion, Error> {
    requested
        .parse::<ProtocolVersion>()
        .ok()
        .filter(|v| !v.is_session_era() && shared.config.protocol_versions.contains(v))
        .ok_or_else(|| Error::unsupported_protocol_version(requested, &supported_versions(shared)))
}

/// Serves one stateless request from start to end: checks its `_meta`,
/// then [`serve_checked`].
pub(crate) async fn serve(
    shared: &Arc<ServerShared>,
    req: Request,
    reply: Outbound,
    cancel: CancellationToken,
    http: Http,
) -> Result<Value, Error> {
    let meta = read_meta(req.params.as_ref())?;
    let version = check_version(shared, meta.protocol_version.as_deref().unwrap_or_default())?;
    serve_checked(shared, req, None, meta, version, reply, cancel, http).await
}

/// Serves a stateless request whose `_meta` and version passed: what its
/// handler sends on the way (progress, log messages) goes to `reply`; the
/// answer is returned. `body`: what `req` was decoded from, when the
/// transport has it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve_checked(
    shared: &Arc<ServerShared>,
    req: Request,
    body: Option<Bytes>,
    meta: RequestMeta,
    version: ProtocolVersion,
    reply: Outbound,
    cancel: CancellationToken,
    http: Http,
) -> Result<Value, Error> {
    let Request {
        id,
        method,
        mut params,
        ..
    } = req;
    match method.as_str() {
        "server/discover" => return Ok(discover(shared)),
        "subscriptions/listen" => {
            let p: SubscriptionsListenParams = parse(params)?;
            let caps = shared.capabilities();
            return crate::notifier::listen(&shared.notifier, &caps, id, p, reply).await;
        }
        m if REMOVED.contains(&m) => {
            return Err(Error::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("Method not found: {m} does not exist in protocol revision {version}"),
            ))
        }
        _ => {}
    }
    let capabilities = meta.client_capabilities.unwrap_or_default();
    if tasks::is_task_method(&method) {
        let owner = tasks::owner(&http);
        let answer = tasks::request(
            &shared.extension_tasks,
            &owner,
            &method,
            params,
            &capabilities,
        )
        .await?;
        return Ok(decorate(shared, &method, answer));
    }
    let plan = match method.as_str() {
        "tools/call" => tasks::plan(
            &shared.capabilities(),
            &*shared.server,
            params.as_ref(),
            &capabilities,
        )?,
        _ => tasks::Plan::Plain,
    };
    let config = &shared.config;
    let round = Arc::new(InputRound::take_from(
        &method,
        &mut params,
        body.as_ref(),
        capabilities.clone(),
        &config.request_state_key,
        MULTI_ROUND.contains(&method.as_str()),
        crate::context::principal(&http),
    )?);
    let client = ClientInfo {
        protocol_version: version,
        capabilities,
        implementation: meta
            .client_info
            .unwrap_or_else(|| Implementation::new("unknown", "")),
    };
    let route: Outbound = Arc::new(StatelessRoute {
        reply,
        shared: shared.clone(),
    });
    let asker: Arc<dyn Asker> = round.clone();
    let link = Arc::new(Link::stateless(
        shared.offer.clone(),
        client,
        meta.log_level,
        asker,
    ));
    // Peers a handler kept (in a cache, say) report closed once the request
    // is over, however it ends.
    let closes = CloseOnDrop(link.clone());
    let progress = progress_token(params.as_ref());
    if let tasks::Plan::MayBecomeTask = plan {
        return may_become_task(
            shared, round, link, route, id, params, progress, cancel, closes, http,
        )
        .await;
    }
    let ctx = RequestContext::new(id, progress, cancel, Peer::new(link, route)).with_http(http);
    let work = dispatch(shared, method.clone(), params, ctx);
    let outcome = round
        .drive(work, &config.request_state_key, config.request_state_ttl)
        .await;
    drop(closes);
    answer(shared, &method, outcome)
}

/// A `tools/call` that may become a task (tasks extension): the handler
/// runs as usual, and its answer (or input request) is the answer if it
/// comes within the grace period; past it, or when the handler asks to go
/// on as a task, the client gets the task and the handler goes on.
#[allow(clippy::too_many_arguments)]
async fn may_become_task(
    shared: &Arc<ServerShared>,
    round: Arc<InputRound>,
    link: Arc<Link>,
    route: Outbound,
    id: mcp_sdk::RequestId,
    params: Option<Value>,
    progress: Option<mcp_sdk::ProgressToken>,
    cancel: CancellationToken,
    closes: CloseOnDrop,
    http: Http,
) -> Result<Value, Error> {
    const METHOD: &str = "tools/call";
    // Its own token: a task outlives the request.
    let own = CancellationToken::new();
    let owner = tasks::owner(&http);
    let ctx =
        RequestContext::new(id, progress, own.clone(), Peer::new(link, route)).with_http(http);
    let dispatcher = shared.clone();
    let mut work: tasks::Work =
        Box::pin(async move { dispatch(&dispatcher, METHOD.into(), params, ctx).await });
    let config = &shared.config;
    let outcome = tokio::select! {
        biased;
        outcome = round.drive(&mut work, &config.request_state_key, config.request_state_ttl) => {
            Some(outcome)
        }
        _ = cancel.cancelled() => {
            own.cancel();
            return Err(Error::internal("the request was cancelled"));
        }
        _ = round.task_wanted() => None,
        _ = tokio::time::sleep(config.tasks.grace) => None,
    };
    match outcome {
        Some(outcome) => answer(shared, METHOD, outcome),
        None => {
            let finisher = shared.clone();
            let created = tasks::start(
                &shared.extension_tasks,
                &shared.config.tasks,
                owner,
                round,
                work,
                own,
                move |result| decorate(&finisher, METHOD, result),
                move || drop(closes),
            )
            .await?;
            Ok(decorate(shared, METHOD, created))
        }
    }
}

/// The answer to a stateless request whose handler run ended as `outcome`.
fn answer(shared: &ServerShared, method: &str, outcome: Outcome) -> Result<Value, Error> {
    match outcome {
        Outcome::Done(Ok(result)) => Ok(decorate(shared, method, result)),
        Outcome::Done(Err(e)) => Err(modernize(e)),
        Outcome::InputRequired(requests, state) if MULTI_ROUND.contains(&method) => Ok(decorate(
            shared,
            method,
            input_required_result(requests, state),
        )),
        Outcome::InputRequired(..) => Err(Error::internal(format_args!(
            "the {method} handler asked the client for input, but only tools/call, prompts/get \
             and resources/read may answer with InputRequiredResult"
        ))),
    }
}

/// The `server/discover` result.
fn discover(shared: &ServerShared) -> Value {
    // Tasks are an extension in 2026-07-28.
    let mut capabilities = (*shared.capabilities()).clone();
    tasks::advertise(&mut capabilities);
    let mut result = DiscoverResult::new(
        supported_versions(shared)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        capabilities,
        shared.config.cache_ttl.as_millis() as u64,
        shared.config.cache_scope,
    )
    .with_meta(server_info_meta(shared));
    result.instructions = shared.instructions.clone();
    serde_json::to_value(result).unwrap_or_default()
}

fn server_info_meta(shared: &ServerShared) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(SERVER_INFO_META_KEY.into(), shared.info_value.clone());
    meta
}

/// Adds what a 2026-07-28 result carries and a handler of any era may not
/// know about: `resultType`, the server's identity, caching hints.
fn decorate(shared: &ServerShared, method: &str, mut result: Value) -> Value {
    let Value::Object(map) = &mut result else {
        return result;
    };
    let complete = map
        .entry("resultType")
        .or_insert_with(|| Value::from("complete"))
        == "complete";
    // Interim results are not cacheable and carry no hints.
    if complete && CACHEABLE.contains(&method) {
        map.entry("ttlMs")
            .or_insert_with(|| Value::from(shared.config.cache_ttl.as_millis() as u64));
        map.entry("cacheScope")
            .or_insert_with(|| serde_json::to_value(shared.config.cache_scope).unwrap_or_default());
    }
    let meta = map
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    // Put in place, not merged from a map of its own: this runs on every
    // stateless answer.
    if let Value::Object(meta) = meta {
        if !meta.contains_key(SERVER_INFO_META_KEY) {
            meta.insert(SERVER_INFO_META_KEY.into(), shared.info_value.clone());
        }
    }
    result
}

/// Errors as 2026-07-28 numbers them: resource-not-found became -32602.
fn modernize(mut e: Error) -> Error {
    if e.code == ErrorCode::RESOURCE_NOT_FOUND {
        e.code = ErrorCode::INVALID_PARAMS;
    }
    e
}

/// Where a stateless handler's messages go: progress and log messages on
/// its own response stream, list changes and resource updates to the
/// `subscriptions/listen` streams.
struct StatelessRoute {
    reply: Outbound,
    shared: Arc<ServerShared>,
}

#[async_trait]
impl MessageSink for StatelessRoute {
    async fn send(&self, msg: Message) -> Result<(), Message> {
        if self.shared.notifier.publish(&msg) {
            return Ok(());
        }
        self.reply.send(msg).await
    }
}

/// Closes the request's link when dropped.
struct CloseOnDrop(Arc<Link>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}
