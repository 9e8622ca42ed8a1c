//! Discovery: the protected resource metadata (RFC 9728) and the
//! authorization server metadata (RFC 8414, OpenID Connect Discovery), in
//! the order the MCP specification gives, with the `2025-03-26` fallback.

use super::{auth_error, Http};
use crate::ClientError;
use reqwest::Url;
use serde::Deserialize;

/// The largest metadata document or token response read: 1 MiB.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// What the protected resource says of itself (RFC 9728 §2).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResourceMetadata {
    pub resource: String,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// What the authorization server says of itself (RFC 8414 §2).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub client_id_metadata_document_supported: Option<bool>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}

impl ServerMetadata {
    /// Whether the server binds tokens to a DPoP key signing with ES256.
    pub fn dpop_es256(&self) -> bool {
        self.dpop_signing_alg_values_supported
            .as_ref()
            .is_some_and(|algs| algs.iter().any(|a| a == "ES256"))
    }
}

/// Where the authorization comes from: the resource identifier to ask
/// tokens for, its metadata (none for a `2025-03-26` server), and the
/// authorization server.
#[derive(Debug, Clone)]
pub(crate) struct Discovered {
    pub resource: String,
    pub resource_metadata: Option<ResourceMetadata>,
    pub issuer: String,
    pub server: ServerMetadata,
    /// The metadata is the `2025-03-26` default endpoints, not a document
    /// (so nothing says the server does PKCE with S256; it must).
    pub defaults: bool,
}

/// Finds the protected resource metadata, then its authorization server's.
pub(crate) async fn discover(
    http: &Http,
    server_url: &Url,
    resource_metadata_url: Option<&str>,
) -> Result<Discovered, ClientError> {
    let Some(prm) = resource_metadata(http, server_url, resource_metadata_url).await? else {
        return legacy(http, server_url).await;
    };
    if !resource_matches(&prm.resource, server_url) {
        return Err(auth_error(format!(
            "the protected resource metadata names the resource {}, which is not this server ({server_url})",
            prm.resource
        )));
    }
    let Some(issuer) = prm.authorization_servers.first().cloned() else {
        return Err(auth_error(
            "the protected resource metadata names no authorization server",
        ));
    };
    let issuer_url = Url::parse(&issuer).map_err(|e| {
        auth_error(format!(
            "the authorization server {issuer:?} is not a URL: {e}"
        ))
    })?;
    require_secure(&issuer_url, "authorization server")?;
    let server = server_metadata(http, &issuer, &issuer_url).await?.ok_or_else(|| {
        auth_error(format!(
            "the authorization server {issuer} publishes no metadata (RFC 8414 or OpenID Connect discovery)"
        ))
    })?;
    check_endpoints(&server)?;
    Ok(Discovered {
        resource: prm.resource.clone(),
        resource_metadata: Some(prm),
        issuer,
        server,
        defaults: false,
    })
}

/// The protected resource metadata: from the challenge's
/// `resource_metadata`, else at the path-aware well-known URI, else at the
/// root one. `None` when the server has none (a `2025-03-26` server).
async fn resource_metadata(
    http: &Http,
    server_url: &Url,
    from_challenge: Option<&str>,
) -> Result<Option<ResourceMetadata>, ClientError> {
    let mut candidates = Vec::new();
    if let Some(url) = from_challenge {
        match server_url.join(url) {
            Ok(url) => candidates.push(url),
            Err(e) => tracing::warn!("ignored a resource_metadata that is not a URL: {e}"),
        }
    }
    let path = server_url.path().trim_end_matches('/');
    if !path.is_empty() {
        candidates.push(well_known(server_url, "oauth-protected-resource", path));
    }
    candidates.push(well_known(server_url, "oauth-protected-resource", ""));
    for url in candidates {
        if let Some(prm) = http.get_json::<ResourceMetadata>(&url).await? {
            return Ok(Some(prm));
        }
    }
    Ok(None)
}

/// The authorization server metadata at the URIs the specification lists,
/// in its order: for an issuer with a path, RFC 8414 with the path after
/// the well-known segment, OpenID Connect the same way, then OpenID Connect
/// with the path before it; for one without, RFC 8414 then OpenID Connect.
/// The document must name `issuer` exactly.
async fn server_metadata(
    http: &Http,
    issuer: &str,
    issuer_url: &Url,
) -> Result<Option<ServerMetadata>, ClientError> {
    let path = issuer_url.path().trim_end_matches('/');
    let candidates = if path.is_empty() {
        vec![
            well_known(issuer_url, "oauth-authorization-server", ""),
            well_known(issuer_url, "openid-configuration", ""),
        ]
    } else {
        let mut appended = issuer_url.clone();
        appended.set_path(&format!("{path}/.well-known/openid-configuration"));
        appended.set_query(None);
        vec![
            well_known(issuer_url, "oauth-authorization-server", path),
            well_known(issuer_url, "openid-configuration", path),
            appended,
        ]
    };
    for url in candidates {
        if let Some(metadata) = http.get_json::<ServerMetadata>(&url).await? {
            if metadata.issuer != issuer {
                return Err(auth_error(format!(
                    "the authorization server metadata at {url} names the issuer {}, not {issuer}",
                    metadata.issuer
                )));
            }
            return Ok(Some(metadata));
        }
    }
    Ok(None)
}

/// The `2025-03-26` way: the authorization server is the MCP server's
/// origin, with its RFC 8414 metadata there or else the default endpoints
/// `/authorize`, `/token` and `/register`.
async fn legacy(http: &Http, server_url: &Url) -> Result<Discovered, ClientError> {
    let origin = server_url.origin().ascii_serialization();
    let origin_url = Url::parse(&origin)
        .map_err(|e| auth_error(format!("the server's origin {origin} is not a URL: {e}")))?;
    require_secure(&origin_url, "authorization server")?;
    let resource = canonical_resource(server_url);
    let metadata_url = well_known(&origin_url, "oauth-authorization-server", "");
    if let Some(server) = http.get_json::<ServerMetadata>(&metadata_url).await? {
        if server.issuer != origin {
            return Err(auth_error(format!(
                "the authorization server metadata at {metadata_url} names the issuer {}, not {origin}",
                server.issuer
            )));
        }
        check_endpoints(&server)?;
        return Ok(Discovered {
            resource,
            resource_metadata: None,
            issuer: origin,
            server,
            defaults: false,
        });
    }
    tracing::debug!("no authorization metadata anywhere; using the 2025-03-26 default endpoints");
    let server = ServerMetadata {
        issuer: origin.clone(),
        authorization_endpoint: format!("{origin}/authorize"),
        token_endpoint: format!("{origin}/token"),
        registration_endpoint: Some(format!("{origin}/register")),
        scopes_supported: None,
        code_challenge_methods_supported: None,
        token_endpoint_auth_methods_supported: None,
        client_id_metadata_document_supported: None,
        authorization_response_iss_parameter_supported: None,
        dpop_signing_alg_values_supported: None,
    };
    Ok(Discovered {
        resource,
        resource_metadata: None,
        issuer: origin,
        server,
        defaults: true,
    })
}

/// `{origin}/.well-known/{name}{path}`.
fn well_known(base: &Url, name: &str, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("/.well-known/{name}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// The server's URL as a resource identifier (RFC 8707): no fragment, no
/// query, no trailing slash.
pub(crate) fn canonical_resource(server_url: &Url) -> String {
    let mut url = server_url.clone();
    url.set_fragment(None);
    url.set_query(None);
    let s = url.to_string();
    match s.strip_suffix('/') {
        Some(stripped) if url.path() != "/" => stripped.to_owned(),
        _ if url.path() == "/" => s.trim_end_matches('/').to_owned(),
        _ => s,
    }
}

/// Whether the metadata's `resource` names this server: the same origin,
/// and a path that is the server's or a parent of it (segment by segment).
pub(crate) fn resource_matches(resource: &str, server_url: &Url) -> bool {
    let Ok(resource) = Url::parse(resource) else {
        return false;
    };
    if resource.origin() != server_url.origin() {
        return false;
    }
    let theirs = resource.path().trim_end_matches('/');
    let ours = server_url.path().trim_end_matches('/');
    ours == theirs || ours.starts_with(&format!("{theirs}/"))
}

/// Refuses plain HTTP except on loopback (OAuth 2.1 §1.5: every
/// authorization server endpoint is HTTPS; a local test server is the one
/// exception RFC 8252 allows).
pub(crate) fn require_secure(url: &Url, what: &str) -> Result<(), ClientError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        scheme => Err(auth_error(format!(
            "the {what} {url} is not HTTPS ({scheme}), and not on loopback; refused"
        ))),
    }
}

/// Whether `url` names this machine.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Every endpoint of the metadata is a URL, and secure.
fn check_endpoints(server: &ServerMetadata) -> Result<(), ClientError> {
    let endpoints = [
        (
            "authorization endpoint",
            Some(&server.authorization_endpoint),
        ),
        ("token endpoint", Some(&server.token_endpoint)),
        (
            "registration endpoint",
            server.registration_endpoint.as_ref(),
        ),
    ];
    for (what, endpoint) in endpoints {
        let Some(endpoint) = endpoint else { continue };
        let url = Url::parse(endpoint)
            .map_err(|e| auth_error(format!("the {what} {endpoint:?} is not a URL: {e}")))?;
        require_secure(&url, what)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn resource_must_be_this_server_or_a_parent_path() {
        let server = url("https://mcp.example.com/tenant/mcp");
        assert!(resource_matches(
            "https://mcp.example.com/tenant/mcp",
            &server
        ));
        assert!(resource_matches("https://mcp.example.com/tenant", &server));
        assert!(resource_matches("https://mcp.example.com", &server));
        assert!(!resource_matches("https://mcp.example.com/ten", &server));
        assert!(!resource_matches(
            "https://evil.example.com/tenant/mcp",
            &server
        ));
        assert!(!resource_matches(
            "http://mcp.example.com/tenant/mcp",
            &server
        ));
        assert!(!resource_matches("not a url", &server));
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "https://as.example.com",
            "http://localhost:8080",
            "http://127.0.0.1:9000/x",
            "http://[::1]:1/",
        ] {
            assert!(
                require_secure(&url(ok), "authorization server").is_ok(),
                "{ok}"
            );
        }
        let err = require_secure(&url("http://as.example.com"), "authorization server")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not HTTPS"), "{err}");
        assert!(require_secure(&url("ftp://localhost"), "x").is_err());
    }

    #[test]
    fn canonical_resource_drops_query_fragment_and_trailing_slash() {
        assert_eq!(
            canonical_resource(&url("https://a.example/mcp/?x=1#f")),
            "https://a.example/mcp"
        );
        assert_eq!(
            canonical_resource(&url("https://a.example/")),
            "https://a.example"
        );
        assert_eq!(
            canonical_resource(&url("http://localhost:3000/mcp")),
            "http://localhost:3000/mcp"
        );
    }

    #[test]
    fn well_known_uris_insert_the_path() {
        let issuer = url("https://as.example.com/tenant1");
        assert_eq!(
            well_known(&issuer, "oauth-authorization-server", "/tenant1").as_str(),
            "https://as.example.com/.well-known/oauth-authorization-server/tenant1"
        );
    }
}
