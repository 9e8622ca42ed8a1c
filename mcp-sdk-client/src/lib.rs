//! Model Context Protocol client SDK. The typed `Client` lands with issue 3; for now this crate re-exports the protocol core.

pub use mcp_sdk as protocol;
