//! Server 1, **resources**: a directory served as `file://` resources, and
//! in-memory notes (`notes://{name}`) written with the `write_note` tool.
//!
//! - `resources/list` pages through the directory's files (hidden
//!   dot-files left out) and the notes, sorted by URI, with MIME types from
//!   the file extension, sizes and last-modified times.
//! - `resources/read` answers text files as text and everything else as a
//!   base64 blob; files above the size cap (10 MiB by default) are refused
//!   with a message saying so. A URI that names nothing served answers
//!   -32002 (resource not found, which revision 2026-07-28 numbers -32602;
//!   `data.uri` names it in both); nothing outside the directory is ever
//!   read: paths are canonicalized and symbolic links that lead out are
//!   refused.
//! - `resources/subscribe`: `notifications/resources/updated` when a
//!   subscribed file or note changes; every session hears
//!   `notifications/resources/list_changed` when files appear or vanish (the
//!   directory is polled, by default every second) or a new note is written.
//! - Stateless clients (revision 2026-07-28) have no sessions and no
//!   `resources/subscribe`: they hear the same changes on a
//!   `subscriptions/listen` stream (`resourcesListChanged`, and
//!   `resourceSubscriptions` naming URIs as `resources/list` writes them),
//!   fed by the router's [`Announcer`].
//!
//! The server is a [`Router`]: the notes are a resource template, the files
//! a fallback reader, both listed by a lister; a subscription hook checks
//! that what is subscribed to exists and keys it by the URI listings use;
//! the router keeps the sessions and subscriptions, and its [`Announcer`]
//! tells them (and stateless listeners) of changes. It writes none of the
//! `Server` trait by hand.

mod files;
pub mod uri;

use super::ServerSpec;
use files::{FileEntry, NotServed, ReadError};
use mcp_sdk::{
    Annotations, Error, ErrorCode, Implementation, ReadResourceResult, Resource, ResourceContents,
    ResourceTemplate, SubscribeParams, Tool, ToolAnnotations,
};
use mcp_sdk_server::router::{Announcer, State};
use mcp_sdk_server::{Peer, ResourceRequest, Router, Structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

/// Who this server is: id `"1"`, port 5001.
pub fn spec() -> ServerSpec {
    ServerSpec {
        id: "1",
        name: "resources",
        default_port: 5001,
        capabilities: &["resources"],
    }
}

/// The largest file `resources/read` sends by default: 10 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// The default number of resources per `resources/list` page.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The longest note, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// How many notes the server keeps at most.
pub const MAX_NOTES: usize = 256;

const NOTES_SCHEME: &str = "notes://";

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ResourcesConfig {
    /// The directory to serve.
    pub dir: PathBuf,
    /// Resources per `resources/list` page.
    pub page_size: usize,
    /// The largest file `resources/read` sends, in bytes.
    pub max_file_bytes: u64,
    /// How often the directory is checked for changes.
    pub poll_interval: Duration,
}

impl ResourcesConfig {
    /// Serves `dir` with the defaults: 50 per page, 10 MiB files, polled
    /// every second.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ResourcesConfig {
            dir: dir.into(),
            page_size: DEFAULT_PAGE_SIZE,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// What the resources server's handlers and its watcher share.
pub struct ResourcesState {
    root: PathBuf,
    config: ResourcesConfig,
    notes: Mutex<BTreeMap<String, String>>,
    /// Tells sessions (those subscribed, for updates) and stateless
    /// listeners of changes.
    announcer: Announcer,
    /// The directory as last seen: URI → (size, modified).
    snapshot: Mutex<HashMap<String, (u64, Option<SystemTime>)>>,
    watching: AtomicBool,
}

/// The resources server: a [`Router`] over a directory and the notes; see
/// the [module documentation](self).
pub type ResourcesServer = Router<Arc<ResourcesState>>;

type Shared = State<Arc<ResourcesState>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Arguments of `write_note`.
#[derive(Debug, Deserialize, JsonSchema)]
struct WriteNoteArgs {
    /// The note's name: 1 to 64 letters, digits, '.', '_' or '-', starting
    /// with a letter or digit. The note is then the resource notes://NAME.
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    name: String,
    /// The note's text (at most 64 KiB); replaces the note if it exists.
    text: String,
}

/// What `write_note` answers.
#[derive(Debug, Serialize, JsonSchema)]
struct WriteNoteResult {
    /// The note's URI.
    uri: String,
    /// Whether the note is new (false: it replaced one).
    created: bool,
    /// The note's size in bytes.
    bytes: usize,
}

/// Whether `name` is a valid note name.
fn valid_note_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Serves `config.dir`, which must exist and be a directory. Called within
/// a Tokio runtime, the server starts watching the directory at once;
/// otherwise at the first session or subscription, so stateless listeners
/// of a server made outside a runtime hear no file changes.
///
/// # Errors
/// The directory cannot be served (it does not exist, or is not a
/// directory).
pub fn server(config: ResourcesConfig) -> std::io::Result<ResourcesServer> {
    let root = std::fs::canonicalize(&config.dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot serve {}: {e}", config.dir.display()),
        )
    })?;
    if !root.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("cannot serve {}: not a directory", root.display()),
        ));
    }
    let snapshot = snapshot_of(&files::scan(&root));
    let mut notes = BTreeMap::new();
    notes.insert(
        "welcome".to_owned(),
        "Notes live in memory while the server runs. Write one with the \
         write_note tool; read it as notes://NAME."
            .to_owned(),
    );
    let base = Router::new();
    let page_size = config.page_size;
    let state = Arc::new(ResourcesState {
        root,
        config,
        notes: Mutex::new(notes),
        announcer: base.announcer().clone(),
        snapshot: Mutex::new(snapshot),
        watching: AtomicBool::new(false),
    });
    // Stateless listeners never initialize or subscribe, the other moments
    // the watcher starts, so start it now when we can.
    if tokio::runtime::Handle::try_current().is_ok() {
        state.start_watching();
    }
    let instructions = format!(
        "The files of {} are resources (file:// URIs); notes are resources notes://NAME, \
         written with the write_note tool. Subscribe to a resource to hear when it changes \
         (resources/subscribe, or resourceSubscriptions in subscriptions/listen).",
        state.root.display()
    );
    Ok(base
        .with_state(state)
        .with_info(
            Implementation::new("mcp-reference-resources", env!("CARGO_PKG_VERSION"))
                .with_title("Resources reference server"),
        )
        .with_instructions(instructions)
        .with_page_size(page_size)
        // Files and notes come and go; the tool list does not change.
        .map_capabilities(|mut caps| {
            if let Some(resources) = caps.resources.as_mut() {
                resources.list_changed = Some(true);
            }
            caps
        })
        .tool(
            Tool::named(
                "write_note",
                "Creates or replaces an in-memory note, readable as the resource notes://NAME. \
                 Subscribers of the note are told it changed.",
            )
            .with_annotations(
                ToolAnnotations::default()
                    .with_read_only_hint(false)
                    .with_destructive_hint(true)
                    .with_idempotent_hint(true)
                    .with_open_world_hint(false),
            ),
            |State(s): Shared, args: WriteNoteArgs| async move { s.write_note(args).await },
        )
        .resource_template(
            ResourceTemplate::new("notes://{name}", "note")
                .with_title("Notes".to_owned())
                .with_description(
                    "In-memory notes by name; create or replace one with the write_note tool."
                        .to_owned(),
                )
                .with_mime_type("text/markdown".to_owned()),
            |State(s): Shared, req: ResourceRequest| async move { s.read_note(&req.uri) },
        )
        .resource_fallback(|State(s): Shared, req: ResourceRequest| async move {
            if req.uri.starts_with(NOTES_SCHEME) {
                return Err(not_found(&req.uri, "not a valid note name"));
            }
            s.read_file(&req.uri).await
        })
        .resource_lister(|State(s): Shared| async move { s.list().await })
        .on_subscribe(|State(s): Shared, p: SubscribeParams| async move {
            let key = s.subscription_key(&p.uri).await?;
            s.start_watching();
            Ok::<_, Error>(key)
        })
        .on_initialized(|State(s): Shared, _: Peer| async move { s.start_watching() }))
}

impl ResourcesState {
    /// The canonical path of the served directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn snapshot_of(files: &[FileEntry]) -> HashMap<String, (u64, Option<SystemTime>)> {
    files
        .iter()
        .map(|f| (f.uri.clone(), (f.size, f.modified)))
        .collect()
}

impl ResourcesState {
    async fn scan(&self) -> Vec<FileEntry> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || files::scan(&root))
            .await
            .unwrap_or_default()
    }

    async fn write_note(&self, args: WriteNoteArgs) -> Result<Structured<WriteNoteResult>, String> {
        if !valid_note_name(&args.name) {
            return Err(format!(
                "{:?} is not a valid note name: use 1 to 64 letters, digits, '.', '_' or '-', \
                 starting with a letter or digit",
                args.name
            ));
        }
        if args.text.len() > MAX_NOTE_BYTES {
            return Err(format!(
                "the note is {} bytes; notes hold at most {MAX_NOTE_BYTES} bytes",
                args.text.len()
            ));
        }
        let bytes = args.text.len();
        let created = {
            let mut notes = lock(&self.notes);
            if !notes.contains_key(&args.name) && notes.len() >= MAX_NOTES {
                return Err(format!(
                    "there are already {MAX_NOTES} notes, the most this server keeps; \
                     replace an existing one instead"
                ));
            }
            notes.insert(args.name.clone(), args.text).is_none()
        };
        let uri = format!("{NOTES_SCHEME}{}", args.name);
        if created {
            self.notify_list_changed().await;
        }
        self.notify_updated(&uri).await;
        Ok(Structured(WriteNoteResult {
            uri,
            created,
            bytes,
        }))
    }

    /// Tells the sessions subscribed to `key` (a listing URI), and the
    /// stateless listeners subscribed to it, that it changed.
    async fn notify_updated(&self, key: &str) {
        self.announcer.resource_updated(key).await;
    }

    /// Tells every session and stateless listener that the list of
    /// resources changed.
    async fn notify_list_changed(&self) {
        self.announcer.resource_list_changed().await;
    }

    /// Every file and note, as resources.
    async fn list(&self) -> Vec<Resource> {
        let mut all: Vec<Resource> = self
            .scan()
            .await
            .iter()
            .map(|f| self.file_resource(f))
            .collect();
        all.extend(lock(&self.notes).iter().map(|(name, text)| {
            let mut r = Resource::new(format!("{NOTES_SCHEME}{name}"), name)
                .with_title(format!("Note: {name}"))
                .with_mime_type("text/markdown");
            r.size = Some(text.len() as u64);
            r
        }));
        all
    }

    /// Starts polling the directory, once. Must run within a Tokio runtime.
    fn start_watching(self: &Arc<Self>) {
        if self.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        let interval = self.config.poll_interval.max(Duration::from_millis(50));
        tokio::spawn(watch(weak, interval));
    }

    /// Compares the directory with the last snapshot and notifies.
    async fn poll_once(&self) {
        let now = snapshot_of(&self.scan().await);
        let (changed, list_changed) = {
            let mut before = lock(&self.snapshot);
            let mut changed: Vec<String> = now
                .iter()
                .filter(|(uri, v)| before.get(*uri).is_some_and(|old| old != *v))
                .map(|(uri, _)| uri.clone())
                .collect();
            let vanished = before.keys().filter(|uri| !now.contains_key(*uri));
            changed.extend(vanished.cloned());
            let list_changed =
                now.len() != before.len() || now.keys().any(|uri| !before.contains_key(uri));
            *before = now;
            (changed, list_changed)
        };
        if list_changed {
            self.notify_list_changed().await;
        }
        for uri in changed {
            self.notify_updated(&uri).await;
        }
    }

    fn file_resource(&self, f: &FileEntry) -> Resource {
        let mut r = Resource::new(&f.uri, &f.rel);
        r.mime_type = files::mime_type(&f.rel).map(str::to_owned);
        r.size = Some(f.size);
        r.annotations = f
            .modified
            .map(|t| Annotations::default().with_last_modified(super::utc_timestamp(t)));
        r
    }

    fn read_note(&self, uri: &str) -> Result<ReadResourceResult, Error> {
        let name = &uri[NOTES_SCHEME.len()..];
        let text = lock(&self.notes)
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(uri, "no note has this name"))?;
        Ok(ReadResourceResult::text(uri, "text/markdown", text))
    }

    async fn read_file(&self, uri: &str) -> Result<ReadResourceResult, Error> {
        let root = self.root.clone();
        let limit = self.config.max_file_bytes;
        let owned = uri.to_owned();
        let read = tokio::time::timeout(
            crate::servers::beneath::READ_TIMEOUT,
            tokio::task::spawn_blocking(move || {
                let resolved = files::resolve(&root, &owned).map_err(Err)?;
                let data = files::read_capped(&root, &resolved.canonical, limit).map_err(Ok)?;
                Ok::<_, Result<ReadError, NotServed>>((resolved, data))
            }),
        )
        .await
        .map_err(|_| {
            Error::internal(format_args!(
                "reading {uri} took longer than {} s; try again later",
                crate::servers::beneath::READ_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| Error::internal(format_args!("the read failed: {e}")))?;
        let (resolved, data) = match read {
            Ok(v) => v,
            Err(Err(NotServed(reason))) => return Err(not_found(uri, &reason)),
            Err(Ok(ReadError::TooLarge { size })) => {
                return Err(Error::new(
                    ErrorCode::INVALID_PARAMS,
                    format!(
                        "{uri} is {size} bytes, more than the {limit} bytes this server sends \
                         (start it with a larger --max-file-size to serve it)"
                    ),
                )
                .with_data(serde_json::json!({"uri": uri, "size": size, "limit": limit})))
            }
            Err(Ok(e @ (ReadError::NotRegular(_) | ReadError::Moved))) => {
                return Err(not_found(uri, &e.to_string()))
            }
            Err(Ok(ReadError::Io(e))) => {
                return Err(Error::internal(format_args!("cannot read {uri}: {e}")))
            }
        };
        let mime = files::mime_type(&resolved.uri).unwrap_or_else(|| files::sniff(&data));
        let contents = if files::is_textual(mime) {
            match String::from_utf8(data) {
                Ok(text) => ResourceContents::text(uri, Some(mime.to_owned()), text),
                Err(e) => ResourceContents::blob(
                    uri,
                    Some(mime.to_owned()),
                    uri::base64_encode(e.as_bytes()),
                ),
            }
        } else {
            ResourceContents::blob(uri, Some(mime.to_owned()), uri::base64_encode(&data))
        };
        Ok(ReadResourceResult::new(vec![contents]))
    }

    /// The key a subscription to `uri` is kept under: the URI as listings
    /// write it. The resource must exist (a note name need only be valid,
    /// so a note can be watched before it is written).
    async fn subscription_key(&self, uri: &str) -> Result<String, Error> {
        if let Some(name) = uri.strip_prefix(NOTES_SCHEME) {
            return if valid_note_name(name) {
                Ok(uri.to_owned())
            } else {
                Err(not_found(uri, "not a valid note name"))
            };
        }
        let root = self.root.clone();
        let owned = uri.to_owned();
        tokio::task::spawn_blocking(move || files::resolve(&root, &owned))
            .await
            .map_err(|e| Error::internal(format_args!("the lookup failed: {e}")))?
            .map(|r| r.uri)
            .map_err(|NotServed(reason)| not_found(uri, &reason))
    }
}

async fn watch(state: Weak<ResourcesState>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        state.poll_once().await;
    }
}

fn not_found(uri: &str, reason: &str) -> Error {
    let mut e = Error::resource_not_found(uri);
    e.message = format!("Resource not found: {uri} ({reason})");
    e.with_data(serde_json::json!({"uri": uri, "reason": reason}))
}

/// Where the sample folder goes when no `--dir` is given: the user's data
/// directory (`$XDG_DATA_HOME` or `~/.local/share` on Linux,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows) under
/// `mcp-reference/resources-sample`, else `./mcp-resources-sample`.
pub fn default_sample_dir() -> PathBuf {
    data_dir()
        .map(|d| d.join("mcp-reference").join("resources-sample"))
        .unwrap_or_else(|| PathBuf::from("mcp-resources-sample"))
}

fn data_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        env("APPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library").join("Application Support"))
    } else {
        env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local").join("share")))
    }
}

/// A 1×1 transparent PNG, the sample's binary file.
const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// The files of the sample folder, by relative path.
pub const SAMPLE_FILES: &[(&str, &[u8])] = &[
    (
        "README.md",
        b"# Sample resources\n\nThis folder was created by the MCP resources reference server \
          because it was started without --dir. Every file here is a resource; edit one while \
          a client is subscribed to it and the client hears about it.\n",
    ),
    (
        "docs/getting-started.txt",
        b"Start the server with --dir PATH to serve a folder of your own.\n",
    ),
    (
        "data/cities.csv",
        b"city,country,population\nLagos,Nigeria,15388000\nLima,Peru,10719000\nOsaka,Japan,19059000\n",
    ),
    (
        "data/config.json",
        b"{\n  \"name\": \"sample\",\n  \"version\": 1,\n  \"features\": [\"resources\", \"subscriptions\"]\n}\n",
    ),
    ("images/pixel.png", PIXEL_PNG),
];

/// Creates the sample folder at `dir` if nothing is there yet; says whether
/// it did. An existing folder is left as it is.
pub fn ensure_sample_dir(dir: &Path) -> std::io::Result<bool> {
    if dir.exists() {
        return Ok(false);
    }
    for (rel, contents) in SAMPLE_FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_names_are_checked() {
        assert!(valid_note_name("todo"));
        assert!(valid_note_name("a.b_c-9"));
        for bad in ["", ".hidden", "-x", "a/b", "a b", "ü", &"x".repeat(65)] {
            assert!(!valid_note_name(bad), "{bad:?}");
        }
    }
}
