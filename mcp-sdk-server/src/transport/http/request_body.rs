//! Reading a request body within a size limit and a time limit.
//!
//! Memory is taken only as bytes arrive: the declared `Content-Length` is
//! checked against the limit but never reserved, so a client that declares
//! a large body and then stalls holds only what it sent, and only until the
//! deadline.

use super::{error_response, too_large, BoxError, HttpResponse};
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;

/// The body's bytes, or the refusal to answer with: 413 past `limit`
/// bytes, 408 (and the connection closed) when the whole body did not
/// arrive within `timeout`, 400 when it could not be read.
pub(super) async fn read_body<B>(
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, HttpResponse>
where
    B: Body<Data = Bytes> + Send,
    B::Error: Into<BoxError>,
{
    let read = collect(body, limit);
    tokio::pin!(read);
    // A small body has nearly always come with the head: read it without
    // setting a timer (a clock reading, and a timer entry made and
    // dropped) when it is whole at once. The time limit starts when the
    // body is found incomplete.
    let at_once = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    if let Poll::Ready(read) = at_once {
        return read;
    }
    match tokio::time::timeout(timeout, read).await {
        Ok(read) => read,
        Err(_) => {
            let mut resp = error_response(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "Request Timeout: the body did not arrive within {} s",
                    timeout.as_secs_f64()
                ),
            );
            // The rest of the body may still come: the connection cannot
            // carry another request.
            resp.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            Err(resp)
        }
    }
}

async fn collect<B>(body: B, limit: usize) -> Result<Bytes, HttpResponse>
where
    B: Body<Data = Bytes> + Send,
    B::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(body);
    // A body of one chunk (the usual case) is kept as it came, uncopied.
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let e: BoxError = e.into();
            error_response(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: could not read the body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > limit {
            return Err(too_large(limit));
        }
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            Some(previous) => {
                rest.extend_from_slice(&previous);
                rest.extend_from_slice(&data);
            }
            None => rest.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}
