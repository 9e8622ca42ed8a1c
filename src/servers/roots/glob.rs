//! A small glob matcher: `*`, `?`, `[...]` (with `!`/`^` negation and
//! ranges), `**` and `**/`, `\` escapes. Matching is dynamic programming
//! over (pattern token, text position), so no pattern is exponential.

/// The longest pattern accepted, in characters.
pub const MAX_PATTERN_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    One,
    /// `[...]`: one character (other than `/`) in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`: any run of characters without `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
    /// `**/`: nothing, or any run of characters ending with `/`.
    Dirs,
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    tokens: Vec<Token>,
    /// Whether the pattern has a `/` (it then matches whole relative paths;
    /// otherwise file names).
    has_slash: bool,
}

impl Glob {
    /// Compiles `pattern`; a message for people when it is not valid.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("the pattern is empty".to_owned());
        }
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!(
                "the pattern is longer than {MAX_PATTERN_CHARS} characters"
            ));
        }
        let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
        if pattern.starts_with('/') {
            return Err(
                "patterns are relative to the searched directory; drop the leading '/'".to_owned(),
            );
        }
        if pattern.split('/').any(|seg| seg == "..") {
            return Err("'..' is not allowed in patterns".to_owned());
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let c = *chars
                        .get(i + 1)
                        .ok_or("the pattern ends with a lone '\\'")?;
                    tokens.push(Token::Literal(c));
                    i += 2;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                '*' if chars.get(i + 1) == Some(&'*') => {
                    let mut j = i;
                    while chars.get(j) == Some(&'*') {
                        j += 1;
                    }
                    if chars.get(j) == Some(&'/') {
                        tokens.push(Token::Dirs);
                        i = j + 1;
                    } else {
                        tokens.push(Token::DoubleStar);
                        i = j;
                    }
                }
                '*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                '[' => {
                    let (token, next) = parse_class(&chars, i)?;
                    tokens.push(token);
                    i = next;
                }
                c => {
                    tokens.push(Token::Literal(c));
                    i += 1;
                }
            }
        }
        Ok(Glob {
            tokens,
            has_slash: pattern.contains('/'),
        })
    }

    /// Whether `rel` (a relative path with `/` separators) matches: the
    /// whole path for patterns with a `/`, the last component otherwise.
    pub fn matches(&self, rel: &str) -> bool {
        let text = if self.has_slash {
            rel
        } else {
            rel.rsplit('/').next().unwrap_or(rel)
        };
        self.matches_text(text)
    }

    fn matches_text(&self, text: &str) -> bool {
        let s: Vec<char> = text.chars().collect();
        let n = s.len();
        // next[i]: tokens[t+1..] match s[i..]; cur[i]: tokens[t..] match s[i..].
        let mut next = vec![false; n + 1];
        next[n] = true;
        for token in self.tokens.iter().rev() {
            let mut cur = vec![false; n + 1];
            let mut dirs_acc = false;
            for i in (0..=n).rev() {
                cur[i] = match token {
                    Token::Literal(c) => i < n && s[i] == *c && next[i + 1],
                    Token::One => i < n && s[i] != '/' && next[i + 1],
                    Token::Class { negated, ranges } => {
                        i < n
                            && s[i] != '/'
                            && ranges.iter().any(|&(a, b)| a <= s[i] && s[i] <= b) != *negated
                            && next[i + 1]
                    }
                    Token::Star => next[i] || (i < n && s[i] != '/' && cur[i + 1]),
                    Token::DoubleStar => next[i] || (i < n && cur[i + 1]),
                    Token::Dirs => {
                        if i < n && s[i] == '/' && next[i + 1] {
                            dirs_acc = true;
                        }
                        next[i] || dirs_acc
                    }
                };
            }
            next = cur;
        }
        next[0]
    }
}

fn parse_class(chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("the pattern has a '[' without its ']'".to_owned());
        };
        if c == ']' && !first {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            let end = chars[i + 2];
            if end < c {
                return Err(format!("the range {c}-{end} in the pattern is backwards"));
            }
            ranges.push((c, end));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::new(pattern).unwrap().matches(path)
    }

    #[test]
    fn names_and_paths() {
        assert!(m("*.rs", "src/main.rs"));
        assert!(m("*.rs", "main.rs"));
        assert!(!m("*.rs", "main.rsx"));
        assert!(m("src/*.rs", "src/main.rs"));
        assert!(!m("src/*.rs", "src/a/main.rs"));
        assert!(m("src/**/*.rs", "src/main.rs"));
        assert!(m("src/**/*.rs", "src/a/b/main.rs"));
        assert!(m("**/*.md", "README.md"));
        assert!(m("**/*.md", "docs/x/README.md"));
        assert!(m("src/**", "src/a/b"));
        assert!(!m("src/**", "lib/a"));
        assert!(m("file?.txt", "file1.txt"));
        assert!(!m("file?.txt", "file10.txt"));
        assert!(m("[a-c]*.txt", "b.txt"));
        assert!(!m("[!a-c]*.txt", "b.txt"));
        assert!(m("[!a-c]*.txt", "d.txt"));
        assert!(m("[]]x", "]x"));
        assert!(m(r"\*.txt", "*.txt"));
        assert!(!m(r"\*.txt", "a.txt"));
        assert!(m("./*.txt", "a.txt"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        for bad in ["", "[abc", "/etc/*", "../*", "a/../b", "\\", "[z-a]"] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
        assert!(Glob::new(&"*".repeat(MAX_PATTERN_CHARS + 1)).is_err());
    }

    #[test]
    fn many_stars_stay_fast() {
        let g = Glob::new(&"*a".repeat(40)).unwrap();
        assert!(!g.matches(&"a".repeat(39)));
        assert!(g.matches(&"a".repeat(40)));
    }
}
