//! What the benches share: rounds of load, alternating between ours and a
//! baseline, and the summary of one side's rounds. Included by each bench
//! with `#[path]` (a bench is a crate of its own).

// Not every bench reads every part (the in-process bench has no server
// process whose cost it could read).
#![allow(dead_code)]

use std::time::Duration;

/// One round of calls against one side: their rate, every latency, and
/// what the server spent on them (`C`, such as CPU time per call), where
/// known.
pub struct Round<C> {
    pub rps: f64,
    pub latencies: Vec<Duration>,
    pub cost: Option<C>,
}

/// One side's rounds summed up: the median round's rate and cost, and the
/// percentiles of all rounds' latencies.
pub struct Stats<C> {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub cost: Option<C>,
}

/// The median round's rate, the median round's cost as `weight` orders
/// costs, and the latency percentiles of every round together. A round
/// that landed on a busy moment of the machine is then left out, rather
/// than averaged in.
pub fn summarize<C: Copy>(rounds: Vec<Round<C>>, weight: impl Fn(&C) -> f64) -> Stats<C> {
    let mut rates: Vec<f64> = rounds.iter().map(|r| r.rps).collect();
    rates.sort_by(f64::total_cmp);
    let mut costs: Vec<C> = rounds.iter().filter_map(|r| r.cost).collect();
    costs.sort_by(|a, b| weight(a).total_cmp(&weight(b)));
    let mut all: Vec<Duration> = rounds.into_iter().flat_map(|r| r.latencies).collect();
    all.sort_unstable();
    Stats {
        rps: rates[rates.len() / 2],
        p50: all[all.len() / 2],
        p99: all[all.len() * 99 / 100],
        cost: costs.get(costs.len() / 2).copied(),
    }
}
