//! Newline-delimited JSON-RPC over any pair of byte streams.

use super::{Inbox, Incoming, Transport};
use crate::ClientError;
use async_trait::async_trait;
use mcp_sdk::framing::read_line;
use mcp_sdk::jsonrpc::decode;
use mcp_sdk::Message;
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

/// The longest line accepted from a server (16 MiB). A longer one is skipped
/// with a warning, so a runaway server cannot exhaust the client's memory.
pub const MAX_LINE_BYTES: usize = mcp_sdk::framing::MAX_LINE_BYTES;

/// Says why the stream ended, once it has.
pub(crate) type EndReason = Pin<Box<dyn Future<Output = ClientError> + Send>>;

type Writer = BufWriter<Box<dyn AsyncWrite + Send + Unpin>>;

/// Newline-delimited JSON-RPC over a reader and a writer: a pipe, a socket,
/// or an in-process `tokio::io::duplex` pair.
///
/// ```
/// # async fn run() -> Result<(), mcp_sdk_client::ClientError> {
/// use mcp_sdk_client::{Client, transport::IoTransport};
///
/// // Serve a router on one end of an in-process pipe, connect to the other.
/// let (client_end, server_end) = tokio::io::duplex(64 * 1024);
/// let (read, write) = tokio::io::split(server_end);
/// tokio::spawn(mcp_sdk_server::stdio::serve_io(
///     mcp_sdk_server::Router::new(),
///     Default::default(),
///     read,
///     write,
/// ));
/// let (read, write) = tokio::io::split(client_end);
/// let client = Client::connect(IoTransport::new(read, write)).await?;
/// client.ping().await?;
/// # Ok(()) }
/// ```
pub struct IoTransport {
    writer: Mutex<Option<Writer>>,
    inbox: Inbox,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for IoTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoTransport").finish_non_exhaustive()
    }
}

impl IoTransport {
    /// Reads messages from `reader` and writes them to `writer`, one JSON
    /// object per line. Must be called inside a tokio runtime.
    pub fn new<R, W>(reader: R, writer: W) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        Self::with_end_reason(
            reader,
            writer,
            Box::pin(async {
                ClientError::Closed("the server closed its end of the stream".into())
            }),
        )
    }

    /// Like [`new`](Self::new), with a future that says why the stream
    /// ended (a child process reports its exit status).
    pub(crate) fn with_end_reason<R, W>(reader: R, writer: W, end: EndReason) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let (tx, inbox) = Inbox::new();
        let reader = tokio::spawn(read_messages(reader, tx, end));
        let writer: Box<dyn AsyncWrite + Send + Unpin> = Box::new(writer);
        IoTransport {
            writer: Mutex::new(Some(BufWriter::with_capacity(64 * 1024, writer))),
            inbox,
            reader,
        }
    }

    /// Closes the writing side, so the server sees end of input.
    pub(crate) async fn shutdown_writer(&self) {
        if let Some(mut w) = self.writer.lock().await.take() {
            let _ = w.shutdown().await;
        }
    }
}

impl Drop for IoTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[async_trait]
impl Transport for IoTransport {
    async fn send(&self, msg: Message) -> Result<(), ClientError> {
        let mut line = msg.to_vec();
        line.push(b'\n');
        let mut guard = self.writer.lock().await;
        let writer = guard
            .as_mut()
            .ok_or_else(|| ClientError::Closed("the transport was closed".into()))?;
        let written = async {
            writer.write_all(&line).await?;
            writer.flush().await
        }
        .await;
        written.map_err(|e| ClientError::Closed(format!("could not write to the server: {e}")))
    }

    async fn receive(&self) -> Option<Incoming> {
        self.inbox.receive().await
    }

    async fn close(&self) {
        self.shutdown_writer().await;
    }
}

/// Reads lines until end of input, decoding each into a message. Lines that
/// are not JSON-RPC are logged and skipped: without a readable id they cannot
/// be tied to a request.
async fn read_messages<R: AsyncRead + Unpin>(
    reader: R,
    tx: mpsc::Sender<Incoming>,
    end: EndReason,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match read_line(&mut reader, &mut line, MAX_LINE_BYTES).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                tracing::warn!("skipped a line from the server longer than {MAX_LINE_BYTES} bytes");
                continue;
            }
            Err(e) => {
                let _ = tx
                    .send(Incoming::Closed(ClientError::Closed(format!(
                        "reading from the server failed: {e}"
                    ))))
                    .await;
                return;
            }
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let incoming = match decode(text) {
            Ok(msg) => Incoming::Message(msg),
            // An answer (no method) we cannot read still names the call
            // it fails; anything else without a usable id is only logged.
            Err(e) => match e.id.clone().filter(|_| !has_method(text)) {
                Some(id) => Incoming::Failed {
                    id,
                    error: ClientError::Protocol(format!("the server's answer is invalid: {e}")),
                },
                None => {
                    tracing::warn!(
                        "skipped a line from the server that is not JSON-RPC ({e}): {}",
                        String::from_utf8_lossy(&text[..text.len().min(200)])
                    );
                    continue;
                }
            },
        };
        if tx.send(incoming).await.is_err() {
            return;
        }
    }
    let reason = end.await;
    let _ = tx.send(Incoming::Closed(reason)).await;
}

/// Whether undecodable input still looks like a request or notification.
fn has_method(text: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(text)
        .map(|v| v.get("method").is_some())
        .unwrap_or(false)
}
