//! The replica load example (`examples/replica_load.rs`) at a tiny size, so
//! that it keeps working: one replica in memory, one on Redis and two
//! sharing Redis, each behind HAProxy; it exits 0 only when every answer
//! was right, and once.
//!
//! It runs the example binaries next to itself, so build them first:
//! `cargo test` builds the examples when run without `--test`; otherwise run
//! `cargo build --example replica_load --example replica_server` before
//! `cargo test --test replica_load`. It needs HAProxy and `redis-server`,
//! and skips, saying so, without them (unless CI requires them).

mod support;

use std::process::Stdio;
use support::example;

#[tokio::test]
async fn a_tiny_replica_load_answers_every_call_right_and_once() {
    let test = "a_tiny_replica_load_answers_every_call_right_and_once";
    if support::haproxy::available(test).is_none() {
        return;
    }
    // Started and stopped at once: only to skip (or fail, when required)
    // here, as the example would fail without it.
    let Some(redis) = support::own_redis::OwnRedis::start(test).await else {
        return;
    };
    drop(redis);
    let output = tokio::process::Command::new(example("replica_load"))
        .args(["--sessions", "3", "--calls", "20", "--replicas", "2"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), output)
        .await
        .expect("the load ends")
        .expect("replica_load runs (cargo build --example replica_load first)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the load failed:\n{stdout}\n{stderr}"
    );
    for run in ["in-memory x1", "redis x1", "redis x2"] {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(run))
            .unwrap_or_else(|| panic!("{run} ran:\n{stdout}"));
        // calls, ok, lost, wrong, duplicated
        let counts: Vec<&str> = row[run.len()..].split_whitespace().take(5).collect();
        assert_eq!(counts, ["60", "60", "0", "0", "0"], "{row}");
    }
    assert!(stdout.contains("Redis commands per call: "), "{stdout}");
    assert!(
        stdout.contains("replica_load: every answer right and once"),
        "{stdout}"
    );
}
