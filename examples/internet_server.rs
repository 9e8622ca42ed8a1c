//! The internet reference server: `fetch` (a web page as Markdown, in
//! chunks) and `http_request` (an HTTP API call), refusing internal
//! addresses.

use clap::Parser;
use mcp_reference::servers::{internet, TransportArgs};

/// MCP server that reads the web for a model.
///
/// Tools: `fetch` returns a URL's content as Markdown (or raw with
/// `raw: true`), `max_length` characters at a time from `start_index`;
/// `http_request` sends a method, headers and a JSON body and returns the
/// status, headers and (parsed) body. Loopback, private, link-local and
/// cloud-metadata addresses are refused after DNS resolution and on every
/// redirect, unless allowed with --allow-host or INTERNET_ALLOW_HOSTS.
#[derive(Parser)]
#[command(
    name = "internet_server",
    version,
    long_about = "MCP server that reads the web for a model.\n\n\
        Tools: `fetch` returns a URL's content as Markdown (or raw with `raw: true`), \
        `max_length` characters at a time from `start_index`; `http_request` sends a \
        method, headers and a JSON body and returns the status, headers and body.\n\n\
        Loopback, private, link-local and cloud-metadata addresses are refused after DNS \
        resolution and on every redirect (at most 5), unless the host is allowed with \
        --allow-host or INTERNET_ALLOW_HOSTS (comma-separated). The `fetch` tool honours \
        the site's robots.txt (--ignore-robots-txt to skip); the `fetch` prompt, asked for by \
        the user, does not.\n\n\
        In a desktop MCP host (e.g. Claude Desktop's claude_desktop_config.json):\n  \
        {\"mcpServers\": {\"internet\": {\"command\": \"cargo\", \"args\": [\"run\", \"--release\", \
        \"--example\", \"internet_server\", \"--\", \"--stdio\"]}}}\n\n\
        Over HTTP it serves http://127.0.0.1:5005/mcp (PORT or --http to change) and GET /health."
)]
struct Args {
    #[command(flatten)]
    transport: TransportArgs,
    /// Let requests reach HOST (a name or IP literal, as written in URLs)
    /// even if its addresses are internal. Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_host: Vec<String>,
    /// Fetch pages even where the site's robots.txt forbids it (it is
    /// honoured by default for the `fetch` tool, not the `fetch` prompt).
    #[arg(long)]
    ignore_robots_txt: bool,
    #[command(flatten)]
    telemetry: mcp_reference::telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _telemetry = args.telemetry.init("internet_server", "info");
    let spec = internet::spec();
    let mut config = internet::Config::from_flags_and_env(&args.allow_host);
    config.ignore_robots_txt = args.ignore_robots_txt;
    let router = internet::router(config);
    mcp_reference::servers::run(router, &spec, &args.transport).await
}
