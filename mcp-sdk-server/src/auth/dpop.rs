//! DPoP proofs (RFC 9449 §4.3, §7): a token bound to a key (`cnf.jkt`)
//! is taken only with a fresh proof, signed by that key, made for this
//! request. Each proof is taken once: its `jti` is remembered for as long
//! as its `iat` would pass, in a cache bounded in size.
//!
//! An optional server nonce (§9) limits proofs to a recent time: it is
//! `period ‖ HMAC(period)` under a key of this process, so any nonce of the
//! current or the previous period passes and nothing per client is kept.

use super::jwk::{PublicJwk, SigningAlgorithm};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest DPoP proof taken (8 KiB: an RSA key in the header is the
/// largest part, well under 2 KiB).
pub(super) const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` taken.
const MAX_JTI_BYTES: usize = 256;

/// Why a request's proof was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ProofError {
    /// The proof is missing, malformed, for another request, replayed,
    /// too old or signed by another key (401 `invalid_dpop_proof`).
    Invalid(&'static str),
    /// The proof lacks the current server nonce (401 `use_dpop_nonce`,
    /// with a fresh nonce in `DPoP-Nonce`).
    UseNonce,
    /// Too many proofs are remembered to take another now (503).
    Busy,
}

/// What a proof must match: the request it came with.
pub(super) struct ProofRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The URI the request was made to, without query (`htu`).
    pub uri: &'a str,
    /// The access token it goes with (`ath` is its SHA-256).
    pub token: &'a str,
    /// The thumbprint of the key the token is bound to (`cnf.jkt`).
    pub jkt: &'a str,
}

/// Checks DPoP proofs and remembers their `jti`s.
pub(super) struct DpopChecker {
    /// How far a proof's `iat` may be from now, either way.
    pub window: Duration,
    /// The algorithms proofs may be signed with.
    pub algorithms: Vec<SigningAlgorithm>,
    /// The most `jti`s remembered at once.
    pub capacity: usize,
    /// The nonce key and period, when nonces are required.
    pub nonce: Option<NonceKey>,
    seen: Mutex<Seen>,
}

/// The proofs taken, until they expire: digests of `jkt` and `jti`.
#[derive(Default)]
struct Seen {
    until: HashMap<[u8; 32], u64>,
    order: VecDeque<([u8; 32], u64)>,
}

impl DpopChecker {
    pub(super) fn new() -> Self {
        DpopChecker {
            window: Duration::from_secs(60),
            algorithms: SigningAlgorithm::ALL.to_vec(),
            capacity: 100_000,
            nonce: None,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// The algorithms, as `algs` of a challenge names them.
    pub(super) fn algs(&self) -> String {
        let names: Vec<&str> = self.algorithms.iter().map(|a| a.name()).collect();
        names.join(" ")
    }

    /// A nonce for a client to use now, when nonces are required.
    pub(super) fn fresh_nonce(&self) -> Option<String> {
        self.nonce.as_ref().map(|key| key.make(now_secs()))
    }

    /// Takes `proof` for `request`, or says why not.
    pub(super) fn check(&self, proof: &str, request: &ProofRequest<'_>) -> Result<(), ProofError> {
        let invalid = ProofError::Invalid;
        if proof.len() > MAX_PROOF_BYTES {
            return Err(invalid("the DPoP proof is too long"));
        }
        let mut parts = proof.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the DPoP proof is not a JWT"));
        };
        let header =
            decode_object(header).ok_or(invalid("the DPoP proof's header is malformed"))?;
        if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(invalid("the DPoP proof's typ is not dpop+jwt"));
        }
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
        let algorithm = SigningAlgorithm::find(&self.algorithms, alg).ok_or(invalid(
            "the DPoP proof's signing algorithm is not accepted",
        ))?;
        let key = header
            .get("jwk")
            .and_then(PublicJwk::parse)
            .ok_or(invalid("the DPoP proof's header has no usable public jwk"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| invalid("the DPoP proof's signature is malformed"))?;
        let signed = &proof[..proof.rfind('.').unwrap_or(0)];
        key.verify(algorithm, signed.as_bytes(), &signature)
            .map_err(|_| invalid("the DPoP proof's signature does not verify"))?;
        if key.thumbprint() != request.jkt {
            return Err(invalid(
                "the DPoP proof is signed by another key than the token's",
            ));
        }
        let claims =
            decode_object(payload).ok_or(invalid("the DPoP proof's claims are malformed"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("htm") != Some(request.method) {
            return Err(invalid("the DPoP proof is for another HTTP method"));
        }
        let htu = text("htu").ok_or(invalid("the DPoP proof names no htu"))?;
        if !same_uri(htu, request.uri) {
            return Err(invalid("the DPoP proof is for another URL"));
        }
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(request.token.as_bytes()));
        if text("ath") != Some(ath.as_str()) {
            return Err(invalid("the DPoP proof is for another access token (ath)"));
        }
        let now = now_secs();
        let iat = claims
            .get("iat")
            .and_then(Value::as_f64)
            .ok_or(invalid("the DPoP proof has no iat"))?;
        let window = self.window.as_secs_f64();
        if (iat - now as f64).abs() > window {
            return Err(invalid("the DPoP proof's iat is too far from now"));
        }
        if let Some(key) = &self.nonce {
            match text("nonce") {
                Some(nonce) if key.is_current(nonce, now) => {}
                _ => return Err(ProofError::UseNonce),
            }
        }
        let jti = text("jti")
            .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_BYTES)
            .ok_or(invalid("the DPoP proof has no usable jti"))?;
        // Remembered until its iat leaves the window, plus a second.
        let until = iat.max(0.0) as u64 + self.window.as_secs() + 1;
        self.remember(request.jkt, jti, until, now)
    }

    /// Records `jti` (of the key `jkt`) until `until`, or refuses it as a
    /// replay; `Busy` when the cache is full of live entries.
    fn remember(&self, jkt: &str, jti: &str, until: u64, now: u64) -> Result<(), ProofError> {
        let mut digest = Sha256::new();
        digest.update(jkt.as_bytes());
        digest.update([0]);
        digest.update(jti.as_bytes());
        let id: [u8; 32] = digest.finalize().into();
        let mut seen = crate::util::lock(&self.seen);
        let Seen { until: live, order } = &mut *seen;
        if live.get(&id).is_some_and(|&end| end >= now) {
            return Err(ProofError::Invalid("the DPoP proof was used before (jti)"));
        }
        // Drop what expired: the oldest first, then (when full) everyone.
        while order.front().is_some_and(|(_, end)| *end < now) {
            if let Some((old, _)) = order.pop_front() {
                live.remove(&old);
            }
        }
        if live.len() >= self.capacity {
            order.retain(|(_, end)| *end >= now);
            live.retain(|_, end| *end >= now);
        }
        if live.len() >= self.capacity {
            return Err(ProofError::Busy);
        }
        live.insert(id, until);
        order.push_back((id, until));
        Ok(())
    }
}

/// The secret nonces are made with, and how long each lasts.
pub(super) struct NonceKey {
    key: [u8; 32],
    period: u64,
}

impl NonceKey {
    /// A random key (from the operating system) and nonces of `period`.
    pub(super) fn new(period: Duration) -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system gives random bytes");
        NonceKey {
            key,
            period: period.as_secs().max(1),
        }
    }

    fn mac(&self, slot: u64) -> [u8; 16] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(&slot.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    fn make(&self, now: u64) -> String {
        let slot = now / self.period;
        let mut bytes = slot.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.mac(slot));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether `nonce` is one of this period or the previous one.
    fn is_current(&self, nonce: &str, now: u64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Ok(bytes) = <[u8; 24]>::try_from(bytes.as_slice()) else {
            return false;
        };
        let slot = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let current = now / self.period;
        if slot != current && slot + 1 != current {
            return false;
        }
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(&slot.to_be_bytes());
        mac.verify_truncated_left(&bytes[8..]).is_ok()
    }
}

/// Whether the proof's `htu` names `uri`: compared without query and
/// fragment, scheme and host in any case, a trailing slash aside.
fn same_uri(htu: &str, uri: &str) -> bool {
    fn normal(uri: &str) -> Option<String> {
        let uri = uri.split(['?', '#']).next()?;
        let parsed: http::Uri = uri.parse().ok()?;
        let scheme = parsed.scheme_str()?.to_ascii_lowercase();
        let authority = parsed.authority()?;
        let host = authority.host().to_ascii_lowercase();
        let port = match (authority.port_u16(), scheme.as_str()) {
            (Some(80), "http") | (Some(443), "https") | (None, _) => String::new(),
            (Some(port), _) => format!(":{port}"),
        };
        let path = parsed.path().trim_end_matches('/');
        Some(format!("{scheme}://{host}{port}{path}"))
    }
    match (normal(htu), normal(uri)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use serde_json::json;

    const URI: &str = "https://mcp.example.com/mcp";
    const TOKEN: &str = "the-access-token";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn public(key: &SigningKey) -> Value {
        let point = key.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())})
    }

    fn jkt(key: &SigningKey) -> String {
        PublicJwk::parse(&public(key)).unwrap().thumbprint()
    }

    fn claims() -> Value {
        json!({"jti": format!("{:x}", rand_u64()), "htm": "POST", "htu": URI, "iat": now_secs(),
            "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(TOKEN.as_bytes()))})
    }

    fn rand_u64() -> u64 {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        u64::from_le_bytes(b)
    }

    fn proof(signer: &SigningKey, header_key: &SigningKey, claims: &Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public(header_key)});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = signer.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn request(jkt: &str) -> ProofRequest<'_> {
        ProofRequest {
            method: "POST",
            uri: URI,
            token: TOKEN,
            jkt,
        }
    }

    #[test]
    fn a_good_proof_is_taken_once() {
        let checker = DpopChecker::new();
        let k = key(3);
        let thumb = jkt(&k);
        let p = proof(&k, &k, &claims());
        assert_eq!(checker.check(&p, &request(&thumb)), Ok(()));
        assert_eq!(
            checker.check(&p, &request(&thumb)),
            Err(ProofError::Invalid("the DPoP proof was used before (jti)"))
        );
        // The htu's query, a trailing slash, the host's case do not matter.
        let mut c = claims();
        c["htu"] = json!("https://MCP.example.com:443/mcp/?x=1#f");
        assert_eq!(checker.check(&proof(&k, &k, &c), &request(&thumb)), Ok(()));
    }

    #[test]
    fn bad_proofs_are_refused_for_the_right_reason() {
        let checker = DpopChecker::new();
        let k = key(3);
        let thumb = jkt(&k);
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = claims();
            f(&mut c);
            proof(&k, &k, &c)
        };
        let cases = [
            (with(&|c| c["htm"] = json!("GET")), "method"),
            (
                with(&|c| c["htu"] = json!("https://mcp.example.com/other")),
                "URL",
            ),
            (
                with(&|c| c["htu"] = json!("https://evil.example.com/mcp")),
                "URL",
            ),
            (with(&|c| c["iat"] = json!(now_secs() - 600)), "iat"),
            (with(&|c| c["iat"] = json!(now_secs() + 600)), "iat"),
            (with(&|c| c["ath"] = json!("AAAA")), "ath"),
            (
                with(&|c| drop(c.as_object_mut().unwrap().remove("ath"))),
                "ath",
            ),
            (
                with(&|c| drop(c.as_object_mut().unwrap().remove("jti"))),
                "jti",
            ),
            (with(&|c| c["jti"] = json!("x".repeat(300))), "jti"),
            // Signed by another key than the one in the header.
            (proof(&key(4), &k, &claims()), "does not verify"),
            // A good proof, but by a key the token is not bound to.
            (proof(&key(4), &key(4), &claims()), "another key"),
            ("a.b".into(), "not a JWT"),
            ("x".repeat(MAX_PROOF_BYTES + 1), "too long"),
        ];
        for (p, why) in cases {
            match checker.check(&p, &request(&thumb)) {
                Err(ProofError::Invalid(got)) => assert!(got.contains(why), "{got} / {why}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        let unsigned = {
            let h = json!({"typ": "dpop+jwt", "alg": "none", "jwk": public(&k)});
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(claims().to_string())
            )
        };
        assert_eq!(
            checker.check(&unsigned, &request(&thumb)),
            Err(ProofError::Invalid(
                "the DPoP proof's signing algorithm is not accepted"
            ))
        );
    }

    #[test]
    fn the_replay_cache_is_bounded_and_forgets_what_expired() {
        let mut checker = DpopChecker::new();
        checker.capacity = 2;
        let now = now_secs();
        assert_eq!(checker.remember("k", "a", now + 60, now), Ok(()));
        assert_eq!(checker.remember("k", "b", now + 60, now), Ok(()));
        // Another key's proof may reuse a jti; a third live one is too many.
        assert_eq!(
            checker.remember("k2", "a", now + 60, now),
            Err(ProofError::Busy)
        );
        // Later, both have expired: room again, and "a" is forgotten.
        assert_eq!(checker.remember("k", "a", now + 200, now + 61), Ok(()));
        assert_eq!(crate::util::lock(&checker.seen).until.len(), 1);
    }

    #[test]
    fn nonces_of_this_period_and_the_last_pass() {
        let key = NonceKey::new(Duration::from_secs(60));
        let now = 6_000_030;
        let nonce = key.make(now);
        assert!(key.is_current(&nonce, now));
        assert!(key.is_current(&nonce, now + 60));
        assert!(!key.is_current(&nonce, now + 120));
        assert!(!NonceKey::new(Duration::from_secs(60)).is_current(&nonce, now));
        assert!(!key.is_current("garbage", now));
        let mut checker = DpopChecker::new();
        checker.nonce = Some(key);
        let k = key_and_thumb();
        let p = proof(&k.0, &k.0, &claims());
        assert_eq!(checker.check(&p, &request(&k.1)), Err(ProofError::UseNonce));
        let mut c = claims();
        c["nonce"] = json!(checker.fresh_nonce().unwrap());
        assert_eq!(
            checker.check(&proof(&k.0, &k.0, &c), &request(&k.1)),
            Ok(())
        );
    }

    fn key_and_thumb() -> (SigningKey, String) {
        let k = key(5);
        let t = jkt(&k);
        (k, t)
    }
}
