//! Three gateways (`session_manager --redis-url`) sharing Redis behind a
//! real load balancer (HAProxy, round-robin, no stickiness; see
//! tests/support/haproxy.rs), in front of the resources server and the
//! conformance server: one session served by all three, its resource
//! subscription, its relayed elicitation and sampling, its `DELETE`, a
//! replica killed in the middle of it, Redis killed and started again under
//! them (a `redis-server` of the test's own, tests/support/own_redis.rs),
//! the per-session subscription limit, the subscription keys going with
//! their sessions, and list changes heard by one replica reaching the
//! sessions of the others.

mod support;

use mcp_sdk::{
    CallToolResult, ClientCapabilities, ContentBlock, CreateMessageParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationCapability, Error,
    ResourceUpdatedNotificationParams, SamplingCapability,
};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, RequestContext};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::haproxy::{Balancer, HealthCheck};
use support::own_redis::OwnRedis;
use support::raw_session::{assert_store_gone, RawSession as Raw};
use support::{
    http_client_in, http_server, redis_url, unique_prefix, HttpServer, TempDir, PATIENCE,
};

/// The upstream client: answers elicitations as "gw-user", sampling with
/// a fixed text, and records the resource updates and list changes it
/// hears.
#[derive(Clone, Default)]
struct Host {
    updated: Arc<Mutex<Vec<String>>>,
    /// `tools`, `prompts` or `resources`, for each list change heard.
    lists: Arc<Mutex<Vec<&'static str>>>,
}

#[async_trait]
impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
            .with_sampling(SamplingCapability::default())
            .with_elicitation(ElicitationCapability::default().with_form())
    }

    async fn elicit(
        &self,
        _params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        let answer = json!({"username": "gw-user", "email": "gw@example.com"});
        Ok(ElicitResult::accept(answer.as_object().unwrap().clone()))
    }

    async fn create_message(
        &self,
        _params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        Ok(CreateMessageResult::text("fake-llm", "A replica summary."))
    }

    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        self.updated.lock().unwrap().push(params.uri);
    }

    async fn on_tool_list_changed(&self) {
        self.lists.lock().unwrap().push("tools");
    }

    async fn on_prompt_list_changed(&self) {
        self.lists.lock().unwrap().push("prompts");
    }

    async fn on_resource_list_changed(&self) {
        self.lists.lock().unwrap().push("resources");
    }
}

impl Host {
    fn heard(&self) -> usize {
        self.updated.lock().unwrap().len()
    }

    /// How many updates of `uri` it heard.
    fn heard_of(&self, uri: &str) -> usize {
        self.updated
            .lock()
            .unwrap()
            .iter()
            .filter(|u| *u == uri)
            .count()
    }

    /// How many changes of the `list` list it heard.
    fn changes(&self, list: &str) -> usize {
        self.lists
            .lock()
            .unwrap()
            .iter()
            .filter(|l| **l == list)
            .count()
    }
}

/// Three gateway replicas behind HAProxy, the servers they front, and the
/// files they need.
struct Replicas {
    balancer: Balancer,
    gateways: Vec<Option<HttpServer>>,
    /// The `--redis-prefix` they share.
    prefix: String,
    _servers: Vec<HttpServer>,
    _dir: TempDir,
}

impl Replicas {
    /// Starts them, or gives `None` when HAProxy is missing (and the test
    /// is not required to run).
    async fn start(test: &str, url: &str) -> Option<Replicas> {
        Self::start_with(test, url, &[]).await
    }

    /// Like [`start`](Self::start), with `extra` arguments for each
    /// gateway.
    async fn start_with(test: &str, url: &str, extra: &[&str]) -> Option<Replicas> {
        let dir = TempDir::new("gateway-replicas");
        let files = dir.0.join("files");
        std::fs::create_dir_all(&files).unwrap();
        let resources = http_server("resources_server", &["--dir", files.to_str().unwrap()]).await;
        let conformance = http_server("conformance_server", &[]).await;
        let config = format!(
            r#"
call_timeout_secs = 20

[[server]]
name = "resources"
url = "{}"
era = "session"

[[server]]
name = "conf"
url = "{}"
era = "session"
"#,
            resources.url, conformance.url
        );
        let config = dir.write("gateway.toml", config.as_bytes());
        let key = dir.write("key", b"gateway-replicas-secret-0123456789abcdef\n");
        let prefix = unique_prefix(test);
        let mut gateways = Vec::new();
        for _ in 0..3 {
            let args = [
                "--config",
                config.to_str().unwrap(),
                "--redis-url",
                url,
                "--redis-prefix",
                &prefix,
                "--request-state-key-file",
                key.to_str().unwrap(),
            ];
            let args: Vec<&str> = args.iter().chain(extra).copied().collect();
            gateways.push(http_server("session_manager", &args).await);
        }
        let backends: Vec<_> = gateways.iter().map(HttpServer::addr).collect();
        let balancer = Balancer::start(test, &backends, HealthCheck::Tcp).await?;
        Some(Replicas {
            balancer,
            gateways: gateways.into_iter().map(Some).collect(),
            prefix,
            _servers: vec![resources, conformance],
            _dir: dir,
        })
    }

    async fn client(&self) -> (Client, Host) {
        let host = Host::default();
        let client = http_client_in(Era::SessionOnly, &self.balancer.mcp_url(), host.clone()).await;
        assert!(!client.is_stateless());
        (client, host)
    }

    /// The replicas still running, with their `GET /health`.
    async fn healths(&self) -> Vec<(usize, Value)> {
        let mut healths = Vec::new();
        for (i, gateway) in self.gateways.iter().enumerate() {
            if let Some(gateway) = gateway {
                healths.push((i, support::health(&gateway.base).await));
            }
        }
        healths
    }

    /// The replicas whose connection to the resources server watches a
    /// URI for the subscribed sessions.
    async fn watching(&self) -> Vec<usize> {
        self.healths()
            .await
            .into_iter()
            .filter(|(_, health)| {
                health["downstream"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["name"] == "resources" && d["watching"] == 1)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

async fn call(client: &Client, name: &str, args: Value) -> Result<CallToolResult, ClientError> {
    tokio::time::timeout(PATIENCE, client.call_tool(name, args))
        .await
        .expect("an answer in time")
}

fn text(result: &CallToolResult) -> String {
    match result.content.first() {
        Some(ContentBlock::Text(text)) => text.text.clone(),
        other => panic!("not text: {other:?}"),
    }
}

/// Writes `text` every half second until `host` hears a change, for at
/// most [`PATIENCE`]: whether one was heard. For writes that may race a
/// lease's takeover, whose own subscription is what makes them heard.
async fn write_until_heard(client: &Client, host: &Host, text: &str) -> bool {
    let before = host.heard();
    tokio::time::timeout(PATIENCE, async {
        loop {
            write_note(client, text).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            if host.heard() > before {
                return;
            }
        }
    })
    .await
    .is_ok()
}

async fn write_note(client: &Client, text: &str) {
    write_named(client, "watched", text).await
}

/// Writes the note `name` (`notes://{name}`, listed from then on).
async fn write_named(client: &Client, name: &str, text: &str) {
    let result = call(
        client,
        "resources__write_note",
        json!({"name": name, "text": text}),
    )
    .await
    .expect("write_note through the replicas");
    assert_ne!(result.is_error, Some(true), "{result:?}");
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const WATCHED: &str = "notes://watched";

/// Our client in the session era through HAProxy (each request to the
/// next replica): its calls are served by all three; the conformance
/// server's elicitation and sampling, asked through the replica running the
/// call, are answered by POSTs that land on the others; its subscription,
/// taken through one replica, is watched downstream by exactly one and
/// each change is heard exactly once; and `DELETE` through any replica
/// ends the session on all, its subscription with it.
#[tokio::test]
async fn a_session_is_served_by_three_gateway_replicas() {
    let test = "a_session_is_served_by_three_gateway_replicas";
    let Some(url) = redis_url(test) else { return };
    let Some(replicas) = Replicas::start(test, &url).await else {
        return;
    };
    let log = || replicas.balancer.log();
    let (client, host) = replicas.client().await;

    for i in 0..6 {
        let answer = call(&client, "conf__test_simple_text", json!({}))
            .await
            .unwrap_or_else(|e| panic!("call {i} of the session: {e}\n{}", log()));
        assert_eq!(text(&answer), "This is a simple text response for testing.");
    }

    for i in 0..3 {
        let message = format!("Who are you ({i})?");
        let answer = call(
            &client,
            "conf__test_elicitation",
            json!({"message": message}),
        )
        .await
        .unwrap_or_else(|e| panic!("an elicitation across replicas: {e}\n{}", log()));
        let said = text(&answer);
        assert!(
            said.contains("accept") && said.contains("gw-user"),
            "{said}"
        );
        let answer = call(&client, "conf__test_sampling", json!({"prompt": "Sum up"}))
            .await
            .unwrap_or_else(|e| panic!("a sampling across replicas: {e}\n{}", log()));
        assert_eq!(text(&answer), "LLM response: A replica summary.");
    }

    // A stateless client's elicitation: the retry carrying the answer
    // reaches another replica, which opens the requestState the first one
    // sealed (they share the key).
    let stateless = http_client_in(
        Era::StatelessOnly,
        &replicas.balancer.mcp_url(),
        Host::default(),
    )
    .await;
    assert!(stateless.is_stateless());
    for i in 0..2 {
        let message = format!("Stateless, who are you ({i})?");
        let answer = call(
            &stateless,
            "conf__test_elicitation",
            json!({"message": message}),
        )
        .await
        .unwrap_or_else(|e| panic!("a stateless elicitation across replicas: {e}\n{}", log()));
        assert!(text(&answer).contains("gw-user"), "{}", text(&answer));
    }

    write_note(&client, "first").await;
    client.subscribe(WATCHED).await.expect("the subscription");
    // Exactly one replica watches it downstream, whichever took the
    // subscription.
    let watching = replicas.watching().await;
    assert_eq!(watching.len(), 1, "{watching:?}");
    for (n, text) in ["second", "third", "fourth"].into_iter().enumerate() {
        write_note(&client, text).await;
        eventually("the subscribed session hears of the change", || async {
            host.heard() > n
        })
        .await;
        // Once: a second replica telling it too would show by now, as the
        // next change is heard after this one.
        assert_eq!(host.heard(), n + 1, "{:?}", host.updated.lock().unwrap());
    }
    assert!(host.updated.lock().unwrap().iter().all(|u| u == WATCHED));

    // Unsubscribed: the replica that watched stops, and nothing more is
    // heard.
    client.unsubscribe(WATCHED).await.expect("unsubscribed");
    eventually("no replica watches the URI any more", || async {
        replicas.watching().await.is_empty()
    })
    .await;
    assert_eq!(host.heard(), 3, "{:?}", host.updated.lock().unwrap());

    // Subscribed again, then DELETE (our client's close) through the next
    // replica: the session is gone on every replica, and so is its
    // subscription.
    client.subscribe(WATCHED).await.expect("subscribed again");
    assert_eq!(replicas.watching().await.len(), 1);
    client.close().await;
    eventually("the deleted session's subscription ends", || async {
        replicas.watching().await.is_empty()
    })
    .await;
    let heard = host.heard();
    let (other, other_host) = replicas.client().await;
    write_note(&other, "after the end").await;
    assert_eq!(host.heard(), heard);
    assert_eq!(other_host.heard(), 0, "not subscribed");
    other.close().await;
}

/// A raw session-era request to one replica (not through the balancer):
/// the HTTP status.
async fn raw_status(http: &reqwest::Client, replica: &HttpServer, session: &str) -> u16 {
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"});
    http.post(&replica.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string())
        .send()
        .await
        .expect("the replica answers")
        .status()
        .as_u16()
}

/// A session opened through the balancer with raw requests (so that its
/// id is known), deleted through one replica: every replica then answers
/// it with 404, and a second `DELETE` on another is 404 too.
#[tokio::test]
async fn delete_through_one_gateway_replica_ends_the_session_on_all() {
    let test = "delete_through_one_gateway_replica_ends_the_session_on_all";
    let Some(url) = redis_url(test) else { return };
    let Some(replicas) = Replicas::start(test, &url).await else {
        return;
    };
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let answer = http
        .post(replicas.balancer.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let session = answer.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let gateways: Vec<&HttpServer> = replicas.gateways.iter().flatten().collect();
    for gateway in &gateways {
        assert_eq!(raw_status(&http, gateway, &session).await, 200);
    }
    let deleted = http
        .delete(&gateways[1].url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    for gateway in &gateways {
        let gone = tokio::time::timeout(PATIENCE, async {
            while raw_status(&http, gateway, &session).await != 404 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(gone.is_ok(), "the session still answers on {}", gateway.url);
    }
    let again = http
        .delete(&gateways[2].url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

/// SIGKILL of the replica that watches the session's subscription, while
/// the client's GET stream is open: the client goes on through the other
/// two (once HAProxy has seen the replica go), its GET stream resumes on
/// one of them, another replica takes the subscription over (the dead
/// one's lease runs out), and the client hears every change from then on,
/// each once.
#[tokio::test]
async fn a_killed_gateway_replica_loses_no_session_nor_subscription() {
    let test = "a_killed_gateway_replica_loses_no_session_nor_subscription";
    let Some(url) = redis_url(test) else { return };
    let Some(mut replicas) = Replicas::start(test, &url).await else {
        return;
    };
    let (client, host) = replicas.client().await;
    write_note(&client, "first").await;
    client.subscribe(WATCHED).await.expect("the subscription");
    write_note(&client, "second").await;
    eventually("the subscribed session hears of the change", || async {
        host.heard() == 1
    })
    .await;

    let watching = replicas.watching().await;
    assert_eq!(watching.len(), 1, "{watching:?}");
    let victim = watching[0];
    let mut killed = replicas.gateways[victim].take().unwrap();
    killed.child.start_kill().expect("SIGKILL");
    killed.child.wait().await.unwrap();

    // HAProxy sends requests to the dead replica until its checks fail;
    // the session's calls then go to the other two.
    eventually("HAProxy sees the replica go", || async {
        replicas.balancer.log().contains("is DOWN")
    })
    .await;
    for i in 0..4 {
        let answer = call(&client, "conf__test_simple_text", json!({}))
            .await
            .unwrap_or_else(|e| {
                panic!("call {i} after the kill: {e}\n{}", replicas.balancer.log())
            });
        assert_eq!(text(&answer), "This is a simple text response for testing.");
    }
    let answer = call(
        &client,
        "conf__test_elicitation",
        json!({"message": "Still there?"}),
    )
    .await
    .expect("an elicitation after the kill");
    assert!(text(&answer).contains("gw-user"));

    // Another replica takes the URI over once the dead one's lease is out.
    eventually("a live replica watches the URI", || async {
        replicas.watching().await.len() == 1
    })
    .await;
    // Its downstream subscription is acknowledged before it counts as
    // watching, so from here every change is heard; the first writes may
    // race the takeover's own subscribe, so write until one is heard.
    let heard = write_until_heard(&client, &host, "after the kill").await;
    assert!(heard, "no change heard after the kill");
    let now = host.heard();
    for (n, text) in ["fifth", "sixth"].into_iter().enumerate() {
        write_note(&client, text).await;
        eventually("each change after the takeover", || async {
            host.heard() > now + n
        })
        .await;
        assert_eq!(host.heard(), now + n + 1, "once each");
    }
    client.close().await;
}

/// Bad starts: Redis unreachable (an error naming REDIS_URL, its password
/// masked), no shared `requestState` key, `--redis-url` beside the config
/// file's `[replicas]`, a bad `--redis-prefix`, and a subscription limit of
/// 0: each stops the gateway with status 2 and says why.
#[test]
fn a_gateway_replica_refuses_a_bad_start_clearly() {
    let dir = TempDir::new("gateway-replicas-bad");
    let key = dir.write("key", b"gateway-replicas-secret-0123456789abcdef\n");
    let key = key.to_str().unwrap();
    let config = dir.write(
        "gateway.toml",
        b"[replicas]\nredis_url = \"redis://127.0.0.1:1\"\n\n[[server]]\nname = \"x\"\nurl = \"http://127.0.0.1:1/mcp\"\n",
    );
    let config = config.to_str().unwrap();
    let unreachable = "redis://:s3cret@127.0.0.1:1";
    let cases: [(&[&str], &str); 5] = [
        (
            &["--redis-url", unreachable, "--request-state-key-file", key],
            "cannot reach Redis at REDIS_URL redis://:***@127.0.0.1:1",
        ),
        (
            &["--redis-url", unreachable],
            "replicas need the requestState key they share",
        ),
        (
            &[
                "--config",
                config,
                "--redis-url",
                unreachable,
                "--request-state-key-file",
                key,
            ],
            "[replicas] and --redis-url both",
        ),
        (
            &[
                "--redis-url",
                unreachable,
                "--redis-prefix",
                "a b",
                "--request-state-key-file",
                key,
            ],
            "--redis-prefix",
        ),
        (
            &["--max-subscriptions-per-session", "0"],
            "invalid value '0' for '--max-subscriptions-per-session <N>'",
        ),
    ];
    for (args, why) in cases {
        let out = std::process::Command::new(support::example("session_manager"))
            .args(["--http", "127.0.0.1:0"])
            .args(args)
            .env_remove("MCP_REQUEST_STATE_KEY")
            .output()
            .expect("the example runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(!stderr.contains("s3cret"), "{args:?}: {stderr}");
    }
}

/// What the gateway says when its shared subscriptions are out of reach.
const SUBSCRIPTIONS_GONE: &str =
    "the subscriptions shared by the gateway's replicas cannot be reached (Redis: ";

/// Asserts that every gateway replica still runs (none died of a fault).
fn assert_alive(replicas: &mut Replicas) {
    for (i, gateway) in replicas.gateways.iter_mut().enumerate() {
        if let Some(gateway) = gateway {
            let exited = gateway.child.try_wait().expect("the replica's status");
            assert!(exited.is_none(), "replica {i} exited: {exited:?}");
        }
    }
}

/// Redis killed mid-session under three gateway replicas behind HAProxy (a
/// `redis-server` of the test's own, without persistence, as in
/// tests/replica_faults.rs), then started again, empty, on the same port:
/// - while it is gone, each request that needs it is refused within the
///   hang guard, saying why: a new session gets the 503 naming the shared
///   session store, through every replica; the live session's
///   `resources/subscribe` gets a JSON-RPC error naming the gateway's
///   shared subscriptions and Redis (or, on a replica without a copy of
///   the session, that 503);
/// - once it is back, by themselves: the old session, which Redis forgot,
///   is 404 on every replica (the client is told its session expired, as
///   docs/deployment.md promises: clients re-initialize); a new session
///   opens through the balancer, is served by all three, and its new
///   subscription is watched by exactly one replica and heard once per
///   change; no replica died.
#[tokio::test]
async fn gateway_replicas_fail_clearly_without_redis_then_recover_by_themselves() {
    let test = "gateway_replicas_fail_clearly_without_redis_then_recover_by_themselves";
    let Some(mut redis) = OwnRedis::start(test).await else {
        return;
    };
    let Some(mut replicas) = Replicas::start(test, &redis.url()).await else {
        return;
    };
    let url = replicas.balancer.mcp_url();
    let (client, host) = replicas.client().await;
    write_named(&client, "other", "another note").await;
    write_note(&client, "first").await;
    client.subscribe(WATCHED).await.expect("the subscription");
    write_note(&client, "second").await;
    eventually("the subscribed session hears of the change", || async {
        host.heard() == 1
    })
    .await;
    let raw = Raw::initialize(&url).await.expect("a raw session");

    redis.kill().await;
    for i in 0..3 {
        // Three in a row: one to each replica.
        let refused = Raw::initialize(&url).await.err().unwrap_or_else(|| {
            panic!("a session without Redis ({i})\n{}", replicas.balancer.log())
        });
        assert_store_gone(&refused, "initialize without Redis");
    }
    for i in 0..3 {
        let refused = tokio::time::timeout(PATIENCE, client.subscribe("notes://other"))
            .await
            .expect("an answer in time, not a hang");
        match refused {
            Err(ClientError::Server(e)) => {
                assert!(e.message.contains(SUBSCRIPTIONS_GONE), "{i}: {e:?}")
            }
            Err(ClientError::Http { status, message }) => {
                assert_store_gone(&(status, message), "a subscription without Redis")
            }
            other => panic!(
                "a subscription without Redis ({i}): {other:?}\n{}",
                replicas.balancer.log()
            ),
        }
    }
    assert_alive(&mut replicas);

    redis.restart().await;
    eventually("a new session once Redis is back", || async {
        Raw::initialize(&url).await.is_ok()
    })
    .await;
    // Redis forgot the old session: every replica says so once it next
    // checks its copy (a replica holding one answers until then).
    let gateways: Vec<String> = replicas
        .gateways
        .iter()
        .flatten()
        .map(|g| g.url.clone())
        .collect();
    for gateway in &gateways {
        eventually("a replica forgets the session Redis lost", || async {
            match raw.request(gateway, "tools/list", json!({})).await.0 {
                200 => false,
                404 => true,
                other => panic!("the old session on {gateway}: {other}"),
            }
        })
        .await;
    }
    // So is our client's session: it is told so, once the replica its
    // call reaches has checked its copy.
    eventually("the client learns its session expired", || async {
        match call(&client, "conf__test_simple_text", json!({})).await {
            Ok(_) => false,
            Err(ClientError::SessionExpired(_)) => true,
            Err(e) => panic!("the old session's call: {e:?}"),
        }
    })
    .await;
    client.close().await;

    // A new session works through all three, and so does its subscription.
    let (client, host) = replicas.client().await;
    for i in 0..6 {
        let answer = call(&client, "conf__test_simple_text", json!({}))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "call {i} after the restart: {e}\n{}",
                    replicas.balancer.log()
                )
            });
        assert_eq!(text(&answer), "This is a simple text response for testing.");
    }
    write_note(&client, "third").await;
    client
        .subscribe(WATCHED)
        .await
        .expect("a subscription after the restart");
    eventually("one replica watches the URI again", || async {
        replicas.watching().await.len() == 1
    })
    .await;
    for (n, text) in ["fourth", "fifth"].into_iter().enumerate() {
        write_note(&client, text).await;
        eventually("each change after the restart", || async {
            host.heard() > n
        })
        .await;
        assert_eq!(host.heard(), n + 1, "once each");
    }
    client.close().await;
    assert_alive(&mut replicas);
}

/// `--max-subscriptions-per-session 2` on three replicas behind HAProxy:
/// a session's subscriptions count together whichever replica took them;
/// a third URI is refused with an invalid-params error naming the limit
/// and the flag, while subscribing again to one it holds is no new
/// subscription; once it leaves one, it may take another. A second session
/// has a limit of its own.
#[tokio::test]
async fn a_session_may_hold_so_many_subscriptions_across_gateway_replicas() {
    let test = "a_session_may_hold_so_many_subscriptions_across_gateway_replicas";
    let Some(url) = redis_url(test) else { return };
    let limit = ["--max-subscriptions-per-session", "2"];
    let Some(replicas) = Replicas::start_with(test, &url, &limit).await else {
        return;
    };
    let (client, _host) = replicas.client().await;
    for name in ["a", "b", "c"] {
        write_named(&client, name, name).await;
    }
    // Each through the next replica.
    client.subscribe("notes://a").await.expect("the first");
    client.subscribe("notes://b").await.expect("the second");
    client
        .subscribe("notes://a")
        .await
        .expect("the first again");
    for i in 0..3 {
        match client.subscribe("notes://c").await {
            Err(ClientError::Server(e)) => {
                assert_eq!(e.code, mcp_sdk::ErrorCode::INVALID_PARAMS, "{e:?}");
                assert!(
                    e.message.contains("subscribed to 2 resources already")
                        && e.message.contains("--max-subscriptions-per-session"),
                    "{e:?}"
                );
            }
            other => panic!("a third subscription ({i}): {other:?}"),
        }
    }
    client.unsubscribe("notes://a").await.expect("unsubscribed");
    client
        .subscribe("notes://c")
        .await
        .expect("room for another");

    let (other, _) = replicas.client().await;
    other
        .subscribe("notes://a")
        .await
        .expect("another session's own");
    other
        .subscribe("notes://c")
        .await
        .expect("another session's own");
    other.close().await;
    client.close().await;
}

/// How many keys match `pattern` in `redis`.
async fn keys(redis: &OwnRedis, pattern: &str) -> usize {
    let reply = redis.command(&["KEYS", pattern]).await.expect("KEYS");
    // An array's header: `*N`.
    reply
        .strip_prefix('*')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("KEYS {pattern}: {reply}"))
}

/// The integer a Redis command answers (`:N`).
async fn integer(redis: &OwnRedis, args: &[&str]) -> i64 {
    let reply = redis.command(args).await.expect("a Redis command");
    reply
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: {reply}"))
}

/// The gateway's subscription keys in Redis go with the sessions they are
/// for, and bear a TTL meanwhile:
/// - a session subscribed through replica 0 (the only one to know it took
///   the subscription), replica 0 killed, the session deleted through
///   replica 1: the replica that takes the URI over finds the session gone
///   and the keys go (the URI's subscribers, the session's URIs, the
///   subscribed hash, the lease);
/// - a session subscribed through replica 1 and then left alone past the
///   idle timeout (`--session-idle-minutes 0.1`): its keys go too.
#[tokio::test]
async fn gateway_subscription_keys_go_with_their_sessions() {
    let test = "gateway_subscription_keys_go_with_their_sessions";
    let Some(redis) = OwnRedis::start(test).await else {
        return;
    };
    let idle = ["--session-idle-minutes", "0.1"];
    let Some(mut replicas) = Replicas::start_with(test, &redis.url(), &idle).await else {
        return;
    };
    let urls: Vec<String> = replicas
        .gateways
        .iter()
        .flatten()
        .map(|g| g.url.clone())
        .collect();
    let all = format!("{}:gateway:*", replicas.prefix);
    let subscribers = format!("{}:gateway:subscribers:{WATCHED}", replicas.prefix);
    let subscribe = json!({"uri": WATCHED});
    let (client, _) = replicas.client().await;
    write_note(&client, "first").await;
    client.close().await;

    let doomed = Raw::initialize(&urls[0])
        .await
        .expect("a session on replica 0");
    let answer = doomed
        .request(&urls[0], "resources/subscribe", subscribe.clone())
        .await;
    assert_eq!(answer.0, 200, "{answer:?}");
    assert!(!answer.1.contains("\"error\""), "{answer:?}");
    let session_key = format!("{}:gateway:subscriptions:{}", replicas.prefix, doomed.id);
    assert_eq!(integer(&redis, &["SCARD", &subscribers]).await, 1);
    assert_eq!(integer(&redis, &["SCARD", &session_key]).await, 1);
    for key in [
        &subscribers,
        &session_key,
        &format!("{}:gateway:subscribed", replicas.prefix),
    ] {
        let ttl = integer(&redis, &["PTTL", key]).await;
        assert!(ttl > 0, "{key} has no TTL: {ttl}");
    }
    let mut killed = replicas.gateways[0].take().unwrap();
    killed.child.start_kill().expect("SIGKILL");
    killed.child.wait().await.unwrap();
    assert_eq!(doomed.delete(&urls[1]).await, 200);
    eventually("the deleted session's keys go", || async {
        keys(&redis, &all).await == 0
    })
    .await;

    let idle = Raw::initialize(&urls[1])
        .await
        .expect("a session on replica 1");
    let answer = idle
        .request(&urls[1], "resources/subscribe", subscribe)
        .await;
    assert_eq!(answer.0, 200, "{answer:?}");
    assert_eq!(integer(&redis, &["SCARD", &subscribers]).await, 1);
    eventually("an idle session's keys go", || async {
        keys(&redis, &all).await == 0
    })
    .await;
    assert_alive(&mut replicas);
}

/// A list change that only one gateway replica hears (the conformance
/// server's `test_trigger_tool_change` and `test_trigger_prompt_change`
/// tell the session that called them, here replica 1's downstream
/// connection) reaches a session whose replica is another (replica 0),
/// and the caller's session, each once; a stateless client's
/// `subscriptions/listen` stream on replica 2 hears it too.
#[tokio::test]
async fn a_list_change_heard_by_one_gateway_replica_reaches_the_sessions_of_all() {
    let test = "a_list_change_heard_by_one_gateway_replica_reaches_the_sessions_of_all";
    let Some(url) = redis_url(test) else { return };
    let Some(replicas) = Replicas::start(test, &url).await else {
        return;
    };
    let urls: Vec<String> = replicas
        .gateways
        .iter()
        .flatten()
        .map(|g| g.url.clone())
        .collect();
    // A replica announces that every list changed when it reaches a
    // downstream server (the gateway serves before it does): those of the
    // start are over before the sessions open.
    eventually("every replica reaches both servers", || async {
        let healths = replicas.healths().await;
        healths.iter().all(|(_, h)| h["status"] == "healthy")
    })
    .await;
    let far = Host::default();
    let far_client = http_client_in(Era::SessionOnly, &urls[0], far.clone()).await;
    let near = Host::default();
    let caller = http_client_in(Era::SessionOnly, &urls[1], near.clone()).await;
    let listener = http_client_in(Era::StatelessOnly, &urls[2], Host::default()).await;
    let filter = mcp_sdk::SubscriptionFilter::default()
        .with_tools_list_changed(true)
        .with_prompts_list_changed(true);
    let mut listening = support::listen(&listener, filter).await;

    let mut expected = [("tools", 0), ("prompts", 0)];
    for (n, (tool, list)) in [
        ("conf__test_trigger_tool_change", "tools"),
        ("conf__test_trigger_prompt_change", "prompts"),
        ("conf__test_trigger_tool_change", "tools"),
        ("conf__test_trigger_prompt_change", "prompts"),
    ]
    .into_iter()
    .enumerate()
    {
        let want = expected.iter_mut().find(|(l, _)| *l == list).unwrap();
        want.1 += 1;
        let want = want.1;
        let answer = call(&caller, tool, json!({})).await.expect("the trigger");
        assert_ne!(answer.is_error, Some(true), "{answer:?}");
        eventually(
            "the session on another replica hears the change",
            || async { far.changes(list) >= want && near.changes(list) >= want },
        )
        .await;
        let heard = tokio::time::timeout(PATIENCE, listening.next())
            .await
            .expect("the listener hears it in time")
            .expect("the stream goes on");
        assert_eq!(
            heard.method,
            format!("notifications/{list}/list_changed"),
            "{n}"
        );
        // Once each: a second copy of an earlier change would show by now,
        // as this one is heard after it.
        for (list, want) in expected {
            assert_eq!(
                (far.changes(list), near.changes(list)),
                (want, want),
                "{n}: {:?} {:?}",
                far.lists.lock().unwrap(),
                near.lists.lock().unwrap()
            );
        }
    }
    far_client.close().await;
    caller.close().await;
}

/// Redis killed under three gateway replicas and started again with all it
/// had (an append-only file written at every command): the session goes
/// on, and so does the resource subscription it took before, without a
/// new `resources/subscribe`: the replicas' rounds take the URI's lease
/// again (one replica watches it), and the client hears every change from
/// then on, each once. (Changes while Redis is gone are not heard: the
/// subscribers cannot be read.)
#[tokio::test]
async fn a_gateway_subscription_outlives_a_redis_restart_that_keeps_its_data() {
    let test = "a_gateway_subscription_outlives_a_redis_restart_that_keeps_its_data";
    let data = TempDir::new("gateway-redis-aof");
    let Some(mut redis) = OwnRedis::start_persistent(test, &data.0).await else {
        return;
    };
    let Some(mut replicas) = Replicas::start(test, &redis.url()).await else {
        return;
    };
    let (client, host) = replicas.client().await;
    write_note(&client, "first").await;
    client.subscribe(WATCHED).await.expect("the subscription");
    write_note(&client, "second").await;
    eventually("the subscribed session hears of the change", || async {
        host.heard() == 1
    })
    .await;

    redis.kill().await;
    let refused = tokio::time::timeout(PATIENCE, client.subscribe("notes://watched-too"))
        .await
        .expect("an answer in time, not a hang");
    assert!(
        refused.is_err(),
        "a subscription without Redis: {refused:?}"
    );
    // Gone longer than a lease, so that every lease has run out when it is
    // back: the URI must be taken over, not merely renewed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    redis.restart().await;
    for i in 0..3 {
        let answer = call(&client, "conf__test_simple_text", json!({}))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "call {i} after the restart: {e}\n{}",
                    replicas.balancer.log()
                )
            });
        assert_eq!(text(&answer), "This is a simple text response for testing.");
    }
    eventually("one replica watches the URI again", || async {
        replicas.watching().await.len() == 1
    })
    .await;
    // The first writes may race the lease's takeover (a replica whose
    // lease ran out while Redis was gone gives the URI up to whichever
    // takes it first): write until one is heard.
    let heard = write_until_heard(&client, &host, "after the restart").await;
    assert!(heard, "no change heard after the restart");
    // Those writes' changes may still be on their way (the client's GET
    // stream, cut while Redis was gone, replays what it missed once it is
    // back). A URI subscribed now (watched downstream before the answer)
    // marks the end: its change reaches the session's stream after
    // theirs, so once it is heard, they all are.
    write_named(&client, "marker", "listed").await;
    client
        .subscribe("notes://marker")
        .await
        .expect("a new subscription");
    write_named(&client, "marker", "changed").await;
    eventually("the marker's change", || async {
        host.heard_of("notes://marker") == 1
    })
    .await;
    let now = host.heard_of(WATCHED);
    for (n, text) in ["fifth", "sixth"].into_iter().enumerate() {
        write_note(&client, text).await;
        eventually("each change after the restart", || async {
            host.heard_of(WATCHED) > now + n
        })
        .await;
        assert_eq!(host.heard_of(WATCHED), now + n + 1, "once each");
    }
    client.close().await;
    assert_alive(&mut replicas);
}
