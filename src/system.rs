//! The whole reference system as child processes: the reference servers,
//! the session manager (gateway) and the client application's web UI, each
//! run from its own example binary, on the seed's ports or on free ones.
//!
//! Used by `examples/reference_system.rs` (the one command that runs
//! everything) and `examples/gateway_load.rs` (the gateway against direct
//! calls). Child processes rather than tasks in one process, so that what
//! runs is exactly what a user or a container runs (the same binaries and
//! flags), a crash names its server, and each server's stderr stays its own.
//!
//! Each child is told `--http 127.0.0.1:PORT`, or `--http 127.0.0.1:0` for
//! free ports: the child binds and prints the address it got ("serving MCP
//! at http://ADDR/mcp", or "serving the web UI at http://ADDR/"), which is
//! read back from its stderr, so there is no window in which a port picked
//! here is taken by someone else.

use crate::gateway::config::SEED_SERVERS;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session manager's port in the seed's layout.
pub const GATEWAY_PORT: u16 = 5000;

/// The client application's port in the seed's layout (its web UI).
pub const CLIENT_APP_PORT: u16 = 8080;

/// What a child prints on stderr before the address it serves at.
const ANNOUNCEMENTS: [&str; 2] = ["serving MCP at ", "serving the web UI at "];

/// How many lines of a child's stderr are kept to explain its failure.
const TAIL_LINES: usize = 20;

/// How often a child is checked while waiting on it.
const POLL: Duration = Duration::from_millis(25);

/// Which ports the system listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// The seed's: the gateway on 5000, server N on 500N.
    Seed,
    /// Free ports chosen by the operating system (each child binds port 0).
    Auto,
}

impl Ports {
    /// The address a child is told to bind: loopback, on `seed_port` or 0.
    pub fn addr(self, seed_port: u16) -> SocketAddr {
        let port = match self {
            Ports::Seed => seed_port,
            Ports::Auto => 0,
        };
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }
}

/// The seed's port of a reference server: 5001 for `resources` up to 5007
/// for `prompts` (the order of [`SEED_SERVERS`] and `SERVER_N_URL`).
pub fn seed_port(server: &str) -> Option<u16> {
    let i = SEED_SERVERS.iter().position(|s| *s == server)?;
    Some(GATEWAY_PORT + 1 + i as u16)
}

/// The directory of the running executable, where `cargo build --examples`
/// puts every example binary side by side.
pub fn bin_dir() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| std::io::Error::other("the executable has no directory"))
}

/// A child failed to start, and what it said about it.
#[derive(Debug, Clone)]
pub struct StartError {
    /// Which child: `tools`, `session_manager`, ...
    pub name: String,
    /// What went wrong, as a sentence.
    pub why: String,
    /// The last lines the child wrote on stderr.
    pub stderr_tail: Vec<String>,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.name, self.why)?;
        if self.stderr_tail.is_empty() {
            return f.write_str(" (it wrote nothing on stderr)");
        }
        f.write_str("; the end of its stderr:")?;
        for line in &self.stderr_tail {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StartError {}

/// The URL in a child's announcement, in plain or JSON logs: from
/// `http://` to the first space or quote.
fn announced_url(line: &str) -> Option<String> {
    let start = line.find("http://")?;
    let url = line[start..]
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()?;
    Some(url.to_owned())
}

/// One line of a child's stderr as we echo it: behind `[name]`, or with
/// `LOG_FORMAT=json` as a JSON object with `"service": name` added (a line
/// that is not a JSON object, such as a panic message, becomes the
/// `message` of one), so the parent's output stays one JSON object a line.
fn echoed(name: &str, line: &str, json: bool) -> String {
    if !json {
        return format!("[{name}] {line}");
    }
    let mut object = match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => {
            let mut object = serde_json::Map::new();
            object.insert("message".into(), line.into());
            object
        }
    };
    object.insert("service".into(), name.into());
    serde_json::Value::Object(object).to_string()
}

/// A child process whose stderr is read on a thread of its own: the last
/// lines are kept, the address it announces is noted, and (if asked) every
/// line is echoed to our stderr behind `[name]`. Killed and reaped on drop.
pub struct Process {
    name: String,
    child: std::process::Child,
    status: Option<ExitStatus>,
    tail: Arc<Mutex<VecDeque<String>>>,
    url: Arc<Mutex<Option<String>>>,
}

impl Process {
    /// Runs `program` with `args` and the variables `env` added to ours;
    /// stdin and stdout are closed (HTTP servers use neither).
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
        echo: bool,
    ) -> Result<Process, StartError> {
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| StartError {
            name: name.to_owned(),
            why: format!(
                "cannot be run from {}: {e} (build the examples first: \
                 cargo build --release --examples)",
                program.display()
            ),
            stderr_tail: Vec::new(),
        })?;
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let url = Arc::new(Mutex::new(None));
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tail_w, url_w, label) = (tail.clone(), url.clone(), name.to_owned());
        let json = crate::json_logs();
        // A thread, not a task: it must keep draining the pipe (a child
        // blocked on a full stderr stops answering) whatever the runtime does.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if echo {
                    eprintln!("{}", echoed(&label, &line, json));
                }
                let mut found = url_w.lock().unwrap_or_else(|e| e.into_inner());
                if found.is_none() && ANNOUNCEMENTS.iter().any(|a| line.contains(a)) {
                    *found = announced_url(&line);
                }
                drop(found);
                let mut tail = tail_w.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Ok(Process {
            name: name.to_owned(),
            child,
            status: None,
            tail,
            url,
        })
    }

    /// The name given at [`spawn`](Self::spawn).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operating system's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the child wrote on stderr.
    pub fn stderr_tail(&self) -> Vec<String> {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter().cloned().collect()
    }

    /// How the child ended, if it has (reaping it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    fn error(&self, why: String) -> StartError {
        // The reader thread may still be taking in the child's last words.
        std::thread::sleep(Duration::from_millis(50));
        StartError {
            name: self.name.clone(),
            why,
            stderr_tail: self.stderr_tail(),
        }
    }

    /// Waits for the URL the child announces on stderr ("serving MCP at
    /// http://ADDR/mcp" or "serving the web UI at http://ADDR/"), at most
    /// `timeout`.
    pub async fn wait_url(&mut self, timeout: Duration) -> Result<String, StartError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(url) = self.url.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Ok(url);
            }
            if let Some(status) = self.exited() {
                return Err(self.error(format!("exited ({status}) before serving")));
            }
            if Instant::now() >= deadline {
                return Err(self.error(format!(
                    "did not announce its address within {} s",
                    timeout.as_secs_f64()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `GET {base}/health` answers 200 with `"status":
    /// "healthy"` (the gateway says `degraded` until every server is up),
    /// at most `timeout`; gives the last answer.
    pub async fn wait_healthy(
        &mut self,
        base: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, StartError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match get_health(base).await {
                Ok(health) if health["status"] == "healthy" => return Ok(health),
                Ok(health) => health.to_string(),
                Err(e) => e,
            };
            if let Some(status) = self.exited() {
                return Err(self.error(format!("exited ({status}) before it was healthy")));
            }
            if Instant::now() >= deadline {
                return Err(self.error(format!(
                    "was not healthy within {} s (GET {base}/health: {last})",
                    timeout.as_secs_f64()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the child: waits up to `grace` for it to end by itself (it may
    /// have had the Ctrl-C too), then kills it; always reaps it.
    pub async fn stop(&mut self, grace: Duration) -> ExitStatus {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return status;
            }
            tokio::time::sleep(POLL).await;
        }
        self.kill()
    }

    fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.exited() {
            return status;
        }
        let _ = self.child.kill();
        // After SIGKILL the wait is immediate; it reaps the child.
        let status = self
            .child
            .wait()
            .expect("waiting on our own child cannot fail");
        self.status = Some(status);
        status
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET {base}/health` as JSON, or why not.
pub async fn get_health(base: &str) -> Result<serde_json::Value, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(format!("{base}/health"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))
}

/// One reference server to start: its name (one of [`SEED_SERVERS`]; the
/// binary is `<name>_server`) and its own flags besides `--http`.
#[derive(Debug, Clone)]
pub struct Launch {
    /// `resources`, `sampling`, `tools`, `database`, `internet`, `roots` or
    /// `prompts`.
    pub name: &'static str,
    /// Flags such as `--dir PATH`.
    pub args: Vec<String>,
}

/// How to start a [`System`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the example binaries are ([`bin_dir`] for a sibling example).
    pub bin_dir: PathBuf,
    /// The servers behind the gateway.
    pub servers: Vec<Launch>,
    /// Seed ports or free ones.
    pub ports: Ports,
    /// Echo every child's stderr to ours behind `[name]`.
    pub echo: bool,
    /// How long each child may take to serve and be healthy.
    pub start_timeout: Duration,
    /// Called with each child's name and pid as soon as it runs (so that a
    /// supervisor or a test can tell which processes are ours).
    pub on_spawn: fn(&str, u32),
    /// Start the client application's web UI too, connected to the
    /// gateway.
    pub client_app: bool,
    /// More flags for the session manager, such as `--auth-issuer URL`.
    pub gateway_args: Vec<String>,
}

/// A child that serves HTTP: MCP, or the client application's page.
pub struct Service {
    /// Its MCP endpoint, `http://ADDR/mcp` (the client application: its
    /// page, `http://ADDR/`).
    pub url: String,
    /// `http://ADDR`, where `/health` is.
    pub base: String,
    /// The process.
    pub process: Process,
}

impl Service {
    async fn start(
        options: &Options,
        name: &str,
        args: Vec<String>,
        env: &[(String, String)],
    ) -> Result<Service, StartError> {
        let program = options
            .bin_dir
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        let mut process = Process::spawn(name, &program, &args, env, options.echo)?;
        (options.on_spawn)(name, process.pid());
        let url = process.wait_url(options.start_timeout).await?;
        let base = url
            .trim_end_matches('/')
            .trim_end_matches("/mcp")
            .to_owned();
        process.wait_healthy(&base, options.start_timeout).await?;
        Ok(Service { url, base, process })
    }
}

/// The servers and the gateway in front of them, all running and healthy.
pub struct System {
    /// The reference servers, in the order of [`Options::servers`], each
    /// with its name.
    pub servers: Vec<(&'static str, Service)>,
    /// The session manager.
    pub gateway: Service,
    /// The client application (its web UI), if it was asked for.
    pub client_app: Option<Service>,
}

impl System {
    /// Starts the servers at once, waits until each is healthy, then starts
    /// the gateway with `SERVER_N_URL` naming them (servers not started are
    /// left out) and waits until it reports every server up. If anything
    /// fails, what did start is stopped and the error names the culprit.
    pub async fn start(options: &Options) -> Result<System, StartError> {
        // try_join_all: the first failure drops the other starts, and with
        // them their processes (killed by Process::drop).
        let servers =
            futures_util::future::try_join_all(options.servers.iter().map(|launch| async {
                let seed = seed_port(launch.name).ok_or_else(|| StartError {
                    name: launch.name.to_owned(),
                    why: format!("is not one of the reference servers {SEED_SERVERS:?}"),
                    stderr_tail: Vec::new(),
                })?;
                let mut args = vec!["--http".to_owned(), options.ports.addr(seed).to_string()];
                args.extend(launch.args.iter().cloned());
                let service =
                    Service::start(options, &format!("{}_server", launch.name), args, &[]).await?;
                Ok::<_, StartError>((launch.name, service))
            }))
            .await?;
        let env: Vec<(String, String)> = SEED_SERVERS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let url = servers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| s.url.clone())
                    .unwrap_or_default(); // empty: the gateway leaves it out
                (format!("SERVER_{}_URL", i + 1), url)
            })
            .collect();
        let mut args = vec![
            "--http".to_owned(),
            options.ports.addr(GATEWAY_PORT).to_string(),
        ];
        args.extend(options.gateway_args.iter().cloned());
        let gateway = Service::start(options, "session_manager", args, &env).await?;
        let client_app = if options.client_app {
            let listen = options.ports.addr(CLIENT_APP_PORT).to_string();
            let args = ["--url", &gateway.url, "web", "--listen", &listen].map(str::to_owned);
            Some(Service::start(options, "client", args.to_vec(), &[]).await?)
        } else {
            None
        };
        Ok(System {
            servers,
            gateway,
            client_app,
        })
    }

    /// The first child that has ended, if any: its name, how it ended and
    /// the end of its stderr.
    pub fn exited(&mut self) -> Option<(String, ExitStatus, Vec<String>)> {
        let all = self
            .client_app
            .iter_mut()
            .chain(std::iter::once(&mut self.gateway))
            .chain(self.servers.iter_mut().map(|(_, s)| s));
        for service in all {
            if let Some(status) = service.process.exited() {
                let p = &service.process;
                return Some((p.name().to_owned(), status, p.stderr_tail()));
            }
        }
        None
    }

    /// Stops the client application and the gateway first (so they do not
    /// chase the servers going down), then the servers together; each gets
    /// `grace` to end by itself before it is killed, and all are reaped.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(client_app) = &mut self.client_app {
            client_app.process.stop(grace).await;
        }
        self.gateway.process.stop(grace).await;
        futures_util::future::join_all(self.servers.iter_mut().map(|(_, s)| s.process.stop(grace)))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announced_url_is_found_in_plain_and_json_lines() {
        let plain =
            "2026-12-03T17:00:00Z  INFO tools_server: serving MCP at http://127.0.0.1:5003/mcp";
        let json = r#"{"timestamp":"2026-12-03T17:00:00Z","level":"INFO","message":"serving MCP at http://127.0.0.1:5003/mcp","target":"tools_server"}"#;
        for line in [plain, json] {
            assert_eq!(
                announced_url(line).as_deref(),
                Some("http://127.0.0.1:5003/mcp"),
                "{line}"
            );
        }
        assert_eq!(announced_url("no address here"), None);
    }

    #[test]
    fn echoed_lines_name_their_service_in_both_formats() {
        assert_eq!(echoed("tools", "ready", false), "[tools] ready");
        let line = echoed("tools", r#"{"level":"INFO","message":"ready"}"#, true);
        let object: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(object["service"], "tools");
        assert_eq!(object["message"], "ready");
        assert_eq!(object["level"], "INFO");
        // A line that is not JSON (a panic message) still comes out as one
        // JSON object, with the line as its message.
        let line = echoed("tools", "thread 'main' panicked at src/x.rs:1:1", true);
        let object: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(object["service"], "tools");
        assert_eq!(object["message"], "thread 'main' panicked at src/x.rs:1:1");
    }
}
