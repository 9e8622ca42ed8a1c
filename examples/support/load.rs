//! What the load examples (`gateway_load`, `replica_load`, `gateway_soak`)
//! share: the checked `add` call, connecting a client, latency
//! percentiles, and a checked run of many clients with its table row.
//!
//! Included with `#[path = "support/load.rs"] mod load;` (cargo takes only
//! `examples/*.rs` and `examples/*/main.rs` for examples, so this file is
//! not one).
#![allow(dead_code)] // each example uses its own part

use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{Client, ClientHandler, Era};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

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

/// Calls per client made before timing starts (connections, caches).
pub const WARMUP: u32 = 20;

/// The size of a run: `sessions` clients, each making `calls` calls one
/// at a time, all clients at once.
pub struct Load {
    pub sessions: u32,
    pub calls: u32,
    /// The longest one call may take before it counts as lost.
    pub call_timeout: Duration,
}

/// What one run measured.
pub struct Outcome {
    pub calls: usize,
    pub ok: usize,
    pub lost: usize,
    pub wrong: usize,
    pub duplicated: usize,
    pub elapsed: Duration,
    /// Latencies of the answered calls.
    pub latencies: Latencies,
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        self.latencies.percentile(p)
    }

    /// Whether every answer came, right and once.
    pub fn all_right(&self) -> bool {
        self.ok == self.calls
    }
}

/// `load.sessions` clients of `url`, each making [`WARMUP`] calls of
/// `tool` (the tools server's `add`), then `load.calls` timed ones, all
/// clients at once; every answer checked.
pub async fn run(url: &str, tool: &str, era: Era, load: &Load) -> Result<Outcome, String> {
    let clients =
        futures_util::future::try_join_all((0..load.sessions).map(|_| connect(url, era, ())))
            .await?;
    let timeout = load.call_timeout;
    for (s, client) in clients.iter().enumerate() {
        for c in 0..WARMUP {
            call_add(client, tool, s as u32, c, timeout)
                .await
                .map_err(|e| format!("warm-up call of {tool} at {url}: {e}"))?;
        }
    }
    let started = Instant::now();
    let per_client =
        futures_util::future::join_all(clients.iter().enumerate().map(|(s, client)| async move {
            let s = s as u32;
            let mut answers = Vec::with_capacity(load.calls as usize);
            for c in 0..load.calls {
                let t = Instant::now();
                let answer = call_add(client, tool, s, c, timeout).await;
                answers.push((c, answer, t.elapsed()));
            }
            (s, answers)
        }))
        .await;
    let elapsed = started.elapsed();
    for client in &clients {
        client.close().await;
    }
    let mut outcome = Outcome {
        calls: (load.sessions * load.calls) as usize,
        ok: 0,
        lost: 0,
        wrong: 0,
        duplicated: 0,
        elapsed,
        latencies: Latencies::default(),
        first_error: None,
    };
    let mut seen = HashSet::new();
    for (s, answers) in per_client {
        for (c, answer, latency) in answers {
            let (a, b) = operands(s, c);
            match answer {
                Ok(sum) if !seen.insert(sum) => outcome.duplicated += 1,
                Ok(sum) if sum != a + b => {
                    outcome.wrong += 1;
                    outcome
                        .first_error
                        .get_or_insert(format!("client {s} call {c}: {a} + {b} answered {sum}"));
                }
                Ok(_) => {
                    outcome.ok += 1;
                    outcome.latencies.push(latency);
                }
                Err(e) => {
                    outcome.lost += 1;
                    outcome
                        .first_error
                        .get_or_insert(format!("client {s} call {c}: {e}"));
                }
            }
        }
    }
    Ok(outcome)
}

/// The header of the table [`row`] fills.
pub fn header() {
    println!(
        "{:<16} {:>7} {:>7} {:>5} {:>6} {:>5} {:>10} {:>9} {:>9}",
        "", "calls", "ok", "lost", "wrong", "dup", "calls/s", "p50 ms", "p99 ms"
    );
}

/// One run as a row of the table.
pub fn row(label: &str, o: &Outcome) {
    println!(
        "{label:<16} {:>7} {:>7} {:>5} {:>6} {:>5} {:>10.0} {:>9.3} {:>9.3}",
        o.calls,
        o.ok,
        o.lost,
        o.wrong,
        o.duplicated,
        o.per_sec(),
        ms(o.percentile(0.50)),
        ms(o.percentile(0.99)),
    );
}
