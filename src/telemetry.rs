//! Logs, and (with the `otel` feature) each request's trace span sent to an
//! OpenTelemetry collector: the examples' `--otlp-endpoint` and its
//! initialisation, shared by the servers, the gateway and the client.
//!
//! The spans are the servers' `mcp.request` spans (method, tool, session
//! digest; see `mcp_sdk_server`'s trace module) and their children, and
//! the client application's `mcp.client` span of a command. Each
//! goes out with the request's W3C trace and span ids, so a call from a
//! client through the gateway to a server is one trace in the collector.

#[cfg(feature = "otel")]
mod otlp;

/// The environment variables that name a collector (the OpenTelemetry
/// specification's): the base URL (`/v1/traces` added), or the traces URL
/// as it is.
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The telemetry flag every example that logs takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TelemetryArgs {
    /// Send the trace spans of the requests handled to this OpenTelemetry
    /// collector: OTLP over HTTP (protobuf), e.g. http://localhost:4318
    /// (`/v1/traces` is added to it). Without it,
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT.
    /// Only in a build with `--features otel`.
    #[arg(long, value_name = "URL", global = true)]
    pub otlp_endpoint: Option<String>,
}

impl TelemetryArgs {
    /// Starts logging as [`crate::init_logging`] does and, when a collector
    /// is named, the export of trace spans as `service` (the
    /// `service.name` the collector shows, unless `OTEL_SERVICE_NAME` says
    /// otherwise). Exits with status 2 and a message when the flag's URL is
    /// not an http(s) URL or this build cannot export.
    ///
    /// Keep the returned [`Telemetry`] until the end of `main`: dropping it
    /// sends the spans still queued.
    pub fn init(&self, service: &str, default_level: &str) -> Telemetry {
        let endpoint = match &self.otlp_endpoint {
            Some(url) => Some(Endpoint::Flag(traces_url(url).unwrap_or_else(|e| {
                crate::status(
                    tracing::Level::ERROR,
                    format_args!("{service}: --otlp-endpoint {url:?}: {e}"),
                );
                std::process::exit(2);
            }))),
            None => ENDPOINT_VARS
                .iter()
                .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
                .then_some(Endpoint::Environment),
        };
        start(service, default_level, endpoint)
    }
}

/// Where the spans go.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
enum Endpoint {
    /// The traces URL from `--otlp-endpoint`.
    Flag(String),
    /// The URL the OpenTelemetry variables give.
    Environment,
}

/// The traces URL for a collector's base URL: `/v1/traces` added unless it
/// is there already (as the OpenTelemetry variables do for a base URL).
fn traces_url(base: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(base).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("the collector's URL is http://HOST:PORT or https://HOST:PORT".into());
    }
    let base = base.trim_end_matches('/');
    Ok(if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    })
}

/// What [`TelemetryArgs::init`] started; dropping it sends the spans still
/// queued (for at most a few seconds) and stops the export.
#[must_use = "dropping it stops the export of trace spans"]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    _export: Option<otlp::Export>,
}

#[cfg(feature = "otel")]
fn start(service: &str, default_level: &str, endpoint: Option<Endpoint>) -> Telemetry {
    let Some(endpoint) = endpoint else {
        crate::init_logging(default_level);
        return Telemetry { _export: None };
    };
    let url = match endpoint {
        Endpoint::Flag(url) => Some(url),
        Endpoint::Environment => None,
    };
    match otlp::Export::start(service, url.as_deref()) {
        Ok((export, layer)) => {
            init_with(default_level, layer);
            Telemetry {
                _export: Some(export),
            }
        }
        Err(e) => {
            crate::status(
                tracing::Level::ERROR,
                format_args!("{service}: cannot export trace spans: {e}"),
            );
            std::process::exit(2);
        }
    }
}

#[cfg(not(feature = "otel"))]
fn start(service: &str, default_level: &str, endpoint: Option<Endpoint>) -> Telemetry {
    crate::init_logging(default_level);
    match endpoint {
        None => {}
        // Asked for by name: an error, not a silent no-op.
        Some(Endpoint::Flag(_)) => {
            crate::status(
                tracing::Level::ERROR,
                format_args!(
                    "{service}: --otlp-endpoint: this build cannot export trace spans \
                     (build it with `--features otel`)"
                ),
            );
            std::process::exit(2);
        }
        // A variable set for every process of a deployment: a warning.
        Some(Endpoint::Environment) => crate::status(
            tracing::Level::WARN,
            format_args!(
                "{service}: OTEL_EXPORTER_OTLP_ENDPOINT is set, but this build cannot export \
                 trace spans (build it with `--features otel`); not exporting"
            ),
        ),
    }
    Telemetry {}
}

/// Logs to stderr as [`crate::init_logging`] describes, and exports spans
/// through `export`, which has a filter of its own (so the log level does
/// not decide which spans are exported).
#[cfg(feature = "otel")]
fn init_with(default_level: &str, export: otlp::SpanLayer) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::new(crate::log_filter(default_level));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if crate::json_logs() {
        logs.json().flatten_event(true).with_filter(filter).boxed()
    } else {
        use std::io::IsTerminal;
        logs.with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(vec![logs, export])
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gets_the_traces_path_once() {
        assert_eq!(
            traces_url("http://localhost:4318").unwrap(),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://localhost:4318/").unwrap(),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example:4318/v1/traces").unwrap(),
            "https://otel.example:4318/v1/traces"
        );
    }

    #[test]
    fn a_url_that_is_not_http_is_refused_with_a_reason() {
        assert!(traces_url("localhost:4318").is_err());
        assert!(traces_url("grpc://localhost:4317").is_err());
        assert!(traces_url("not a url").unwrap_err().contains("not a URL"));
    }
}
