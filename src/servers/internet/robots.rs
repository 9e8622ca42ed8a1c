//! `robots.txt` (RFC 9309), as the Python fetch server honours it for
//! fetches the model makes on its own: the group naming our product token
//! (else `*`), the longest matching `Allow`/`Disallow` rule, `*` and `$` in
//! patterns.

/// Our product token, matched against `User-agent` lines.
pub const PRODUCT_TOKEN: &str = "mcp-reference-internet";

/// The most bytes of a `robots.txt` read (RFC 9309 asks for at least 500
/// KiB).
pub const MAX_ROBOTS_BYTES: usize = 512 * 1024;

#[derive(Debug, Default)]
struct Group {
    agents: Vec<String>,
    rules: Vec<(bool, String)>,
}

/// Whether `robots` lets `token` fetch `path` (path and query of the URL).
pub fn allows(robots: &str, token: &str, path: &str) -> bool {
    if path == "/robots.txt" {
        return true;
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut in_agents = false;
    for line in robots.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
        match key.as_str() {
            "user-agent" => {
                if !in_agents {
                    groups.push(Group::default());
                    in_agents = true;
                }
                if let Some(g) = groups.last_mut() {
                    g.agents.push(value.to_ascii_lowercase());
                }
            }
            "allow" | "disallow" => {
                in_agents = false;
                if let Some(g) = groups.last_mut() {
                    if !value.is_empty() {
                        g.rules.push((key == "allow", value.to_owned()));
                    }
                }
            }
            _ => {}
        }
    }
    let token = token.to_ascii_lowercase();
    let rules_for = |wanted: &str| -> Vec<&(bool, String)> {
        groups
            .iter()
            .filter(|g| g.agents.iter().any(|a| a == wanted))
            .flat_map(|g| g.rules.iter())
            .collect()
    };
    let mut rules = rules_for(&token);
    if rules.is_empty() && !groups.iter().any(|g| g.agents.contains(&token)) {
        rules = rules_for("*");
    }
    let best = rules
        .into_iter()
        .filter(|(_, pattern)| matches(pattern, path))
        .max_by_key(|(allow, pattern)| (pattern.len(), *allow));
    best.is_none_or(|(allow, _)| *allow)
}

/// Whether `pattern` (with `*` for any run and a final `$` for the end)
/// matches the start of `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    // Wildcard matching with backtracking to the last star: O(|p| * |s|).
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        if i == p.len() && !anchored {
            return true;
        }
        if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if i < p.len() && p[i] == s[j] {
            i += 1;
            j += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROBOTS: &str = "\
# comment
User-agent: *
Disallow: /private
Allow: /private/open

User-agent: Other-Bot
User-agent: mcp-reference-internet
Disallow: /no-bots
Disallow: /*.pdf$
Allow: /no-bots/but-this
";

    #[test]
    fn our_group_wins_over_the_star() {
        let ok = |path| allows(ROBOTS, PRODUCT_TOKEN, path);
        assert!(!ok("/no-bots"));
        assert!(!ok("/no-bots/deeper?x=1"));
        assert!(ok("/no-bots/but-this/page"));
        assert!(ok("/private"), "the star group does not apply to us");
        assert!(!ok("/files/report.pdf"));
        assert!(ok("/files/report.pdf?download=1"));
        assert!(ok("/robots.txt"));
    }

    #[test]
    fn other_agents_use_the_star_group() {
        let ok = |path| allows(ROBOTS, "someone-else", path);
        assert!(!ok("/private/x"));
        assert!(ok("/private/open/x"));
        assert!(ok("/no-bots"));
    }

    #[test]
    fn empty_and_odd_files_allow_everything() {
        assert!(allows("", PRODUCT_TOKEN, "/x"));
        assert!(allows("garbage\nDisallow: /x", PRODUCT_TOKEN, "/x"));
        assert!(allows("User-agent: *\nDisallow:", PRODUCT_TOKEN, "/x"));
        assert!(!allows("User-agent: *\nDisallow: /", PRODUCT_TOKEN, "/x"));
    }

    #[test]
    fn wildcards() {
        assert!(matches("/a*b", "/axxb/c"));
        assert!(matches("/a*b$", "/axxb"));
        assert!(!matches("/a*b$", "/axxbc"));
        assert!(matches("*", "/"));
        assert!(!matches("/a", "/b"));
        assert!(matches("/**/x", "/q/x"));
    }
}
