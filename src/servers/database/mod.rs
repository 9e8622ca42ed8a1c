//! Server 4, database: SQL over MCP, read-only unless told otherwise.
//!
//! Tools: `list_tables`, `describe_table`, `query` (one read-only statement
//! with bound parameters, a row limit and a time limit, answered as
//! structured rows) and, only when started with `--allow-writes`,
//! `execute`. Every table's schema is also a resource,
//! `db://table/{name}/schema`.
//!
//! Reads are held read-only twice: a statement check (one statement,
//! beginning with SELECT, WITH, EXPLAIN, ...) and the database itself (a
//! read-only SQLite connection with `query_only`; a PostgreSQL `READ ONLY`
//! transaction), which also refuses a `WITH ... INSERT` or a function that
//! writes.
//!
//! With `--allow-writes`, DDL that adds or drops tables announces
//! `notifications/resources/list_changed`, and DDL that may alter a table
//! announces `notifications/resources/updated` for its schema: to sessions
//! (to those subscribed, for updates) and, through the transport's
//! [`Notifier`], to the `subscriptions/listen`
//! streams of stateless clients that asked.

mod backend;
pub mod sql;
mod values;

pub use backend::{
    default_sqlite_path, table_uri, ColumnInfo, Database, DatabaseConfig, ExecuteOutput,
    ForeignKey, QueryOutput, TableDescription, TableInfo, DEFAULT_LIMIT, MAX_LIMIT,
    MAX_RESULT_BYTES, MAX_TABLES, MAX_VALUE_BYTES, SAMPLE_SCHEMA, WRITES_DISABLED,
};

use super::ServerSpec;
use mcp_sdk::{
    CallToolParams, CallToolResult, Error, Implementation, ListResourceTemplatesParams,
    ListResourceTemplatesResult, ListResourcesParams, ListResourcesResult, ListToolsParams,
    ListToolsResult, ReadResourceParams, ReadResourceResult, Resource, ResourceContents,
    ResourceTemplate, ServerCapabilities, SubscribeParams, Tool, ToolAnnotations,
    UnsubscribeParams,
};
use mcp_sdk_server::{
    async_trait, NoArguments, Notifier, Peer, RequestContext, Router, Server, Structured,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sql::Dialect;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Who the database server is.
pub fn spec() -> ServerSpec {
    ServerSpec {
        id: "4",
        name: "database",
        default_port: 5004,
        capabilities: &["database"],
    }
}

/// The resource template of table schemas.
pub const SCHEMA_TEMPLATE: &str = "db://table/{name}/schema";

/// Arguments of `query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// One read-only SQL statement (SELECT, WITH, EXPLAIN, VALUES; on
    /// PostgreSQL also TABLE and SHOW), with placeholders for values.
    #[schemars(length(min = 1, max = 100000))]
    pub sql: String,
    /// Values for the placeholders, in order (null, booleans, numbers,
    /// strings; arrays and objects are bound as their JSON text).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub params: Vec<Value>,
    /// The most rows to return (default 100, at most 1000); `truncated`
    /// says whether there were more.
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
}

/// Arguments of `execute`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteArgs {
    /// One INSERT, UPDATE, DELETE or DDL statement (CREATE, ALTER, DROP,
    /// ...), with placeholders for values.
    #[schemars(length(min = 1, max = 100000))]
    pub sql: String,
    /// Values for the placeholders, in order.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub params: Vec<Value>,
}

/// Arguments of `describe_table`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeArgs {
    /// The table's name, as `list_tables` gives it.
    #[schemars(length(min = 1, max = 300))]
    pub table: String,
}

/// What `list_tables` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableList {
    /// The tables and views, by name.
    pub tables: Vec<TableInfo>,
}

struct Shared {
    db: Database,
    allow_writes: bool,
    /// Sessions to tell when tables come or go.
    peers: Mutex<Vec<Peer>>,
    /// Sessions subscribed to a table's schema, by URI.
    subscriptions: Mutex<HashMap<String, Vec<Peer>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The database server: the tools of a [`Router`] plus resources that
/// follow the live list of tables.
#[derive(Clone)]
pub struct DatabaseServer {
    shared: Arc<Shared>,
    router: Router,
}

/// Opens the database as `config` says and builds the server.
///
/// # Errors
/// What is wrong with the URL, the file or the connection.
pub async fn server(config: &DatabaseConfig) -> Result<DatabaseServer, String> {
    let db = Database::open(config).await?;
    Ok(DatabaseServer::new(db, config.allow_writes))
}

fn dialect_notes(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "The database is SQLite: placeholders are ? (or ?1, ?2, ...).",
        Dialect::Postgres => {
            "The database is PostgreSQL: placeholders are $1, $2, ...; strings bind as text, \
             integers as bigint, other numbers as double precision, so cast where the column \
             needs another type (e.g. $1::date, $1::numeric, $1::uuid)."
        }
    }
}

impl DatabaseServer {
    /// The server over an open database; `allow_writes` adds `execute`.
    pub fn new(db: Database, allow_writes: bool) -> Self {
        let dialect = db.dialect();
        let timeout_ms = db.timeout().as_millis();
        let shared = Arc::new(Shared {
            db,
            allow_writes,
            peers: Mutex::new(Vec::new()),
            subscriptions: Mutex::new(HashMap::new()),
        });
        let read_only = ToolAnnotations {
            read_only_hint: Some(true),
            open_world_hint: Some(false),
            ..Default::default()
        };
        let notes = dialect_notes(dialect);
        let s = shared.clone();
        let mut router = Router::new()
            .with_info(Implementation::new(
                "mcp-database-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "SQL access to one database. {notes} Start with list_tables and describe_table \
                 (or read the db://table/{{name}}/schema resources), then query. query runs one \
                 read-only statement per call, at most {MAX_LIMIT} rows and {timeout_ms} ms. {}",
                if allow_writes {
                    "execute runs one INSERT, UPDATE, DELETE or DDL statement."
                } else {
                    "The server is read-only."
                }
            ))
            .tool(
                Tool::named("list_tables", "Lists the database's tables and views.")
                    .with_title("List tables")
                    .with_annotations(read_only.clone()),
                move |_: NoArguments| {
                    let s = s.clone();
                    async move {
                        s.db.list_tables()
                            .await
                            .map(|tables| Structured(TableList { tables }))
                    }
                },
            );
        let s = shared.clone();
        router = router.tool(
            Tool::named(
                "describe_table",
                "Describes a table or view: its columns (name, type, nullability, default), \
                 primary key and foreign keys.",
            )
            .with_title("Describe a table")
            .with_annotations(read_only.clone()),
            move |args: DescribeArgs| {
                let s = s.clone();
                async move {
                    match s.db.describe(&args.table).await? {
                        Some(d) => Ok(Structured(d)),
                        None => Err(format!(
                            "No table or view named {:?}. Call list_tables to see the tables.",
                            args.table
                        )),
                    }
                }
            },
        );
        let s = shared.clone();
        router = router.tool(
            Tool::named(
                "query",
                format!(
                    "Runs one read-only SQL statement (SELECT, WITH, EXPLAIN, VALUES) and returns \
                     its rows as JSON: column names, column types and one array of values per row. \
                     Pass values through `params`, never inside the SQL text. {notes} At most \
                     `limit` rows (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}) come back; \
                     `truncated` says whether there were more. Statements stop after {timeout_ms} ms."
                ),
            )
            .with_title("Run a read-only query")
            .with_annotations(read_only),
            move |args: QueryArgs| {
                let s = s.clone();
                async move {
                    let limit = args.limit.map_or(DEFAULT_LIMIT, |l| l as usize);
                    s.db.query(&args.sql, &args.params, limit).await.map(Structured)
                }
            },
        );
        if allow_writes {
            let s = shared.clone();
            router = router.tool(
                Tool::named(
                    "execute",
                    format!(
                        "Runs one writing SQL statement: INSERT, UPDATE, DELETE, or DDL (CREATE, \
                         ALTER, DROP, ...). Returns the number of rows affected. Pass values through \
                         `params`. {notes}"
                    ),
                )
                .with_title("Change data or schema")
                .with_annotations(ToolAnnotations {
                    read_only_hint: Some(false),
                    destructive_hint: Some(true),
                    idempotent_hint: Some(false),
                    open_world_hint: Some(false),
                    ..Default::default()
                }),
                move |args: ExecuteArgs, ctx: RequestContext| {
                    let s = s.clone();
                    async move {
                        let ddl = matches!(
                            sql::first_keyword(&args.sql).as_str(),
                            "CREATE" | "ALTER" | "DROP"
                        );
                        let before = if ddl { s.db.list_tables().await.ok() } else { None };
                        let out = s.db.execute(&args.sql, &args.params).await?;
                        if let Some(before) = before {
                            let uris = |t: Vec<TableInfo>| t.into_iter().map(|t| t.uri).collect::<Vec<_>>();
                            let before = uris(before);
                            let after = s.db.list_tables().await.map(uris).unwrap_or_default();
                            // Stateless clients hear through the transport's
                            // notifier, which every request's context reaches
                            // (whichever era the request itself speaks).
                            let listeners = ctx.notifier();
                            if after != before {
                                s.notify_tables_changed(listeners).await;
                            }
                            // A schema may have changed: tell its subscribers.
                            for uri in after.iter().filter(|u| before.contains(u)) {
                                s.notify_updated(listeners, uri).await;
                            }
                        }
                        Ok::<_, String>(Structured(out))
                    }
                },
            );
        }
        let s = shared.clone();
        router = router.resource_template(
            ResourceTemplate {
                title: Some("Table schema".into()),
                description: Some(
                    "A table's columns, primary key and foreign keys, as JSON.".into(),
                ),
                mime_type: Some("application/json".into()),
                ..ResourceTemplate::new(SCHEMA_TEMPLATE, "table-schema")
            },
            move |req, _ctx| {
                let s = s.clone();
                async move {
                    let name = req.variables.get("name").cloned().unwrap_or_default();
                    match s.db.describe(&name).await.map_err(Error::internal)? {
                        Some(d) => {
                            let text = serde_json::to_string_pretty(&d).map_err(Error::internal)?;
                            Ok(ReadResourceResult::new(vec![ResourceContents::text(
                                req.uri,
                                Some("application/json".into()),
                                text,
                            )]))
                        }
                        None => Err(Error::resource_not_found(&req.uri)),
                    }
                }
            },
        );
        DatabaseServer { shared, router }
    }
}

impl Shared {
    /// Tells the sessions and the `listeners` that tables came or went.
    async fn notify_tables_changed(&self, listeners: &Notifier) {
        listeners.resource_list_changed();
        let peers: Vec<Peer> = {
            let mut peers = lock(&self.peers);
            peers.retain(|p| !p.is_closed());
            peers.clone()
        };
        for peer in peers {
            if let Err(e) = peer.notify_resource_list_changed().await {
                tracing::debug!(%e, "could not send resources/list_changed");
            }
        }
    }

    /// Tells the sessions subscribed to `uri`, and the `listeners` that
    /// asked for it, that the schema it names may have changed.
    async fn notify_updated(&self, listeners: &Notifier, uri: &str) {
        listeners.resource_updated(uri);
        let peers: Vec<Peer> = {
            let mut subs = lock(&self.subscriptions);
            let Some(peers) = subs.get_mut(uri) else {
                return;
            };
            peers.retain(|p| !p.is_closed());
            peers.clone()
        };
        for peer in peers {
            if let Err(e) = peer.notify_resource_updated(uri).await {
                tracing::debug!(%e, uri, "could not send resources/updated");
            }
        }
    }
}

#[async_trait]
impl Server for DatabaseServer {
    fn info(&self) -> Implementation {
        self.router.info()
    }

    fn capabilities(&self) -> ServerCapabilities {
        let mut caps = self.router.capabilities();
        if let Some(resources) = caps.resources.as_mut() {
            resources.list_changed = Some(self.shared.allow_writes);
        }
        caps
    }

    fn instructions(&self) -> Option<String> {
        self.router.instructions()
    }

    fn find_tool(&self, name: &str) -> Option<Tool> {
        self.router.find_tool(name)
    }

    async fn list_tools(
        &self,
        p: ListToolsParams,
        ctx: RequestContext,
    ) -> Result<ListToolsResult, Error> {
        self.router.list_tools(p, ctx).await
    }

    async fn call_tool(
        &self,
        p: CallToolParams,
        ctx: RequestContext,
    ) -> Result<CallToolResult, Error> {
        if p.name == "execute" && !self.shared.allow_writes {
            return Err(Error::invalid_params(WRITES_DISABLED));
        }
        self.router.call_tool(p, ctx).await
    }

    async fn list_resources(
        &self,
        _p: ListResourcesParams,
        _ctx: RequestContext,
    ) -> Result<ListResourcesResult, Error> {
        let tables = self
            .shared
            .db
            .list_tables()
            .await
            .map_err(Error::internal)?;
        Ok(ListResourcesResult {
            resources: tables
                .into_iter()
                .map(|t| {
                    Resource::new(t.uri, format!("{} schema", t.name))
                        .with_title(format!("Schema of {} {}", t.kind, t.name))
                        .with_description(format!(
                            "Columns, primary key and foreign keys of the {} {}.",
                            t.kind, t.name
                        ))
                        .with_mime_type("application/json")
                })
                .collect(),
            ..Default::default()
        })
    }

    async fn list_resource_templates(
        &self,
        p: ListResourceTemplatesParams,
        ctx: RequestContext,
    ) -> Result<ListResourceTemplatesResult, Error> {
        self.router.list_resource_templates(p, ctx).await
    }

    async fn read_resource(
        &self,
        p: ReadResourceParams,
        ctx: RequestContext,
    ) -> Result<ReadResourceResult, Error> {
        self.router.read_resource(p, ctx).await
    }

    async fn subscribe(&self, p: SubscribeParams, ctx: RequestContext) -> Result<(), Error> {
        let mut subs = lock(&self.shared.subscriptions);
        if !subs.contains_key(&p.uri) && subs.len() >= MAX_TABLES {
            subs.retain(|_, peers| peers.iter().any(|p| !p.is_closed()));
        }
        let peers = subs.entry(p.uri).or_default();
        peers.retain(|p| !p.is_closed());
        if !peers.iter().any(|p| p.same_session(ctx.peer())) {
            peers.push(ctx.peer().clone());
        }
        Ok(())
    }

    async fn unsubscribe(&self, p: UnsubscribeParams, ctx: RequestContext) -> Result<(), Error> {
        let mut subs = lock(&self.shared.subscriptions);
        if let Some(peers) = subs.get_mut(&p.uri) {
            peers.retain(|q| !q.same_session(ctx.peer()));
            if peers.is_empty() {
                subs.remove(&p.uri);
            }
        }
        Ok(())
    }

    async fn on_initialized(&self, peer: Peer) {
        let mut peers = lock(&self.shared.peers);
        peers.retain(|p| !p.is_closed());
        peers.push(peer);
    }
}
