//! System tests of the database server: the `database_server` example as a
//! real child process, driven by our client over stdio and Streamable HTTP,
//! against a real SQLite file (always) and the real PostgreSQL named by
//! `DATABASE_URL` (when it is a postgres:// URL).

mod support;

use mcp_sdk::{CallToolResult, ErrorCode, ResourceUpdatedNotificationParams, SubscriptionFilter};
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, Era, Subscription};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::{http_client_in, http_server, stdio_client_in, HttpServer, TempDir, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const SERVER: &str = "database_server";

/// Every scenario runs in both eras: sessions (`initialize`) and stateless
/// requests (2026-07-28).
const ERAS: [Era; 2] = [Era::SessionOnly, Era::StatelessOnly];

impl TempDir {
    fn db(&self) -> String {
        self.0.join("sample.db").to_string_lossy().into_owned()
    }
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    tokio::time::timeout(PATIENCE, client.call_tool(tool, args))
        .await
        .expect("an answer in time")
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

/// The structured content of a successful call.
async fn ok(client: &Client, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args.clone()).await;
    assert!(!r.is_error(), "{tool} {args} failed: {:?}", r.content);
    r.structured_content.expect("structured content")
}

/// The message of a failed call (`isError: true`).
async fn refused(client: &Client, tool: &str, args: Value) -> String {
    let r = call(client, tool, args.clone()).await;
    assert!(
        r.is_error(),
        "{tool} {args} should have failed: {:?}",
        r.structured_content
    );
    r.content[0].as_text().unwrap().to_owned()
}

async fn count(client: &Client, table: &str) -> i64 {
    let out = ok(
        client,
        "query",
        json!({"sql": format!("SELECT count(*) AS n FROM {table}")}),
    )
    .await;
    out["rows"][0][0].as_i64().unwrap()
}

fn tool_names(tools: &[mcp_sdk::Tool]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

/// GET `base/path` over a fresh connection: status and body.
async fn http_get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// Hears `notifications/resources/list_changed` and
/// `notifications/resources/updated` (from a session, or from a
/// `subscriptions/listen` stream, whose notifications reach the handler too).
#[derive(Default)]
struct ListChanges {
    listed: Notify,
    updated: Mutex<Vec<String>>,
    any_update: Notify,
}

#[async_trait]
impl ClientHandler for ListChanges {
    async fn on_resource_list_changed(&self) {
        self.listed.notify_one();
    }

    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParams) {
        self.updated.lock().unwrap().push(params.uri);
        self.any_update.notify_one();
    }
}

impl ListChanges {
    async fn hear_list_changed(&self) {
        tokio::time::timeout(PATIENCE, self.listed.notified())
            .await
            .expect("resources/list_changed");
    }

    /// Waits until `uri` was announced as updated.
    async fn hear_updated(&self, uri: &str) {
        tokio::time::timeout(PATIENCE, async {
            while !self.updated.lock().unwrap().iter().any(|u| u == uri) {
                self.any_update.notified().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("resources/updated for {uri}"));
    }
}

/// Asks to hear of changes to the tables and to the schemas `uris`, the way
/// the connection's era has: `resources/subscribe` in a session (list
/// changes come unasked), a `subscriptions/listen` stream in the stateless
/// era (open while the returned subscription lives).
async fn watch(client: &Client, uris: &[&str]) -> Option<Subscription> {
    if !client.is_stateless() {
        for uri in uris {
            client.subscribe(uri).await.unwrap();
        }
        return None;
    }
    let filter = SubscriptionFilter::default()
        .with_resources_list_changed(true)
        .with_resource_subscriptions(uris.iter().map(|u| u.to_string()).collect());
    let sub = tokio::time::timeout(PATIENCE, client.listen(filter))
        .await
        .expect("the acknowledgement in time")
        .unwrap();
    Some(sub)
}

// ---------------------------------------------------------------- SQLite

#[tokio::test]
async fn sqlite_sample_database_over_stdio() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        let client = stdio_client_in(era, SERVER, &["--database-url", &db], ()).await;

        // Read-only: three tools, no execute; resources follow the tables.
        let tools = client.list_all_tools().await.unwrap();
        assert_eq!(
            tool_names(&tools),
            ["list_tables", "describe_table", "query"]
        );
        let query_tool = tools.iter().find(|t| t.name == "query").unwrap();
        assert!(query_tool.output_schema.is_some());
        assert!(query_tool
            .description
            .as_deref()
            .unwrap()
            .contains("SQLite"));

        let tables = ok(&client, "list_tables", json!({})).await;
        let names: Vec<&str> = tables["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["customers", "orders", "products"]);
        assert_eq!(tables["tables"][0]["uri"], "db://table/customers/schema");
        assert_eq!(tables["tables"][0]["kind"], "table");

        let customers = ok(&client, "describe_table", json!({"table": "customers"})).await;
        assert_eq!(customers["primaryKey"], json!(["id"]));
        let cols = customers["columns"].as_array().unwrap();
        let col = |name: &str| cols.iter().find(|c| c["name"] == name).unwrap().clone();
        assert_eq!(col("id")["type"], "INTEGER");
        assert_eq!(col("id")["primaryKey"], true);
        assert_eq!(col("id")["nullable"], false);
        assert_eq!(col("email")["nullable"], false);
        assert_eq!(col("city")["nullable"], true);
        let orders = ok(&client, "describe_table", json!({"table": "orders"})).await;
        let fks = orders["foreignKeys"].as_array().unwrap();
        assert!(fks.contains(&json!({"column": "customer_id", "referencesTable": "customers", "referencesColumn": "id"})), "{fks:?}");

        // A join with bound parameters; SQL types become JSON types.
        let out = ok(
        &client,
        "query",
        json!({
            "sql": "SELECT c.name, p.price, p.in_stock, o.quantity, c.city FROM orders o \
                    JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.product_id \
                    WHERE c.id = ? AND o.quantity >= ? ORDER BY o.id",
            "params": [1, 1]
        }),
    )
    .await;
        assert_eq!(
            out["columns"],
            json!(["name", "price", "in_stock", "quantity", "city"])
        );
        assert_eq!(
            out["rows"],
            json!([
                ["Ada Lovelace", 89.5, true, 1, "London"],
                ["Ada Lovelace", 34.0, false, 2, "London"]
            ])
        );
        assert_eq!(out["rowCount"], 2);
        assert_eq!(out["truncated"], false);
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT NULL AS empty, x'00ff' AS bytes, 1.5 AS half, 'text' AS t"}),
        )
        .await;
        assert_eq!(out["rows"][0], json!([null, "\\x00ff", 1.5, "text"]));

        // No rows still names the columns.
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT id, name FROM customers WHERE id < 0"}),
        )
        .await;
        assert_eq!(out["columns"], json!(["id", "name"]));
        assert_eq!(out["rows"], json!([]));

        // Resources: one per table and the query table's app page, and the
        // template; reading one gives its schema.
        let resources = client.list_all_resources().await.unwrap();
        let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "db://table/customers/schema",
                "db://table/orders/schema",
                "db://table/products/schema",
                "ui://database/query-table"
            ]
        );
        let templates = client.list_all_resource_templates().await.unwrap();
        assert_eq!(templates[0].uri_template, "db://table/{name}/schema");
        let read = client
            .read_resource("db://table/products/schema")
            .await
            .unwrap();
        let schema: Value = serde_json::from_str(read.contents[0].as_text().unwrap()).unwrap();
        assert_eq!(schema["name"], "products");
        assert_eq!(schema["columns"].as_array().unwrap().len(), 5);
        match client
            .read_resource("db://table/no_such_table/schema")
            .await
        {
            // 2026-07-28 numbers it -32602.
            Err(ClientError::Server(e)) => assert_eq!(
                e.code,
                match era {
                    Era::StatelessOnly => ErrorCode::INVALID_PARAMS,
                    _ => ErrorCode::RESOURCE_NOT_FOUND,
                }
            ),
            other => panic!("expected resource not found, got {other:?}"),
        }
        client.close().await;
    }
}

#[tokio::test]
async fn sqlite_read_only_server_refuses_writes_over_http() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        let server = http_server(SERVER, &["--database-url", &db]).await;
        let client = http_client_in(era, &server.url, ()).await;

        // Caught by the statement check.
        let e = refused(&client, "query", json!({"sql": "DELETE FROM customers"})).await;
        assert!(e.contains("does not run DELETE"), "{e}");
        let e = refused(
            &client,
            "query",
            json!({"sql": "ATTACH DATABASE 'other.db' AS other"}),
        )
        .await;
        assert!(e.contains("does not run ATTACH"), "{e}");
        let e = refused(
            &client,
            "query",
            json!({"sql": "SELECT 1; DROP TABLE customers"}),
        )
        .await;
        assert!(e.contains("2 statements"), "{e}");
        let e = refused(
            &client,
            "query",
            json!({"sql": "SELECT 1 /* ; */; DELETE FROM orders; -- x"}),
        )
        .await;
        assert!(e.contains("2 statements"), "{e}");
        // Past the check (it begins with WITH), stopped by the read-only connection.
        let e = refused(
        &client,
        "query",
        json!({"sql": "WITH n AS (SELECT 'Mallory' AS name) INSERT INTO customers (name, email, created_at) \
                       SELECT name, 'm@example.com', 'now' FROM n"}),
    )
    .await;
        assert!(e.contains("read-only") || e.contains("readonly"), "{e}");
        // execute is not offered and is refused clearly.
        let tools = client.list_all_tools().await.unwrap();
        assert!(!tool_names(&tools).contains(&"execute"));
        match client
            .call_tool("execute", json!({"sql": "DELETE FROM customers"}))
            .await
        {
            Err(ClientError::Server(e)) => {
                assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
                assert!(e.message.contains("--allow-writes"), "{}", e.message);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!client
            .server_capabilities()
            .resources
            .as_ref()
            .unwrap()
            .list_changed
            .unwrap_or(false));
        // A read-only server never changes its tables: a stateless listener
        // is told it will not hear of that (only schema updates).
        if let Some(sub) = watch(&client, &["db://table/customers/schema"]).await {
            assert_eq!(sub.acknowledged().resources_list_changed, None);
            assert_eq!(
                sub.acknowledged().resource_subscriptions,
                Some(vec!["db://table/customers/schema".to_owned()])
            );
        }
        // Nothing changed.
        assert_eq!(count(&client, "customers").await, 5);
        assert_eq!(count(&client, "orders").await, 8);

        let (status, body) = http_get(&server.base, "/health").await;
        assert_eq!(status, 200);
        let health: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["status"], "healthy");
        assert_eq!(health["serverId"], "4");
        assert_eq!(health["capabilities"], json!(["database"]));
        client.close().await;
    }
}

#[tokio::test]
async fn sqlite_parameters_are_bound_not_spliced() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        let client = stdio_client_in(era, SERVER, &["--database-url", &db], ()).await;
        let evil = "'; DROP TABLE customers; --";
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT * FROM customers WHERE name = ?", "params": [evil]}),
        )
        .await;
        assert_eq!(out["rowCount"], 0);
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT ? AS v", "params": [evil]}),
        )
        .await;
        assert_eq!(out["rows"][0][0], evil);
        assert_eq!(count(&client, "customers").await, 5);
        // All JSON kinds bind; arrays and objects as their JSON text.
        let out = ok(
        &client,
        "query",
        json!({"sql": "SELECT ?1, ?2, ?3, ?4, ?5, json_extract(?6, '$.a')", "params": [null, true, 7, 2.5, "s", {"a": 1}]}),
    )
    .await;
        assert_eq!(out["rows"][0], json!([null, 1, 7, 2.5, "s", 1]));
        // Too few values for the placeholders.
        let e = refused(
            &client,
            "query",
            json!({"sql": "SELECT ?, ?", "params": [1]}),
        )
        .await;
        assert!(e.contains("2 placeholder(s) but 1 value(s)"), "{e}");
        let e = refused(&client, "query", json!({"sql": "SELECT 1", "params": [1]})).await;
        assert!(e.contains("0 placeholder(s) but 1 value(s)"), "{e}");
        client.close().await;
    }
}

#[tokio::test]
async fn sqlite_bad_arguments_are_tool_errors() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        let client = stdio_client_in(era, SERVER, &["--database-url", &db], ()).await;
        for (tool, args) in [
            ("query", json!({"sql": 5})),
            ("query", json!({})),
            (
                "query",
                json!({"sql": "SELECT 1", "params": "not an array"}),
            ),
            ("query", json!({"sql": "SELECT 1", "limit": 0})),
            ("query", json!({"sql": "SELECT 1", "limit": 5000})),
            ("query", json!({"sql": "SELECT 1", "limit": "ten"})),
            ("query", json!({"sql": "SELECT 1", "unexpected": true})),
            ("query", json!({"sql": ""})),
            ("describe_table", json!({"table": 7})),
            ("describe_table", json!({})),
        ] {
            let e = refused(&client, tool, args.clone()).await;
            assert!(e.contains("Invalid arguments"), "{tool} {args}: {e}");
        }
        let e = refused(&client, "describe_table", json!({"table": "no_such_table"})).await;
        assert!(
            e.contains("No table or view named \"no_such_table\""),
            "{e}"
        );
        let e = refused(
            &client,
            "query",
            json!({"sql": "SELECT * FROM no_such_table"}),
        )
        .await;
        assert!(e.contains("no such table"), "{e}");
        let e = refused(&client, "query", json!({"sql": "SELECT 'unterminated"})).await;
        assert!(e.contains("unterminated"), "{e}");
        let e = refused(&client, "query", json!({"sql": "  -- just a comment"})).await;
        assert!(e.contains("empty"), "{e}");
        match client.call_tool("no_such_tool", json!({})).await {
            Err(ClientError::Server(e)) => assert_eq!(e.code, ErrorCode::INVALID_PARAMS),
            other => panic!("expected an unknown-tool error, got {other:?}"),
        }
        client.close().await;
    }
}

#[tokio::test]
async fn sqlite_row_limit_and_truncation() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        let client = stdio_client_in(era, SERVER, &["--database-url", &db], ()).await;
        let series = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) SELECT i FROM s";
        let out = ok(&client, "query", json!({"sql": series})).await;
        assert_eq!(out["rowCount"], 100);
        assert_eq!(out["truncated"], true);
        assert!(out["note"].as_str().unwrap().contains("more than 100 rows"));
        assert_eq!(out["rows"][99], json!([100]));
        let out = ok(&client, "query", json!({"sql": series, "limit": 1000})).await;
        assert_eq!(out["rowCount"], 500);
        assert_eq!(out["truncated"], false);
        assert!(out.get("note").is_none());
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT id FROM customers ORDER BY id", "limit": 5}),
        )
        .await;
        assert_eq!(out["truncated"], false);
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT id FROM customers ORDER BY id", "limit": 4}),
        )
        .await;
        assert_eq!(out["truncated"], true);
        assert_eq!(out["rows"], json!([[1], [2], [3], [4]]));
        client.close().await;
    }
}

#[tokio::test]
async fn sqlite_runaway_query_is_stopped_at_the_time_limit() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        let client = stdio_client_in(
            era,
            SERVER,
            &["--database-url", &db, "--statement-timeout-ms", "300"],
            (),
        )
        .await;
        let endless =
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s) SELECT count(*) FROM s";
        let e = refused(&client, "query", json!({"sql": endless})).await;
        assert!(e.contains("300 ms time limit"), "{e}");
        // The connection is fine afterwards.
        assert_eq!(count(&client, "customers").await, 5);
        client.close().await;
    }
}

#[tokio::test]
async fn sqlite_writes_when_allowed_over_http() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        let server = http_server(SERVER, &["--database-url", &db, "--allow-writes"]).await;
        let changes = Arc::new(ListChanges::default());
        let client = http_client_in(era, &server.url, changes.clone()).await;
        let tools = client.list_all_tools().await.unwrap();
        assert_eq!(
            tool_names(&tools),
            ["list_tables", "describe_table", "query", "execute"]
        );
        assert_eq!(
            client
                .server_capabilities()
                .resources
                .as_ref()
                .unwrap()
                .list_changed,
            Some(true)
        );

        let out = ok(
        &client,
        "execute",
        json!({"sql": "INSERT INTO customers (name, email, city, created_at) VALUES (?, ?, ?, ?)",
               "params": ["Katherine Johnson", "katherine@example.com", null, "2024-05-01T00:00:00Z"]}),
    )
    .await;
        assert_eq!(out["rowsAffected"], 1);
        assert_eq!(out["lastInsertId"], 6);
        let out = ok(&client, "execute", json!({"sql": "UPDATE products SET price = price * ? WHERE category = ?", "params": [2, "hardware"]})).await;
        assert_eq!(out["rowsAffected"], 2);
        assert!(out.get("lastInsertId").is_none(), "{out}");
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT price FROM products WHERE id = 1"}),
        )
        .await;
        assert_eq!(out["rows"][0][0], 179.0);
        // A constraint violation is a tool error, and changes nothing.
        let e = refused(&client, "execute", json!({"sql": "INSERT INTO orders (customer_id, product_id, quantity, ordered_at) VALUES (1, 1, 0, 'x')"})).await;
        assert!(e.contains("CHECK constraint failed"), "{e}");

        // DDL: the new table becomes a resource, and the client hears of it.
        let _watching = watch(&client, &[]).await;
        let out = ok(
            &client,
            "execute",
            json!({"sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"}),
        )
        .await;
        // Not the counts the UPDATE before it left on the connection.
        assert_eq!(out, json!({"rowsAffected": 0}));
        changes.hear_list_changed().await;
        let uris: Vec<String> = client
            .list_all_resources()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.uri)
            .collect();
        assert!(
            uris.contains(&"db://table/notes/schema".to_owned()),
            "{uris:?}"
        );

        // Still one statement per call, of a writing kind; query stays read-only.
        let e = refused(
            &client,
            "execute",
            json!({"sql": "DELETE FROM notes; DROP TABLE customers"}),
        )
        .await;
        assert!(e.contains("2 statements"), "{e}");
        for sql in [
            "ATTACH DATABASE 'x.db' AS x",
            "PRAGMA writable_schema = ON",
            "BEGIN",
            "SELECT 1",
        ] {
            let e = refused(&client, "execute", json!({"sql": sql})).await;
            assert!(e.contains("does not run"), "{sql}: {e}");
        }
        let e = refused(
            &client,
            "query",
            json!({"sql": "WITH x AS (SELECT 1) DELETE FROM customers"}),
        )
        .await;
        assert!(e.contains("read-only") || e.contains("readonly"), "{e}");
        assert_eq!(count(&client, "customers").await, 6);
        client.close().await;
    }
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Stdio,
    Http,
}

/// A client of a fresh server over `via` in `era`, and the HTTP server
/// process, if any, which lives as long as it is kept.
async fn start(
    via: Via,
    era: Era,
    args: &[&str],
    handler: impl ClientHandler,
) -> (Client, Option<HttpServer>) {
    match via {
        Via::Stdio => (stdio_client_in(era, SERVER, args, handler).await, None),
        Via::Http => {
            let server = http_server(SERVER, args).await;
            let client = http_client_in(era, &server.url, handler).await;
            (client, Some(server))
        }
    }
}

#[tokio::test]
async fn schema_changes_are_announced_in_both_eras_over_stdio_and_http() {
    const CUSTOMERS: &str = "db://table/customers/schema";
    for via in [Via::Stdio, Via::Http] {
        for era in ERAS {
            let dir = TempDir::new("database-test");
            let db = dir.db();
            let changes = Arc::new(ListChanges::default());
            let (client, _server) = start(
                via,
                era,
                &["--database-url", &db, "--allow-writes"],
                changes.clone(),
            )
            .await;
            assert_eq!(client.is_stateless(), era == Era::StatelessOnly);
            let mut sub = watch(&client, &[CUSTOMERS]).await;
            if let Some(sub) = &sub {
                assert_eq!(sub.acknowledged().resources_list_changed, Some(true));
                assert_eq!(
                    sub.acknowledged().resource_subscriptions,
                    Some(vec![CUSTOMERS.to_owned()])
                );
            }

            // An altered table: its schema's subscribers hear of it.
            ok(
                &client,
                "execute",
                json!({"sql": "ALTER TABLE customers ADD COLUMN nickname TEXT"}),
            )
            .await;
            changes.hear_updated(CUSTOMERS).await;
            if let Some(sub) = &mut sub {
                let n = tokio::time::timeout(PATIENCE, sub.next())
                    .await
                    .unwrap()
                    .expect("a notification on the stream");
                assert_eq!(n.method, "notifications/resources/updated", "{via:?}");
                assert_eq!(n.params.unwrap()["uri"], CUSTOMERS);
            }
            let read = client.read_resource(CUSTOMERS).await.unwrap();
            assert!(
                read.contents[0].as_text().unwrap().contains("nickname"),
                "{via:?} {era:?}"
            );

            // A new table: the list changed.
            ok(
                &client,
                "execute",
                json!({"sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY)"}),
            )
            .await;
            changes.hear_list_changed().await;
            let resources = client.list_all_resources().await.unwrap();
            assert!(resources.iter().any(|r| r.uri == "db://table/notes/schema"));
            // Only what was asked for: no news of tables nobody watches.
            assert!(
                changes
                    .updated
                    .lock()
                    .unwrap()
                    .iter()
                    .all(|u| u == CUSTOMERS),
                "{via:?} {era:?}: {:?}",
                changes.updated.lock().unwrap()
            );
            client.close().await;
        }
    }
}

#[tokio::test]
async fn sqlite_existing_database_is_not_seeded_and_types_map() {
    for era in ERAS {
        let dir = TempDir::new("database-test");
        let db = dir.db();
        {
            use sqlx::sqlite::SqliteConnectOptions;
            use sqlx::ConnectOptions;
            let mut conn = SqliteConnectOptions::new()
                .filename(&db)
                .create_if_missing(true)
                .connect()
                .await
                .unwrap();
            sqlx::raw_sql(
            "CREATE TABLE \"odd name\" (k TEXT PRIMARY KEY, flag BOOLEAN, data BLOB, amount NUMERIC, ratio REAL);
             INSERT INTO \"odd name\" VALUES ('a', 1, x'cafe', 12.5, 0.25), ('b', 0, NULL, 3, NULL);
             CREATE VIEW flagged AS SELECT k FROM \"odd name\" WHERE flag;",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        }
        let client = stdio_client_in(
            era,
            SERVER,
            &["--database-url", &format!("sqlite://{db}")],
            (),
        )
        .await;
        let tables = ok(&client, "list_tables", json!({})).await;
        assert_eq!(
            tables["tables"],
            json!([
                {"name": "flagged", "kind": "view", "uri": "db://table/flagged/schema"},
                {"name": "odd name", "kind": "table", "uri": "db://table/odd%20name/schema"}
            ])
        );
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT * FROM \"odd name\" ORDER BY k"}),
        )
        .await;
        assert_eq!(
            out["rows"],
            json!([
                ["a", true, "\\xcafe", 12.5, 0.25],
                ["b", false, null, 3, null]
            ])
        );
        let read = client
            .read_resource("db://table/odd%20name/schema")
            .await
            .unwrap();
        let schema: Value = serde_json::from_str(read.contents[0].as_text().unwrap()).unwrap();
        assert_eq!(schema["primaryKey"], json!(["k"]));
        let view = ok(&client, "describe_table", json!({"table": "flagged"})).await;
        assert_eq!(view["kind"], "view");
        client.close().await;
    }
}

#[tokio::test]
async fn without_a_url_the_sample_goes_to_the_user_data_directory() {
    if cfg!(windows) || cfg!(target_os = "macos") {
        return; // the data directory is elsewhere there
    }
    let dir = TempDir::new("database-test");
    let mut command = tokio::process::Command::new(support::example(SERVER));
    command
        .arg("--stdio")
        .env_remove("DATABASE_URL")
        .env("XDG_DATA_HOME", &dir.0)
        .env("HOME", &dir.0);
    let transport = mcp_sdk_client::transport::ChildProcess::spawn(&mut command).unwrap();
    let client = tokio::time::timeout(PATIENCE, Client::connect(transport))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count(&client, "orders").await, 8);
    assert!(dir
        .0
        .join("mcp-reference")
        .join("database-sample.db")
        .is_file());
    client.close().await;
}

#[tokio::test]
async fn bad_database_urls_stop_the_server_with_a_message() {
    let dir = TempDir::new("database-test");
    let missing = dir.0.join("missing.db").to_string_lossy().into_owned();
    let no_dir = dir
        .0
        .join("no/such/dir/x.db")
        .to_string_lossy()
        .into_owned();
    for (args, expect) in [
        (
            vec!["--database-url", "mysql://root@localhost/db"],
            "Unsupported DATABASE_URL",
        ),
        (vec!["--database-url", "sqlite::memory:"], "in-memory"),
        (
            vec!["--database-url", &missing, "--no-seed"],
            "does not exist",
        ),
        (vec!["--database-url", &no_dir], "Could not open"),
        (
            vec!["--database-url", "postgres://nobody@127.0.0.1:1/none"],
            "Could not connect to PostgreSQL",
        ),
    ] {
        let out = tokio::time::timeout(
            PATIENCE,
            tokio::process::Command::new(support::example(SERVER))
                .args(&args)
                .arg("--stdio")
                .output(),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}

// ------------------------------------------------------------ PostgreSQL

/// `DATABASE_URL` if it names a PostgreSQL database.
fn postgres_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Some(url),
        _ => {
            println!("SKIPPED: DATABASE_URL not set");
            None
        }
    }
}

/// A schema of its own in the shared database, dropped at the end.
struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    async fn create(url: &str, ddl: &str) -> PgSchema {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "mcp_db_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let schema = PgSchema {
            url: url.to_owned(),
            name,
        };
        let mut conn = schema.connect().await;
        let sql = format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}; SET search_path = {0}; {ddl}",
            schema.name
        );
        sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
        schema
    }

    async fn connect(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.url).await.unwrap()
    }

    /// The server's URL: the same database, with this schema first on the
    /// search path.
    fn server_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let mut conn = self.connect().await;
        let q = format!("SET search_path = {}", self.name);
        sqlx::raw_sql(&q).execute(&mut conn).await.unwrap();
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

const PG_SCHEMA: &str = r#"
CREATE TABLE authors (
    id integer PRIMARY KEY,
    name text NOT NULL,
    born date,
    tags text[] NOT NULL DEFAULT '{}'
);
CREATE TABLE books (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id integer NOT NULL REFERENCES authors(id),
    title varchar(200) NOT NULL,
    price numeric(10,2) NOT NULL,
    published timestamptz,
    ref uuid,
    meta jsonb,
    in_print boolean NOT NULL DEFAULT true
);
CREATE VIEW cheap_books AS SELECT title, price FROM books WHERE price < 20;
CREATE SEQUENCE tickets;
CREATE FUNCTION add_author(n text) RETURNS integer LANGUAGE sql AS
    'INSERT INTO authors (id, name) VALUES (99, n) RETURNING id';
INSERT INTO authors VALUES
    (1, 'Ursula K. Le Guin', '1929-10-21', '{sf,fantasy}'),
    (2, 'Italo Calvino', '1923-10-15', '{}');
INSERT INTO books (author_id, title, price, published, ref, meta, in_print) VALUES
    (1, 'The Dispossessed', 15.99, '1974-05-01 12:00:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"pages": 387}', true),
    (1, 'The Lathe of Heaven', 12.50, NULL, NULL, NULL, false),
    (2, 'Invisible Cities', 21.00, '1972-11-01 00:00:00+00', NULL, '{"pages": 165, "translated": true}', true);
"#;

#[tokio::test]
async fn postgres_reads_types_and_resources_over_stdio() {
    let Some(url) = postgres_url() else { return };
    for era in ERAS {
        let schema = PgSchema::create(&url, PG_SCHEMA).await;
        let server_url = schema.server_url();
        let client = stdio_client_in(era, SERVER, &["--database-url", &server_url], ()).await;

        let tables = ok(&client, "list_tables", json!({})).await;
        let ours: Vec<(&str, &str)> = tables["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["schema"] == schema.name.as_str())
            .map(|t| (t["name"].as_str().unwrap(), t["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(
            ours,
            [
                ("authors", "table"),
                ("books", "table"),
                ("cheap_books", "view")
            ]
        );

        let books = ok(&client, "describe_table", json!({"table": "books"})).await;
        assert_eq!(books["primaryKey"], json!(["id"]));
        let cols = books["columns"].as_array().unwrap();
        let col = |name: &str| cols.iter().find(|c| c["name"] == name).unwrap().clone();
        assert_eq!(col("price")["type"], "numeric(10,2)");
        assert_eq!(col("title")["type"], "character varying(200)");
        assert_eq!(col("published")["nullable"], true);
        assert_eq!(col("in_print")["default"], "true");
        assert_eq!(col("id")["primaryKey"], true);
        assert_eq!(
            books["foreignKeys"],
            json!([{"column": "author_id", "referencesTable": "authors", "referencesColumn": "id"}])
        );
        // Schema-qualified names work too.
        let qualified = ok(
            &client,
            "describe_table",
            json!({"table": format!("{}.authors", schema.name)}),
        )
        .await;
        assert_eq!(qualified["name"], "authors");

        let out = ok(
        &client,
        "query",
        json!({
            "sql": "SELECT b.id, b.title, b.price, b.published, b.ref, b.meta, b.in_print, a.born, a.tags \
                    FROM books b JOIN authors a ON a.id = b.author_id WHERE a.name = $1 AND b.price > $2 ORDER BY b.id",
            "params": ["Ursula K. Le Guin", 10]
        }),
    )
    .await;
        assert_eq!(
            out["columns"],
            json!([
                "id",
                "title",
                "price",
                "published",
                "ref",
                "meta",
                "in_print",
                "born",
                "tags"
            ])
        );
        assert_eq!(out["columnTypes"][2], "NUMERIC");
        assert_eq!(
            out["rows"],
            json!([
                [1, "The Dispossessed", 15.99, "1974-05-01T12:00:00Z", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                 {"pages": 387}, true, "1929-10-21", ["sf", "fantasy"]],
                [2, "The Lathe of Heaven", 12.5, null, null, null, false, "1929-10-21", ["sf", "fantasy"]]
            ])
        );
        let out = ok(
        &client,
        "query",
        json!({"sql": "SELECT 1.5::float8 AS f, 12345678901234567890::numeric AS big, interval '1 day 2 hours' AS i, \
                       '{{1,2},{3,NULL}}'::int[] AS m, '\\xcafe'::bytea AS b, $1::date AS d, NULL AS n",
               "params": ["2024-02-29"]}),
    )
    .await;
        assert_eq!(
            out["rows"][0],
            json!([
                1.5,
                "12345678901234567890",
                "P1DT2H",
                [[1, 2], [3, null]],
                "\\xcafe",
                "2024-02-29",
                null
            ])
        );
        // No rows still names the columns, and a NULL parameter takes the type it needs.
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT id, title FROM books WHERE author_id = $1", "params": [null]}),
        )
        .await;
        assert_eq!(out["columns"], json!(["id", "title"]));
        assert_eq!(out["rowCount"], 0);
        // Typed by its JSON value the parameter runs; untyped, PostgreSQL cannot
        // describe it, so the (empty) result has no column names, but no error.
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT id FROM books WHERE $1 IS NULL", "params": ["x"]}),
        )
        .await;
        assert_eq!(out["rowCount"], 0);
        let out = ok(
            &client,
            "query",
            json!({"sql": "SELECT title FROM cheap_books ORDER BY title", "limit": 1}),
        )
        .await;
        assert_eq!(out["rows"], json!([["The Dispossessed"]]));
        assert_eq!(out["truncated"], true);

        let resources = client.list_all_resources().await.unwrap();
        assert!(resources.iter().any(|r| r.uri == "db://table/books/schema"));
        let read = client
            .read_resource("db://table/authors/schema")
            .await
            .unwrap();
        let s: Value = serde_json::from_str(read.contents[0].as_text().unwrap()).unwrap();
        assert_eq!(s["columns"][3]["type"], "text[]");
        client.close().await;
    }
}

#[tokio::test]
async fn postgres_read_only_transaction_refuses_what_the_check_lets_through() {
    let Some(url) = postgres_url() else { return };
    for era in ERAS {
        let schema = PgSchema::create(&url, PG_SCHEMA).await;
        let server_url = schema.server_url();
        let client = stdio_client_in(
            era,
            SERVER,
            &[
                "--database-url",
                &server_url,
                "--statement-timeout-ms",
                "300",
            ],
            (),
        )
        .await;

        // The statement check.
        let e = refused(&client, "query", json!({"sql": "DELETE FROM books"})).await;
        assert!(e.contains("does not run DELETE"), "{e}");
        let e = refused(
            &client,
            "query",
            json!({"sql": "SELECT 1; DROP TABLE books"}),
        )
        .await;
        assert!(e.contains("2 statements"), "{e}");
        let e = refused(
            &client,
            "query",
            json!({"sql": "SELECT $$;$$; SET TRANSACTION READ WRITE"}),
        )
        .await;
        assert!(e.contains("2 statements"), "{e}");
        // The READ ONLY transaction: a data-modifying WITH, a writing function,
        // a sequence, SELECT INTO.
        for sql in [
            "WITH gone AS (DELETE FROM books RETURNING id) SELECT count(*) FROM gone",
            "SELECT add_author('Mallory')",
            "SELECT nextval('tickets')",
            "SELECT * INTO stolen FROM books",
            "EXPLAIN ANALYZE DELETE FROM books",
        ] {
            let e = refused(&client, "query", json!({"sql": sql})).await;
            assert!(
                e.contains("read-only transaction") || e.contains("READ ONLY"),
                "{sql}: {e}"
            );
        }
        // Bound, not spliced.
        let out = ok(&client, "query", json!({"sql": "SELECT id FROM authors WHERE name = $1", "params": ["'; DROP TABLE authors; --"]})).await;
        assert_eq!(out["rowCount"], 0);
        // Wrong parameter types are the database's error, told to the model.
        let e = refused(
        &client,
        "query",
        json!({"sql": "SELECT id FROM books WHERE published > $1", "params": ["yesterday-ish"]}),
    )
    .await;
        assert!(e.contains("Database error"), "{e}");
        let e = refused(
            &client,
            "query",
            json!({"sql": "SELECT * FROM no_such_table"}),
        )
        .await;
        assert!(e.contains("does not exist"), "{e}");
        // The statement time limit.
        let e = refused(&client, "query", json!({"sql": "SELECT pg_sleep(5)"})).await;
        assert!(e.contains("300 ms time limit"), "{e}");
        // Still serving, nothing changed.
        assert_eq!(count(&client, "books").await, 3);
        assert_eq!(schema.scalar("SELECT count(*) FROM authors").await, 2);
        assert_eq!(
            schema
                .scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'stolen'")
                .await,
            0
        );
        client.close().await;
    }
}

#[tokio::test]
async fn postgres_writes_when_allowed_over_http() {
    let Some(url) = postgres_url() else { return };
    for era in ERAS {
        let schema = PgSchema::create(&url, PG_SCHEMA).await;
        let server_url = schema.server_url();
        let server = http_server(SERVER, &["--database-url", &server_url, "--allow-writes"]).await;
        let changes = Arc::new(ListChanges::default());
        let client = http_client_in(era, &server.url, changes.clone()).await;
        let _watching = watch(&client, &["db://table/books/schema"]).await;

        let out = ok(
        &client,
        "execute",
        json!({"sql": "INSERT INTO books (author_id, title, price, published) VALUES ($1, $2, $3::numeric, $4::timestamptz)",
               "params": [2, "If on a winter's night a traveler", "18.50", "1979-01-01T00:00:00Z"]}),
    )
    .await;
        assert_eq!(out["rowsAffected"], 1);
        assert!(out.get("lastInsertId").is_none());
        let out = ok(
        &client,
        "execute",
        json!({"sql": "UPDATE books SET in_print = $1 WHERE author_id = $2", "params": [false, 2]}),
    )
    .await;
        assert_eq!(out["rowsAffected"], 2);
        assert_eq!(
            schema
                .scalar("SELECT count(*) FROM books WHERE NOT in_print")
                .await,
            3
        );
        let e = refused(
            &client,
            "execute",
            json!({"sql": "INSERT INTO books (author_id, title, price) VALUES (42, 'x', 1)"}),
        )
        .await;
        assert!(e.contains("foreign key"), "{e}");

        ok(&client, "execute", json!({"sql": "CREATE TABLE reviews (id serial PRIMARY KEY, book_id bigint REFERENCES books(id), stars int)"})).await;
        changes.hear_list_changed().await;
        // books gained a table that refers to it: its subscribers hear so.
        changes.hear_updated("db://table/books/schema").await;
        let reviews = ok(&client, "describe_table", json!({"table": "reviews"})).await;
        assert_eq!(
            reviews["columns"][0]["default"],
            "nextval('reviews_id_seq'::regclass)"
        );

        for sql in [
            "COPY books TO PROGRAM 'true'",
            "SET search_path = public",
            "DO $$ BEGIN END $$",
            "SELECT 1",
        ] {
            let e = refused(&client, "execute", json!({"sql": sql})).await;
            assert!(e.contains("does not run"), "{sql}: {e}");
        }
        // query stays read-only with writes allowed.
        let e = refused(
            &client,
            "query",
            json!({"sql": "WITH x AS (DELETE FROM reviews RETURNING 1) SELECT * FROM x"}),
        )
        .await;
        assert!(e.contains("read-only transaction"), "{e}");
        let (status, body) = http_get(&server.base, "/health").await;
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["serverId"],
            "4"
        );
        client.close().await;
    }
}

/// A huge value fails at once with a message, inside SQLite's own limit,
/// instead of 60 s and 4.5 GB (issue 17, #5); four at once too. Values
/// under the limit whose JSON would pass it are refused before decoding;
/// results are bounded while rows are read.
#[tokio::test]
async fn sqlite_huge_values_fail_fast_and_results_stay_bounded() {
    use mcp_reference::servers::database::{MAX_RESULT_BYTES, MAX_VALUE_BYTES};
    let dir = TempDir::new("database-test");
    let db = dir.db();
    let client = stdio_client_in(Era::SessionOnly, SERVER, &["--database-url", &db], ()).await;
    let limit = format!("more than the {MAX_VALUE_BYTES} bytes one value may have");
    let huge = json!({"sql": "SELECT zeroblob(900000000) AS b"});
    let e = refused(&client, "query", huge.clone()).await;
    assert!(e.contains(&limit), "{e}");
    let four =
        futures_util::future::join_all((0..4).map(|_| refused(&client, "query", huge.clone())))
            .await;
    assert!(four.iter().all(|e| e.contains(&limit)), "{four:?}");
    // Text built past the limit by a function is refused by SQLite too.
    let e = refused(
        &client,
        "query",
        json!({"sql": format!("SELECT replace(hex(zeroblob({MAX_VALUE_BYTES})), '0', 'xx')")}),
    )
    .await;
    assert!(e.contains(&limit), "{e}");
    // A blob under the limit whose hex would pass it: refused by its size.
    let e = refused(
        &client,
        "query",
        json!({"sql": format!("SELECT 1 AS n, zeroblob({}) AS big", MAX_VALUE_BYTES / 2 + 1)}),
    )
    .await;
    assert!(e.contains("Row 1, column \"big\""), "{e}");
    assert!(e.contains(&limit), "{e}");
    // Rows of 600 KB: the result stops before it passes its bound.
    let wide = format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000) \
         SELECT i, zeroblob({}) FROM s",
        300_000
    );
    let out = ok(&client, "query", json!({"sql": wide, "limit": 1000})).await;
    assert_eq!(out["truncated"], true);
    let rows = out["rowCount"].as_u64().unwrap() as usize;
    assert_eq!(rows, MAX_RESULT_BYTES / 600_000, "{}", out["note"]);
    assert!(out["note"]
        .as_str()
        .unwrap()
        .contains("the rest was left off"));
    // Still serving.
    assert_eq!(count(&client, "customers").await, 5);
    client.close().await;
}

/// On PostgreSQL a huge value is refused by its size before it is decoded,
/// and a huge series stops at the row limit within the statement timeout
/// (issue 17, #5).
#[tokio::test]
async fn postgres_huge_values_and_series_are_bounded() {
    use mcp_reference::servers::database::MAX_VALUE_BYTES;
    let Some(url) = postgres_url() else { return };
    let client = stdio_client_in(
        Era::SessionOnly,
        SERVER,
        &["--database-url", &url, "--statement-timeout-ms", "2000"],
        (),
    )
    .await;
    let limit = format!("more than the {MAX_VALUE_BYTES} bytes one value may have");
    let e = refused(
        &client,
        "query",
        json!({"sql": "SELECT repeat('x', 20000000) AS r"}),
    )
    .await;
    assert!(e.contains("Row 1, column \"r\""), "{e}");
    assert!(e.contains(&limit), "{e}");
    let e = refused(
        &client,
        "query",
        json!({"sql": format!("SELECT decode(repeat('00', {}), 'hex') AS b", MAX_VALUE_BYTES / 2 + 1)}),
    )
    .await;
    assert!(e.contains(&limit), "bytea counts as its hex: {e}");
    // A series in FROM is built whole before its first row: the statement
    // timeout stops it, with its message.
    let e = refused(
        &client,
        "query",
        json!({"sql": "SELECT g FROM generate_series(1, 1000000000) g", "limit": 10}),
    )
    .await;
    assert!(e.contains("2000 ms time limit"), "{e}");
    // One in the select list streams: the first rows come back, marked
    // truncated (the rest is dropped, within the statement timeout).
    let out = ok(
        &client,
        "query",
        json!({"sql": "SELECT generate_series(1, 1000000000) AS g", "limit": 10}),
    )
    .await;
    assert_eq!(out["rowCount"], 10);
    assert_eq!(out["truncated"], true);
    let out = ok(&client, "query", json!({"sql": "SELECT 1 AS one"})).await;
    assert_eq!(out["rows"], json!([[1]]));
    client.close().await;
}

/// A client that shows MCP Apps: it declares `io.modelcontextprotocol/ui`.
struct AppHost;

#[async_trait]
impl ClientHandler for AppHost {
    fn capabilities(&self) -> mcp_sdk::ClientCapabilities {
        mcp_sdk::ClientCapabilities::default()
            .with_extra("extensions", mcp_sdk_server::apps::client_capability())
    }
}

/// `query` links the sortable-table app for hosts that declared the
/// extension; others see a plain tool, and both get the rows as
/// structured content and as text.
#[tokio::test]
async fn the_query_app_is_offered_to_hosts_that_show_apps_and_text_to_the_rest() {
    use mcp_sdk_server::apps;
    let dir = TempDir::new("database-app");
    let db = dir.db();
    let server = http_server(SERVER, &["--database-url", &db]).await;
    for era in ERAS {
        let host = http_client_in(era, &server.url, AppHost).await;
        let plain = http_client_in(era, &server.url, ()).await;

        let tools = host.list_tools(None).await.unwrap().tools;
        let query = tools.iter().find(|t| t.name == "query").unwrap();
        let uri = apps::resource_uri(query).expect("query links its app");
        assert_eq!(uri, "ui://database/query-table");
        let page = host.read_resource(uri).await.unwrap();
        let page = serde_json::to_value(&page.contents[0]).unwrap();
        assert_eq!(page["mimeType"], apps::MIME_TYPE);
        let html = page["text"].as_str().unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html:.80}");
        // Self-contained: nothing loaded from elsewhere, which the default
        // CSP of hosts would block anyway.
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        assert!(page.get("_meta").is_none(), "no CSP beyond the default");

        let tools = plain.list_tools(None).await.unwrap().tools;
        let query = tools.iter().find(|t| t.name == "query").unwrap();
        assert_eq!(apps::resource_uri(query), None, "{era:?}: {query:?}");

        let sql = json!({"sql": "SELECT 2 AS n UNION ALL SELECT 1"});
        for client in [&host, &plain] {
            let r = call(client, "query", sql.clone()).await;
            assert_eq!(
                r.structured_content.as_ref().unwrap()["rows"],
                json!([[2], [1]])
            );
            let text = r.content[0].as_text().unwrap();
            assert!(text.contains("\"rows\""), "{text}");
        }
    }
}
