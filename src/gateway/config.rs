//! Which downstream servers the gateway fronts, and how long it waits for
//! them: from the seed's `SERVER_1_URL` … `SERVER_7_URL` or from a TOML
//! file.
//!
//! ```toml
//! # Optional; seconds.
//! call_timeout_secs = 120
//! # Optional: items per page of an aggregated list (1 to 1000).
//! page_size = 100
//!
//! # Optional: the gateway as an OAuth resource server (what the flags
//! # --auth-issuer, --auth-audience and --auth-scopes say; give one or the
//! # other). Every upstream request needs an access token of this issuer.
//! [auth]
//! issuer = "https://login.example.com"
//! audience = "https://gateway.example.com/mcp"   # default http://ADDR/mcp
//! scopes = ["mcp:read"]                          # every request needs them
//!
//! # Optional: this gateway is one of several replicas sharing this Redis
//! # behind a load balancer (what --redis-url and --redis-prefix say; give
//! # one or the other). Every replica needs the same requestState key too.
//! [replicas]
//! redis_url = "redis://127.0.0.1:6379"
//! prefix = "mcp:session_manager"   # the default; the same on every replica
//!
//! [[server]]
//! name = "tools"
//! url = "http://127.0.0.1:5003/mcp"
//!
//! [[server]]
//! name = "files"
//! command = "npx"
//! args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
//! env = { NODE_ENV = "production" }
//! era = "session"          # auto (default), session or stateless
//!
//! [[server]]
//! name = "crm"
//! url = "https://crm.example.com/mcp"
//! # An OAuth-protected server: the gateway's own credentials for it (never
//! # the upstream user's token). The client credentials grant, the secret
//! # in the gateway's environment:
//! auth = { grant = "client_credentials", client_id = "gateway", client_secret_env = "CRM_SECRET" }
//! # or the same client, and per user the caller's token exchanged (RFC
//! # 8693) at the authorization server for one for this server:
//! # auth = { grant = "token_exchange", token_endpoint = "https://login.example.com/token",
//! #          client_id = "gateway", client_secret_env = "CRM_SECRET" }
//! # or tokens a person got once with `client login --token-store FILE URL`:
//! # auth = { grant = "stored_tokens", token_store = "/var/lib/gateway/tokens.json" }
//! ```

use super::credentials::Credentials;
use super::names;
use mcp_sdk_client::Era;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The seed's seven servers, in the order of `SERVER_1_URL` … `SERVER_7_URL`;
/// each name becomes the prefix of that server's tools and prompts.
pub const SEED_SERVERS: [&str; 7] = [
    "resources",
    "sampling",
    "tools",
    "database",
    "internet",
    "roots",
    "prompts",
];

/// How the gateway reaches one downstream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Streamable HTTP (or the 2024-11-05 HTTP+SSE transport, which the
    /// client falls back to) at this URL.
    Http {
        /// The MCP endpoint, such as `http://127.0.0.1:5003/mcp`.
        url: String,
    },
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        /// The program to run.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Variables added to the gateway's own environment.
        env: BTreeMap<String, String>,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Http { url } => f.write_str(url),
            Target::Stdio { command, args, .. } => {
                write!(f, "stdio: {command}")?;
                args.iter().try_for_each(|a| write!(f, " {a}"))
            }
        }
    }
}

/// One downstream server.
#[derive(Debug, Clone, PartialEq)]
pub struct DownstreamSpec {
    /// The server's name: the prefix of its tools and prompts (see
    /// [`names`]).
    pub name: String,
    /// Where it is.
    pub target: Target,
    /// Which era of MCP to speak to it ([`Era::Auto`] probes).
    pub era: Era,
}

/// Everything the gateway needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// The downstream servers, in the order their tools are listed.
    pub servers: Vec<DownstreamSpec>,
    /// How long one call to a downstream server may take (restarted by each
    /// progress notification), including the time the upstream client takes
    /// to answer the sampling, roots or elicitation requests it relays.
    pub call_timeout: Duration,
    /// How long connecting to a downstream server may take.
    pub connect_timeout: Duration,
    /// The first wait before reconnecting to a server that is down; it
    /// doubles after each failed attempt up to [`max_backoff`](Self::max_backoff).
    pub min_backoff: Duration,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// How many items one page of an aggregated list holds at most: pages
    /// are filled across servers up to this size ([`DEFAULT_PAGE_SIZE`]).
    pub page_size: usize,
    /// The gateway's credentials for the OAuth-protected servers, by
    /// server name.
    pub credentials: BTreeMap<String, Credentials>,
    /// The gateway's own protection, from the file's `[auth]` table.
    pub auth: Option<AuthSettings>,
    /// The Redis the gateway's replicas share, from the file's
    /// `[replicas]` table.
    pub replicas: Option<ReplicaSettings>,
    /// How many resources one upstream session may be subscribed to
    /// through the gateway at once ([`DEFAULT_MAX_SUBSCRIPTIONS`]); with
    /// replicas the count is shared, whichever replica took each.
    pub max_subscriptions: usize,
}

/// The default [`GatewayConfig::max_subscriptions`]. Each subscription
/// costs the gateway a downstream subscription (shared by the sessions on
/// the same URI) and, with replicas, a member in two Redis sets, so one
/// session must not take them without bound; a client that watches more
/// resources than this is better served by `resources/list_changed` and
/// reading what it needs.
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 100;

/// Where the gateway's replicas meet (see [`super::replicas`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSettings {
    /// The Redis, `redis://host:port` (a password in it is never logged).
    pub redis_url: String,
    /// The beginning of every key and channel the replicas share
    /// ([`DEFAULT_REDIS_PREFIX`]); another gateway on the same Redis needs
    /// another.
    pub prefix: String,
}

/// The default [`ReplicaSettings::prefix`].
pub const DEFAULT_REDIS_PREFIX: &str = "mcp:session_manager";

/// The gateway as an OAuth resource server: the upstream caller's token
/// is checked here (and never passed on downstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// The authorization server whose access tokens are taken (its issuer
    /// URL; its metadata names its keys).
    pub issuer: String,
    /// The resource URI tokens must name in `aud` (default: the gateway's
    /// own `http://ADDR/mcp`).
    pub audience: Option<String>,
    /// Scopes every request needs.
    pub scopes: Vec<String>,
}

/// The default [`GatewayConfig::page_size`]: a client that does not paginate
/// sees every tool and prompt of the seven reference servers in one page.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The largest [`GatewayConfig::page_size`] a config file may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;

impl GatewayConfig {
    /// A configuration with these servers and the default timeouts.
    pub fn new(servers: Vec<DownstreamSpec>) -> Result<Self, ConfigError> {
        let config = GatewayConfig {
            servers,
            call_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            page_size: DEFAULT_PAGE_SIZE,
            credentials: BTreeMap::new(),
            auth: None,
            replicas: None,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
        };
        config.check()?;
        Ok(config)
    }

    /// The seed's layout: `SERVER_N_URL` for N in 1..=7 names the URL of the
    /// N-th of [`SEED_SERVERS`] (default `http://localhost:500N/mcp`); a URL
    /// without a path gets `/mcp`, since the seed's URLs name only the host.
    /// An empty variable leaves that server out.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|key| std::env::var(key).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `var`.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut servers = Vec::new();
        for (i, name) in SEED_SERVERS.iter().enumerate() {
            let n = i + 1;
            let url = var(&format!("SERVER_{n}_URL"))
                .unwrap_or_else(|| format!("http://localhost:500{n}"));
            let url = url.trim();
            if url.is_empty() {
                continue;
            }
            let url = endpoint(url)
                .map_err(|why| ConfigError(format!("SERVER_{n}_URL ({name}): {why}")))?;
            servers.push(DownstreamSpec {
                name: (*name).to_owned(),
                target: Target::Http { url },
                era: Era::Auto,
            });
        }
        Self::new(servers)
    }

    /// Reads a TOML file (see the [module docs](self)).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses the TOML text of a config file.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        if file.server.is_empty() {
            return Err(ConfigError(
                "no [[server]] entries: name at least one downstream server".into(),
            ));
        }
        let (servers, credentials): (Vec<_>, Vec<_>) = file
            .server
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                s.into_spec()
                    .map_err(|why| ConfigError(format!("[[server]] #{}: {why}", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        let mut config = Self::new(servers)?;
        config.credentials = config
            .servers
            .iter()
            .zip(credentials)
            .filter_map(|(spec, c)| Some((spec.name.clone(), c?)))
            .collect();
        if let Some(secs) = file.call_timeout_secs {
            config.call_timeout = positive_secs("call_timeout_secs", secs)?;
        }
        if let Some(secs) = file.connect_timeout_secs {
            config.connect_timeout = positive_secs("connect_timeout_secs", secs)?;
        }
        if let Some(size) = file.page_size {
            if !(1..=MAX_PAGE_SIZE as i64).contains(&size) {
                return Err(ConfigError(format!(
                    "page_size must be between 1 and {MAX_PAGE_SIZE}, not {size}"
                )));
            }
            config.page_size = size as usize;
        }
        config.auth = file
            .auth
            .map(FileGatewayAuth::into_settings)
            .transpose()
            .map_err(|why| ConfigError(format!("[auth]: {why}")))?;
        config.replicas = file
            .replicas
            .map(FileReplicas::into_settings)
            .transpose()
            .map_err(|why| ConfigError(format!("[replicas]: {why}")))?;
        Ok(config)
    }

    /// The servers' names are valid prefixes and distinct.
    fn check(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.servers {
            names::check_server_name(&s.name).map_err(ConfigError)?;
            if !seen.insert(s.name.as_str()) {
                return Err(ConfigError(format!(
                    "two servers are named {:?}; names must be distinct, as they prefix the tools",
                    s.name
                )));
            }
        }
        Ok(())
    }
}

/// A configuration that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad gateway configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The file's shape; unknown keys are refused so typos do not pass silently.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: Vec<FileServer>,
    call_timeout_secs: Option<f64>,
    connect_timeout_secs: Option<f64>,
    page_size: Option<i64>,
    auth: Option<FileGatewayAuth>,
    replicas: Option<FileReplicas>,
}

/// The `[replicas]` table: the Redis the gateway's replicas share.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReplicas {
    redis_url: Option<String>,
    prefix: Option<String>,
}

impl FileReplicas {
    fn into_settings(self) -> Result<ReplicaSettings, String> {
        let redis_url = match self.redis_url {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => url,
            Some(_) => return Err("redis_url must begin with redis:// or rediss://".into()),
            None => return Err("redis_url is missing: name the Redis the replicas share".into()),
        };
        let prefix = self
            .prefix
            .unwrap_or_else(|| DEFAULT_REDIS_PREFIX.to_owned());
        check_prefix(&prefix)?;
        Ok(ReplicaSettings { redis_url, prefix })
    }
}

/// `Ok` when `prefix` can begin Redis keys: not empty, at most 200
/// bytes, no whitespace.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 200 || prefix.contains(char::is_whitespace) {
        return Err(format!(
            "the Redis prefix {prefix:?} must be 1 to 200 bytes without spaces"
        ));
    }
    Ok(())
}

/// The `[auth]` table: the gateway's own protection.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGatewayAuth {
    issuer: Option<String>,
    audience: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

impl FileGatewayAuth {
    fn into_settings(self) -> Result<AuthSettings, String> {
        let issuer = match self.issuer {
            Some(issuer) if !issuer.trim().is_empty() => issuer,
            _ => return Err(
                "issuer is missing: name the authorization server whose tokens the gateway takes"
                    .into(),
            ),
        };
        absolute_http(&issuer).map_err(|why| format!("issuer {why}"))?;
        if let Some(audience) = &self.audience {
            absolute_http(audience).map_err(|why| format!("audience {why}"))?;
        }
        if let Some(bad) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(format!(
                "scope {bad:?} is not one scope (empty, or with a space in it)"
            ));
        }
        Ok(AuthSettings {
            issuer,
            audience: self.audience,
            scopes: self.scopes,
        })
    }
}

/// `Ok` when `url` is an absolute http(s) URL with a host.
fn absolute_http(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(format!(
            "{url:?} is not an absolute http:// or https:// URL"
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    name: String,
    url: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    era: Option<String>,
    auth: Option<FileAuth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    grant: String,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    token_store: Option<std::path::PathBuf>,
    token_endpoint: Option<String>,
}

impl FileAuth {
    fn into_credentials(self, name: &str) -> Result<Credentials, String> {
        let nonempty = |value: Option<String>, key: &str| match value {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(format!(
                "{name:?}: auth with grant {:?} needs {key}",
                self.grant
            )),
        };
        if self.token_endpoint.is_some() && self.grant != "token_exchange" {
            return Err(format!(
                "{name:?}: token_endpoint belongs to grant \"token_exchange\""
            ));
        }
        match self.grant.as_str() {
            "token_exchange" => {
                if self.token_store.is_some() {
                    return Err(format!(
                        "{name:?}: token_store belongs to grant \"stored_tokens\", not to token exchange"
                    ));
                }
                let token_endpoint = nonempty(self.token_endpoint.clone(), "token_endpoint")?;
                absolute_http(&token_endpoint)
                    .map_err(|why| format!("{name:?}: token_endpoint {why}"))?;
                Ok(Credentials::TokenExchange {
                    token_endpoint,
                    client_id: nonempty(self.client_id.clone(), "client_id")?,
                    client_secret_env: nonempty(
                        self.client_secret_env.clone(),
                        "client_secret_env (the environment variable holding the secret)",
                    )?,
                })
            }
            "client_credentials" => {
                if self.token_store.is_some() {
                    return Err(format!(
                        "{name:?}: token_store belongs to grant \"stored_tokens\", not to client credentials"
                    ));
                }
                Ok(Credentials::ClientCredentials {
                    client_id: nonempty(self.client_id.clone(), "client_id")?,
                    client_secret_env: nonempty(
                        self.client_secret_env.clone(),
                        "client_secret_env (the environment variable holding the secret)",
                    )?,
                })
            }
            "stored_tokens" => {
                let Some(token_store) = self.token_store else {
                    return Err(format!(
                        "{name:?}: auth with grant \"stored_tokens\" needs token_store (the file `client login --token-store` wrote)"
                    ));
                };
                if self.client_secret_env.is_some() && self.client_id.is_none() {
                    return Err(format!(
                        "{name:?}: client_secret_env without client_id"
                    ));
                }
                Ok(Credentials::StoredTokens {
                    token_store,
                    client_id: self.client_id,
                    client_secret_env: self.client_secret_env,
                })
            }
            other => Err(format!(
                "{name:?}: auth grant {other:?} is none of \"client_credentials\", \"token_exchange\", \"stored_tokens\""
            )),
        }
    }
}

impl FileServer {
    fn into_spec(self) -> Result<(DownstreamSpec, Option<Credentials>), String> {
        let name = self.name;
        if self.auth.is_some() && self.url.is_none() {
            return Err(format!(
                "{name:?}: auth is for servers reached by url; a command takes its credentials from its env"
            ));
        }
        let credentials = self
            .auth
            .map(|auth| auth.into_credentials(&name))
            .transpose()?;
        let target = match (self.url, self.command) {
            (Some(_), Some(_)) => {
                return Err(format!("{name:?} has both url and command; give one"));
            }
            (None, None) => {
                return Err(format!(
                    "{name:?} has neither url (an HTTP server) nor command (a stdio server)"
                ));
            }
            (Some(url), None) => {
                if !self.args.is_empty() || !self.env.is_empty() {
                    return Err(format!(
                        "{name:?}: args and env belong to a command, not to a url"
                    ));
                }
                Target::Http {
                    url: endpoint(&url).map_err(|why| format!("{name:?}: {why}"))?,
                }
            }
            (None, Some(command)) if command.trim().is_empty() => {
                return Err(format!("{name:?}: command is empty"));
            }
            (None, Some(command)) => Target::Stdio {
                command,
                args: self.args,
                env: self.env,
            },
        };
        let era = match self.era.as_deref() {
            None | Some("auto") => Era::Auto,
            Some("session") => Era::SessionOnly,
            Some("stateless") => Era::StatelessOnly,
            Some(other) => {
                return Err(format!(
                    "{name:?}: era {other:?} is none of auto, session, stateless"
                ))
            }
        };
        Ok((DownstreamSpec { name, target, era }, credentials))
    }
}

/// Checks an HTTP endpoint URL, adding `/mcp` when it names only the host.
fn endpoint(url: &str) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("{url:?} is not an http:// or https:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} names no host"));
    }
    Ok(match uri.path() {
        "" | "/" => format!("{}/mcp", url.trim_end_matches('/')),
        _ => url.to_owned(),
    })
}

fn positive_secs(key: &str, secs: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            ConfigError(format!(
                "{key} must be a positive number of seconds, not {secs}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_follows_the_seed() {
        let config = GatewayConfig::from_env_with(|k| match k {
            "SERVER_3_URL" => Some("http://tools-server:5003".into()),
            "SERVER_5_URL" => Some("".into()),
            "SERVER_6_URL" => Some("http://127.0.0.1:9/custom".into()),
            _ => None,
        })
        .unwrap();
        let names: Vec<_> = config.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "resources",
                "sampling",
                "tools",
                "database",
                "roots",
                "prompts"
            ]
        );
        let url = |i: usize| config.servers[i].target.to_string();
        assert_eq!(url(0), "http://localhost:5001/mcp");
        assert_eq!(url(2), "http://tools-server:5003/mcp");
        assert_eq!(url(4), "http://127.0.0.1:9/custom");
    }

    #[test]
    fn toml_replicas_table_names_the_shared_redis() {
        let server = "[[server]]\nname = \"tools\"\nurl = \"http://127.0.0.1:5003/mcp\"\n";
        let config = GatewayConfig::from_toml(&format!(
            "[replicas]\nredis_url = \"redis://127.0.0.1:6379\"\n{server}"
        ))
        .unwrap();
        assert_eq!(
            config.replicas,
            Some(ReplicaSettings {
                redis_url: "redis://127.0.0.1:6379".into(),
                prefix: DEFAULT_REDIS_PREFIX.into(),
            })
        );
        let with_prefix = GatewayConfig::from_toml(&format!(
            "[replicas]\nredis_url = \"redis://r:6379\"\nprefix = \"gw:a\"\n{server}"
        ))
        .unwrap();
        assert_eq!(with_prefix.replicas.unwrap().prefix, "gw:a");
        assert_eq!(GatewayConfig::from_toml(server).unwrap().replicas, None);
        for (table, why) in [
            ("[replicas]\n", "redis_url is missing"),
            (
                "[replicas]\nredis_url = \"http://:s3cret@r\"\n",
                "must begin with redis://",
            ),
            (
                "[replicas]\nredis_url = \"redis://r\"\nprefix = \"\"\n",
                "1 to 200 bytes",
            ),
            (
                "[replicas]\nredis_url = \"redis://r\"\nport = 1\n",
                "unknown field",
            ),
        ] {
            let e = GatewayConfig::from_toml(&format!("{table}{server}")).unwrap_err();
            assert!(e.to_string().contains(why), "{table}: {e}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn env_refuses_what_is_not_a_url() {
        let e = GatewayConfig::from_env_with(|k| (k == "SERVER_2_URL").then(|| "ftp://x".into()))
            .unwrap_err();
        assert!(e.to_string().contains("SERVER_2_URL (sampling)"), "{e}");
    }

    #[test]
    fn toml_names_http_and_stdio_servers() {
        let config = GatewayConfig::from_toml(
            r#"
            call_timeout_secs = 5
            [[server]]
            name = "tools"
            url = "http://127.0.0.1:5003/mcp"
            [[server]]
            name = "fs"
            command = "fs-server"
            args = ["--stdio"]
            env = { A = "1" }
            era = "session"
            "#,
        )
        .unwrap();
        assert_eq!(config.call_timeout, Duration::from_secs(5));
        assert_eq!(config.servers[1].era, Era::SessionOnly);
        assert_eq!(
            config.servers[1].target,
            Target::Stdio {
                command: "fs-server".into(),
                args: vec!["--stdio".into()],
                env: [("A".to_owned(), "1".to_owned())].into(),
            }
        );
    }

    #[test]
    fn toml_names_credentials_per_server() {
        let config = GatewayConfig::from_toml(
            r#"
            [[server]]
            name = "crm"
            url = "http://127.0.0.1:9/mcp"
            auth = { grant = "client_credentials", client_id = "gateway", client_secret_env = "CRM_SECRET" }
            [[server]]
            name = "docs"
            url = "http://127.0.0.1:10/mcp"
            [server.auth]
            grant = "stored_tokens"
            token_store = "/var/lib/gateway/tokens.json"
            [[server]]
            name = "open"
            url = "http://127.0.0.1:11/mcp"
            "#,
        )
        .unwrap();
        assert_eq!(
            config.credentials["crm"],
            Credentials::ClientCredentials {
                client_id: "gateway".into(),
                client_secret_env: "CRM_SECRET".into(),
            }
        );
        assert_eq!(
            config.credentials["docs"],
            Credentials::StoredTokens {
                token_store: "/var/lib/gateway/tokens.json".into(),
                client_id: None,
                client_secret_env: None,
            }
        );
        assert!(!config.credentials.contains_key("open"));
    }

    #[test]
    fn toml_names_a_token_exchange() {
        let config = GatewayConfig::from_toml(
            r#"
            [[server]]
            name = "crm"
            url = "http://127.0.0.1:9/mcp"
            auth = { grant = "token_exchange", token_endpoint = "https://login.example.com/token", client_id = "gateway", client_secret_env = "CRM_SECRET" }
            "#,
        )
        .unwrap();
        assert_eq!(
            config.credentials["crm"],
            Credentials::TokenExchange {
                token_endpoint: "https://login.example.com/token".into(),
                client_id: "gateway".into(),
                client_secret_env: "CRM_SECRET".into(),
            }
        );
    }

    #[test]
    fn toml_auth_table_protects_the_gateway() {
        let config = GatewayConfig::from_toml(
            r#"
            [auth]
            issuer = "https://login.example.com"
            scopes = ["mcp:read", "mcp:write"]
            [[server]]
            name = "a"
            url = "http://x"
            "#,
        )
        .unwrap();
        assert_eq!(
            config.auth,
            Some(AuthSettings {
                issuer: "https://login.example.com".into(),
                audience: None,
                scopes: vec!["mcp:read".into(), "mcp:write".into()],
            })
        );
        let none =
            GatewayConfig::from_toml("[[server]]\nname = \"a\"\nurl = \"http://x\"").unwrap();
        assert_eq!(none.auth, None);
    }

    #[test]
    fn toml_errors_say_what_is_wrong() {
        let cases = [
            ("", "no [[server]] entries"),
            ("[[server]]\nname = \"a\"", "neither url"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x/mcp\"\ncommand = \"c\"", "both url and command"),
            ("[[server]]\nname = \"a__b\"\nurl = \"http://x/mcp\"", "__"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\n[[server]]\nname = \"a\"\ncommand = \"c\"", "two servers are named"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nera = \"new\"", "era \"new\""),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nport = 3", "unknown field"),
            ("call_timeout_secs = 0\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "positive"),
            ("page_size = 0\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "page_size must be between 1 and 1000, not 0"),
            ("page_size = 5000\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "not 5000"),
            ("[[server]]\nname = \"a\"\ncommand = \"c\"\nauth = { grant = \"client_credentials\", client_id = \"g\", client_secret_env = \"S\" }", "auth is for servers reached by url"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nauth = { grant = \"password\" }", "none of \"client_credentials\""),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nauth = { grant = \"token_exchange\", client_id = \"g\", client_secret_env = \"S\" }", "needs token_endpoint"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nauth = { grant = \"token_exchange\", token_endpoint = \"/token\", client_id = \"g\", client_secret_env = \"S\" }", "token_endpoint \"/token\" is not"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nauth = { grant = \"client_credentials\", token_endpoint = \"http://l/token\", client_id = \"g\", client_secret_env = \"S\" }", "token_endpoint belongs to grant"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nauth = { grant = \"client_credentials\", client_id = \"g\" }", "needs client_secret_env"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nauth = { grant = \"client_credentials\", client_id = \"g\", client_secret = \"inline\" }", "unknown field `client_secret`"),
            ("[[server]]\nname = \"a\"\nurl = \"http://x\"\nauth = { grant = \"stored_tokens\" }", "needs token_store"),
            ("[auth]\nscopes = [\"a\"]\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "[auth]: issuer is missing"),
            ("[auth]\nissuer = \"login.example.com\"\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "[auth]: issuer \"login.example.com\" is not an absolute"),
            ("[auth]\nissuer = \"https://l\"\naudience = \"ftp://g\"\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "[auth]: audience"),
            ("[auth]\nissuer = \"https://l\"\nscopes = [\"a b\"]\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "not one scope"),
            ("[auth]\nissuer = \"https://l\"\nscope = \"a\"\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "unknown field `scope`"),
            ("[auth]\nissuer = \"https://l\"\nscopes = \"a\"\n[[server]]\nname = \"a\"\nurl = \"http://x\"", "invalid type"),
        ];
        for (text, expected) in cases {
            let e = GatewayConfig::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }
}
