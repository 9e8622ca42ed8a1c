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
use crate::dispatch::{dispatch, dispatch_reply, ServerShared};
use crate::peer::{Asker, Link, Peer};
use crate::reply::{tool_result_value, writes_as_its_tree, PlainTool, Reply, ToolForm};
use crate::request::{InboundRequest, Params};
use crate::sink::{MessageSink, Offer, Outbound};
use crate::util::parse;
use async_trait::async_trait;
use bytes::Bytes;
use input::{input_required_result, InputRound, Outcome};
use mcp_sdk::jsonrpc::JSONRPC_VERSION;
use mcp_sdk::{CacheScope, RequestId};
use mcp_sdk::{
    CallToolResult, DiscoverResult, Error, ErrorCode, Implementation, Message, ProtocolVersion,
    RequestMeta, SubscriptionsListenParams, SERVER_INFO_META_KEY,
};
use serde::ser::SerializeMap as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
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
/// -32602 when one is missing or malformed. Boxed: it is large (the
/// client's capabilities and identity, 0.7 KB), and moves from here to the
/// request's link through several futures, each of which would otherwise
/// hold it inline, and copy it as they are made.
pub(crate) fn read_meta(params: &Params) -> Result<Box<RequestMeta>, Error> {
    let meta = match params {
        Params::Json(None) => None,
        Params::Json(Some(Value::Object(p))) => match p.get("_meta") {
            None => None,
            Some(Value::Object(meta)) => Some(meta),
            Some(_) => return Err(Error::invalid_params("params._meta must be an object")),
        },
        Params::Json(Some(_)) => return Err(Error::invalid_params("params must be an object")),
        // Read typed only when `_meta` is an object or absent.
        Params::Call(call) => call.meta.as_ref(),
    };
    // Read in place: the `_meta` object is not copied first.
    let meta =
        match meta {
            Some(meta) => Box::new(RequestMeta::from_meta(meta).map_err(|e| {
                Error::invalid_params(format_args!("params._meta is malformed: {e}"))
            })?),
            None => Box::default(),
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
    req: InboundRequest,
    reply: Outbound,
    cancel: CancellationToken,
    http: Http,
) -> Result<Value, Error> {
    let meta = read_meta(&req.params)?;
    let version = check_version(shared, meta.protocol_version.as_deref().unwrap_or_default())?;
    let served = serve_checked(shared, req, None, meta, version, reply, cancel, http).await?;
    served.into_value(shared)
}

/// A stateless request's answer, as [`serve_checked`] returns it.
pub(crate) enum Served {
    /// The result as it goes out.
    Ready(Value),
    /// A result still to [`decorate`] (`cacheable`: whether its method's
    /// results carry caching hints): a transport that writes it out can
    /// add what decoration adds as it writes ([`Served::write_response`]),
    /// rather than insert it into the tree (copies of the server's
    /// identity to build and free, on every stateless answer).
    Undecorated { result: Value, cacheable: bool },
    /// A tool's result of plain text blocks, nothing unknown in it
    /// ([`writes_as_its_tree`]), still to decorate: a transport that writes
    /// it out writes it from the typed result, with no tree made at all.
    Tool {
        result: CallToolResult,
        cacheable: bool,
    },
}

impl Served {
    fn undecorated(method: &str, result: Reply) -> Result<Self, Error> {
        let cacheable = CACHEABLE.contains(&method);
        Ok(match result {
            Reply::Tool(result) if writes_as_its_tree(&result) => {
                Served::Tool { result, cacheable }
            }
            other => Served::Undecorated {
                result: other.into_value()?,
                cacheable,
            },
        })
    }

    /// The result as it goes out.
    ///
    /// # Errors
    /// A tool's result that does not serialize: -32603.
    pub(crate) fn into_value(self, shared: &ServerShared) -> Result<Value, Error> {
        let (result, cacheable) = match self {
            Served::Ready(value) => return Ok(value),
            Served::Undecorated { result, cacheable } => (result, cacheable),
            Served::Tool { result, cacheable } => (tool_result_value(result)?, cacheable),
        };
        Ok(Decoration::of(shared).apply(cacheable, result))
    }

    /// The JSON-RPC response to request `id` with this result, as bytes:
    /// the same bytes as `Message::response(id, self.into_value(shared))`
    /// serialized, but for a typed tool result, whose members come in its
    /// type's order (the same JSON object).
    pub(crate) fn write_response(&self, shared: &ServerShared, id: &RequestId) -> Vec<u8> {
        self.write_decorated(Decoration::of(shared), id)
    }

    fn write_decorated(&self, decoration: Decoration, id: &RequestId) -> Vec<u8> {
        let result = match self {
            Served::Ready(value) => Decorated::Plain(value),
            Served::Undecorated { result, cacheable } => Decorated::Merged {
                result,
                cacheable: *cacheable,
                decoration,
            },
            Served::Tool { result, cacheable } => Decorated::Tool {
                result,
                cacheable: *cacheable,
                decoration,
            },
        };
        let mut out = Vec::with_capacity(256);
        // Plain JSON throughout: writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &Envelope { id, result });
        out
    }
}

/// What [`decorate`] adds, from the server's configuration.
#[derive(Clone, Copy)]
struct Decoration<'a> {
    server_info: &'a Value,
    /// `{SERVER_INFO_META_KEY: server_info}` as JSON text.
    info_meta: &'a RawValue,
    ttl_ms: u64,
    cache_scope: CacheScope,
}

impl<'a> Decoration<'a> {
    fn of(shared: &'a ServerShared) -> Self {
        Decoration {
            server_info: &shared.info_value,
            info_meta: &shared.info_meta,
            ttl_ms: shared.config.cache_ttl.as_millis() as u64,
            cache_scope: shared.config.cache_scope,
        }
    }

    /// Adds what a 2026-07-28 result carries and a handler of any era may
    /// not know about: `resultType`, the server's identity, caching hints
    /// (`cacheable`) on a complete result. Only what the result lacks.
    fn apply(self, cacheable: bool, mut result: Value) -> Value {
        let Value::Object(map) = &mut result else {
            return result;
        };
        let complete = map
            .entry("resultType")
            .or_insert_with(|| Value::from("complete"))
            == "complete";
        // Interim results are not cacheable and carry no hints.
        if complete && cacheable {
            map.entry("ttlMs")
                .or_insert_with(|| Value::from(self.ttl_ms));
            map.entry("cacheScope")
                .or_insert_with(|| serde_json::to_value(self.cache_scope).unwrap_or_default());
        }
        let meta = map
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        // Put in place, not merged from a map of its own.
        if let Value::Object(meta) = meta {
            if !meta.contains_key(SERVER_INFO_META_KEY) {
                meta.insert(SERVER_INFO_META_KEY.into(), self.server_info.clone());
            }
        }
        result
    }
}

/// A JSON-RPC response, serialized as `Message::response` is.
struct Envelope<'a> {
    id: &'a RequestId,
    result: Decorated<'a>,
}

impl Serialize for Envelope<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("jsonrpc", JSONRPC_VERSION)?;
        map.serialize_entry("id", self.id)?;
        map.serialize_entry("result", &self.result)?;
        map.end()
    }
}

/// A result as [`Decoration::apply`] would make it, written from the
/// result as it is.
enum Decorated<'a> {
    Plain(&'a Value),
    Merged {
        result: &'a Value,
        cacheable: bool,
        decoration: Decoration<'a>,
    },
    /// A plain tool result ([`Served::Tool`]): it has no `resultType`,
    /// caching hints or member unknown to its type, so each decoration
    /// adds is written after its own members.
    Tool {
        result: &'a CallToolResult,
        cacheable: bool,
        decoration: Decoration<'a>,
    },
}

/// A member [`Decoration::apply`] adds.
enum Added<'a> {
    Str(&'static str),
    U64(u64),
    Scope(CacheScope),
    Value(&'a Value),
    /// `_meta`: the result's own with the server's identity added.
    Meta(&'a Map<String, Value>, &'a Value),
    /// `_meta` that is only the server's identity, as JSON text.
    Raw(&'a RawValue),
}

impl Serialize for Decorated<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (map, cacheable, d) = match self {
            Decorated::Plain(value) => return value.serialize(s),
            Decorated::Tool {
                result,
                cacheable,
                decoration,
            } => return write_tool(s, result, *cacheable, *decoration),
            Decorated::Merged {
                result: Value::Object(map),
                cacheable,
                decoration,
            } => (map, *cacheable, decoration),
            Decorated::Merged { result, .. } => return result.serialize(s),
        };
        // In key order, as the map of `apply` would hold them.
        let mut added: [Option<(&str, Added)>; 4] = [None, None, None, None];
        let meta = match map.get("_meta") {
            None => Added::meta(None, *d),
            Some(Value::Object(m)) => Added::meta(Some(m), *d),
            Some(_) => None,
        };
        added[0] = meta.map(|m| ("_meta", m));
        let complete = match map.get("resultType") {
            None => {
                added[2] = Some(("resultType", Added::Str("complete")));
                true
            }
            Some(t) => t == "complete",
        };
        if complete && cacheable {
            if !map.contains_key("cacheScope") {
                added[1] = Some(("cacheScope", Added::Scope(d.cache_scope)));
            }
            if !map.contains_key("ttlMs") {
                added[3] = Some(("ttlMs", Added::U64(d.ttl_ms)));
            }
        }
        write_merged(s, map, &added)
    }
}

impl<'a> Added<'a> {
    /// The `_meta` a result with `meta` of its own is written with: the
    /// server's identity alone (as text), or added to the result's own;
    /// `None` when the result's own names the server already.
    fn meta(meta: Option<&'a Map<String, Value>>, d: Decoration<'a>) -> Option<Self> {
        match meta {
            None => Some(Added::Raw(d.info_meta)),
            Some(m) if m.contains_key(SERVER_INFO_META_KEY) => None,
            Some(m) => Some(Added::Meta(m, d.server_info)),
        }
    }
}

impl Serialize for Added<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Added::Str(v) => v.serialize(s),
            Added::U64(v) => v.serialize(s),
            // As `serde_json::to_value` would have made it.
            Added::Scope(v) => v.serialize(s),
            Added::Value(v) => v.serialize(s),
            Added::Meta(meta, info) => {
                let added = [Some((SERVER_INFO_META_KEY, Added::Value(info)))];
                write_merged(s, meta, &added)
            }
            Added::Raw(text) => text.serialize(s),
        }
    }
}

/// A plain tool result with what [`Decoration::apply`] adds to it.
fn write_tool<S: Serializer>(
    s: S,
    result: &CallToolResult,
    cacheable: bool,
    d: Decoration,
) -> Result<S::Ok, S::Error> {
    let mut out = s.serialize_map(None)?;
    PlainTool(result).serialize_members(&mut out)?;
    let meta = result.meta.as_ref();
    match Added::meta(meta, d) {
        Some(added) => out.serialize_entry("_meta", &added)?,
        None => out.serialize_entry("_meta", &meta)?,
    }
    out.serialize_entry("resultType", "complete")?;
    if cacheable {
        out.serialize_entry("cacheScope", &d.cache_scope)?;
        out.serialize_entry("ttlMs", &d.ttl_ms)?;
    }
    out.end()
}

/// `map` with the `added` members (keys in order, none of them in `map`)
/// among its own, in key order; a `_meta` of `map` that `added` extends
/// is written from there.
fn write_merged<S: Serializer>(
    s: S,
    map: &Map<String, Value>,
    added: &[Option<(&str, Added)>],
) -> Result<S::Ok, S::Error> {
    let mut out = s.serialize_map(None)?;
    let mut added = added.iter().flatten().peekable();
    for (key, value) in map {
        while let Some((k, v)) = added.next_if(|(k, _)| *k < key.as_str()) {
            out.serialize_entry(k, v)?;
        }
        match added.next_if(|(k, _)| *k == key.as_str()) {
            // `_meta`, extended.
            Some((k, v)) => out.serialize_entry(k, v)?,
            None => out.serialize_entry(key, value)?,
        }
    }
    for (k, v) in added {
        out.serialize_entry(k, v)?;
    }
    out.end()
}

/// Serves a stateless request whose `_meta` and version passed: what its
/// handler sends on the way (progress, log messages) goes to `reply`; the
/// answer is returned. `body`: what `req` was decoded from, when the
/// transport has it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve_checked(
    shared: &Arc<ServerShared>,
    req: InboundRequest,
    body: Option<Bytes>,
    mut meta: Box<RequestMeta>,
    version: ProtocolVersion,
    reply: Outbound,
    cancel: CancellationToken,
    http: Http,
) -> Result<Served, Error> {
    let InboundRequest {
        id,
        method,
        mut params,
    } = req;
    match &*method {
        "server/discover" => return Ok(Served::Ready(discover(shared))),
        "subscriptions/listen" => {
            let p: SubscriptionsListenParams = parse(params.into_json())?;
            let caps = shared.capabilities();
            return crate::notifier::listen(&shared.notifier, &caps, id, p, reply)
                .await
                .map(Served::Ready);
        }
        m if REMOVED.contains(&m) => {
            return Err(Error::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("Method not found: {m} does not exist in protocol revision {version}"),
            ))
        }
        _ => {}
    }
    let capabilities = meta.client_capabilities.take().unwrap_or_default();
    if tasks::is_task_method(&method) {
        let owner = tasks::owner(&http);
        let answer = tasks::request(
            &shared.extension_tasks,
            &owner,
            &method,
            params.into_json(),
            &capabilities,
        )
        .await?;
        return Ok(Served::Ready(decorate(shared, &method, answer)));
    }
    let plan = match &*method {
        "tools/call" => tasks::plan(
            &shared.capabilities(),
            &*shared.server,
            params.tool_name(),
            &capabilities,
        )?,
        _ => tasks::Plan::Plain,
    };
    let config = &shared.config;
    let round = Arc::new(InputRound::take_from(
        method.clone(),
        &mut params,
        body,
        &capabilities,
        &config.request_state_key,
        MULTI_ROUND.contains(&&*method),
        crate::context::principal(&http),
    )?);
    let client = Box::new(ClientInfo {
        protocol_version: version,
        capabilities,
        implementation: meta
            .client_info
            .unwrap_or_else(|| Implementation::new("unknown", "")),
    });
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
    // As `_meta` said it: read with the rest, and well-formed by now.
    let progress = meta.progress_token;
    if let tasks::Plan::MayBecomeTask = plan {
        return may_become_task(
            shared,
            round,
            link,
            route,
            id,
            params.into_json(),
            progress,
            cancel,
            closes,
            http,
        )
        .await;
    }
    let ctx = RequestContext::new(id, progress, cancel, Peer::new(link, route)).with_http(http);
    // The round keeps the method's name: no copy of it to answer with.
    // Boxed: the round's future would hold the handler's twice over (as
    // its argument, then pinned), and be copied whole into this one.
    // A tool's result comes typed, to be written decorated (`Served::Tool`).
    let work = Box::pin(dispatch_reply(shared, method, params, ctx, ToolForm::Typed));
    let outcome = round
        .drive(work, &config.request_state_key, config.request_state_ttl)
        .await;
    drop(closes);
    answer(round.method(), outcome)
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
) -> Result<Served, Error> {
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
        Some(outcome) => answer(METHOD, outcome.map(Reply::Value)),
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
            Ok(Served::Ready(decorate(shared, METHOD, created)))
        }
    }
}

/// The answer to a stateless request whose handler run ended as `outcome`.
fn answer(method: &str, outcome: Outcome<Reply>) -> Result<Served, Error> {
    match outcome {
        Outcome::Done(Ok(result)) => Served::undecorated(method, result),
        Outcome::Done(Err(e)) => Err(modernize(e)),
        Outcome::InputRequired(requests, state) if MULTI_ROUND.contains(&method) => {
            Served::undecorated(method, Reply::Value(input_required_result(requests, state)))
        }
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
fn decorate(shared: &ServerShared, method: &str, result: Value) -> Value {
    Decoration::of(shared).apply(CACHEABLE.contains(&method), result)
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
    fn offer(&self, msg: Message) -> Offer {
        if self.shared.notifier.publish(&msg) {
            return Offer::Taken;
        }
        self.reply.offer(msg)
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A `tools/call`'s `_meta` read typed gives what it gives as JSON,
    /// errors included.
    #[test]
    fn typed_params_have_the_meta_json_ones_have() {
        use mcp_sdk::jsonrpc::{decode, decode_as, Decoded};
        use mcp_sdk::CallToolParams;
        let metas = [
            json!(null),
            json!({}),
            json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
                "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
                "io.modelcontextprotocol/logLevel": "info",
                "progressToken": 3,
                "vendor/x": [1],
            }),
            json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"}),
            json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": 1},
            }),
        ];
        for meta in metas {
            let mut params = json!({"name": "echo", "arguments": {}});
            if !meta.is_null() {
                params["_meta"] = meta;
            }
            let text = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
                .to_string();
            let Ok(Decoded::Typed(_, call)) = decode_as::<CallToolParams>(text.as_bytes()) else {
                panic!("{text}: the usual shape reads typed");
            };
            let Ok(Message::Request(req)) = decode(text.as_bytes()) else {
                panic!("{text}");
            };
            let typed = read_meta(&Params::Call(call));
            let json = read_meta(&Params::Json(req.params));
            match (typed, json) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(a), Err(b)) => assert_eq!(a, b, "{text}"),
                (a, b) => panic!("{text}: {a:?} against {b:?}"),
            }
        }
    }

    #[test]
    fn a_result_written_undecorated_is_the_decorated_result() {
        let info = json!({"name": "echo-server", "version": "0"});
        let info_meta = ServerShared::info_meta(&info);
        let results = [
            json!({"content": [{"type": "text", "text": "hi"}], "isError": false}),
            json!({}),
            json!({"_meta": {"a": 1, "zz": [true]}, "Zeta": 1, "tools": []}),
            json!({"_meta": {SERVER_INFO_META_KEY: "theirs"}, "x": null}),
            json!({"_meta": 7, "resultType": "complete"}),
            json!({"resultType": "input_required", "inputRequests": {}}),
            json!({"resultType": "complete", "ttlMs": 5, "A": "b", "cacheScope": "public"}),
            json!({"ttlMs": 5}),
            json!({"cacheScope": "x", "contents": [], "_meta": {}}),
            json!({"\u{1}": 1, "~": 2, "_": 3, "_metb": 4, "_met": 5}),
            json!([1, 2]),
            json!("text"),
            Value::Null,
        ];
        let decorations = [
            Decoration {
                server_info: &info,
                info_meta: &info_meta,
                ttl_ms: 0,
                cache_scope: CacheScope::Private,
            },
            Decoration {
                server_info: &info,
                info_meta: &info_meta,
                ttl_ms: 60_000,
                cache_scope: CacheScope::Public,
            },
        ];
        let ids = [RequestId::Number(2), RequestId::String("a\"b".into())];
        for result in &results {
            for decoration in decorations {
                for cacheable in [false, true] {
                    for id in &ids {
                        let served = Served::Undecorated {
                            result: result.clone(),
                            cacheable,
                        };
                        let decorated = decoration.apply(cacheable, result.clone());
                        let expected = Message::response(id.clone(), decorated).to_vec();
                        let written = served.write_decorated(decoration, id);
                        assert_eq!(
                            String::from_utf8(written).unwrap(),
                            String::from_utf8(expected).unwrap(),
                            "{result} cacheable: {cacheable}"
                        );
                        let ready = Served::Ready(result.clone());
                        assert_eq!(
                            ready.write_decorated(decoration, id),
                            Message::response(id.clone(), result.clone()).to_vec()
                        );
                    }
                }
            }
        }
    }
    /// A tool's result written from its type, decorated as it is written,
    /// reads as the decorated tree: `_meta` (none, the result's own, one
    /// with the server's identity already), structured content, an error.
    /// A result with anything the plain writer does not know is kept as a
    /// tree.
    #[test]
    fn a_typed_tool_result_written_decorated_is_the_decorated_result() {
        let info = json!({"name": "echo-server", "version": "0"});
        let info_meta = ServerShared::info_meta(&info);
        let with_meta = |meta: Value| {
            let mut r = CallToolResult::text("hi");
            r.meta = meta.as_object().cloned();
            r
        };
        let results = [
            CallToolResult::text("hello, \"bench\""),
            CallToolResult::new(vec![]),
            CallToolResult::error_text("no"),
            CallToolResult::structured(json!({"n": 1, "list": [1, 2]})),
            with_meta(json!({"a": 1})),
            with_meta(json!({})),
            with_meta(json!({SERVER_INFO_META_KEY: "theirs", "z": null})),
        ];
        for result in results {
            assert!(writes_as_its_tree(&result));
            for cacheable in [false, true] {
                let decoration = Decoration {
                    server_info: &info,
                    info_meta: &info_meta,
                    ttl_ms: 60_000,
                    cache_scope: CacheScope::Public,
                };
                let tree = result.clone().into_value().unwrap();
                let expected = Message::response(
                    RequestId::Number(2),
                    decoration.apply(cacheable, tree.clone()),
                );
                let served = Served::undecorated(
                    if cacheable {
                        "tools/list"
                    } else {
                        "tools/call"
                    },
                    Reply::Tool(result.clone()),
                )
                .unwrap();
                assert!(matches!(served, Served::Tool { .. }));
                let written = served.write_decorated(decoration, &RequestId::Number(2));
                let read: Message = serde_json::from_slice(&written).unwrap();
                assert_eq!(read, expected, "{tree} cacheable: {cacheable}");
            }
        }
        // An image block and an unknown member: not for the plain writer.
        let mut odd = CallToolResult::new(vec![mcp_sdk::ContentBlock::image("aGk=", "image/png")]);
        assert!(matches!(
            Served::undecorated("tools/call", Reply::Tool(odd.clone())).unwrap(),
            Served::Undecorated { .. }
        ));
        odd.extra
            .insert("resultType".into(), json!("input_required"));
        let Served::Undecorated { result, .. } =
            Served::undecorated("tools/call", Reply::Tool(odd)).unwrap()
        else {
            panic!("a result with unknown members is kept as a tree");
        };
        assert_eq!(result["resultType"], "input_required");
    }
}
