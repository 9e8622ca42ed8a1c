//! [`WebSignIn`]: the user's part of an OAuth sign-in, done from the web
//! UI. When the server asks for authorization, the page shows a "Sign in"
//! button that opens the authorization server's page; the authorization
//! server sends the browser back to the UI's own `GET /callback` (on its
//! port, behind the same Host and Origin checks as the rest), which hands
//! the redirect to the waiting connection if its `state` is the sign-in's.

use mcp_sdk_client::auth::AuthorizationHandler;
use mcp_sdk_client::{async_trait, ClientError};
use reqwest::Url;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;

/// The path the authorization server sends the browser back to.
pub const CALLBACK_PATH: &str = "/callback";

/// How long a sign-in waits for the person at the page.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(600);

/// The sign-in waiting for the person, if any.
struct Pending {
    url: Url,
    state: String,
    done: oneshot::Sender<Url>,
}

/// See the [module](self).
pub struct WebSignIn {
    pending: Mutex<Option<Pending>>,
    callback: OnceLock<Url>,
    changed: Box<dyn Fn() + Send + Sync>,
    timeout: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a request to the callback was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl WebSignIn {
    /// A handler that calls `changed` whenever a sign-in starts or ends
    /// (the page's state changes).
    pub fn new(changed: impl Fn() + Send + Sync + 'static) -> Self {
        WebSignIn {
            pending: Mutex::new(None),
            callback: OnceLock::new(),
            changed: Box::new(changed),
            timeout: SIGN_IN_TIMEOUT,
        }
    }

    /// Sets the redirect URI from the UI's listening address:
    /// `http://127.0.0.1:PORT/callback` (loopback, whatever the address
    /// the UI listens on, as the browser that signs in is this machine's).
    pub fn listening_at(&self, addr: SocketAddr) {
        if let Ok(url) = Url::parse(&format!("http://127.0.0.1:{}{CALLBACK_PATH}", addr.port())) {
            let _ = self.callback.set(url);
        }
    }

    /// The redirect URI, once listening.
    pub fn callback_uri(&self) -> Option<&Url> {
        self.callback.get()
    }

    /// The authorization URL of the sign-in waiting for the person.
    pub fn pending_url(&self) -> Option<String> {
        lock(&self.pending).as_ref().map(|p| p.url.to_string())
    }

    /// The browser came back to `/callback` with `target` (path and
    /// query): handed to the waiting sign-in when its `state` is the
    /// sign-in's.
    pub fn complete(&self, target: &str) -> Result<(), Refused> {
        let base = self
            .callback
            .get()
            .ok_or_else(|| Refused("the web UI is not listening yet".into()))?;
        let url = base
            .join(target)
            .map_err(|_| Refused("the callback address is not a URL".into()))?;
        let mut pending = lock(&self.pending);
        let Some(waiting) = pending.as_ref() else {
            return Err(Refused("no sign-in is in progress".into()));
        };
        let mut states = url
            .query_pairs()
            .filter(|(n, _)| n == "state")
            .map(|(_, v)| v);
        match (states.next(), states.next()) {
            (Some(state), None) if state == waiting.state => {}
            (None, _) => return Err(Refused("the callback has no state".into())),
            _ => {
                return Err(Refused(
                    "the callback's state is not the sign-in's in progress".into(),
                ))
            }
        }
        let waiting = pending.take().expect("checked above");
        drop(pending);
        let _ = waiting.done.send(url);
        Ok(())
    }
}

#[async_trait]
impl AuthorizationHandler for WebSignIn {
    async fn redirect_uri(&self, _configured: &Url) -> Result<Option<Url>, ClientError> {
        Ok(self.callback.get().cloned())
    }

    async fn authorize(&self, authorization_url: &Url) -> Result<Url, ClientError> {
        let state = authorization_url
            .query_pairs()
            .find(|(n, _)| n == "state")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| {
                ClientError::Authorization("the authorization URL has no state".into())
            })?;
        let (done, came) = oneshot::channel();
        *lock(&self.pending) = Some(Pending {
            url: authorization_url.clone(),
            state,
            done,
        });
        (self.changed)();
        // The link goes away however this ends (even dropped).
        let _withdrawn = Withdraw(self);
        let outcome = tokio::time::timeout(self.timeout, came).await;
        match outcome {
            Ok(Ok(url)) => Ok(url),
            Ok(Err(_)) => Err(ClientError::Authorization(
                "the sign-in was given up".into(),
            )),
            Err(_) => Err(ClientError::Authorization(format!(
                "nobody signed in at the web UI within {} s",
                self.timeout.as_secs()
            ))),
        }
    }
}

/// Withdraws the sign-in waiting (and says so) when dropped.
struct Withdraw<'a>(&'a WebSignIn);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        lock(&self.0.pending).take();
        (self.0.changed)();
    }
}

/// The page the browser shows after the callback: `refused` says why it
/// was not taken.
pub fn callback_page(refused: Option<&Refused>) -> String {
    let message = match refused {
        None => "Signed in. You can close this tab, or go back to the client.".to_owned(),
        Some(Refused(why)) => format!("This sign-in was not taken: {why}."),
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign-in</title></head>\
         <body><p data-testid=\"sign-in-result\">{message}</p><p><a href=\"/\">Back to the client</a></p></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn only_the_callback_with_the_sign_ins_state_completes_it() {
        let changes = Arc::new(AtomicUsize::new(0));
        let counted = changes.clone();
        let handler = Arc::new(WebSignIn::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(
            handler.complete("/callback?code=c&state=s"),
            Err(Refused("the web UI is not listening yet".into()))
        );
        handler.listening_at("127.0.0.1:8080".parse().unwrap());
        let configured = Url::parse("http://127.0.0.1/callback").unwrap();
        let uri = handler.redirect_uri(&configured).await.unwrap().unwrap();
        assert_eq!(uri.as_str(), "http://127.0.0.1:8080/callback");
        assert!(handler
            .complete("/callback?code=c&state=s")
            .unwrap_err()
            .0
            .contains("no sign-in"));
        let waiting = handler.clone();
        let sign_in = tokio::spawn(async move {
            let url = Url::parse("https://as.example.com/authorize?state=the-state").unwrap();
            waiting.authorize(&url).await
        });
        while handler.pending_url().is_none() {
            tokio::task::yield_now().await;
        }
        for (target, why) in [
            ("/callback?code=c&state=other", "not the sign-in's"),
            ("/callback?code=c", "no state"),
            (
                "/callback?code=c&state=the-state&state=x",
                "not the sign-in's",
            ),
        ] {
            assert!(
                handler.complete(target).unwrap_err().0.contains(why),
                "{target}"
            );
        }
        handler
            .complete("/callback?code=c&state=the-state")
            .unwrap();
        let url = sign_in.await.unwrap().unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/callback?code=c&state=the-state"
        );
        assert_eq!(handler.pending_url(), None);
        assert_eq!(changes.load(Ordering::SeqCst), 2);

        // A connection attempt given up: its link goes away too.
        let waiting = handler.clone();
        let sign_in = tokio::spawn(async move {
            let url = Url::parse("https://as.example.com/authorize?state=s2").unwrap();
            waiting.authorize(&url).await
        });
        while handler.pending_url().is_none() {
            tokio::task::yield_now().await;
        }
        sign_in.abort();
        let _ = sign_in.await;
        assert_eq!(handler.pending_url(), None);
        assert_eq!(changes.load(Ordering::SeqCst), 4);
    }
}
