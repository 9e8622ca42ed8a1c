//! Load on replicas sharing Redis behind HAProxy, against one replica
//! keeping everything in memory. See `--help`.
//!
//! ```text
//! cargo build --release --example replica_load --example replica_server
//! target/release/examples/replica_load
//! target/release/examples/replica_load --sessions 8 --calls 100 --replicas 2
//! ```

#[path = "support/load.rs"]
mod load;
// The tests' HAProxy in front of replicas, child processes of the example
// binaries, and a Redis of our own.
#[path = "../tests/support/mod.rs"]
mod support;

use clap::{Parser, ValueEnum};
use load::{header, row, run, Load, Outcome, WARMUP};
use mcp_sdk_client::Era;
use std::time::Duration;
use support::haproxy::{Balancer, HealthCheck};
use support::own_redis::OwnRedis;
use support::{http_server, HttpServer};

/// N sessions × M calls of `add` through HAProxy: one replica in memory,
/// one on Redis, R on Redis.
#[derive(Parser)]
#[command(
    name = "replica_load",
    long_about = "Runs the same load three times through HAProxy (round-robin, no stickiness), \
each time against replica_server processes (the example binary next to this one) on free \
ports: one replica keeping its sessions in memory; one replica keeping them in Redis; REPLICAS \
replicas sharing Redis. SESSIONS clients each make CALLS calls of add, one at a time per \
client, all clients at once. Every answer is checked: each call adds numbers unique to it, so \
a lost, wrong or duplicated answer is counted. Prints calls per second, p50 and p99 latency of \
each, the ratios to the in-memory replica, and the Redis commands per call. Exits 1 if any \
answer was lost, wrong or duplicated.\n\n\
Redis: a redis-server of its own on a free port (so the commands counted are ours alone), \
unless --redis-url names one. Needs HAProxy (/usr/sbin/haproxy, or $HAPROXY).\n\n\
Build first: cargo build --release --example replica_load --example replica_server"
)]
struct Args {
    /// Concurrent clients (sessions, in the session era).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1000))]
    sessions: u32,
    /// Calls per client.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    calls: u32,
    /// Replicas sharing Redis in the third run.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    replicas: u32,
    /// The MCP era the clients speak.
    #[arg(long, value_enum, default_value_t = EraArg::Session)]
    era: EraArg,
    /// The longest one call may take before it counts as lost, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    call_timeout: u64,
    /// A Redis to use instead of one of our own (keys under a prefix of
    /// this run; its commands are then not counted, others may share it).
    #[arg(long, value_name = "REDIS_URL")]
    redis_url: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum EraArg {
    Session,
    Stateless,
}

/// Where the replicas of a run keep their state.
enum Store<'a> {
    Memory,
    Redis(&'a str),
}

/// One run: `replicas` replica_server processes on `store` behind a fresh
/// HAProxy. The Redis commands it cost, when Redis is ours to count.
async fn measure(
    store: Store<'_>,
    replicas: u32,
    era: Era,
    load: &Load,
    own: Option<&OwnRedis>,
) -> Result<(Outcome, Option<u64>), String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let prefix = format!("mcp-load:replica_load:{}:{nanos}", std::process::id());
    // Replicas sharing Redis share the requestState key; each reads the
    // file at start.
    let key = std::env::temp_dir().join(format!("replica_load-{}-{nanos}.key", std::process::id()));
    std::fs::write(&key, b"replica-load-secret-0123456789abcdef\n")
        .map_err(|e| format!("{}: {e}", key.display()))?;
    let mut servers: Vec<HttpServer> = Vec::new();
    for _ in 0..replicas {
        let server = match store {
            Store::Memory => http_server("replica_server", &[]).await,
            Store::Redis(url) => {
                let key = key.to_string_lossy();
                let args = [
                    "--redis-url",
                    url,
                    "--redis-prefix",
                    &prefix,
                    "--request-state-key-file",
                    &key,
                ];
                http_server("replica_server", &args).await
            }
        };
        servers.push(server);
    }
    let _ = std::fs::remove_file(&key);
    let backends: Vec<_> = servers
        .iter()
        .map(|s| s.base.trim_start_matches("http://").parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a replica's address: {e}"))?;
    let balancer = Balancer::start("replica_load", &backends, HealthCheck::Tcp)
        .await
        .ok_or("HAProxy is needed (apt-get install haproxy, or set HAPROXY)")?;
    let before = match (&store, own) {
        (Store::Redis(_), Some(redis)) => Some(redis.commands_processed().await?),
        _ => None,
    };
    let outcome = run(&balancer.mcp_url(), "add", era, load).await?;
    let commands = match (before, own) {
        (Some(before), Some(redis)) => Some(redis.commands_processed().await? - before),
        _ => None,
    };
    Ok((outcome, commands))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (era, era_name) = match args.era {
        EraArg::Session => (Era::SessionOnly, "session"),
        EraArg::Stateless => (Era::StatelessOnly, "stateless"),
    };
    let load = Load {
        sessions: args.sessions,
        calls: args.calls,
        call_timeout: Duration::from_secs(args.call_timeout),
    };
    let own = match &args.redis_url {
        Some(_) => None,
        None => match OwnRedis::start("replica_load").await {
            Some(redis) => Some(redis),
            None => fail("redis-server is needed, or --redis-url".to_owned()),
        },
    };
    let url = match (&args.redis_url, &own) {
        (Some(url), _) => url.clone(),
        (None, Some(redis)) => redis.url(),
        (None, None) => unreachable!("one or the other"),
    };
    let many = format!("redis x{}", args.replicas);
    let runs = [
        ("in-memory x1", Store::Memory, 1),
        ("redis x1", Store::Redis(&url), 1),
        (many.as_str(), Store::Redis(&url), args.replicas),
    ];
    let mut results = Vec::new();
    let mut failed = None;
    for (label, store, replicas) in runs {
        match measure(store, replicas, era, &load, own.as_ref()).await {
            Ok((outcome, commands)) => results.push((label, outcome, commands)),
            Err(e) => {
                failed = Some(format!("{label}: {e}"));
                break;
            }
        }
    }
    // Stopped before any verdict, so no exit leaves it behind.
    drop(own);
    if let Some(why) = failed {
        fail(why);
    }

    println!(
        "era {era_name}: {} clients x {} calls of add (one in flight per client) through \
         HAProxy, release build: {}",
        args.sessions,
        args.calls,
        !cfg!(debug_assertions)
    );
    println!();
    header();
    for (label, outcome, _) in &results {
        row(label, outcome);
    }
    println!();
    let memory = results[0].1.per_sec();
    // Every call, warm-up included, for the commands of the whole run
    // (sessions opened and closed, streams read, expiry refreshed).
    let all_calls = f64::from(args.sessions * (args.calls + WARMUP));
    for (label, outcome, commands) in &results[1..] {
        let per_call = match commands {
            Some(n) => format!("{:.3}", *n as f64 / all_calls),
            None => "not counted (a shared Redis)".to_owned(),
        };
        println!(
            "{label:<16} throughput {:.2}x in-memory; Redis commands per call: {per_call}",
            outcome.per_sec() / memory
        );
    }
    let mut bad = false;
    for (label, o, _) in &results {
        if !o.all_right() {
            bad = true;
            eprintln!(
                "replica_load: {label}: {} lost, {} wrong, {} duplicated; first: {}",
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
    println!("replica_load: every answer right and once");
}

fn fail(why: String) -> ! {
    eprintln!("replica_load: {why}");
    std::process::exit(1);
}
