//! A replica that falls behind its bus (more messages came while it was
//! busy than the bus keeps for it) cannot tell which changes it missed: it
//! tells each session it holds of everything the session may have missed,
//! one resync at a time, with at most one more waiting however often it
//! falls behind meanwhile.

mod support;

use mcp_sdk::{ReadResourceResult, Resource};
use mcp_sdk_server::async_trait;
use mcp_sdk_server::bus::{InMemoryBus, MessageBus, BACKLOG};
use mcp_sdk_server::event_store::{EventStore, InMemoryEventStore, StoredEvent};
use mcp_sdk_server::http::{HttpConfig, StreamableHttpService};
use mcp_sdk_server::replicas::Replicas;
use mcp_sdk_server::session_store::{InMemorySessionStore, StoreError};
use mcp_sdk_server::{ResourceRequest, Router};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use support::{body_text, request, Sse, LIMIT};
use tokio::sync::watch;
use tokio::time::timeout;

/// An event store whose resyncs wait at a gate the test opens, counting
/// the resyncs that started (a resync's tokens are `resync.<id>:<n>`).
#[derive(Debug)]
struct Gated {
    store: InMemoryEventStore,
    open: watch::Sender<bool>,
    resyncs: Mutex<BTreeSet<String>>,
    started: watch::Sender<usize>,
}

impl Gated {
    fn new() -> Self {
        Gated {
            store: InMemoryEventStore::default(),
            open: watch::channel(false).0,
            resyncs: Mutex::default(),
            started: watch::channel(0).0,
        }
    }

    async fn until_started(&self, n: usize) {
        let mut started = self.started.subscribe();
        timeout(LIMIT, started.wait_for(|s| *s >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} resyncs start in time"))
            .unwrap();
    }
}

#[async_trait]
impl EventStore for Gated {
    async fn append(&self, stream: &str, data: &str) -> Result<String, StoreError> {
        self.store.append(stream, data).await
    }

    async fn after(
        &self,
        stream: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        self.store.after(stream, after, max).await
    }

    async fn last(&self, stream: &str) -> Result<Option<String>, StoreError> {
        self.store.last(stream).await
    }

    async fn remove(&self, stream: &str) -> Result<(), StoreError> {
        self.store.remove(stream).await
    }

    async fn append_once(
        &self,
        stream: &str,
        data: &str,
        token: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some((resync, _)) = token
            .split_once(':')
            .filter(|(r, _)| r.starts_with("resync."))
        {
            let new = self.resyncs.lock().unwrap().insert(resync.to_owned());
            self.started.send_modify(|n| *n += usize::from(new));
            let mut open = self.open.subscribe();
            let _ = open.wait_for(|open| *open).await;
        }
        self.store.append_once(stream, data, token).await
    }
}

const NOTE: &str = "note://watched";

async fn post(
    addr: SocketAddr,
    session: Option<&str>,
    body: Value,
) -> hyper::Response<hyper::body::Incoming> {
    let mut headers = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    if let Some(id) = session {
        headers.push(("mcp-session-id", id));
    }
    request(addr, "POST", &headers, &body.to_string()).await.0
}

/// The next event carrying a message, with its method.
async fn next_message(stream: &mut Sse) -> Value {
    loop {
        let event = stream.next().await.expect("the stream stays open");
        if let Some(data) = event.data {
            return data;
        }
    }
}

/// The method of a notification, and its `uri` if it has one.
fn said(message: &Value) -> (String, String) {
    let method = message["method"].as_str().unwrap_or_default().to_owned();
    let uri = message["params"]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (method, uri)
}

/// The replica's bus listener falls behind three times while the first
/// resync waits on the store: the first resync runs, one more waits and
/// runs after it (it covers the second and third lag), and each tells the
/// session of its resource list and of the URI it subscribed to. Before,
/// every lag started a resync of its own: three ran at once, and a bus
/// that kept outrunning a slow store piled up waiting tasks without bound.
#[tokio::test]
async fn a_replica_behind_its_bus_resyncs_its_sessions_one_resync_at_a_time() {
    let store = Arc::new(Gated::new());
    let bus = Arc::new(InMemoryBus::default());
    let replicas = Replicas {
        sessions: Arc::new(InMemorySessionStore::default()),
        events: store.clone(),
        bus: bus.clone(),
    };
    let (mut stream, _conn) = subscribed_session(replicas).await;

    for round in 1..=3 {
        // In one go, before the replica's listener runs again (this
        // runtime has one thread): it falls behind. Then a change from
        // another replica, which it hears after the lag.
        for _ in 0..BACKLOG + 8 {
            bus.publish("the messages of other sessions");
        }
        bus.publish(&json!({"origin": "elsewhere", "kind": "prompts", "seq": round}).to_string());
        let heard = next_message(&mut stream).await;
        assert_eq!(
            said(&heard).0,
            "notifications/prompts/list_changed",
            "round {round}: {heard}"
        );
        store.until_started(1).await;
    }
    assert_eq!(
        *store.started.borrow(),
        1,
        "one resync at a time: the others wait"
    );

    store.open.send_replace(true);
    let mut heard = Vec::new();
    while heard.len() < 4 {
        heard.push(said(&next_message(&mut stream).await));
    }
    store.until_started(2).await;
    let list = (
        "notifications/resources/list_changed".to_owned(),
        String::new(),
    );
    let note = (
        "notifications/resources/updated".to_owned(),
        NOTE.to_owned(),
    );
    assert_eq!(
        heard,
        [list.clone(), note.clone(), list, note],
        "the resync that ran, then the one that waited"
    );
    assert_eq!(*store.started.borrow(), 2, "one waited for the three lags");
}

/// A replica of `replicas` serving a session that subscribed to [`NOTE`],
/// and the session's standalone stream (with the connection that holds
/// it open).
async fn subscribed_session(replicas: Replicas) -> (Sse, tokio::task::JoinHandle<()>) {
    let router = Router::new().with_list_changed().resource(
        Resource::new(NOTE, "A note"),
        |r: ResourceRequest| async move {
            Ok::<_, mcp_sdk::Error>(ReadResourceResult::text(r.uri, "text/plain", "v"))
        },
    );
    let config = HttpConfig {
        replicas: Some(replicas),
        ..HttpConfig::default()
    };
    let service = StreamableHttpService::new(router, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener, "/mcp", service,
    ));

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "resync-test", "version": "1"}}});
    let opened = post(addr, None, init).await;
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    body_text(opened).await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(addr, Some(&session), initialized).await.status(), 202);
    let subscribe = json!({"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe",
        "params": {"uri": NOTE}});
    let answer = body_text(post(addr, Some(&session), subscribe).await).await;
    assert!(answer.contains("\"result\""), "{answer}");
    let (get, conn) = request(
        addr,
        "GET",
        &[
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        "",
    )
    .await;
    (Sse::new(get), conn)
}

/// A bus that lost messages on the way (a Redis subscription that went
/// down and came back) says so through [`MessageBus::gaps`]; the replica
/// cannot know what it missed and resyncs its sessions, as after falling
/// behind.
#[tokio::test]
async fn a_replica_whose_bus_lost_messages_resyncs_its_sessions() {
    #[derive(Debug)]
    struct Lossy(InMemoryBus, watch::Sender<u64>);
    impl MessageBus for Lossy {
        fn publish(&self, message: &str) {
            self.0.publish(message)
        }
        fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<str>> {
            self.0.subscribe()
        }
        fn gaps(&self) -> watch::Receiver<u64> {
            self.1.subscribe()
        }
    }
    let bus = Arc::new(Lossy(InMemoryBus::default(), watch::Sender::new(0)));
    let replicas = Replicas {
        sessions: Arc::new(InMemorySessionStore::default()),
        events: Arc::new(InMemoryEventStore::default()),
        bus: bus.clone(),
    };
    let (mut stream, _conn) = subscribed_session(replicas).await;
    bus.1.send_modify(|gaps| *gaps += 1);
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let message = timeout(LIMIT, next_message(&mut stream))
            .await
            .expect("the resync reaches the session in time");
        heard.push(said(&message));
    }
    assert_eq!(
        heard,
        [
            (
                "notifications/resources/list_changed".to_owned(),
                String::new()
            ),
            (
                "notifications/resources/updated".to_owned(),
                NOTE.to_owned()
            ),
        ],
        "the session is told of everything it may have missed"
    );
}
