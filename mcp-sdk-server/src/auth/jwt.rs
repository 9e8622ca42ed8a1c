//! [`JwtVerifier`]: JWT access tokens (RFC 9068) checked against the
//! issuer's JSON Web Key Set, found through its metadata and cached.
//! Signatures: ES256, RS256 and PS256 (see [`super::jwk`] for the crates).

use super::fetch;
use super::jwk::{PublicJwk, SigningAlgorithm};
use super::{Identity, TokenVerifier, VerifyError};
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest JWT header taken, base64url-encoded (4 KiB): real headers
/// are a few dozen bytes.
const MAX_HEADER_BYTES: usize = 4 * 1024;
/// At most this many keys are read from a JWKS.
const MAX_KEYS: usize = 64;

/// The keys of the issuer, and when they were fetched (or failed to be).
#[derive(Default)]
struct Keys {
    jwks_uri: Option<String>,
    by_kid: HashMap<String, PublicJwk>,
    fetched: Option<Instant>,
    failed: Option<(Instant, String)>,
}

/// Checks JWT access tokens (RFC 9068) issued by one authorization server
/// for one resource: the signature with a key of the issuer's JWKS (an
/// algorithm of the allow-list that fits the key, never `none` or HMAC),
/// `typ` `at+jwt`, `iss`, `aud` containing this server's resource URI,
/// `exp` and `nbf` with a small leeway. A token bound to a DPoP key
/// (`cnf.jkt`) passes here with its `cnf` in the claims: the
/// [`ResourceServer`](super::ResourceServer) then asks for the proof.
///
/// The JWKS is found through the issuer's metadata (RFC 8414, then OpenID
/// discovery) unless given, fetched once, and fetched again when a token
/// names a key it lacks (a key rotation), at most once per
/// [`refetch_interval`](Self::refetch_interval). Each fetch is bounded in
/// time and size; a failed one is remembered for as long, so an issuer
/// that is down costs one attempt, and requests meanwhile get 503.
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    algorithms: Vec<SigningAlgorithm>,
    leeway: Duration,
    refetch_interval: Duration,
    fetch_timeout: Duration,
    http: OnceLock<reqwest::Client>,
    keys: Mutex<Keys>,
    /// Held while fetching, so concurrent misses fetch once.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier of tokens issued by `issuer` (its exact `iss`) for
    /// `audience` (this server's canonical resource URI, as tokens carry it
    /// in `aud`). ES256, RS256 and PS256, 60 s of leeway, refetch at most
    /// every 10 s, 5 s per fetch.
    pub fn new(issuer: &str, audience: &str) -> Self {
        JwtVerifier {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            algorithms: SigningAlgorithm::ALL.to_vec(),
            leeway: Duration::from_secs(60),
            refetch_interval: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(5),
            http: OnceLock::new(),
            keys: Mutex::new(Keys::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The JWKS's URL, instead of finding it in the issuer's metadata.
    pub fn jwks_uri(self, uri: &str) -> Self {
        crate::util::lock(&self.keys).jwks_uri = Some(uri.to_owned());
        self
    }

    /// The algorithms accepted (the allow-list).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The clock skew tolerated on `exp` and `nbf`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The shortest time between two fetches of the JWKS (and how long a
    /// failed fetch is remembered).
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How long one fetch of metadata or keys may take.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| fetch::client(self.fetch_timeout))
    }

    /// The key `kid` names, fetching the JWKS when it is unknown (and a
    /// fetch is due).
    async fn key(&self, kid: &str) -> Result<PublicJwk, VerifyError> {
        let unknown = || VerifyError::Invalid("the token is signed with an unknown key".into());
        if let Some(key) = crate::util::lock(&self.keys).by_kid.get(kid) {
            return Ok(key.clone());
        }
        let _fetching = self.fetching.lock().await;
        let jwks_uri = {
            let keys = crate::util::lock(&self.keys);
            if let Some(key) = keys.by_kid.get(kid) {
                return Ok(key.clone());
            }
            if let Some((at, why)) = &keys.failed {
                if at.elapsed() < self.refetch_interval {
                    return Err(VerifyError::Unavailable(why.clone()));
                }
            }
            if keys
                .fetched
                .is_some_and(|at| at.elapsed() < self.refetch_interval)
            {
                return Err(unknown());
            }
            keys.jwks_uri.clone()
        };
        let fetched = match jwks_uri {
            Some(uri) => self.fetch_keys(&uri).await.map(|k| (uri, k)),
            None => match self.discover().await {
                Ok(uri) => self.fetch_keys(&uri).await.map(|k| (uri, k)),
                Err(why) => Err(why),
            },
        };
        let mut keys = crate::util::lock(&self.keys);
        match fetched {
            Ok((uri, by_kid)) => {
                keys.jwks_uri = Some(uri);
                keys.by_kid = by_kid;
                keys.fetched = Some(Instant::now());
                keys.failed = None;
                keys.by_kid.get(kid).cloned().ok_or_else(unknown)
            }
            Err(why) => {
                keys.failed = Some((Instant::now(), why.clone()));
                Err(VerifyError::Unavailable(why))
            }
        }
    }

    /// The `jwks_uri` of the issuer's metadata: RFC 8414's well-known path
    /// first, then OpenID discovery's. The metadata must name the issuer.
    async fn discover(&self) -> Result<String, String> {
        let issuer = self.issuer.trim_end_matches('/');
        let (origin, path) = match issuer.find("://").map(|i| i + 3) {
            Some(start) => match issuer[start..].find('/') {
                Some(slash) => issuer.split_at(start + slash),
                None => (issuer, ""),
            },
            None => return Err("the issuer is not a URL".into()),
        };
        let candidates = [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{issuer}/.well-known/openid-configuration"),
        ];
        let mut last = String::new();
        for url in candidates {
            match fetch::json(self.http().get(&url)).await {
                Ok(doc) => {
                    if doc["issuer"].as_str() != Some(self.issuer.as_str()) {
                        return Err("the issuer's metadata names another issuer".into());
                    }
                    return doc["jwks_uri"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| "the issuer's metadata has no jwks_uri".into());
                }
                Err(why) => last = format!("the issuer's metadata: {why}"),
            }
        }
        Err(last)
    }

    /// The usable keys of the JWKS at `uri`, by key id.
    async fn fetch_keys(&self, uri: &str) -> Result<HashMap<String, PublicJwk>, String> {
        let doc = fetch::json(self.http().get(uri))
            .await
            .map_err(|why| format!("the JWKS: {why}"))?;
        let list = doc["keys"]
            .as_array()
            .ok_or_else(|| "the JWKS has no keys list".to_owned())?;
        Ok(list
            .iter()
            .take(MAX_KEYS)
            .filter_map(|jwk| Some((jwk["kid"].as_str()?.to_owned(), PublicJwk::parse(jwk)?)))
            .collect())
    }
}

fn invalid(why: &str) -> VerifyError {
    VerifyError::Invalid(why.to_owned())
}

/// A base64url JSON object, or `None`.
fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[async_trait]
impl TokenVerifier for JwtVerifier {
    async fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the token is not a JWT"));
        };
        if header.len() > MAX_HEADER_BYTES {
            return Err(invalid("the JWT header is too large"));
        }
        let header = decode_object(header).ok_or_else(|| invalid("the JWT header is malformed"))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
        let Some(algorithm) = SigningAlgorithm::find(&self.algorithms, alg) else {
            return Err(invalid("the token's signing algorithm is not accepted"));
        };
        match header.get("typ").and_then(Value::as_str) {
            Some(typ) if typ.eq_ignore_ascii_case("at+jwt") => {}
            Some(typ) if typ.eq_ignore_ascii_case("application/at+jwt") => {}
            _ => return Err(invalid("the token is not a JWT access token (typ at+jwt)")),
        }
        if header.contains_key("crit") {
            return Err(invalid("the JWT header has critical extensions"));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .filter(|kid| kid.len() <= 256)
            .ok_or_else(|| invalid("the JWT header names no key"))?;
        let key = self.key(kid).await?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| invalid("the token's signature is malformed"))?;
        let signed = &token[..header_and_payload_len(token)];
        key.verify(algorithm, signed.as_bytes(), &signature)
            .map_err(|why| VerifyError::Invalid(format!("the token: {why}")))?;
        let claims =
            decode_object(payload).ok_or_else(|| invalid("the JWT claims are malformed"))?;
        self.check_claims(&claims)?;
        Ok(Identity::from_claims(claims))
    }
}

/// The length of `header.payload` in a compact JWS.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

impl JwtVerifier {
    fn check_claims(&self, claims: &Map<String, Value>) -> Result<(), VerifyError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(invalid("the token is from another issuer"));
        }
        let for_us = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| *a == *self.audience),
            _ => false,
        };
        if !for_us {
            return Err(invalid("the token is not for this server (aud)"));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let leeway = self.leeway.as_secs_f64();
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or_else(|| invalid("the token has no expiry"))?;
        if now > exp + leeway {
            return Err(invalid("the token has expired"));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf
                .as_f64()
                .ok_or_else(|| invalid("the token's nbf is malformed"))?;
            if now + leeway < nbf {
                return Err(invalid("the token is not valid yet"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use serde_json::json;

    const ISS: &str = "http://issuer.test";
    const AUD: &str = "http://server.test/mcp";

    fn signing_key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn jwk(key: &SigningKey, kid: &str) -> Value {
        let point = key.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    fn sign(header: &Value, claims: &Value, key: &SigningKey) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn good_claims() -> Value {
        json!({"iss": ISS, "aud": AUD, "sub": "alice", "client_id": "c", "scope": "mcp:read", "exp": now() + 300})
    }

    fn header() -> Value {
        json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"})
    }

    /// A verifier whose keys are already cached (no fetch can happen:
    /// the JWKS URL is unroutable and a fetch is never due).
    fn verifier() -> JwtVerifier {
        let v = JwtVerifier::new(ISS, AUD)
            .jwks_uri("http://127.0.0.1:9/jwks")
            .refetch_interval(Duration::from_secs(3600));
        {
            let mut keys = crate::util::lock(&v.keys);
            keys.by_kid.insert(
                "k1".into(),
                PublicJwk::parse(&jwk(&signing_key(), "k1")).unwrap(),
            );
            keys.fetched = Some(Instant::now());
        }
        v
    }

    async fn refused(token: &str) -> String {
        match verifier().verify(token).await {
            Err(VerifyError::Invalid(why)) => why,
            other => panic!("not refused as invalid: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_good_token_gives_its_identity() {
        let id = verifier()
            .verify(&sign(&header(), &good_claims(), &signing_key()))
            .await
            .unwrap();
        assert_eq!(id.subject.as_deref(), Some("alice"));
        assert_eq!(id.client_id.as_deref(), Some("c"));
        assert_eq!(id.scopes, ["mcp:read"]);
    }

    #[tokio::test]
    async fn bad_tokens_are_refused_for_the_right_reason() {
        let key = signing_key();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut claims = good_claims();
            f(&mut claims);
            sign(&header(), &claims, &key)
        };
        let cases = [
            (with(&|c| c["exp"] = json!(now() - 120)), "expired"),
            (with(&|c| c["nbf"] = json!(now() + 600)), "not valid yet"),
            (with(&|c| c["aud"] = json!("http://other.test/mcp")), "aud"),
            (with(&|c| c["aud"] = json!(["x", AUD])), ""),
            (
                with(&|c| c["iss"] = json!("http://evil.test")),
                "another issuer",
            ),
            // Bound to a DPoP key: the resource server asks for the proof.
            (with(&|c| c["cnf"] = json!({"jkt": "abc"})), ""),
            (
                with(&|c| drop(c.as_object_mut().unwrap().remove("exp"))),
                "no expiry",
            ),
        ];
        for (token, why) in cases {
            if why.is_empty() {
                verifier().verify(&token).await.unwrap();
            } else {
                let got = refused(&token).await;
                assert!(got.contains(why), "{got} should say {why}");
            }
        }
        // Another key signed it (same kid).
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        assert!(refused(&sign(&header(), &good_claims(), &other))
            .await
            .contains("does not verify"));
        // alg none, with or without a signature; an alg not allowed.
        for alg in ["none", "HS256", "RS256"] {
            let h = json!({"alg": alg, "typ": "at+jwt", "kid": "k1"});
            let unsigned = format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(good_claims().to_string())
            );
            assert!(refused(&unsigned).await.contains("algorithm"), "{alg}");
        }
        // An ID token (no typ at+jwt) is not an access token.
        let id_token = sign(&json!({"alg": "ES256", "kid": "k1"}), &good_claims(), &key);
        assert!(refused(&id_token).await.contains("typ"));
        let crit = sign(
            &json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1", "crit": ["x"]}),
            &good_claims(),
            &key,
        );
        assert!(refused(&crit).await.contains("critical"));
    }

    #[tokio::test]
    async fn malformed_and_huge_tokens_are_refused_unread() {
        let huge_header = format!("{}.e30.AA", "A".repeat(MAX_HEADER_BYTES + 1));
        assert!(refused(&huge_header).await.contains("too large"));
        for garbage in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.AA",
            "e30.e30.AA",
            "W10.e30.AA",
        ] {
            let why = refused(garbage).await;
            assert!(!why.is_empty(), "{garbage}");
        }
        let mut truncated = sign(&header(), &good_claims(), &signing_key());
        truncated.truncate(truncated.len() - 4);
        refused(&truncated).await;
    }

    #[tokio::test]
    async fn an_unknown_key_within_the_refetch_interval_is_refused_without_a_fetch() {
        let h = json!({"alg": "ES256", "typ": "at+jwt", "kid": "rotated"});
        let why = refused(&sign(&h, &good_claims(), &signing_key())).await;
        assert!(why.contains("unknown key"), "{why}");
    }

    #[tokio::test]
    async fn an_unreachable_jwks_is_503_and_remembered() {
        let v = JwtVerifier::new(ISS, AUD)
            .jwks_uri("http://127.0.0.1:9/jwks")
            .fetch_timeout(Duration::from_secs(2))
            .refetch_interval(Duration::from_secs(3600));
        let token = sign(&header(), &good_claims(), &signing_key());
        let first = v.verify(&token).await.unwrap_err();
        assert!(matches!(first, VerifyError::Unavailable(_)), "{first:?}");
        assert!(crate::util::lock(&v.keys).failed.is_some());
        // The failure is cached: the second answer needs no fetch.
        let second = v.verify(&token).await.unwrap_err();
        assert_eq!(first, second);
    }

    /// An RSA key pair of 2048 bits and its public JWK.
    fn rsa_key(kid: &str) -> (aws_lc_rs::rsa::KeyPair, Value) {
        use aws_lc_rs::signature::KeyPair;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        let der = pair.public_key().as_ref().to_vec();
        let (n, rest) = der_integer(der_body(&der).0);
        let (e, _) = der_integer(rest);
        let jwk = json!({
            "kty": "RSA", "kid": kid, "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(n),
            "e": URL_SAFE_NO_PAD.encode(e),
        });
        (pair, jwk)
    }

    /// The contents of the DER element at the start of `der`, and what follows.
    fn der_body(der: &[u8]) -> (&[u8], &[u8]) {
        let (len, start) = match der[1] {
            n if n < 0x80 => (n as usize, 2),
            n => {
                let octets = (n & 0x7f) as usize;
                let len = der[2..2 + octets]
                    .iter()
                    .fold(0usize, |acc, b| acc << 8 | *b as usize);
                (len, 2 + octets)
            }
        };
        (&der[start..start + len], &der[start + len..])
    }

    fn der_integer(der: &[u8]) -> (&[u8], &[u8]) {
        assert_eq!(der[0], 0x02, "an INTEGER");
        der_body(der)
    }

    fn sign_rsa(
        header: &Value,
        claims: &Value,
        pair: &aws_lc_rs::rsa::KeyPair,
        encoding: &'static dyn aws_lc_rs::signature::RsaEncoding,
    ) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            encoding,
            &aws_lc_rs::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[tokio::test]
    async fn rsa_tokens_verify_and_an_algorithm_that_does_not_fit_the_key_is_refused() {
        use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256};
        let (pair, public) = rsa_key("r1");
        let v = verifier();
        crate::util::lock(&v.keys)
            .by_kid
            .insert("r1".into(), PublicJwk::parse(&public).unwrap());
        let header = |alg: &str| json!({"alg": alg, "typ": "at+jwt", "kid": "r1"});
        let rs256 = sign_rsa(&header("RS256"), &good_claims(), &pair, &RSA_PKCS1_SHA256);
        let ps256 = sign_rsa(&header("PS256"), &good_claims(), &pair, &RSA_PSS_SHA256);
        assert_eq!(
            v.verify(&rs256).await.unwrap().subject.as_deref(),
            Some("alice")
        );
        assert_eq!(
            v.verify(&ps256).await.unwrap().subject.as_deref(),
            Some("alice")
        );
        let refused = |token: String| {
            let v = &v;
            async move {
                match v.verify(&token).await {
                    Err(VerifyError::Invalid(why)) => why,
                    other => panic!("not refused: {other:?}"),
                }
            }
        };
        // A PKCS #1 signature presented as PSS (and the reverse).
        let swapped = sign_rsa(&header("PS256"), &good_claims(), &pair, &RSA_PKCS1_SHA256);
        assert!(refused(swapped).await.contains("does not verify"));
        // An RSA key named by an ES256 header, an EC key by an RS256 one.
        let es_on_rsa = sign(&header("ES256"), &good_claims(), &signing_key());
        assert!(refused(es_on_rsa).await.contains("not the key's"));
        let rs_on_ec = sign_rsa(
            &json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1"}),
            &good_claims(),
            &pair,
            &RSA_PKCS1_SHA256,
        );
        assert!(refused(rs_on_ec).await.contains("not the key's"));
        // HS256 "signed" with the public key as the secret: never taken.
        let hs = json!({"alg": "HS256", "typ": "at+jwt", "kid": "r1"});
        assert!(
            refused(sign_rsa(&hs, &good_claims(), &pair, &RSA_PKCS1_SHA256))
                .await
                .contains("algorithm")
        );
        // An allow-list of ES256 only refuses RS256.
        let es_only = verifier().algorithms([SigningAlgorithm::Es256]);
        crate::util::lock(&es_only.keys)
            .by_kid
            .insert("r1".into(), PublicJwk::parse(&public).unwrap());
        assert!(
            matches!(es_only.verify(&rs256).await, Err(VerifyError::Invalid(why)) if why.contains("algorithm"))
        );
        // A key that pins RS256 does not check PS256.
        let mut pinned = public.clone();
        pinned["alg"] = json!("RS256");
        crate::util::lock(&v.keys)
            .by_kid
            .insert("r1".into(), PublicJwk::parse(&pinned).unwrap());
        assert!(refused(ps256).await.contains("not the key's"));
    }
}
