//! The reference system built on the `mcp-sdk` crates.
//!
//! Library code for the example binaries under `examples/`, kept here so that
//! tests can drive it in-process.

pub mod conformance;
pub mod echo;
pub mod gateway;
pub mod host;
pub mod servers;
pub mod system;

/// Logs to stderr (never stdout, which stdio servers use for protocol
/// messages), at the level given by `RUST_LOG` or `LOG_LEVEL` (default
/// `info`).
pub fn init_tracing() {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("LOG_LEVEL"))
        .unwrap_or_else(|_| "info".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
