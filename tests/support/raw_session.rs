//! A session-era session opened with raw HTTP requests, so that a test
//! says which replica gets each request and sees the status it answers.

use super::{post_raw, PATIENCE};
use serde_json::{json, Value};

/// An HTTP status and the body that came with it.
pub type Answer = (u16, String);

/// What a 503 of the SDK's session store says.
pub const STORE_GONE: &str =
    "Service Unavailable: the sessions shared by this server's replicas cannot be reached";

/// Asserts that `answer` is the 503 of a session store out of reach.
pub fn assert_store_gone(answer: &Answer, what: &str) {
    assert_eq!(answer.0, 503, "{what}: {answer:?}");
    assert!(answer.1.contains(STORE_GONE), "{what}: {answer:?}");
}

/// A session opened with raw requests, so that its id is known.
pub struct RawSession {
    http: reqwest::Client,
    /// The session id the server gave.
    pub id: String,
}

impl RawSession {
    /// `initialize` (and `initialized`) at `url`; the refusal if refused.
    pub async fn initialize(url: &str) -> Result<RawSession, Answer> {
        let http = reqwest::Client::new();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}});
        let (status, text, id) = post_raw(&http, url, None, init).await;
        let (200, Some(id)) = (status, id) else {
            return Err((status, text));
        };
        let raw = RawSession { http, id };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, text, _) = post_raw(&raw.http, url, Some(&raw.id), initialized).await;
        if status != 202 {
            return Err((status, text));
        }
        Ok(raw)
    }

    /// `method` with `params` at `url`, in this session.
    pub async fn request(&self, url: &str, method: &str, params: Value) -> Answer {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, text, _) = post_raw(&self.http, url, Some(&self.id), body).await;
        (status, text)
    }

    /// `tools/call` of `tool`, without arguments, at `url`.
    pub async fn call(&self, url: &str, tool: &str) -> Answer {
        self.request(url, "tools/call", json!({"name": tool, "arguments": {}}))
            .await
    }

    /// `DELETE` of the session at `url`: the status.
    pub async fn delete(&self, url: &str) -> u16 {
        let request = self.http.delete(url).header("mcp-session-id", &self.id);
        tokio::time::timeout(PATIENCE, request.send())
            .await
            .expect("an answer in time")
            .expect("the server answers")
            .status()
            .as_u16()
    }
}
