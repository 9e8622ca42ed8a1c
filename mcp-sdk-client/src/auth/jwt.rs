//! JWT client assertions (RFC 7523 §2.2) for `private_key_jwt`, signed
//! with ES256 (P-256 ECDSA over SHA-256, RFC 7518 §3.4) by the `p256`
//! crate.

use super::{auth_error, flow::random_token, Secret};
use crate::ClientError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long an assertion is good for.
const ASSERTION_LIFETIME_SECS: u64 = 300;

/// A P-256 private key; its `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct Es256Key(SigningKey);

impl std::fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Es256Key(..)")
    }
}

impl Es256Key {
    /// The key of a PKCS #8 PEM document (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &Secret) -> Result<Self, ClientError> {
        SigningKey::from_pkcs8_pem(pem.expose())
            .map(Es256Key)
            .map_err(|e| {
                auth_error(format!(
                    "the private key is not a PKCS #8 PEM P-256 key: {e}"
                ))
            })
    }

    /// A signed assertion that `client_id` is calling `audience` (the
    /// authorization server's issuer), good for five minutes.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> Result<Secret, ClientError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| auth_error(format!("the system clock is before 1970: {e}")))?
            .as_secs();
        let header = json!({"alg": "ES256", "typ": "JWT"});
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
            "jti": random_token()?,
        });
        self.sign(&header, &claims)
    }
}

impl Es256Key {
    /// A fresh key from the operating system's CSPRNG (for DPoP).
    pub fn generate() -> Result<Self, ClientError> {
        // A random scalar; the rare value outside the group order is drawn
        // again.
        for _ in 0..16 {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| {
                auth_error(format!("the system's random number generator failed: {e}"))
            })?;
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Ok(Es256Key(key));
            }
        }
        Err(auth_error("could not draw a P-256 key"))
    }

    /// The public key as a JWK (RFC 7517), for the proof's header.
    fn public_jwk(&self) -> serde_json::Value {
        let point = self.0.verifying_key().to_encoded_point(false);
        let coordinate =
            |c: Option<&p256::FieldBytes>| c.map(|c| URL_SAFE_NO_PAD.encode(c)).unwrap_or_default();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": coordinate(point.x()),
            "y": coordinate(point.y()),
        })
    }

    /// A DPoP proof (RFC 9449 §4.2) for a request of `method` to `url`
    /// (its query and fragment left out), with the hash of the access
    /// token it goes with and the server's nonce, if any.
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &reqwest::Url,
        access_token: Option<&Secret>,
        nonce: Option<&str>,
    ) -> Result<Secret, ClientError> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| auth_error(format!("the system clock is before 1970: {e}")))?
            .as_secs();
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()});
        let mut claims = json!({
            "jti": random_token()?,
            "htm": method,
            "htu": htu.as_str(),
            "iat": now,
        });
        if let Some(token) = access_token {
            use sha2::Digest;
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(token.expose().as_bytes()))
                .into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        self.sign(&header, &claims)
    }

    /// A compact JWS of `claims` under `header`.
    fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<Secret, ClientError> {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.0.sign(signing_input.as_bytes());
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};

    #[test]
    fn an_assertion_verifies_with_the_public_key_and_names_the_client() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let signer = Es256Key::from_pem(&Secret::new(pem.as_str())).unwrap();
        let jwt = signer
            .client_assertion("client-1", "https://as.example.com")
            .unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://as.example.com");
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let public = VerifyingKey::from(&key);
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(input.as_bytes(), &signature).is_ok());
        assert!(public.verify(b"something else", &signature).is_err());
        assert!(!format!("{signer:?}").contains("BEGIN"));
    }

    #[test]
    fn a_dpop_proof_carries_the_public_key_method_url_and_token_hash() {
        let key = Es256Key::generate().unwrap();
        let url = reqwest::Url::parse("https://mcp.example.com/mcp?x=1#f").unwrap();
        let proof = key
            .dpop_proof("POST", &url, Some(&Secret::new("tok")), Some("n-1"))
            .unwrap();
        let parts: Vec<&str> = proof.expose().split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert!(header["jwk"].get("d").is_none());
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://mcp.example.com/mcp");
        assert_eq!(claims["nonce"], "n-1");
        use sha2::Digest;
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(b"tok"))
                .as_str()
        );
        // The key in the header verifies the proof.
        let x = URL_SAFE_NO_PAD
            .decode(header["jwk"]["x"].as_str().unwrap())
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode(header["jwk"]["y"].as_str().unwrap())
            .unwrap();
        let point = p256::EncodedPoint::from_affine_coordinates(
            p256::FieldBytes::from_slice(&x),
            p256::FieldBytes::from_slice(&y),
            false,
        );
        let public = VerifyingKey::from_encoded_point(&point).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(input.as_bytes(), &signature).is_ok());
        // Each proof is fresh.
        let again = key.dpop_proof("POST", &url, None, None).unwrap();
        assert_ne!(again, proof);
    }

    #[test]
    fn a_key_that_is_not_pem_is_refused() {
        let err = Es256Key::from_pem(&Secret::new("not a key")).unwrap_err();
        assert!(err.to_string().contains("PKCS #8"), "{err}");
    }
}
