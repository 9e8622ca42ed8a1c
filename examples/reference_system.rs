//! The whole reference system in one command: the seven reference servers,
//! the session manager in front of them and the client application's web
//! UI. See `--help`.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/reference_system                # seed ports 5000..5007
//! target/release/examples/reference_system --ports auto   # free ports, printed
//! ```
//!
//! What it prints on stdout once everything is healthy (tests read it):
//! a line starting `reference_system ready: ` followed by the gateway's MCP
//! URL, then one `health: NAME URL` line per process (the client
//! application's web UI is `health: client http://ADDR/health`, its page
//! at `http://ADDR/`).

use clap::{Parser, ValueEnum};
use mcp_reference::servers::resources;
use mcp_reference::status;
use mcp_reference::system::{self, Launch, Options, Ports, System};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::Level;

/// Runs the seven reference servers, the session manager and the client
/// application.
#[derive(Parser)]
#[command(
    name = "reference_system",
    version,
    long_about = "Runs the whole reference system: the seven reference servers (resources 5001, \
sampling 5002, tools 5003, database 5004, internet 5005, roots 5006, prompts 5007) and the \
session manager (the MCP gateway) on 5000 in front of them, and the client application's web UI \
on 8080 (connected to the session manager), all on 127.0.0.1, each as a child process of its \
own example binary. It waits until every /health answers, prints the URLs to open, and stops \
everything on Ctrl-C or SIGTERM.\n\n\
The client application's model comes from LLM_API_URL, LLM_API_KEY and LLM_MODEL (or \
LLM_PROVIDER=anthropic); without them it uses its built-in offline assistant.\n\n\
The example binaries must sit next to this one: build them all with\n\n  \
cargo build --release --examples\n  target/release/examples/reference_system\n\n\
Data lives in one folder (--data-dir): files/ is the folder the resources server serves \
(a sample is created if missing), database.db the SQLite database of the database server \
(sample tables created if empty; --database-url for PostgreSQL), prompts/ extra prompts \
(*.md) for the prompts server.\n\n\
--auth-issuer URL protects the system: the session manager becomes an OAuth resource server \
that takes that authorization server's access tokens, checks them itself and never passes them \
on; the servers behind it listen on 127.0.0.1 only."
)]
struct Args {
    /// `seed`: the gateway on 5000, server N on 500N; `auto`: free ports,
    /// printed when ready.
    #[arg(long, value_enum, default_value_t = PortsArg::Seed)]
    ports: PortsArg,
    /// The folder of the system's data [default: mcp-reference/system in the
    /// user's data directory, else ./reference-data].
    #[arg(long, value_name = "PATH")]
    data_dir: Option<PathBuf>,
    /// The database server's database (postgres://USER@HOST:PORT/DB, or an
    /// SQLite path) instead of DATA_DIR/database.db. DATABASE_URL is not
    /// read, so that the system's data stays in its folder unless asked.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Do not echo the children's logs (stderr) behind [name].
    #[arg(long)]
    quiet: bool,
    /// Do not start the client application (its web UI on 8080).
    #[arg(long)]
    no_client_app: bool,
    /// How long each process may take to start and answer /health, in
    /// seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    start_timeout: u64,
    /// Protect the system with OAuth: the session manager takes only
    /// access tokens (JWT) of this authorization server (its issuer URL)
    /// and never passes them on; the servers behind it stay on 127.0.0.1,
    /// reached through the gateway. Without it nothing asks for a token.
    #[arg(long, value_name = "URL")]
    auth_issuer: Option<String>,
    /// The resource URI the gateway's tokens must name in `aud` [default:
    /// the gateway's http://ADDR/mcp].
    #[arg(long, value_name = "URI", requires = "auth_issuer")]
    auth_audience: Option<String>,
    /// Scopes every request to the gateway needs, comma-separated.
    #[arg(long, value_name = "SCOPES", requires = "auth_issuer")]
    auth_scopes: Option<String>,
}

impl Args {
    /// The session manager's `--auth-*` flags, as given here.
    fn gateway_auth(&self) -> Vec<String> {
        let mut flags = Vec::new();
        let mut add = |flag: &str, value: &Option<String>| {
            if let Some(value) = value {
                flags.extend([flag.to_owned(), value.clone()]);
            }
        };
        add("--auth-issuer", &self.auth_issuer);
        add("--auth-audience", &self.auth_audience);
        add("--auth-scopes", &self.auth_scopes);
        flags
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum PortsArg {
    Seed,
    Auto,
}

/// How long children get to end by themselves after Ctrl-C (which the
/// terminal sends to them too) before they are killed.
const GRACE: Duration = Duration::from_secs(3);

/// The default data folder: next to the servers' own samples in the user's
/// data directory (the resources server's default sample folder's parent),
/// else ./reference-data when there is no data directory.
fn default_data_dir() -> PathBuf {
    match resources::default_sample_dir().parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("system"),
        _ => PathBuf::from("reference-data"),
    }
}

/// The data folder laid out, and the servers' flags pointing into it.
fn prepare(data: &Path, database_url: Option<String>) -> std::io::Result<Vec<Launch>> {
    let files = data.join("files");
    if resources::ensure_sample_dir(&files)? {
        status(
            Level::INFO,
            format_args!(
                "reference_system: created the sample folder {}",
                files.display()
            ),
        );
    }
    let prompts = data.join("prompts");
    std::fs::create_dir_all(&prompts)?;
    let database = database_url.unwrap_or_else(|| data.join("database.db").display().to_string());
    let path = |p: &Path| p.display().to_string();
    let launch = |name, args: &[String]| Launch {
        name,
        args: args.to_vec(),
    };
    Ok(vec![
        launch("resources", &["--dir".into(), path(&files)]),
        launch("sampling", &[]),
        launch("tools", &[]),
        launch("database", &["--database-url".into(), database]),
        launch("internet", &[]),
        launch("roots", &[]),
        launch("prompts", &["--prompts-dir".into(), path(&prompts)]),
    ])
}

/// Resolves when we are asked to stop; says whether by Ctrl-C (SIGINT,
/// which a terminal also sends to the children) or by SIGTERM (ours alone).
struct Stop {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Stop {
    /// Listens from now on, so a signal during the start is not lost.
    fn new() -> std::io::Result<Stop> {
        Ok(Stop {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    /// Waits for a signal; `true` for Ctrl-C.
    async fn signalled(&mut self) -> bool {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => true,
                _ = self.term.recv() => false,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            true
        }
    }
}

fn print_ready(system: &System, data: &Path) {
    let gw = &system.gateway;
    println!("reference_system ready: {}", gw.url);
    println!();
    println!("  MCP endpoint (session manager): {}", gw.url);
    if let Some(app) = &system.client_app {
        println!("  client application (web UI):    {}/", app.base);
    }
    println!("  data:                           {}", data.display());
    println!();
    if let Some(app) = &system.client_app {
        println!("health: client {}/health", app.base);
    }
    println!("health: session_manager {}/health", gw.base);
    for (name, s) in &system.servers {
        println!("health: {name} {}/health   (MCP: {})", s.base, s.url);
    }
    println!();
    println!("Ctrl-C stops everything.");
}

fn print_pid(name: &str, pid: u32) {
    status(
        Level::INFO,
        format_args!("reference_system: started {name} (pid {pid})"),
    );
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut stop = Stop::new().unwrap_or_else(|e| fail(format!("cannot listen for signals: {e}")));
    let data = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let servers = prepare(&data, args.database_url.clone()).unwrap_or_else(|e| {
        fail(format!(
            "cannot prepare the data folder {}: {e}",
            data.display()
        ))
    });
    let bin_dir =
        system::bin_dir().unwrap_or_else(|e| fail(format!("cannot find our own binary: {e}")));
    let options = Options {
        bin_dir,
        servers,
        ports: match args.ports {
            PortsArg::Seed => Ports::Seed,
            PortsArg::Auto => Ports::Auto,
        },
        echo: !args.quiet,
        start_timeout: Duration::from_secs(args.start_timeout),
        on_spawn: print_pid,
        client_app: !args.no_client_app,
        gateway_args: args.gateway_auth(),
    };
    let mut system = tokio::select! {
        started = System::start(&options) => match started {
            Ok(system) => system,
            // Whatever had started was stopped when the start failed.
            Err(e) => {
                let hint = if e.stderr_tail.iter().any(|l| l.contains("AddrInUse")) {
                    "\nreference_system: another program holds its port; --ports auto picks free ones"
                } else {
                    ""
                };
                fail(format!("{e}{hint}\nreference_system: the others were stopped"))
            }
        },
        _ = stop.signalled() => {
            // Dropping the start kills (and reaps) whatever it had started.
            status(Level::ERROR, format_args!("reference_system: stopped while starting"));
            std::process::exit(1);
        }
    };
    print_ready(&system, &data);
    let grace = loop {
        tokio::select! {
            biased;
            ctrl_c = stop.signalled() => break if ctrl_c { GRACE } else { Duration::ZERO },
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                if let Some((name, exit, tail)) = system.exited() {
                    status(Level::ERROR, format_args!("reference_system: {name} exited ({exit}); the end of its stderr:"));
                    tail.iter().for_each(|l| status(Level::ERROR, format_args!("    {l}")));
                    status(Level::INFO, format_args!("reference_system: stopping the others"));
                    system.stop(Duration::ZERO).await;
                    std::process::exit(1);
                }
            }
        }
    };
    status(Level::INFO, format_args!("reference_system: stopping"));
    system.stop(grace).await;
    status(Level::INFO, format_args!("reference_system: stopped"));
}

fn fail(why: String) -> ! {
    status(Level::ERROR, format_args!("reference_system: {why}"));
    std::process::exit(1);
}
