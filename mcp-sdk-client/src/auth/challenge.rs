//! The `WWW-Authenticate` challenge of a 401 or 403 (RFC 6750 §3, RFC 9728
//! §5.1): its `resource_metadata`, `scope` and `error`.

/// What a `Bearer` (or `DPoP`) challenge says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// Where the protected resource metadata is (RFC 9728).
    pub resource_metadata: Option<String>,
    /// The scopes the server asks for, space-separated.
    pub scope: Option<String>,
    /// The error code: `invalid_token`, `insufficient_scope`, ...
    pub error: Option<String>,
}

impl Challenge {
    /// Whether the server wants a DPoP proof with its nonce (RFC 9449 §9).
    pub fn wants_dpop_nonce(&self) -> bool {
        self.error.as_deref() == Some("use_dpop_nonce")
    }

    /// Whether the server wants more scopes (a step-up, RFC 6750 §3.1).
    pub fn insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }

    /// The parameters of the `Bearer` challenge among `headers` (every
    /// `WWW-Authenticate` value); the default when there is none.
    pub fn parse<'a>(headers: impl IntoIterator<Item = &'a str>) -> Challenge {
        for header in headers {
            if let Some(params) = bearer_params(header) {
                let mut challenge = Challenge::default();
                for (name, value) in params {
                    match name.to_ascii_lowercase().as_str() {
                        "resource_metadata" => challenge.resource_metadata = Some(value),
                        "scope" => challenge.scope = Some(value),
                        "error" => challenge.error = Some(value),
                        _ => {}
                    }
                }
                return challenge;
            }
        }
        Challenge::default()
    }
}

/// The auth-params of the `Bearer` challenge in one header value, which may
/// hold several challenges (`Basic realm="x", Bearer scope="a"`).
fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let mut rest = header.trim();
    let mut in_bearer = false;
    let mut params = Vec::new();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if token.is_empty() {
            break;
        }
        if let Some(value_start) = after.strip_prefix('=') {
            // token = ( token / quoted-string )
            let value_start = value_start.trim_start();
            let (value, remaining) = if let Some(quoted) = value_start.strip_prefix('"') {
                unquote(quoted)
            } else {
                let end = value_start
                    .find([',', ' ', '\t'])
                    .unwrap_or(value_start.len());
                (value_start[..end].to_owned(), &value_start[end..])
            };
            if in_bearer {
                params.push((token.to_owned(), value));
            }
            rest = remaining;
        } else {
            // A new auth-scheme.
            if in_bearer {
                return Some(params);
            }
            // DPoP challenges (RFC 9449 §7.1) carry the same parameters.
            in_bearer = token.eq_ignore_ascii_case("bearer") || token.eq_ignore_ascii_case("dpop");
            rest = after;
        }
    }
    in_bearer.then_some(params)
}

/// A quoted-string's value (after its opening quote) and what follows it.
fn unquote(s: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            '"' => return (value, &s[i + 1..]),
            c => value.push(c),
        }
    }
    (value, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_parameters() {
        let c = Challenge::parse([
            r#"Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#,
        ]);
        assert!(c.insufficient_scope());
        assert_eq!(c.scope.as_deref(), Some("mcp:read mcp:write"));
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
    }

    #[test]
    fn finds_bearer_among_other_schemes_and_unquoted_values() {
        let c = Challenge::parse([
            r#"Basic realm="old""#,
            r#"Digest realm="x", Bearer error=invalid_token, scope="a \"b\"""#,
        ]);
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(c.scope.as_deref(), Some(r#"a "b""#));
        assert!(!c.insufficient_scope());
    }

    #[test]
    fn a_dpop_challenge_is_read_too() {
        let c =
            Challenge::parse([r#"DPoP error="use_dpop_nonce", resource_metadata="https://m/x""#]);
        assert!(c.wants_dpop_nonce());
        assert_eq!(c.resource_metadata.as_deref(), Some("https://m/x"));
    }

    #[test]
    fn no_bearer_challenge_gives_nothing() {
        assert_eq!(
            Challenge::parse([r#"Basic realm="x""#]),
            Challenge::default()
        );
        assert_eq!(Challenge::parse(["Bearer"]), Challenge::default());
        assert_eq!(Challenge::parse(["garbage =,= \""]), Challenge::default());
    }
}
