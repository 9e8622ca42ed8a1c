//! Small helpers every layer uses: decoding params, encoding results,
//! reading the progress token, locking, starting work.

use mcp_sdk::{Error, ProgressToken};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::SystemTime;

/// Decodes params, treating absent params as `{}`; a mismatch is -32602.
pub(crate) fn parse<P: DeserializeOwned>(params: Option<Value>) -> Result<P, Error> {
    let value = params.unwrap_or_else(|| Value::Object(Default::default()));
    serde_json::from_value(value).map_err(Error::invalid_params)
}

/// Encodes a result; a failure is -32603.
pub(crate) fn to_value<T: Serialize>(value: T) -> Result<Value, Error> {
    serde_json::to_value(value)
        .map_err(|e| Error::internal(format_args!("the result did not serialize: {e}")))
}

/// The `progressToken` in a request's `_meta`.
pub(crate) fn progress_token(meta: Option<&Map<String, Value>>) -> Option<ProgressToken> {
    let token = meta?.get(mcp_sdk::PROGRESS_TOKEN_META_KEY)?;
    serde_json::from_value(token.clone()).ok()
}

/// A map of ids looked up on every call's path (sessions by id, running
/// requests by id): foldhash, seeded per process, in place of SipHash, which
/// took 2% of a call. Flooding is not a concern: session ids are the
/// server's own random ones, and request ids go only into their own
/// session's map, bounded by its limit of requests.
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Runs `work` here up to its first wait, and in a task of its own from
/// there: work that is done at once (most requests, most callbacks) costs
/// no task, and what it does without waiting happens before the caller
/// goes on.
pub(crate) fn start_here(mut work: Pin<Box<dyn Future<Output = ()> + Send>>) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if work.as_mut().poll(&mut cx).is_pending() {
        // The task polls it again at once, with a waker that works.
        tokio::spawn(work);
    }
}

/// Whether this runs on a Tokio runtime of one thread (`stdio::run`).
pub(crate) fn on_one_thread() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}

/// Locks a mutex, going on if a panicking thread poisoned it: the maps it
/// guards stay consistent because every critical section is a single call.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// 128 random bits as 32 hex digits: not guessable, as the spec requires
/// where tasks are not bound to an authorization context.
pub(crate) fn random_task_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 in UTC, to the millisecond.
pub(crate) fn timestamp(t: SystemTime) -> String {
    mcp_sdk::time::rfc3339_millis(t)
}

/// The text of a failed tool result, for a task's status message (both kinds of
/// task say why their tool failed the same way).
pub(crate) fn failed_tool_text(result: &Value) -> String {
    let texts: Vec<&str> = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect();
    if texts.is_empty() {
        "the tool reported an error".to_owned()
    } else {
        texts.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_random_hex() {
        let (a, b) = (random_task_id(), random_task_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
