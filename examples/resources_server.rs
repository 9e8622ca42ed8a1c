//! The resources reference server (server 1, port 5001): a directory as
//! `file://` resources with subscriptions, and `notes://{name}` notes.
//!
//! ```text
//! cargo run --release --example resources_server -- --stdio --dir ~/Documents/notes
//! cargo run --release --example resources_server -- --http 127.0.0.1:5001
//! ```

use clap::Parser;
use mcp_reference::servers::resources::{self, ResourcesConfig};
use mcp_reference::servers::TransportArgs;
use mcp_reference::status;
use std::path::PathBuf;
use std::time::Duration;
use tracing::Level;

/// MCP resources server: serves a directory as file:// resources.
#[derive(Parser)]
#[command(
    name = "resources_server",
    about = "MCP resources server: a directory as file:// resources (text or base64 blobs, \
             paginated, subscribable), plus in-memory notes://{name} notes written with the \
             write_note tool.",
    long_about = "MCP resources server (reference server 1).\n\n\
        Serves the files of a directory as file:// resources: MIME types from the file \
        extension, text files as text and other files as base64 blobs, lists in pages. \
        Clients can subscribe to a resource and hear notifications/resources/updated when it \
        changes; every client hears notifications/resources/list_changed when files appear or \
        vanish (the directory is polled). Stateless clients (revision 2026-07-28) hear both on \
        a subscriptions/listen stream (resourceSubscriptions, resourcesListChanged). Hidden dot-files, anything outside the directory \
        and symbolic links leading out are never served; files above --max-file-size are \
        refused.\n\n\
        Notes: in-memory resources notes://NAME (template notes://{name}), created or \
        replaced with the write_note tool.\n\n\
        Without --dir, a small sample folder is created on first run under the user's data \
        directory (Linux: $XDG_DATA_HOME or ~/.local/share; macOS: ~/Library/Application \
        Support; Windows: %APPDATA%), in mcp-reference/resources-sample, or in \
        ./mcp-resources-sample when there is no data directory.\n\n\
        Desktop hosts (Claude Desktop and the like) start it over stdio:\n\n  \
        {\"mcpServers\": {\"resources\": {\"command\": \"cargo\", \"args\": [\"run\", \
        \"--release\", \"--example\", \"resources_server\", \"--\", \"--stdio\", \"--dir\", \
        \"/path/to/folder\"]}}}"
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    /// The directory to serve [default: the sample folder, created if missing].
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Resources per resources/list page.
    #[arg(long, default_value_t = resources::DEFAULT_PAGE_SIZE as u16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    page_size: u16,
    /// The largest file resources/read sends, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = resources::DEFAULT_MAX_FILE_BYTES)]
    max_file_size: u64,
    /// How often to check the directory for changes, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..))]
    poll_ms: u64,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("resources_server", "info");
    let dir = match args.dir {
        Some(dir) => dir,
        None => {
            let dir = resources::default_sample_dir();
            if resources::ensure_sample_dir(&dir)? {
                status(
                    Level::INFO,
                    format_args!(
                        "resources_server: created the sample folder {}",
                        dir.display()
                    ),
                );
            }
            dir
        }
    };
    let config = ResourcesConfig {
        page_size: usize::from(args.page_size),
        max_file_bytes: args.max_file_size,
        poll_interval: Duration::from_millis(args.poll_ms),
        ..ResourcesConfig::new(dir)
    };
    let server = resources::server(config)?;
    status(
        Level::INFO,
        format_args!(
            "resources_server: serving {}",
            server.state().root().display()
        ),
    );
    mcp_reference::servers::run(server, &resources::spec(), &args.transport).await
}
