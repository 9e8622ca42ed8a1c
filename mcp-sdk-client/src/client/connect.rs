//! Connecting: the builder, the `server/discover` probe that picks the
//! era, and the `initialize` handshake.

use super::core::read_loop;
use super::serve::notify_loop;
use super::{decode_result, lock, Client, Core, Inner, Tasks};
use crate::handler::ClientHandler;
use crate::request::RequestOptions;
use crate::stateless::{
    as_initialize_result, is_stateless_error, newest_common, parse_discover, supported_versions,
    Cache, Era,
};
use crate::transport::Transport;
use crate::ClientError;
use mcp_sdk::{
    DiscoverParams, DiscoverResult, ErrorCode, Implementation, InitializeParams, InitializeResult,
    InitializedNotificationParams, ProtocolVersion, RequestParams,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a call waits for its answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long [`Era::Auto`] waits for the answer to its `server/discover`
/// probe before taking the server for a session-era one.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings for a new [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    info: Implementation,
    handler: Arc<dyn ClientHandler>,
    timeout: Duration,
    versions: Vec<ProtocolVersion>,
    era: Era,
    probe_timeout: Duration,
    caching: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            info: Implementation::new("mcp-sdk-client", env!("CARGO_PKG_VERSION")),
            handler: Arc::new(()),
            timeout: DEFAULT_TIMEOUT,
            versions: ProtocolVersion::ALL.to_vec(),
            era: Era::Auto,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            caching: true,
        }
    }
}

impl ClientBuilder {
    /// Who the client is, as `initialize` tells the server.
    pub fn info(mut self, info: Implementation) -> Self {
        self.info = info;
        self
    }

    /// Answers the server's requests and hears its notifications.
    pub fn handler(mut self, handler: impl ClientHandler) -> Self {
        self.handler = Arc::new(handler);
        self
    }

    /// How long calls wait for their answer unless their
    /// [`RequestOptions`] say otherwise; [`DEFAULT_TIMEOUT`] by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The protocol revisions the client accepts; the newest of each era
    /// is offered. All of them by default, `2026-07-28` included.
    pub fn protocol_versions(mut self, versions: &[ProtocolVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Which era to speak: [`Era::Auto`] (the default) probes for the
    /// stateless era and falls back to `initialize`.
    pub fn era(mut self, era: Era) -> Self {
        self.era = era;
        self
    }

    /// How long the `server/discover` probe waits for an answer before the
    /// server is taken for a session-era one (over stdio, such a server may
    /// not answer at all); [`DEFAULT_PROBE_TIMEOUT`] by default.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Whether to keep the results of `tools/list`, `prompts/list`,
    /// `resources/list`, `resources/templates/list` and `resources/read`
    /// for the `ttlMs` the server gives them (stateless era only); on by
    /// default. The matching list-changed or updated notification forgets
    /// them sooner.
    pub fn cache_results(mut self, enabled: bool) -> Self {
        self.caching = enabled;
        self
    }

    /// Connects over `transport`.
    ///
    /// Unless the era is [`Era::SessionOnly`], it first probes with
    /// `server/discover` (carrying `_meta` and, over HTTP, the headers of
    /// `2026-07-28`); a stateless server is then spoken to without a
    /// handshake, every request carrying `_meta`. Otherwise it sends
    /// `initialize`, checks the revision the server chose, and sends
    /// `notifications/initialized`.
    pub async fn connect(self, transport: impl Transport) -> Result<Client, ClientError> {
        let transport: Arc<dyn Transport> = Arc::new(transport);
        let session: Vec<ProtocolVersion> = self
            .versions
            .iter()
            .copied()
            .filter(|v| v.is_session_era())
            .collect();
        let stateless: Vec<ProtocolVersion> = self
            .versions
            .iter()
            .copied()
            .filter(|v| !v.is_session_era())
            .collect();
        let try_stateless = self.era != Era::SessionOnly && !stateless.is_empty();
        let allow_session = self.era != Era::StatelessOnly && !session.is_empty();
        let offered = session
            .iter()
            .copied()
            .max()
            .unwrap_or(ProtocolVersion::LATEST_SESSION);
        let core = Arc::new(Core {
            transport: transport.clone(),
            handler: self.handler.clone(),
            pending: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            serving: Mutex::new(HashMap::new()),
            responders: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(0),
            timeout: self.timeout,
            closed: Mutex::new(None),
            capabilities: self.handler.capabilities(),
            info: self.info.clone(),
            stateless: Mutex::new(None),
            log_level: Mutex::new(None),
            subscriptions: Mutex::new(HashMap::new()),
            cache: Mutex::new(Cache::default()),
            caching: self.caching,
            tool_headers: Mutex::new(HashMap::new()),
        });
        let (notify_tx, notify_rx) = mpsc::channel(1024);
        let reader = tokio::spawn(read_loop(core.clone(), notify_tx));
        let notifier = tokio::spawn(notify_loop(core.handler.clone(), notify_rx));
        let tasks = Tasks([reader, notifier]);

        if !try_stateless && !allow_session {
            transport.close().await;
            return Err(ClientError::Unsupported(format!(
                "the era {:?} leaves none of the revisions {} to offer",
                self.era,
                list(&self.versions)
            )));
        }
        if try_stateless {
            let timeout = self.probe_timeout.min(self.timeout);
            match probe(&core, &stateless, &session, timeout).await {
                Ok(Probe::Stateless { version, discover }) => {
                    return Ok(Client {
                        inner: Arc::new(Inner {
                            server: as_initialize_result(version, discover.as_deref()),
                            core,
                            version,
                            stateless: true,
                            discover: discover.map(|d| *d),
                            _tasks: tasks,
                        }),
                    });
                }
                Ok(Probe::Session(why)) if allow_session => {
                    tracing::debug!("a session-era server ({why}); sending initialize");
                    *lock(&core.stateless) = None;
                    transport.clear_protocol_version();
                }
                Ok(Probe::Session(why)) => {
                    transport.close().await;
                    return Err(ClientError::Unsupported(format!(
                        "the server does not speak the stateless era ({why}), and this client speaks nothing else"
                    )));
                }
                Err(e) => {
                    transport.close().await;
                    return Err(e);
                }
            }
        }

        let params = InitializeParams::new(
            offered.as_str(),
            core.capabilities.clone(),
            self.info.clone(),
        );
        let answer = core
            .call(
                InitializeParams::METHOD,
                params,
                RequestOptions::default(),
                Vec::new(),
            )
            .await;
        let server: InitializeResult = decode_result(InitializeParams::METHOD, answer?)?;
        let version = server
            .protocol_version
            .parse::<ProtocolVersion>()
            .ok()
            .filter(|v| session.contains(v))
            .ok_or_else(|| ClientError::UnsupportedVersion {
                ours: list(&session),
                theirs: server.protocol_version.clone(),
            });
        let version = match version {
            Ok(v) => v,
            Err(e) => {
                transport.close().await;
                return Err(e);
            }
        };
        transport.set_protocol_version(version);
        core.notify(InitializedNotificationParams::default())
            .await?;
        Ok(Client {
            inner: Arc::new(Inner {
                core,
                server,
                version,
                stateless: false,
                discover: None,
                _tasks: tasks,
            }),
        })
    }
}

/// The revisions, comma-separated.
fn list(versions: &[ProtocolVersion]) -> String {
    versions
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the `server/discover` probe found.
enum Probe {
    /// A stateless server, spoken to in `version`.
    Stateless {
        version: ProtocolVersion,
        discover: Option<Box<DiscoverResult>>,
    },
    /// A session-era server, for this reason.
    Session(String),
}

/// Sends `server/discover` in the newest of `ours` (stateless revisions),
/// retrying in a revision the server names when it refuses that one.
async fn probe(
    core: &Arc<Core>,
    ours: &[ProtocolVersion],
    session: &[ProtocolVersion],
    timeout: Duration,
) -> Result<Probe, ClientError> {
    let Some(mut version) = ours.iter().copied().max() else {
        return Ok(Probe::Session("no stateless revision to offer".into()));
    };
    let no_common = |theirs: &[String]| -> Result<Probe, ClientError> {
        if newest_common(session, theirs).is_some() {
            Ok(Probe::Session(format!(
                "it speaks only {} of this client's revisions",
                theirs.join(", ")
            )))
        } else {
            Err(ClientError::UnsupportedVersion {
                ours: list(&[ours, session].concat()),
                theirs: theirs.join(", "),
            })
        }
    };
    // The server may refuse the revision it names (a server behind a
    // balancer, say): try a few times, not forever.
    for _ in 0..3 {
        *lock(&core.stateless) = Some(version);
        core.transport.set_protocol_version(version);
        let options = RequestOptions::new().timeout(timeout);
        let answer = core
            .call(DiscoverParams::METHOD, Value::Null, options, Vec::new())
            .await;
        match answer {
            Ok(value) => {
                let discover = match parse_discover(value) {
                    Ok(d) => d,
                    Err(why) => return Ok(Probe::Session(why)),
                };
                return match newest_common(ours, &discover.supported_versions) {
                    Some(version) => Ok(Probe::Stateless {
                        version,
                        discover: Some(Box::new(discover)),
                    }),
                    None => no_common(&discover.supported_versions),
                };
            }
            Err(ClientError::Server(e)) if is_stateless_error(&e) => {
                if e.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION {
                    let theirs = supported_versions(&e).unwrap_or_default();
                    match newest_common(ours, &theirs) {
                        Some(v) => {
                            tracing::debug!(from = %version, to = %v, "the server refused the revision; trying one it names");
                            version = v;
                            continue;
                        }
                        None => return no_common(&theirs),
                    }
                }
                // A stateless server that refused discovery itself: go on
                // without its description.
                tracing::warn!("the server refused server/discover: {e}");
                return Ok(Probe::Stateless {
                    version,
                    discover: None,
                });
            }
            Err(
                e @ ClientError::Http {
                    status: 401 | 403, ..
                },
            ) => return Err(e),
            Err(ClientError::Server(e)) => {
                return Ok(Probe::Session(format!("server/discover was answered: {e}")))
            }
            Err(ClientError::Http { status, message }) => {
                return Ok(Probe::Session(format!(
                    "server/discover was answered with HTTP {status}: {message}"
                )))
            }
            Err(ClientError::Timeout { .. }) => {
                return Ok(Probe::Session(format!(
                    "no answer to server/discover within {timeout:?}"
                )))
            }
            Err(ClientError::Protocol(why) | ClientError::StreamLost(why)) => {
                return Ok(Probe::Session(why))
            }
            Err(e) => return Err(e),
        }
    }
    Err(ClientError::Protocol(format!(
        "the server kept refusing revision {version}, which it says it speaks"
    )))
}

impl Client {
    /// Connects with default settings and no handler: see
    /// [`ClientBuilder::connect`].
    pub async fn connect(transport: impl Transport) -> Result<Client, ClientError> {
        ClientBuilder::default().connect(transport).await
    }

    /// Settings for a client: its name, handler, timeout and revisions.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }
}
