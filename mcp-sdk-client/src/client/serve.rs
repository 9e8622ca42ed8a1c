//! Answering the server: its requests (sampling, roots, elicitation) and
//! its notifications, delivered to the handler in order.

use super::{contain, core::Core, lock};
use crate::handler::{apply_elicitation_defaults, ClientHandler, RequestContext};
use crate::request::Responder;
use mcp_sdk::jsonrpc::{Notification, Request};
use mcp_sdk::{
    CreateMessageParams, ElicitRequestParams, EmptyResult, Error, JsonObject, Message,
    NotificationParams, PingParams, ProgressNotificationParams, RequestParams,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Answers one request from the server with the handler (the one of the
/// call it belongs to, if given), unless the server cancels it first (then
/// nothing is sent, as the spec asks).
pub(super) async fn serve_request(core: Arc<Core>, request: Request, responder: Option<Responder>) {
    let Request { id, method, params } = request;
    let token = CancellationToken::new();
    lock(&core.serving).insert(id.clone(), token.clone());
    let cx = RequestContext {
        id: id.clone(),
        cancellation: token.clone(),
    };
    let answering = answer_request(&core, &method, params, cx, responder.as_ref());
    let answer = tokio::select! {
        answer = contain::callback(&method, answering) => answer.unwrap_or_else(|| {
            Err(Error::internal(format_args!("the client failed to answer {method}")))
        }),
        _ = token.cancelled() => {
            lock(&core.serving).remove(&id);
            return;
        }
    };
    lock(&core.serving).remove(&id);
    let reply = match answer {
        Ok(result) => Message::response(id, result),
        Err(error) => Message::error(Some(id), error),
    };
    if let Err(e) = core.transport.send(reply).await {
        tracing::warn!(%method, "could not answer the server's request: {e}");
    }
}

async fn answer_request(
    core: &Core,
    method: &str,
    params: Option<Value>,
    cx: RequestContext,
    responder: Option<&Responder>,
) -> Result<Value, Error> {
    let (handler, caps) = core.answering(responder);
    match method {
        PingParams::METHOD => to_value(EmptyResult::default()),
        CreateMessageParams::METHOD => {
            require(caps.sampling.is_some(), "sampling", method)?;
            to_value(handler.create_message(parse(params)?, cx).await?)
        }
        mcp_sdk::ListRootsParams::METHOD => {
            require(caps.roots.is_some(), "roots", method)?;
            to_value(handler.list_roots(cx).await?)
        }
        ElicitRequestParams::METHOD => {
            require(caps.elicitation.is_some(), "elicitation", method)?;
            let params: ElicitRequestParams = parse(params)?;
            let mut result = handler.elicit(params.clone(), cx).await?;
            apply_elicitation_defaults(&params, &mut result);
            to_value(result)
        }
        _ => handler.custom_request(method, params, cx).await,
    }
}

pub(super) fn require(declared: bool, capability: &str, method: &str) -> Result<(), Error> {
    if declared {
        Ok(())
    } else {
        Err(
            Error::method_not_found(method).with_data(serde_json::json!({
                "reason": format!("the client did not declare the {capability} capability"),
            })),
        )
    }
}

pub(super) fn parse<P: DeserializeOwned>(params: Option<Value>) -> Result<P, Error> {
    serde_json::from_value(params.unwrap_or_else(|| Value::Object(JsonObject::new())))
        .map_err(Error::invalid_params)
}

fn to_value(value: impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(Error::internal)
}

/// A notification for the handler callbacks, and the handler of the call
/// it belongs to when that is not the client's.
pub(super) type ForHandler = (Notification, Option<Arc<dyn ClientHandler>>);

/// Runs the handlers' notification callbacks one at a time, in the order
/// the server sent them.
pub(super) async fn notify_loop(
    handler: Arc<dyn ClientHandler>,
    mut rx: mpsc::Receiver<ForHandler>,
) {
    while let Some((Notification { method, params }, own)) = rx.recv().await {
        let handler = own.as_deref().unwrap_or(&*handler);
        let delivered = contain::callback(&method, deliver(handler, &method, params)).await;
        if let Some(Err(e)) = delivered {
            tracing::warn!(%method, "ignored a malformed notification: {e}");
        }
    }
}

async fn deliver(
    handler: &dyn ClientHandler,
    method: &str,
    params: Option<Value>,
) -> Result<(), Error> {
    use mcp_sdk::{
        ElicitationCompleteNotificationParams as Complete, LoggingMessageNotificationParams as Log,
        PromptListChangedNotificationParams as Prompts,
        ResourceListChangedNotificationParams as Resources,
        ResourceUpdatedNotificationParams as Updated, ToolListChangedNotificationParams as Tools,
    };
    match method {
        Tools::METHOD => handler.on_tool_list_changed().await,
        Resources::METHOD => handler.on_resource_list_changed().await,
        Prompts::METHOD => handler.on_prompt_list_changed().await,
        Updated::METHOD => handler.on_resource_updated(parse(params)?).await,
        Log::METHOD => handler.on_log(parse(params)?).await,
        ProgressNotificationParams::METHOD => handler.on_progress(parse(params)?).await,
        Complete::METHOD => handler.on_elicitation_complete(parse(params)?).await,
        _ => handler.on_notification(method, params).await,
    }
    Ok(())
}
