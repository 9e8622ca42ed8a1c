//! tools/call round trips of the echo tool over
//! `mcp_sdk_server::stdio::serve_io` on an in-process `tokio::io::duplex`
//! pair, beside the limit of the pipe itself on the same run: a task that
//! echoes the exact response line back over a duplex pair.
//!
//! `cargo bench --bench in_process`. Server and client share one
//! current-thread tokio runtime, so the figures measure the SDK's work per
//! message, not scheduling across cores.

use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};

const INIT: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const RUN: Duration = Duration::from_secs(1);
/// Rounds per scenario, alternating with the baseline's, so that both see
/// the same machine (other load comes and goes); req/s is the median round.
const ROUNDS: usize = 3;
const WARMUP: usize = 500;
const PIPE_BYTES: usize = 64 * 1024;

/// A tools/call of `echo` with request id `id`, as one line.
fn call(id: usize) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hello, bench"}}}}}}"#
    )
    .into_bytes()
}

struct Pipe {
    to: WriteHalf<DuplexStream>,
    from: BufReader<ReadHalf<DuplexStream>>,
    line: Vec<u8>,
}

impl Pipe {
    fn new(client_end: DuplexStream) -> Pipe {
        let (read, write) = tokio::io::split(client_end);
        Pipe {
            to: write,
            from: BufReader::with_capacity(64 * 1024, read),
            line: Vec::with_capacity(4096),
        }
    }

    async fn send(&mut self, line: &[u8]) {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        self.to.write_all(&buf).await.unwrap();
    }

    async fn recv(&mut self) -> &[u8] {
        self.line.clear();
        let n = self.from.read_until(b'\n', &mut self.line).await.unwrap();
        assert!(n > 0, "the other end closed");
        self.line.strip_suffix(b"\n").unwrap_or(&self.line)
    }
}

/// The integer id of a response line (`"id":N`).
fn response_id(line: &[u8]) -> usize {
    let at = line
        .windows(5)
        .position(|w| w == b"\"id\":")
        .expect("a response with an id")
        + 5;
    line[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + (b - b'0') as usize)
}

#[path = "support/rounds.rs"]
mod rounds;
use rounds::{summarize, Round};

/// One round: keeps `in_flight` requests outstanding for [`RUN`] after a warm-up;
/// `message(i)` is the line sent for slot `i` (its id is `i`).
async fn load(pipe: &mut Pipe, in_flight: usize, message: impl Fn(usize) -> Vec<u8>) -> Round<()> {
    let lines: Vec<Vec<u8>> = (0..in_flight).map(&message).collect();
    let mut sent_at = vec![Instant::now(); in_flight];
    for (slot, line) in lines.iter().enumerate() {
        sent_at[slot] = Instant::now();
        pipe.send(line).await;
    }
    let mut latencies = Vec::with_capacity(1 << 20);
    let mut done = 0usize;
    let mut start = Instant::now();
    let mut end = None;
    loop {
        let slot = response_id(pipe.recv().await);
        let now = Instant::now();
        done += 1;
        if done == WARMUP {
            start = now;
            end = Some(now + RUN);
        } else if done > WARMUP {
            latencies.push(now - sent_at[slot]);
        }
        if end.is_some_and(|e| now >= e) {
            break;
        }
        sent_at[slot] = Instant::now();
        pipe.send(&lines[slot]).await;
    }
    let elapsed = start.elapsed();
    for _ in 1..in_flight {
        pipe.recv().await;
    }
    Round {
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies,
        cost: None,
    }
}

/// Echoes every line back, like `cat` over a pipe.
async fn echo_lines(end: DuplexStream) {
    let (read, mut write) = tokio::io::split(end);
    let mut read = BufReader::with_capacity(64 * 1024, read);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match read.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if write.write_all(&line).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn main() {
    // `cargo test --benches` passes no `--bench`; run only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client_end, server_end) = tokio::io::duplex(PIPE_BYTES);
        let (read, write) = tokio::io::split(server_end);
        tokio::spawn(mcp_sdk_server::stdio::serve_io(
            mcp_reference::echo::router(),
            mcp_sdk_server::SessionConfig::default(),
            read,
            write,
        ));
        let mut server = Pipe::new(client_end);
        server.send(INIT.as_bytes()).await;
        server.recv().await;
        server.send(INITIALIZED.as_bytes()).await;
        server.send(&call(0)).await;
        let response = String::from_utf8(server.recv().await.to_vec()).unwrap();
        assert!(response.contains("hello, bench"), "{response}");
        let (before, after) = response.split_once(r#""id":0"#).unwrap();
        let echoed = |id: usize| format!(r#"{before}"id":{id}{after}"#).into_bytes();

        let (client_end, echo_end) = tokio::io::duplex(PIPE_BYTES);
        tokio::spawn(echo_lines(echo_end));
        let mut baseline = Pipe::new(client_end);

        println!("| scenario | req/s | p50 µs | p99 µs | baseline req/s | baseline p50 µs | baseline p99 µs | ratio req/s | ratio p50 |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for in_flight in [1, 16] {
            let (mut base, mut ours) = (vec![], vec![]);
            for _ in 0..ROUNDS {
                base.push(load(&mut baseline, in_flight, echoed).await);
                ours.push(load(&mut server, in_flight, call).await);
            }
            let (b, o) = (summarize(base, |_| 0.0), summarize(ours, |_| 0.0));
            println!(
                "| in-process duplex, {in_flight} in flight | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} |",
                o.rps,
                o.p50.as_secs_f64() * 1e6,
                o.p99.as_secs_f64() * 1e6,
                b.rps,
                b.p50.as_secs_f64() * 1e6,
                b.p99.as_secs_f64() * 1e6,
                o.rps / b.rps,
                o.p50.as_secs_f64() / b.p50.as_secs_f64()
            );
        }
    });
}
