//! Running the HTTP service on its own listener, with graceful shutdown.

use super::{error_response, StreamableHttpService};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Where [`serve`] offers the 2024-11-05 HTTP+SSE transport.
pub const LEGACY_SSE_PATH: &str = "/sse";
/// Where clients of the 2024-11-05 transport post their messages.
pub const LEGACY_MESSAGE_PATH: &str = "/message";

/// How long shutdown waits for in-flight requests before closing sessions.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Refusals of connections over the limit being written at once; beyond,
/// a connection is closed without an answer.
const REFUSING_AT_ONCE: usize = 64;

/// How long writing a refusal (and reading what the client sent, so that
/// closing does not reset the connection before it read the answer) may take.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Counts a listener's open connections and refuses those beyond a limit
/// with `503 Service Unavailable` and a close, so that a flood of idle
/// connections cannot use up the process's file descriptors: the
/// connections already open, and `/health`, keep being served.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    open: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    max: usize,
}

/// Held for as long as a connection that [`ConnectionLimit::admit`] let in
/// is open; dropping it makes room for another.
#[derive(Debug)]
pub struct ConnectionPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl ConnectionLimit {
    /// A limit of `max` connections at once (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        ConnectionLimit {
            open: Arc::new(Semaphore::new(max)),
            refusing: Arc::new(Semaphore::new(REFUSING_AT_ONCE)),
            max,
        }
    }

    /// Lets an accepted connection in with its permit, or, at the limit,
    /// answers it 503 and closes it in the background and gives `None`.
    pub fn admit(&self, stream: TcpStream) -> Option<(TcpStream, ConnectionPermit)> {
        match self.open.clone().try_acquire_owned() {
            Ok(permit) => Some((stream, ConnectionPermit(permit))),
            Err(_) => {
                self.refuse(stream);
                None
            }
        }
    }

    fn refuse(&self, mut stream: TcpStream) {
        tracing::warn!(max = self.max, "connection refused: too many connections");
        // Too many refusals at once: dropping the stream closes it.
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else {
            return;
        };
        let max = self.max;
        tokio::spawn(async move {
            let _permit = permit;
            let body = mcp_sdk::Message::error(
                None,
                mcp_sdk::Error::new(
                    mcp_sdk::ErrorCode::CONNECTION_CLOSED,
                    format!("Service Unavailable: too many connections (at most {max})"),
                ),
            )
            .to_vec();
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await?;
                stream.shutdown().await?;
                let mut sink = [0u8; 4096];
                let mut read = 0;
                while read < 64 * 1024 {
                    match stream.read(&mut sink).await? {
                        0 => break,
                        n => read += n,
                    }
                }
                Ok::<_, io::Error>(())
            })
            .await;
        });
    }
}

/// Binds `addr` and serves `service` at `path` (such as `/mcp`) until
/// Ctrl-C. The 2024-11-05 HTTP+SSE transport answers at `/sse` and
/// `/message` for old clients; `GET /health` answers 200 `ok`; other paths 404.
///
/// Bind a loopback address unless the server must be reachable from other
/// machines; then also allow the hosts and origins in the [`HttpConfig`](super::HttpConfig).
pub async fn serve(addr: SocketAddr, path: &str, service: StreamableHttpService) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_listener(listener, path, service).await
}

/// Serves on a bound listener until Ctrl-C.
pub async fn serve_listener(
    listener: TcpListener,
    path: &str,
    service: StreamableHttpService,
) -> io::Result<()> {
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve_with_shutdown(listener, path, service, shutdown).await
}

/// Serves on a bound listener until `shutdown` completes, then drains:
/// stops accepting, lets in-flight requests finish (up to 10 s), closes every
/// session (ending SSE streams) and waits for connections to close.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    path: &str,
    service: StreamableHttpService,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    serve_app(listener, path, service, None, shutdown).await
}

/// Answers for paths beside MCP's (a detailed health check, a status page):
/// given a request, its answer, or `None` to fall through to MCP's routes.
pub type ExtraRoutes =
    Arc<dyn Fn(&Request<Incoming>) -> Option<http::Response<super::McpBody>> + Send + Sync>;

/// Like [`serve_with_shutdown`], with `extra` routes tried first.
///
/// ```no_run
/// # async fn run(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// use mcp_sdk_server::http::{serve_app, ExtraRoutes, HttpConfig, McpBody, StreamableHttpService};
/// use std::sync::Arc;
///
/// let service = StreamableHttpService::new(mcp_sdk_server::Router::new(), HttpConfig::default());
/// let health: ExtraRoutes = Arc::new(|req| {
///     (req.uri().path() == "/health").then(|| {
///         http::Response::builder()
///             .header("content-type", "application/json")
///             .body(McpBody::full(r#"{"status":"healthy"}"#))
///             .unwrap()
///     })
/// });
/// serve_app(listener, "/mcp", service, Some(health), std::future::pending()).await
/// # }
/// ```
pub async fn serve_app(
    listener: TcpListener,
    path: &str,
    service: StreamableHttpService,
    extra: Option<ExtraRoutes>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    // A server that cannot serve (a router with registration mistakes)
    // stops here, before any client connects.
    service
        .inner
        .shared
        .server
        .check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // Replicas that disagree (another requestState key) stop here too.
    service
        .check_replicas()
        .await
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let path: Arc<str> = Arc::from(path);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    let config = &service.inner.config;
    let limit = ConnectionLimit::new(config.max_connections);
    let header_read_timeout = config.header_read_timeout;
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(%e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some((stream, permit)) = limit.admit(stream) else {
            continue;
        };
        // Without TCP_NODELAY an SSE event written in pieces waits ~40 ms
        // for the delayed ACK of the previous piece.
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let path = path.clone();
        let extra = extra.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let service = service.clone();
                let path = path.clone();
                let answer = extra.as_ref().and_then(|extra| extra(&req));
                async move {
                    Ok::<_, std::convert::Infallible>(match answer {
                        Some(answer) => answer,
                        None => route(&service, &path, req).await,
                    })
                }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!(%e, "connection ended with an error");
                    }
                }
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connection tasks so the set stays small.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    service.drain(DRAIN_TIMEOUT).await;
    service.shutdown();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

async fn route(
    service: &StreamableHttpService,
    path: &str,
    req: Request<Incoming>,
) -> http::Response<super::McpBody> {
    let p = req.uri().path();
    #[cfg(feature = "auth")]
    if let Some(auth) = service.resource_server() {
        if auth.is_metadata_path(p) {
            return auth.metadata_response();
        }
        if p == LEGACY_SSE_PATH || p == LEGACY_MESSAGE_PATH {
            // The old transport would skip the token check: not offered.
            return error_response(
                StatusCode::NOT_FOUND,
                &format!("Not Found: this protected MCP server is served at {path} only"),
            );
        }
    }
    if p == path {
        service.handle(req).await
    } else if p == LEGACY_SSE_PATH {
        service.handle_legacy_sse(req, LEGACY_MESSAGE_PATH)
    } else if p == LEGACY_MESSAGE_PATH {
        service.handle_legacy_message(req).await
    } else if p == "/health" {
        http::Response::new(super::McpBody::full("ok"))
    } else {
        error_response(
            StatusCode::NOT_FOUND,
            &format!("Not Found: MCP is served at {path}"),
        )
    }
}
