//! The served directory: walking it, telling MIME types, and resolving a
//! `file://` URI to a file inside it (never outside).
//!
//! A path is checked here, then opened with
//! [`open_beneath`](crate::servers::beneath::open_beneath), which follows
//! no symbolic link swapped in since and reads only regular files.

use super::uri::{file_uri_to_path, path_to_file_uri};
use crate::servers::beneath::{open_beneath, OpenError};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

/// How deep the walk descends below the served directory.
pub const MAX_DEPTH: usize = 16;
/// How many files the walk lists at most.
pub const MAX_FILES: usize = 10_000;

/// A file found in the served directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Its `file://` URI (the root's canonical path joined with `rel`).
    pub uri: String,
    /// Its path relative to the root, with `/` separators.
    pub rel: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it last changed.
    pub modified: Option<SystemTime>,
}

/// Whether a file or directory name is hidden (a dot-file); hidden entries
/// are neither listed nor served.
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Lists the regular files below `root` (which must be canonical), sorted by
/// URI: hidden entries are skipped, symbolic links are followed only to
/// files that stay inside `root` (never into directories, so no cycles).
pub fn scan(root: &Path) -> Vec<FileEntry> {
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if files.len() >= MAX_FILES {
                break;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue; // not UTF-8: no sensible URI
            };
            if is_hidden(&name) {
                continue;
            }
            let path = entry.path();
            let rel = format!("{prefix}{name}");
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    stack.push((path, format!("{rel}/"), depth + 1));
                }
                continue;
            }
            if file_type.is_symlink() {
                match std::fs::canonicalize(&path) {
                    Ok(target) if inside(root, &target) => {}
                    _ => continue, // dangling or pointing out of the root
                }
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let Some(uri) = path_to_file_uri(&path) else {
                continue;
            };
            files.push(FileEntry {
                uri,
                rel,
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    }
    files.sort_by(|a, b| a.uri.cmp(&b.uri));
    files
}

/// Whether the canonical `path` is `root` or below it, without hidden
/// components on the way.
fn inside(root: &Path, path: &Path) -> bool {
    match path.strip_prefix(root) {
        Ok(rel) => rel.components().all(|c| match c {
            Component::Normal(n) => !n.to_str().is_none_or(is_hidden),
            _ => false,
        }),
        Err(_) => false,
    }
}

/// Why a URI does not name a served file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotServed(pub String);

/// A file a URI resolved to.
#[derive(Debug)]
pub struct Resolved {
    /// The URI in the form listings use (re-encoded, lexical path).
    pub uri: String,
    /// The canonical path of the file (symbolic links resolved).
    pub canonical: PathBuf,
}

/// Resolves a `file://` URI to a regular file inside `root` (canonical):
/// no `..`, no hidden components, no symbolic link that leads out.
pub fn resolve(root: &Path, uri: &str) -> Result<Resolved, NotServed> {
    let path = file_uri_to_path(uri).map_err(NotServed)?;
    let lexical = lexical_under(root, &path)
        .ok_or_else(|| NotServed("the path is not inside the served directory".to_owned()))?;
    let canonical =
        std::fs::canonicalize(&lexical).map_err(|_| NotServed("no such file".to_owned()))?;
    if !inside(root, &canonical) {
        return Err(NotServed(
            "it is a symbolic link leading out of the served directory".to_owned(),
        ));
    }
    let meta = std::fs::metadata(&canonical).map_err(|e| NotServed(e.to_string()))?;
    if !meta.is_file() {
        return Err(NotServed(
            "it is not a regular file (a directory?)".to_owned(),
        ));
    }
    let uri = path_to_file_uri(&lexical).ok_or_else(|| NotServed("not UTF-8".to_owned()))?;
    Ok(Resolved { uri, canonical })
}

/// `path` rebuilt below `root` if, read literally, it is there: only normal,
/// visible components after the root (`.` is dropped, `..` refused).
fn lexical_under(root: &Path, path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let rel = path.strip_prefix(root).ok()?;
    let mut out = root.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(n) if !is_hidden(n.to_str()?) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (out != root).then_some(out)
}

/// Why a file could not be opened or read.
#[derive(Debug)]
pub enum ReadError {
    /// It is bigger than the limit.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
    /// What was opened is not a regular file; says what it is ("a FIFO
    /// (named pipe)").
    NotRegular(&'static str),
    /// A symbolic link appeared on the checked path before it was opened,
    /// or the path left the root.
    Moved,
    /// The operating system refused.
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge { size } => write!(f, "it is {size} bytes, too large"),
            ReadError::NotRegular(what) => OpenError::NotRegular(what).fmt(f),
            ReadError::Moved => OpenError::Moved.fmt(f),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<OpenError> for ReadError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::NotRegular(what) => ReadError::NotRegular(what),
            OpenError::Moved => ReadError::Moved,
            OpenError::Io(e) => ReadError::Io(e),
        }
    }
}

/// Reads at most `limit` bytes of the file at `canonical` (checked: inside
/// `root`, no hidden parts), opened with `open_beneath`; a bigger file
/// (even one that grew since it was listed) is [`ReadError::TooLarge`].
pub fn read_capped(root: &Path, canonical: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let rel = canonical.strip_prefix(root).map_err(|_| ReadError::Moved)?;
    let file = open_beneath(root, rel).map_err(ReadError::from)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > limit {
        return Err(ReadError::TooLarge { size });
    }
    let mut data = Vec::with_capacity(size as usize);
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(ReadError::Io)?;
    if data.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: data.len() as u64,
        });
    }
    Ok(data)
}

/// The MIME type of a file name, from its extension; `None` when unknown.
pub fn mime_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "js" | "mjs" => "text/javascript",
        "ts" => "text/x-typescript",
        "rs" => "text/x-rust",
        "py" => "text/x-python",
        "c" | "h" => "text/x-c",
        "sh" => "text/x-shellscript",
        "json" => "application/json",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/vnd.microsoft.icon",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "bin" => "application/octet-stream",
        _ => return None,
    })
}

/// Whether contents of this MIME type are text.
pub fn is_textual(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || matches!(
            mime,
            "application/json" | "application/xml" | "application/yaml" | "application/toml"
        )
}

/// Guesses the MIME type of contents whose name said nothing: UTF-8
/// without NUL bytes is `text/plain`, anything else
/// `application/octet-stream`.
pub fn sniff(data: &[u8]) -> &'static str {
    if !data.contains(&0) && std::str::from_utf8(data).is_ok() {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_come_from_extensions() {
        assert_eq!(mime_type("a/b/README.MD"), Some("text/markdown"));
        assert_eq!(mime_type("pixel.png"), Some("image/png"));
        assert_eq!(mime_type("data.json"), Some("application/json"));
        assert_eq!(mime_type("Makefile"), None);
        assert_eq!(mime_type("x.unknownext"), None);
        assert!(is_textual("application/json"));
        assert!(is_textual("image/svg+xml"));
        assert!(!is_textual("image/png"));
        assert_eq!(sniff(b"plain words"), "text/plain");
        assert_eq!(sniff(b"\x89PNG\0"), "application/octet-stream");
    }

    #[test]
    fn lexical_resolution_stays_below_the_root() {
        let root = Path::new("/srv/data");
        assert_eq!(
            lexical_under(root, Path::new("/srv/data/./a/b.txt")),
            Some(PathBuf::from("/srv/data/a/b.txt"))
        );
        assert_eq!(
            lexical_under(root, Path::new("/srv/data/../etc/passwd")),
            None
        );
        assert_eq!(lexical_under(root, Path::new("/srv/data/a/../../x")), None);
        assert_eq!(lexical_under(root, Path::new("/srv/data/.env")), None);
        assert_eq!(lexical_under(root, Path::new("/srv/database/x")), None);
        assert_eq!(lexical_under(root, Path::new("/srv/data")), None);
        assert_eq!(lexical_under(root, Path::new("relative/x")), None);
    }

    proptest::proptest! {
        /// Whatever path a URI names, the lexical resolution is below the
        /// root or refused: no `..`, no hidden component, nothing outside.
        #[test]
        fn lexical_resolution_never_leaves_the_root(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just("..".to_owned()),
                    proptest::prelude::Just(".".to_owned()),
                    proptest::prelude::Just("".to_owned()),
                    proptest::prelude::Just(".hidden".to_owned()),
                    proptest::prelude::Just("srv".to_owned()),
                    proptest::prelude::Just("root".to_owned()),
                    "[a-z.]{1,4}",
                ],
                0..8,
            ),
            absolute in proptest::prelude::any::<bool>(),
        ) {
            let root = Path::new("/srv/root");
            let text = parts.join("/");
            let path = if absolute { format!("/{text}") } else { text };
            if let Some(out) = lexical_under(root, Path::new(&path)) {
                proptest::prop_assert!(out.starts_with(root) && out != root, "{path} gave {out:?}");
                let rel = out.strip_prefix(root).unwrap();
                for c in rel.components() {
                    let Component::Normal(name) = c else {
                        return Err(proptest::test_runner::TestCaseError::fail(format!("{path} gave {out:?}")));
                    };
                    proptest::prop_assert!(!name.to_str().unwrap().starts_with('.'), "{path} gave {out:?}");
                }
            }
        }
    }
}
