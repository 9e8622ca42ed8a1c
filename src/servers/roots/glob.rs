//! The `search_files` patterns, on `globset` (ripgrep's matcher): `*`, `?`,
//! `[...]` (with `!`/`^` negation and ranges), `{a,b}` alternation, `**`
//! and `**/`, `\` escapes. `globset` compiles a pattern to a regular
//! expression, so matching is linear in the path whatever the pattern.
//!
//! Around it this module keeps the roots server's own rules: patterns are
//! relative to the searched directory, never climb out of it with `..`, and
//! are bounded in length; a pattern without `/` matches file names, one with
//! `/` whole relative paths.

use globset::{GlobBuilder, GlobMatcher};

/// The longest pattern accepted, in characters.
pub const MAX_PATTERN_CHARS: usize = 256;

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    matcher: GlobMatcher,
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
        if pattern
            .split(['/', '{', '}', ','])
            .any(|segment| segment == "..")
        {
            return Err("'..' is not allowed in patterns".to_owned());
        }
        let matcher = GlobBuilder::new(pattern)
            // `*` and `?` stop at `/`; only `**` crosses directories.
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| e.kind().to_string())?
            .compile_matcher();
        Ok(Glob {
            matcher,
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
        self.matcher.is_match(text)
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
        assert!(m("[^a-c]*.txt", "d.txt"));
        assert!(m("[]]x", "]x"));
        assert!(m(r"\*.txt", "*.txt"));
        assert!(!m(r"\*.txt", "a.txt"));
        assert!(m("./*.txt", "a.txt"));
    }

    #[test]
    fn alternation_as_models_write_it() {
        // The hand-written matcher before globset found nothing for these.
        assert!(m("*.{rs,toml}", "src/main.rs"));
        assert!(m("*.{rs,toml}", "Cargo.toml"));
        assert!(!m("*.{rs,toml}", "README.md"));
        assert!(m("{src,tests}/**/*.rs", "tests/a/b.rs"));
        assert!(!m("{src,tests}/**/*.rs", "benches/b.rs"));
        assert!(m("**/*.{md,txt}", "docs/notes/todo.txt"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        for bad in [
            "", "[abc", "/etc/*", "../*", "a/../b", "{..,x}/*", "\\", "[z-a]", "{a,b",
        ] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
        let e = Glob::new("{a,b").unwrap_err();
        assert!(!e.is_empty());
        assert!(Glob::new(&"*".repeat(MAX_PATTERN_CHARS + 1)).is_err());
    }

    #[test]
    fn many_stars_stay_fast() {
        let g = Glob::new(&"*a".repeat(40)).unwrap();
        assert!(!g.matches(&"a".repeat(39)));
        assert!(g.matches(&"a".repeat(40)));
        let g = Glob::new(&"{a,b}*".repeat(20)).unwrap();
        assert!(!g.matches(&"c".repeat(200)));
    }
}
