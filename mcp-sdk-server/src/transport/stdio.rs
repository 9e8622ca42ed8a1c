//! The stdio transport: newline-delimited JSON-RPC on stdin and stdout.
//! Nothing else may be written to stdout; logs go to stderr. In sessions of
//! revision 2025-03-26 a line may hold a JSON-RPC batch; its answers go out
//! as one array on one line.

use crate::config::SessionConfig;
use crate::dispatch::ServerShared;
use crate::reply::RawAnswer;
use crate::request::InboundRequest;
use crate::server::Server;
use crate::session::Session;
use crate::sink::{MessageSink, Offer, Outbound};
use async_trait::async_trait;
use mcp_sdk::framing::{find_newline, read_line, trim_line};
use mcp_sdk::jsonrpc::{decode_as, decode_batch, encode_batch, is_batch, Decoded, Incoming};
use mcp_sdk::{Error, Message};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The longest line we accept (16 MiB); longer ones are answered with an
/// error and skipped, so a runaway client cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = mcp_sdk::framing::MAX_LINE_BYTES;

/// At most this many requests read from stdin wait for a permit to run
/// (beyond [`SessionConfig::max_concurrent_requests`] running); while
/// that many wait, stdin is not read further, so a client that pipelines
/// requests meets back-pressure instead of making the server hold them
/// all.
pub const MAX_WAITING_REQUESTS: usize = 256;

/// How long requests still running when stdin closes may take to answer.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves one session on this process's stdin and stdout until stdin closes,
/// on whichever Tokio runtime awaits it. A process that does nothing else
/// is served faster by [`run`], on a runtime of one thread.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let router = mcp_sdk_server::Router::new();
/// mcp_sdk_server::stdio::serve(router).await
/// # }
/// ```
pub async fn serve(server: impl Server) -> io::Result<()> {
    // Pipes (how MCP hosts start servers) are read and written through the
    // reactor; tokio's `stdin()`/`stdout()` hand every read and write to a
    // blocking thread, which costs a thread hand-off per message.
    #[cfg(unix)]
    if let (Some(reader), Some(writer)) = (pipes::stdin(), pipes::stdout()) {
        return serve_io(server, SessionConfig::default(), reader, writer).await;
    }
    serve_io(
        server,
        SessionConfig::default(),
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await
}

/// Serves one session on this process's stdin and stdout until stdin
/// closes, on a Tokio runtime of its own that runs on this thread alone:
/// the fast way for a process whose only job is one stdio session.
///
/// ```no_run
/// fn main() -> std::io::Result<()> {
///     let router = mcp_sdk_server::Router::new();
///     mcp_sdk_server::stdio::run(router)
/// }
/// ```
///
/// Why: on a multi-thread runtime every message crosses threads. The
/// reader hands each request to a worker, the answer wakes the writer on
/// whichever worker is free, and each hand-off to a sleeping thread is a
/// system call and a context switch; these, not the work of serving the
/// message, are most of what a stdio call costs there. On one thread a
/// burst of requests is read, handled and answered, in one write, without
/// waking anyone but the client.
///
/// What it costs: everything runs on this thread. A handler that blocks it
/// (a blocking system call, a long computation, a `std::sync` lock held
/// across I/O) stalls every other request and the reading of stdin; give
/// such work to `tokio::task::spawn_blocking` (whose thread pool this
/// runtime has) and await it. `tokio::task::block_in_place` panics on this
/// runtime. Requests no longer run in parallel on several cores, which
/// only CPU-heavy handlers would miss.
///
/// # Errors
///
/// Those of [`serve`]; and, at once, when called from within a Tokio
/// runtime, where a runtime cannot start: there, await [`serve`] instead.
pub fn run(server: impl Server) -> io::Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(io::Error::other(
            "stdio::run starts a runtime of its own and was called inside a Tokio runtime; \
             await stdio::serve there instead",
        ));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(server))
}

/// Stdin and stdout as non-blocking pipes, when they are pipes. The
/// non-blocking flag is on the open file description, which the process
/// that started us does not use (it holds the other ends), and it is
/// cleared again when the pipe is dropped.
#[cfg(unix)]
mod pipes {
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::fs::FileTypeExt;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::unix::pipe;

    fn fifo(fd: BorrowedFd<'_>) -> Option<File> {
        let file = File::from(fd.try_clone_to_owned().ok()?);
        file.metadata().ok()?.file_type().is_fifo().then_some(file)
    }

    /// Stdin, if it is a pipe.
    pub fn stdin() -> Option<Stdin> {
        let file = fifo(io::stdin().as_fd())?;
        pipe::Receiver::from_file(file).ok().map(|r| Stdin(Some(r)))
    }

    /// Stdout, if it is a pipe.
    pub fn stdout() -> Option<Stdout> {
        let file = fifo(io::stdout().as_fd())?;
        pipe::Sender::from_file(file).ok().map(|w| Stdout(Some(w)))
    }

    /// The read end of the stdin pipe; blocking again once dropped.
    pub struct Stdin(Option<pipe::Receiver>);

    /// The write end of the stdout pipe; blocking again once dropped.
    pub struct Stdout(Option<pipe::Sender>);

    impl Drop for Stdin {
        fn drop(&mut self) {
            if let Some(r) = self.0.take() {
                let _ = r.into_blocking_fd();
            }
        }
    }

    impl Drop for Stdout {
        fn drop(&mut self) {
            if let Some(w) = self.0.take() {
                let _ = w.into_blocking_fd();
            }
        }
    }

    impl AsyncRead for Stdin {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match self.0.as_mut() {
                Some(r) => Pin::new(r).poll_read(cx, buf),
                None => Poll::Ready(Ok(())),
            }
        }
    }

    impl AsyncWrite for Stdout {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            match self.0.as_mut() {
                Some(w) => Pin::new(w).poll_write(cx, buf),
                None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.0.as_mut() {
                Some(w) => Pin::new(w).poll_flush(cx),
                None => Poll::Ready(Ok(())),
            }
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.0.as_mut() {
                Some(w) => Pin::new(w).poll_shutdown(cx),
                None => Poll::Ready(Ok(())),
            }
        }
    }
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
    // A server that cannot serve (a router with registration mistakes)
    // stops here, before the client hears anything.
    server
        .check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let shared = ServerShared::new(Arc::new(server), config);
    let (tx, rx) = mpsc::channel::<Line>(256);
    let out: Outbound = Arc::new(Lines(tx.clone()));
    let session = Session::with_waiting_bound(shared, out.clone(), MAX_WAITING_REQUESTS);
    let writer = tokio::spawn(write_lines(rx, writer));

    // One read takes whatever the pipe holds (up to 64 KiB): a client that
    // pipelines requests has them all read, and started, per wake-up.
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::new();
    let result = loop {
        let available = match reader.fill_buf().await {
            Ok([]) => break Ok(()),
            Ok(available) => available,
            Err(e) => break Err(e),
        };
        // A line whole in the buffer is taken where it lies.
        if let Some(end) = find_newline(available) {
            take_line(&session, &available[..end], &out, &tx).await;
            reader.consume(end + 1);
            continue;
        }
        // A line that goes on past the buffer is gathered, up to the bound.
        line.clear();
        match read_line(&mut reader, &mut line, MAX_LINE_BYTES).await {
            Ok(0) => break Ok(()),
            Ok(_) => take_line(&session, &line, &out, &tx).await,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let err = Error::invalid_request(format_args!(
                    "message longer than {MAX_LINE_BYTES} bytes"
                ));
                let _ = out.send(Message::error(None, err)).await;
            }
            Err(e) => break Err(e),
        }
        if line.capacity() > 64 * 1024 {
            // A long line must not pin its buffer for good.
            line = Vec::new();
        }
    };

    // Stdin closed: the client sends nothing more. Let running requests
    // answer (a client may close its end and still read), then cancel the
    // stragglers and let the writer flush.
    session.drain(DRAIN_TIMEOUT).await;
    session.close();
    drop(session);
    drop(out);
    drop(tx);
    let _ = writer.await;
    result
}

/// Takes one line from the client: a message, or a batch of them.
async fn take_line(
    session: &Arc<Session>,
    line: &[u8],
    out: &Outbound,
    lines: &mpsc::Sender<Line>,
) {
    let text = trim_line(line);
    if text.is_empty() {
        return;
    }
    if is_batch(text) {
        return batch(session, text, out, lines).await;
    }
    // A `tools/call` has its params read typed, without a tree.
    match decode_as(text) {
        Ok(Decoded::Typed(id, params)) => {
            let req = InboundRequest::call(id, params);
            session.handle_request(req, out.clone(), None).await
        }
        Ok(Decoded::Message(msg)) => session.handle(msg, out.clone()).await,
        Err(e) => {
            let _ = out.send(e.into_message()).await;
        }
    }
}

/// What the writer writes: a message on its line, an answer whose result
/// is JSON text already, or the answers to a batch as one array on one
/// line.
enum Line {
    One(Message),
    Answer(RawAnswer),
    Batch(Vec<Message>),
}

impl Line {
    /// The message of a [`Line::One`], given back when the writer is gone.
    fn into_message(self) -> Message {
        match self {
            Line::One(msg) => msg,
            Line::Answer(_) | Line::Batch(_) => unreachable!("only single messages are sent here"),
        }
    }
}

/// The writer's queue as a message destination.
struct Lines(mpsc::Sender<Line>);

#[async_trait]
impl MessageSink for Lines {
    // Room in the queue, the common case, takes no wait for a permit (a
    // future boxed and polled, a waiter set up and dropped).
    fn offer(&self, msg: Message) -> Offer {
        match self.0.try_send(Line::One(msg)) {
            Ok(()) => Offer::Taken,
            Err(mpsc::error::TrySendError::Full(line)) => Offer::Later(line.into_message()),
            Err(mpsc::error::TrySendError::Closed(line)) => Offer::Gone(line.into_message()),
        }
    }

    async fn send_waiting(&self, msg: Message) -> Result<(), Message> {
        let line = Line::One(msg);
        self.0.send(line).await.map_err(|e| e.0.into_message())
    }

    fn takes_raw(&self) -> bool {
        true
    }

    fn offer_answer(&self, answer: RawAnswer) -> Result<(), RawAnswer> {
        match self.0.try_send(Line::Answer(answer)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Line::Answer(answer))) => Err(answer),
            // Nobody is left to read it, in either form.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(_) => unreachable!("an answer was sent"),
        }
    }

    async fn send_answer_waiting(&self, answer: RawAnswer) {
        let _ = self.0.send(Line::Answer(answer)).await;
    }
}

/// A JSON-RPC batch (revision 2025-03-26 only): its answers go out as one
/// array once all came; what its requests send on the way (progress, logs,
/// requests to the client) goes out as it comes. A batch of notifications
/// and responses only gets no answer.
async fn batch(session: &Arc<Session>, text: &[u8], out: &Outbound, lines: &mpsc::Sender<Line>) {
    if let Some(refusal) = session.batch_refusal() {
        let _ = out.send(Message::error(None, refusal)).await;
        return;
    }
    let items = match decode_batch(text) {
        Ok(Incoming::Batch(items)) => items,
        Ok(Incoming::Single(msg)) => return session.handle(msg, out.clone()).await,
        Err(e) => {
            let _ = out.send(e.into_message()).await;
            return;
        }
    };
    // Room for every answer given inline while the batch is dispatched.
    let (tx, mut rx) = mpsc::channel(items.len() + 64);
    let batch = session
        .handle_batch(items, Arc::new(tx), out.clone(), None)
        .await;
    let (mut pending, mut answers) = (batch.pending, batch.immediate);
    let out = out.clone();
    let lines = lines.clone();
    tokio::spawn(async move {
        while !pending.is_done() {
            match rx.recv().await {
                Some(m) if pending.take(&m) => answers.push(m),
                Some(m) => {
                    let _ = out.send(m).await;
                }
                // The rest were cancelled: they get no answer.
                None => break,
            }
        }
        if !answers.is_empty() {
            let _ = lines.send(Line::Batch(answers)).await;
        }
    });
}

/// Writes each message as one line, gathering every answer that is ready
/// into one write: a write wakes the client, so one per burst instead of
/// one per answer saves the client's wake-ups as well as system calls.
async fn write_lines<W: AsyncWrite + Unpin>(mut rx: mpsc::Receiver<Line>, mut writer: W) {
    const CHUNK: usize = 64 * 1024;
    // On a runtime of one thread (`run`) the tasks run in the order they
    // were woken: the requests that answer in this burst were woken before
    // their first answer woke us, so they have all answered when we run,
    // and a yield would bring nothing but a look at the reactor (a system
    // call per burst). Elsewhere answers come from other threads.
    let yield_for_more = tokio::runtime::Handle::current().runtime_flavor()
        != tokio::runtime::RuntimeFlavor::CurrentThread;
    let mut out = Vec::with_capacity(CHUNK);
    while let Some(line) = rx.recv().await {
        encode(&mut out, line);
        // Gather until a yield brings nothing new. A yield lets the tasks
        // that are ready on this worker (requests about to answer) run
        // first: an answer that comes while we wait joins this write. A
        // yield that brought nothing means nothing more is about to come.
        loop {
            while let Ok(line) = rx.try_recv() {
                encode(&mut out, line);
                if out.len() >= CHUNK {
                    if writer.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            }
            if !yield_for_more {
                break;
            }
            tokio::task::yield_now().await;
            match rx.try_recv() {
                Ok(line) => encode(&mut out, line),
                Err(_) => break,
            }
        }
        if !out.is_empty() && writer.write_all(&out).await.is_err() {
            return;
        }
        if writer.flush().await.is_err() {
            return;
        }
        out.clear();
        if out.capacity() > 16 * CHUNK {
            // One huge message must not pin its buffer for good.
            out = Vec::with_capacity(CHUNK);
        }
    }
}

/// Appends `line` and its newline to `out`; a message that does not
/// serialize is dropped (and logged), leaving `out` as it was.
fn encode(out: &mut Vec<u8>, line: Line) {
    let start = out.len();
    let written = match &line {
        Line::One(msg) => serde_json::to_writer(&mut *out, msg),
        Line::Answer(answer) => {
            answer.write(out);
            Ok(())
        }
        Line::Batch(msgs) => {
            out.extend_from_slice(&encode_batch(msgs));
            Ok(())
        }
    };
    if written.is_err() {
        out.truncate(start);
        tracing::error!("a message did not serialize; dropped");
    } else if out.len() > start {
        out.push(b'\n');
    }
}
