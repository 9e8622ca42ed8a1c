//! The database server's statement check: any text, in both dialects, is
//! accepted or refused without a panic, and what is accepted is exactly
//! one statement of an allowed kind.
#![no_main]

// The check's own file, compiled here: it is part of the reference
// system's binary crate, whose other dependencies the fuzzer needs not.
#[allow(dead_code)]
#[path = "../../src/servers/database/sql.rs"]
mod sql;

use libfuzzer_sys::fuzz_target;
use sql::{check, first_keyword, statements, Dialect, READ_KEYWORDS, WRITE_KEYWORDS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = first_keyword(text);
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        for allowed in [READ_KEYWORDS, WRITE_KEYWORDS] {
            if let Ok(keyword) = check(text, dialect, allowed, "query") {
                assert!(
                    allowed.contains(&keyword.as_str()),
                    "{keyword} let through: {text:?}"
                );
                assert_eq!(statements(text, dialect).map(|s| s.len()), Ok(1));
            }
        }
    }
});
