//! The host's web UI: a page (plain HTML, CSS and JavaScript, served from
//! the binary) and the JSON API behind it, on loopback (`client web`,
//! `127.0.0.1:8080` by default).
//!
//! - [`app`]: the [`App`] behind the page: one connection to the MCP
//!   server, kept up, and what the page asks done through it;
//! - [`events`]: what is pushed to the open pages (`GET /api/events`,
//!   Server-Sent Events): the connection's state, logs, progress, list
//!   changes, resource updates, chat steps, dialogs;
//! - [`dialogs`]: sampling approvals and elicitation forms waiting for the
//!   person at the page;
//! - [`http`]: the Host and Origin checks, bodies and answers;
//! - [`sign_in`]: OAuth sign-ins from the page ("Sign in", and the
//!   authorization server's redirect back to `GET /callback`).
//!
//! The API (every answer JSON, every error `{"error": message}`):
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/state` | connection, server, model, roots, subscriptions, the session manager's servers |
//! | `GET /api/tools`, `/api/resources`, `/api/prompts`, `/api/pending` | the lists; the dialogs waiting |
//! | `POST /api/tools/call` `{name, arguments}` | `{result}` (progress as events) |
//! | `POST /api/resources/read` `{uri}`, `/subscribe`, `/unsubscribe` | `{result}`, `{subscriptions}` |
//! | `POST /api/prompts/get` `{name, arguments}`, `/api/complete` (MCP params) | `{result}`, `{completion}` |
//! | `POST /api/chat` `{message}`, `/api/chat/reset` | `{answer, toolRuns}` (steps as events), `{}` |
//! | `POST /api/approvals/{id}` `{approve}`, `/api/elicitations/{id}` `{action, content}` | `{}` |
//! | `POST /api/roots` `{add}` or `{remove}`, `/api/reconnect` | `{roots}`, `{}` |
//! | `GET /callback?code&state` (the authorization server's redirect) | an HTML page: signed in, or why not (400) |
//!
//! Nothing but the page itself may use the API: the `Host` must name this
//! server and an `Origin`, when sent, must be its own (403 otherwise), and
//! POST bodies must be `application/json`. The listening address must be
//! a loopback one: the UI has no accounts, and whoever reaches it acts as
//! the user.

pub mod app;
pub mod dialogs;
pub mod events;
pub mod http;
pub mod sign_in;

pub use app::{App, Options};

use self::dialogs::FormAnswer;
use self::http::{json, read_json, with_type, Allowed, ApiError, Response};
use ::http::{Method, Request, StatusCode};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The page and its two assets, compiled in.
const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The client application's address in the reference system.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How long a connection may take to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many connections to the UI at once (one person's browser
/// needs a handful); one more is answered 503 and closed, so a flood of
/// idle connections cannot use up the host's file descriptors.
pub const MAX_CONNECTIONS: usize = 256;

/// Binds the UI's listener; refuses an address that is not loopback
/// unless `any_address` (inside a container, whose published port arrives
/// on its network interface; the Host check still admits only loopback
/// names).
pub async fn bind(addr: SocketAddr, any_address: bool) -> std::io::Result<TcpListener> {
    if !addr.ip().is_loopback() && !any_address {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the web UI listens on loopback only (it has no login, and whoever reaches it \
                 acts as you): {addr} is not a loopback address; use 127.0.0.1 (or \
                 --any-address in a container)"
            ),
        ));
    }
    TcpListener::bind(addr).await
}

/// Serves the page and its API on `listener` with `app` until `shutdown`
/// completes; the app's connection is kept up meanwhile.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let allowed = Arc::new(Allowed::for_addr(addr));
    app.web_sign_in().listening_at(addr);
    let tasks = app.start();
    let mut connections = tokio::task::JoinSet::new();
    let limit = mcp_sdk_server::http::ConnectionLimit::new(MAX_CONNECTIONS);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some((stream, permit)) = limit.admit(stream) else {
            continue;
        };
        let (app, allowed) = (app.clone(), allowed.clone());
        let service = service_fn(move |request| {
            let (app, allowed) = (app.clone(), allowed.clone());
            async move { Ok::<_, Infallible>(handle(&app, &allowed, request).await) }
        });
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
    }
    // Open event streams never end by themselves: stop them with the rest.
    connections.shutdown().await;
    for task in tasks {
        task.abort();
    }
    Ok(())
}

/// The body of `POST /api/tools/call` and `/api/prompts/get`.
#[derive(Deserialize)]
struct Named {
    name: String,
    #[serde(default)]
    arguments: Map<String, Value>,
}

#[derive(Deserialize)]
struct Uri {
    uri: String,
}

#[derive(Deserialize)]
struct Message {
    message: String,
}

#[derive(Deserialize)]
struct Approval {
    approve: bool,
}

#[derive(Deserialize)]
struct RootChange {
    add: Option<String>,
    remove: Option<String>,
}

async fn handle(app: &Arc<App>, allowed: &Allowed, request: Request<Incoming>) -> Response {
    if let Err(e) = allowed.check(&request) {
        return e.into_response();
    }
    // Every action says it sends JSON, even one without a body: no HTML
    // form (of another site) can.
    if request.method() == Method::POST {
        if let Err(e) = http::check_json(&request) {
            return e.into_response();
        }
    }
    match route(app, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn route(app: &Arc<App>, request: Request<Incoming>) -> Result<Response, ApiError> {
    let ok = |value: Value| Ok(json(StatusCode::OK, &value));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let asset = |content_type, text: &'static str| {
        Ok(with_type(
            StatusCode::OK,
            content_type,
            Bytes::from_static(text.as_bytes()),
        ))
    };
    match (&method, path.as_str()) {
        (&Method::GET, "/" | "/index.html") => asset("text/html; charset=utf-8", INDEX_HTML),
        (&Method::GET, "/app.js") => asset("text/javascript; charset=utf-8", APP_JS),
        (&Method::GET, "/style.css") => asset("text/css; charset=utf-8", STYLE_CSS),
        (&Method::GET, "/health") => ok(json!({ "status": "healthy" })),
        (&Method::GET, sign_in::CALLBACK_PATH) => {
            let target = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or(sign_in::CALLBACK_PATH);
            let refused = app.web_sign_in().complete(target).err();
            let status = match refused {
                None => StatusCode::OK,
                Some(_) => StatusCode::BAD_REQUEST,
            };
            Ok(with_type(
                status,
                "text/html; charset=utf-8",
                Bytes::from(sign_in::callback_page(refused.as_ref())),
            ))
        }
        (&Method::GET, "/api/state") => ok(app.state()),
        (&Method::GET, "/api/events") => {
            let (first, again) = (app.clone(), app.clone());
            let framed = move |app: &App| http::sse_event("state", &app.state().to_string());
            Ok(http::event_stream(
                app.events().stream(framed(&first), move || framed(&again)),
            ))
        }
        (&Method::GET, "/api/tools") => ok(app.tools().await?),
        (&Method::GET, "/api/resources") => ok(app.resources().await?),
        (&Method::GET, "/api/prompts") => ok(app.prompts().await?),
        (&Method::GET, "/api/pending") => ok(app.dialogs().pending()),
        (&Method::POST, "/api/tools/call") => {
            let body: Named = read_json(request).await?;
            ok(app.call_tool(&body.name, body.arguments).await?)
        }
        (&Method::POST, "/api/resources/read") => {
            let body: Uri = read_json(request).await?;
            ok(app.read(&body.uri).await?)
        }
        (&Method::POST, "/api/resources/subscribe" | "/api/resources/unsubscribe") => {
            let body: Uri = read_json(request).await?;
            ok(app
                .subscribe(&body.uri, path.ends_with("/subscribe"))
                .await?)
        }
        (&Method::POST, "/api/prompts/get") => {
            let body: Named = read_json(request).await?;
            ok(app.prompt(&body.name, body.arguments).await?)
        }
        (&Method::POST, "/api/complete") => ok(app.complete(read_json(request).await?).await?),
        (&Method::POST, "/api/chat") => {
            let body: Message = read_json(request).await?;
            ok(app.chat(&body.message).await?)
        }
        (&Method::POST, "/api/chat/reset") => {
            app.reset_chat().await;
            ok(json!({}))
        }
        (&Method::POST, "/api/roots") => {
            let body: RootChange = read_json(request).await?;
            ok(app
                .change_roots(body.add.as_deref(), body.remove.as_deref())
                .await?)
        }
        (&Method::POST, "/api/reconnect") => {
            app.reconnect();
            ok(json!({}))
        }
        (&Method::POST, p) if p.starts_with("/api/approvals/") => {
            let id = &p["/api/approvals/".len()..];
            let body: Approval = read_json(request).await?;
            app.dialogs().approve(id, body.approve)?;
            ok(json!({}))
        }
        (&Method::POST, p) if p.starts_with("/api/elicitations/") => {
            let id = &p["/api/elicitations/".len()..];
            let body: FormAnswer = read_json(request).await?;
            app.dialogs().elicit(id, body)?;
            ok(json!({}))
        }
        (_, p) if is_known(p) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {p}"),
        )),
        (_, p) => Err(ApiError::not_found(format!("nothing at {p}"))),
    }
}

/// Whether `path` is one of the UI's (for 405 rather than 404).
fn is_known(path: &str) -> bool {
    matches!(
        path,
        "/" | "/index.html"
            | "/app.js"
            | "/style.css"
            | "/health"
            | "/callback"
            | "/api/state"
            | "/api/events"
            | "/api/tools"
            | "/api/resources"
            | "/api/prompts"
            | "/api/pending"
            | "/api/tools/call"
            | "/api/resources/read"
            | "/api/resources/subscribe"
            | "/api/resources/unsubscribe"
            | "/api/prompts/get"
            | "/api/complete"
            | "/api/chat"
            | "/api/chat/reset"
            | "/api/roots"
            | "/api/reconnect"
    ) || path.starts_with("/api/approvals/")
        || path.starts_with("/api/elicitations/")
}
