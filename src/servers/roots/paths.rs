//! The client's roots as directories on disk, and the resolution of a
//! tool's path argument to a place inside one of them (never outside).

use crate::servers::beneath::{open_beneath, OpenError};
use crate::servers::resources::uri::file_uri_to_path;
use mcp_sdk::Root;
use serde::Serialize;
use std::path::{Component, Path, PathBuf};

/// A root the server can work in.
#[derive(Debug, Clone)]
pub struct RootDir {
    /// The URI the client gave.
    pub uri: String,
    /// The name the client gave, if any.
    pub name: Option<String>,
    /// The path the URI names, as written.
    pub given: PathBuf,
    /// The same path, canonical (symbolic links resolved).
    pub path: PathBuf,
    /// Whether the root is a single file rather than a directory.
    pub is_file: bool,
}

/// A root the client listed that the server cannot use, and why.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Unusable {
    /// The URI the client gave.
    pub uri: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// The client's roots, sorted into usable and unusable.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    /// Roots on this machine that exist.
    pub usable: Vec<RootDir>,
    /// Everything else the client listed.
    pub unusable: Vec<Unusable>,
}

impl Roots {
    /// Sorts the client's roots: `file://` URIs of existing files or
    /// directories are usable.
    pub fn from_client(roots: Vec<Root>) -> Roots {
        let mut out = Roots::default();
        for root in roots {
            let given = match file_uri_to_path(&root.uri) {
                Ok(p) if p.is_absolute() => p,
                Ok(_) => {
                    out.unusable.push(Unusable {
                        uri: root.uri,
                        reason: "the path is not absolute".to_owned(),
                    });
                    continue;
                }
                Err(reason) => {
                    out.unusable.push(Unusable {
                        uri: root.uri,
                        reason,
                    });
                    continue;
                }
            };
            match std::fs::canonicalize(&given).and_then(|p| Ok((std::fs::metadata(&p)?, p))) {
                Ok((meta, path)) => out.usable.push(RootDir {
                    uri: root.uri,
                    name: root.name,
                    given,
                    path,
                    is_file: meta.is_file(),
                }),
                Err(e) => out.unusable.push(Unusable {
                    uri: root.uri,
                    reason: format!("{} cannot be opened: {e}", given.display()),
                }),
            }
        }
        out
    }

    /// The root a `root` argument names (by name, URI or path), or the
    /// first root.
    pub fn select(&self, which: Option<&str>) -> Result<&RootDir, String> {
        let Some(which) = which else {
            return self.usable.first().ok_or_else(no_roots);
        };
        self.usable
            .iter()
            .find(|r| {
                r.name.as_deref() == Some(which)
                    || r.uri == which
                    || r.given == Path::new(which)
                    || r.path == Path::new(which)
            })
            .ok_or_else(|| {
                format!(
                    "no root is called {which:?}; the roots are: {}",
                    self.describe()
                )
            })
    }

    /// The roots, for messages.
    pub fn describe(&self) -> String {
        if self.usable.is_empty() {
            return "(none)".to_owned();
        }
        self.usable
            .iter()
            .map(|r| match &r.name {
                Some(n) => format!("{n} ({})", r.path.display()),
                None => r.path.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The root `canonical` lies in, if any.
    pub fn containing(&self, canonical: &Path) -> Option<&RootDir> {
        self.usable.iter().find(|r| r.contains(canonical))
    }
}

fn no_roots() -> String {
    "the client lists no usable roots: add a folder to the client's roots first".to_owned()
}

impl RootDir {
    /// Whether the canonical path `p` is this root or inside it.
    pub fn contains(&self, p: &Path) -> bool {
        if self.is_file {
            p == self.path
        } else {
            p.starts_with(&self.path)
        }
    }

    /// Whether `p`, read literally, is this root or inside it.
    fn contains_lexically(&self, p: &Path) -> bool {
        if self.is_file {
            p == self.path || p == self.given
        } else {
            p.starts_with(&self.path) || p.starts_with(&self.given)
        }
    }
}

/// A path argument resolved inside a root.
#[derive(Debug, Clone)]
pub struct Target {
    /// The path as the request named it (lexical, for messages and
    /// `symlink_metadata`).
    pub lexical: PathBuf,
    /// The canonical path: inside a root.
    pub canonical: PathBuf,
}

/// What a resolution is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// The path must exist.
    Existing,
    /// The path may be new (its parent must exist).
    Create,
}

/// Resolves a tool's `path` argument: a `file://` URI, an absolute path
/// inside a root, or a path relative to the selected root. `..`, paths
/// outside every root and symbolic links that lead out are refused with a
/// message for people.
pub fn resolve(
    roots: &Roots,
    path: &str,
    root: Option<&str>,
    intent: Intent,
) -> Result<Target, String> {
    if path.contains('\0') {
        return Err("the path contains a NUL byte".to_owned());
    }
    let raw = if path
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("file://"))
    {
        file_uri_to_path(path)?
    } else {
        PathBuf::from(path)
    };
    if raw.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "{path:?} contains '..', which is not allowed: name a path inside one of the roots \
             ({})",
            roots.describe()
        ));
    }
    let lexical = if raw.is_absolute() {
        if !roots.usable.iter().any(|r| r.contains_lexically(&raw)) {
            return Err(outside(path, roots));
        }
        raw
    } else {
        let base = roots.select(root)?;
        let rel: PathBuf = raw
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if base.is_file && rel.components().next().is_some() {
            return Err(format!(
                "the root {} is a single file; name it with an empty path or \".\"",
                base.path.display()
            ));
        }
        base.path.join(rel)
    };
    let canonical = match std::fs::canonicalize(&lexical) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && intent == Intent::Create => {
            // A new file: its parent must exist inside a root, and the name
            // must not be a dangling symbolic link (writing would follow it).
            if std::fs::symlink_metadata(&lexical).is_ok() {
                return Err(format!(
                    "{path:?} is a symbolic link to a missing target; refusing to write through it"
                ));
            }
            let (Some(parent), Some(name)) = (lexical.parent(), lexical.file_name()) else {
                return Err(format!("{path:?} names no file"));
            };
            let parent = std::fs::canonicalize(parent).map_err(|_| {
                format!(
                    "the directory {} does not exist; create it first",
                    parent.display()
                )
            })?;
            parent.join(name)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{path:?} does not exist"));
        }
        Err(e) => return Err(format!("{path:?} cannot be opened: {e}")),
    };
    if roots.containing(&canonical).is_none() {
        return Err(format!(
            "{path:?} is a symbolic link (or is inside one) that leads outside the roots; \
             refusing to follow it"
        ));
    }
    Ok(Target { lexical, canonical })
}

/// Opens a resolved target for reading without following any link below
/// its root, and only if it is a regular file (see
/// [`open_beneath`]): a link swapped in after [`resolve`] checked the path
/// makes this fail rather than read outside the roots.
pub fn open_for_reading(roots: &Roots, target: &Target) -> Result<std::fs::File, OpenError> {
    let root = roots
        .containing(&target.canonical)
        .ok_or(OpenError::Moved)?;
    if root.is_file {
        let (Some(dir), Some(name)) = (root.path.parent(), root.path.file_name()) else {
            return Err(OpenError::Moved);
        };
        return open_beneath(dir, Path::new(name));
    }
    let rel = target
        .canonical
        .strip_prefix(&root.path)
        .map_err(|_| OpenError::Moved)?;
    open_beneath(&root.path, rel)
}

fn outside(path: &str, roots: &Roots) -> String {
    format!(
        "{path:?} is outside the client's roots, so this server may not touch it; \
         the roots are: {}",
        roots.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_and_outside_paths_are_refused_before_touching_the_disk() {
        let roots = Roots {
            usable: vec![RootDir {
                uri: "file:///srv/project".into(),
                name: Some("project".into()),
                given: "/srv/project".into(),
                path: "/srv/project".into(),
                is_file: false,
            }],
            unusable: vec![],
        };
        let err = resolve(&roots, "a/../../etc", None, Intent::Existing).unwrap_err();
        assert!(err.contains("'..'"), "{err}");
        let err = resolve(&roots, "/etc/passwd", None, Intent::Existing).unwrap_err();
        assert!(err.contains("outside the client's roots"), "{err}");
        let err = resolve(&roots, "/srv/projectx/a", None, Intent::Existing).unwrap_err();
        assert!(err.contains("outside"), "{err}");
        let err = resolve(&roots, "x", Some("other"), Intent::Existing).unwrap_err();
        assert!(err.contains("no root is called"), "{err}");
        let err = resolve(&Roots::default(), "x", None, Intent::Existing).unwrap_err();
        assert!(err.contains("no usable roots"), "{err}");
    }
}
