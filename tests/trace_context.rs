//! One trace from the client through the gateway to a downstream server
//! (SEP-414): the client's trace context goes into `_meta`, the gateway
//! handles the call as a span of that trace, and its own call downstream
//! carries the trace on, whichever era each side speaks.

mod support;

use mcp_reference::gateway::config::{DownstreamSpec, GatewayConfig, Target};
use mcp_reference::gateway::{self, Gateway};
use mcp_sdk::trace::TraceContext;
use mcp_sdk::{CallToolParams, CallToolResult, Tool};
use mcp_sdk_client::{Client, Era};
use mcp_sdk_server::{NoArguments, RequestContext, Router};
use serde_json::json;
use std::time::Duration;
use support::{http_client_in, PATIENCE};

/// A downstream server over HTTP whose tool answers with the trace context
/// it was called in.
async fn downstream() -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let router = Router::new().tool(
        Tool::named("where", "Says which trace and span handle it"),
        |_: NoArguments, ctx: RequestContext| async move {
            ctx.trace_context()
                .map(TraceContext::traceparent)
                .unwrap_or_default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let service = mcp_sdk_server::http::StreamableHttpService::new(router, Default::default());
    let serving = tokio::spawn(mcp_sdk_server::http::serve_app(
        listener,
        "/mcp",
        service,
        None,
        std::future::pending(),
    ));
    (url, serving)
}

fn handled_in(result: &CallToolResult) -> TraceContext {
    let text = serde_json::to_value(&result.content[0]).unwrap()["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    TraceContext::parse(&text, None).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// Calls `tool` until the gateway has connected its server (bounded).
async fn call_when_up(client: &Client, tool: &str, params: CallToolParams) -> CallToolResult {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match client.request(params.clone()).await {
            Ok(result) if result.is_error != Some(true) => return result,
            other if tokio::time::Instant::now() > deadline => {
                panic!("{tool} never answered: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test]
async fn one_trace_id_from_the_client_through_the_gateway_to_a_server_in_both_eras() {
    let (url, _serving) = downstream().await;
    // The same server behind the gateway twice: reached in each era.
    let specs = [("s", Era::SessionOnly), ("x", Era::StatelessOnly)]
        .into_iter()
        .map(|(name, era)| DownstreamSpec {
            name: name.into(),
            target: Target::Http { url: url.clone() },
            era,
        })
        .collect();
    let gateway = Gateway::start(GatewayConfig::new(specs).unwrap()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let _gateway = tokio::spawn(gateway::serve(
        gateway,
        listener,
        Default::default(),
        std::future::pending(),
    ));

    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let client = http_client_in(era, &gateway_url, ()).await;
        for tool in ["s__where", "x__where"] {
            // The client's own span, as a host traced by OpenTelemetry
            // would have it current.
            let ours = TraceContext::new_root();
            let result = ours
                .clone()
                .scope(call_when_up(&client, tool, CallToolParams::new(tool, None)))
                .await;
            let theirs = handled_in(&result);
            assert_eq!(theirs.trace_id(), ours.trace_id(), "{era:?} {tool}");
            assert_ne!(theirs.span_id(), ours.span_id(), "{era:?} {tool}");

            // A malformed traceparent from the client: the gateway starts a
            // new trace, and the server is in that one.
            let mut params = CallToolParams::new(tool, None);
            let mut meta = serde_json::Map::new();
            meta.insert("traceparent".into(), json!("00-zz-zz-01"));
            params.meta = Some(meta);
            let result = call_when_up(&client, tool, params).await;
            let fresh = handled_in(&result);
            assert_ne!(fresh.trace_id(), ours.trace_id(), "{era:?} {tool}");
        }
        client.close().await;
    }
}
