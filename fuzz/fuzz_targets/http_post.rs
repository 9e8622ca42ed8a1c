//! The Streamable HTTP POST path, in process: body bytes (and a few header
//! choices taken from the first byte) to a complete answer. Every input
//! gets an HTTP answer, whose body ends, without a panic.
#![no_main]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use mcp_sdk::{Prompt, Resource, ResourceTemplate, Tool};
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::{NoArguments, PromptArguments, ResourceRequest, Router};
use std::sync::OnceLock;
use std::time::Duration;

struct Harness {
    runtime: tokio::runtime::Runtime,
    service: StreamableHttpService,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let router = Router::new()
            .tool(Tool::named("echo", "Answers ok"), |_: NoArguments| async {
                "ok"
            })
            .resource(
                Resource::new("test://a", "A"),
                |r: ResourceRequest| async move {
                    Ok(mcp_sdk::ReadResourceResult::text(r.uri, "text/plain", "a"))
                },
            )
            .resource_template(
                ResourceTemplate::new("test://item/{id}{?q}", "Items"),
                |r: ResourceRequest| async move {
                    Ok(mcp_sdk::ReadResourceResult::text(
                        r.uri.clone(),
                        "text/plain",
                        r.uri,
                    ))
                },
            )
            .prompt(Prompt::new("p", "A prompt"), |_: PromptArguments| async {
                Ok(mcp_sdk::GetPromptResult::default())
            });
        let service =
            runtime.block_on(async { StreamableHttpService::new(router, HttpConfig::default()) });
        Harness { runtime, service }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let h = harness();
    let mut req = http::Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header(
            "content-type",
            if choice & 1 == 0 {
                "application/json"
            } else {
                "text/plain"
            },
        );
    req = match choice >> 1 & 3 {
        0 => req.header("accept", "application/json, text/event-stream"),
        1 => req.header("accept", "application/json"),
        2 => req.header("accept", "text/event-stream"),
        _ => req,
    };
    if choice & 8 != 0 {
        req = req.header("mcp-protocol-version", "2026-07-28");
    }
    if choice & 16 != 0 {
        req = req.header("mcp-protocol-version", "2025-03-26");
    }
    if choice & 32 != 0 {
        req = req.header("mcp-session-id", "not-a-session");
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    h.runtime.block_on(async {
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            let response = h.service.handle(req).await;
            let status = response.status();
            let body = response.into_body().collect().await.map(|b| b.to_bytes());
            (status, body)
        })
        .await
        .expect("the POST is answered and its body ends");
        assert!(
            answer.0.as_u16() < 500 || answer.0.as_u16() == 503,
            "status {}",
            answer.0
        );
    });
    // Sessions made by fuzzed `initialize` requests must not pile up.
    if h.service.session_count() > 1000 {
        h.service.close_all_sessions();
    }
});
