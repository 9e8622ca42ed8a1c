//! The examples' `--otlp-endpoint` (the `otel` feature, on for the tests):
//! a call from our client through the gateway to a server is one trace in
//! an OpenTelemetry collector, each process's span carrying the request's
//! W3C ids, method and tool.
//!
//! The collector is a small OTLP/HTTP receiver in this test, decoding the
//! protobuf `ExportTraceServiceRequest` the examples send.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use mcp_sdk::trace::TraceContext;
use mcp_sdk::CallToolParams;
use mcp_sdk_client::Client;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{http_client, http_server, TempDir, PATIENCE};
use tokio::io::AsyncBufReadExt;
use tokio::sync::Notify;

/// A span as the collector got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    kind: i32,
    attributes: Vec<(String, String)>,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// An OTLP/HTTP receiver on loopback: every span of every export request
/// at `/v1/traces`.
struct Collector {
    base: String,
    spans: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

impl Collector {
    async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let spans = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (store, notify) = (spans.clone(), arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (store, notify) = (store.clone(), notify.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (store, notify) = (store.clone(), notify.clone());
                        async move {
                            assert_eq!(req.uri().path(), "/v1/traces");
                            assert_eq!(req.headers()["content-type"], "application/x-protobuf");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let export = ExportTraceServiceRequest::decode(body).unwrap();
                            let mut got = Vec::new();
                            for resource_spans in export.resource_spans {
                                let resource = resource_spans.resource.unwrap_or_default();
                                let service = text(&resource.attributes)
                                    .into_iter()
                                    .find(|(k, _)| k == "service.name")
                                    .map(|(_, v)| v)
                                    .unwrap_or_default();
                                for scope in resource_spans.scope_spans {
                                    for span in scope.spans {
                                        got.push(Received {
                                            service: service.clone(),
                                            name: span.name,
                                            trace_id: hex(&span.trace_id),
                                            span_id: hex(&span.span_id),
                                            parent_span_id: hex(&span.parent_span_id),
                                            kind: span.kind,
                                            attributes: text(&span.attributes),
                                        });
                                    }
                                }
                            }
                            store.lock().unwrap().extend(got);
                            notify.notify_waiters();
                            // An empty ExportTraceServiceResponse: all taken.
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .header("content-type", "application/x-protobuf")
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Collector {
            base,
            spans,
            arrived,
        }
    }

    /// Waits (bounded) until `found` picks something from the spans
    /// received so far.
    async fn wait_for<T>(&self, what: &str, found: impl Fn(&[Received]) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let arrived = self.arrived.notified();
            if let Some(t) = found(&self.spans.lock().unwrap()) {
                return t;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "the collector never got {what}; it got: {:#?}",
                    self.spans.lock().unwrap()
                );
            }
        }
    }
}

/// Calls `tool` in `trace` until the gateway has connected its server
/// (bounded).
async fn call_when_up(client: &Client, trace: &TraceContext, tool: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let params = CallToolParams::new(tool, json!({"a": 2, "b": 3}).as_object().cloned());
        match trace.clone().scope(client.request(params)).await {
            Ok(result) if result.is_error != Some(true) => return,
            other if tokio::time::Instant::now() > deadline => {
                panic!("{tool} never answered: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The `mcp.request` span of `service` for `tool` in `trace_id`.
fn request_span<'a>(
    spans: &'a [Received],
    service: &str,
    trace_id: &str,
    tool: &str,
) -> Option<&'a Received> {
    spans.iter().find(|s| {
        s.service == service
            && s.name == "mcp.request"
            && s.trace_id == trace_id
            && s.attribute("mcp.tool") == Some(tool)
    })
}

#[tokio::test]
async fn a_call_through_the_gateway_is_one_trace_in_the_collector() {
    let collector = Collector::start().await;
    // The examples send a batch 100 ms after a span ends (the SDK's
    // variable; its default is 5 s).
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
    let otlp = ["--otlp-endpoint", collector.base.as_str()];
    let tools = http_server("tools_server", &otlp).await;
    let data = TempDir::new("otlp-export");
    let config = format!("[[server]]\nname = \"calc\"\nurl = \"{}\"\n", tools.url);
    let path = data.write("gateway.toml", config.as_bytes());
    let mut args = vec!["--config", path.to_str().unwrap()];
    args.extend(otlp);
    let gateway = http_server("session_manager", &args).await;

    // Our client's span, with ids we know.
    let ours = TraceContext::parse(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        None,
    )
    .unwrap();
    let client = http_client(&gateway.url, ()).await;
    call_when_up(&client, &ours, "calc__add").await;
    let trace_id = ours.trace_id().to_string();

    let at_gateway = collector
        .wait_for("the gateway's span of the call", |spans| {
            request_span(spans, "session_manager", &trace_id, "calc__add").cloned()
        })
        .await;
    assert_eq!(at_gateway.attribute("mcp.method"), Some("tools/call"));
    assert_eq!(
        at_gateway.parent_span_id,
        ours.span_id().to_string(),
        "the gateway's span is a child of the client's"
    );
    // Server kind; the ids are the span's own, not attributes.
    assert_eq!(at_gateway.kind, 2, "{at_gateway:?}");
    assert_eq!(at_gateway.attribute("trace_id"), None);

    let at_server = collector
        .wait_for("the server's span of the call", |spans| {
            request_span(spans, "tools_server", &trace_id, "add").cloned()
        })
        .await;
    assert_eq!(at_server.attribute("mcp.method"), Some("tools/call"));
    assert_eq!(
        at_server.parent_span_id, at_gateway.span_id,
        "the server's span is a child of the gateway's"
    );
    assert_ne!(at_server.span_id, at_gateway.span_id);
    client.close().await;

    // The client application: its command is a span of its own, the
    // parent of the gateway's span of its call.
    let out = tokio::process::Command::new(support::example("client"))
        .args(["--url", gateway.url.as_str(), "--otlp-endpoint"])
        .arg(&collector.base)
        .args(["call", "calc__add", "a=2", "b=3", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (command, at_gateway) = collector
        .wait_for(
            "the client's span and the gateway's span of its call",
            |spans| {
                let command = spans
                    .iter()
                    .find(|s| s.service == "client" && s.name == "mcp.client")?;
                let at_gateway =
                    request_span(spans, "session_manager", &command.trace_id, "calc__add")?;
                Some((command.clone(), at_gateway.clone()))
            },
        )
        .await;
    assert_eq!(command.kind, 3, "a client span: {command:?}");
    assert_eq!(command.parent_span_id, "", "the command starts the trace");
    assert_eq!(at_gateway.parent_span_id, command.span_id);
}

/// The next line of a child's stderr (bounded).
async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(PATIENCE, lines.recv())
        .await
        .expect("a line in time")
        .expect("the server is still running")
}

#[tokio::test]
async fn a_dead_collector_costs_the_requests_nothing_and_is_warned_about() {
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
    // A port nobody listens on.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut child = tokio::process::Command::new(support::example("tools_server"))
        .args(["--otlp-endpoint", dead.as_str(), "--http", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let _ = lines_tx.send(line);
        }
    });
    let url = loop {
        let line = next_line(&mut lines).await;
        if let Some(i) = line.find("http://") {
            break line[i..].split_whitespace().next().unwrap().to_owned();
        }
    };
    let client = http_client(&url, ()).await;
    for i in 0..20 {
        let params = CallToolParams::new("add", json!({"a": i, "b": 1}).as_object().cloned());
        let result = tokio::time::timeout(PATIENCE, client.request(params))
            .await
            .expect("an answer in time")
            .expect("the call succeeds");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    loop {
        let line = next_line(&mut lines).await;
        if line.contains("cannot send trace spans to") {
            assert!(line.contains(&dead), "{line}");
            assert!(line.contains("dropped"), "{line}");
            break;
        }
    }
    client.close().await;
}

#[tokio::test]
async fn a_url_that_is_not_a_collector_is_refused_at_start() {
    let out = tokio::process::Command::new(support::example("echo_server"))
        .args(["--otlp-endpoint", "localhost:4318", "--http", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--otlp-endpoint") && stderr.contains("http://HOST:PORT"),
        "{stderr}"
    );
}
