//! What the HTTP tests share: one raw request on a fresh connection, and
//! readers for JSON and SSE bodies.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest any awaited step may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(10);

/// One request on a fresh connection; the connection's task comes back too,
/// so a test can cut the connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (Response<Incoming>, JoinHandle<()>) {
    request_to(addr, method, "/mcp", headers, body).await
}

/// [`request`] to another path than `/mcp`.
pub async fn request_to(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (Response<Incoming>, JoinHandle<()>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let resp = timeout(LIMIT, sender.send_request(req))
        .await
        .expect("response headers in time")
        .unwrap();
    (resp, task)
}

pub async fn body_text(resp: Response<Incoming>) -> String {
    let bytes = timeout(LIMIT, resp.into_body().collect())
        .await
        .expect("the whole body in time")
        .unwrap()
        .to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub async fn json_body(resp: Response<Incoming>) -> Value {
    let text = body_text(resp).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// One server-sent event.
#[derive(Debug)]
pub struct Event {
    pub id: Option<String>,
    pub data: Option<Value>,
}

/// Reads the events of an SSE response one at a time.
pub struct Sse {
    body: Incoming,
    buf: String,
}

impl Sse {
    pub fn new(resp: Response<Incoming>) -> Sse {
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Sse {
            body: resp.into_body(),
            buf: String::new(),
        }
    }

    /// The next event, or `None` when the server ended the body.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    data: None,
                };
                for line in raw.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        event.id = Some(id.to_owned());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        if !data.is_empty() {
                            event.data = Some(serde_json::from_str(data).unwrap());
                        }
                    }
                }
                return Some(event);
            }
            let frame = timeout(LIMIT, self.body.frame())
                .await
                .expect("an SSE event or the end of the body in time");
            match frame {
                None => {
                    assert!(self.buf.trim().is_empty(), "a cut event: {:?}", self.buf);
                    return None;
                }
                Some(frame) => {
                    if let Ok(data) = frame.expect("a clean body").into_data() {
                        self.buf.push_str(std::str::from_utf8(&data).unwrap());
                    }
                }
            }
        }
    }

    /// Every remaining event carrying a message, until the body ends.
    pub async fn rest(&mut self) -> Vec<(String, Value)> {
        let mut out = vec![];
        while let Some(e) = self.next().await {
            if let (Some(id), Some(data)) = (e.id, e.data) {
                out.push((id, data));
            }
        }
        out
    }
}
