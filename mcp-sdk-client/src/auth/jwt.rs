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
    fn a_key_that_is_not_pem_is_refused() {
        let err = Es256Key::from_pem(&Secret::new("not a key")).unwrap_err();
        assert!(err.to_string().contains("PKCS #8"), "{err}");
    }
}
