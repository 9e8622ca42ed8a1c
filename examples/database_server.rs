//! The database reference server (server 4): SQL over MCP.
//!
//! ```text
//! cargo run --release --example database_server -- --stdio
//! cargo run --release --example database_server -- --http 127.0.0.1:5004   # http://127.0.0.1:5004/mcp
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example database_server -- --stdio
//! ```

use clap::Parser;
use mcp_reference::servers::database::{self, default_sqlite_path, DatabaseConfig};
use mcp_reference::servers::TransportArgs;
use mcp_reference::status;
use std::time::Duration;
use tracing::Level;

/// MCP server 4, database: lets a model explore and query a SQL database.
#[derive(Parser)]
#[command(
    name = "database_server",
    about = "MCP database server: list_tables, describe_table and read-only query tools \
             (plus execute with --allow-writes) over SQLite or PostgreSQL, and each table's \
             schema as a resource (db://table/{name}/schema).",
    long_about = "MCP database server (server 4 of the reference system).\n\n\
        Tools: list_tables; describe_table (columns, types, nullability, primary and foreign keys); \
        query (one read-only statement with bound parameters, at most 1000 rows, a statement time \
        limit, answered as structured rows); execute (INSERT/UPDATE/DELETE/DDL), offered only with \
        --allow-writes. Resources: each table's schema at db://table/{name}/schema; after DDL, \
        clients hear resources/list_changed and, for schemas they watch, resources/updated \
        (sessions through resources/subscribe, stateless 2026-07-28 clients through \
        subscriptions/listen).\n\n\
        Reads cannot write: a statement check, plus a read-only SQLite connection or a PostgreSQL \
        READ ONLY transaction. Connect with the least-privileged database role that will do.\n\n\
        The database comes from --database-url or DATABASE_URL: a SQLite file path or \
        sqlite://PATH, or postgres://USER@HOST:PORT/DB. Without either, a sample SQLite database \
        (customers, products and orders tables) is created on first run in the user's data \
        directory (such as ~/.local/share/mcp-reference/database-sample.db), else at \
        ./mcp-database-sample.db. An SQLite database with no tables gets the sample tables too \
        (unless --no-seed).\n\n\
        In a desktop MCP host (such as Claude Desktop's claude_desktop_config.json):\n\n  \
        {\"mcpServers\": {\"database\": {\"command\": \"/path/to/database_server\", \
        \"args\": [\"--stdio\", \"--database-url\", \"sqlite:///path/to/data.db\"]}}}\n\n\
        Over HTTP (Streamable HTTP at /mcp, GET /health): --http 127.0.0.1:5004 (or PORT)."
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    /// The database: sqlite://PATH, a file path, or postgres://USER@HOST:PORT/DB
    /// [default: $DATABASE_URL, else the sample database in the user's data
    /// directory].
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Offer the execute tool (INSERT, UPDATE, DELETE, DDL). Without it the
    /// server is read-only.
    #[arg(long)]
    allow_writes: bool,
    /// The time limit of every statement, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    statement_timeout_ms: u64,
    /// Do not create the sample tables in an empty SQLite database.
    #[arg(long)]
    no_seed: bool,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("database_server", "info");
    let url = args
        .database_url
        .or_else(|| {
            std::env::var("DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty())
        })
        .unwrap_or_else(|| {
            let path = default_sqlite_path();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
            path.to_string_lossy().into_owned()
        });
    let config = DatabaseConfig {
        allow_writes: args.allow_writes,
        statement_timeout: Duration::from_millis(args.statement_timeout_ms),
        seed: !args.no_seed,
        ..DatabaseConfig::new(url)
    };
    let server = match database::server(&config).await {
        Ok(server) => server,
        Err(e) => {
            status(Level::ERROR, format_args!("database_server: {e}"));
            std::process::exit(1);
        }
    };
    mcp_reference::servers::run(server, &database::spec(), &args.transport).await
}
