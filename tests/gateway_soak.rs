//! The soak with faults (`examples/gateway_soak.rs`) at a tiny size, so
//! that it keeps working: both eras, streams cut, the tools server killed
//! and restarted, a client that stops reading; it exits 0 only when every
//! answer and every promised notification was right, and once, and when
//! the gateway holds no more sessions, streams or subscriptions after each
//! era than at the start.
//!
//! It runs the example binaries next to itself, so build them first:
//! `cargo test` builds the examples when run without `--test`; otherwise run
//! `cargo build --examples` before `cargo test --test gateway_soak`.
#![cfg(target_os = "linux")] // the soak reads /proc for the gateway's memory

mod support;

use std::process::Stdio;
use support::example;

#[tokio::test]
async fn a_tiny_soak_with_faults_passes_in_both_eras_twice() {
    let output = tokio::process::Command::new(example("gateway_soak"))
        .args(["--sessions", "3", "--calls", "60", "--note-every", "5"])
        .args(["--cut-every", "50", "--kill-every", "0.2", "--down", "100"])
        .args(["--settle", "10", "--rounds", "2"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), output)
        .await
        .expect("the soak ends")
        .expect("gateway_soak runs (cargo build --examples first)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the soak failed:\n{stdout}\n{stderr}"
    );
    for era in ["era session:", "era stateless:"] {
        assert!(stdout.contains(era), "{era} ran:\n{stdout}");
    }
    // A leak, told by what the gateway holds rather than by its memory:
    // after each era its /health counts (sessions, listen streams, peers,
    // subscribed URIs, downstream watches, calls in flight) are back to
    // those at the start, and they were counted at all.
    let start = line_after(&stdout, "gateway holds at start: ");
    for key in ["sessions 0", "listeners 0", "peers 0", "subscribedUris 0"] {
        assert!(start.contains(key), "{key} at the start:\n{stdout}");
    }
    assert!(start.contains("resources.watching 0"), "{stdout}");
    let back = stdout.matches("gateway back to its baseline").count();
    assert_eq!(back, 4, "back to the baseline after each era:\n{stdout}");
    assert!(stdout.contains("gateway_soak: passed"), "{stdout}");
}

/// The rest of the line of `text` that starts with `prefix`.
fn line_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{text}"))
}
