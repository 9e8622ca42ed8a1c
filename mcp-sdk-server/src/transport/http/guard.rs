//! Checks on incoming HTTP requests before any MCP handling: DNS-rebinding
//! protection (`Origin` and `Host`) and content negotiation.

use http::header::{ACCEPT, CONTENT_TYPE, HOST, ORIGIN};
use http::HeaderMap;

/// Which `Origin` and `Host` values are accepted.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Extra origins allowed besides loopback ones, such as
    /// `https://app.example.com`. `*` allows every origin.
    pub allowed_origins: Vec<String>,
    /// Extra host names allowed in `Host` besides loopback ones. `*`
    /// allows every host (for servers deliberately reachable from elsewhere).
    pub allowed_hosts: Vec<String>,
}

const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl OriginPolicy {
    /// Why a request is refused (403), if it is.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin
                .to_str()
                .map_err(|_| "the Origin header is not text".to_owned())?;
            if !self.origin_allowed(origin) {
                return Err(format!("Forbidden: origin {origin:?} is not allowed"));
            }
        }
        if let Some(host) = headers.get(HOST) {
            let host = host
                .to_str()
                .map_err(|_| "the Host header is not text".to_owned())?;
            if !self.host_allowed(host) {
                return Err(format!("Forbidden: host {host:?} is not allowed"));
            }
        }
        Ok(())
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self
            .allowed_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        // "null" (sandboxed documents, file://) is never a loopback page of ours.
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false;
        };
        matches!(scheme, "http" | "https") && is_loopback(rest)
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.allowed_hosts.iter().any(|h| {
            h == "*" || h.eq_ignore_ascii_case(strip_port(host)) || h.eq_ignore_ascii_case(host)
        }) || is_loopback(host)
    }
}

fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(i) => &authority[..=i],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn is_loopback(authority: &str) -> bool {
    let host = strip_port(authority);
    LOOPBACK.iter().any(|l| l.eq_ignore_ascii_case(host))
}

/// What the client accepts in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accepts {
    pub json: bool,
    pub sse: bool,
}

pub(crate) fn accepts(headers: &HeaderMap) -> Accepts {
    let mut a = Accepts {
        json: false,
        sse: false,
    };
    let Some(value) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        // No Accept header means anything goes (RFC 9110).
        return Accepts {
            json: true,
            sse: true,
        };
    };
    // What MCP clients send on every POST, recognised whole: the split
    // below costs a thousand instructions.
    if value == "application/json, text/event-stream" {
        return Accepts {
            json: true,
            sse: true,
        };
    }
    for item in value.split(',') {
        // Compared without case and without a lowered copy: this runs on
        // every POST.
        let media = item.split(';').next().unwrap_or("").trim();
        let is = |name: &str| media.eq_ignore_ascii_case(name);
        if is("*/*") {
            return Accepts {
                json: true,
                sse: true,
            };
        }
        if is("application/*") || is("application/json") {
            a.json = true;
        } else if is("text/*") || is("text/event-stream") {
            a.sse = true;
        }
    }
    a
}

/// Whether the body is declared as JSON.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return false;
    };
    // What clients send, recognised whole before the text is parsed.
    value.as_bytes() == b"application/json"
        || value
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(http::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_origins_and_hosts_pass_others_do_not() {
        let p = OriginPolicy::default();
        assert!(p
            .check(&headers(&[
                (ORIGIN, "http://localhost:3000"),
                (HOST, "127.0.0.1:8080")
            ]))
            .is_ok());
        assert!(p.check(&headers(&[(ORIGIN, "http://[::1]:1")])).is_ok());
        assert!(p.check(&headers(&[])).is_ok());
        assert!(p
            .check(&headers(&[(ORIGIN, "http://evil.example")]))
            .is_err());
        assert!(p.check(&headers(&[(ORIGIN, "null")])).is_err());
        assert!(p
            .check(&headers(&[(ORIGIN, "http://localhost.evil.example")]))
            .is_err());
        assert!(p.check(&headers(&[(HOST, "evil.example:80")])).is_err());
        let open = OriginPolicy {
            allowed_origins: vec!["https://app.example".into()],
            allowed_hosts: vec!["app.example".into()],
        };
        assert!(open
            .check(&headers(&[
                (ORIGIN, "https://app.example"),
                (HOST, "app.example:443")
            ]))
            .is_ok());
    }

    #[test]
    fn a_json_body_is_named_so_with_or_without_parameters() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            " application/json ;charset=UTF-8",
        ] {
            assert!(is_json(&headers(&[(CONTENT_TYPE, json)])), "{json}");
        }
        for other in [
            "text/plain",
            "application/jsonx",
            "application/json-seq",
            "",
        ] {
            assert!(!is_json(&headers(&[(CONTENT_TYPE, other)])), "{other}");
        }
        assert!(!is_json(&headers(&[])), "no Content-Type");
    }

    #[test]
    fn accept_parsing() {
        assert_eq!(
            accepts(&headers(&[(ACCEPT, "application/json, text/event-stream")])),
            Accepts {
                json: true,
                sse: true
            }
        );
        assert_eq!(
            accepts(&headers(&[(ACCEPT, "text/event-stream")])),
            Accepts {
                json: false,
                sse: true
            }
        );
        assert_eq!(
            accepts(&headers(&[(ACCEPT, "text/html")])),
            Accepts {
                json: false,
                sse: false
            }
        );
        assert_eq!(
            accepts(&headers(&[])),
            Accepts {
                json: true,
                sse: true
            }
        );
    }
}
