//! The reference system built on the `mcp-sdk` crates.
//!
//! Library code for the example binaries under `examples/`, kept here so that
//! tests can drive it in-process.
