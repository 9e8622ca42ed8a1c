//! Bounded HTTP for the verifiers: every answer within a time limit and a
//! size limit, so an issuer that hangs or answers megabytes of garbage
//! costs a refusal, never a stuck request or unbounded memory.

use serde_json::Value;
use std::time::Duration;

/// The largest JSON document taken from an issuer (256 KiB).
pub(super) const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// An HTTP client with a whole-request timeout.
pub(super) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // An issuer's documents are where its metadata says: no redirects.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The JSON object `request` answers with (200 only), or why not: in words
/// of ours, without the URL's query or anything the server said.
pub(super) async fn json(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let mut response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the request timed out".to_owned()
            } else {
                "the request failed".to_owned()
            }
        })?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!(
            "the answer was HTTP {}",
            response.status().as_u16()
        ));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err("the answer is too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "the answer broke off".to_owned())?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err("the answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err("the answer is not a JSON object".into()),
    }
}
