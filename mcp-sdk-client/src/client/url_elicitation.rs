//! The -32042 error (URL elicitation required, 2025-11-25): a server
//! refused a call until the user completes steps on pages it names.

use super::{tool_arguments, Client};
use crate::handler::RequestContext;
use crate::request::RequestOptions;
use crate::ClientError;
use mcp_sdk::{
    CallToolParams, CallToolResult, ElicitAction, ElicitRequestParams, ElicitRequestUrlParams,
    RequestId, UrlElicitationRequiredData,
};
use tokio_util::sync::CancellationToken;

impl ClientError {
    /// The URL-mode elicitations a -32042 error asks the user to complete
    /// before the call is retried; `None` for any other error.
    pub fn url_elicitations(&self) -> Option<Vec<ElicitRequestUrlParams>> {
        match self {
            ClientError::Server(e) => {
                UrlElicitationRequiredData::from_error(e).map(|d| d.elicitations)
            }
            _ => None,
        }
    }
}

impl Client {
    /// Answers a -32042 error: hands each of its URL-mode elicitations to
    /// this client's handler ([`ClientHandler::elicit`](crate::ClientHandler::elicit)),
    /// which shows the page and asks the user before opening it, as for an
    /// `elicitation/create` in URL mode. `true` when the user accepted every
    /// one, so the caller may retry the call once the steps are done
    /// (servers that can tell send `notifications/elicitation/complete`,
    /// heard by [`ClientHandler::on_elicitation_complete`](crate::ClientHandler::on_elicitation_complete)).
    /// `false` when the error is not -32042, the client did not declare
    /// URL-mode elicitation, or the user declined, cancelled or the handler
    /// failed; nothing is opened then.
    pub async fn answer_url_elicitation_required(&self, error: &ClientError) -> bool {
        let Some(elicitations) = error.url_elicitations() else {
            return false;
        };
        let core = &self.inner.core;
        let declared = core
            .capabilities
            .elicitation
            .as_ref()
            .is_some_and(|e| e.supports_url());
        if !declared || elicitations.is_empty() {
            return false;
        }
        for elicitation in elicitations {
            let cx = RequestContext {
                id: RequestId::String(format!("url-elicitation-{}", elicitation.elicitation_id)),
                cancellation: CancellationToken::new(),
            };
            match core
                .handler
                .elicit(ElicitRequestParams::Url(elicitation), cx)
                .await
            {
                Ok(answer) if answer.action == ElicitAction::Accept => {}
                Ok(_) => return false,
                Err(e) => {
                    tracing::debug!(%e, "the handler failed a URL elicitation of a -32042 error");
                    return false;
                }
            }
        }
        true
    }

    /// `tools/call` with options, answering a -32042 error once: when the
    /// user accepts every page it names
    /// ([`answer_url_elicitation_required`](Self::answer_url_elicitation_required)),
    /// the call is made again; otherwise, or if the retry fails too, the
    /// error is returned.
    pub async fn call_tool_answering_url_elicitation(
        &self,
        name: &str,
        arguments: impl serde::Serialize,
        options: RequestOptions,
    ) -> Result<CallToolResult, ClientError> {
        let params = CallToolParams::new(name, tool_arguments(arguments)?);
        match self.request_with(params.clone(), options.clone()).await {
            Err(e) if self.answer_url_elicitation_required(&e).await => {
                self.request_with(params, options).await
            }
            other => other,
        }
    }
}
