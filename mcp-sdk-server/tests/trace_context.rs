//! Trace context in `_meta` (SEP-414), in both eras: the server makes each
//! request a child span of the client's `traceparent` (a new trace when
//! there is none or it is malformed), and the client writes the running
//! task's trace context, or a new one, into every request.

use mcp_sdk::trace::TraceContext;
use mcp_sdk::{CallToolParams, CallToolResult, Tool};
use mcp_sdk_client::testing;
use mcp_sdk_server::{NoArguments, RequestContext, Router};
use serde_json::{json, Value};

/// A tool answering with the trace context its request was handled in.
fn router() -> Router {
    Router::new().tool(
        Tool::named("where", "Says which span handles it"),
        |_: NoArguments, ctx: RequestContext| async move {
            let trace = ctx.trace_context().expect("a dispatched request has one");
            // The handler runs with its request's context current.
            assert_eq!(TraceContext::current().as_ref(), Some(trace));
            trace.traceparent()
        },
    )
}

fn handled_in(result: &CallToolResult) -> TraceContext {
    let text = serde_json::to_value(&result.content[0]).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    TraceContext::parse(&text, None).unwrap()
}

#[tokio::test]
async fn the_callers_trace_is_continued_in_each_era() {
    testing::in_each_era(router(), |client, era| async move {
        let ours = TraceContext::parse(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Some("congo=t61rcWkgMzE"),
        )
        .unwrap();
        let result = ours
            .clone()
            .scope(client.call_tool("where", json!({})))
            .await
            .unwrap();
        let theirs = handled_in(&result);
        assert_eq!(theirs.trace_id(), ours.trace_id(), "{era:?}");
        assert_ne!(
            theirs.span_id(),
            ours.span_id(),
            "{era:?}: a span of its own"
        );
        assert!(theirs.is_sampled(), "{era:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn without_a_trace_each_request_starts_one_in_each_era() {
    testing::in_each_era(router(), |client, era| async move {
        let first = handled_in(&client.call_tool("where", json!({})).await.unwrap());
        let second = handled_in(&client.call_tool("where", json!({})).await.unwrap());
        assert_ne!(first.trace_id(), second.trace_id(), "{era:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored_and_a_new_trace_started_in_each_era() {
    let bad: [Value; 6] = [
        json!("garbage"),
        json!("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        json!("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        json!("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        json!(42),
        json!("x".repeat(100_000)),
    ];
    testing::in_each_era(router(), |client, era| {
        let bad = bad.clone();
        async move {
            for traceparent in bad {
                let mut params = CallToolParams::new("where", None);
                let mut meta = serde_json::Map::new();
                meta.insert("traceparent".into(), traceparent.clone());
                params.meta = Some(meta);
                let result = client.request(params).await.unwrap();
                let theirs = handled_in(&result);
                assert_ne!(
                    theirs.trace_id().to_string(),
                    "4bf92f3577b34da6a3ce929d0e0e4736",
                    "{era:?}"
                );
                assert_eq!(result.is_error, None, "{era:?}: {traceparent}");
            }
        }
    })
    .await
    .unwrap();
}
