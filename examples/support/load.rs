//! What the load examples (`gateway_load`, `gateway_soak`) share: the
//! checked `add` call, connecting a client, latency percentiles.
//!
//! Included with `#[path = "support/load.rs"] mod load;` (cargo takes only
//! `examples/*.rs` and `examples/*/main.rs` for examples, so this file is
//! not one).
#![allow(dead_code)] // each example uses its own part

use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{Client, ClientHandler, Era};
use serde_json::json;
use std::time::Duration;

/// The two operands of call `c` of client `s`: their sum, `s * 1_000_000 +
/// c`, is unique to the call, so an answer that reached the wrong call (or
/// twice) shows.
pub fn operands(s: u32, c: u32) -> (u64, u64) {
    (u64::from(s) * 1_000_000, u64::from(c))
}

/// A client of `url` in `era` with `handler`, handshake within 30 s.
pub async fn connect(url: &str, era: Era, handler: impl ClientHandler) -> Result<Client, String> {
    let transport = HttpTransport::new(url).map_err(|e| format!("{url}: {e}"))?;
    tokio::time::timeout(
        Duration::from_secs(30),
        Client::builder()
            .era(era)
            // A busy gateway may take its time to answer the era probe.
            .probe_timeout(Duration::from_secs(30))
            .handler(handler)
            .connect(transport),
    )
    .await
    .map_err(|_| format!("{url}: no handshake within 30 s"))?
    .map_err(|e| format!("{url}: {e}"))
}

/// One answer of the tool `tool` (the tools server's `add`, maybe behind a
/// prefix) for call `c` of client `s`: the sum, or why not.
pub async fn call_add(
    client: &Client,
    tool: &str,
    s: u32,
    c: u32,
    timeout: Duration,
) -> Result<u64, String> {
    let (a, b) = operands(s, c);
    let result = tokio::time::timeout(timeout, client.call_tool(tool, json!({"a": a, "b": b})))
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
        .map_err(|e| e.to_string())?;
    if result.is_error == Some(true) {
        return Err(format!("tool error: {:?}", result.content));
    }
    result
        .structured_content
        .as_ref()
        .and_then(|v| v["result"].as_u64())
        .ok_or_else(|| format!("no integer result in {:?}", result.structured_content))
}

/// Latencies of answered calls, for percentiles.
#[derive(Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Takes in `other`'s latencies.
    pub fn append(&mut self, mut other: Latencies) {
        self.0.append(&mut other.0);
    }

    /// The `p` quantile (0.5 for the median), zero when there are none.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
        sorted[i - 1]
    }
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
