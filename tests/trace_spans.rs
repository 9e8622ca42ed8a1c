//! The span each request runs in (SEP-414): `mcp.request`, with the method,
//! the tool, a digest of the HTTP session id, and the trace, span and parent
//! ids of the request's trace context, recorded by a `tracing` layer as an
//! exporter (OpenTelemetry's, say) would read them. A binary of its own:
//! the layer is the process-wide subscriber.

mod support;

use mcp_sdk::trace::TraceContext;
use mcp_sdk::Tool;
use mcp_sdk_client::Era;
use mcp_sdk_server::{NoArguments, Router};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use support::http_client_in;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

type Fields = BTreeMap<String, String>;

/// The fields of every `mcp.request` span, by span id.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<HashMap<u64, Fields>>>);

struct Fill<'a>(&'a mut Fields);

impl Visit for Fill<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() != "mcp.request" {
            return;
        }
        let mut fields = Fields::new();
        attrs.record(&mut Fill(&mut fields));
        self.0.lock().unwrap().insert(id.into_u64(), fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(fields) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fill(fields));
        }
    }
}

#[tokio::test]
async fn each_request_is_a_span_of_its_trace_in_both_eras() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let router = Router::new().tool(Tool::named("where", "Answers"), |_: NoArguments| async {
        "here"
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let service = mcp_sdk_server::http::StreamableHttpService::new(router, Default::default());
    let _serving = tokio::spawn(mcp_sdk_server::http::serve_app(
        listener,
        "/mcp",
        service,
        None,
        std::future::pending(),
    ));

    for era in [Era::SessionOnly, Era::StatelessOnly] {
        let client = http_client_in(era, &url, ()).await;
        let ours = TraceContext::new_root();
        let result = ours
            .clone()
            .scope(client.call_tool("where", json!({})))
            .await
            .unwrap();
        assert_eq!(result.is_error, None);
        client.close().await;

        let spans = recorder.0.lock().unwrap().clone();
        let trace_id = ours.trace_id().to_string();
        let call = spans
            .values()
            .find(|f| f.get("trace_id") == Some(&trace_id))
            .unwrap_or_else(|| panic!("{era:?}: no span of trace {trace_id} in {spans:?}"));
        assert_eq!(call["mcp.method"], "tools/call", "{era:?}");
        assert_eq!(call["mcp.tool"], "where", "{era:?}");
        assert_eq!(
            call["parent_span_id"],
            ours.span_id().to_string(),
            "{era:?}"
        );
        assert_ne!(call["span_id"], ours.span_id().to_string(), "{era:?}");
        match era {
            // A digest of the session id, never the id itself.
            Era::SessionOnly => {
                let tag = &call["mcp.session"];
                assert_eq!(tag.len(), 16, "{era:?}: {tag}");
                assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
            }
            _ => assert!(!call.contains_key("mcp.session"), "{era:?}: {call:?}"),
        }
    }
}
