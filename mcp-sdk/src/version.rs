//! MCP protocol revisions and version negotiation.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A revision of the MCP specification, ordered oldest to newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProtocolVersion {
    /// The first revision: HTTP+SSE transport, no Streamable HTTP.
    #[serde(rename = "2024-11-05")]
    V2024_11_05,
    /// Streamable HTTP, JSON-RPC batching, audio content, tool annotations.
    #[serde(rename = "2025-03-26")]
    V2025_03_26,
    /// Structured tool output, elicitation, resource links; batching removed.
    #[serde(rename = "2025-06-18")]
    V2025_06_18,
    /// Icons, URL elicitation, sampling with tools, SSE polling, tasks.
    #[serde(rename = "2025-11-25")]
    V2025_11_25,
    /// The stateless era: no handshake, `_meta` per request, `server/discover`.
    #[serde(rename = "2026-07-28")]
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every revision, oldest first.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];

    /// The revisions that begin with an `initialize` handshake, oldest first.
    pub const SESSION_ERA: [ProtocolVersion; 4] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
    ];

    /// The newest session-era revision.
    pub const LATEST_SESSION: ProtocolVersion = ProtocolVersion::V2025_11_25;

    /// The date string of this revision, as it goes on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether this revision starts with `initialize` (sessions) rather than
    /// carrying everything in each request's `_meta`.
    pub fn is_session_era(self) -> bool {
        self < ProtocolVersion::V2026_07_28
    }

    /// The version a server answers `initialize` with, as the lifecycle spec
    /// says: the one the client asked for if we support it, otherwise the
    /// newest one we support (the client then decides whether to go on).
    ///
    /// ```
    /// use mcp_sdk::ProtocolVersion as V;
    /// let ours = V::SESSION_ERA;
    /// assert_eq!(V::negotiate("2025-03-26", &ours), V::V2025_03_26);
    /// assert_eq!(V::negotiate("1999-01-01", &ours), V::V2025_11_25);
    /// ```
    pub fn negotiate(requested: &str, supported: &[ProtocolVersion]) -> ProtocolVersion {
        requested
            .parse::<ProtocolVersion>()
            .ok()
            .filter(|v| supported.contains(v))
            .or_else(|| supported.iter().copied().max())
            .unwrap_or(ProtocolVersion::LATEST_SESSION)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string was not a protocol revision we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MCP protocol version {0:?} (known: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)")]
pub struct UnknownVersion(pub String);

impl FromStr for ProtocolVersion {
    type Err = UnknownVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProtocolVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}
