//! The statement check that runs before any SQL reaches the database: one
//! statement per call, and of a kind the tool allows.
//!
//! This is a policy check, not the security boundary: reads also run on a
//! read-only connection (SQLite) or in a `READ ONLY` transaction
//! (PostgreSQL), which refuse whatever slips past a lexer.

/// The SQL dialect, for the lexer (quoting and comments differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `[ident]` and `` `ident` `` quoting, flat `/* */` comments.
    Sqlite,
    /// PostgreSQL: `$tag$` dollar quotes, `E'..'` strings, nested comments.
    Postgres,
}

/// What a statement may begin with on the read-only `query` tool.
pub const READ_KEYWORDS: &[&str] = &["SELECT", "WITH", "EXPLAIN", "VALUES", "TABLE", "SHOW"];

/// What a statement may begin with on the `execute` tool. Transaction
/// control, `ATTACH`, `PRAGMA`, `COPY`, `SET`, `GRANT`, `DO`, `CALL` and the
/// like stay refused: each call is its own transaction, and none of them is
/// a data change.
pub const WRITE_KEYWORDS: &[&str] = &[
    "INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "WITH", "CREATE", "ALTER", "DROP",
    "TRUNCATE", "COMMENT",
];

/// The statements of `sql` that hold more than whitespace and comments.
///
/// # Errors
/// An unterminated string, quoted identifier or comment.
pub fn statements(sql: &str, dialect: Dialect) -> Result<Vec<&str>, String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut start, mut significant) = (0, 0, false);
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'-' if next == Some(b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
                continue;
            }
            b'/' if next == Some(b'*') => {
                i = skip_block_comment(b, i, dialect)?;
                continue;
            }
            b'\'' => {
                let escapes = dialect == Dialect::Postgres
                    && i > 0
                    && matches!(b[i - 1], b'e' | b'E')
                    && (i < 2 || !is_ident(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes).ok_or("unterminated string literal")?;
            }
            b'"' => i = skip_quoted(b, i, b'"', false).ok_or("unterminated quoted identifier")?,
            b'`' if dialect == Dialect::Sqlite => {
                i = skip_quoted(b, i, b'`', false).ok_or("unterminated quoted identifier")?
            }
            b'[' if dialect == Dialect::Sqlite => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b']')
                    .map(|p| i + p + 1)
                    .ok_or("unterminated [identifier]")?
            }
            b'$' if dialect == Dialect::Postgres && (i == 0 || !is_ident(b[i - 1])) => {
                i = skip_dollar_quote(b, i)?;
            }
            b';' => {
                if significant {
                    out.push(sql[start..i].trim());
                }
                i += 1;
                start = i;
                significant = false;
                continue;
            }
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            _ => i += 1,
        }
        significant = true;
    }
    if significant {
        out.push(sql[start..].trim());
    }
    Ok(out)
}

/// The first keyword of a statement, upper-cased: what follows leading
/// whitespace, comments and opening parentheses.
pub fn first_keyword(statement: &str) -> String {
    keyword(statement, None)
}

/// [`first_keyword`] with the comments of `dialect`: PostgreSQL's nest, so
/// `/* /* */ SELECT */ DELETE ...` begins with `DELETE` there.
pub fn first_keyword_in(statement: &str, dialect: Dialect) -> String {
    keyword(statement, Some(dialect))
}

fn keyword(statement: &str, dialect: Option<Dialect>) -> String {
    let b = statement.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = match dialect {
                    Some(dialect) => skip_block_comment(b, i, dialect).unwrap_or(b.len()),
                    None => b[i + 2..]
                        .windows(2)
                        .position(|w| w == b"*/")
                        .map_or(b.len(), |p| i + p + 4),
                };
            }
            b'(' => i += 1,
            c if c.is_ascii_whitespace() => i += 1,
            _ => break,
        }
    }
    let end = b[i..]
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .map_or(b.len(), |p| i + p);
    statement[i..end].to_ascii_uppercase()
}

/// Checks that `sql` is one statement beginning with one of `allowed`, and
/// returns that statement's first keyword.
///
/// # Errors
/// A message for the model: empty SQL, several statements, or a statement
/// of a kind the tool does not run.
pub fn check(sql: &str, dialect: Dialect, allowed: &[&str], tool: &str) -> Result<String, String> {
    let stmts = statements(sql, dialect).map_err(|e| format!("Could not read the SQL: {e}."))?;
    let stmt = match stmts.as_slice() {
        [] => return Err("The SQL is empty: give one statement.".into()),
        [one] => *one,
        many => {
            return Err(format!(
                "Refused: {} statements found; the {tool} tool runs exactly one statement per call \
                 (a trailing ';' is fine).",
                many.len()
            ))
        }
    };
    let keyword = first_keyword_in(stmt, dialect);
    if allowed.contains(&keyword.as_str()) {
        Ok(keyword)
    } else {
        let shown = if keyword.is_empty() { "this" } else { &keyword };
        Err(format!(
            "Refused: the {tool} tool does not run {shown} statements; it runs statements beginning with {}.",
            allowed.join(", ")
        ))
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Skips a quoted run starting at `i` (the opening quote); a doubled quote
/// is an escaped one, and with `backslash` so is `\x`. Returns the index
/// after the closing quote.
fn skip_quoted(b: &[u8], i: usize, quote: u8, backslash: bool) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        if backslash && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == quote {
            if b.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return Some(j + 1);
        }
        j += 1;
    }
    None
}

fn skip_block_comment(b: &[u8], i: usize, dialect: Dialect) -> Result<usize, String> {
    let mut depth = 1;
    let mut j = i + 2;
    while j + 1 < b.len() {
        if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Ok(j);
            }
        } else if dialect == Dialect::Postgres && b[j] == b'/' && b[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else {
            j += 1;
        }
    }
    Err("unterminated /* comment".into())
}

/// A `$tag$ ... $tag$` string, or a lone `$` (such as the `$1` of a
/// placeholder), starting at `i`.
fn skip_dollar_quote(b: &[u8], i: usize) -> Result<usize, String> {
    let mut j = i + 1;
    if b.get(j).is_some_and(|c| c.is_ascii_digit()) {
        return Ok(j);
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
        j += 1;
    }
    if b.get(j) != Some(&b'$') {
        return Ok(i + 1);
    }
    let tag = &b[i..=j];
    let body = j + 1;
    b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map(|p| body + p + tag.len())
        .ok_or_else(|| "unterminated $-quoted string".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(sql: &str, d: Dialect) -> usize {
        statements(sql, d).unwrap().len()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        use Dialect::*;
        assert_eq!(count("SELECT 1", Sqlite), 1);
        assert_eq!(count("SELECT 1;", Sqlite), 1);
        assert_eq!(count("SELECT 1; ; -- trailing\n", Sqlite), 1);
        assert_eq!(count("SELECT 1; DROP TABLE x", Sqlite), 2);
        assert_eq!(count("SELECT ';' , \"a;b\", [c;d], `e;f`", Sqlite), 1);
        assert_eq!(count("SELECT 'it''s; fine'", Sqlite), 1);
        assert_eq!(count("SELECT 1 -- ; not a split\n", Sqlite), 1);
        assert_eq!(count("SELECT 1 /* ; */", Sqlite), 1);
        // SQLite comments do not nest: the second statement is real.
        assert_eq!(count("SELECT 1 /* /* */; DELETE FROM t", Sqlite), 2);
        // PostgreSQL comments do.
        assert!(statements("SELECT 1 /* /* */; DELETE FROM t", Postgres).is_err());
        assert_eq!(count("SELECT 1 /* /* */ */; DELETE FROM t", Postgres), 2);
        assert_eq!(count("SELECT $$a;b$$, $x$ ; $x$, $1", Postgres), 1);
        assert_eq!(count("SELECT E'\\'; DROP TABLE t; --'", Postgres), 1);
        // Without E, a backslash is an ordinary character.
        assert_eq!(count("SELECT '\\'; DROP TABLE t", Postgres), 2);
        assert_eq!(count("   ", Sqlite), 0);
        assert_eq!(count("-- only a comment", Sqlite), 0);
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert!(statements("SELECT 'abc", Dialect::Sqlite).is_err());
        assert!(statements("SELECT \"abc", Dialect::Sqlite).is_err());
        assert!(statements("SELECT $q$abc", Dialect::Postgres).is_err());
        assert!(statements("SELECT 1 /* x", Dialect::Sqlite).is_err());
    }

    #[test]
    fn first_keywords() {
        assert_eq!(first_keyword("  select 1"), "SELECT");
        assert_eq!(
            first_keyword("-- hi\n/* there */ (SELECT 1) UNION SELECT 2"),
            "SELECT"
        );
        assert_eq!(first_keyword("WITH x AS (DELETE FROM t) SELECT 1"), "WITH");
        assert_eq!(first_keyword("1"), "");
        // PostgreSQL's comments nest: what looks like a SELECT after the
        // first `*/` is still inside the comment (seen while writing the
        // fuzz target).
        let hidden = "/* /* */ SELECT */ DELETE FROM t";
        assert!(check(hidden, Dialect::Postgres, READ_KEYWORDS, "query").is_err());
        assert_eq!(first_keyword_in(hidden, Dialect::Postgres), "DELETE");
        assert_eq!(first_keyword_in(hidden, Dialect::Sqlite), "SELECT");
    }

    #[test]
    fn checks_kind_and_count() {
        let d = Dialect::Sqlite;
        assert_eq!(
            check("select 1;", d, READ_KEYWORDS, "query").unwrap(),
            "SELECT"
        );
        let e = check("DELETE FROM t", d, READ_KEYWORDS, "query").unwrap_err();
        assert!(e.contains("does not run DELETE"), "{e}");
        let e = check("SELECT 1; SELECT 2", d, READ_KEYWORDS, "query").unwrap_err();
        assert!(e.contains("2 statements"), "{e}");
        assert!(check("", d, READ_KEYWORDS, "query")
            .unwrap_err()
            .contains("empty"));
        assert!(check("ATTACH 'x' AS y", d, WRITE_KEYWORDS, "execute").is_err());
        assert!(check("PRAGMA writable_schema = 1", d, WRITE_KEYWORDS, "execute").is_err());
        assert_eq!(
            check("insert into t values (1)", d, WRITE_KEYWORDS, "execute").unwrap(),
            "INSERT"
        );
    }
}
