//! The export of trace spans over OTLP/HTTP (protobuf), on the
//! OpenTelemetry SDK's batch processor and an HTTP client of ours.
//!
//! - **Ids:** `tracing-opentelemetry` turns `tracing` spans into
//!   OpenTelemetry spans; [`McpTracer`] gives an `mcp.request` span the ids
//!   the server SDK chose for the request (its `trace_id`, `span_id` and
//!   `parent_span_id` fields), so the collector's span is the one the
//!   request's `traceparent` names downstream. The client's `mcp.client`
//!   span of a command carries its ids the same way.
//! - **Never in the way of a request:** a finished span goes into a bounded
//!   queue ([`MAX_QUEUED_SPANS`]) without waiting; a full queue drops it.
//!   The SDK's own thread sends batches, and the HTTP requests run on a
//!   runtime of their own, so a slow or dead collector costs the requests
//!   nothing. A batch the collector does not take (after the exporter's
//!   retries, within its timeout) is dropped, with one warning in the logs
//!   until the collector answers again.
//! - **One HTTP stack:** the requests go through the reqwest the internet
//!   server uses (the exporter's own reqwest client is another major
//!   version).

use bytes::Bytes;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, Sampler, SdkTracer,
    SdkTracerProvider,
};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing_subscriber::Layer;

/// Spans waiting to be sent; past this, new ones are dropped.
pub const MAX_QUEUED_SPANS: usize = 4096;
/// The most spans in one export request.
const MAX_BATCH: usize = 512;
/// How long one HTTP request to the collector may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the end of the process waits for the last spans to go out.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);
/// The most of a collector's answer read (an OTLP answer is a few bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Crates whose own spans and events are not exported: the export's HTTP
/// stack (its spans would be exported in turn) and the SDK itself.
const NOT_EXPORTED: [&str; 6] = ["hyper", "reqwest", "h2", "rustls", "opentelemetry", "tower"];

/// The running export; dropping it sends what is queued and stops.
pub(super) struct Export {
    provider: SdkTracerProvider,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The layer that hands `tracing` spans to the export.
pub(super) type SpanLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

impl Export {
    /// Starts exporting as `service` to `url` (the traces URL), or to the
    /// URL the OpenTelemetry variables name when `url` is `None`.
    pub(super) fn start(service: &str, url: Option<&str>) -> Result<(Export, SpanLayer), String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the export's thread: {e}"))?;
        let client = Collector::new(runtime.handle().clone())?;
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(client)
            .with_timeout(REQUEST_TIMEOUT);
        if let Some(url) = url {
            exporter = exporter.with_endpoint(url);
        }
        let exporter = exporter.build().map_err(|e| e.to_string())?;
        let batches = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(MAX_QUEUED_SPANS)
                    .with_max_export_batch_size(MAX_BATCH)
                    .build(),
            )
            .build();
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(service.to_owned());
        }
        let provider = SdkTracerProvider::builder()
            .with_span_processor(batches)
            .with_resource(resource.build())
            // Every request is recorded: sampling is the collector's
            // business (its tail sampling sees whole traces).
            .with_sampler(Sampler::AlwaysOn)
            .with_id_generator(RequestIds)
            .build();
        let tracer = McpTracer(provider.tracer("mcp-reference"));
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_threads(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
                !NOT_EXPORTED
                    .iter()
                    .any(|krate| metadata.target().starts_with(krate))
                    && *metadata.level() <= tracing::Level::INFO
            }))
            .boxed();
        Ok((
            Export {
                provider,
                runtime: Some(runtime),
            },
            layer,
        ))
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        // Sends what is queued (the HTTP requests run on our runtime, still
        // up), then stops the runtime without waiting for a stuck request.
        let _ = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

thread_local! {
    /// The ids [`McpTracer`] asks [`RequestIds`] to hand out for the span it
    /// is building on this thread.
    static NEXT_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// The SDK's id generator: the request's ids while [`McpTracer`] builds
/// an `mcp.request` span, random ones for any other.
#[derive(Debug)]
struct RequestIds;

impl IdGenerator for RequestIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| RandomIdGenerator::default().new_trace_id(), |ids| ids.0)
    }

    fn new_span_id(&self) -> SpanId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| RandomIdGenerator::default().new_span_id(), |ids| ids.1)
    }
}

/// The SDK's tracer, giving a span that names its trace ids (the server
/// SDK's `mcp.request`) those ids, and its parent span id as its parent.
#[derive(Debug)]
struct McpTracer(SdkTracer);

/// The request's ids, as the server SDK records them on its span.
struct RequestSpanIds {
    trace: TraceId,
    span: SpanId,
    parent: Option<SpanId>,
}

impl RequestSpanIds {
    /// Takes the id fields out of the span's attributes (the collector
    /// shows them as the span's own ids).
    fn take(attributes: &mut Vec<KeyValue>) -> Option<RequestSpanIds> {
        let field = |name: &str| {
            attributes
                .iter()
                .find(|kv| kv.key.as_str() == name)
                .map(|kv| kv.value.as_str().into_owned())
        };
        let trace = TraceId::from_hex(&field("trace_id")?).ok()?;
        let span = SpanId::from_hex(&field("span_id")?).ok()?;
        let parent = field("parent_span_id").and_then(|id| SpanId::from_hex(&id).ok());
        attributes
            .retain(|kv| !matches!(kv.key.as_str(), "trace_id" | "span_id" | "parent_span_id"));
        Some(RequestSpanIds {
            trace,
            span,
            parent,
        })
    }
}

impl Tracer for McpTracer {
    type Span = <SdkTracer as Tracer>::Span;

    fn build_with_context(
        &self,
        mut builder: opentelemetry::trace::SpanBuilder,
        parent_cx: &Context,
    ) -> Self::Span {
        if parent_cx.is_telemetry_suppressed() {
            return self.0.build_with_context(builder, parent_cx);
        }
        let ids = builder.attributes.as_mut().and_then(RequestSpanIds::take);
        let Some(ids) = ids else {
            return self.0.build_with_context(builder, parent_cx);
        };
        // The server SDK's span of a request it handles, or the client's
        // span of a command whose requests it sends.
        builder.span_kind = Some(if builder.name == "mcp.request" {
            SpanKind::Server
        } else {
            SpanKind::Client
        });
        // The request's parent came from another process (its traceparent);
        // without one, the request started the trace.
        let parent_cx = match ids.parent {
            Some(parent) => Context::new().with_remote_span_context(SpanContext::new(
                ids.trace,
                parent,
                TraceFlags::SAMPLED,
                true,
                TraceState::NONE,
            )),
            None => Context::new(),
        };
        NEXT_IDS.with(|next| next.set(Some((ids.trace, ids.span))));
        let span = self.0.build_with_context(builder, &parent_cx);
        NEXT_IDS.with(|next| next.set(None));
        span
    }
}

/// The exporter's HTTP client: reqwest, on the export's own runtime.
#[derive(Debug)]
struct Collector {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    /// Whether the last request failed (the warning is written once a run
    /// of failures).
    failing: AtomicBool,
}

impl Collector {
    fn new(runtime: tokio::runtime::Handle) -> Result<Collector, String> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot make the HTTP client: {e}"))?;
        Ok(Collector {
            http,
            runtime,
            failing: AtomicBool::new(false),
        })
    }

    /// Notes the outcome of a request to `url`, warning when the collector
    /// starts refusing and saying when it takes spans again.
    fn note(&self, url: &http::Uri, problem: Option<String>) {
        match problem {
            Some(why) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "cannot send trace spans to {}: {why}; spans are dropped until it \
                         takes them (no more warnings until then)",
                        shown(url)
                    );
                }
            }
            None => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("trace spans go to {} again", shown(url));
                }
            }
        }
    }
}

/// The collector's URL for the logs, without a user name or password it
/// may carry.
fn shown(url: &http::Uri) -> String {
    let host = url
        .authority()
        .map(|a| a.as_str().rsplit('@').next().unwrap_or_default())
        .unwrap_or_default();
    format!(
        "{}://{host}{}",
        url.scheme_str().unwrap_or("http"),
        url.path()
    )
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Collector {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let url = request.uri().clone();
        let request = reqwest::Request::try_from(request)?;
        let http = self.http.clone();
        // The SDK's thread polls this future without a Tokio runtime: the
        // request runs on ours.
        let sent = self.runtime.spawn(async move {
            let mut answer = http.execute(request).await?;
            let status = answer.status();
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, body))
        });
        let outcome = match sent.await {
            Ok(Ok(answer)) => Ok(answer),
            // The error without its URL, which may hold a password.
            Ok(Err(e)) => Err(e.without_url().to_string()),
            Err(e) => Err(format!("the request was stopped ({e})")),
        };
        match outcome {
            Ok((status, body)) => {
                self.note(
                    &url,
                    (!status.is_success()).then(|| format!("it answered {status}")),
                );
                Ok(http::Response::builder()
                    .status(status)
                    .body(Bytes::from(body))?)
            }
            Err(why) => {
                self.note(&url, Some(why.clone()));
                Err(why.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collector_is_named_without_its_password() {
        let url: http::Uri = "https://user:secret@otel.example:4318/v1/traces"
            .parse()
            .unwrap();
        assert_eq!(shown(&url), "https://otel.example:4318/v1/traces");
        let url: http::Uri = "http://127.0.0.1:4318/v1/traces".parse().unwrap();
        assert_eq!(shown(&url), "http://127.0.0.1:4318/v1/traces");
    }
}
