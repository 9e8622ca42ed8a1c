//! tools/call round trips of the echo tool over stdio, against the
//! `echo_server` example as a child process, beside the physical limit on
//! the same run: a child process echoing the exact response line.
//!
//! The baselines. `cat` alone made the ratio meaningless: on one quiet
//! machine it gave 911k and 275k req/s in two runs. A pipe round trip's
//! rate depends on how the two processes happen to be scheduled (on one
//! core the client writes many lines before the echo runs, and it reads and
//! writes them in one go; on two, each line can cost both a wake-up), not
//! on either program. So: (1) the echo child is this bench itself
//! (`--echo-child`), reading up to 64 KiB at once and writing the lines of
//! one read in one write, as the server's reader and writer do, so that
//! it differs from ours only by what serving MCP adds; `cat` stays as a
//! second row for comparison with older figures. (2) Every round of ours
//! alternates with a round of each baseline and the median round is kept.
//! (3) Beside req/s, each child's CPU time and context switches per call
//! (from `/proc`, summed over its threads) are printed: they hardly move
//! with the machine's load, so they compare builds and runs that req/s
//! cannot. Counting mode for system calls, without a clock:
//! `cargo bench --bench stdio -- --calls 200000 --wrap "strace -f -c -o FILE"`
//! (or `perf stat -o FILE`; `--server PATH` for another build; `--log LEVEL`
//! for our child's log level, `warn` unless given).
//!
//! `cargo bench --bench stdio`. `cargo bench` does not build examples, so
//! the bench runs `cargo build --release --example echo_server` first (a
//! no-op when it is up to date). The client is one thread with blocking
//! pipe I/O; with N requests in flight it keeps N outstanding, sending the
//! next as soon as one is answered.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const INIT: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const RUN: Duration = Duration::from_secs(1);
/// Rounds per scenario, alternating with the baseline's, so that both see
/// the same machine (other load comes and goes); req/s is the median round.
const ROUNDS: usize = 3;
const WARMUP: usize = 500;
/// The argument that makes this bench the baseline child ([`echo_child`]).
const ECHO_CHILD: &str = "--echo-child";

/// A tools/call of `echo` with request id `id`, as one line.
fn call(id: usize) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hello, bench"}}}}}}"#
    )
    .into_bytes()
}

/// The baseline child: echoes every line it reads, as the server answers
/// them: reads what the pipe holds (up to 64 KiB, as the server's reader),
/// splits it into lines, and writes the lines of one read in one write (as
/// the server's writer writes every answer that is ready in one write).
/// What it cannot beat is the pipe itself: a read and a write system call
/// per batch and the wake-ups of both processes.
fn echo_child() {
    use std::io::Read;
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let (mut stdin, mut stdout) = (stdin.lock(), stdout.lock());
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    let mut held = 0; // bytes of a line not yet complete, at the start
    loop {
        if held == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match stdin.read(&mut buf[held..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        held += n;
        let Some(end) = buf[..held].iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        for line in buf[..=end].split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(line);
        }
        // `Stdout` is line-buffered, but a write that ends in a newline
        // goes out whole, in one system call.
        if stdout
            .write_all(&out)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return;
        }
        out.clear();
        buf.copy_within(end + 1..held, 0);
        held -= end + 1;
    }
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
    /// `None` once closed.
    to: Option<ChildStdin>,
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
            to: child.stdin.take(),
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
        self.to.as_mut().unwrap().write_all(&buf).unwrap();
    }

    /// The next line, without its newline.
    fn recv(&mut self) -> &[u8] {
        self.line.clear();
        let n = self.from.read_until(b'\n', &mut self.line).unwrap();
        assert!(n > 0, "the child closed its stdout");
        self.line.strip_suffix(b"\n").unwrap_or(&self.line)
    }
}

impl Pipe {
    /// Closes the child's stdin and waits for it to exit.
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.to.take());
        self.child.wait().expect("the child is waited for")
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

#[path = "support/rounds.rs"]
mod rounds;
use rounds::{summarize, Round, Stats};

/// What the child process spent: CPU time and context switches (a thread
/// giving up its CPU, mostly to wait for work: the wake-ups a call costs),
/// summed over its threads. Unlike req/s these hardly depend on what else
/// the machine runs, so they compare builds taken at different times.
#[derive(Clone, Copy, Default)]
struct Cost {
    /// Nanoseconds on a CPU.
    cpu_ns: f64,
    switches: f64,
}

impl Cost {
    /// The child's totals so far, from Linux's `/proc` (`None` elsewhere).
    fn of(child: &Child) -> Option<Cost> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).ok()?;
        let mut cost = Cost::default();
        for task in tasks.flatten() {
            let dir = task.path();
            // `schedstat`: nanoseconds on the CPU, then waiting, then slices.
            let sched = std::fs::read_to_string(dir.join("schedstat")).ok()?;
            let ns: f64 = sched.split_whitespace().next()?.parse().ok()?;
            cost.cpu_ns += ns;
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            for line in status.lines() {
                if let Some(n) = line
                    .strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
                {
                    cost.switches += n.trim().parse::<f64>().ok()?;
                }
            }
        }
        Some(cost)
    }

    /// The cost per call of `calls` calls between `self` and `later`.
    fn per_call(self, later: Cost, calls: usize) -> Cost {
        let calls = calls.max(1) as f64;
        Cost {
            cpu_ns: (later.cpu_ns - self.cpu_ns) / calls,
            switches: (later.switches - self.switches) / calls,
        }
    }
}

/// One round: keeps `in_flight` requests outstanding for [`RUN`] after a warm-up;
/// `message(i)` is the line sent for slot `i` (its id is `i`).
fn load(pipe: &mut Pipe, in_flight: usize, message: impl Fn(usize) -> Vec<u8>) -> Round<Cost> {
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
    let mut before = None;
    loop {
        let slot = response_id(pipe.recv());
        let now = Instant::now();
        done += 1;
        if done == WARMUP {
            before = Cost::of(&pipe.child);
            start = Instant::now();
            end = Some(start + RUN);
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
    let after = Cost::of(&pipe.child);
    // Collect the stragglers so the pipe is clean for the next run.
    for _ in 1..in_flight {
        pipe.recv();
    }
    let cost = before
        .zip(after)
        .map(|(b, a)| b.per_call(a, latencies.len()));
    Round {
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies,
        cost,
    }
}

/// Keeps `in_flight` calls outstanding until `calls` were answered, then
/// closes the child's stdin and waits for it to exit, so that a wrapper
/// (`strace -c`, `perf stat`) prints its summary. For counting what a call
/// costs (system calls, context switches, instructions) without a clock.
fn count(mut pipe: Pipe, in_flight: usize, calls: usize, message: impl Fn(usize) -> Vec<u8>) {
    let lines: Vec<Vec<u8>> = (0..in_flight).map(&message).collect();
    for line in &lines {
        pipe.send(line);
    }
    let start = Instant::now();
    let before = Cost::of(&pipe.child);
    for _ in in_flight..calls {
        let slot = response_id(pipe.recv());
        pipe.send(&lines[slot]);
    }
    for _ in 0..in_flight {
        pipe.recv();
    }
    let elapsed = start.elapsed();
    // The child's own (not a wrapper's: that is the child then).
    if let Some(c) = before
        .zip(Cost::of(&pipe.child))
        .map(|(b, a)| b.per_call(a, calls))
    {
        eprintln!(
            "child: {:.2} CPU µs and {:.3} context switches per call",
            c.cpu_ns / 1e3,
            c.switches
        );
    }
    let status = pipe.finish();
    eprintln!(
        "{calls} calls, {in_flight} in flight: {:.0} calls/s; the child exited with {status}",
        calls as f64 / elapsed.as_secs_f64()
    );
}

/// The value of `--name VALUE` among this process's arguments.
fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}

/// The server started by `cmd` (its stdio as pipes), past the handshake.
fn start_server(cmd: &mut Command) -> Pipe {
    let mut server = Pipe::spawn(cmd);
    server.send(INIT.as_bytes());
    server.recv();
    server.send(INITIALIZED.as_bytes());
    server
}

/// The exact response line the server gives to `call(0)`, cut around its
/// id, for the baselines to echo with ids of their own.
fn response_parts(server: &mut Pipe) -> (String, String) {
    server.send(&call(0));
    let response = String::from_utf8(server.recv().to_vec()).unwrap();
    assert!(response.contains("hello, bench"), "{response}");
    let (before, after) = response.split_once(r#""id":0"#).unwrap();
    (before.to_owned(), after.to_owned())
}

/// The command of our child: the echo server on stdio, logging at the
/// level `--log LEVEL` names (`warn` by default). The baselines log
/// nothing, nor does the HTTP bench's in-process server; at `info`, the
/// server's default, the log subscriber formats every request's
/// `mcp.request` span (`--log info` shows what that costs).
fn ours(server_exe: &Path) -> Command {
    let mut cmd = Command::new(server_exe);
    cmd.arg("--stdio").env(
        "RUST_LOG",
        arg("--log").unwrap_or_else(|| "warn".to_owned()),
    );
    cmd
}

/// The command of a baseline child: `echo` (this bench as [`echo_child`])
/// or `cat`.
fn baseline(name: &str) -> Command {
    match name {
        "echo" => {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.arg(ECHO_CHILD);
            cmd
        }
        "cat" => Command::new("cat"),
        other => panic!("unknown baseline {other:?}: echo or cat"),
    }
}

/// `--calls N [--in-flight K] [--child ours|echo|cat] [--wrap "CMD ARGS"]`:
/// one child, run under the wrapper if given, for N calls (see [`count`]).
fn count_mode(server_exe: &Path, calls: usize) {
    let in_flight = arg("--in-flight").map_or(16, |k| k.parse().expect("--in-flight K"));
    let child = arg("--child").unwrap_or_else(|| "ours".to_owned());
    let wrapped = |target: Command| match arg("--wrap") {
        None => target,
        Some(wrap) => {
            let mut words = wrap.split_whitespace();
            let mut cmd = Command::new(words.next().expect("--wrap \"CMD ARGS\""));
            cmd.args(words)
                .arg(target.get_program())
                .args(target.get_args());
            cmd
        }
    };
    let mut probe = start_server(&mut ours(server_exe));
    let (before, after) = response_parts(&mut probe);
    drop(probe);
    let echoed = |id: usize| format!(r#"{before}"id":{id}{after}"#).into_bytes();
    if child == "ours" {
        count(
            start_server(&mut wrapped(ours(server_exe))),
            in_flight,
            calls,
            call,
        );
    } else {
        let pipe = Pipe::spawn(&mut wrapped(baseline(&child)));
        count(pipe, in_flight, calls, echoed);
    }
}

/// A child's CPU µs and context switches per call, for the table.
fn cost_cells(stats: &Stats<Cost>) -> String {
    match stats.cost {
        Some(c) => format!("{:.2} | {:.2}", c.cpu_ns / 1e3, c.switches),
        None => "n/a | n/a".to_owned(),
    }
}

/// Prints one row of the table: ours against one baseline.
fn row(scenario: &str, o: &Stats<Cost>, b: &Stats<Cost>) {
    println!(
        "| {scenario} | {:.0} | {:.1} | {:.1} | {} | {:.0} | {:.1} | {:.1} | {} | {:.2} | {:.2} |",
        o.rps,
        o.p50.as_secs_f64() * 1e6,
        o.p99.as_secs_f64() * 1e6,
        cost_cells(o),
        b.rps,
        b.p50.as_secs_f64() * 1e6,
        b.p99.as_secs_f64() * 1e6,
        cost_cells(b),
        o.rps / b.rps,
        o.p50.as_secs_f64() / b.p50.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == ECHO_CHILD) {
        return echo_child();
    }
    // `cargo test --benches` passes no `--bench`; run only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // `--server PATH`: another build of the echo server (say, one kept from
    // before a change), instead of building the example.
    let server_exe = arg("--server").map_or_else(echo_server, PathBuf::from);
    if let Some(calls) = arg("--calls") {
        return count_mode(&server_exe, calls.parse().expect("--calls N"));
    }
    let mut server = start_server(&mut ours(&server_exe));
    let (before, after) = response_parts(&mut server);
    let echoed = |id: usize| format!(r#"{before}"id":{id}{after}"#).into_bytes();
    let mut echo = Pipe::spawn(&mut baseline("echo"));
    let mut cat = Pipe::spawn(&mut baseline("cat"));

    println!("| scenario | req/s | p50 µs | p99 µs | CPU µs/call | switches/call | baseline req/s | baseline p50 µs | baseline p99 µs | baseline CPU µs/call | baseline switches/call | ratio req/s | ratio p50 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for in_flight in [1, 16] {
        let (mut by_echo, mut by_cat, mut ours) = (vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            by_echo.push(load(&mut echo, in_flight, echoed));
            ours.push(load(&mut server, in_flight, call));
            by_cat.push(load(&mut cat, in_flight, echoed));
        }
        let o = summarize(ours, |c: &Cost| c.cpu_ns);
        let scenario = format!("stdio child process, {in_flight} in flight");
        row(
            &format!("{scenario}, vs echo child"),
            &o,
            &summarize(by_echo, |c: &Cost| c.cpu_ns),
        );
        row(
            &format!("{scenario}, vs cat"),
            &o,
            &summarize(by_cat, |c: &Cost| c.cpu_ns),
        );
    }
}
