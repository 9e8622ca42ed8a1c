//! Matching URIs against RFC 6570 URI templates, for resource templates.
//!
//! Supports the expressions resource templates use in practice: `{var}`
//! (one segment: no `/`, `?` or `#`), `{+var}` and `{#var}` (anything), and
//! `{/var}`, `{.var}`, `{?a,b}`, `{&a}` for path, label and query parts.

use std::collections::HashMap;

/// A parsed URI template.
#[derive(Debug, Clone)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Expr { op: Option<char>, vars: Vec<String> },
}

/// The template text is not a URI template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URI template {template:?}: {reason}")]
pub struct InvalidTemplate {
    template: String,
    reason: &'static str,
}

impl UriTemplate {
    /// Parses a template such as `file:///{path}` or `weather://{city}/current`.
    pub fn parse(template: &str) -> Result<Self, InvalidTemplate> {
        let bad = |reason| InvalidTemplate {
            template: template.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let end = rest[start..].find('}').ok_or_else(|| bad("unclosed '{'"))? + start;
            let mut body = &rest[start + 1..end];
            let op = body.chars().next().filter(|c| "+#./;?&".contains(*c));
            if let Some(c) = op {
                body = &body[c.len_utf8()..];
            }
            let vars: Vec<String> = body
                .split(',')
                .map(|v| v.trim_end_matches('*').to_owned())
                .collect();
            if vars.iter().any(|v| v.is_empty()) {
                return Err(bad("empty variable name"));
            }
            parts.push(Part::Expr { op, vars });
            rest = &rest[end + 1..];
        }
        if rest.contains('}') {
            return Err(bad("unmatched '}'"));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(UriTemplate { parts })
    }

    /// The names of the template's variables, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts
            .iter()
            .flat_map(|p| match p {
                Part::Literal(_) => [].iter(),
                Part::Expr { vars, .. } => vars.iter(),
            })
            .map(String::as_str)
    }

    /// The variables of `uri` if it matches, percent-decoded. URIs longer
    /// than [`MAX_URI_BYTES`] match no template.
    ///
    /// Linear in the URI's length for each part of the template: which
    /// split points can still lead to a match is worked out once, from the
    /// end, and the variables are then bound along the longest values
    /// (backtracking from each guess would take exponential time on
    /// adjacent expressions such as `{a}{b}{c}`).
    pub fn matches(&self, uri: &str) -> Option<HashMap<String, String>> {
        if uri.len() > MAX_URI_BYTES {
            return None;
        }
        let ok = self.feasible(uri);
        if !ok[0][0] {
            return None;
        }
        let mut vars = HashMap::new();
        let mut pos = 0;
        for (i, part) in self.parts.iter().enumerate() {
            let next = &ok[i + 1];
            match part {
                Part::Literal(lit) => pos += lit.len(),
                Part::Expr { op, vars: names } => {
                    let syntax = Syntax::of(*op)?;
                    if !uri[pos..].starts_with(syntax.prefix) {
                        continue; // an optional expansion, absent
                    }
                    let body = pos + syntax.prefix.len();
                    let limit = syntax.limit(uri, body);
                    let end = candidates(uri, body, limit).find(|&e| {
                        next[e] && bind(op, syntax.sep, names, &uri[body..e], &mut vars)
                    })?;
                    pos = end;
                }
            }
        }
        Some(vars)
    }

    /// `ok[i][pos]`: whether the parts from `i` on can match `uri[pos..]`.
    fn feasible(&self, uri: &str) -> Vec<Vec<bool>> {
        let n = uri.len();
        let mut ok = vec![vec![false; n + 1]; self.parts.len() + 1];
        ok[self.parts.len()][n] = true;
        for (i, part) in self.parts.iter().enumerate().rev() {
            let (done, todo) = ok.split_at_mut(i + 1);
            let (here, next) = (&mut done[i], &todo[0]);
            match part {
                Part::Literal(lit) => {
                    for (pos, slot) in here.iter_mut().enumerate() {
                        *slot = uri.is_char_boundary(pos)
                            && uri[pos..].starts_with(lit.as_str())
                            && next[pos + lit.len()];
                    }
                }
                Part::Expr { op, vars: names } => {
                    let Some(syntax) = Syntax::of(*op) else {
                        continue;
                    };
                    // The first feasible end at or after each position.
                    let mut first_ok = vec![usize::MAX; n + 2];
                    for pos in (0..=n).rev() {
                        first_ok[pos] = if next[pos] { pos } else { first_ok[pos + 1] };
                    }
                    let simple = names.len() == 1 && !syntax.keyed;
                    let mut stop = n;
                    for pos in (0..=n).rev() {
                        if pos < n && syntax.stops.contains(&(uri.as_bytes()[pos] as char)) {
                            stop = pos;
                        }
                        if !uri.is_char_boundary(pos) {
                            continue;
                        }
                        if !uri[pos..].starts_with(syntax.prefix) {
                            here[pos] = op.is_some() && next[pos];
                            continue;
                        }
                        let body = pos + syntax.prefix.len();
                        // No prefix holds a stop character of its own
                        // operator: the first stop at or after `pos` is the
                        // one at or after `body`.
                        let limit = stop;
                        here[pos] = if simple {
                            if limit == body {
                                next[body]
                            } else {
                                first_ok[body + 1] <= limit
                            }
                        } else {
                            candidates(uri, body, limit).any(|e| {
                                next[e]
                                    && bind(
                                        op,
                                        syntax.sep,
                                        names,
                                        &uri[body..e],
                                        &mut HashMap::new(),
                                    )
                            })
                        };
                    }
                }
            }
        }
        ok
    }
}

/// The longest URI matched against templates (64 KiB): the matcher keeps a
/// table of one byte per URI byte and template part.
pub const MAX_URI_BYTES: usize = 64 * 1024;

/// How an expression's operator expands: what comes before it, what
/// separates its values, and which characters a value cannot contain.
struct Syntax {
    prefix: &'static str,
    sep: char,
    stops: &'static [char],
    keyed: bool,
}

impl Syntax {
    fn of(op: Option<char>) -> Option<Syntax> {
        let (prefix, sep, stops): (&str, char, &[char]) = match op {
            None => ("", ',', &['/', '?', '#', '&']),
            Some('+') => ("", ',', &[]),
            Some('#') => ("#", ',', &[]),
            Some('.') => (".", '.', &['/', '?', '#']),
            Some('/') => ("/", '/', &['?', '#']),
            Some(';') => (";", ';', &['/', '?', '#']),
            Some('?') => ("?", '&', &['#']),
            Some('&') => ("&", '&', &['#']),
            Some(_) => return None,
        };
        let keyed = matches!(op, Some('?' | '&' | ';'));
        Some(Syntax {
            prefix,
            sep,
            stops,
            keyed,
        })
    }

    /// Where a value starting at `body` must end at the latest.
    fn limit(&self, uri: &str, body: usize) -> usize {
        uri[body..]
            .find(|c| self.stops.contains(&c))
            .map_or(uri.len(), |i| body + i)
    }
}

/// The ends a value starting at `body` may have, longest first: up to
/// `limit`, at least one character unless `limit` leaves none.
fn candidates(uri: &str, body: usize, limit: usize) -> impl Iterator<Item = usize> + '_ {
    let shortest = if limit == body { body } else { body + 1 };
    (shortest..=limit)
        .rev()
        .filter(move |&e| uri.is_char_boundary(e))
}

fn bind(
    op: &Option<char>,
    sep: char,
    names: &[String],
    text: &str,
    vars: &mut HashMap<String, String>,
) -> bool {
    let keyed = matches!(op, Some('?' | '&' | ';'));
    let values: Vec<&str> = if names.len() == 1 && !keyed {
        vec![text]
    } else {
        text.split(sep).collect()
    };
    for (i, value) in values.iter().enumerate() {
        if keyed {
            let Some((k, v)) = value.split_once('=') else {
                return false;
            };
            if !names.iter().any(|n| n == k) {
                return false;
            }
            vars.insert(k.to_owned(), percent_decode(v));
        } else if let Some(name) = names.get(i) {
            vars.insert(name.clone(), percent_decode(value));
        } else {
            return false;
        }
    }
    true
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, uri: &str) -> Option<HashMap<String, String>> {
        UriTemplate::parse(t).unwrap().matches(uri)
    }

    #[test]
    fn simple_variables() {
        let v = m("test://template/{id}/data", "test://template/123/data").unwrap();
        assert_eq!(v["id"], "123");
        assert!(m("test://template/{id}/data", "test://template/1/2/data").is_none());
        assert!(m("test://template/{id}/data", "test://other/1/data").is_none());
        let v = m("weather://{city}/{day}", "weather://Paris/today").unwrap();
        assert_eq!((v["city"].as_str(), v["day"].as_str()), ("Paris", "today"));
    }

    #[test]
    fn reserved_and_query() {
        let v = m("file:///{+path}", "file:///a/b/c.txt").unwrap();
        assert_eq!(v["path"], "a/b/c.txt");
        let v = m("search://items{?q,limit}", "search://items?q=x%20y&limit=5").unwrap();
        assert_eq!((v["q"].as_str(), v["limit"].as_str()), ("x y", "5"));
        assert!(m("search://items{?q}", "search://items").is_some());
    }

    /// Adjacent expressions are ambiguous: each split point is weighed
    /// once, not once per way of reaching it. Backtracking took
    /// exponential time here (a URI of 40 characters that nearly matches
    /// `{a}{b}...{l}x` did not finish).
    #[test]
    fn adjacent_expressions_match_without_backtracking() {
        let template = format!(
            "t://{}x",
            ('a'..='l').map(|c| format!("{{{c}}}")).collect::<String>()
        );
        let near_miss = format!("t://{}y", "z".repeat(40));
        assert!(m(&template, &near_miss).is_none());
        let v = m(&template, &format!("t://{}x", "z".repeat(40))).unwrap();
        // The longest values first: the first variables take all they can.
        assert_eq!(v["a"], "z".repeat(29));
        assert_eq!(v["l"], "z");
        let v = m("t://{a}{b}/{+rest}", "t://ab/c/d").unwrap();
        // An empty value only where a stop character leaves no room.
        assert_eq!((&*v["a"], &*v["b"], &*v["rest"]), ("ab", "", "c/d"));
        assert!(m("t://{a}", &format!("t://{}", "z".repeat(MAX_URI_BYTES))).is_none());
        assert_eq!(
            m("t://{a}", &format!("t://{}", "é".repeat(1000))).unwrap()["a"],
            "é".repeat(1000)
        );
    }

    #[test]
    fn bad_templates() {
        assert!(UriTemplate::parse("a{b").is_err());
        assert!(UriTemplate::parse("a{}").is_err());
        assert!(UriTemplate::parse("a}b").is_err());
    }
}
