//! Public JSON Web Keys (RFC 7517): read from an issuer's JWKS or from a
//! DPoP proof's header, checking JWS signatures with them (RFC 7518) and
//! giving their thumbprint (RFC 7638).
//!
//! ES256 is checked with `p256` (the crate's ECDSA already). RS256 and
//! PS256 are checked with `aws-lc-rs`: rustls, which reqwest uses for
//! `https://`, already builds it in this workspace, so RSA costs no second
//! crypto stack (`ring` is only in `Cargo.lock` as an alternative rustls
//! backend and is not built). Its RSA parameters refuse moduli under 2048
//! or over 8192 bits.

use aws_lc_rs::signature::{
    RsaParameters, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The largest RSA modulus read, in bytes (8192 bits).
const MAX_MODULUS_BYTES: usize = 1024;
/// The largest RSA public exponent read, in bytes.
const MAX_EXPONENT_BYTES: usize = 8;

/// A JWS algorithm a verifier may accept. `none` and the HMAC algorithms
/// are not among them: an unsigned token, or one "signed" with a shared
/// secret, is always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// ECDSA with P-256 and SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (most providers' default).
    Rs256,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    Ps256,
}

impl SigningAlgorithm {
    /// Every algorithm this crate can check.
    pub const ALL: [SigningAlgorithm; 3] = [
        SigningAlgorithm::Es256,
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Ps256,
    ];

    /// Its JWS name (`ES256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Ps256 => "PS256",
        }
    }

    /// The algorithm named `name` among `allowed`, if it is one.
    pub(super) fn find(allowed: &[SigningAlgorithm], name: &str) -> Option<SigningAlgorithm> {
        allowed.iter().copied().find(|a| a.name() == name)
    }
}

/// The key material of a public JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Material {
    /// A P-256 point.
    P256(VerifyingKey),
    /// An RSA modulus and exponent, big-endian, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// A public signing key, with the algorithm its JWK pins (`alg`), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PublicJwk {
    material: Material,
    alg: Option<String>,
}

impl PublicJwk {
    /// The key `jwk` describes, if it is a public signing key of a type
    /// this crate checks: `EC` on `P-256`, or `RSA`; not meant for
    /// encryption (`use`), carrying no private part (`d`).
    pub(super) fn parse(jwk: &Value) -> Option<PublicJwk> {
        let jwk = jwk.as_object()?;
        if jwk.get("use").is_some_and(|u| u != "sig") || jwk.contains_key("d") {
            return None;
        }
        let alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(alg)) => Some(alg.clone()),
            Some(_) => return None,
        };
        let bytes = |name: &str| URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok();
        let material = match jwk.get("kty")?.as_str()? {
            "EC" if jwk.get("crv")? == "P-256" => {
                let coordinate = |name| -> Option<[u8; 32]> { bytes(name)?.try_into().ok() };
                let point = p256::EncodedPoint::from_affine_coordinates(
                    &coordinate("x")?.into(),
                    &coordinate("y")?.into(),
                    false,
                );
                Material::P256(VerifyingKey::from_encoded_point(&point).ok()?)
            }
            "RSA" => {
                let n = strip_zeros(bytes("n")?);
                let e = strip_zeros(bytes("e")?);
                if n.is_empty() || n.len() > MAX_MODULUS_BYTES {
                    return None;
                }
                if e.is_empty() || e.len() > MAX_EXPONENT_BYTES {
                    return None;
                }
                Material::Rsa { n, e }
            }
            _ => return None,
        };
        Some(PublicJwk { material, alg })
    }

    /// Checks `signature` over `signed` with this key under `alg`: the
    /// algorithm must fit the key's type and the `alg` its JWK pins, so a
    /// header cannot make an RSA key check an ECDSA signature (or the
    /// reverse). Errors say why in words, never with the input.
    pub(super) fn verify(
        &self,
        alg: SigningAlgorithm,
        signed: &[u8],
        signature: &[u8],
    ) -> Result<(), &'static str> {
        if self
            .alg
            .as_deref()
            .is_some_and(|pinned| pinned != alg.name())
        {
            return Err("the signing algorithm is not the key's");
        }
        let rsa = |params: &'static RsaParameters, n: &[u8], e: &[u8]| {
            RsaPublicKeyComponents { n, e }
                .verify(params, signed, signature)
                .map_err(|_| "the signature does not verify")
        };
        match (&self.material, alg) {
            (Material::P256(key), SigningAlgorithm::Es256) => {
                let signature =
                    Signature::from_slice(signature).map_err(|_| "the signature is malformed")?;
                key.verify(signed, &signature)
                    .map_err(|_| "the signature does not verify")
            }
            (Material::Rsa { n, e }, SigningAlgorithm::Rs256) => {
                rsa(&RSA_PKCS1_2048_8192_SHA256, n, e)
            }
            (Material::Rsa { n, e }, SigningAlgorithm::Ps256) => {
                rsa(&RSA_PSS_2048_8192_SHA256, n, e)
            }
            _ => Err("the signing algorithm is not the key's"),
        }
    }

    /// The JWK SHA-256 thumbprint (RFC 7638), base64url: what a DPoP-bound
    /// token names in `cnf.jkt`.
    pub(super) fn thumbprint(&self) -> String {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        // The required members only, in lexicographic order, no spaces.
        let canonical = match &self.material {
            Material::P256(key) => {
                let point = key.to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    unreachable!("an uncompressed point has both coordinates")
                };
                format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64(x),
                    b64(y)
                )
            }
            Material::Rsa { n, e } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n))
            }
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

fn strip_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = PublicJwk::parse(&jwk).unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_encryption_and_unknown_keys_are_not_read() {
        let ec = |extra: Value| {
            let mut jwk = json!({"kty": "EC", "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
            for (k, v) in extra.as_object().unwrap() {
                jwk[k] = v.clone();
            }
            PublicJwk::parse(&jwk)
        };
        assert!(ec(json!({})).is_some());
        assert!(ec(json!({"use": "enc"})).is_none());
        assert!(ec(json!({"d": "AAAA"})).is_none());
        assert!(ec(json!({"crv": "P-384"})).is_none());
        assert!(ec(json!({"x": "AAAA"})).is_none());
        assert!(ec(json!({"alg": 7})).is_none());
        assert!(PublicJwk::parse(&json!({"kty": "oct", "k": "AAAA"})).is_none());
        assert!(PublicJwk::parse(&json!({"kty": "RSA", "n": "", "e": "AQAB"})).is_none());
        let huge = URL_SAFE_NO_PAD.encode(vec![1u8; MAX_MODULUS_BYTES + 1]);
        assert!(PublicJwk::parse(&json!({"kty": "RSA", "n": huge, "e": "AQAB"})).is_none());
        // An EC key never checks an RSA algorithm, nor a pinned key another.
        let key = ec(json!({})).unwrap();
        assert_eq!(
            key.verify(SigningAlgorithm::Rs256, b"x", &[0; 256]),
            Err("the signing algorithm is not the key's")
        );
        let pinned = ec(json!({"alg": "ES384"})).unwrap();
        assert_eq!(
            pinned.verify(SigningAlgorithm::Es256, b"x", &[0; 64]),
            Err("the signing algorithm is not the key's")
        );
    }
}
