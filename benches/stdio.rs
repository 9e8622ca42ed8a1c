//! tools/call round trips of the echo tool over stdio, against the
//! `echo_server` example as a child process, beside the physical limit on
//! the same run: a `cat` child process echoing the exact response line.
//!
//! `cargo bench --bench stdio`. `cargo bench` does not build examples, so
//! the bench runs `cargo build --release --example echo_server` first (a
//! no-op when it is up to date). The client is one thread with blocking
//! pipe I/O; with N requests in flight it keeps N outstanding, sending the
//! next as soon as one is answered.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const INIT: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const RUN: Duration = Duration::from_secs(1);
/// Rounds per scenario, alternating with the baseline's, so that both see
/// the same machine (other load comes and goes); req/s is the median round.
const ROUNDS: usize = 3;
const WARMUP: usize = 500;

/// A tools/call of `echo` with request id `id`, as one line.
fn call(id: usize) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hello, bench"}}}}}}"#
    )
    .into_bytes()
}

/// `target/release/examples/echo_server`, built now if needed.
fn echo_server() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/deps/stdio-HASH -> target/release
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--example",
            "echo_server",
            "--manifest-path",
            manifest,
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the echo_server example failed");
    profile_dir
        .join("examples")
        .join(format!("echo_server{}", std::env::consts::EXE_SUFFIX))
}

struct Pipe {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
    line: Vec<u8>,
}

impl Pipe {
    fn spawn(cmd: &mut Command) -> Pipe {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child process starts");
        Pipe {
            to: child.stdin.take().unwrap(),
            from: BufReader::with_capacity(64 * 1024, child.stdout.take().unwrap()),
            child,
            line: Vec::with_capacity(4096),
        }
    }

    fn send(&mut self, line: &[u8]) {
        // One write per message, newline included, as a client would do.
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        self.to.write_all(&buf).unwrap();
    }

    /// The next line, without its newline.
    fn recv(&mut self) -> &[u8] {
        self.line.clear();
        let n = self.from.read_until(b'\n', &mut self.line).unwrap();
        assert!(n > 0, "the child closed its stdout");
        self.line.strip_suffix(b"\n").unwrap_or(&self.line)
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// One round: its rate and every latency.
struct Round {
    rps: f64,
    latencies: Vec<Duration>,
}

struct Stats {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// The median round's rate and the percentiles of all rounds' latencies.
fn summarize(rounds: Vec<Round>) -> Stats {
    let mut rates: Vec<f64> = rounds.iter().map(|r| r.rps).collect();
    rates.sort_by(f64::total_cmp);
    let mut all: Vec<Duration> = rounds.into_iter().flat_map(|r| r.latencies).collect();
    all.sort_unstable();
    Stats {
        rps: rates[rates.len() / 2],
        p50: all[all.len() / 2],
        p99: all[all.len() * 99 / 100],
    }
}

/// One round: keeps `in_flight` requests outstanding for [`RUN`] after a warm-up;
/// `message(i)` is the line sent for slot `i` (its id is `i`).
fn load(pipe: &mut Pipe, in_flight: usize, message: impl Fn(usize) -> Vec<u8>) -> Round {
    let lines: Vec<Vec<u8>> = (0..in_flight).map(&message).collect();
    let mut sent_at = vec![Instant::now(); in_flight];
    for (slot, line) in lines.iter().enumerate() {
        sent_at[slot] = Instant::now();
        pipe.send(line);
    }
    let mut latencies = Vec::with_capacity(1 << 20);
    let mut done = 0usize;
    let mut start = Instant::now();
    let mut end = None;
    loop {
        let slot = response_id(pipe.recv());
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
        pipe.send(&lines[slot]);
    }
    let elapsed = start.elapsed();
    // Collect the stragglers so the pipe is clean for the next run.
    for _ in 1..in_flight {
        pipe.recv();
    }
    Round {
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies,
    }
}

fn main() {
    // `cargo test --benches` passes no `--bench`; run only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let server_exe = echo_server();
    let mut server = Pipe::spawn(Command::new(&server_exe).arg("--stdio"));
    server.send(INIT.as_bytes());
    server.recv();
    server.send(INITIALIZED.as_bytes());
    // The exact response line the server gives, for the baseline to echo.
    server.send(&call(0));
    let response = String::from_utf8(server.recv().to_vec()).unwrap();
    assert!(response.contains("hello, bench"), "{response}");
    let (before, after) = response.split_once(r#""id":0"#).unwrap();
    let echoed = |id: usize| format!(r#"{before}"id":{id}{after}"#).into_bytes();
    let mut cat = Pipe::spawn(&mut Command::new("cat"));

    println!("| scenario | req/s | p50 µs | p99 µs | baseline req/s | baseline p50 µs | baseline p99 µs | ratio req/s | ratio p50 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for in_flight in [1, 16] {
        let (mut base, mut ours) = (vec![], vec![]);
        for _ in 0..ROUNDS {
            base.push(load(&mut cat, in_flight, echoed));
            ours.push(load(&mut server, in_flight, call));
        }
        let (b, o) = (summarize(base), summarize(ours));
        println!(
            "| stdio child process, {in_flight} in flight | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} |",
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
}
