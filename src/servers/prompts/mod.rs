//! The prompts reference server (seed server 7, port 5007): a library of
//! prompts with typed arguments and argument completion, plus prompts
//! loaded from a folder of template files that is watched for changes.
//!
//! Built in: `code_review`, `summarize`, `explain_code`, `translate`,
//! `write_tests`, `style_guide_review` (embeds a style guide as a
//! resource) and `describe_image` (sends an image). Arguments are checked
//! before a prompt renders: a missing required one, an unknown one, a value
//! outside its choices or bounds is -32602 with a sentence saying which.
//! `completion/complete` offers languages, styles, audiences, test
//! frameworks (following the chosen language) and template values.
//!
//! With a folder (`--prompts-dir`), each `*.md` file in it is a prompt
//! (format: [`template`]). A malformed file is skipped with a warning; the
//! rest are served. The folder is polled every second; when its prompts
//! change every connected client gets `notifications/prompts/list_changed`
//! (and the warnings about malformed files as log messages). Stateless
//! clients (revision 2026-07-28) have no session to send it on: they hear it
//! on a `subscriptions/listen` stream asking for `promptsListChanged`, fed by
//! the server's own [`Notifier`], and get the current warnings as log
//! messages of each `prompts/list` (when their `_meta` asks for a log level).
//!
//! The SDK's `Router` keeps a fixed list of prompts and does not advertise
//! `listChanged`, so this server implements [`Server`] itself.

pub mod image;
pub mod library;
pub mod template;

use super::ServerSpec;
use library::PromptEntry;
use mcp_sdk::{
    CompleteParams, CompleteResult, CompletionReference, Error, GetPromptParams, GetPromptResult,
    Implementation, ListPromptsParams, ListPromptsResult, LoggingLevel, PromptsCapability,
    ServerCapabilities,
};
use mcp_sdk_server::{async_trait, Notifier, Peer, RequestContext, Server};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};
use template::{Template, MAX_TEMPLATE_BYTES};

/// The most template files read from the folder.
pub const MAX_TEMPLATES: usize = 1000;

/// How often the template folder is checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Who the prompts server is.
pub fn spec() -> ServerSpec {
    ServerSpec {
        id: "7",
        name: "prompts",
        default_port: 5007,
        capabilities: &["prompts"],
    }
}

/// What a look at the folder saw: each template file's name, size and
/// modification time, or why the folder could not be read.
type Fingerprint = Result<Vec<(String, u64, Option<SystemTime>)>, String>;

/// The templates read from the folder, and what was wrong with the rest.
#[derive(Debug, Default)]
struct Loaded {
    templates: Vec<Template>,
    warnings: Vec<String>,
}

struct State {
    fingerprint: Fingerprint,
    templates: Vec<Template>,
    /// What is wrong with the folder as last read, for stateless clients,
    /// which cannot have been told when it was read.
    warnings: Arc<Vec<String>>,
    entries: Arc<Vec<Arc<PromptEntry>>>,
}

struct Inner {
    builtins: Vec<Arc<PromptEntry>>,
    dir: Option<PathBuf>,
    state: Mutex<State>,
    /// Initialized sessions, to hear of changes.
    peers: Mutex<Vec<Peer>>,
    /// Stateless clients' `subscriptions/listen` streams, to hear of changes.
    notifier: Notifier,
}

/// The prompts server. Cheap to clone; clones share the prompts and the
/// connected clients.
#[derive(Clone)]
pub struct PromptsServer {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PromptsServer {
    /// A server with the built-in prompts and, if `dir` is given, the
    /// templates in it (malformed ones are skipped with a warning on
    /// stderr). Fails if `dir` is not a readable folder.
    pub fn new(dir: Option<PathBuf>) -> std::io::Result<Self> {
        let builtins: Vec<Arc<PromptEntry>> =
            library::builtins().into_iter().map(Arc::new).collect();
        let names: Vec<String> = builtins.iter().map(|b| b.name().to_owned()).collect();
        let (fingerprint, loaded) = match &dir {
            Some(d) => {
                std::fs::read_dir(d).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("prompts folder {}: {e}", d.display()))
                })?;
                let fingerprint = fingerprint(d);
                let loaded = load(d, &names);
                for w in &loaded.warnings {
                    tracing::warn!("{w}");
                }
                tracing::info!(
                    "{} prompt template(s) from {}",
                    loaded.templates.len(),
                    d.display()
                );
                (fingerprint, loaded)
            }
            None => (Ok(Vec::new()), Loaded::default()),
        };
        let entries = Arc::new(entries(&builtins, &loaded.templates));
        Ok(PromptsServer {
            inner: Arc::new(Inner {
                builtins,
                dir,
                state: Mutex::new(State {
                    fingerprint,
                    templates: loaded.templates,
                    warnings: Arc::new(loaded.warnings),
                    entries,
                }),
                peers: Mutex::new(Vec::new()),
                notifier: Notifier::default(),
            }),
        })
    }

    /// Every prompt offered now: the built-ins, then the templates.
    pub fn prompts(&self) -> Arc<Vec<Arc<PromptEntry>>> {
        lock(&self.inner.state).entries.clone()
    }

    fn find(&self, name: &str) -> Result<Arc<PromptEntry>, Error> {
        self.prompts()
            .iter()
            .find(|e| e.name() == name)
            .cloned()
            .ok_or_else(|| Error::invalid_params(format_args!("Unknown prompt: {name}")))
    }

    /// Looks at the folder once: if anything changed, reloads the templates;
    /// if the prompts changed, tells every connected client and stateless
    /// listener. Returns whether the prompts changed.
    pub async fn rescan(&self) -> bool {
        let Some(dir) = self.inner.dir.clone() else {
            return false;
        };
        let names: Vec<String> = self
            .inner
            .builtins
            .iter()
            .map(|b| b.name().to_owned())
            .collect();
        let scan = tokio::task::spawn_blocking(move || {
            let fp = fingerprint(&dir);
            (fp.clone(), fp.is_ok().then(|| load(&dir, &names)), dir)
        })
        .await;
        let Ok((fp, loaded, dir)) = scan else {
            return false;
        };
        let (changed, warnings) = {
            let mut state = lock(&self.inner.state);
            if state.fingerprint == fp {
                return false;
            }
            let mut warnings = Vec::new();
            if let Err(why) = &fp {
                warnings.push(format!(
                    "the prompts folder {} cannot be read ({why}); serving no templates until it can",
                    dir.display()
                ));
            }
            let loaded = loaded.unwrap_or_default();
            warnings.extend(loaded.warnings);
            state.fingerprint = fp;
            state.warnings = Arc::new(warnings.clone());
            let changed = state.templates != loaded.templates;
            if changed {
                state.entries = Arc::new(entries(&self.inner.builtins, &loaded.templates));
                state.templates = loaded.templates;
            }
            (changed, warnings)
        };
        for w in &warnings {
            tracing::warn!("{w}");
        }
        if changed {
            tracing::info!("the prompt templates in {} changed", dir.display());
            self.inner.notifier.prompt_list_changed();
        }
        let peers: Vec<Peer> = {
            let mut peers = lock(&self.inner.peers);
            peers.retain(|p| !p.is_closed());
            peers.clone()
        };
        for peer in peers {
            for w in &warnings {
                let _ = peer
                    .log(LoggingLevel::Warning, Some("prompts"), w.clone().into())
                    .await;
            }
            if changed {
                if let Err(e) = peer.notify_prompt_list_changed().await {
                    tracing::debug!(%e, "could not tell a client the prompts changed");
                }
            }
        }
        changed
    }

    /// Polls the folder every `every` until the server is dropped. Call
    /// within a Tokio runtime; does nothing without a folder.
    pub fn spawn_watcher(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let has_dir = self.inner.dir.is_some();
        tokio::spawn(async move {
            if !has_dir {
                return;
            }
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                PromptsServer { inner }.rescan().await;
            }
        })
    }
}

fn entries(builtins: &[Arc<PromptEntry>], templates: &[Template]) -> Vec<Arc<PromptEntry>> {
    builtins
        .iter()
        .cloned()
        .chain(
            templates
                .iter()
                .map(|t| Arc::new(PromptEntry::from_template(t.clone()))),
        )
        .collect()
}

/// The template files of a folder: regular `*.md` files directly in it,
/// sorted by name. Symbolic links are not followed, so a template cannot
/// pull in a file from elsewhere.
fn template_files(dir: &Path) -> std::io::Result<Vec<(String, std::fs::Metadata)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".md") || name.starts_with('.') {
            continue;
        }
        files.push((name, entry.metadata()?));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

fn fingerprint(dir: &Path) -> Fingerprint {
    template_files(dir)
        .map(|files| {
            files
                .into_iter()
                .map(|(name, meta)| (name, meta.len(), meta.modified().ok()))
                .collect()
        })
        .map_err(|e| e.to_string())
}

/// Reads every template of `dir`, skipping (with a warning) those that are
/// malformed, too large, not regular files, or named like a prompt
/// already loaded.
fn load(dir: &Path, builtin_names: &[String]) -> Loaded {
    let mut loaded = Loaded::default();
    let files = match template_files(dir) {
        Ok(f) => f,
        Err(e) => {
            loaded.warnings.push(format!(
                "cannot read the prompts folder {}: {e}",
                dir.display()
            ));
            return loaded;
        }
    };
    for (i, (name, meta)) in files.into_iter().enumerate() {
        let path = dir.join(&name);
        let skip = |why: String| format!("skipping prompt template {}: {why}", path.display());
        if i >= MAX_TEMPLATES {
            loaded.warnings.push(skip(format!(
                "the folder holds more than {MAX_TEMPLATES} templates"
            )));
            continue;
        }
        if !meta.file_type().is_file() {
            loaded
                .warnings
                .push(skip("not a regular file (links are not followed)".into()));
            continue;
        }
        if meta.len() > MAX_TEMPLATE_BYTES {
            loaded.warnings.push(skip(format!(
                "{} bytes, more than the {MAX_TEMPLATE_BYTES} a template may have",
                meta.len()
            )));
            continue;
        }
        let text = match std::fs::read(&path).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(_)) => {
                loaded.warnings.push(skip("not UTF-8 text".into()));
                continue;
            }
            Err(e) => {
                loaded.warnings.push(skip(e.to_string()));
                continue;
            }
        };
        let stem = name.trim_end_matches(".md");
        match Template::parse(&text, stem) {
            Ok(t) if builtin_names.contains(&t.name) => loaded.warnings.push(skip(format!(
                "`{}` is the name of a built-in prompt",
                t.name
            ))),
            Ok(t) if loaded.templates.iter().any(|o| o.name == t.name) => loaded.warnings.push(
                skip(format!("another template is already named `{}`", t.name)),
            ),
            Ok(t) => loaded.templates.push(t),
            Err(e) => loaded.warnings.push(skip(e.to_string())),
        }
    }
    loaded
}

#[async_trait]
impl Server for PromptsServer {
    fn info(&self) -> Implementation {
        Implementation::new("mcp-reference-prompts", env!("CARGO_PKG_VERSION"))
    }

    fn capabilities(&self) -> ServerCapabilities {
        ServerCapabilities::default()
            .with_prompts(PromptsCapability::default().with_list_changed(self.inner.dir.is_some()))
            .with_completions()
            .with_logging()
    }

    fn notifier(&self) -> Option<Notifier> {
        Some(self.inner.notifier.clone())
    }

    fn instructions(&self) -> Option<String> {
        Some(
            "A prompt library: code_review, summarize, explain_code, translate, write_tests, \
             style_guide_review, describe_image, and any templates from the server's folder. \
             completion/complete suggests argument values."
                .into(),
        )
    }

    async fn list_prompts(
        &self,
        params: ListPromptsParams,
        ctx: RequestContext,
    ) -> Result<ListPromptsResult, Error> {
        if let Some(cursor) = params.cursor {
            return Err(Error::invalid_params(format_args!(
                "invalid cursor {cursor:?}: this server lists every prompt on one page"
            )));
        }
        // Sessions heard these when the folder was read; a stateless client
        // hears them with the list they explain.
        if ctx.protocol_version().is_some_and(|v| !v.is_session_era()) {
            let warnings = lock(&self.inner.state).warnings.clone();
            for w in warnings.iter() {
                let _ = ctx
                    .peer()
                    .log(LoggingLevel::Warning, Some("prompts"), w.clone().into())
                    .await;
            }
        }
        Ok(ListPromptsResult::new(
            self.prompts().iter().map(|e| e.prompt.clone()).collect(),
        ))
    }

    async fn get_prompt(
        &self,
        params: GetPromptParams,
        _ctx: RequestContext,
    ) -> Result<GetPromptResult, Error> {
        self.find(&params.name)?
            .get(params.arguments.unwrap_or_default())
    }

    async fn complete(
        &self,
        params: CompleteParams,
        _ctx: RequestContext,
    ) -> Result<CompleteResult, Error> {
        let CompletionReference::Prompt(reference) = &params.reference else {
            return Err(Error::invalid_params(
                "this server has no resource templates to complete; only prompts (ref/prompt)",
            ));
        };
        let context = params.context.as_ref().and_then(|c| c.arguments.as_ref());
        let values = self.find(&reference.name)?.complete(
            &params.argument.name,
            &params.argument.value,
            context,
        )?;
        Ok(CompleteResult::new(values))
    }

    async fn on_initialized(&self, peer: Peer) {
        let mut peers = lock(&self.inner.peers);
        peers.retain(|p| !p.is_closed());
        peers.push(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "prompts-unit-{}-{}",
            std::process::id(),
            files.len() * 31 + files.first().map_or(0, |f| f.1.len())
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn loads_good_templates_and_skips_bad_ones() {
        let dir = folder(&[
            (
                "a_good.md",
                "---\ndescription: fine\narguments:\n- who (required)\n---\nHi {{who}}\n",
            ),
            ("b_broken.md", "no header here"),
            ("c_dup.md", "---\nname: a_good\n---\nagain\n"),
            ("d_builtin.md", "---\nname: summarize\n---\nmine\n"),
            ("notes.txt", "not a template"),
        ]);
        let loaded = load(&dir, &["summarize".to_owned()]);
        let names: Vec<&str> = loaded.templates.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a_good"]);
        assert_eq!(loaded.warnings.len(), 3, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("b_broken.md: line 1"));
        assert!(loaded.warnings[1].contains("already named `a_good`"));
        assert!(loaded.warnings[2].contains("name of a built-in prompt"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_folder_is_refused_at_start() {
        let missing = std::env::temp_dir().join("prompts-unit-does-not-exist");
        let e = PromptsServer::new(Some(missing)).err().unwrap();
        assert!(e.to_string().contains("prompts folder"), "{e}");
    }
}
