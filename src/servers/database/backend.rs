//! The two databases behind the server: SQLite (a file, seeded with a
//! sample schema when empty) and PostgreSQL, each with reads that cannot
//! write and a time limit on every statement.

use super::sql::{self, Dialect};
use super::values::{
    pg_arguments, pg_cell, pg_cell_size, sqlite_arguments, sqlite_cell, sqlite_cell_size,
};
use futures_util::TryStreamExt;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Column, Executor, Row, Sqlite, Statement, TypeInfo};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows returned when the caller gives no limit.
pub const DEFAULT_LIMIT: usize = 100;
/// The most rows one query returns.
pub const MAX_LIMIT: usize = 1000;
/// The most bytes of JSON one query returns; rows past it are left off.
/// Checked on each row's raw values before they are decoded.
pub const MAX_RESULT_BYTES: usize = 4 << 20;
/// The largest single value (text, blob as hex, any cell) a query reads:
/// past it the query fails with a message. SQLite itself refuses to build
/// a longer string or blob (`sqlite3_limit(SQLITE_LIMIT_LENGTH)`), so
/// `SELECT zeroblob(900000000)` fails at once instead of filling memory.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most tables listed (and offered as resources).
pub const MAX_TABLES: usize = 1000;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://PATH`, `sqlite:PATH`, a bare file path, or
    /// `postgres://USER@HOST:PORT/DB` (also `postgresql://`).
    pub url: String,
    /// Offer the `execute` tool (INSERT, UPDATE, DELETE, DDL).
    pub allow_writes: bool,
    /// The time limit of every statement.
    pub statement_timeout: Duration,
    /// Create and fill the sample tables (customers, products, orders) in
    /// an SQLite database that has no tables yet.
    pub seed: bool,
}

impl DatabaseConfig {
    /// The database at `url`, seeded when empty, read-only, 10 s per
    /// statement.
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseConfig {
            url: url.into(),
            allow_writes: false,
            statement_timeout: Duration::from_secs(10),
            seed: true,
        }
    }
}

/// Where the sample database goes when no URL is given: the user's data
/// directory (`$XDG_DATA_HOME` or `~/.local/share` on Linux,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows) under
/// `mcp-reference/database-sample.db`, else `./mcp-database-sample.db`.
/// (Desktop hosts often start servers in a directory they cannot write.)
pub fn default_sqlite_path() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let data = if cfg!(windows) {
        env("APPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library").join("Application Support"))
    } else {
        env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local").join("share")))
    };
    data.map(|d| d.join("mcp-reference").join("database-sample.db"))
        .unwrap_or_else(|| PathBuf::from("mcp-database-sample.db"))
}

/// A table or view.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableInfo {
    /// The name to pass to `describe_table` (PostgreSQL: `schema.table`
    /// outside the current schema).
    pub name: String,
    /// The PostgreSQL schema (absent for SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `table`, `view`, `materialized view` or `foreign table`.
    pub kind: String,
    /// The resource holding the table's schema.
    pub uri: String,
}

/// One column of a table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// The declared type (SQLite: as written in `CREATE TABLE`, possibly
    /// empty).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// The default expression, if any.
    pub default: Option<String>,
    /// Whether the column is part of the primary key.
    pub primary_key: bool,
}

/// A foreign key of one column.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForeignKey {
    /// The referencing column.
    pub column: String,
    /// The referenced table.
    pub references_table: String,
    /// The referenced column (SQLite may leave it implicit: the primary key).
    pub references_column: Option<String>,
}

/// What `describe_table` answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableDescription {
    /// The table's name, as `list_tables` gives it.
    pub name: String,
    /// The PostgreSQL schema (absent for SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `table`, `view`, ...
    pub kind: String,
    /// The columns, in order.
    pub columns: Vec<ColumnInfo>,
    /// The primary key's columns, in key order (empty if none).
    pub primary_key: Vec<String>,
    /// Foreign keys, one entry per column.
    pub foreign_keys: Vec<ForeignKey>,
}

/// What `query` answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryOutput {
    /// The column names, in order.
    pub columns: Vec<String>,
    /// The columns' SQL types, as the database reports them.
    pub column_types: Vec<String>,
    /// The rows: one array of JSON values per row, in column order.
    pub rows: Vec<Vec<Value>>,
    /// How many rows are in `rows`.
    pub row_count: usize,
    /// Whether the statement had more rows than were returned.
    pub truncated: bool,
    /// Why the result was cut short, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What `execute` answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteOutput {
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// SQLite, after an INSERT or REPLACE that inserted rows: the rowid of
    /// the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_insert_id: Option<i64>,
}

enum Backend {
    Sqlite {
        read: SqlitePool,
        write: Option<SqlitePool>,
    },
    Postgres(PgPool),
}

/// An open database.
pub struct Database {
    backend: Backend,
    timeout: Duration,
}

/// The URI of a table's schema resource.
pub fn table_uri(name: &str) -> String {
    let mut out = String::from("db://table/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("/schema");
    out
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Database {
    /// Opens (and for an empty SQLite file, seeds) the database.
    ///
    /// # Errors
    /// A message saying what is wrong with the URL or the connection.
    pub async fn open(config: &DatabaseConfig) -> Result<Database, String> {
        let url = config.url.trim();
        let backend = if is_postgres(url) {
            open_postgres(url).await?
        } else {
            open_sqlite(url, config).await?
        };
        Ok(Database {
            backend,
            timeout: config.statement_timeout,
        })
    }

    /// SQLite or PostgreSQL.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The statement time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The tables and views.
    ///
    /// # Errors
    /// The database's error, as a message.
    pub async fn list_tables(&self) -> Result<Vec<TableInfo>, String> {
        let limit = MAX_TABLES as i64;
        match &self.backend {
            Backend::Sqlite { read, .. } => {
                let (mut conn, _armed) = self.sqlite_conn(read).await?;
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name LIMIT ?",
                )
                .bind(limit)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| self.message(e))?;
                Ok(rows
                    .into_iter()
                    .map(|(name, kind)| TableInfo {
                        uri: table_uri(&name),
                        name,
                        schema: None,
                        kind,
                    })
                    .collect())
            }
            Backend::Postgres(pool) => {
                let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
                    "SELECT n.nspname::text, c.relname::text, c.relkind::text, n.nspname = current_schema() \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition \
                       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
                     ORDER BY 4 DESC, 1, 2 LIMIT $1",
                )
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(|e| self.message(e))?;
                Ok(rows
                    .into_iter()
                    .map(|(schema, table, kind, current)| {
                        let name = if current {
                            table
                        } else {
                            format!("{schema}.{table}")
                        };
                        TableInfo {
                            uri: table_uri(&name),
                            name,
                            schema: Some(schema),
                            kind: pg_kind(&kind).into(),
                        }
                    })
                    .collect())
            }
        }
    }

    /// The columns, keys and references of the table `name`; `None` if
    /// there is no such table or view.
    ///
    /// # Errors
    /// The database's error, as a message.
    pub async fn describe(&self, name: &str) -> Result<Option<TableDescription>, String> {
        match &self.backend {
            Backend::Sqlite { read, .. } => self.describe_sqlite(read, name).await,
            Backend::Postgres(pool) => self.describe_postgres(pool, name).await,
        }
    }

    async fn describe_sqlite(
        &self,
        pool: &SqlitePool,
        name: &str,
    ) -> Result<Option<TableDescription>, String> {
        let (mut conn, _armed) = self.sqlite_conn(pool).await?;
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') \
             AND name = ?1 COLLATE NOCASE AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.message(e))?;
        let Some((name, kind)) = found else {
            return Ok(None);
        };
        let cols: Vec<(String, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| self.message(e))?;
        let fks: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| self.message(e))?;
        let mut pk: Vec<(i64, String)> = cols
            .iter()
            .filter(|c| c.4 > 0)
            .map(|c| (c.4, c.0.clone()))
            .collect();
        pk.sort();
        // An INTEGER PRIMARY KEY is the rowid: never NULL. Other key columns
        // take NULL in SQLite unless declared NOT NULL.
        let rowid_key = pk.len() == 1;
        Ok(Some(TableDescription {
            name,
            schema: None,
            kind,
            columns: cols
                .into_iter()
                .map(|(name, data_type, notnull, default, pk)| ColumnInfo {
                    name,
                    nullable: notnull == 0
                        && !(rowid_key && pk == 1 && data_type.eq_ignore_ascii_case("INTEGER")),
                    data_type,
                    default,
                    primary_key: pk > 0,
                })
                .collect(),
            primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            foreign_keys: fks
                .into_iter()
                .map(|(column, references_table, references_column)| ForeignKey {
                    column,
                    references_table,
                    references_column,
                })
                .collect(),
        }))
    }

    async fn describe_postgres(
        &self,
        pool: &PgPool,
        name: &str,
    ) -> Result<Option<TableDescription>, String> {
        let qualified = name.split_once('.');
        let found: Option<(Oid, String, String, String, bool)> = sqlx::query_as(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, n.nspname = current_schema() \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
               AND ((n.nspname = current_schema() AND c.relname = $1) OR (n.nspname = $2 AND c.relname = $3)) \
             ORDER BY 5 DESC LIMIT 1",
        )
        .bind(name)
        .bind(qualified.map(|q| q.0))
        .bind(qualified.map(|q| q.1))
        .fetch_optional(pool)
        .await
        .map_err(|e| self.message(e))?;
        let Some((oid, schema, table, kind, current)) = found else {
            return Ok(None);
        };
        let cols: Vec<(String, String, bool, Option<String>, bool)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid), COALESCE(a.attnum = ANY(i.indkey::int2[]), false) \
             FROM pg_attribute a \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(oid)
        .fetch_all(pool)
        .await
        .map_err(|e| self.message(e))?;
        let pk: Vec<(String,)> = sqlx::query_as(
            "SELECT a.attname::text FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord",
        )
        .bind(oid)
        .fetch_all(pool)
        .await
        .map_err(|e| self.message(e))?;
        let fks: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT a.attname::text, \
                    CASE WHEN nf.nspname = current_schema() THEN cf.relname::text \
                         ELSE nf.nspname || '.' || cf.relname END, \
                    af.attname::text \
             FROM pg_constraint con \
             CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(src, dst, ord) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.src \
             JOIN pg_class cf ON cf.oid = con.confrelid \
             JOIN pg_namespace nf ON nf.oid = cf.relnamespace \
             JOIN pg_attribute af ON af.attrelid = con.confrelid AND af.attnum = k.dst \
             WHERE con.conrelid = $1 AND con.contype = 'f' ORDER BY con.conname, k.ord",
        )
        .bind(oid)
        .fetch_all(pool)
        .await
        .map_err(|e| self.message(e))?;
        Ok(Some(TableDescription {
            name: if current {
                table
            } else {
                format!("{schema}.{table}")
            },
            schema: Some(schema),
            kind: pg_kind(&kind).into(),
            columns: cols
                .into_iter()
                .map(
                    |(name, data_type, nullable, default, primary_key)| ColumnInfo {
                        name,
                        data_type,
                        nullable,
                        default,
                        primary_key,
                    },
                )
                .collect(),
            primary_key: pk.into_iter().map(|(c,)| c).collect(),
            foreign_keys: fks
                .into_iter()
                .map(|(column, references_table, references_column)| ForeignKey {
                    column,
                    references_table,
                    references_column: Some(references_column),
                })
                .collect(),
        }))
    }

    /// Runs one read-only statement with bound `params` and returns at most
    /// `limit` rows.
    ///
    /// # Errors
    /// A refusal by the statement check, the database's error, or the time
    /// limit, as a message for the model.
    pub async fn query(
        &self,
        sql_text: &str,
        params: &[Value],
        limit: usize,
    ) -> Result<QueryOutput, String> {
        sql::check(sql_text, self.dialect(), sql::READ_KEYWORDS, "query")?;
        let limit = limit.clamp(1, MAX_LIMIT);
        let grace = self.timeout + Duration::from_secs(2);
        let work = async {
            match &self.backend {
                Backend::Sqlite { read, .. } => {
                    self.query_sqlite(read, sql_text, params, limit).await
                }
                Backend::Postgres(pool) => self.query_postgres(pool, sql_text, params, limit).await,
            }
        };
        tokio::time::timeout(grace, work)
            .await
            .unwrap_or_else(|_| Err(self.timeout_message()))
    }

    async fn query_sqlite(
        &self,
        pool: &SqlitePool,
        sql_text: &str,
        params: &[Value],
        limit: usize,
    ) -> Result<QueryOutput, String> {
        let args = sqlite_arguments(params)?;
        let (mut conn, armed) = self.sqlite_conn(pool).await?;
        // Prepared first (and cached for the run below): the columns, and a
        // check of the placeholder count, since SQLite would quietly take
        // NULL for a missing value.
        let stmt = (&mut *conn)
            .prepare(sql_text)
            .await
            .map_err(|e| armed.explain(self, e))?;
        check_param_count(stmt.parameters(), params.len())?;
        let columns = column_list(stmt.columns());
        let mut out = Collector::new(limit);
        let mut rows = sqlx::query_with(sql_text, args).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(|e| armed.explain(self, e))? {
            let sizes = (0..row.len()).map(|i| (row.column(i).name(), sqlite_cell_size(&row, i)));
            if !out.admit(sizes)? {
                break;
            }
            let cells = (0..row.len()).map(|i| sqlite_cell(&row, i)).collect();
            if !out.push(cells) {
                break;
            }
        }
        Ok(out.finish(columns))
    }

    async fn query_postgres(
        &self,
        pool: &PgPool,
        sql_text: &str,
        params: &[Value],
        limit: usize,
    ) -> Result<QueryOutput, String> {
        let args = pg_arguments(params)?;
        let mut tx = pool.begin().await.map_err(|e| self.message(e))?;
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.message(e))?;
        let setup = format!(
            "SET LOCAL statement_timeout = {}",
            self.timeout.as_millis().max(1)
        );
        sqlx::query(&setup)
            .persistent(false)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.message(e))?;
        let mut out = Collector::new(limit);
        let mut columns = None;
        {
            // Not kept as a prepared statement: its parameter types follow
            // this call's JSON values, which the next call may not share.
            let mut rows = sqlx::query_with(sql_text, args)
                .persistent(false)
                .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(|e| self.message(e))? {
                if columns.is_none() {
                    columns = Some(column_list(row.columns()));
                }
                let sizes = (0..row.len()).map(|i| (row.column(i).name(), pg_cell_size(&row, i)));
                if !out.admit(sizes)? {
                    break;
                }
                let cells = (0..row.len()).map(|i| pg_cell(&row, i)).collect();
                if !out.push(cells) {
                    break;
                }
            }
        }
        let columns = match columns {
            Some(c) => c,
            None => {
                // No rows to read the columns from: describe the statement,
                // cached under a key no query runs with. PostgreSQL infers
                // the parameter types here, which can fail where the typed
                // run did not (`$1 IS NULL`); then the columns stay unnamed.
                let key = format!("{sql_text}\n/* mcp-database: columns */");
                match (&mut *tx).prepare(&key).await {
                    Ok(stmt) => column_list(stmt.columns()),
                    Err(_) => (Vec::new(), Vec::new()),
                }
            }
        };
        let _ = tx.rollback().await;
        Ok(out.finish(columns))
    }

    /// Runs one writing statement (INSERT, UPDATE, DELETE, DDL) with bound
    /// `params`; only on a server started with writes allowed.
    ///
    /// # Errors
    /// Writes not allowed, a refusal by the statement check, the database's
    /// error, or the time limit, as a message for the model.
    pub async fn execute(&self, sql_text: &str, params: &[Value]) -> Result<ExecuteOutput, String> {
        let keyword = sql::check(sql_text, self.dialect(), sql::WRITE_KEYWORDS, "execute")?;
        let grace = self.timeout + Duration::from_secs(2);
        let work = async {
            match &self.backend {
                Backend::Sqlite {
                    write: Some(pool), ..
                } => {
                    let args = sqlite_arguments(params)?;
                    let (mut conn, armed) = self.sqlite_conn(pool).await?;
                    let stmt = (&mut *conn)
                        .prepare(sql_text)
                        .await
                        .map_err(|e| armed.explain(self, e))?;
                    check_param_count(stmt.parameters(), params.len())?;
                    let done = sqlx::query_with(sql_text, args)
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| armed.explain(self, e))?;
                    // SQLite's change count and last rowid are the
                    // connection's: other statements (DDL) leave those of an
                    // earlier INSERT, UPDATE or DELETE in place, so they are
                    // told only where this statement set them.
                    let ddl = matches!(keyword.as_str(), "CREATE" | "ALTER" | "DROP");
                    let rows_affected = if ddl { 0 } else { done.rows_affected() };
                    let inserted =
                        matches!(keyword.as_str(), "INSERT" | "REPLACE") && rows_affected > 0;
                    Ok(ExecuteOutput {
                        rows_affected,
                        last_insert_id: inserted.then(|| done.last_insert_rowid()),
                    })
                }
                Backend::Sqlite { write: None, .. } => Err(WRITES_DISABLED.to_owned()),
                Backend::Postgres(pool) => {
                    let args = pg_arguments(params)?;
                    let mut tx = pool.begin().await.map_err(|e| self.message(e))?;
                    let setup = format!(
                        "SET LOCAL statement_timeout = {}",
                        self.timeout.as_millis().max(1)
                    );
                    sqlx::query(&setup)
                        .persistent(false)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.message(e))?;
                    let done = sqlx::query_with(sql_text, args)
                        .persistent(false)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.message(e))?;
                    tx.commit().await.map_err(|e| self.message(e))?;
                    Ok(ExecuteOutput {
                        rows_affected: done.rows_affected(),
                        last_insert_id: None,
                    })
                }
            }
        };
        tokio::time::timeout(grace, work)
            .await
            .unwrap_or_else(|_| Err(self.timeout_message()))
    }

    /// Closes the pools.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write } => {
                read.close().await;
                if let Some(w) = write {
                    w.close().await;
                }
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// A pooled SQLite connection whose statements stop at the time limit
    /// (or when the returned guard drops, as when the request is cancelled).
    async fn sqlite_conn(
        &self,
        pool: &SqlitePool,
    ) -> Result<(PoolConnection<Sqlite>, Armed), String> {
        let mut conn = pool.acquire().await.map_err(|e| self.message(e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + self.timeout;
        {
            let mut handle = conn.lock_handle().await.map_err(|e| self.message(e))?;
            let db = handle.as_raw_handle();
            // SAFETY: `db` is the open connection behind the locked handle,
            // which nothing else uses while the lock is held; sqlite3_limit
            // only sets a number on it. (SQLite keeps a minimum of 30.)
            unsafe {
                libsqlite3_sys::sqlite3_limit(
                    db.as_ptr(),
                    libsqlite3_sys::SQLITE_LIMIT_LENGTH,
                    MAX_VALUE_BYTES as std::os::raw::c_int,
                );
            }
            let flag = stop.clone();
            handle.set_progress_handler(1000, move || {
                !flag.load(Ordering::Relaxed) && Instant::now() < deadline
            });
        }
        Ok((conn, Armed { stop, deadline }))
    }

    fn timeout_message(&self) -> String {
        format!(
            "The statement ran longer than the {} ms time limit and was stopped. \
             Narrow it (a WHERE clause, a LIMIT) and try again.",
            self.timeout.as_millis()
        )
    }

    /// A database error as a message for the model.
    fn message(&self, e: sqlx::Error) -> String {
        match &e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                match (self.dialect(), code.as_str()) {
                    (Dialect::Postgres, "57014") => self.timeout_message(),
                    (Dialect::Postgres, "25006") => format!(
                        "Refused by the database: {} (the query tool runs in a READ ONLY transaction).",
                        db.message()
                    ),
                    (Dialect::Postgres, c) => format!("Database error: {} (SQLSTATE {c})", db.message()),
                    (Dialect::Sqlite, "8") | (Dialect::Sqlite, "264") | (Dialect::Sqlite, "1032") => format!(
                        "Refused by the database: {} (the query tool uses a read-only connection).",
                        db.message()
                    ),
                    (Dialect::Sqlite, "18") => too_large_value(None, None),
                    (Dialect::Sqlite, _) => format!("Database error: {}", db.message()),
                }
            }
            sqlx::Error::PoolTimedOut => {
                "The database is busy: no connection was free in time. Try again.".into()
            }
            other => format!("Database error: {other}"),
        }
    }
}

/// The refusal of `execute` on a read-only server.
pub const WRITES_DISABLED: &str = "Refused: this database server is read-only. The execute tool \
    (INSERT, UPDATE, DELETE, DDL) is available only when the server is started with --allow-writes.";

/// The stop switch of an SQLite statement in progress.
struct Armed {
    stop: Arc<AtomicBool>,
    deadline: Instant,
}

impl Armed {
    /// An error of a statement run under this guard: an interruption past
    /// the deadline is the time limit.
    fn explain(&self, db: &Database, e: sqlx::Error) -> String {
        if let sqlx::Error::Database(d) = &e {
            if d.code().as_deref() == Some("9") && Instant::now() >= self.deadline {
                return db.timeout_message();
            }
        }
        db.message(e)
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        // A cancelled request drops its future: stop its statement too.
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn check_param_count<T>(
    declared: Option<sqlx::Either<&[T], usize>>,
    given: usize,
) -> Result<(), String> {
    let wanted = match declared {
        Some(sqlx::Either::Left(types)) => types.len(),
        Some(sqlx::Either::Right(n)) => n,
        None => return Ok(()),
    };
    if wanted == given {
        Ok(())
    } else {
        Err(format!(
            "The statement has {wanted} placeholder(s) but {given} value(s) were given in `params`."
        ))
    }
}

fn pg_kind(relkind: &str) -> &'static str {
    match relkind {
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        _ => "table",
    }
}

fn column_list<C: Column>(cols: &[C]) -> (Vec<String>, Vec<String>) {
    cols.iter()
        .map(|c| (c.name().to_owned(), c.type_info().name().to_owned()))
        .unzip()
}

/// Gathers rows up to the row limit and the byte budget.
struct Collector {
    limit: usize,
    rows: Vec<Vec<Value>>,
    bytes: usize,
    note: Option<String>,
}

impl Collector {
    fn new(limit: usize) -> Self {
        Collector {
            limit,
            rows: Vec::new(),
            bytes: 0,
            note: None,
        }
    }

    /// Checks a row by the sizes of its raw values, before they are
    /// decoded: an error for a value over [`MAX_VALUE_BYTES`], `false`
    /// (with a note) when the row would pass [`MAX_RESULT_BYTES`].
    fn admit<'c>(&mut self, sizes: impl Iterator<Item = (&'c str, usize)>) -> Result<bool, String> {
        let mut row = 0usize;
        for (column, size) in sizes {
            if size > MAX_VALUE_BYTES {
                return Err(too_large_value(
                    Some(self.rows.len() + 1),
                    Some((column, size)),
                ));
            }
            row += size;
        }
        if self.bytes + row > MAX_RESULT_BYTES {
            self.note = Some(self.over_budget_note());
            return Ok(false);
        }
        Ok(true)
    }

    fn over_budget_note(&self) -> String {
        format!(
            "The result passed {} MiB after {} rows; the rest was left off. Select fewer or narrower columns.",
            MAX_RESULT_BYTES >> 20,
            self.rows.len()
        )
    }

    /// Adds a row; `false` when the result is full (and the row was left off).
    fn push(&mut self, row: Vec<Value>) -> bool {
        if self.rows.len() >= self.limit {
            self.note = Some(format!(
                "The statement returned more than {} rows; only the first {} are here. \
                 Raise `limit` (at most {MAX_LIMIT}) or narrow the query.",
                self.limit, self.limit
            ));
            return false;
        }
        let size = serde_json::to_vec(&row).map_or(0, |v| v.len());
        if self.bytes + size > MAX_RESULT_BYTES {
            self.note = Some(self.over_budget_note());
            return false;
        }
        self.bytes += size;
        self.rows.push(row);
        true
    }

    fn finish(self, (columns, column_types): (Vec<String>, Vec<String>)) -> QueryOutput {
        QueryOutput {
            columns,
            column_types,
            row_count: self.rows.len(),
            rows: self.rows,
            truncated: self.note.is_some(),
            note: self.note,
        }
    }
}

/// The refusal of a value over [`MAX_VALUE_BYTES`]: where it was, when
/// known, and what to do instead.
fn too_large_value(row: Option<usize>, cell: Option<(&str, usize)>) -> String {
    let what = match (row, cell) {
        (Some(row), Some((column, size))) => {
            format!("Row {row}, column {column:?} holds a value of about {size} bytes")
        }
        _ => "The statement made a value".to_owned(),
    };
    format!(
        "{what}, more than the {MAX_VALUE_BYTES} bytes one value may have in a result. \
         Select a part of it (substr, length) instead."
    )
}

async fn open_postgres(url: &str) -> Result<Backend, String> {
    let options =
        PgConnectOptions::from_str(url).map_err(|e| format!("Invalid PostgreSQL URL: {e}"))?;
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(300))
        .connect_with(options)
        .await
        .map_err(|e| format!("Could not connect to PostgreSQL: {e}"))?;
    Ok(Backend::Postgres(pool))
}

async fn open_sqlite(url: &str, config: &DatabaseConfig) -> Result<Backend, String> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(
            "An in-memory SQLite database cannot be shared by the read-only and the writing \
                    connections; give a file path, such as sqlite://mcp-database-sample.db."
                .into(),
        );
    }
    let base = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).map_err(|e| format!("Invalid SQLite URL: {e}"))?
    } else if url.contains("://") {
        return Err(format!(
            "Unsupported DATABASE_URL {url:?}: use sqlite://PATH (or a file path) or postgres://USER@HOST:PORT/DB."
        ));
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    let base = base.busy_timeout(Duration::from_secs(5));
    let path = base.get_filename().to_owned();
    let exists = path.exists();
    if !exists && !config.seed {
        return Err(format!(
            "The SQLite database {} does not exist.",
            path.display()
        ));
    }
    // Creating and seeding is the server's own setup, done before any client
    // is served; a read-only server then closes this connection.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(base.clone().create_if_missing(true))
        .await
        .map_err(|e| format!("Could not open the SQLite database {}: {e}", path.display()))?;
    if config.seed {
        let (tables,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
                .fetch_one(&write)
                .await
                .map_err(|e| {
                    format!("Could not read the SQLite database {}: {e}", path.display())
                })?;
        if tables == 0 {
            sqlx::raw_sql(SAMPLE_SCHEMA)
                .execute(&write)
                .await
                .map_err(|e| format!("Could not create the sample tables: {e}"))?;
            tracing::info!(path = %path.display(), "created the sample database");
        }
    }
    let write = if config.allow_writes {
        Some(write)
    } else {
        write.close().await;
        None
    };
    let read = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(base.read_only(true).pragma("query_only", "ON"))
        .await
        .map_err(|e| {
            format!(
                "Could not open the SQLite database {} read-only: {e}",
                path.display()
            )
        })?;
    Ok(Backend::Sqlite { read, write })
}

/// The sample schema and rows of a fresh SQLite database.
pub const SAMPLE_SCHEMA: &str = r#"
BEGIN;
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    city TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL NOT NULL CHECK (price >= 0),
    in_stock BOOLEAN NOT NULL DEFAULT 1
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    ordered_at TEXT NOT NULL
);
CREATE INDEX orders_by_customer ON orders(customer_id);
INSERT INTO customers (id, name, email, city, created_at) VALUES
    (1, 'Ada Lovelace', 'ada@example.com', 'London', '2024-01-15T09:30:00Z'),
    (2, 'Alan Turing', 'alan@example.com', 'Manchester', '2024-02-01T14:00:00Z'),
    (3, 'Grace Hopper', 'grace@example.com', 'New York', '2024-02-20T11:15:00Z'),
    (4, 'Edsger Dijkstra', 'edsger@example.com', 'Eindhoven', '2024-03-05T16:45:00Z'),
    (5, 'Barbara Liskov', 'barbara@example.com', NULL, '2024-03-18T08:00:00Z');
INSERT INTO products (id, name, category, price, in_stock) VALUES
    (1, 'Mechanical keyboard', 'hardware', 89.5, 1),
    (2, '27-inch monitor', 'hardware', 249.99, 1),
    (3, 'USB-C hub', 'accessories', 34.0, 0),
    (4, 'Laptop stand', 'accessories', 45.25, 1),
    (5, 'Noise-cancelling headphones', 'audio', 199.0, 1);
INSERT INTO orders (id, customer_id, product_id, quantity, ordered_at) VALUES
    (1, 1, 1, 1, '2024-04-01T10:00:00Z'),
    (2, 1, 3, 2, '2024-04-01T10:05:00Z'),
    (3, 2, 2, 1, '2024-04-03T12:30:00Z'),
    (4, 3, 5, 1, '2024-04-07T09:10:00Z'),
    (5, 3, 4, 3, '2024-04-08T15:20:00Z'),
    (6, 4, 1, 2, '2024-04-10T17:45:00Z'),
    (7, 5, 2, 1, '2024-04-12T08:05:00Z'),
    (8, 2, 5, 1, '2024-04-15T13:40:00Z');
COMMIT;
"#;
