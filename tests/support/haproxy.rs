//! The tests' real load balancer: Debian's HAProxy in round-robin, with no
//! stickiness, in front of replicas listening on loopback ports.
//!
//! Each [`Balancer`] runs its own `haproxy -db` (foreground) on a config
//! generated in a temp dir, with a TCP or HTTP health check per backend, and
//! is stopped (and its dir removed) when dropped.
//!
//! Without HAProxy the tests that need it print `skipped: ...` and pass; CI
//! installs it (`.ci/run`) and sets `MCP_HAPROXY_TEST=required`, which
//! turns the skip into a failure.

use super::{TempDir, PATIENCE};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Whether CI asked for these tests to run (`MCP_HAPROXY_TEST=required`).
pub fn required() -> bool {
    std::env::var("MCP_HAPROXY_TEST").as_deref() == Ok("required")
}

/// The `haproxy` executable (`$HAPROXY`, else on `PATH`, else Debian's
/// `/usr/sbin/haproxy`, which a non-root `PATH` may lack); else why not.
pub fn haproxy() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("HAPROXY") {
        let path = PathBuf::from(path);
        return if path.exists() {
            Ok(path)
        } else {
            Err(format!("HAPROXY={} does not exist", path.display()))
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            "HAProxy is not installed (apt-get install haproxy, or set HAPROXY)".to_owned()
        })
}

/// The HAProxy executable when it is there; otherwise prints
/// `skipped: {test}: why` and gives `None`, or panics when the tests are
/// required.
pub fn available(test: &str) -> Option<PathBuf> {
    match haproxy() {
        Ok(path) => Some(path),
        Err(why) if required() => {
            panic!("{test}: MCP_HAPROXY_TEST=required but it cannot run: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {test}: {why}");
            None
        }
    }
}

/// How HAProxy checks that a backend is up.
#[derive(Clone, Copy, Debug)]
pub enum HealthCheck {
    /// A TCP connect.
    Tcp,
    /// `GET {path}` answered with a 2xx or 3xx.
    Http(&'static str),
}

/// A running HAProxy; stopped when dropped.
pub struct Balancer {
    child: Child,
    /// `http://127.0.0.1:PORT`: the frontend, which the replicas sit behind.
    pub base: String,
    /// What HAProxy logged on stderr, for a failing test's message.
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Balancer {
    /// Starts HAProxy in front of `backends` (round-robin, no stickiness,
    /// each health-checked as `check` says), or gives `None` after printing
    /// why it cannot (see [`available`]). Returns once the frontend accepts
    /// connections.
    pub async fn start(
        test: &str,
        backends: &[SocketAddr],
        check: HealthCheck,
    ) -> Option<Balancer> {
        let haproxy = available(test)?;
        Some(Self::start_with(&haproxy, backends, check).await)
    }

    async fn start_with(haproxy: &PathBuf, backends: &[SocketAddr], check: HealthCheck) -> Self {
        assert!(!backends.is_empty(), "a balancer needs a backend");
        let dir = TempDir::new("haproxy");
        let port = super::free_port();
        let config = dir.write("haproxy.cfg", config(port, backends, check).as_bytes());
        let mut child = Command::new(haproxy)
            // -db: stay in the foreground (no daemon, no master process).
            .args(["-db", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let frontend = SocketAddr::from(([127, 0, 0, 1], port));
        let ready = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    return Err(status);
                }
                if tokio::net::TcpStream::connect(frontend).await.is_ok() {
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("haproxy listens in time");
        if let Err(status) = ready {
            panic!(
                "haproxy exited ({status}):\n{}\nconfig:\n{}",
                log.lock().unwrap().join("\n"),
                std::fs::read_to_string(&config).unwrap_or_default()
            );
        }
        Balancer {
            child,
            base: format!("http://{frontend}"),
            log,
            _dir: dir,
        }
    }

    /// `{base}/mcp`: the MCP endpoint of replicas served at `/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// What HAProxy logged so far (warnings about backends going down, say).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        // HAProxy keeps no state worth a graceful stop here: kill it and
        // reap it, so no process outlives the test; its dir goes next.
        let _ = self.child.start_kill();
        let _ = self.child.try_wait();
    }
}

/// The generated config: one frontend, one round-robin backend without
/// stickiness (no cookie, no stick table), long timeouts for SSE streams.
fn config(port: u16, backends: &[SocketAddr], check: HealthCheck) -> String {
    let mut config = format!(
        "global
    maxconn 1024

defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout tunnel 300s

frontend mcp
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    # A new connection per request, so round-robin spreads requests rather
    # than keep-alive connections.
    option http-server-close
    # A replica that is gone (killed, and not yet marked down by its health
    # check) costs a retry on another replica, not a 503: a refused
    # connection carried nothing of the request. Nothing else is retried.
    retries 3
    option redispatch 1
"
    );
    if let HealthCheck::Http(path) = check {
        config.push_str(&format!("    option httpchk GET {path}\n"));
    }
    for (i, backend) in backends.iter().enumerate() {
        config.push_str(&format!("    server replica{i} {backend} check inter 1s\n"));
    }
    config
}
