//! The reference system built on the `mcp-sdk` crates.
//!
//! Library code for the example binaries under `examples/`, kept here so that
//! tests can drive it in-process.

pub mod conformance;
pub mod echo;
pub mod gateway;
pub mod host;
pub mod replica_args;
pub mod request_state;
pub mod servers;
pub mod system;
pub mod telemetry;

/// Logs to stderr (never stdout, which stdio servers use for protocol
/// messages), at the level given by `RUST_LOG` or `LOG_LEVEL` (default
/// `info`); see [`init_logging`].
pub fn init_tracing() {
    init_logging("info");
}

/// Logs to stderr at `RUST_LOG` or `LOG_LEVEL`, else `default_level`.
///
/// `LOG_FORMAT=json` writes one JSON object per line (`timestamp`, `level`,
/// `target`, `message` and the event's fields, as the seed's services
/// did); anything else is plain text. Colour codes are written only when
/// stderr is a terminal, so a parent that reads a child's stderr (as
/// `reference_system` does) gets plain lines.
pub fn init_logging(default_level: &str) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(log_filter(
            default_level,
        )))
        .with_writer(std::io::stderr);
    let _ = if json_logs() {
        builder.json().flatten_event(true).try_init()
    } else {
        use std::io::IsTerminal;
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}

/// The log filter: `RUST_LOG`, else `LOG_LEVEL`, else `default_level`.
fn log_filter(default_level: &str) -> String {
    std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("LOG_LEVEL"))
        .unwrap_or_else(|_| default_level.to_owned())
}

/// Writes a status line of a process (its address, what it created, why
/// it cannot start) on stderr, whatever the log filter: plain, or with
/// `LOG_FORMAT=json` as one JSON object like the logs' (`timestamp`,
/// `level`, `message`), so tools reading stderr find it in either format.
pub fn status(level: tracing::Level, message: impl std::fmt::Display) {
    if json_logs() {
        let line = serde_json::json!({
            "timestamp": mcp_sdk::time::rfc3339_millis(std::time::SystemTime::now()),
            "level": level.as_str(),
            "message": message.to_string(),
        });
        eprintln!("{line}");
    } else {
        eprintln!("{message}");
    }
}

/// Whether `LOG_FORMAT` asks for JSON lines.
pub fn json_logs() -> bool {
    std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
