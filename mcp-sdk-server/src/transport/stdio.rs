//! The stdio transport: newline-delimited JSON-RPC on stdin and stdout.
//! Nothing else may be written to stdout; logs go to stderr.

use crate::server::Server;
use crate::session::{ServerShared, Session, SessionConfig};
use crate::sink::Outbound;
use mcp_sdk::jsonrpc::decode;
use mcp_sdk::{Error, Message};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The longest line we accept (16 MiB); longer ones are answered with an
/// error and skipped, so a runaway client cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// How long requests still running when stdin closes may take to answer.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves one session on this process's stdin and stdout until stdin closes.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let router = mcp_sdk_server::Router::new();
/// mcp_sdk_server::stdio::serve(router).await
/// # }
/// ```
pub async fn serve(server: impl Server) -> io::Result<()> {
    serve_io(
        server,
        SessionConfig::default(),
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await
}

/// Serves one session over any byte streams: a pipe, a socket, or an
/// in-process `tokio::io::duplex` pair in tests.
pub async fn serve_io<R, W>(
    server: impl Server,
    config: SessionConfig,
    reader: R,
    writer: W,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let shared = ServerShared::new(Arc::new(server), config);
    let (tx, rx) = mpsc::channel::<Message>(256);
    let out: Outbound = Arc::new(tx);
    let session = Session::new(shared, out.clone());
    let writer = tokio::spawn(write_lines(rx, writer));

    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::with_capacity(4096);
    let result = loop {
        line.clear();
        match read_line(&mut reader, &mut line).await {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let err = Error::invalid_request(format_args!(
                    "message longer than {MAX_LINE_BYTES} bytes"
                ));
                let _ = out.send(Message::error(None, err)).await;
                continue;
            }
            Err(e) => break Err(e),
        }
        let text = trim_line(&line);
        if text.is_empty() {
            continue;
        }
        match decode(text) {
            Ok(msg) => session.handle(msg, out.clone()).await,
            Err(e) => {
                let _ = out.send(e.into_message()).await;
            }
        }
    };

    // Stdin closed: the client sends nothing more. Let running requests
    // answer (a client may close its end and still read), then cancel the
    // stragglers and let the writer flush.
    session.drain(DRAIN_TIMEOUT).await;
    session.close();
    drop(session);
    drop(out);
    let _ = writer.await;
    result
}

/// Reads one line into `buf`, up to [`MAX_LINE_BYTES`]; a longer line is
/// consumed to its end and reported as `InvalidData`.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    let mut total = 0;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let (chunk, done) = match memchr(available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        total += n;
        if !too_long && buf.len() + n <= MAX_LINE_BYTES {
            buf.extend_from_slice(chunk);
        } else {
            too_long = true;
            buf.clear();
        }
        reader.consume(n);
        if done {
            break;
        }
    }
    if too_long {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(total)
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut s = line;
    while let [rest @ .., b'\n' | b'\r' | b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Writes each message as one line, flushing whenever the queue runs dry so
/// that bursts go out in few writes.
async fn write_lines<W: AsyncWrite + Unpin>(mut rx: mpsc::Receiver<Message>, writer: W) {
    let mut writer = tokio::io::BufWriter::with_capacity(64 * 1024, writer);
    let mut buf = Vec::with_capacity(4096);
    while let Some(msg) = rx.recv().await {
        let mut next = Some(msg);
        while let Some(msg) = next {
            buf.clear();
            if crate::sink::is_close_control(&msg) {
                next = rx.try_recv().ok();
                continue;
            }
            if serde_json::to_writer(&mut buf, &msg).is_err() {
                tracing::error!("a message did not serialize; dropped");
            } else {
                buf.push(b'\n');
                if writer.write_all(&buf).await.is_err() {
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
}
