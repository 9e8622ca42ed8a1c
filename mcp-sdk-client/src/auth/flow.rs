//! The steps of one authorization: registering the client, the
//! authorization code with PKCE and `state`, and the token requests.

use super::discovery::{is_loopback, Discovered};
use super::jwt::Es256Key;
use super::store::{Registration, Tokens};
use super::{auth_error, Config, Dpop, Http, Secret};
use crate::ClientError;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// 32 bytes from the operating system's CSPRNG, base64url: a PKCE
/// verifier (43 characters, RFC 7636 §4.1) or a `state`.
pub(crate) fn random_token() -> Result<String, ClientError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| auth_error(format!("the system's random number generator failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 challenge of a PKCE verifier (RFC 7636 §4.2).
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The client to present to the authorization server: a pre-registered
/// one, one registered before, a Client ID Metadata Document URL, or a new
/// one from dynamic client registration (RFC 7591), in that order.
pub(crate) async fn registration(
    http: &Http,
    config: &Config,
    found: &Discovered,
) -> Result<Registration, ClientError> {
    if let Some(client) = config.pre_registered(&found.issuer) {
        return Ok(client);
    }
    if let Some(client) = config.store.registration(&found.issuer)? {
        return Ok(client);
    }
    if let (Some(url), Some(true)) = (
        &config.client_metadata_url,
        found.server.client_id_metadata_document_supported,
    ) {
        return Ok(Registration {
            client_id: url.clone(),
            client_secret: None,
            token_endpoint_auth_method: Some("none".into()),
        });
    }
    let Some(endpoint) = &found.server.registration_endpoint else {
        return Err(auth_error(format!(
            "the authorization server {} offers no dynamic registration, and no client is registered for it",
            found.issuer
        )));
    };
    let supported = found
        .server
        .token_endpoint_auth_methods_supported
        .as_deref();
    let offers = |m: &str| supported.is_none_or(|s| s.iter().any(|x| x == m));
    let method = if supported.is_none() || offers("none") {
        "none"
    } else if offers("client_secret_basic") {
        "client_secret_basic"
    } else {
        "client_secret_post"
    };
    let redirect = Url::parse(&config.redirect_uri)
        .map_err(|e| auth_error(format!("the redirect URI is not a URL: {e}")))?;
    // RFC 8252: a loopback or private-scheme redirect is a native app.
    let application_type = if is_loopback(&redirect) || !redirect.scheme().starts_with("http") {
        "native"
    } else {
        "web"
    };
    let body = json!({
        "client_name": config.client_name,
        "redirect_uris": [config.redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": application_type,
    });
    let (status, answer) = http.post_json(endpoint, &body).await?;
    if !status.is_success() {
        return Err(auth_error(format!(
            "the registration endpoint refused the client: HTTP {status}{}",
            oauth_error(&answer)
        )));
    }
    #[derive(Deserialize)]
    struct Registered {
        client_id: String,
        client_secret: Option<String>,
        token_endpoint_auth_method: Option<String>,
    }
    let registered: Registered = serde_json::from_value(answer)
        .map_err(|e| auth_error(format!("the registration response is not one: {e}")))?;
    let client = Registration {
        client_id: registered.client_id,
        client_secret: registered.client_secret.map(Secret::new),
        token_endpoint_auth_method: registered
            .token_endpoint_auth_method
            .or_else(|| Some(method.to_owned())),
    };
    config.store.save_registration(&found.issuer, &client)?;
    Ok(client)
}

/// What an authorization request needs to remember for its redirect.
pub(crate) struct Pending {
    pub url: Url,
    pub state: String,
    pub verifier: String,
}

/// The authorization request (OAuth 2.1 §4.1.1): PKCE S256, `state`, the
/// `resource` (RFC 8707) and the scopes, if any. Refuses a server that
/// does not say it does S256.
pub(crate) fn authorization_request(
    found: &Discovered,
    client: &Registration,
    scope: Option<&str>,
    redirect_uri: &str,
) -> Result<Pending, ClientError> {
    let methods = found.server.code_challenge_methods_supported.as_deref();
    if !found.defaults && !methods.is_some_and(|m| m.iter().any(|x| x == "S256")) {
        return Err(auth_error(format!(
            "the authorization server {} does not offer PKCE with S256 (code_challenge_methods_supported: {methods:?}); refused",
            found.issuer
        )));
    }
    let verifier = random_token()?;
    let state = random_token()?;
    let mut url = Url::parse(&found.server.authorization_endpoint)
        .map_err(|e| auth_error(format!("the authorization endpoint is not a URL: {e}")))?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", &s256(&verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state)
            .append_pair("resource", &found.resource);
        if let Some(scope) = scope.filter(|s| !s.is_empty()) {
            query.append_pair("scope", scope);
            // OpenID Connect Core §11: offline access (a refresh token) is
            // granted only when consent is asked for; OpenID providers
            // drop the scope otherwise.
            if scope.split_whitespace().any(|s| s == "offline_access") {
                query.append_pair("prompt", "consent");
            }
        }
    }
    Ok(Pending {
        url,
        state,
        verifier,
    })
}

/// The code from the redirect, after checking its `state` and its `iss`
/// (RFC 9207: compared as strings with the issuer, and required when the
/// server says it sends it).
pub(crate) fn code_from_redirect(
    redirect: &Url,
    pending: &Pending,
    found: &Discovered,
) -> Result<String, ClientError> {
    let mut code = None;
    let mut state = None;
    let mut iss = None;
    let mut error = None;
    let mut description = None;
    for (name, value) in redirect.query_pairs() {
        match &*name {
            "code" => code = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            "iss" => iss = Some(value.into_owned()),
            "error" => error = Some(value.into_owned()),
            "error_description" => description = Some(value.into_owned()),
            _ => {}
        }
    }
    if let Some(iss) = &iss {
        if *iss != found.issuer {
            return Err(auth_error(format!(
                "the authorization response came from the issuer {iss:?}, not {} (RFC 9207); refused",
                found.issuer
            )));
        }
    } else if found.server.authorization_response_iss_parameter_supported == Some(true) {
        return Err(auth_error(format!(
            "the authorization response has no iss, which {} says it sends (RFC 9207); refused",
            found.issuer
        )));
    }
    if state.as_deref() != Some(pending.state.as_str()) {
        return Err(auth_error(match state {
            None => "the authorization response has no state; refused".to_owned(),
            Some(_) => {
                "the authorization response has another state than the request; refused".to_owned()
            }
        }));
    }
    if let Some(error) = error {
        return Err(auth_error(format!(
            "the authorization server refused: {error}{}",
            description.map(|d| format!(" ({d})")).unwrap_or_default()
        )));
    }
    code.filter(|c| !c.is_empty())
        .ok_or_else(|| auth_error("the authorization response has no code"))
}

/// What token requests go with: the HTTP client, the key of
/// `private_key_jwt` if the client has one, and the DPoP key.
#[derive(Clone, Copy)]
pub(crate) struct TokenSender<'a> {
    pub http: &'a Http,
    pub key: Option<&'a Es256Key>,
    pub dpop: &'a Dpop,
}

/// A token request (the authorization code or a refresh token), with the
/// client authenticated as its registration says, and its answer checked.
pub(crate) async fn token_request(
    sender: &TokenSender<'_>,
    found: &Discovered,
    client: &Registration,
    mut form: Vec<(&str, String)>,
    scope: Option<&str>,
    previous_refresh: Option<&Secret>,
) -> Result<Tokens, ClientError> {
    let TokenSender { http, key, dpop } = *sender;
    form.push(("resource", found.resource.clone()));
    let supported = found
        .server
        .token_endpoint_auth_methods_supported
        .as_deref();
    let method = match (&client.token_endpoint_auth_method, &client.client_secret) {
        (Some(m), _) => m.clone(),
        (None, None) => "none".into(),
        (None, Some(_)) => match supported {
            Some(s)
                if !s.iter().any(|m| m == "client_secret_basic")
                    && s.iter().any(|m| m == "client_secret_post") =>
            {
                "client_secret_post".into()
            }
            _ => "client_secret_basic".into(),
        },
    };
    let mut basic = None;
    match (method.as_str(), &client.client_secret) {
        ("client_secret_basic", Some(secret)) => {
            // RFC 6749 §2.3.1: each part form-encoded, then base64.
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(&client.client_id), encode(secret.expose()));
            basic = Some(Secret::new(format!("Basic {}", STANDARD.encode(pair))));
        }
        ("client_secret_post", Some(secret)) => {
            form.push(("client_id", client.client_id.clone()));
            form.push(("client_secret", secret.expose().to_owned()));
        }
        ("none", _) => form.push(("client_id", client.client_id.clone())),
        ("private_key_jwt", _) => {
            let key = key.ok_or_else(|| {
                auth_error("the client authenticates with private_key_jwt but has no key")
            })?;
            let assertion = key.client_assertion(&client.client_id, &found.issuer)?;
            form.push(("client_id", client.client_id.clone()));
            form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()));
            form.push(("client_assertion", assertion.expose().to_owned()));
        }
        (other, _) => {
            return Err(auth_error(format!(
                "the client cannot authenticate at the token endpoint with {other:?}"
            )))
        }
    }
    // A DPoP-bound token when the server offers ES256 (RFC 9449 §5); a
    // server asking for its nonce is asked again once with it (§8).
    let use_dpop = found.server.dpop_es256();
    let token_endpoint = Url::parse(&found.server.token_endpoint)
        .map_err(|e| auth_error(format!("the token endpoint is not a URL: {e}")))?;
    let mut retried = false;
    loop {
        let proof = match use_dpop {
            true => Some(dpop.key.dpop_proof(
                "POST",
                &token_endpoint,
                None,
                dpop.as_nonce().as_deref(),
            )?),
            false => None,
        };
        let (status, answer, nonce) = http
            .post_form(
                &found.server.token_endpoint,
                &form,
                basic.as_ref(),
                proof.as_ref(),
            )
            .await?;
        if let Some(nonce) = nonce {
            dpop.set_as_nonce(nonce);
        }
        let wants_nonce = answer.get("error").and_then(Value::as_str) == Some("use_dpop_nonce");
        if use_dpop && wants_nonce && !retried && dpop.as_nonce().is_some() {
            retried = true;
            continue;
        }
        if !status.is_success() {
            return Err(auth_error(format!(
                "the token endpoint refused: HTTP {status}{}",
                oauth_error(&answer)
            )));
        }
        return parse_tokens(answer, found, scope, previous_refresh, use_dpop);
    }
}

/// Exchanges the user's ID token at the identity provider for an ID-JAG
/// (an identity assertion authorization grant) for the authorization
/// server and resource of `found` (RFC 8693 token exchange).
pub(crate) async fn id_jag(
    http: &Http,
    found: &Discovered,
    idp_token_endpoint: &str,
    idp_client_id: &str,
    id_token: &Secret,
    scope: Option<&str>,
) -> Result<Secret, ClientError> {
    const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
    let endpoint = Url::parse(idp_token_endpoint).map_err(|e| {
        auth_error(format!(
            "the identity provider's token endpoint is not a URL: {e}"
        ))
    })?;
    super::discovery::require_secure(&endpoint, "identity provider's token endpoint")?;
    let mut form = vec![
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange".to_owned(),
        ),
        ("requested_token_type", ID_JAG.to_owned()),
        ("subject_token", id_token.expose().to_owned()),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token".to_owned(),
        ),
        ("audience", found.issuer.clone()),
        ("resource", found.resource.clone()),
        ("client_id", idp_client_id.to_owned()),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_owned()));
    }
    let (status, answer, _) = http
        .post_form(idp_token_endpoint, &form, None, None)
        .await?;
    if !status.is_success() {
        return Err(auth_error(format!(
            "the identity provider refused the token exchange: HTTP {status}{}",
            oauth_error(&answer)
        )));
    }
    match answer.get("issued_token_type").and_then(Value::as_str) {
        Some(ID_JAG) => {}
        other => {
            return Err(auth_error(format!(
                "the identity provider issued {other:?}, not an ID-JAG"
            )))
        }
    }
    answer
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| auth_error("the token exchange answer has no access_token"))
}

/// A token response (OAuth 2.1 §3.2.3): a non-empty `access_token` of type
/// `Bearer`.
pub(crate) fn parse_tokens(
    answer: Value,
    found: &Discovered,
    scope: Option<&str>,
    previous_refresh: Option<&Secret>,
    dpop_proved: bool,
) -> Result<Tokens, ClientError> {
    if answer.get("error").is_some() {
        return Err(auth_error(format!(
            "the token endpoint answered with an error{}",
            oauth_error(&answer)
        )));
    }
    let Some(access) = answer
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Err(auth_error("the token response has no access_token"));
    };
    let dpop = match answer.get("token_type").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("bearer") => false,
        Some(t) if dpop_proved && t.eq_ignore_ascii_case("dpop") => true,
        Some(t) => {
            return Err(auth_error(format!(
                "the token response has token_type {t:?}; this client takes Bearer tokens, and DPoP ones when it sent a proof"
            )))
        }
        None => return Err(auth_error("the token response has no token_type")),
    };
    let expires_at = answer
        .get("expires_in")
        .and_then(Value::as_u64)
        .map(|s| SystemTime::now() + Duration::from_secs(s));
    let refresh_token = answer
        .get("refresh_token")
        .and_then(Value::as_str)
        .map(Secret::new)
        .or_else(|| previous_refresh.cloned());
    Ok(Tokens {
        issuer: found.issuer.clone(),
        resource: found.resource.clone(),
        access_token: Secret::new(access),
        refresh_token,
        scope: scope.map(str::to_owned),
        expires_at,
        dpop,
    })
}

/// `: {error} ({error_description})` of an OAuth error body, for messages.
fn oauth_error(answer: &Value) -> String {
    let error = answer.get("error").and_then(Value::as_str);
    let description = answer.get("error_description").and_then(Value::as_str);
    let clip = |s: &str| s.chars().take(200).collect::<String>();
    match (error, description) {
        (Some(e), Some(d)) => format!(": {} ({})", clip(e), clip(d)),
        (Some(e), None) => format!(": {}", clip(e)),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::discovery::ServerMetadata;

    fn found(iss_supported: Option<bool>) -> Discovered {
        Discovered {
            resource: "https://mcp.example.com/mcp".into(),
            resource_metadata: None,
            issuer: "https://as.example.com".into(),
            server: ServerMetadata {
                issuer: "https://as.example.com".into(),
                authorization_endpoint: "https://as.example.com/authorize".into(),
                token_endpoint: "https://as.example.com/token".into(),
                registration_endpoint: None,
                scopes_supported: None,
                code_challenge_methods_supported: Some(vec!["S256".into()]),
                token_endpoint_auth_methods_supported: None,
                client_id_metadata_document_supported: None,
                authorization_response_iss_parameter_supported: iss_supported,
                dpop_signing_alg_values_supported: None,
            },
            defaults: false,
        }
    }

    fn pending() -> Pending {
        Pending {
            url: Url::parse("https://as.example.com/authorize").unwrap(),
            state: "the-state".into(),
            verifier: "v".into(),
        }
    }

    fn redirect(query: &str) -> Url {
        Url::parse(&format!("http://127.0.0.1/callback?{query}")).unwrap()
    }

    fn refused(result: Result<impl std::fmt::Debug, ClientError>) -> String {
        match result {
            Err(ClientError::Authorization(why)) => why,
            other => panic!("expected an authorization error, got {other:?}"),
        }
    }

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        // The expected value computed apart, with Python's hashlib and
        // base64.urlsafe_b64encode (padding stripped).
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r-wW1gFWFOEjXk"),
            "NPsYzawS-__wqk67X9gyb4dr3JBo3hnlEi5MNyD5jX0"
        );
        let a = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token().unwrap());
    }

    #[test]
    fn the_redirect_gives_its_code_when_state_and_iss_match() {
        let code = code_from_redirect(
            &redirect("code=abc&state=the-state&iss=https%3A%2F%2Fas.example.com"),
            &pending(),
            &found(Some(true)),
        );
        assert_eq!(code.unwrap(), "abc");
        // No iss, and the server does not say it sends one.
        let code = code_from_redirect(
            &redirect("code=abc&state=the-state"),
            &pending(),
            &found(None),
        );
        assert_eq!(code.unwrap(), "abc");
    }

    #[test]
    fn a_redirect_with_the_wrong_state_or_no_code_is_refused() {
        let why = refused(code_from_redirect(
            &redirect("code=abc&state=other"),
            &pending(),
            &found(None),
        ));
        assert!(why.contains("another state"), "{why}");
        let why = refused(code_from_redirect(
            &redirect("code=abc"),
            &pending(),
            &found(None),
        ));
        assert!(why.contains("no state"), "{why}");
        let why = refused(code_from_redirect(
            &redirect("state=the-state"),
            &pending(),
            &found(None),
        ));
        assert!(why.contains("no code"), "{why}");
        let why = refused(code_from_redirect(
            &redirect("error=access_denied&error_description=no%20way&state=the-state"),
            &pending(),
            &found(None),
        ));
        assert!(
            why.contains("access_denied") && why.contains("no way"),
            "{why}"
        );
    }

    #[test]
    fn iss_is_compared_exactly_and_required_when_advertised() {
        let why = refused(code_from_redirect(
            &redirect("code=abc&state=the-state&iss=https%3A%2F%2Fas.example.com%2F"),
            &pending(),
            &found(None),
        ));
        assert!(why.contains("RFC 9207"), "{why}");
        let why = refused(code_from_redirect(
            &redirect("code=abc&state=the-state"),
            &pending(),
            &found(Some(true)),
        ));
        assert!(why.contains("has no iss"), "{why}");
    }

    #[test]
    fn a_server_without_s256_is_refused() {
        let redirect = "http://127.0.0.1:4321/callback";
        let client = Registration {
            client_id: "c".into(),
            client_secret: None,
            token_endpoint_auth_method: None,
        };
        let mut plain = found(None);
        plain.server.code_challenge_methods_supported = Some(vec!["plain".into()]);
        let why = refused(authorization_request(&plain, &client, None, redirect).map(|p| p.url));
        assert!(why.contains("S256"), "{why}");
        plain.server.code_challenge_methods_supported = None;
        assert!(authorization_request(&plain, &client, None, redirect).is_err());
        let ok = authorization_request(&found(None), &client, Some("a b"), redirect).unwrap();
        let query: Vec<(String, String)> = ok.url.query_pairs().into_owned().collect();
        for (name, value) in [
            ("code_challenge_method", "S256"),
            ("resource", "https://mcp.example.com/mcp"),
            ("scope", "a b"),
            ("state", ok.state.as_str()),
            ("redirect_uri", redirect),
        ] {
            assert!(
                query.contains(&(name.into(), value.into())),
                "{name} in {query:?}"
            );
        }
        assert!(!query.iter().any(|(name, _)| name == "prompt"));
        // Offline access comes with a consent prompt (OpenID Connect).
        let offline =
            authorization_request(&found(None), &client, Some("a offline_access"), redirect)
                .unwrap();
        assert!(offline
            .url
            .query_pairs()
            .any(|(name, value)| name == "prompt" && value == "consent"));
    }

    #[test]
    fn token_responses_are_checked() {
        let f = found(None);
        let tokens = parse_tokens(
            json!({"access_token": "tok-SECRET", "token_type": "bearer", "expires_in": 60, "refresh_token": "ref-SECRET"}),
            &f,
            Some("a"),
            None,
            false,
        )
        .unwrap();
        assert_eq!(tokens.access_token.expose(), "tok-SECRET");
        assert!(tokens.expires_at.is_some());
        let debug = format!("{tokens:?}");
        assert!(!debug.contains("SECRET"), "{debug}");

        let why = refused(parse_tokens(
            json!({"token_type": "Bearer"}),
            &f,
            None,
            None,
            false,
        ));
        assert!(why.contains("no access_token"), "{why}");
        let why = refused(parse_tokens(
            json!({"access_token": "", "token_type": "Bearer"}),
            &f,
            None,
            None,
            false,
        ));
        assert!(why.contains("no access_token"), "{why}");
        let why = refused(parse_tokens(
            json!({"access_token": "tok-SECRET", "token_type": "MAC"}),
            &f,
            None,
            None,
            false,
        ));
        assert!(why.contains("\"MAC\"") && !why.contains("SECRET"), "{why}");
        let why = refused(parse_tokens(
            json!({"access_token": "tok-SECRET"}),
            &f,
            None,
            None,
            false,
        ));
        assert!(why.contains("no token_type"), "{why}");
        let why = refused(parse_tokens(
            json!({"error": "invalid_grant", "error_description": "code used"}),
            &f,
            None,
            None,
            false,
        ));
        assert!(
            why.contains("invalid_grant") && why.contains("code used"),
            "{why}"
        );
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let old = Secret::new("ref-1");
        let tokens = parse_tokens(
            json!({"access_token": "a2", "token_type": "Bearer"}),
            &found(None),
            None,
            Some(&old),
            false,
        )
        .unwrap();
        assert_eq!(tokens.refresh_token, Some(old));
    }
}
