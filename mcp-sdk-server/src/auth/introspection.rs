//! [`IntrospectionVerifier`]: opaque tokens checked by asking the
//! authorization server (RFC 7662).

use super::fetch;
use super::{Identity, TokenVerifier, VerifyError};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Checks tokens at the authorization server's introspection endpoint
/// (RFC 7662), authenticating as a client of its own (HTTP Basic): for
/// opaque tokens, which only the issuer can read. A token is taken when the
/// answer says `active`, names this server in `aud`, comes from the issuer
/// (when it says `iss`) and has not expired. Each call is bounded in time
/// and size; an endpoint that fails gives 503, never a pass.
pub struct IntrospectionVerifier {
    endpoint: String,
    client_id: String,
    client_secret: String,
    audience: String,
    issuer: Option<String>,
    timeout: Duration,
    http: OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl IntrospectionVerifier {
    /// A verifier asking `endpoint` as the client `client_id` with
    /// `client_secret`, taking tokens for `audience` (this server's
    /// canonical resource URI).
    pub fn new(endpoint: &str, client_id: &str, client_secret: &str, audience: &str) -> Self {
        IntrospectionVerifier {
            endpoint: endpoint.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            audience: audience.to_owned(),
            issuer: None,
            timeout: Duration::from_secs(5),
            http: OnceLock::new(),
        }
    }

    /// The issuer answers must name in `iss`, when they name one.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// How long one introspection may take (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The identity of an introspection answer, or why it is refused.
    fn judge(&self, answer: Value) -> Result<Identity, VerifyError> {
        let invalid = |why: &str| VerifyError::Invalid(why.to_owned());
        let Value::Object(fields) = answer else {
            return Err(VerifyError::Unavailable(
                "the introspection answer is not an object".into(),
            ));
        };
        if fields.get("active") != Some(&Value::Bool(true)) {
            return Err(invalid("the token is not active"));
        }
        let for_us = match fields.get("aud") {
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| *a == *self.audience),
            _ => false,
        };
        if !for_us {
            return Err(invalid("the token is not for this server (aud)"));
        }
        if let (Some(want), Some(iss)) = (&self.issuer, fields.get("iss")) {
            if iss.as_str() != Some(want.as_str()) {
                return Err(invalid("the token is from another issuer"));
            }
        }
        if let Some(exp) = fields.get("exp").and_then(Value::as_f64) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            if now > exp {
                return Err(invalid("the token has expired"));
            }
        }
        if fields.get("cnf").and_then(|c| c.get("jkt")).is_some() {
            return Err(invalid("the token is bound to a DPoP key"));
        }
        Ok(Identity::from_claims(fields))
    }
}

/// `value` percent-encoded for an `application/x-www-form-urlencoded` body.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[async_trait]
impl TokenVerifier for IntrospectionVerifier {
    async fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let http = self.http.get_or_init(|| fetch::client(self.timeout));
        // RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
        let basic = STANDARD.encode(format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(&self.client_secret)
        ));
        let request = http
            .post(&self.endpoint)
            .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(format!(
                "token={}&token_type_hint=access_token",
                form_encode(token)
            ));
        let answer = fetch::json(request)
            .await
            .map_err(|why| VerifyError::Unavailable(format!("introspection: {why}")))?;
        self.judge(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verifier() -> IntrospectionVerifier {
        IntrospectionVerifier::new(
            "http://127.0.0.1:9/introspect",
            "rs",
            "secret",
            "http://s/mcp",
        )
        .issuer("http://as")
    }

    #[test]
    fn answers_are_judged() {
        let v = verifier();
        let id = v
            .judge(json!({"active": true, "aud": "http://s/mcp", "iss": "http://as", "sub": "bob", "scope": "a b"}))
            .unwrap();
        assert_eq!(id.subject.as_deref(), Some("bob"));
        assert_eq!(id.scopes, ["a", "b"]);
        for (answer, why) in [
            (json!({"active": false}), "not active"),
            (
                json!({"active": "true", "aud": "http://s/mcp"}),
                "not active",
            ),
            (json!({"active": true}), "aud"),
            (json!({"active": true, "aud": "http://other/mcp"}), "aud"),
            (
                json!({"active": true, "aud": "http://s/mcp", "iss": "http://evil"}),
                "issuer",
            ),
            (
                json!({"active": true, "aud": "http://s/mcp", "exp": 1}),
                "expired",
            ),
        ] {
            match v.judge(answer) {
                Err(VerifyError::Invalid(got)) => assert!(got.contains(why), "{got} / {why}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            v.judge(json!([])),
            Err(VerifyError::Unavailable(_))
        ));
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_unavailable_not_a_pass() {
        let got = verifier().verify("opaque").await.unwrap_err();
        assert!(matches!(got, VerifyError::Unavailable(_)), "{got:?}");
    }
}
