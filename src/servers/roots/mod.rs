//! Server 6, **roots**: file tools confined to the directories the client
//! exposes as its roots.
//!
//! In a session (revisions up to 2025-11-25) the server asks the client for
//! its roots (`roots/list`) when a tool first needs them, keeps them, and
//! forgets them when the client says they changed
//! (`notifications/roots/list_changed`), so the next call asks again. In the
//! stateless era (2026-07-28) there is no session to keep them for and no
//! such notification: every tool call asks for the roots afresh, as an input
//! request of a multi round-trip request, so a change shows on the next
//! call. Tools: `list_roots`, `list_directory`, `read_file` (text,
//! with `head`/`tail`), `search_files` (glob), `file_info`, and
//! `write_file` only when the server was started with `--allow-writes`.
//!
//! Every path is resolved and checked to stay inside a root: `..`, absolute
//! paths elsewhere and symbolic links that lead out are refused with a tool
//! error saying why. A client without the roots capability gets a tool
//! error explaining that it must offer roots.
//!
//! The server is a [`Router`]: its tools take the shared state, a hook
//! forgets a session's roots when they change (they are kept in the
//! session's extensions), and a guard explains a missing `write_file`; it
//! writes none of the `Server` trait by hand.

mod glob;
mod paths;

use super::ServerSpec;
use crate::servers::beneath::{OpenError, READ_TIMEOUT};
use glob::Glob;
use mcp_sdk::{Error, ErrorCode, Implementation, Tool, ToolAnnotations};
use mcp_sdk_server::router::{CallKind, Refusal, State};
use mcp_sdk_server::{NoArguments, Peer, RequestContext, Router, Structured};
use paths::{resolve, Intent, Roots, Target, Unusable};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Who this server is: id `"6"`, port 5006.
pub fn spec() -> ServerSpec {
    ServerSpec {
        id: "6",
        name: "roots",
        default_port: 5006,
        capabilities: &["roots"],
    }
}

/// The largest file `read_file` reads, and the most `write_file` writes.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// The most entries `list_directory` returns.
pub const MAX_LIST_ENTRIES: usize = 1000;
/// The most matches `search_files` returns.
pub const MAX_SEARCH_RESULTS: usize = 1000;
/// How many entries `search_files` looks at, at most.
pub const MAX_SEARCH_VISITS: usize = 50_000;
/// How deep `search_files` descends.
pub const MAX_SEARCH_DEPTH: usize = 32;

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct RootsConfig {
    /// Offer `write_file`.
    pub allow_writes: bool,
}

/// What the roots server's handlers share.
pub struct RootsState {
    /// Bumped by every `notifications/roots/list_changed`, so that an answer
    /// to a `roots/list` sent before it is not kept.
    epoch: AtomicU64,
}

/// The roots server: a [`Router`] of file tools; see the [module
/// documentation](self).
pub type RootsServer = Router<Arc<RootsState>>;

type Shared = State<Arc<RootsState>>;

/// The roots a session's client last listed, kept in the session's
/// extensions (session era only: a stateless request's extensions end with
/// the request).
#[derive(Clone)]
struct CachedRoots(Arc<Roots>);

/// Arguments naming a path.
#[derive(Debug, Deserialize, JsonSchema)]
struct PathArgs {
    /// A path relative to the root (see `root`), an absolute path inside a
    /// root, or a file:// URI. '..' is not allowed.
    path: String,
    /// The root that relative paths start from, by name, URI or path
    /// [default: the first root].
    #[serde(default)]
    root: Option<String>,
}

/// Arguments of `list_directory`.
#[derive(Debug, Deserialize, JsonSchema)]
struct ListDirArgs {
    /// The directory: relative to the root, absolute inside a root, or a
    /// file:// URI [default: the root itself].
    #[serde(default)]
    path: Option<String>,
    /// The root that relative paths start from, by name, URI or path
    /// [default: the first root].
    #[serde(default)]
    root: Option<String>,
}

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
struct ReadArgs {
    /// The file: relative to the root, absolute inside a root, or a
    /// file:// URI.
    path: String,
    /// The root that relative paths start from [default: the first root].
    #[serde(default)]
    root: Option<String>,
    /// Return only the first N lines.
    #[serde(default)]
    #[schemars(range(min = 1))]
    head: Option<u64>,
    /// Return only the last N lines.
    #[serde(default)]
    #[schemars(range(min = 1))]
    tail: Option<u64>,
}

/// Arguments of `search_files`.
#[derive(Debug, Deserialize, JsonSchema)]
struct SearchArgs {
    /// A glob: `*` and `?` (not across '/'), `[a-z]`, `**` (across '/').
    /// Without a '/', it matches file names at any depth (`*.rs`); with
    /// one, paths relative to the searched directory (`src/**/*.rs`).
    #[schemars(length(min = 1, max = 256))]
    pattern: String,
    /// The directory to search [default: the root itself].
    #[serde(default)]
    path: Option<String>,
    /// The root that relative paths start from [default: the first root].
    #[serde(default)]
    root: Option<String>,
    /// The most matches to return (1 to 1000) [default: 200].
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    max_results: Option<u64>,
}

/// Arguments of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
struct WriteArgs {
    /// The file: relative to the root, absolute inside a root, or a
    /// file:// URI. Its directory must exist.
    path: String,
    /// The text to write (replaces the file's contents).
    content: String,
    /// The root that relative paths start from [default: the first root].
    #[serde(default)]
    root: Option<String>,
}

/// A root, as `list_roots` reports it.
#[derive(Debug, Serialize, JsonSchema)]
struct RootInfo {
    /// The URI the client gave.
    uri: String,
    /// The client's name for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Its canonical path on disk.
    path: String,
    /// `directory` or `file`.
    kind: &'static str,
}

/// What `list_roots` answers.
#[derive(Debug, Serialize, JsonSchema)]
struct RootsList {
    /// The roots tools can work in.
    roots: Vec<RootInfo>,
    /// Roots the client listed that cannot be used here, and why.
    unusable: Vec<Unusable>,
}

/// One entry of a directory.
#[derive(Debug, Serialize, JsonSchema)]
struct DirEntry {
    /// Its name.
    name: String,
    /// `file`, `directory`, `symlink` or `other`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Its size in bytes (files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
}

/// What `list_directory` answers.
#[derive(Debug, Serialize, JsonSchema)]
struct DirListing {
    /// The directory's canonical path.
    path: String,
    /// Its entries, sorted by name.
    entries: Vec<DirEntry>,
    /// Whether there were more than 1000 entries (the rest left out).
    truncated: bool,
}

/// What `search_files` answers.
#[derive(Debug, Serialize, JsonSchema)]
struct SearchResult {
    /// The searched directory's canonical path.
    base: String,
    /// Matching paths, relative to `base`, with '/' separators.
    matches: Vec<String>,
    /// Whether the search stopped early (result or size limit).
    truncated: bool,
}

/// What `file_info` answers.
#[derive(Debug, Serialize, JsonSchema)]
struct FileInfo {
    /// The canonical path.
    path: String,
    /// `file`, `directory` or `other`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The size in bytes.
    size: u64,
    /// Whether the path as given is a symbolic link (to somewhere inside a root).
    symlink: bool,
    /// Last modification, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
    /// Creation, RFC 3339 UTC, where the system records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    /// Whether it is read-only.
    readonly: bool,
    /// The Unix permission bits, in octal (Unix only).
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<String>,
}

/// What `write_file` answers.
#[derive(Debug, Serialize, JsonSchema)]
struct WriteResult {
    /// The canonical path written.
    path: String,
    /// Bytes written.
    bytes: usize,
    /// Whether the file is new.
    created: bool,
}

type ToolResult<T> = Result<Structured<T>, String>;

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("the file operation failed: {e}")))
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// A roots server.
pub fn server(config: RootsConfig) -> RootsServer {
    let allow_writes = config.allow_writes;
    let read_only = ToolAnnotations::default()
        .with_read_only_hint(true)
        .with_open_world_hint(false);
    let router = Router::new()
        .with_state(Arc::new(RootsState {
            epoch: AtomicU64::new(0),
        }))
        .with_info(
            Implementation::new("mcp-reference-roots", env!("CARGO_PKG_VERSION"))
                .with_title("Roots reference server"),
        )
        .with_instructions(format!(
            "File tools confined to the client's roots: list_roots, list_directory, read_file, \
             search_files, file_info{}. Paths are relative to the first root unless an \
             argument `root` names another, or absolute inside a root.",
            if allow_writes {
                ", write_file"
            } else {
                " (writing is disabled)"
            }
        ))
        // A read-only server says why write_file is missing, to the model.
        .guard(move |call, _ctx| {
            if !allow_writes && call.kind() == CallKind::Tool && call.name() == "write_file" {
                return Err(Refusal::message(
                    "write_file is disabled: this server is read-only unless it is started \
                     with --allow-writes",
                ));
            }
            Ok(())
        })
        // Runs on the session's reading task: it must not wait for the
        // client, so it only forgets; the next tool call asks again.
        .on_roots_list_changed(|State(s): Shared, peer: Peer| async move {
            s.epoch.fetch_add(1, Ordering::AcqRel);
            peer.session_extensions().remove::<CachedRoots>();
        })
        .tool(
            Tool::named(
                "list_roots",
                "Lists the roots (directories or files) the client lets this server work in.",
            )
            .with_annotations(read_only.clone()),
            |State(s): Shared, _: NoArguments, ctx: RequestContext| async move {
                s.list_roots(&ctx).await
            },
        )
        .tool(
            Tool::named(
                "list_directory",
                "Lists a directory inside the roots: names, types and sizes.",
            )
            .with_annotations(read_only.clone()),
            |State(s): Shared, args: ListDirArgs, ctx: RequestContext| async move {
                s.list_directory(args, &ctx).await
            },
        )
        .tool(
            Tool::named(
                "read_file",
                "Reads a UTF-8 text file inside the roots (at most 10 MiB), whole or only \
                 its first (head) or last (tail) lines.",
            )
            .with_annotations(read_only.clone()),
            |State(s): Shared, args: ReadArgs, ctx: RequestContext| async move {
                s.read_file(args, &ctx).await
            },
        )
        .tool(
            Tool::named(
                "search_files",
                "Finds files and directories inside the roots whose names (or, for patterns \
                 with '/', relative paths) match a glob such as *.md or src/**/*.rs.",
            )
            .with_annotations(read_only.clone()),
            |State(s): Shared, args: SearchArgs, ctx: RequestContext| async move {
                s.search_files(args, &ctx).await
            },
        )
        .tool(
            Tool::named(
                "file_info",
                "Tells the type, size, times and permissions of a path inside the roots.",
            )
            .with_annotations(read_only),
            |State(s): Shared, args: PathArgs, ctx: RequestContext| async move {
                s.file_info(args, &ctx).await
            },
        );
    if !allow_writes {
        return router;
    }
    router.tool(
        Tool::named(
            "write_file",
            "Writes a UTF-8 text file inside the roots (at most 10 MiB), creating it or \
             replacing its contents. Its directory must exist.",
        )
        .with_annotations(
            ToolAnnotations::default()
                .with_read_only_hint(false)
                .with_destructive_hint(true)
                .with_idempotent_hint(true)
                .with_open_world_hint(false),
        ),
        |State(s): Shared, args: WriteArgs, ctx: RequestContext| async move {
            s.write_file(args, &ctx).await
        },
    )
}

impl RootsState {
    /// The client's roots: in a session, kept from an earlier call or asked
    /// for now; in a stateless request, asked for now (the first run of the
    /// handler ends here until the client has answered).
    async fn roots(&self, ctx: &RequestContext) -> Result<Arc<Roots>, String> {
        // Checked here, because a stateless request would otherwise end with
        // a protocol error (-32021) rather than a tool error the model reads.
        if ctx.client().is_none_or(|c| c.capabilities.roots.is_none()) {
            return Err(NO_ROOTS_CAPABILITY.to_owned());
        }
        // A stateless request has no session to keep the roots for, and no
        // notifications/roots/list_changed would tell when to forget them.
        let session = ctx.protocol_version().is_some_and(|v| v.is_session_era());
        if session {
            if let Some(CachedRoots(roots)) = ctx.session_extensions().get::<CachedRoots>() {
                return Ok(roots);
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let listed = ctx.list_roots().await.map_err(explain_roots_error)?;
        let roots = Arc::new(
            tokio::task::spawn_blocking(move || Roots::from_client(listed.roots))
                .await
                .map_err(|e| format!("could not look at the roots: {e}"))?,
        );
        if session && self.epoch.load(Ordering::Acquire) == epoch {
            ctx.session_extensions().insert(CachedRoots(roots.clone()));
        }
        Ok(roots)
    }

    /// The session's roots and `path` resolved in them.
    async fn target(
        &self,
        ctx: &RequestContext,
        path: &str,
        root: Option<&str>,
        intent: Intent,
    ) -> Result<(Arc<Roots>, Target), String> {
        let roots = self.roots(ctx).await?;
        let (r, path, root) = (roots.clone(), path.to_owned(), root.map(str::to_owned));
        let target = blocking(move || resolve(&r, &path, root.as_deref(), intent)).await?;
        Ok((roots, target))
    }

    async fn list_roots(&self, ctx: &RequestContext) -> ToolResult<RootsList> {
        let roots = self.roots(ctx).await?;
        Ok(Structured(RootsList {
            roots: roots
                .usable
                .iter()
                .map(|r| RootInfo {
                    uri: r.uri.clone(),
                    name: r.name.clone(),
                    path: display(&r.path),
                    kind: if r.is_file { "file" } else { "directory" },
                })
                .collect(),
            unusable: roots.unusable.clone(),
        }))
    }

    async fn list_directory(
        &self,
        args: ListDirArgs,
        ctx: &RequestContext,
    ) -> ToolResult<DirListing> {
        let path = args.path.as_deref().unwrap_or(".");
        let (_, target) = self
            .target(ctx, path, args.root.as_deref(), Intent::Existing)
            .await?;
        let shown = path.to_owned();
        blocking(move || {
            let dir = std::fs::read_dir(&target.canonical).map_err(|e| {
                if target.canonical.is_dir() {
                    format!("{shown:?} cannot be listed: {e}")
                } else {
                    format!("{shown:?} is not a directory")
                }
            })?;
            let mut entries = Vec::new();
            let mut truncated = false;
            for entry in dir.flatten() {
                if entries.len() == MAX_LIST_ENTRIES {
                    truncated = true;
                    break;
                }
                let Ok(ft) = entry.file_type() else { continue };
                let (kind, size) = if ft.is_symlink() {
                    ("symlink", None)
                } else if ft.is_dir() {
                    ("directory", None)
                } else if ft.is_file() {
                    ("file", entry.metadata().ok().map(|m| m.len()))
                } else {
                    ("other", None)
                };
                entries.push(DirEntry {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    kind,
                    size,
                });
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(Structured(DirListing {
                path: display(&target.canonical),
                entries,
                truncated,
            }))
        })
        .await
    }

    async fn read_file(&self, args: ReadArgs, ctx: &RequestContext) -> Result<String, String> {
        if args.head.is_some() && args.tail.is_some() {
            return Err("give head or tail, not both".to_owned());
        }
        let (roots, target) = self
            .target(ctx, &args.path, args.root.as_deref(), Intent::Existing)
            .await?;
        let shown = args.path.clone();
        let timed_out = format!(
            "reading {:?} took longer than {} s; try again later",
            args.path,
            READ_TIMEOUT.as_secs()
        );
        let read = blocking(move || {
            let file = paths::open_for_reading(&roots, &target).map_err(|e| match e {
                OpenError::NotRegular("a directory") => {
                    format!("{shown:?} is a directory; use list_directory")
                }
                e => format!("{shown:?} cannot be read: {e}"),
            })?;
            let meta = file.metadata().map_err(|e| e.to_string())?;
            if let Some(n) = args.head {
                // Only the lines asked for are read, so head works on big files.
                let mut out = String::new();
                let mut reader = std::io::BufReader::new(file.take(MAX_FILE_BYTES));
                for _ in 0..n {
                    let mut line = Vec::new();
                    if reader
                        .read_until(b'\n', &mut line)
                        .map_err(|e| e.to_string())?
                        == 0
                    {
                        break;
                    }
                    out.push_str(&String::from_utf8(line).map_err(|_| not_text(&shown))?);
                }
                return Ok(out);
            }
            if meta.len() > MAX_FILE_BYTES {
                return Err(format!(
                    "{shown:?} is {} bytes; read_file reads at most {MAX_FILE_BYTES} bytes \
                     (use head to read the beginning)",
                    meta.len()
                ));
            }
            let mut data = Vec::new();
            file.take(MAX_FILE_BYTES)
                .read_to_end(&mut data)
                .map_err(|e| format!("{shown:?} cannot be read: {e}"))?;
            let text = String::from_utf8(data).map_err(|_| not_text(&shown))?;
            Ok(match args.tail {
                Some(n) => tail(&text, n as usize).to_owned(),
                None => text,
            })
        });
        tokio::time::timeout(READ_TIMEOUT, read)
            .await
            .unwrap_or(Err(timed_out))
    }

    async fn search_files(
        &self,
        args: SearchArgs,
        ctx: &RequestContext,
    ) -> ToolResult<SearchResult> {
        let glob = Glob::new(&args.pattern).map_err(|e| format!("invalid pattern: {e}"))?;
        let path = args.path.as_deref().unwrap_or(".");
        let (roots, target) = self
            .target(ctx, path, args.root.as_deref(), Intent::Existing)
            .await?;
        let limit = args
            .max_results
            .unwrap_or(200)
            .clamp(1, MAX_SEARCH_RESULTS as u64) as usize;
        let shown = path.to_owned();
        blocking(move || {
            let base = target.canonical;
            if !base.is_dir() {
                return Err(format!("{shown:?} is not a directory"));
            }
            let mut matches = Vec::new();
            let mut truncated = false;
            let mut visits = 0usize;
            let mut stack = vec![(base.clone(), String::new(), 0usize)];
            'walk: while let Some((dir, prefix, depth)) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    visits += 1;
                    if visits > MAX_SEARCH_VISITS {
                        truncated = true;
                        break 'walk;
                    }
                    let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                        continue;
                    };
                    let rel = format!("{prefix}{name}");
                    let Ok(ft) = entry.file_type() else { continue };
                    if ft.is_symlink() {
                        // Links count only when they stay inside the roots,
                        // and are never descended into.
                        match std::fs::canonicalize(entry.path()) {
                            Ok(t) if roots.containing(&t).is_some() => {}
                            _ => continue,
                        }
                    }
                    if glob.matches(&rel) {
                        if matches.len() == limit {
                            truncated = true;
                            break 'walk;
                        }
                        matches.push(rel.clone());
                    }
                    if ft.is_dir() && depth + 1 < MAX_SEARCH_DEPTH {
                        stack.push((entry.path(), format!("{rel}/"), depth + 1));
                    }
                }
            }
            matches.sort();
            Ok(Structured(SearchResult {
                base: display(&base),
                matches,
                truncated,
            }))
        })
        .await
    }

    async fn file_info(&self, args: PathArgs, ctx: &RequestContext) -> ToolResult<FileInfo> {
        let (_, target) = self
            .target(ctx, &args.path, args.root.as_deref(), Intent::Existing)
            .await?;
        let shown = args.path.clone();
        blocking(move || {
            let meta = std::fs::metadata(&target.canonical)
                .map_err(|e| format!("{shown:?} cannot be examined: {e}"))?;
            let symlink = std::fs::symlink_metadata(&target.lexical)
                .is_ok_and(|m| m.file_type().is_symlink());
            let kind = if meta.is_file() {
                "file"
            } else if meta.is_dir() {
                "directory"
            } else {
                "other"
            };
            #[cfg(unix)]
            let permissions = {
                use std::os::unix::fs::PermissionsExt;
                Some(format!("{:o}", meta.permissions().mode() & 0o7777))
            };
            #[cfg(not(unix))]
            let permissions = None;
            Ok(Structured(FileInfo {
                path: display(&target.canonical),
                kind,
                size: meta.len(),
                symlink,
                modified: meta.modified().ok().map(super::utc_timestamp),
                created: meta.created().ok().map(super::utc_timestamp),
                readonly: meta.permissions().readonly(),
                permissions,
            }))
        })
        .await
    }

    async fn write_file(&self, args: WriteArgs, ctx: &RequestContext) -> ToolResult<WriteResult> {
        if args.content.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "the content is {} bytes; write_file writes at most {MAX_FILE_BYTES} bytes",
                args.content.len()
            ));
        }
        let (_, target) = self
            .target(ctx, &args.path, args.root.as_deref(), Intent::Create)
            .await?;
        let shown = args.path.clone();
        blocking(move || {
            let existing = std::fs::metadata(&target.canonical).ok();
            if existing.as_ref().is_some_and(|m| m.is_dir()) {
                return Err(format!("{shown:?} is a directory"));
            }
            std::fs::write(&target.canonical, args.content.as_bytes())
                .map_err(|e| format!("{shown:?} cannot be written: {e}"))?;
            Ok(Structured(WriteResult {
                path: display(&target.canonical),
                bytes: args.content.len(),
                created: existing.is_none(),
            }))
        })
        .await
    }
}

fn not_text(path: &str) -> String {
    format!("{path:?} is not UTF-8 text (a binary file?); read_file reads text only")
}

/// The last `n` lines of `text` (a final newline does not start a line).
fn tail(text: &str, n: usize) -> &str {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut start = body.len();
    for _ in 0..n {
        match body[..start].rfind('\n') {
            Some(i) => start = i,
            None => return text,
        }
    }
    &text[start + 1..]
}

/// What a client without the roots capability is told.
const NO_ROOTS_CAPABILITY: &str =
    "this client does not support roots (it did not declare the roots capability), so there \
     is no directory this server may work in; use a client that offers roots and add a folder \
     to them";

/// A failed `roots/list`, for people.
fn explain_roots_error(e: Error) -> String {
    if e.code == ErrorCode::METHOD_NOT_FOUND {
        NO_ROOTS_CAPABILITY.to_owned()
    } else if e.code == ErrorCode::REQUEST_TIMEOUT {
        format!(
            "the client did not answer roots/list in time: {}",
            e.message
        )
    } else {
        format!("the client could not list its roots: {}", e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_takes_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\nc\n", 5), "a\nb\nc\n");
        assert_eq!(tail("a\nb\nc\n", 1), "c\n");
        assert_eq!(tail("", 3), "");
    }
}
