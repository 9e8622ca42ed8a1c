//! [`FileTokenStore`]: tokens and registrations in a JSON file that only
//! its owner may read.

use super::auth_error;
use super::store::{Registration, TokenStore, Tokens};
use crate::ClientError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The largest token store file read: 16 MiB.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A [`TokenStore`] in one JSON file, written with owner-only permissions
/// (0600, in a 0700 directory, on Unix). A file that others can read, or
/// that is not a token store, is refused with an error naming it, never
/// overwritten.
#[derive(Debug)]
pub struct FileTokenStore {
    path: PathBuf,
    /// One reader or writer at a time within the process.
    guard: Mutex<()>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    #[serde(default)]
    tokens: HashMap<String, Tokens>,
    #[serde(default)]
    registrations: HashMap<String, Registration>,
}

impl FileTokenStore {
    /// A store in the file at `path` (created when first written).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileTokenStore {
            path: path.into(),
            guard: Mutex::new(()),
        }
    }

    /// A store in the user's configuration directory:
    /// `$XDG_CONFIG_HOME/{app}/tokens.json`, or `~/.config/{app}/tokens.json`.
    pub fn in_config_dir(app: &str) -> Result<Self, ClientError> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .ok_or_else(|| {
                auth_error("neither XDG_CONFIG_HOME nor HOME is set: no place for the token store")
            })?;
        Ok(Self::new(base.join(app).join("tokens.json")))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Contents, ClientError> {
        let path = &self.path;
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
            Err(e) => {
                return Err(auth_error(format!(
                    "could not open the token store {}: {e}",
                    path.display()
                )))
            }
        };
        let metadata = file.metadata().map_err(|e| {
            auth_error(format!(
                "could not read the token store {}: {e}",
                path.display()
            ))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(auth_error(format!(
                    "the token store {} can be read or written by others (mode {mode:o}); refused, as its tokens may have leaked: delete it, or make it private (chmod 600) if you trust it",
                    path.display()
                )));
            }
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(auth_error(format!(
                "the token store {} is larger than {MAX_FILE_BYTES} bytes; refused",
                path.display()
            )));
        }
        let mut body = Vec::new();
        use std::io::Read;
        file.take(MAX_FILE_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| {
                auth_error(format!(
                    "could not read the token store {}: {e}",
                    path.display()
                ))
            })?;
        serde_json::from_slice(&body).map_err(|e| {
            auth_error(format!(
                "the token store {} is corrupt ({e}); refused: delete it to sign in again",
                path.display()
            ))
        })
    }

    /// Writes the whole store: to a private file beside it, then renamed
    /// over it, so that a crash leaves the old one or the new one.
    fn write(&self, contents: &Contents) -> Result<(), ClientError> {
        let path = &self.path;
        let failed = |e: std::io::Error| {
            auth_error(format!(
                "could not write the token store {}: {e}",
                path.display()
            ))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(failed)?;
        }
        let body = serde_json::to_vec_pretty(contents)
            .map_err(|e| auth_error(format!("could not encode the token store: {e}")))?;
        let mut temporary = path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temporary).map_err(failed)?;
        #[cfg(unix)]
        {
            // A leftover temporary file may have had another mode.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
        file.write_all(&body).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&temporary, path).map_err(failed)
    }

    fn update(&self, change: impl FnOnce(&mut Contents)) -> Result<(), ClientError> {
        let _guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        let mut contents = self.read()?;
        change(&mut contents);
        self.write(&contents)
    }

    fn view<T>(&self, look: impl FnOnce(&Contents) -> T) -> Result<T, ClientError> {
        let _guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        Ok(look(&self.read()?))
    }
}

impl TokenStore for FileTokenStore {
    fn tokens(&self, server: &str) -> Result<Option<Tokens>, ClientError> {
        self.view(|c| c.tokens.get(server).cloned())
    }

    fn save_tokens(&self, server: &str, tokens: &Tokens) -> Result<(), ClientError> {
        self.update(|c| {
            c.tokens.insert(server.to_owned(), tokens.clone());
        })
    }

    fn remove_tokens(&self, server: &str) -> Result<(), ClientError> {
        self.update(|c| {
            c.tokens.remove(server);
        })
    }

    fn registration(&self, issuer: &str) -> Result<Option<Registration>, ClientError> {
        self.view(|c| c.registrations.get(issuer).cloned())
    }

    fn save_registration(&self, issuer: &str, client: &Registration) -> Result<(), ClientError> {
        self.update(|c| {
            c.registrations.insert(issuer.to_owned(), client.clone());
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    fn scratch(name: &str) -> PathBuf {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::env::temp_dir().join(format!("mcp-token-store-{name}-{hex}"))
    }

    fn tokens() -> Tokens {
        Tokens {
            issuer: "https://as.example.com".into(),
            resource: "https://mcp.example.com/mcp".into(),
            access_token: Secret::new("tok-SECRET"),
            refresh_token: Some(Secret::new("ref-SECRET")),
            scope: Some("a b".into()),
            expires_at: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)),
            dpop: false,
        }
    }

    #[test]
    fn keeps_tokens_and_registrations_across_instances_in_a_private_file() {
        let dir = scratch("roundtrip");
        let path = dir.join("nested").join("tokens.json");
        let store = FileTokenStore::new(&path);
        assert_eq!(store.tokens("https://mcp.example.com/mcp").unwrap(), None);
        store
            .save_tokens("https://mcp.example.com/mcp", &tokens())
            .unwrap();
        let client = Registration {
            client_id: "c".into(),
            client_secret: Some(Secret::new("s")),
            token_endpoint_auth_method: None,
        };
        store
            .save_registration("https://as.example.com", &client)
            .unwrap();
        let again = FileTokenStore::new(&path);
        assert_eq!(
            again.tokens("https://mcp.example.com/mcp").unwrap(),
            Some(tokens())
        );
        assert_eq!(
            again.registration("https://as.example.com").unwrap(),
            Some(client)
        );
        assert_eq!(
            again.registration("https://other.example.com").unwrap(),
            None
        );
        again.remove_tokens("https://mcp.example.com/mcp").unwrap();
        assert_eq!(store.tokens("https://mcp.example.com/mcp").unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_refused_and_left_alone() {
        let dir = scratch("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens.json");
        std::fs::write(&path, b"{ not json").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let store = FileTokenStore::new(&path);
        let err = store.tokens("x").unwrap_err().to_string();
        assert!(
            err.contains("is corrupt") && err.contains("tokens.json"),
            "{err}"
        );
        assert!(store.save_tokens("x", &tokens()).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("open");
        let path = dir.join("tokens.json");
        let store = FileTokenStore::new(&path);
        store.save_tokens("x", &tokens()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.tokens("x").unwrap_err().to_string();
        assert!(err.contains("mode 644") && err.contains("refused"), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
