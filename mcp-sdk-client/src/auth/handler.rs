//! [`AuthorizationHandler`]: the user's part of the authorization code
//! flow, and [`FollowRedirect`], which does it without a user.

use super::auth_error;
use crate::ClientError;
use async_trait::async_trait;
use reqwest::Url;

/// Takes the user to the authorization server and brings back where it
/// sent them: opens `authorization_url` (in a browser, say) and returns
/// the URL the authorization server redirected to, which starts with the
/// client's redirect URI and carries `code`, `state` and maybe `iss`. The
/// client checks them.
///
/// The handlers here: [`LoopbackBrowser`](super::LoopbackBrowser) (the
/// system browser, and a listener on a loopback port for the redirect),
/// [`PasteRedirect`](super::PasteRedirect) (the user opens the URL
/// anywhere and pastes back where the browser ended), and
/// [`FollowRedirect`] (no user: for authorization servers that authorize
/// at once).
#[async_trait]
pub trait AuthorizationHandler: Send + Sync + 'static {
    /// The redirect URI for the authorization about to start, when the
    /// handler picks it (a listener on a loopback port it just opened, RFC
    /// 8252 §7.3); `None`, the default, keeps the client's `configured`
    /// one. Called once before each [`authorize`](Self::authorize).
    async fn redirect_uri(&self, configured: &Url) -> Result<Option<Url>, ClientError> {
        let _ = configured;
        Ok(None)
    }

    /// The redirect the user's authorization ended on.
    async fn authorize(&self, authorization_url: &Url) -> Result<Url, ClientError>;
}

/// For tests and headless use against an authorization server that
/// authorizes without asking anyone (the conformance suite's): fetches the
/// authorization URL without following redirects and takes the redirect
/// from its `Location`.
#[derive(Debug, Clone, Default)]
pub struct FollowRedirect {
    http: Option<reqwest::Client>,
}

impl FollowRedirect {
    /// A handler with its own HTTP client.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AuthorizationHandler for FollowRedirect {
    async fn authorize(&self, authorization_url: &Url) -> Result<Url, ClientError> {
        let http = match &self.http {
            Some(http) => http.clone(),
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| ClientError::Transport(e.to_string()))?,
        };
        let response = http
            .get(authorization_url.clone())
            .send()
            .await
            .map_err(|e| {
                auth_error(format!(
                    "the authorization endpoint could not be reached: {}",
                    e.without_url()
                ))
            })?;
        let status = response.status();
        if !status.is_redirection() {
            return Err(auth_error(format!(
                "the authorization endpoint answered HTTP {status}, not a redirect"
            )));
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                auth_error("the authorization endpoint redirected without a Location")
            })?;
        authorization_url
            .join(location)
            .map_err(|e| auth_error(format!("the authorization redirect is not a URL: {e}")))
    }
}

/// A shared handler (one for every connection of an application) is a
/// handler.
#[async_trait]
impl<T: AuthorizationHandler + ?Sized> AuthorizationHandler for std::sync::Arc<T> {
    async fn redirect_uri(&self, configured: &Url) -> Result<Option<Url>, ClientError> {
        (**self).redirect_uri(configured).await
    }

    async fn authorize(&self, authorization_url: &Url) -> Result<Url, ClientError> {
        (**self).authorize(authorization_url).await
    }
}
