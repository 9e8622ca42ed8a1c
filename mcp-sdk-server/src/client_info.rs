//! [`ClientInfo`]: what a client says about itself.

use mcp_sdk::{ClientCapabilities, Implementation, ProtocolVersion};

/// What the client told us in `initialize`.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The revision both sides speak.
    pub protocol_version: ProtocolVersion,
    /// What the client can do (sampling, roots, elicitation...).
    pub capabilities: ClientCapabilities,
    /// The client's name and version.
    pub implementation: Implementation,
}
