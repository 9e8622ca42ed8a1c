//! The HTTP+SSE transport of revision `2024-11-05`, for servers that
//! predate Streamable HTTP: a GET opens an event stream whose first event,
//! `endpoint`, names the URL to POST messages to; every answer comes back on
//! that stream.

use super::sse::SseParser;
use super::{refusal, transport_error, Shared};
use crate::transport::Incoming;
use crate::ClientError;
use mcp_sdk::jsonrpc::decode;
use mcp_sdk::Message;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Url;
use std::sync::Arc;
use std::time::Duration;

/// How long the server may take to name its message endpoint.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the event stream and waits for the `endpoint` event; then keeps
/// reading the stream in a task. Gives the message URL.
pub(super) async fn open(shared: &Arc<Shared>) -> Result<Url, ClientError> {
    let response = shared
        .send(|| {
            shared
                .http
                .get(shared.url.clone())
                .headers(shared.headers.clone())
                .header(ACCEPT, "text/event-stream")
        })
        .await?;
    let is_sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !response.status().is_success() || !is_sse {
        return Err(ClientError::Http {
            status: response.status().as_u16(),
            message: "the GET did not open an event stream".into(),
        });
    }
    let mut response = response;
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    let endpoint = tokio::time::timeout(ENDPOINT_TIMEOUT, async {
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(transport_error)?
                .ok_or_else(|| {
                    ClientError::Protocol("the event stream ended before the endpoint event".into())
                })?;
            parser
                .feed(&chunk, &mut events)
                .map_err(|_| ClientError::Protocol("an event over 16 MiB".into()))?;
            if let Some(i) = events.iter().position(|e| e.event == "endpoint") {
                let data = events.remove(i).data;
                events.drain(..i);
                return Ok::<_, ClientError>(data);
            }
        }
    })
    .await
    .map_err(|_| {
        ClientError::Protocol("the server did not send the endpoint event in time".into())
    })??;
    let endpoint = shared
        .url
        .join(endpoint.trim())
        .map_err(|e| ClientError::Protocol(format!("the endpoint event is not a URL: {e}")))?;
    // Messages may carry credentials: never send them to another origin.
    if endpoint.origin() != shared.url.origin() {
        return Err(ClientError::Protocol(format!(
            "the endpoint {endpoint} is not on the server's origin"
        )));
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        let why = read(&shared, response, parser, events).await;
        if !shared.stop.is_cancelled() {
            shared
                .deliver(Incoming::Closed(ClientError::Closed(why)))
                .await;
        }
    });
    Ok(endpoint)
}

/// Delivers every `message` event until the stream ends; says why it did.
async fn read(
    shared: &Shared,
    mut response: reqwest::Response,
    mut parser: SseParser,
    mut events: Vec<super::SseEvent>,
) -> String {
    loop {
        for event in events.drain(..) {
            if event.event != "message" {
                continue;
            }
            match decode(event.data.as_bytes()) {
                Ok(msg) => shared.deliver(Incoming::Message(msg)).await,
                Err(e) => tracing::warn!("ignored an SSE event that is not JSON-RPC: {e}"),
            }
        }
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            _ = shared.stop.cancelled() => return "the transport was closed".into(),
        };
        match chunk {
            Ok(Some(chunk)) => {
                if parser.feed(&chunk, &mut events).is_err() {
                    return "the server sent an event over 16 MiB".into();
                }
            }
            Ok(None) => return "the server closed the HTTP+SSE stream".into(),
            Err(e) => return format!("the HTTP+SSE stream failed: {}", transport_error(e)),
        }
    }
}

/// POSTs one message to the endpoint; its answer comes on the stream.
pub(super) async fn post(
    shared: &Shared,
    endpoint: &Url,
    msg: &Message,
) -> Result<(), ClientError> {
    let body = msg.to_vec();
    let response = shared
        .send(|| {
            shared
                .http
                .post(endpoint.clone())
                .headers(shared.headers.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        })
        .await?;
    if response.status().is_success() {
        return Ok(());
    }
    refusal(response).await
}
