//! Prompt templates: Markdown files with a small header, loaded from a
//! folder.
//!
//! ```text
//! ---
//! name: bug_report
//! title: Bug report
//! description: Turns rough notes into a bug report
//! arguments:
//! - notes (required): The raw notes
//! - severity: How bad it is [low, medium, high]
//! ---
//! Write a bug report from these notes:
//!
//! {{notes}}
//!
//! Severity: {{ severity }}
//! ```
//!
//! - The file is UTF-8, named `*.md`, at most [`MAX_TEMPLATE_BYTES`].
//! - The header sits between two `---` lines at the top. It holds `key:
//!   value` lines for `name` (default: the file name without `.md`),
//!   `title` and `description`, then `arguments:` and one `- ` line per
//!   argument: its name, `(required)` if it is, a `:` and its
//!   description, and optionally `[a, b, c]` at the end: values offered
//!   by `completion/complete` (other values are accepted too). Blank lines
//!   and lines starting with `#` are ignored; other keys are mistakes.
//! - The body, after the header, becomes one user message. `{{name}}` (spaces
//!   inside the braces allowed) is replaced by the argument's value, an
//!   absent optional argument by nothing. Every placeholder must name a
//!   declared argument. Values are inserted as they are, never expanded
//!   again. Other `{{` text stays as written.

use std::fmt;

/// The largest template file read.
pub const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;

/// The largest text a template renders to: room for every argument once
/// (their total is bounded by the library's `MAX_TOTAL_ARG_BYTES`, 2 MiB)
/// and the largest template, but not for one argument repeated by
/// thousands of placeholders into gigabytes.
pub const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;

/// A rendering that would be longer than [`MAX_RENDERED_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderTooLarge {
    /// The template's name.
    pub name: String,
    /// The limit, in bytes.
    pub limit: usize,
}

impl fmt::Display for RenderTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "prompt {} would render to more than {} bytes with these arguments \
             (its placeholders repeat them); give shorter values",
            self.name, self.limit
        )
    }
}

impl std::error::Error for RenderTooLarge {}

/// An argument a template declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateArg {
    /// Its name.
    pub name: String,
    /// Whether it must be given.
    pub required: bool,
    /// What it means.
    pub description: Option<String>,
    /// Values to offer in completion.
    pub suggestions: Vec<String>,
}

/// A piece of a template body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Arg(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The prompt's name.
    pub name: String,
    /// Its title, for people.
    pub title: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Its arguments, in order.
    pub arguments: Vec<TemplateArg>,
    body: Vec<Piece>,
}

/// Why a template file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The 1-based line the problem is on (0: the whole file).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for TemplateError {}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError {
        line,
        message: message.into(),
    })
}

/// Whether `name` is a usable prompt or argument name: letters, digits,
/// `_`, `-` and `.`, at most 64 of them.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Template {
    /// Parses a template; `default_name` is used when the header has no
    /// `name`.
    pub fn parse(text: &str, default_name: &str) -> Result<Template, TemplateError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n');
        let mut offset = match lines.next() {
            Some(first) if first.trim_end() == "---" => first.len(),
            _ => {
                return err(
                    1,
                    "the file must start with a `---` line opening the header",
                )
            }
        };
        let mut name = None;
        let mut title = None;
        let mut description = None;
        let mut arguments: Vec<TemplateArg> = Vec::new();
        let mut in_arguments = false;
        let mut body_start = None;
        for (i, raw) in lines.by_ref().enumerate() {
            let line_no = i + 2;
            offset += raw.len();
            let line = raw.trim();
            if line == "---" {
                body_start = Some(offset);
                break;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(item) = line.strip_prefix('-') {
                if !in_arguments {
                    return err(line_no, "an argument line before `arguments:`");
                }
                let arg = parse_argument(item.trim(), line_no)?;
                if arguments.iter().any(|a| a.name == arg.name) {
                    return err(
                        line_no,
                        format!("the argument `{}` is declared twice", arg.name),
                    );
                }
                arguments.push(arg);
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return err(line_no, format!("expected `key: value`, found `{line}`"));
            };
            let value = value.trim();
            in_arguments = false;
            let slot = match key.trim() {
                "name" => &mut name,
                "title" => &mut title,
                "description" => &mut description,
                "arguments" => {
                    if !value.is_empty() {
                        return err(line_no, "`arguments:` takes its items on the lines below, each starting with `- `");
                    }
                    in_arguments = true;
                    continue;
                }
                other => {
                    return err(
                        line_no,
                        format!(
                            "unknown key `{other}` (known: name, title, description, arguments)"
                        ),
                    )
                }
            };
            if value.is_empty() {
                return err(line_no, format!("`{}` has no value", key.trim()));
            }
            *slot = Some(value.to_owned());
        }
        let Some(body_start) = body_start else {
            return err(0, "the header is never closed by a `---` line");
        };
        let name = name.unwrap_or_else(|| default_name.to_owned());
        if !valid_name(&name) {
            return err(
                0,
                format!(
                    "`{name}` is not a valid prompt name (letters, digits, _ - . only, at most 64)"
                ),
            );
        }
        let body_text = &text[body_start..];
        let body_line = text[..body_start].matches('\n').count() + 1;
        let body = parse_body(body_text, body_line, &arguments)?;
        if body.is_empty() {
            return err(0, "the template has no body after its header");
        }
        Ok(Template {
            name,
            title,
            description,
            arguments,
            body,
        })
    }

    /// The body with `value(name)` in place of each placeholder, refused
    /// (before it is built) when longer than [`MAX_RENDERED_BYTES`].
    pub fn render(&self, value: impl Fn(&str) -> Option<String>) -> Result<String, RenderTooLarge> {
        self.render_within(MAX_RENDERED_BYTES, value)
    }

    /// [`Template::render`] with another limit.
    pub fn render_within(
        &self,
        limit: usize,
        value: impl Fn(&str) -> Option<String>,
    ) -> Result<String, RenderTooLarge> {
        let mut out = String::new();
        for piece in &self.body {
            let arg;
            let text = match piece {
                Piece::Text(t) => t.as_str(),
                Piece::Arg(a) => {
                    arg = value(a).unwrap_or_default();
                    arg.as_str()
                }
            };
            if out.len() + text.len() > limit {
                return Err(RenderTooLarge {
                    name: self.name.clone(),
                    limit,
                });
            }
            out.push_str(text);
        }
        Ok(out)
    }
}

/// `NAME [(required)] [: DESCRIPTION] [[a, b]]`.
fn parse_argument(item: &str, line: usize) -> Result<TemplateArg, TemplateError> {
    let name_end = item
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .unwrap_or(item.len());
    let name = &item[..name_end];
    if !valid_name(name) {
        return err(
            line,
            format!("`{item}` does not start with an argument name"),
        );
    }
    let mut rest = item[name_end..].trim_start();
    let mut required = false;
    if let Some(r) = rest.strip_prefix("(required)") {
        required = true;
        rest = r.trim_start();
    }
    let mut description = match rest.strip_prefix(':') {
        Some(d) => d.trim().to_owned(),
        None if rest.is_empty() => String::new(),
        None => {
            return err(
                line,
                format!(
                "after the argument name expected `(required)` or `: description`, found `{rest}`"
            ),
            )
        }
    };
    let mut suggestions = Vec::new();
    if description.ends_with(']') {
        if let Some(open) = description.rfind('[') {
            suggestions = description[open + 1..description.len() - 1]
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            description.truncate(open);
            description = description.trim_end().to_owned();
        }
    }
    Ok(TemplateArg {
        name: name.to_owned(),
        required,
        description: (!description.is_empty()).then_some(description),
        suggestions,
    })
}

fn parse_body(
    text: &str,
    first_line: usize,
    args: &[TemplateArg],
) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        literal.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let placeholder = after.find("}}").and_then(|close| {
            let name = after[..close].trim();
            valid_name(name).then_some((name, close))
        });
        match placeholder {
            Some((name, close)) => {
                if !args.iter().any(|a| a.name == name) {
                    let consumed = text.len() - rest.len() + open;
                    let line = first_line + text[..consumed].matches('\n').count();
                    return err(line, format!("`{{{{{name}}}}}` names no declared argument"));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Arg(name.to_owned()));
                rest = &after[close + 2..];
            }
            None => {
                literal.push_str("{{");
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if !literal.trim().is_empty() || !pieces.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUG: &str = "---\nname: bug_report\ntitle: Bug report\ndescription: Turns notes into a report\n# a comment\narguments:\n- notes (required): The raw notes\n- severity: How bad [low, medium, high]\n  - component\n---\nNotes: {{notes}}\nSeverity: {{ severity }}; {{not a placeholder}} {{component}}.\n";

    #[test]
    fn parses_header_and_body() {
        let t = Template::parse(BUG, "file").unwrap();
        assert_eq!(t.name, "bug_report");
        assert_eq!(t.title.as_deref(), Some("Bug report"));
        assert_eq!(t.description.as_deref(), Some("Turns notes into a report"));
        assert_eq!(
            t.arguments,
            vec![
                TemplateArg {
                    name: "notes".into(),
                    required: true,
                    description: Some("The raw notes".into()),
                    suggestions: vec![],
                },
                TemplateArg {
                    name: "severity".into(),
                    required: false,
                    description: Some("How bad".into()),
                    suggestions: vec!["low".into(), "medium".into(), "high".into()],
                },
                TemplateArg {
                    name: "component".into(),
                    required: false,
                    description: None,
                    suggestions: vec![],
                },
            ]
        );
        let text = t
            .render(|a| match a {
                "notes" => Some("it broke {{severity}}".into()),
                "severity" => Some("high".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            text,
            "Notes: it broke {{severity}}\nSeverity: high; {{not a placeholder}} .\n"
        );
    }

    #[test]
    fn name_defaults_to_the_file_name() {
        let t = Template::parse("---\r\ndescription: d\r\n---\r\nHello\r\n", "greeting").unwrap();
        assert_eq!(t.name, "greeting");
        assert!(t.arguments.is_empty());
        assert_eq!(t.render(|_| None).unwrap(), "Hello\r\n");
    }

    #[test]
    fn rendering_is_bounded() {
        // 2,000 placeholders of one 512 KiB argument would be 1 GiB.
        let body = "{{a}}".repeat(2000);
        let t = Template::parse(&format!("---\narguments:\n- a\n---\n{body}"), "big").unwrap();
        let value = "x".repeat(512 * 1024);
        let e = t.render(|_| Some(value.clone())).unwrap_err();
        assert_eq!(e.limit, MAX_RENDERED_BYTES);
        assert!(
            e.to_string()
                .contains("prompt big would render to more than"),
            "{e}"
        );
        // Exactly at the limit is fine; one byte over is not.
        let t = Template::parse("---\narguments:\n- a\n---\n{{a}}{{a}}", "two").unwrap();
        assert_eq!(
            t.render_within(10, |_| Some("12345".into())).unwrap(),
            "1234512345"
        );
        assert!(t.render_within(9, |_| Some("12345".into())).is_err());
    }

    #[test]
    fn malformed_templates_say_where() {
        let cases = [
            ("no header at all", "line 1: the file must start"),
            ("---\nname: x\n# no closing line\n", "never closed"),
            (
                "---\nname: x\ncolour: red\n---\nbody",
                "line 3: unknown key `colour`",
            ),
            (
                "---\n- a: b\n---\nbody",
                "line 2: an argument line before `arguments:`",
            ),
            (
                "---\narguments:\n- a\n- a\n---\n{{a}}",
                "line 4: the argument `a` is declared twice",
            ),
            (
                "---\narguments:\n- a!: x\n---\n{{a}}",
                "line 3: after the argument name",
            ),
            (
                "---\narguments: a, b\n---\nbody",
                "line 2: `arguments:` takes its items",
            ),
            ("---\nname: bad name\n---\nbody", "not a valid prompt name"),
            ("---\nname:\n---\nbody", "line 2: `name` has no value"),
            (
                "---\narguments:\n- a\n---\nfirst\n{{a}} {{b}}",
                "line 6: `{{b}}` names no declared argument",
            ),
            ("---\nname: x\n---\n  \n", "no body"),
            ("---\nname x\n---\nbody", "line 2: expected `key: value`"),
        ];
        for (text, expected) in cases {
            let e = Template::parse(text, "f").unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }
}
