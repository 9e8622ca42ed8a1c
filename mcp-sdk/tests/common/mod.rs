//! Shared by the integration tests: where the official MCP schemas are.

#![allow(dead_code)]

use std::path::PathBuf;

/// The revisions whose schemas we test against, oldest first.
pub const REVISIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// The session-era revisions (the ones the `types` module implements).
pub const SESSION_REVISIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The directory of the official schemas: `$MCP_SCHEMA_DIR`, or the copy
/// next to the repository. `None` (after printing why) when it is absent,
/// in which case the calling test returns without failing.
pub fn schema_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MCP_SCHEMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/mcp-schema"
            ))
        });
    if dir.join("2025-11-25").join("schema.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: MCP schemas not found at {} (set MCP_SCHEMA_DIR)",
            dir.display()
        );
        None
    }
}
