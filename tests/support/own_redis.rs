//! A Redis of the test's own: Debian's `redis-server` on a free loopback
//! port, without persistence (or with an append-only file, for a restart
//! that keeps everything), which a test may kill and start again on the
//! same port (to hang it, put a [`Relay`](super::relay::Relay) in front) (the machine's shared Redis must never be touched so).
//!
//! Without `redis-server` the tests that need it print `skipped: ...` and
//! pass; CI sets `MCP_REDIS_TEST=required`, which makes that a failure.

use super::PATIENCE;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The `redis-server` executable (`$REDIS_SERVER`, else on `PATH`, else
/// `/usr/bin/redis-server`); else why not.
pub fn redis_server() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        let path = PathBuf::from(path);
        return if path.exists() {
            Ok(path)
        } else {
            Err(format!("REDIS_SERVER={} does not exist", path.display()))
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("redis-server"))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            "redis-server is not installed (apt-get install redis-server, or set REDIS_SERVER)"
                .to_owned()
        })
}

/// A running `redis-server` of our own; killed when dropped.
pub struct OwnRedis {
    exe: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Where it keeps its append-only file, when it persists (see
    /// [`OwnRedis::start_persistent`]).
    dir: Option<PathBuf>,
}

impl OwnRedis {
    /// Starts one on a free port, or gives `None` after printing
    /// `skipped: {test}: why` (a panic when `MCP_REDIS_TEST=required`).
    /// Returns once it answers `PING`.
    pub async fn start(test: &str) -> Option<OwnRedis> {
        Self::start_in(test, None).await
    }

    /// Like [`OwnRedis::start`], with an append-only file in `dir` written
    /// through at every command (`appendfsync always`): killed and started
    /// again, it has everything it had.
    pub async fn start_persistent(test: &str, dir: &std::path::Path) -> Option<OwnRedis> {
        Self::start_in(test, Some(dir.to_owned())).await
    }

    async fn start_in(test: &str, dir: Option<PathBuf>) -> Option<OwnRedis> {
        let exe = match redis_server() {
            Ok(exe) => exe,
            Err(why) if std::env::var("MCP_REDIS_TEST").as_deref() == Ok("required") => {
                panic!("{test}: MCP_REDIS_TEST=required but it cannot run: {why}")
            }
            Err(why) => {
                eprintln!("skipped: {test}: {why}");
                return None;
            }
        };
        // Below the ephemeral range (see `free_port`): the port is
        // released before redis-server binds it, and again at each restart.
        let port = super::free_port();
        let mut redis = OwnRedis {
            exe,
            port,
            child: None,
            dir,
        };
        redis.restart().await;
        Some(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its loopback address.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Kills it (SIGKILL) and reaps it: everything it held is gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Starts it (again) on the same port, empty unless it persists;
    /// returns once it answers.
    pub async fn restart(&mut self) {
        self.kill().await;
        let mut command = Command::new(&self.exe);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""]);
        match &self.dir {
            Some(dir) => command
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        tokio::time::timeout(PATIENCE, async {
            loop {
                if matches!(self.command(&["PING"]).await.as_deref(), Ok("+PONG")) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("redis-server answers PING in time");
    }

    /// One command on a connection of its own: its reply as RESP text
    /// without the final CRLF (`+PONG`, or a bulk string's contents).
    pub async fn command(&self, args: &[&str]) -> Result<String, String> {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        let exchange = async {
            let mut socket = TcpStream::connect(("127.0.0.1", self.port))
                .await
                .map_err(|e| e.to_string())?;
            socket
                .write_all(request.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut reply = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("Redis closed the connection".to_owned());
                }
                reply.extend_from_slice(&buf[..n]);
                if let Some(text) = complete(&reply) {
                    return Ok(text);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .map_err(|_| "no answer in 5 s".to_owned())?
    }

    /// `total_commands_processed` of `INFO stats`: how many commands it
    /// has answered since it started.
    pub async fn commands_processed(&self) -> Result<u64, String> {
        let info = self.command(&["INFO", "stats"]).await?;
        info.lines()
            .find_map(|line| line.strip_prefix("total_commands_processed:"))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no total_commands_processed in {info:?}"))
    }
}

/// The reply in `bytes` when it is all there: a simple reply as its line,
/// a bulk string as its contents.
fn complete(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let (first, rest) = text.split_once("\r\n")?;
    match first.strip_prefix('$') {
        Some(len) => {
            let len: usize = len.parse().ok()?;
            (rest.len() >= len).then(|| rest[..len].to_owned())
        }
        None => Some(first.to_owned()),
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // A paused Redis dies of SIGKILL too.
            let _ = child.start_kill();
            let _ = child.try_wait();
        }
    }
}
