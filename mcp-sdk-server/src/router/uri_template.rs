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

    /// The variables of `uri` if it matches, percent-decoded.
    pub fn matches(&self, uri: &str) -> Option<HashMap<String, String>> {
        let mut vars = HashMap::new();
        if match_parts(&self.parts, uri, &mut vars) {
            Some(vars)
        } else {
            None
        }
    }
}

fn match_parts(parts: &[Part], uri: &str, vars: &mut HashMap<String, String>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return uri.is_empty();
    };
    match first {
        Part::Literal(lit) => uri
            .strip_prefix(lit.as_str())
            .is_some_and(|tail| match_parts(rest, tail, vars)),
        Part::Expr { op, vars: names } => {
            let (prefix, sep, stops): (&str, char, &[char]) = match op {
                None => ("", ',', &['/', '?', '#', '&']),
                Some('+') => ("", ',', &[]),
                Some('#') => ("#", ',', &[]),
                Some('.') => (".", '.', &['/', '?', '#']),
                Some('/') => ("/", '/', &['?', '#']),
                Some(';') => (";", ';', &['/', '?', '#']),
                Some('?') => ("?", '&', &['#']),
                Some('&') => ("&", '&', &['#']),
                Some(_) => return false,
            };
            let Some(body) = uri.strip_prefix(prefix) else {
                // Optional expansions (query, path, label) may be absent.
                return op.is_some() && match_parts(rest, uri, vars);
            };
            // Try the longest value first, backing off to let later literals match.
            let limit = body.find(|c| stops.contains(&c)).unwrap_or(body.len());
            let mut ends: Vec<usize> = body[..limit]
                .char_indices()
                .map(|(i, _)| i)
                .skip(1)
                .chain(std::iter::once(limit))
                .collect();
            ends.reverse();
            for end in ends {
                let mut trial = vars.clone();
                if bind(op, sep, names, &body[..end], &mut trial)
                    && match_parts(rest, &body[end..], &mut trial)
                {
                    *vars = trial;
                    return true;
                }
            }
            false
        }
    }
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

    #[test]
    fn bad_templates() {
        assert!(UriTemplate::parse("a{b").is_err());
        assert!(UriTemplate::parse("a{}").is_err());
        assert!(UriTemplate::parse("a}b").is_err());
    }
}
