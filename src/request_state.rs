//! The `requestState` key of replicas: the flag and variable that give every
//! process behind one load balancer the same secret, so that a multi
//! round-trip request (2026-07-28) may be answered on any of them.

use mcp_sdk_server::{RequestStateKey, SessionConfig};
use std::path::PathBuf;

/// The environment variable holding the secret itself (when no file is named).
pub const ENV: &str = "MCP_REQUEST_STATE_KEY";

/// The flag of every server and of the gateway.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RequestStateArgs {
    /// Seal `requestState` (the answers of a 2026-07-28 multi round-trip
    /// request) with the secret in this file, at least 32 bytes
    /// (`openssl rand -hex 32`). Replicas behind one load balancer need the
    /// same secret. Else from MCP_REQUEST_STATE_KEY; else a random key per
    /// process (one replica only).
    #[arg(long, value_name = "PATH")]
    pub request_state_key_file: Option<PathBuf>,
}

impl RequestStateArgs {
    /// The shared key the flag or [`ENV`] gives, `None` when neither is set;
    /// an error (naming where the secret came from, never the secret) when
    /// the file is unreadable or the secret too short.
    pub fn key(&self) -> Result<Option<RequestStateKey>, String> {
        let (secret, source) = match &self.request_state_key_file {
            Some(path) => {
                let secret = std::fs::read(path)
                    .map_err(|e| format!("--request-state-key-file {}: {e}", path.display()))?;
                (
                    secret,
                    format!("--request-state-key-file {}", path.display()),
                )
            }
            None => match std::env::var_os(ENV) {
                Some(secret) => (secret.into_encoded_bytes(), ENV.to_owned()),
                None => return Ok(None),
            },
        };
        RequestStateKey::from_secret(&secret)
            .map(Some)
            .map_err(|e| format!("{source}: {e}"))
    }

    /// The default session settings with the shared key, if one is given.
    pub fn session_config(&self) -> Result<SessionConfig, String> {
        let mut config = SessionConfig::default();
        if let Some(key) = self.key()? {
            config.request_state_key = key;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gives_the_key_and_a_bad_one_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("mcp-request-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, "a-secret-of-more-than-32-bytes-for-sure\n").unwrap();
        let short = dir.join("short");
        std::fs::write(&short, "s3cret\n").unwrap();
        let args = |path: &std::path::Path| RequestStateArgs {
            request_state_key_file: Some(path.to_owned()),
        };
        assert!(args(&good).key().unwrap().is_some());
        let error = args(&short).key().unwrap_err();
        assert!(
            error.contains("--request-state-key-file") && error.contains("6 bytes"),
            "{error}"
        );
        assert!(!error.contains("s3cret"), "never the secret: {error}");
        let error = args(&dir.join("absent")).key().unwrap_err();
        assert!(error.contains("absent"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
