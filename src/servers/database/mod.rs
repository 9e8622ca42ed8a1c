//! Server 4, database: SQL over MCP, read-only unless told otherwise.
//!
//! Tools: `list_tables`, `describe_table`, `query` (one read-only statement
//! with bound parameters, a row limit and a time limit, answered as
//! structured rows) and, only when started with `--allow-writes`,
//! `execute`. Every table's schema is also a resource,
//! `db://table/{name}/schema`. Hosts that show MCP Apps render `query`
//! results in the app [`QUERY_APP_URI`], a table sorted by any column;
//! the others get the same result as JSON text.
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
//! (to those subscribed, for updates) and to the `subscriptions/listen`
//! streams of stateless clients that asked, both through the router's
//! [`Announcer`].
//!
//! The server is a [`Router`] with the open database as its state: tools,
//! a resource template, a lister for the live tables, a guard that explains
//! a missing `execute`, and a capability adjustment; it writes none of the
//! `Server` trait by hand.

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
    Error, Implementation, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Tool,
    ToolAnnotations,
};
use mcp_sdk_server::apps::{self, AppResource};
use mcp_sdk_server::router::{Announcer, CallKind, Refusal, Route, State};
use mcp_sdk_server::{NoArguments, ResourceRequest, Router, Structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sql::Dialect;
use std::sync::Arc;

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

/// The MCP App that shows a `query` result as a sortable table.
pub const QUERY_APP_URI: &str = "ui://database/query-table";

/// The app's page: self-contained (no outside script or style), so the
/// restrictive default CSP of hosts is all it needs.
const QUERY_APP_HTML: &str = include_str!("query_table.html");

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

/// What the database server's handlers share: the open database and the
/// router's [`Announcer`], which tells sessions and stateless listeners
/// when tables come, go or change.
pub struct DatabaseState {
    db: Database,
    announcer: Announcer,
}

impl DatabaseState {
    /// The open database.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

/// The database server: a [`Router`] whose state is the open database.
/// Its tools and its resource template are registered routes; its
/// resources are listed live from the tables; sessions, subscriptions and
/// stateless listeners are the router's.
pub type DatabaseServer = Router<Arc<DatabaseState>>;

type Db = State<Arc<DatabaseState>>;

/// Opens the database as `config` says and builds the server.
///
/// # Errors
/// What is wrong with the URL, the file or the connection.
pub async fn server(config: &DatabaseConfig) -> Result<DatabaseServer, String> {
    let db = Database::open(config).await?;
    Ok(router(db, config.allow_writes))
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

/// The OAuth scope `execute` needs on a protected server: tokens without
/// it read only.
pub const WRITE_SCOPE: &str = "db:write";

/// The server over an open database; `allow_writes` adds `execute`.
pub fn router(db: Database, allow_writes: bool) -> DatabaseServer {
    let dialect = db.dialect();
    let timeout_ms = db.timeout().as_millis();
    let base = Router::new();
    let state = Arc::new(DatabaseState {
        db,
        announcer: base.announcer().clone(),
    });
    let read_only = ToolAnnotations::default()
        .with_read_only_hint(true)
        .with_open_world_hint(false);
    let notes = dialect_notes(dialect);
    let router = base
        .with_state(state)
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
        // Tables come and go only through execute.
        .map_capabilities(move |mut caps| {
            if let Some(resources) = caps.resources.as_mut() {
                resources.list_changed = Some(allow_writes);
            }
            caps
        })
        // A read-only server says why execute is missing, rather than
        // "Unknown tool".
        .guard(move |call, _ctx| {
            if !allow_writes && call.kind() == CallKind::Tool && call.name() == "execute" {
                return Err(Refusal::Error(Error::invalid_params(WRITES_DISABLED)));
            }
            Ok(())
        })
        .tool(
            Tool::named("list_tables", "Lists the database's tables and views.")
                .with_title("List tables")
                .with_annotations(read_only.clone()),
            list_tables,
        )
        .tool(
            Tool::named(
                "describe_table",
                "Describes a table or view: its columns (name, type, nullability, default), \
                 primary key and foreign keys.",
            )
            .with_title("Describe a table")
            .with_annotations(read_only.clone()),
            describe_table,
        )
        .app(
            AppResource::new(QUERY_APP_URI, "query-table", QUERY_APP_HTML).with_description(
                "The rows of a query as a table that sorts by any column, and a box to run \
                 another query (an MCP App for hosts that show them).",
            ),
        )
        .tool(
            apps::link(
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
                QUERY_APP_URI,
            ),
            query,
        )
        .resource_template(
            ResourceTemplate::new(SCHEMA_TEMPLATE, "table-schema")
                .with_title("Table schema")
                .with_description("A table's columns, primary key and foreign keys, as JSON.")
                .with_mime_type("application/json"),
            read_schema,
        )
        .resource_lister(list_schemas);
    if !allow_writes {
        return router;
    }
    router.tool(
        Route::new(
            Tool::named(
                "execute",
                format!(
                    "Runs one writing SQL statement: INSERT, UPDATE, DELETE, or DDL (CREATE, \
                 ALTER, DROP, ...). Returns the number of rows affected. Pass values through \
                 `params`. {notes}"
                ),
            )
            .with_title("Change data or schema")
            .with_annotations(
                ToolAnnotations::default()
                    .with_read_only_hint(false)
                    .with_destructive_hint(true)
                    .with_idempotent_hint(false)
                    .with_open_world_hint(false),
            ),
        )
        // On a protected server (--auth-issuer), a token without this
        // scope reads only: execute asks it to step up.
        .requires_scope(WRITE_SCOPE),
        execute,
    )
}

async fn list_tables(State(s): Db, _: NoArguments) -> Result<Structured<TableList>, String> {
    s.db.list_tables()
        .await
        .map(|tables| Structured(TableList { tables }))
}

async fn describe_table(
    State(s): Db,
    args: DescribeArgs,
) -> Result<Structured<TableDescription>, String> {
    match s.db.describe(&args.table).await? {
        Some(d) => Ok(Structured(d)),
        None => Err(format!(
            "No table or view named {:?}. Call list_tables to see the tables.",
            args.table
        )),
    }
}

async fn query(State(s): Db, args: QueryArgs) -> Result<Structured<QueryOutput>, String> {
    let limit = args.limit.map_or(DEFAULT_LIMIT, |l| l as usize);
    s.db.query(&args.sql, &args.params, limit)
        .await
        .map(Structured)
}

async fn execute(State(s): Db, args: ExecuteArgs) -> Result<Structured<ExecuteOutput>, String> {
    let ddl = matches!(
        sql::first_keyword(&args.sql).as_str(),
        "CREATE" | "ALTER" | "DROP"
    );
    let before = if ddl {
        s.db.list_tables().await.ok()
    } else {
        None
    };
    let out = s.db.execute(&args.sql, &args.params).await?;
    if let Some(before) = before {
        let uris = |t: Vec<TableInfo>| t.into_iter().map(|t| t.uri).collect::<Vec<_>>();
        let before = uris(before);
        let after = s.db.list_tables().await.map(uris).unwrap_or_default();
        // Sessions and stateless listeners alike, whichever era this
        // request itself speaks.
        if after != before {
            s.announcer.resource_list_changed().await;
        }
        // A schema may have changed: tell its subscribers.
        for uri in after.iter().filter(|u| before.contains(u)) {
            s.announcer.resource_updated(uri).await;
        }
    }
    Ok(Structured(out))
}

/// The template's variables.
#[derive(Deserialize, JsonSchema)]
struct TableVars {
    name: String,
}

async fn read_schema(
    State(s): Db,
    req: ResourceRequest<TableVars>,
) -> Result<ReadResourceResult, Error> {
    match s
        .db
        .describe(&req.variables.name)
        .await
        .map_err(Error::internal)?
    {
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

/// Every table's schema, as a resource.
async fn list_schemas(State(s): Db) -> Result<Vec<Resource>, Error> {
    let tables = s.db.list_tables().await.map_err(Error::internal)?;
    Ok(tables
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
        .collect())
}
