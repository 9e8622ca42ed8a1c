//! How the gateway names what it aggregates, so that every name maps back
//! to exactly one downstream server.
//!
//! - **Tools and prompts** are named `<server>__<name>`: the server's name,
//!   two underscores, the name the server gave. A server name never contains
//!   `__` nor ends in `_`, so the first `__` of a prefixed name always ends
//!   the prefix, whatever the downstream name holds (`tools__a__b` is the
//!   tool `a__b` of `tools`). Names from different servers cannot collide,
//!   because their prefixes differ.
//! - **Resources** keep their URIs (clients and models treat them as
//!   identifiers); the gateway remembers which server listed each one.
//! - **Cursors** of aggregated lists ([`Position`]) hold the server index,
//!   the downstream cursor and how much of that page was given: opaque to
//!   clients, and enough to resume the walk over the servers where the
//!   previous page stopped, even inside a downstream page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mcp_sdk::Error;

/// What separates a server's name from the name it gave a tool or prompt.
pub const SEPARATOR: &str = "__";

/// Checks that `name` can prefix names reversibly: not empty, ASCII letters,
/// digits, `-` and `_`, without `__` and not ending in `_`.
pub fn check_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a server name is empty".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "server name {name:?} may hold only ASCII letters, digits, '-' and '_' (it prefixes tool names)"
        ));
    }
    if name.contains(SEPARATOR) || name.ends_with('_') {
        return Err(format!(
            "server name {name:?} may not contain {SEPARATOR:?} nor end in '_' (it would make prefixed names ambiguous)"
        ));
    }
    Ok(())
}

/// `<server>__<name>`.
pub fn prefixed(server: &str, name: &str) -> String {
    format!("{server}{SEPARATOR}{name}")
}

/// Splits `<server>__<name>` at its first separator; `what` ("tool",
/// "prompt") goes into the error a name without one gets.
pub fn split<'a>(prefixed: &'a str, what: &str) -> Result<(&'a str, &'a str), Error> {
    prefixed
        .split_once(SEPARATOR)
        .filter(|(server, name)| !server.is_empty() && !name.is_empty())
        .ok_or_else(|| {
            Error::invalid_params(format_args!(
                "unknown {what} {prefixed:?}: the gateway names every {what} <server>{SEPARATOR}<name>"
            ))
        })
}

/// A position in an aggregated list: which server, where in its list, and
/// how many items of that page the previous page of ours already gave.
///
/// Encoded as base64url of `server:skip:cursor`, so a client sees one
/// opaque token; the same position always encodes the same way, and
/// re-reading a server's page at the same cursor (as the next page does
/// when it starts inside one) gives the rest of it as long as the server's
/// list is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Position {
    /// The index of the server in the gateway's configuration.
    pub server: usize,
    /// The cursor that server gave, or `None` for its first page.
    pub cursor: Option<String>,
    /// How many items at the start of that server's page were given already.
    pub skip: usize,
}

impl Position {
    /// The first item of server `server`'s list.
    pub fn start_of(server: usize) -> Self {
        Position {
            server,
            cursor: None,
            skip: 0,
        }
    }

    /// The opaque cursor for this position.
    pub fn encode(&self) -> String {
        let plain = format!(
            "{}:{}:{}",
            self.server,
            self.skip,
            self.cursor.as_deref().unwrap_or("")
        );
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Reads a cursor made by [`encode`](Self::encode); `None` is the start.
    /// Anything else is -32602, as MCP asks for invalid cursors.
    pub fn decode(cursor: Option<&str>, servers: usize) -> Result<Self, Error> {
        let Some(cursor) = cursor else {
            return Ok(Position::default());
        };
        let bad = || {
            Error::invalid_params(format_args!(
                "invalid cursor {cursor:?}: pass the nextCursor of the previous page as it came"
            ))
        };
        let plain = URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(bad)?;
        let mut parts = plain.splitn(3, ':');
        let (Some(index), Some(skip), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(index) || !digits(skip) {
            return Err(bad());
        }
        let server: usize = index.parse().map_err(|_| bad())?;
        let skip: usize = skip.parse().map_err(|_| bad())?;
        if server >= servers {
            return Err(bad());
        }
        Ok(Position {
            server,
            cursor: (!rest.is_empty()).then(|| rest.to_owned()),
            skip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_names_split_back() {
        for (server, name) in [
            ("tools", "add"),
            ("a-b", "x__y"),
            ("s_1", "_lead"),
            ("t", "a_"),
        ] {
            let full = prefixed(server, name);
            assert_eq!(split(&full, "tool").unwrap(), (server, name), "{full}");
        }
        for bad in ["add", "__add", "tools__", ""] {
            let e = split(bad, "tool").unwrap_err();
            assert_eq!(e.code, mcp_sdk::ErrorCode::INVALID_PARAMS);
            assert!(e.message.contains("<server>__<name>"), "{}", e.message);
        }
    }

    #[test]
    fn server_names_that_would_be_ambiguous_are_refused() {
        for good in ["tools", "my-server", "s_1", "A9"] {
            check_server_name(good).unwrap();
        }
        for bad in ["", "a__b", "a_", "a b", "ü", "a/b"] {
            assert!(check_server_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_invalid_params() {
        for p in [
            Position::default(),
            Position {
                server: 2,
                cursor: Some("abc:def".into()),
                skip: 7,
            },
        ] {
            assert_eq!(Position::decode(Some(&p.encode()), 3).unwrap(), p);
        }
        assert_eq!(Position::decode(None, 3).unwrap(), Position::default());
        let encoded = |plain: &str| URL_SAFE_NO_PAD.encode(plain);
        let mut bad: Vec<String> = ["", "x:1", "3:", "-1:", "+1:", "nope", "0:1:c", "%%%"]
            .map(String::from)
            .to_vec();
        // Well-encoded but wrong inside: no skip, a server out of range,
        // signs, a skip that is not a number.
        bad.extend(["0:", "3:0:", "+1:0:", "0:-1:", "0:x:", "0:0"].map(encoded));
        for bad in &bad {
            let e = Position::decode(Some(bad.as_str()), 3).unwrap_err();
            assert_eq!(e.code, mcp_sdk::ErrorCode::INVALID_PARAMS, "{bad}");
        }
    }

    proptest::proptest! {
        /// Every position reads back from its cursor (an empty downstream
        /// cursor is the same as none: both are that server's first page),
        /// and any text is a position or -32602, never a panic.
        #[test]
        fn every_cursor_round_trips(
            server in 0usize..64,
            cursor in proptest::option::of(".{1,40}"),
            skip in proptest::prelude::any::<usize>(),
            junk in ".{0,60}",
        ) {
            let p = Position { server, cursor, skip };
            proptest::prop_assert_eq!(Position::decode(Some(&p.encode()), 64).unwrap(), p);
            if let Err(e) = Position::decode(Some(&junk), 64) {
                proptest::prop_assert_eq!(e.code, mcp_sdk::ErrorCode::INVALID_PARAMS);
            }
        }
    }
}
