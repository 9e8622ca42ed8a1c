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
//! - [`history`](crate::host::history): the messages exchanged, for the
//!   History pane (each new one is also a `history` event);
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
//! | `POST /api/connect` `{url}` or `{command}`, with `era` | the state once connected; 502 with the reason |
//! | `POST /api/ping` | `{ms}`: the round trip |
//! | `GET /api/history`, `POST /api/history/clear` | `{entries, capacity}`: the JSON-RPC messages exchanged, oldest first; `{}` |
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

pub use app::{App, Connect, Options};

use self::dialogs::FormAnswer;
use self::http::{json, with_type, Allowed, ApiError, Json, Response};
use ::http::{Method, StatusCode};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_service::Service;

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
    app.web_sign_in().listening_at(addr);
    let tasks = app.start();
    let router = router(app, Arc::new(Allowed::for_addr(addr)));
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
        let router = router.clone();
        let service = service_fn(move |request: ::http::Request<Incoming>| {
            router.clone().call(request.map(axum::body::Body::new))
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

/// What every route is given: the app.
type AppState = Arc<App>;

/// The page, its assets and its API, behind [`http::guard`].
// One line a route, where it fits: a table reads better than rustfmt's
// four lines a route.
#[rustfmt::skip]
fn router(app: Arc<App>, allowed: Arc<Allowed>) -> Router {
    let asset = |content_type, text: &'static str| {
        get(move || async move { with_type(StatusCode::OK, content_type, Bytes::from(text)) })
    };
    let html = "text/html; charset=utf-8";
    Router::new()
        .route("/", asset(html, INDEX_HTML))
        .route("/index.html", asset(html, INDEX_HTML))
        .route("/app.js", asset("text/javascript; charset=utf-8", APP_JS))
        .route("/style.css", asset("text/css; charset=utf-8", STYLE_CSS))
        .route("/health", get(|| async { ok(json!({ "status": "healthy" })) }))
        .route(sign_in::CALLBACK_PATH, get(callback))
        .route("/api/events", get(events))
        .route("/api/state", read(|app| async move { Ok(app.state()) }))
        .route("/api/tools", read(|app| async move { app.tools().await }))
        .route("/api/resources", read(|app| async move { app.resources().await }))
        .route("/api/prompts", read(|app| async move { app.prompts().await }))
        .route("/api/pending", read(|app| async move { Ok(app.dialogs().pending()) }))
        .route("/api/history", read(|app| async move { Ok(app.history()) }))
        .route("/api/connect", act(|app, to: Connect| async move { app.switch(&to).await }))
        .route("/api/tools/call", act(|app, b: Named| async move {
            app.call_tool(&b.name, b.arguments).await
        }))
        .route("/api/resources/read", act(|app, b: Uri| async move { app.read(&b.uri).await }))
        .route("/api/resources/subscribe", act(|app, b: Uri| async move {
            app.subscribe(&b.uri, true).await
        }))
        .route("/api/resources/unsubscribe", act(|app, b: Uri| async move {
            app.subscribe(&b.uri, false).await
        }))
        .route("/api/prompts/get", act(|app, b: Named| async move {
            app.prompt(&b.name, b.arguments).await
        }))
        .route("/api/complete", act(|app, params| async move { app.complete(params).await }))
        .route("/api/chat", act(|app, b: Message| async move { app.chat(&b.message).await }))
        .route("/api/roots", act(|app, b: RootChange| async move {
            app.change_roots(b.add.as_deref(), b.remove.as_deref()).await
        }))
        .route("/api/chat/reset", bare(|app| async move { app.reset_chat().await; Ok(json!({})) }))
        .route("/api/reconnect", bare(|app| async move { app.reconnect(); Ok(json!({})) }))
        .route("/api/ping", bare(|app| async move { app.ping().await }))
        .route("/api/history/clear", bare(|app| async move { app.clear_history(); Ok(json!({})) }))
        .route("/api/approvals/{id}", post(approve))
        .route("/api/elicitations/{id}", post(elicit))
        .fallback(|uri: ::http::Uri| async move {
            ApiError::not_found(format!("nothing at {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: ::http::Uri| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on {}", uri.path()),
            )
        })
        .layer(axum::middleware::from_fn_with_state(allowed, http::guard))
        .with_state(app)
}

/// A GET answered with what `answer` gives from the app, as JSON.
fn read<F, A>(answer: F) -> MethodRouter<AppState>
where
    F: Fn(Arc<App>) -> A + Clone + Send + Sync + 'static,
    A: Future<Output = Result<Value, ApiError>> + Send,
{
    get(move |State(app): State<AppState>| async move { ok(answer(app).await?) })
}

/// A POST whose JSON body, as `T`, `act` does with the app; its answer as
/// JSON.
fn act<T, F, A>(act: F) -> MethodRouter<AppState>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(Arc<App>, T) -> A + Clone + Send + Sync + 'static,
    A: Future<Output = Result<Value, ApiError>> + Send,
{
    let handler = move |State(app): State<AppState>, Json(body): Json<T>| async move {
        ok(act(app, body).await?)
    };
    post(handler)
}

/// A POST without a body (the guard has checked its content type), which
/// `act` does with the app; its answer as JSON.
fn bare<F, A>(act: F) -> MethodRouter<AppState>
where
    F: Fn(Arc<App>) -> A + Clone + Send + Sync + 'static,
    A: Future<Output = Result<Value, ApiError>> + Send,
{
    post(move |State(app): State<AppState>| async move { ok(act(app).await?) })
}

/// `POST /api/approvals/{id}`: the person's answer to a sampling request.
async fn approve(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Approval>,
) -> Result<Response, ApiError> {
    app.dialogs().approve(&id, body.approve)?;
    ok(json!({}))
}

/// `POST /api/elicitations/{id}`: the person's answer to a form.
async fn elicit(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<FormAnswer>,
) -> Result<Response, ApiError> {
    app.dialogs().elicit(&id, body)?;
    ok(json!({}))
}

/// A JSON answer of 200.
fn ok(value: Value) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &value))
}

/// `GET /callback`: the authorization server's redirect back, handed to
/// the sign-in waiting for it.
async fn callback(State(app): State<AppState>, uri: ::http::Uri) -> Response {
    let target = uri
        .path_and_query()
        .map_or(sign_in::CALLBACK_PATH, |p| p.as_str());
    let refused = app.web_sign_in().complete(target).err();
    let status = match refused {
        None => StatusCode::OK,
        Some(_) => StatusCode::BAD_REQUEST,
    };
    let page = sign_in::callback_page(refused.as_ref());
    with_type(status, "text/html; charset=utf-8", Bytes::from(page))
}

/// `GET /api/events`: the state, then every event, as Server-Sent Events.
async fn events(State(app): State<AppState>) -> Response {
    let again = app.clone();
    let framed = move |app: &App| http::sse_event("state", &app.state().to_string());
    http::event_stream(app.events().stream(framed(&app), move || framed(&again)))
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
