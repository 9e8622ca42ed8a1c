//! [`PasteRedirect`]: for a machine without a browser (a server over SSH).
//! The user opens the authorization URL in a browser anywhere, signs in,
//! and pastes back the address the browser ended on: the redirect URI
//! with the code, which no listener needs to receive (a "could not
//! connect" page is fine; the address bar has it).

use super::auth_error;
use super::handler::AuthorizationHandler;
use crate::ClientError;
use async_trait::async_trait;
use reqwest::Url;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

/// The longest line read: far longer than any redirect URL.
const MAX_LINE_BYTES: usize = 16 * 1024;

type Announce = Arc<dyn Fn(&Url) + Send + Sync>;
type Input = Pin<Box<dyn AsyncBufRead + Send>>;

/// An [`AuthorizationHandler`] that shows the authorization URL and reads
/// the redirect URL the user pastes: for a machine without a browser. The
/// pasted address must start with the redirect URI; the client checks its
/// `state` and code as for any redirect.
pub struct PasteRedirect {
    announce: Announce,
    input: tokio::sync::Mutex<Input>,
    timeout: Duration,
}

impl std::fmt::Debug for PasteRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasteRedirect")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PasteRedirect {
    /// Shows the URL on stderr and reads the redirect from stdin.
    pub fn stdio() -> Self {
        Self::new(
            |url| {
                let redirect = redirect_base(url).map(String::from).unwrap_or_default();
                eprintln!(
                    "Open this address in a browser and sign in:\n  {url}\nThe browser then goes to an address starting with {redirect} (the page may not load; that is fine). Paste that whole address here and press Enter:"
                )
            },
            BufReader::new(tokio::io::stdin()),
        )
    }

    /// Shows each authorization URL with `announce` and reads the pasted
    /// redirect, one line, from `input`.
    pub fn new(
        announce: impl Fn(&Url) + Send + Sync + 'static,
        input: impl AsyncBufRead + Send + 'static,
    ) -> Self {
        PasteRedirect {
            announce: Arc::new(announce),
            input: tokio::sync::Mutex::new(Box::pin(input)),
            timeout: super::loopback::DEFAULT_SIGN_IN_TIMEOUT,
        }
    }

    /// How long the user has to paste the redirect (5 minutes by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The redirect URI of an authorization URL, without its query.
fn redirect_base(authorization_url: &Url) -> Option<Url> {
    let uri = authorization_url
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")?
        .1;
    let mut uri = Url::parse(&uri).ok()?;
    uri.set_query(None);
    uri.set_fragment(None);
    Some(uri)
}

#[async_trait]
impl AuthorizationHandler for PasteRedirect {
    async fn authorize(&self, authorization_url: &Url) -> Result<Url, ClientError> {
        let expected = redirect_base(authorization_url)
            .ok_or_else(|| auth_error("the authorization URL has no redirect_uri"))?;
        (self.announce)(authorization_url);
        let mut input = self.input.lock().await;
        let line = tokio::time::timeout(self.timeout, read_line(&mut input))
            .await
            .map_err(|_| {
                auth_error(format!(
                    "no redirect address was pasted within {} s; the sign-in was abandoned",
                    self.timeout.as_secs()
                ))
            })??;
        let pasted = line.trim();
        if pasted.is_empty() {
            return Err(auth_error(
                "no redirect address was pasted; the sign-in was abandoned",
            ));
        }
        let url = Url::parse(pasted).map_err(|e| {
            auth_error(format!(
                "what was pasted is not an address ({e}); paste the whole address the browser ended on, starting with {expected}"
            ))
        })?;
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        if base != expected {
            return Err(auth_error(format!(
                "the pasted address does not start with the redirect address {expected}; paste the address the browser ended on after signing in"
            )));
        }
        Ok(url)
    }
}

/// One line, at most [`MAX_LINE_BYTES`]; an error at the end of input.
async fn read_line(input: &mut Input) -> Result<String, ClientError> {
    let mut line = Vec::new();
    loop {
        let available = input
            .fill_buf()
            .await
            .map_err(|e| auth_error(format!("reading the pasted address failed: {e}")))?;
        if available.is_empty() {
            if line.is_empty() {
                return Err(auth_error(
                    "the input ended before a redirect address was pasted; the sign-in was abandoned",
                ));
            }
            break;
        }
        let (taken, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..taken]);
        input.as_mut().consume(taken);
        if line.len() > MAX_LINE_BYTES {
            return Err(auth_error(format!(
                "the pasted line is longer than {MAX_LINE_BYTES} bytes; refused"
            )));
        }
        if done {
            break;
        }
    }
    String::from_utf8(line).map_err(|_| auth_error("the pasted address is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization_url() -> Url {
        Url::parse("https://as.example.com/authorize?state=s&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback").unwrap()
    }

    async fn pasted(input: &'static [u8]) -> Result<Url, String> {
        let handler = PasteRedirect::new(|_| {}, input);
        handler
            .authorize(&authorization_url())
            .await
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn the_pasted_redirect_is_given_back() {
        let url = pasted(b"  http://127.0.0.1/callback?code=c&state=s \n")
            .await
            .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1/callback?code=c&state=s");
    }

    #[tokio::test]
    async fn anything_else_is_refused_with_a_reason() {
        for (input, why) in [
            (&b""[..], "input ended"),
            (b"\n", "no redirect address was pasted"),
            (b"not a url\n", "not an address"),
            (
                b"http://evil.example/callback?code=c&state=s\n",
                "does not start with",
            ),
            (
                b"http://127.0.0.1/other?code=c&state=s\n",
                "does not start with",
            ),
        ] {
            let refused = pasted(input).await.unwrap_err();
            assert!(refused.contains(why), "{input:?}: {refused}");
        }
        let long: &'static [u8] = Box::leak(vec![b'a'; 20_000].into_boxed_slice());
        let refused = pasted(long).await.unwrap_err();
        assert!(refused.contains("longer than"), "{refused}");
    }
}
