//! The seven reference servers of the seed, rebuilt as MCP servers, and
//! what they share: the `--stdio` / `--http ADDR` flags, `PORT` and
//! `LOG_LEVEL` from the environment, and the seed's `GET /health` answer.
//!
//! Each server's logic lives in its module here (so tests can drive it
//! in-process); `examples/<name>_server.rs` parses flags and calls [`run`].

pub mod beneath;
pub mod database;
pub mod internet;
pub mod prompts;
pub mod resources;
pub mod roots;
pub mod sampling;
pub mod tools;

use crate::request_state::RequestStateArgs;
use crate::status;
use mcp_sdk_server::auth::{JwtVerifier, ResourceServer};
use mcp_sdk_server::http::{ExtraRoutes, HttpConfig, McpBody, OriginPolicy, StreamableHttpService};
use mcp_sdk_server::Server;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;
use tracing::Level;

/// Who a reference server is, for its health answer and its messages.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// The seed's server id: `"1"` for resources up to `"7"` for prompts.
    pub id: &'static str,
    /// The short name, such as `tools`.
    pub name: &'static str,
    /// The port served when neither `--http` nor `PORT` says otherwise
    /// (5001 to 5007).
    pub default_port: u16,
    /// What the health answer lists as the server's capabilities.
    pub capabilities: &'static [&'static str],
}

/// The transport flags every reference server takes.
#[derive(Debug, Clone, clap::Args)]
pub struct TransportArgs {
    /// Serve one session on stdin/stdout (for desktop MCP hosts).
    #[arg(long, conflicts_with = "http")]
    pub stdio: bool,
    /// Serve Streamable HTTP at http://ADDR/mcp [default: 127.0.0.1:$PORT,
    /// or the server's own port].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Also accept requests whose `Host` is this name (one other clients use
    /// for this machine, such as a container's service name), repeatable;
    /// more from `MCP_ALLOWED_HOSTS` (comma-separated). Loopback is always
    /// accepted. (Not the internet server's `--allow-host`, which is about
    /// where it may fetch from.)
    #[arg(long = "accept-host", value_name = "HOST")]
    pub accept_hosts: Vec<String>,
    /// Also accept requests from pages of this `Origin`, repeatable; more
    /// from `MCP_ALLOWED_ORIGINS`. Loopback origins are always accepted.
    #[arg(long = "accept-origin", value_name = "ORIGIN")]
    pub accept_origins: Vec<String>,
    /// The `requestState` key replicas share.
    #[command(flatten)]
    pub request_state: RequestStateArgs,
    /// Protect the server with OAuth: every request needs an access token
    /// (a JWT, ES256) issued by this authorization server (its issuer URL,
    /// whose metadata names its keys). Without it, no authorization.
    #[arg(long, value_name = "URL", conflicts_with = "stdio")]
    pub auth_issuer: Option<String>,
    /// The resource URI tokens must name in `aud` [default:
    /// http://ADDR/mcp, ADDR as served].
    #[arg(long, value_name = "URI", requires = "auth_issuer")]
    pub auth_audience: Option<String>,
    /// Scopes every request needs, comma-separated.
    #[arg(
        long,
        value_name = "SCOPES",
        value_delimiter = ',',
        requires = "auth_issuer"
    )]
    pub auth_scopes: Vec<String>,
}

impl TransportArgs {
    /// The address to serve HTTP on: `--http`, else 127.0.0.1 with `PORT`
    /// from the environment, else the server's default port.
    pub fn http_addr(&self, spec: &ServerSpec) -> SocketAddr {
        self.http.unwrap_or_else(|| {
            let port = std::env::var("PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(spec.default_port);
            SocketAddr::from((Ipv4Addr::LOCALHOST, port))
        })
    }

    /// The OAuth protection `--auth-issuer` asks for, for a server
    /// listening at `addr`; `None` without the flag.
    pub fn resource_server(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<Option<Arc<ResourceServer>>> {
        let Some(issuer) = &self.auth_issuer else {
            return Ok(None);
        };
        resource_server(
            issuer,
            self.auth_audience.as_deref(),
            &self.auth_scopes,
            addr,
        )
        .map(Some)
    }

    /// The DNS-rebinding guard: loopback, plus the hosts and origins the
    /// flags and `MCP_ALLOWED_HOSTS` / `MCP_ALLOWED_ORIGINS` name.
    pub fn origin_policy(&self) -> OriginPolicy {
        let with_env = |flags: &[String], var: &str| {
            let from_env = std::env::var(var).unwrap_or_default();
            let from_env = from_env.split(',').map(str::trim).filter(|s| !s.is_empty());
            flags
                .iter()
                .cloned()
                .chain(from_env.map(str::to_owned))
                .collect()
        };
        OriginPolicy {
            allowed_hosts: with_env(&self.accept_hosts, "MCP_ALLOWED_HOSTS"),
            allowed_origins: with_env(&self.accept_origins, "MCP_ALLOWED_ORIGINS"),
        }
    }
}

/// A server listening at `addr` as an OAuth resource server: it takes
/// the JWT access tokens `issuer` issues for `audience` (default
/// `http://ADDR/mcp`), and every request needs `scopes`.
pub fn resource_server(
    issuer: &str,
    audience: Option<&str>,
    scopes: &[String],
    addr: SocketAddr,
) -> std::io::Result<Arc<ResourceServer>> {
    let audience = audience.map_or_else(|| format!("http://{addr}/mcp"), str::to_owned);
    let verifier = JwtVerifier::new(issuer, &audience);
    let auth = ResourceServer::new(&audience, verifier)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
        .authorization_server(issuer)
        .scopes_supported(scopes.iter().cloned())
        .require_scopes(scopes.iter().cloned());
    Ok(Arc::new(auth))
}

/// Serves `server` as the flags say: one stdio session, or Streamable HTTP
/// (with the legacy HTTP+SSE endpoints and `GET /health`) until Ctrl-C.
pub async fn run(
    server: impl Server,
    spec: &ServerSpec,
    args: &TransportArgs,
) -> std::io::Result<()> {
    if args.stdio {
        return mcp_sdk_server::stdio::serve(server).await;
    }
    let session = args.request_state.session_config().unwrap_or_else(|e| {
        status(Level::ERROR, format_args!("{}_server: {e}", spec.name));
        std::process::exit(2);
    });
    let addr = args.http_addr(spec);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    status(
        Level::INFO,
        format_args!(
            "{}_server: serving MCP at http://{}/mcp",
            spec.name,
            listener.local_addr()?
        ),
    );
    let config = HttpConfig {
        origins: args.origin_policy(),
        session,
        auth: args.resource_server(listener.local_addr()?)?,
        ..HttpConfig::default()
    };
    let service = StreamableHttpService::new(server, config);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    mcp_sdk_server::http::serve_app(
        listener,
        "/mcp",
        service,
        Some(health_route(spec)),
        shutdown,
    )
    .await
}

/// `GET /health`, answered as the seed's servers did.
pub fn health_route(spec: &ServerSpec) -> ExtraRoutes {
    let spec = spec.clone();
    Arc::new(move |req| {
        (req.uri().path() == "/health").then(|| {
            let body = health(&spec).to_string();
            http::Response::builder()
                .header("content-type", "application/json")
                .body(McpBody::full(body))
                .expect("a static response is valid")
        })
    })
}

/// The seed's health JSON: status, server id, capabilities, timestamp.
pub fn health(spec: &ServerSpec) -> serde_json::Value {
    serde_json::json!({
        "status": "healthy",
        "serverId": spec.id,
        "server": spec.name,
        "capabilities": spec.capabilities,
        "timestamp": utc_timestamp(SystemTime::now()),
    })
}

/// An RFC 3339 UTC timestamp, to the second.
pub fn utc_timestamp(t: SystemTime) -> String {
    mcp_sdk::time::rfc3339(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_619_946);
        assert_eq!(utc_timestamp(t), "2026-11-25T15:19:06Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(utc_timestamp(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn health_names_the_server() {
        let spec = ServerSpec {
            id: "3",
            name: "tools",
            default_port: 5003,
            capabilities: &["tools"],
        };
        let h = health(&spec);
        assert_eq!(h["status"], "healthy");
        assert_eq!(h["serverId"], "3");
        assert_eq!(h["capabilities"], serde_json::json!(["tools"]));
    }
}
