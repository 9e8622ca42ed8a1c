//! docs/limits.md names every public limit with the value the code has:
//! each constant below must appear on a line of the page that also holds
//! its value, so the page cannot drift from the code.

use mcp_reference::gateway::config as gateway;
use mcp_reference::servers::{beneath, database, internet, prompts, resources, roots, tools};
use std::time::Duration;

/// How the page writes a value: a byte count or number as digits, a
/// duration in seconds ("10 s"), minutes or hours where whole.
enum V {
    N(u64),
    D(Duration),
}

impl V {
    fn forms(&self) -> Vec<String> {
        match self {
            V::N(n) => vec![n.to_string(), group(*n)],
            V::D(d) => {
                let s = d.as_secs();
                let mut forms = vec![format!("{s} s")];
                if s % 3600 == 0 {
                    forms.push(format!("{} h", s / 3600));
                }
                if s % 60 == 0 {
                    forms.push(format!("{} min", s / 60));
                }
                forms
            }
        }
    }
}

/// 100000 as "100,000".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn limits_page_names_every_public_limit_with_its_value() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/limits.md"))
        .expect("docs/limits.md");
    let n = |v: usize| V::N(v as u64);
    let server = mcp_sdk_server::SessionConfig::default();
    let http = mcp_sdk_server::http::HttpConfig::default();
    let tasks = mcp_sdk_server::TaskConfig::default();
    let checks: Vec<(&str, V)> = vec![
        ("`MAX_LINE_BYTES`", n(mcp_sdk::framing::MAX_LINE_BYTES)),
        (
            "`stdio::MAX_WAITING_REQUESTS`",
            n(mcp_sdk_server::stdio::MAX_WAITING_REQUESTS),
        ),
        (
            "`SessionConfig::max_concurrent_requests`",
            n(server.max_concurrent_requests),
        ),
        (
            "`SessionConfig::peer_request_timeout`",
            V::D(server.peer_request_timeout),
        ),
        (
            "`SessionConfig::request_state_ttl`",
            V::D(server.request_state_ttl),
        ),
        ("`TaskConfig::max_tasks`", n(tasks.max_tasks)),
        ("`TaskConfig::max_ttl`", V::D(tasks.max_ttl)),
        ("`TaskConfig::max_server_tasks`", n(tasks.max_server_tasks)),
        (
            "`MAX_SUBSCRIPTIONS_PER_SESSION`",
            n(mcp_sdk_server::router::MAX_SUBSCRIPTIONS_PER_SESSION),
        ),
        (
            "`MAX_SUBSCRIBED_URIS`",
            n(mcp_sdk_server::router::MAX_SUBSCRIBED_URIS),
        ),
        (
            "`router::uri_template::MAX_URI_BYTES`",
            n(mcp_sdk_server::router::uri_template::MAX_URI_BYTES),
        ),
        ("`HttpConfig::max_body_bytes`", n(http.max_body_bytes)),
        ("`HttpConfig::max_sessions`", n(http.max_sessions)),
        (
            "`HttpConfig::body_read_timeout`",
            V::D(http.body_read_timeout),
        ),
        (
            "`HttpConfig::header_read_timeout`",
            V::D(http.header_read_timeout),
        ),
        ("`HttpConfig::max_connections`", n(http.max_connections)),
        ("`HttpConfig::max_batch_items`", n(http.max_batch_items)),
        (
            "`HttpConfig::max_batch_answer_bytes`",
            n(http.max_batch_answer_bytes),
        ),
        (
            "`HttpConfig::session_idle_timeout`",
            V::D(http.session_idle_timeout),
        ),
        (
            "`HttpConfig::replay_buffer_events`",
            n(http.replay_buffer_events),
        ),
        ("`DEFAULT_TIMEOUT`", V::D(mcp_sdk_client::DEFAULT_TIMEOUT)),
        (
            "`DEFAULT_PROBE_TIMEOUT`",
            V::D(mcp_sdk_client::DEFAULT_PROBE_TIMEOUT),
        ),
        ("`MAX_INPUT_ROUNDS`", n(mcp_sdk_client::MAX_INPUT_ROUNDS)),
        ("`MAX_WAITING_KINDS`", n(mcp_sdk_client::MAX_WAITING_KINDS)),
        (
            "`DEFAULT_MAX_INPUT_BYTES`",
            n(tools::DEFAULT_MAX_INPUT_BYTES),
        ),
        (
            "`DEFAULT_MAX_CONVERSIONS`",
            n(tools::DEFAULT_MAX_CONVERSIONS),
        ),
        (
            "`DEFAULT_CONVERSION_BUDGET`",
            V::D(tools::DEFAULT_CONVERSION_BUDGET),
        ),
        ("`DEFAULT_LIMIT`", n(database::DEFAULT_LIMIT)),
        ("`MAX_LIMIT`", n(database::MAX_LIMIT)),
        ("`MAX_VALUE_BYTES`", n(database::MAX_VALUE_BYTES)),
        ("`MAX_RESULT_BYTES`", n(database::MAX_RESULT_BYTES)),
        ("`MAX_TABLES`", n(database::MAX_TABLES)),
        ("`READ_TIMEOUT`", V::D(beneath::READ_TIMEOUT)),
        (
            "`DEFAULT_MAX_FILE_BYTES`",
            V::N(resources::DEFAULT_MAX_FILE_BYTES),
        ),
        ("`DEFAULT_PAGE_SIZE`", n(resources::DEFAULT_PAGE_SIZE)),
        ("`MAX_NOTES`", n(resources::MAX_NOTES)),
        ("`MAX_NOTE_BYTES`", n(resources::MAX_NOTE_BYTES)),
        ("`MAX_FILE_BYTES` (roots)", V::N(roots::MAX_FILE_BYTES)),
        ("`MAX_LIST_ENTRIES`", n(roots::MAX_LIST_ENTRIES)),
        ("`MAX_SEARCH_RESULTS`", n(roots::MAX_SEARCH_RESULTS)),
        ("`MAX_SEARCH_VISITS`", n(roots::MAX_SEARCH_VISITS)),
        ("`MAX_SEARCH_DEPTH`", n(roots::MAX_SEARCH_DEPTH)),
        (
            "`MAX_TEMPLATE_BYTES`",
            V::N(prompts::template::MAX_TEMPLATE_BYTES),
        ),
        ("`MAX_TEMPLATES`", n(prompts::MAX_TEMPLATES)),
        (
            "`MAX_RENDERED_BYTES`",
            n(prompts::template::MAX_RENDERED_BYTES),
        ),
        ("`MAX_ARG_BYTES`", n(prompts::library::MAX_ARG_BYTES)),
        (
            "`MAX_TOTAL_ARG_BYTES`",
            n(prompts::library::MAX_TOTAL_ARG_BYTES),
        ),
        ("`MAX_IMAGE_BYTES`", n(prompts::image::MAX_IMAGE_BYTES)),
        (
            "`MAX_BODY_BYTES` (internet)",
            n(internet::net::MAX_BODY_BYTES),
        ),
        ("`MAX_REDIRECTS`", n(internet::net::MAX_REDIRECTS)),
        ("`CONNECT_TIMEOUT`", V::D(internet::net::CONNECT_TIMEOUT)),
        ("`TOTAL_TIMEOUT`", V::D(internet::net::TOTAL_TIMEOUT)),
        ("`MAX_NODES`", n(internet::html::MAX_NODES)),
        ("`MAX_DEPTH` (nesting)", n(internet::nesting::MAX_DEPTH)),
        ("`MAX_ROBOTS_BYTES`", n(internet::robots::MAX_ROBOTS_BYTES)),
        (
            "`DEFAULT_PAGE_SIZE`, `MAX_PAGE_SIZE`",
            n(gateway::DEFAULT_PAGE_SIZE),
        ),
        ("`MAX_PAGE_SIZE`", n(gateway::MAX_PAGE_SIZE)),
        (
            "`DEFAULT_MAX_SUBSCRIPTIONS`",
            n(gateway::DEFAULT_MAX_SUBSCRIPTIONS),
        ),
    ];
    let mut missing = Vec::new();
    for (name, value) in &checks {
        let forms = value.forms();
        let found = page
            .lines()
            .filter(|l| l.contains(name))
            .any(|l| forms.iter().any(|f| l.contains(f.as_str())));
        if !found {
            missing.push(format!("{name} = {}", forms[0]));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/limits.md lacks (or has a stale value for): {missing:#?}"
    );
}
