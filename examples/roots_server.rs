//! The roots reference server (server 6, port 5006): file tools confined to
//! the client's roots.
//!
//! ```text
//! cargo run --release --example roots_server -- --stdio
//! cargo run --release --example roots_server -- --http 127.0.0.1:5006 --allow-writes
//! ```

use clap::Parser;
use mcp_reference::servers::roots::{self, RootsConfig};
use mcp_reference::servers::TransportArgs;

/// MCP roots server: file tools confined to the client's roots.
#[derive(Parser)]
#[command(
    name = "roots_server",
    about = "MCP roots server: list_roots, list_directory, read_file, search_files, file_info \
             (and write_file with --allow-writes), confined to the directories the client \
             exposes as its roots.",
    long_about = "MCP roots server (reference server 6).\n\n\
        Asks the client for its roots (roots/list) and works only inside them: list_roots, \
        list_directory, read_file (text, whole or head/tail lines), search_files (glob: *, ?, \
        [a-z], **), file_info, and write_file when started with --allow-writes (otherwise the \
        tool is not offered). In a session the roots are asked for once, and again after \
        notifications/roots/list_changed; a stateless (2026-07-28) client is asked on every \
        call, within the call (a multi round-trip request). Paths with '..', absolute paths outside the roots and \
        symbolic links leading out are refused. The client must support roots; a client \
        that does not gets a tool error saying so.\n\n\
        Desktop hosts (Claude Desktop and the like) start it over stdio and pass the \
        folders you choose as roots:\n\n  \
        {\"mcpServers\": {\"roots\": {\"command\": \"cargo\", \"args\": [\"run\", \
        \"--release\", \"--example\", \"roots_server\", \"--\", \"--stdio\"]}}}"
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    /// Offer the write_file tool (the server is read-only without it).
    #[arg(long)]
    allow_writes: bool,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("roots_server", "info");
    let server = roots::server(RootsConfig {
        allow_writes: args.allow_writes,
    });
    mcp_reference::servers::run(server, &roots::spec(), &args.transport).await
}
