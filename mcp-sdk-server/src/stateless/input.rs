//! Multi round-trip requests (2026-07-28): how `ctx.sample(..)`,
//! `ctx.elicit(..)` and `ctx.list_roots(..)` keep working once servers no
//! longer send requests to the client.
//!
//! A handler runs as usual. When it asks for input the client has not given
//! yet, the request is parked: the handler future is dropped and the client
//! gets an `InputRequiredResult` naming what is missing. The client answers
//! and retries the original request with `inputResponses` and the
//! `requestState` we sent; the handler then runs again from the start and
//! this time finds its answers. Answers from earlier rounds travel inside the
//! `requestState`, sealed with HMAC-SHA-256 under a server key, so any
//! instance that shares the key can take the retry and a client cannot alter
//! what it answered before, reuse the state for another request, or keep it
//! beyond its lifetime. On a protected server the seal also covers a hash of
//! the caller (its token's issuer and subject): a state presented with
//! another user's token fails its check as a forged one does.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use hmac::Mac;
use mcp_sdk::{ClientCapabilities, ElicitRequestParams, Error, InputRequest, InputRequests};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::RequestStateKey;
use crate::request::Params;
use crate::util::lock;

/// What a sealed `requestState` holds.
#[derive(Serialize, Deserialize)]
struct StatePayload {
    /// The method of the request it belongs to.
    m: String,
    /// SHA-256 of the request's own params, hex.
    d: String,
    /// Expiry, seconds since the Unix epoch.
    e: u64,
    /// The answers of earlier rounds, by key.
    a: BTreeMap<String, Value>,
}

/// The members a retry adds to a request's params; the handler never sees them.
const INPUT_RESPONSES: &str = "inputResponses";
const REQUEST_STATE: &str = "requestState";

/// One run of a handler in a multi round-trip request: the answers it may
/// use, and what it asked for that was not answered.
pub(crate) struct InputRound {
    /// Borrowed for a typed `tools/call`: no copy of its name.
    method: Cow<'static, str>,
    /// Who made the request (a protected server's principal), if known.
    owner: Option<String>,
    /// SHA-256 of the request's params (hex), which binds a state to its
    /// request: known from the start when a state came to be opened, else
    /// computed from `params` only if a state is sealed. Most calls never
    /// ask for input, and hashing on each of them was a tenth of a
    /// stateless call's instructions.
    digest: OnceLock<String>,
    /// What the digest is computed from while it is not known: the handler
    /// takes the params themselves.
    params: Kept,
    /// What the client can be asked for.
    can: CanAsk,
    answers: Mutex<BTreeMap<String, Value>>,
    asked: Mutex<Asked>,
    waker: AtomicWaker,
    /// The handler asked to go on as a task (2026-07-28 tasks extension):
    /// its input requests then wait for `tasks/update` instead of ending
    /// the run with an `InputRequiredResult`.
    wants_task: std::sync::atomic::AtomicBool,
    task_wanted: tokio::sync::Notify,
    /// Wakes the handler's waiting asks when answers arrive.
    answered: tokio::sync::Notify,
    /// Wakes whoever publishes a task's input requests (replicas sharing a
    /// task store) when the handler asks for more.
    asked_more: tokio::sync::Notify,
}

#[derive(Default)]
struct Asked {
    requests: InputRequests,
    /// Answers the handler used this run: they go into the next state.
    used: BTreeMap<String, Value>,
    /// An error that must reach the client as a JSON-RPC error, whatever
    /// the handler does with the `Err` it is given.
    fatal: Option<Error>,
    /// How many requests of each kind got an automatic key.
    counts: BTreeMap<&'static str, usize>,
}

/// The params kept for a digest that may be needed later.
enum Kept {
    /// None: the digest is known, or is that of no params.
    Nothing,
    /// A copy of the params as the handler sees them (`_meta` left out, as
    /// the digest leaves it out).
    Params(Map<String, Value>),
    /// The request as it came, whose params are read again if a state is
    /// sealed: holding the body costs nothing, where the copy above was
    /// some 2k instructions on every stateless call over HTTP.
    Body(Bytes),
}

/// How a handler run ended, its result a `T`.
pub(crate) enum Outcome<T = Value> {
    /// The handler finished (or input it was given was unusable).
    Done(Result<T, Error>),
    /// The handler waits for input: these requests, and the state to seal.
    InputRequired(InputRequests, String),
}

impl<T> Outcome<T> {
    /// The same end, a result made into a `U`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Done(result) => Outcome::Done(result.map(f)),
            Outcome::InputRequired(requests, state) => Outcome::InputRequired(requests, state),
        }
    }
}

impl InputRound {
    /// Takes `inputResponses` and `requestState` out of `params` and checks
    /// them: a state that fails verification, or answers that are not
    /// objects, are -32602.
    ///
    /// `may_ask`: whether the method may answer with input requests; only
    /// then (or to check a state) are the params hashed for the state.
    /// `owner`: who makes the request, on a protected server; the states
    /// this round seals and opens are that caller's only.
    #[cfg(test)]
    pub fn take(
        method: &str,
        params: &mut Option<Value>,
        capabilities: &ClientCapabilities,
        key: &RequestStateKey,
        may_ask: bool,
        owner: Option<String>,
    ) -> Result<Self, Error> {
        let mut taken = Params::Json(params.take());
        let method = Cow::Owned(method.to_owned());
        let round = Self::take_from(method, &mut taken, None, capabilities, key, may_ask, owner);
        *params = taken.into_json();
        round
    }

    /// [`take`](Self::take) for a request decoded from `body` (when the
    /// transport has it): the params are read again from there, rather
    /// than copied, in case a state is sealed. The body is kept as given:
    /// a clone of it was an allocation on most calls (a `Bytes` read
    /// into one buffer becomes shared on its first clone).
    pub fn take_from(
        method: Cow<'static, str>,
        params: &mut Params,
        body: Option<Bytes>,
        capabilities: &ClientCapabilities,
        key: &RequestStateKey,
        may_ask: bool,
        owner: Option<String>,
    ) -> Result<Self, Error> {
        let mut responses = None;
        let mut state = None;
        if let Some(map) = params.members_mut() {
            responses = map.remove(INPUT_RESPONSES);
            state = map.remove(REQUEST_STATE);
        }
        // A state to open needs the digest now; one the handler may ask
        // to seal needs it later, from a copy of the params.
        let (digest, kept) = match &state {
            Some(_) => (
                OnceLock::from(digest_of(params.object_without_meta().as_ref())),
                Kept::Nothing,
            ),
            None if !may_ask => (OnceLock::from(String::new()), Kept::Nothing),
            // Params that are not an object hash as no params do.
            None if !params.is_object() => (OnceLock::new(), Kept::Nothing),
            None => match body {
                Some(body) => (OnceLock::new(), Kept::Body(body)),
                None => (
                    OnceLock::new(),
                    Kept::Params(params.object_without_meta().unwrap_or_default()),
                ),
            },
        };
        let mut answers = match state {
            None => BTreeMap::new(),
            Some(Value::String(s)) => {
                let digest = digest.get().map_or("", String::as_str);
                open(key, &s, &method, digest, owner.as_deref())?
            }
            Some(_) => return Err(Error::invalid_params("requestState must be a string")),
        };
        match responses {
            None => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    if !v.is_object() {
                        return Err(Error::invalid_params(format_args!(
                            "inputResponses.{k} must be an object (the client's result for that input request), not {v}"
                        )));
                    }
                    answers.insert(k, v);
                }
            }
            Some(other) => {
                return Err(Error::invalid_params(format_args!(
                    "inputResponses must be an object of answers by key, not {other}"
                )))
            }
        }
        Ok(InputRound {
            method,
            owner,
            digest,
            params: kept,
            can: CanAsk::of(capabilities),
            answers: Mutex::new(answers),
            asked: Mutex::new(Asked::default()),
            waker: AtomicWaker::new(),
            wants_task: std::sync::atomic::AtomicBool::new(false),
            task_wanted: tokio::sync::Notify::new(),
            answered: tokio::sync::Notify::new(),
            asked_more: tokio::sync::Notify::new(),
        })
    }

    /// The method of the request this round belongs to.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The next automatic key for a request of this kind: `elicitation-1`,
    /// `sampling-1`, `roots-1`, ... in the order the handler asks. A handler
    /// that asks in the same order on every run finds its answers again.
    pub fn auto_key(&self, request: &InputRequest) -> String {
        let kind = match request {
            InputRequest::CreateMessage(_) => "sampling",
            InputRequest::ListRoots(_) => "roots",
            InputRequest::Elicit(_) => "elicitation",
        };
        let mut asked = lock(&self.asked);
        let n = asked.counts.entry(kind).or_default();
        *n += 1;
        format!("{kind}-{n}")
    }

    /// The answer to `request` under `key`, if the client gave one; if not,
    /// the request is noted and this waits: the handler is dropped and the
    /// client asked, unless the request goes on as a task. A client that lacks the capability
    /// the request needs, or an answer of the wrong shape, ends the request
    /// with an error.
    ///
    /// In a task, the request shows in the task's `inputRequests` until
    /// `tasks/update` brings its answer ([`answer`](Self::answer)).
    pub async fn ask(&self, key: String, request: InputRequest) -> Value {
        if let Some(missing) = self.can.missing(&request) {
            return self.fail(missing).await;
        }
        loop {
            let arrived = self.answered.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let answer = lock(&self.answers).get(&key).cloned();
            if let Some(answer) = answer {
                if let Err(e) = check_answer(&request, &answer) {
                    let error = Error::invalid_params(format_args!(
                        "inputResponses.{key} is not a valid answer to {}: {e}",
                        request.method()
                    ));
                    return self.fail(error).await;
                }
                lock(&self.asked).used.insert(key, answer.clone());
                return answer;
            }
            lock(&self.asked)
                .requests
                .insert(key.clone(), request.clone());
            self.waker.wake();
            // One waiter at most (the task's keeper): a permit is kept
            // until it looks.
            self.asked_more.notify_one();
            arrived.await;
        }
    }

    /// The handler asks to go on as a task, when the request may become one
    /// (`RequestContext::continue_as_task`).
    pub fn want_task(&self) {
        self.wants_task
            .store(true, std::sync::atomic::Ordering::Release);
        self.task_wanted.notify_one();
        self.waker.wake();
    }

    /// Resolves once the handler asked to go on as a task.
    pub async fn task_wanted(&self) {
        self.task_wanted.notified().await
    }

    /// The input requests waiting for answers (a task's `inputRequests`).
    pub fn waiting(&self) -> InputRequests {
        lock(&self.asked).requests.clone()
    }

    /// Resolves once the handler asked for more input since the last call
    /// (or since the round began, for the first).
    pub async fn asked_more(&self) {
        self.asked_more.notified().await
    }

    /// Answers some of the waiting input requests (`tasks/update`): each
    /// answer must be an object of the right shape for its request (-32602
    /// otherwise, and nothing is taken); answers to requests not waiting
    /// are ignored.
    pub fn answer(&self, responses: Map<String, Value>) -> Result<(), Error> {
        let mut asked = lock(&self.asked);
        for (key, answer) in &responses {
            if let Some(request) = asked.requests.get(key) {
                checked(key, request, answer)?;
            }
        }
        let mut answers = lock(&self.answers);
        for (key, answer) in responses {
            if asked.requests.remove(&key).is_some() {
                answers.insert(key, answer);
            }
        }
        drop((answers, asked));
        self.answered.notify_waiters();
        Ok(())
    }

    async fn fail(&self, error: Error) -> Value {
        lock(&self.asked).fatal.get_or_insert(error);
        self.waker.wake();
        std::future::pending().await
    }

    /// The digest of the request's params, computed on first use.
    fn digest(&self) -> &str {
        self.digest
            .get_or_init(|| match &self.params {
                Kept::Nothing => digest_of(None),
                Kept::Params(map) => digest_of(Some(map)),
                Kept::Body(body) => {
                    // As `take` left them: without the members a retry adds.
                    let mut params = match mcp_sdk::jsonrpc::decode(body) {
                        Ok(mcp_sdk::Message::Request(r)) => r.params,
                        _ => None,
                    };
                    if let Some(Value::Object(map)) = &mut params {
                        map.remove(INPUT_RESPONSES);
                        map.remove(REQUEST_STATE);
                    }
                    digest(params.as_ref())
                }
            })
            .as_str()
    }

    /// Runs the handler until it finishes or waits for input.
    pub async fn drive<T>(
        &self,
        work: impl Future<Output = Result<T, Error>>,
        key: &RequestStateKey,
        ttl: Duration,
    ) -> Outcome<T> {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            self.waker.register(cx.waker());
            if let Poll::Ready(answer) = work.as_mut().poll(cx) {
                return Poll::Ready(Outcome::Done(answer));
            }
            let mut asked = lock(&self.asked);
            if let Some(error) = asked.fatal.take() {
                return Poll::Ready(Outcome::Done(Err(error)));
            }
            // A handler going on as a task keeps its questions for the
            // task's inputRequests.
            if asked.requests.is_empty()
                || self.wants_task.load(std::sync::atomic::Ordering::Acquire)
            {
                return Poll::Pending;
            }
            let requests = std::mem::take(&mut asked.requests);
            let state = seal(
                key,
                self.owner.as_deref(),
                StatePayload {
                    m: self.method.clone().into_owned(),
                    d: self.digest().to_owned(),
                    e: now_secs() + ttl.as_secs().max(1),
                    a: std::mem::take(&mut asked.used),
                },
            );
            Poll::Ready(Outcome::InputRequired(requests, state))
        })
        .await
    }
}

/// A task's round, as the keeper of a task in a store replicas share
/// sees it.
#[async_trait::async_trait]
impl crate::task_store::TaskInput for InputRound {
    fn waiting(&self) -> Map<String, Value> {
        (lock(&self.asked).requests.iter())
            .map(|(key, request)| {
                let wire = serde_json::to_value(request).unwrap_or_default();
                (key.clone(), wire)
            })
            .collect()
    }

    async fn asked_more(&self) {
        InputRound::asked_more(self).await
    }

    fn deliver(&self, answers: Map<String, Value>) {
        if let Err(e) = self.answer(answers) {
            tracing::warn!(error = %e, "answers to a task's input requests were refused");
        }
    }
}

/// What a client declared it can be asked for: all a round needs of its
/// capabilities, which it would otherwise copy whole.
#[derive(Clone, Copy)]
struct CanAsk {
    sampling: bool,
    roots: bool,
    elicitation: bool,
    elicitation_url: bool,
}

impl CanAsk {
    fn of(caps: &ClientCapabilities) -> Self {
        CanAsk {
            sampling: caps.sampling.is_some(),
            roots: caps.roots.is_some(),
            elicitation: caps.elicitation.is_some(),
            elicitation_url: caps.elicitation.as_ref().is_some_and(|e| e.supports_url()),
        }
    }

    /// -32021 when the client did not declare the capability `request`
    /// needs.
    fn missing(self, request: &InputRequest) -> Option<Error> {
        let (has, name, required) = match request {
            InputRequest::CreateMessage(_) => (self.sampling, "sampling", json!({"sampling": {}})),
            InputRequest::ListRoots(_) => (self.roots, "roots", json!({"roots": {}})),
            // A URL-mode elicitation needs the client to have declared that mode.
            InputRequest::Elicit(ElicitRequestParams::Url(_)) => (
                self.elicitation_url,
                "elicitation.url",
                json!({"elicitation": {"url": {}}}),
            ),
            InputRequest::Elicit(_) => {
                (self.elicitation, "elicitation", json!({"elicitation": {}}))
            }
        };
        if has {
            return None;
        }
        let required: ClientCapabilities = serde_json::from_value(required).unwrap_or_default();
        Some(Error::missing_required_client_capability(name, &required))
    }
}

/// -32602 when `answer` (under `key`) is not of the shape `request` needs.
pub(crate) fn checked(key: &str, request: &InputRequest, answer: &Value) -> Result<(), Error> {
    check_answer(request, answer).map_err(|e| {
        Error::invalid_params(format_args!(
            "inputResponses.{key} is not a valid answer to {}: {e}",
            request.method()
        ))
    })
}

fn check_answer(request: &InputRequest, answer: &Value) -> Result<(), serde_json::Error> {
    crate::task_store::answer_fault(request.method(), answer)
}

/// SHA-256 of the params as the handler sees them, in a canonical form
/// (keys sorted, `_meta` left out: it describes the client, not the request).
fn digest(params: Option<&Value>) -> String {
    match params {
        Some(Value::Object(map)) => digest_of(Some(map)),
        _ => digest_of(None),
    }
}

/// [`digest`] of params that are an object (`Some`) or not (`None`).
fn digest_of(params: Option<&Map<String, Value>>) -> String {
    let mut canonical = Vec::with_capacity(256);
    if let Some(map) = params {
        // The params without their `_meta`, written as they are (no copy
        // of the map to take `_meta` out of).
        write_object(map.iter().filter(|(k, _)| *k != "_meta"), &mut canonical);
    }
    let hash = Sha256::digest(&canonical);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(hash.len() * 2);
    for b in hash {
        hex.push(HEX[usize::from(b >> 4)] as char);
        hex.push(HEX[usize::from(b & 0xf)] as char);
    }
    hex
}

/// An object's members in the order of their names.
fn write_object<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    let sorted: BTreeMap<&String, &Value> = members.collect();
    out.push(b'{');
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // A name as JSON writes a string, escapes and all.
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        write_canonical(v, out);
    }
    out.push(b'}');
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_object(map.iter(), out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

/// The MAC of a state of `owner` (a principal) or of nobody: an owner's
/// adds a fixed-size prefix with the hash of who it is, which no JSON body
/// (they start with `{`) can stand for.
fn mac_for(key: &RequestStateKey, owner: Option<&str>) -> hmac::Hmac<Sha256> {
    let mut mac = key.mac();
    if let Some(owner) = owner {
        mac.update(b"owner\0");
        mac.update(&Sha256::digest(owner.as_bytes()));
    }
    mac
}

fn seal(key: &RequestStateKey, owner: Option<&str>, payload: StatePayload) -> String {
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    let mut mac = mac_for(key, owner);
    mac.update(&body);
    let tag = mac.finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&body),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// The answers a sealed state carries, once its seal, its request and its
/// lifetime check out.
fn open(
    key: &RequestStateKey,
    state: &str,
    method: &str,
    digest: &str,
    owner: Option<&str>,
) -> Result<BTreeMap<String, Value>, Error> {
    let refused = |why: &str| {
        Error::invalid_params(format_args!(
            "requestState refused: {why}; send the request again without requestState and inputResponses to start over"
        ))
    };
    let (body, tag) = state
        .split_once('.')
        .ok_or_else(|| refused("it is not a state this server issued"))?;
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| refused("it is not a state this server issued"))?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| refused("its integrity check failed (it was altered)"))?;
    let mut mac = mac_for(key, owner);
    mac.update(&body);
    mac.verify_slice(&tag).map_err(|_| {
        refused("its integrity check failed (it was altered, or another server key sealed it)")
    })?;
    let payload: StatePayload =
        serde_json::from_slice(&body).map_err(|_| refused("its contents are unreadable"))?;
    if payload.m != method || payload.d != digest {
        return Err(refused("it was issued for a different request"));
    }
    if payload.e < now_secs() {
        return Err(refused("it expired"));
    }
    Ok(payload.a)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Decodes a header value that may use the `=?base64?...?=` sentinel of
/// 2026-07-28 (`Mcp-Name`, `Mcp-Param-*`); `None` if the encoding is broken.
pub(crate) fn decode_header_value(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(STANDARD.decode(encoded).ok()?).ok(),
        None => Some(value.to_owned()),
    }
}

/// The params of an `InputRequiredResult` answer, as JSON.
pub(crate) fn input_required_result(requests: InputRequests, state: String) -> Value {
    let mut result = Map::new();
    result.insert("resultType".into(), Value::from("input_required"));
    result.insert(
        "inputRequests".into(),
        serde_json::to_value(requests).unwrap_or_default(),
    );
    result.insert("requestState".into(), Value::String(state));
    Value::Object(result)
}

#[async_trait::async_trait]
impl crate::peer::Asker for InputRound {
    fn auto_key(&self, request: &InputRequest) -> String {
        InputRound::auto_key(self, request)
    }

    async fn ask(&self, key: String, request: InputRequest) -> Value {
        InputRound::ask(self, key, request).await
    }

    fn want_task(&self) {
        InputRound::want_task(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(params: Value, key: &RequestStateKey) -> Result<InputRound, Error> {
        let caps: ClientCapabilities = serde_json::from_value(json!({"elicitation": {}})).unwrap();
        InputRound::take("tools/call", &mut Some(params), &caps, key, true, None)
    }

    /// A request read from its body is bound to the same params as one
    /// whose params were copied: the digest is that of the params without
    /// `_meta` and without what a retry adds.
    #[test]
    fn the_digest_read_from_the_body_is_that_of_the_copied_params() {
        let key = RequestStateKey::random();
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"b":2,"a":[1,{"y":1,"x":0}]},"_meta":{"k":1},"inputResponses":{}}}"#;
        let Ok(mcp_sdk::Message::Request(req)) = mcp_sdk::jsonrpc::decode(body) else {
            panic!("a request");
        };
        let caps = ClientCapabilities::default();
        let (mut a, b) = (req.params.clone(), req.params);
        let copied = InputRound::take("tools/call", &mut a, &caps, &key, true, None).unwrap();
        let body = Bytes::from_static(body);
        let read = &mut Params::Json(b);
        let read = InputRound::take_from(
            "tools/call".into(),
            read,
            Some(body),
            &caps,
            &key,
            true,
            None,
        )
        .unwrap();
        assert!(matches!(read.params, Kept::Body(_)));
        assert!(matches!(copied.params, Kept::Params(_)));
        assert_eq!(read.digest(), copied.digest());
        let without = json!({"name": "echo", "arguments": {"a": [1, {"x": 0, "y": 1}], "b": 2}});
        assert_eq!(read.digest(), digest(Some(&without)));
    }

    fn elicit() -> InputRequest {
        serde_json::from_value(json!({"method": "elicitation/create", "params": {
            "message": "name?", "requestedSchema": {"type": "object", "properties": {}}
        }}))
        .unwrap()
    }

    async fn run_once(r: &InputRound, key: &RequestStateKey) -> Outcome {
        r.drive(
            async {
                let a = r.ask("who".into(), elicit()).await;
                Ok(a)
            },
            key,
            Duration::from_secs(60),
        )
        .await
    }

    #[tokio::test]
    async fn a_sealed_state_carries_answers_to_the_next_round_and_refuses_changes() {
        let key = RequestStateKey::random();
        let first = round(json!({"name": "t", "arguments": {"x": 1}}), &key).unwrap();
        let Outcome::InputRequired(asked, _) = run_once(&first, &key).await else {
            panic!("expected input required")
        };
        assert!(asked.contains_key("who"));

        // The answer arrives; the handler finishes and a second handler
        // run would find it in the state.
        let answer = json!({"action": "accept", "content": {"n": "Al"}});
        let second = round(
            json!({"name": "t", "arguments": {"x": 1}, "inputResponses": {"who": answer}}),
            &key,
        )
        .unwrap();
        let state = second.drive(
            async {
                let a = second.ask("who".into(), elicit()).await;
                let _ = second.ask("more".into(), elicit()).await;
                Ok(a)
            },
            &key,
            Duration::from_secs(60),
        );
        let Outcome::InputRequired(_, state) = state.await else {
            panic!("expected a second round")
        };
        let third = round(
            json!({"name": "t", "arguments": {"x": 1}, "requestState": state}),
            &key,
        )
        .unwrap();
        assert_eq!(third.answers.lock().unwrap().get("who"), Some(&answer));

        // Another request, another key, or one altered byte: refused.
        let other = round(
            json!({"name": "t", "arguments": {"x": 2}, "requestState": state}),
            &key,
        );
        assert!(other.err().unwrap().message.contains("different request"));
        let foreign = round(
            json!({"name": "t", "arguments": {"x": 1}, "requestState": state}),
            &RequestStateKey::random(),
        );
        assert!(foreign.err().unwrap().message.contains("integrity"));
        let mut bytes = state.clone().into_bytes();
        bytes[3] ^= 1;
        let tampered = round(
            json!({"name": "t", "arguments": {"x": 1}, "requestState": String::from_utf8(bytes).unwrap()}),
            &key,
        );
        assert!(tampered.is_err());
    }

    /// A state sealed for one caller, opened by another (or by nobody, or
    /// the reverse), fails as a forged one does, word for word.
    #[tokio::test]
    async fn a_state_is_its_callers_only() {
        let key = RequestStateKey::random();
        let take = |state: Option<&str>, owner: Option<&str>| {
            let mut params = json!({"name": "t", "arguments": {"x": 1}});
            if let Some(state) = state {
                params["requestState"] = json!(state);
            }
            InputRound::take(
                "tools/call",
                &mut Some(params),
                &serde_json::from_value(json!({"elicitation": {}})).unwrap(),
                &key,
                true,
                owner.map(str::to_owned),
            )
        };
        async fn seal_for(first: InputRound, key: &RequestStateKey) -> String {
            let outcome = first
                .drive(
                    async {
                        first.ask("who".into(), elicit()).await;
                        Ok(json!(null))
                    },
                    key,
                    Duration::from_secs(60),
                )
                .await;
            let Outcome::InputRequired(_, state) = outcome else {
                panic!("expected an input request")
            };
            state
        }
        let alice = seal_for(take(None, Some("iss\0alice")).unwrap(), &key).await;
        let nobody = seal_for(take(None, None).unwrap(), &key).await;
        assert!(take(Some(&alice), Some("iss\0alice")).is_ok());
        assert!(take(Some(&nobody), None).is_ok());
        let forged = {
            let mut bytes = alice.clone().into_bytes();
            let last = bytes.len() - 2;
            bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        };
        let forged_answer = take(Some(&forged), Some("iss\0alice")).err().unwrap();
        for (state, owner) in [
            (&alice, Some("iss\0bob")),
            (&alice, None),
            (&nobody, Some("iss\0bob")),
        ] {
            let refused = take(Some(state), owner).err().unwrap();
            assert_eq!(refused, forged_answer, "{owner:?}");
        }
    }

    #[tokio::test]
    async fn bad_answers_and_missing_capabilities_end_the_request_with_an_error() {
        let key = RequestStateKey::random();
        let r = round(json!({"inputResponses": {"who": {"action": 7}}}), &key).unwrap();
        let Outcome::Done(Err(e)) = run_once(&r, &key).await else {
            panic!("expected an error")
        };
        assert_eq!(e.code, mcp_sdk::ErrorCode::INVALID_PARAMS);
        assert!(e.message.contains("inputResponses.who"), "{}", e.message);

        assert!(round(json!({"inputResponses": {"who": 12345}}), &key).is_err());
        assert!(round(json!({"inputResponses": null}), &key).is_err());

        let none = InputRound::take(
            "tools/call",
            &mut None,
            &ClientCapabilities::default(),
            &key,
            true,
            None,
        )
        .unwrap();
        let Outcome::Done(Err(e)) = run_once(&none, &key).await else {
            panic!("expected -32021")
        };
        assert_eq!(
            e.code,
            mcp_sdk::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        );
        assert_eq!(
            e.data.unwrap()["requiredCapabilities"],
            json!({"elicitation": {}})
        );
    }

    /// A round that opens no state hashes nothing until it seals one, and
    /// the state it then seals is bound to the params it was given.
    #[tokio::test]
    async fn the_params_are_hashed_only_when_a_state_is_sealed() {
        let key = RequestStateKey::random();
        let params = json!({"name": "t", "arguments": {"x": 1}, "_meta": {"k": 1}});
        let first = round(params.clone(), &key).unwrap();
        assert!(first.digest.get().is_none());
        let Outcome::InputRequired(_, state) = run_once(&first, &key).await else {
            panic!("expected input required")
        };
        assert_eq!(first.digest.get(), Some(&digest(Some(&params))));
        let mut retry = params.clone();
        retry["requestState"] = json!(state);
        assert!(round(retry, &key).is_ok());
        let mut other = json!({"name": "t", "arguments": {"x": 2}});
        other["requestState"] = json!(state);
        assert!(round(other, &key).is_err());
    }

    /// A `tools/call`'s params read typed make the same round as the same
    /// params as JSON: the same answers, the same digest (so a state
    /// sealed for one opens for the other), and the same params left for
    /// the handler; a bad state or bad answers fail alike.
    #[test]
    fn typed_params_make_the_round_json_ones_make() {
        use mcp_sdk::CallToolParams;
        let key = RequestStateKey::random();
        let sealed = |params: &Value| {
            seal(
                &key,
                None,
                StatePayload {
                    m: "tools/call".into(),
                    d: digest(Some(params)),
                    e: now_secs() + 60,
                    a: BTreeMap::from([("earlier".to_owned(), json!({"action": "decline"}))]),
                },
            )
        };
        let plain = json!({"name": "t", "arguments": {"x": 1}, "_meta": {"k": 1}, "z": [2]});
        let mut with_state = plain.clone();
        with_state["requestState"] = json!(sealed(&plain));
        with_state["inputResponses"] = json!({"now": {"action": "accept"}});
        let mut forged = plain.clone();
        forged["requestState"] = json!(sealed(&json!({"name": "t"})));
        let mut bad_answers = plain.clone();
        bad_answers["inputResponses"] = json!({"now": 1});
        let caps = ClientCapabilities::default();
        for params in [plain, with_state, forged, bad_answers] {
            for may_ask in [true, false] {
                let take = |params| {
                    InputRound::take_from(
                        "tools/call".into(),
                        params,
                        None,
                        &caps,
                        &key,
                        may_ask,
                        None,
                    )
                };
                let mut json = Params::Json(Some(params.clone()));
                let from_json = take(&mut json);
                let call: CallToolParams = serde_json::from_value(params.clone()).unwrap();
                let mut call = Params::Call(Box::new(call));
                let from_call = take(&mut call);
                match (from_json, from_call) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.digest(), b.digest(), "{params}");
                        assert_eq!(*lock(&a.answers), *lock(&b.answers), "{params}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b, "{params}"),
                    (a, b) => panic!("{params}: {:?} against {:?}", a.err(), b.err()),
                }
                assert_eq!(
                    json.into_json(),
                    call.into_json(),
                    "{params}: what the handler gets"
                );
            }
        }
    }

    #[test]
    fn an_expired_state_is_refused() {
        let key = RequestStateKey::random();
        let params = json!({"name": "t"});
        let state = seal(
            &key,
            None,
            StatePayload {
                m: "tools/call".into(),
                d: digest(Some(&params)),
                e: now_secs() - 1,
                a: BTreeMap::new(),
            },
        );
        let mut retry = params.clone();
        retry["requestState"] = json!(state);
        let err = round(retry, &key).err().unwrap();
        assert!(err.message.contains("expired"), "{}", err.message);
    }

    #[test]
    fn sentinel_header_values_decode() {
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_header_value("=?base64?!!?="), None);
    }
}
