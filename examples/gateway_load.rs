//! Load through the gateway against the same load straight at the server.
//! See `--help`.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/gateway_load --era session
//! target/release/examples/gateway_load --era stateless --sessions 16 --calls 500
//! ```

#[path = "support/load.rs"]
mod load;

use clap::{Parser, ValueEnum};
use load::{header, ms, row, run, Load};
use mcp_reference::system::{self, Launch, Options, Ports, System};
use mcp_sdk_client::Era;
use std::time::Duration;

/// N sessions × M calls of the tools server's `add`, through the gateway and
/// directly.
#[derive(Parser)]
#[command(
    name = "gateway_load",
    long_about = "Starts the tools server and the session manager in front of it (child processes \
of the example binaries next to this one, on free ports), then runs the same load twice: \
SESSIONS clients each making CALLS calls of add, one at a time per client, all clients at once, \
first straight at the tools server, then through the gateway (tools__add). Every answer is \
checked: each call adds numbers unique to it, so a lost, wrong or duplicated answer is counted. \
Prints calls per second, p50 and p99 latency for both, and the ratios gateway/direct. Exits 1 \
if any answer was lost, wrong or duplicated.\n\n\
Build first: cargo build --release --examples"
)]
struct Args {
    /// Concurrent upstream clients (sessions, in the session era).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    sessions: u32,
    /// Calls per client.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    calls: u32,
    /// The MCP era the clients speak (to the gateway, and to the tools
    /// server in the direct run).
    #[arg(long, value_enum, default_value_t = EraArg::Session)]
    era: EraArg,
    /// The longest one call may take before it counts as lost, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    call_timeout: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum EraArg {
    Session,
    Stateless,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (era, era_name) = match args.era {
        EraArg::Session => (Era::SessionOnly, "session"),
        EraArg::Stateless => (Era::StatelessOnly, "stateless"),
    };
    let bin_dir =
        system::bin_dir().unwrap_or_else(|e| fail(format!("cannot find our own binary: {e}")));
    let options = Options {
        bin_dir,
        servers: vec![Launch {
            name: "tools",
            args: Vec::new(),
        }],
        ports: Ports::Auto,
        echo: false,
        start_timeout: Duration::from_secs(30),
        on_spawn: |_, _| {},
        client_app: false,
        gateway_args: Vec::new(),
    };
    let system = System::start(&options)
        .await
        .unwrap_or_else(|e| fail(e.to_string()));
    let tools_url = system.servers[0].1.url.clone();
    let gateway_url = system.gateway.url.clone();
    let load = Load {
        sessions: args.sessions,
        calls: args.calls,
        call_timeout: Duration::from_secs(args.call_timeout),
    };
    let direct = run(&tools_url, "add", era, &load).await;
    let gateway = run(&gateway_url, "tools__add", era, &load).await;
    // Stopped before any verdict, so no exit leaves a child behind.
    system.stop(Duration::ZERO).await;
    let (direct, gateway) = match (direct, gateway) {
        (Ok(d), Ok(g)) => (d, g),
        (Err(e), _) | (_, Err(e)) => fail(e),
    };

    println!(
        "era {era_name}: {} clients x {} calls of add (one in flight per client), release build: {}",
        args.sessions,
        args.calls,
        !cfg!(debug_assertions)
    );
    println!();
    header();
    row("direct", &direct);
    row("gateway", &gateway);
    println!(
        "{:<16} {:>7} {:>7} {:>5} {:>6} {:>5} {:>9.2}x {:>8.2}x {:>8.2}x",
        "gateway/direct",
        "",
        "",
        "",
        "",
        "",
        gateway.per_sec() / direct.per_sec(),
        ms(gateway.percentile(0.50)) / ms(direct.percentile(0.50)),
        ms(gateway.percentile(0.99)) / ms(direct.percentile(0.99)),
    );
    let mut bad = false;
    for (label, o) in [("direct", &direct), ("gateway", &gateway)] {
        if !o.all_right() {
            bad = true;
            eprintln!(
                "gateway_load: {label}: {} lost, {} wrong, {} duplicated; first: {}",
                o.lost,
                o.wrong,
                o.duplicated,
                o.first_error.as_deref().unwrap_or("-")
            );
        }
    }
    if bad {
        std::process::exit(1);
    }
}

fn fail(why: String) -> ! {
    eprintln!("gateway_load: {why}");
    std::process::exit(1);
}
