//! The prompts: the built-in library and the entries made from template
//! files, with argument checking and completion shared by both.

use super::image;
use super::template::Template;
use mcp_sdk::{ContentBlock, Error, GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The longest value of a text argument: 512 KiB.
pub const MAX_ARG_BYTES: usize = 512 * 1024;

/// The most all arguments of one request may hold together: 2 MiB.
pub const MAX_TOTAL_ARG_BYTES: usize = 2 * 1024 * 1024;

/// What values an argument takes.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgKind {
    /// Any text.
    Text,
    /// Any text; these values are offered in completion.
    Suggest(Vec<String>),
    /// One of these values (any case), offered in completion.
    OneOf(Vec<String>),
    /// A whole number in this range.
    Count {
        /// The least allowed.
        min: u32,
        /// The most allowed.
        max: u32,
    },
    /// A base64 PNG, JPEG, GIF or WebP image (a `data:` URL also does).
    Image,
    /// A test framework; completion offers those of the `language`
    /// argument's language.
    Framework,
}

/// An argument of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgSpec {
    /// Its name.
    pub name: String,
    /// What it means.
    pub description: Option<String>,
    /// Whether it must be given (a blank value counts as not given).
    pub required: bool,
    /// What values it takes.
    pub kind: ArgKind,
}

impl ArgSpec {
    fn new(name: &str, description: &str, required: bool, kind: ArgKind) -> Self {
        ArgSpec {
            name: name.into(),
            description: Some(description.into()),
            required,
            kind,
        }
    }
}

/// Checked argument values: each declared, in bounds, of its kind; blank
/// optional ones left out; closed choices in their canonical spelling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values(BTreeMap<String, String>);

impl Values {
    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of `name`, or `default`.
    pub fn or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }
}

type Render = fn(&Values) -> Vec<PromptMessage>;

#[derive(Debug, Clone)]
enum Body {
    Builtin(Render),
    Template(Arc<Template>),
}

/// One prompt the server offers.
#[derive(Debug, Clone)]
pub struct PromptEntry {
    /// How `prompts/list` shows it.
    pub prompt: Prompt,
    /// Its arguments.
    pub args: Vec<ArgSpec>,
    body: Body,
}

impl PromptEntry {
    fn builtin(
        name: &str,
        title: &str,
        description: &str,
        args: Vec<ArgSpec>,
        render: Render,
    ) -> Self {
        PromptEntry {
            prompt: listing(name, Some(title), Some(description), &args),
            args,
            body: Body::Builtin(render),
        }
    }

    /// The prompt a template file describes.
    pub fn from_template(t: Template) -> Self {
        let args: Vec<ArgSpec> = t
            .arguments
            .iter()
            .map(|a| ArgSpec {
                name: a.name.clone(),
                description: a.description.clone(),
                required: a.required,
                kind: if a.suggestions.is_empty() {
                    ArgKind::Text
                } else {
                    ArgKind::Suggest(a.suggestions.clone())
                },
            })
            .collect();
        PromptEntry {
            prompt: listing(&t.name, t.title.as_deref(), t.description.as_deref(), &args),
            args,
            body: Body::Template(Arc::new(t)),
        }
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.prompt.name
    }

    /// `prompts/get`: checks the arguments, then renders the messages.
    pub fn get(&self, args: BTreeMap<String, String>) -> Result<GetPromptResult, Error> {
        let values = self.check(args)?;
        let messages = match &self.body {
            Body::Builtin(render) => render(&values),
            Body::Template(t) => vec![PromptMessage::user_text(
                t.render(|name| values.get(name).map(str::to_owned))
                    .map_err(|e| Error::invalid_params(e.to_string()))?,
            )],
        };
        let mut result = GetPromptResult::new(messages);
        result.description = self.prompt.description.clone();
        Ok(result)
    }

    fn check(&self, args: BTreeMap<String, String>) -> Result<Values, Error> {
        let name = self.name();
        let mut total = 0usize;
        for (key, value) in &args {
            let Some(spec) = self.args.iter().find(|a| a.name == *key) else {
                let known: Vec<&str> = self.args.iter().map(|a| a.name.as_str()).collect();
                let takes = if known.is_empty() {
                    "it takes none".to_owned()
                } else {
                    format!("it takes: {}", known.join(", "))
                };
                return Err(Error::invalid_params(format_args!(
                    "prompt {name} has no argument `{key}`; {takes}"
                )));
            };
            let limit = if spec.kind == ArgKind::Image {
                image::MAX_BASE64_BYTES
            } else {
                MAX_ARG_BYTES
            };
            if value.len() > limit {
                return Err(Error::invalid_params(format_args!(
                    "argument `{key}` of prompt {name} is {} bytes; the most is {limit}",
                    value.len()
                )));
            }
            total += value.len();
        }
        if total > MAX_TOTAL_ARG_BYTES {
            return Err(Error::invalid_params(format_args!(
                "the arguments of prompt {name} hold {total} bytes together; the most is {MAX_TOTAL_ARG_BYTES}"
            )));
        }
        let given = |a: &ArgSpec| args.get(&a.name).filter(|v| !v.trim().is_empty());
        let missing: Vec<&str> = self
            .args
            .iter()
            .filter(|a| a.required && given(a).is_none())
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::invalid_params(format_args!(
                "prompt {name} needs the argument(s): {}",
                missing.join(", ")
            )));
        }
        let mut values = BTreeMap::new();
        for spec in &self.args {
            let Some(value) = given(spec) else { continue };
            let value = match &spec.kind {
                ArgKind::Text | ArgKind::Suggest(_) | ArgKind::Framework => value.clone(),
                ArgKind::OneOf(choices) => choices
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(value.trim()))
                    .cloned()
                    .ok_or_else(|| {
                        Error::invalid_params(format_args!(
                            "argument `{}` of prompt {name} must be one of: {} (got `{}`)",
                            spec.name,
                            choices.join(", "),
                            value.trim()
                        ))
                    })?,
                ArgKind::Count { min, max } => match value.trim().parse::<u32>() {
                    Ok(n) if (*min..=*max).contains(&n) => n.to_string(),
                    _ => {
                        return Err(Error::invalid_params(format_args!(
                            "argument `{}` of prompt {name} must be a whole number from {min} to {max} (got `{}`)",
                            spec.name,
                            value.trim()
                        )))
                    }
                },
                ArgKind::Image => image::normalize(value).map_err(|why| {
                    Error::invalid_params(format_args!(
                        "argument `{}` of prompt {name}: {why}",
                        spec.name
                    ))
                })?,
            };
            values.insert(spec.name.clone(), value);
        }
        Ok(Values(values))
    }

    /// `completion/complete` for one argument: the values that start with
    /// what was typed (any case), given the other arguments' values.
    pub fn complete(
        &self,
        argument: &str,
        typed: &str,
        context: Option<&BTreeMap<String, String>>,
    ) -> Result<Vec<String>, Error> {
        let spec = self
            .args
            .iter()
            .find(|a| a.name == argument)
            .ok_or_else(|| {
                Error::invalid_params(format_args!(
                    "prompt {} has no argument `{argument}`",
                    self.name()
                ))
            })?;
        let candidates: Vec<String> = match &spec.kind {
            ArgKind::Suggest(v) | ArgKind::OneOf(v) => v.clone(),
            ArgKind::Framework => {
                let language = context.and_then(|c| c.get("language")).map(String::as_str);
                frameworks(language)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            }
            ArgKind::Text | ArgKind::Count { .. } | ArgKind::Image => Vec::new(),
        };
        let typed = typed.to_lowercase();
        Ok(candidates
            .into_iter()
            .filter(|c| c.to_lowercase().starts_with(&typed))
            .collect())
    }
}

fn listing(name: &str, title: Option<&str>, description: Option<&str>, args: &[ArgSpec]) -> Prompt {
    let mut prompt = Prompt::default();
    prompt.name = name.into();
    prompt.title = title.map(str::to_owned);
    prompt.description = description.map(str::to_owned);
    for a in args {
        let mut argument = PromptArgument::default();
        argument.name = a.name.clone();
        argument.description = a.description.clone();
        argument.required = Some(a.required);
        if let ArgKind::OneOf(choices) = &a.kind {
            let d = argument.description.get_or_insert_with(String::new);
            d.push_str(&format!(" One of: {}.", choices.join(", ")));
        }
        prompt = prompt.with_argument(argument);
    }
    prompt
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Programming languages offered for `language` arguments.
pub const LANGUAGES: &[&str] = &[
    "bash",
    "c",
    "cpp",
    "csharp",
    "css",
    "dart",
    "elixir",
    "go",
    "haskell",
    "html",
    "java",
    "javascript",
    "kotlin",
    "lua",
    "php",
    "python",
    "r",
    "ruby",
    "rust",
    "scala",
    "shell",
    "sql",
    "swift",
    "typescript",
    "zig",
];

/// Human languages offered for translation.
pub const HUMAN_LANGUAGES: &[&str] = &[
    "Arabic",
    "Bengali",
    "Chinese (Simplified)",
    "Chinese (Traditional)",
    "Czech",
    "Danish",
    "Dutch",
    "English",
    "Finnish",
    "French",
    "German",
    "Greek",
    "Hebrew",
    "Hindi",
    "Hungarian",
    "Indonesian",
    "Italian",
    "Japanese",
    "Korean",
    "Norwegian",
    "Polish",
    "Portuguese",
    "Romanian",
    "Russian",
    "Spanish",
    "Swedish",
    "Thai",
    "Turkish",
    "Ukrainian",
    "Vietnamese",
];

const FRAMEWORKS: &[(&str, &[&str])] = &[
    ("c", &["cmocka", "unity"]),
    ("cpp", &["catch2", "doctest", "googletest"]),
    ("csharp", &["mstest", "nunit", "xunit"]),
    ("go", &["testify", "testing"]),
    ("java", &["junit5", "testng"]),
    ("javascript", &["jest", "mocha", "node:test", "vitest"]),
    ("kotlin", &["junit5", "kotest"]),
    ("php", &["pest", "phpunit"]),
    ("python", &["hypothesis", "pytest", "unittest"]),
    ("ruby", &["minitest", "rspec"]),
    ("rust", &["built-in #[test]", "insta", "proptest", "rstest"]),
    ("swift", &["swift-testing", "xctest"]),
    ("typescript", &["jest", "mocha", "node:test", "vitest"]),
];

/// Test frameworks for `language` (any case), or of every language.
pub fn frameworks(language: Option<&str>) -> Vec<&'static str> {
    let language = language.map(|l| l.trim().to_lowercase());
    let mut all: Vec<&'static str> = FRAMEWORKS
        .iter()
        .filter(|(l, _)| language.as_deref().is_none_or(|want| *l == want))
        .flat_map(|(_, f)| f.iter().copied())
        .collect();
    if all.is_empty() {
        // A language we know nothing about: offer everything.
        all = FRAMEWORKS
            .iter()
            .flat_map(|(_, f)| f.iter().copied())
            .collect();
    }
    all.sort_unstable();
    all.dedup();
    all
}

/// Style guides `style_guide_review` can embed.
const STYLE_GUIDES: &[(&str, &str)] = &[
    (
        "general",
        "# General code style\n\n- Names say what things are; no abbreviations a newcomer must guess.\n- One function, one job; short enough to read without scrolling.\n- Handle every error where it can be handled; never swallow one silently.\n- Comments say why, not what.\n- No dead code, no commented-out code.\n- Tests for every behaviour that could break.\n",
    ),
    (
        "javascript",
        "# JavaScript style\n\n- `const` by default, `let` when reassigned, never `var`.\n- `===` and `!==` only.\n- `async`/`await` over raw promise chains; always handle rejections.\n- No implicit globals; modules (`import`/`export`) only.\n- camelCase for values and functions, PascalCase for classes.\n",
    ),
    (
        "python",
        "# Python style (PEP 8 and friends)\n\n- 4-space indents, lines under 100 characters.\n- snake_case for functions and variables, PascalCase for classes.\n- Type hints on public functions.\n- No bare `except:`; catch what you can handle.\n- f-strings for formatting; `pathlib` for paths.\n",
    ),
    (
        "rust",
        "# Rust style\n\n- `cargo fmt` and `cargo clippy -D warnings` clean.\n- No `unwrap()` or `expect()` on input that can fail; return `Result` with context.\n- Borrow rather than clone; clone only at ownership boundaries.\n- Public items have doc comments with an example.\n- `unsafe` only with a `// SAFETY:` comment that proves it sound.\n",
    ),
];

fn fenced(language: Option<&str>, code: &str) -> String {
    let fence = if code.contains("```") { "````" } else { "```" };
    format!("{fence}{}\n{code}\n{fence}", language.unwrap_or(""))
}

fn code_review(v: &Values) -> Vec<PromptMessage> {
    let language = v.get("language");
    let what = language.map_or("the following code".to_owned(), |l| {
        format!("the following {l} code")
    });
    let focus = match v.or("focus", "general") {
        "general" => String::new(),
        f => format!(", focusing on {f}"),
    };
    vec![PromptMessage::user_text(format!(
        "Please review {what}{focus}. For each problem, give the line, what is wrong and a \
         concrete fix. Then say what is good about the code, and end with a one-sentence \
         overall assessment.\n\n{}",
        fenced(language, v.or("code", ""))
    ))]
}

fn summarize(v: &Values) -> Vec<PromptMessage> {
    let style = match v.or("style", "brief") {
        "detailed" => "in detail, keeping every important point",
        "bullet-points" => "as a list of bullet points, one idea each",
        _ => "briefly, in two or three sentences",
    };
    let limit = v
        .get("max_words")
        .map_or(String::new(), |n| format!(", in at most {n} words"));
    vec![PromptMessage::user_text(format!(
        "Summarize the text below {style}{limit}.\n\n<text>\n{}\n</text>",
        v.or("text", "")
    ))]
}

fn explain_code(v: &Values) -> Vec<PromptMessage> {
    let language = v.get("language");
    let audience = match v.or("audience", "intermediate") {
        "beginner" => "someone new to programming: define every term and go line by line",
        "expert" => "an experienced engineer: skip the basics, dwell on the subtle parts",
        _ => "a developer who knows the basics: explain the structure and the non-obvious parts",
    };
    vec![
        PromptMessage::user_text(format!(
            "Explain what this code does and how, for {audience}.\n\n{}",
            fenced(language, v.or("code", ""))
        )),
        PromptMessage::assistant_text(
            "I'll start with what the code is for, then walk through how it works.",
        ),
    ]
}

fn translate(v: &Values) -> Vec<PromptMessage> {
    let from = v
        .get("source_language")
        .map_or(String::new(), |l| format!(" from {l}"));
    let tone = match v.or("formality", "neutral") {
        "formal" => " Use a formal register.",
        "informal" => " Use an informal, conversational register.",
        _ => "",
    };
    vec![PromptMessage::user_text(format!(
        "Translate the text below{from} into {}. Keep the meaning, tone and formatting; answer \
         with the translation only.{tone}\n\n<text>\n{}\n</text>",
        v.or("target_language", "English"),
        v.or("text", "")
    ))]
}

fn write_tests(v: &Values) -> Vec<PromptMessage> {
    let language = v.get("language");
    let framework = v
        .get("framework")
        .map_or(String::new(), |f| format!(" using {f}"));
    vec![PromptMessage::user_text(format!(
        "Write unit tests{framework} for the code below. Cover the normal cases, the edge cases \
         (empty, zero, very large, invalid input) and the error paths; give each test a name that \
         says what it checks.\n\n{}",
        fenced(language, v.or("code", ""))
    ))]
}

fn style_guide_review(v: &Values) -> Vec<PromptMessage> {
    let language = v.or("language", "general");
    let guide = STYLE_GUIDES
        .iter()
        .find(|(l, _)| *l == language)
        .map_or(STYLE_GUIDES[0].1, |(_, g)| g);
    let code_language = (language != "general").then_some(language);
    vec![
        PromptMessage::new(
            Role::User,
            ContentBlock::embedded_text(
                format!("prompts://style-guides/{language}"),
                "text/markdown",
                guide,
            ),
        ),
        PromptMessage::user_text(format!(
            "Review the code below against the style guide above. Quote the rule each finding \
             breaks and show the corrected code.\n\n{}",
            fenced(code_language, v.or("code", ""))
        )),
    ]
}

fn describe_image(v: &Values) -> Vec<PromptMessage> {
    let data = v.get("image").unwrap_or(image::SAMPLE_PNG);
    let mime = image::mime_of(data).unwrap_or("image/png");
    let detail = match v.or("detail", "brief") {
        "detailed" => "in detail: subjects, colours, layout, any text, and the mood",
        _ => "in two or three sentences",
    };
    let question = v.get("question").map_or(String::new(), |q| {
        format!(" Then answer this question about it: {q}")
    });
    vec![
        PromptMessage::new(Role::User, ContentBlock::image(data, mime)),
        PromptMessage::user_text(format!("Describe this image {detail}.{question}")),
    ]
}

/// The built-in prompts.
pub fn builtins() -> Vec<PromptEntry> {
    use ArgKind::*;
    let code = || ArgSpec::new("code", "The code", true, Text);
    let language = || {
        ArgSpec::new(
            "language",
            "The code's programming language",
            false,
            Suggest(strings(LANGUAGES)),
        )
    };
    vec![
        PromptEntry::builtin(
            "code_review",
            "Code review",
            "Asks for a review of a piece of code: problems with fixes, strengths, a verdict",
            vec![
                code(),
                language(),
                ArgSpec::new(
                    "focus",
                    "What to look at most.",
                    false,
                    OneOf(strings(&["general", "bugs", "security", "performance", "readability", "style"])),
                ),
            ],
            code_review,
        ),
        PromptEntry::builtin(
            "summarize",
            "Summarize",
            "Asks for a summary of a text, brief, detailed or as bullet points",
            vec![
                ArgSpec::new("text", "The text to summarize", true, Text),
                ArgSpec::new("style", "How to summarize.", false, OneOf(strings(&["brief", "detailed", "bullet-points"]))),
                ArgSpec::new("max_words", "The most words the summary may have (10 to 2000)", false, Count { min: 10, max: 2000 }),
            ],
            summarize,
        ),
        PromptEntry::builtin(
            "explain_code",
            "Explain code",
            "Asks for an explanation of a piece of code, pitched at an audience",
            vec![
                code(),
                language(),
                ArgSpec::new("audience", "Who the explanation is for.", false, OneOf(strings(&["beginner", "intermediate", "expert"]))),
            ],
            explain_code,
        ),
        PromptEntry::builtin(
            "translate",
            "Translate",
            "Asks for a translation of a text into another language",
            vec![
                ArgSpec::new("text", "The text to translate", true, Text),
                ArgSpec::new("target_language", "The language to translate into", true, Suggest(strings(HUMAN_LANGUAGES))),
                ArgSpec::new("source_language", "The text's language, if not obvious", false, Suggest(strings(HUMAN_LANGUAGES))),
                ArgSpec::new("formality", "The register to use.", false, OneOf(strings(&["neutral", "formal", "informal"]))),
            ],
            translate,
        ),
        PromptEntry::builtin(
            "write_tests",
            "Write tests",
            "Asks for unit tests of a piece of code, in a given test framework",
            vec![
                code(),
                language(),
                ArgSpec::new("framework", "The test framework (suggestions follow `language`)", false, Framework),
            ],
            write_tests,
        ),
        PromptEntry::builtin(
            "style_guide_review",
            "Style guide review",
            "Embeds a style guide (as a resource) and asks for a review of code against it",
            vec![
                code(),
                ArgSpec::new(
                    "language",
                    "Which style guide to embed.",
                    false,
                    OneOf(STYLE_GUIDES.iter().map(|(l, _)| l.to_string()).collect()),
                ),
            ],
            style_guide_review,
        ),
        PromptEntry::builtin(
            "describe_image",
            "Describe an image",
            "Sends an image (yours, or a built-in sample) and asks for a description",
            vec![
                ArgSpec::new(
                    "image",
                    "A base64 PNG, JPEG, GIF or WebP image (or a data: URL), at most 1 MiB; a built-in sample if absent",
                    false,
                    Image,
                ),
                ArgSpec::new("detail", "How much to say.", false, OneOf(strings(&["brief", "detailed"]))),
                ArgSpec::new("question", "A question to answer about the image", false, Text),
            ],
            describe_image,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_sdk::ErrorCode;

    fn entry(name: &str) -> PromptEntry {
        builtins().into_iter().find(|e| e.name() == name).unwrap()
    }

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn text(r: &GetPromptResult, i: usize) -> &str {
        r.messages[i].content.as_text().unwrap()
    }

    #[test]
    fn arguments_are_checked() {
        let summarize = entry("summarize");
        let e = summarize.get(args(&[])).unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
        assert!(
            e.message.contains("needs the argument(s): text"),
            "{}",
            e.message
        );
        let e = summarize.get(args(&[("text", "  ")])).unwrap_err();
        assert!(
            e.message.contains("needs the argument(s): text"),
            "{}",
            e.message
        );
        let e = summarize
            .get(args(&[("text", "t"), ("stlye", "brief")]))
            .unwrap_err();
        assert!(
            e.message
                .contains("no argument `stlye`; it takes: text, style, max_words"),
            "{}",
            e.message
        );
        let e = summarize
            .get(args(&[("text", "t"), ("style", "long")]))
            .unwrap_err();
        assert!(
            e.message
                .contains("must be one of: brief, detailed, bullet-points (got `long`)"),
            "{}",
            e.message
        );
        let e = summarize
            .get(args(&[("text", "t"), ("max_words", "many")]))
            .unwrap_err();
        assert!(
            e.message
                .contains("whole number from 10 to 2000 (got `many`)"),
            "{}",
            e.message
        );
        let e = summarize
            .get(args(&[("text", "t"), ("max_words", "5")]))
            .unwrap_err();
        assert!(e.message.contains("(got `5`)"), "{}", e.message);
        let big = "x".repeat(MAX_ARG_BYTES + 1);
        let e = summarize.get(args(&[("text", &big)])).unwrap_err();
        assert!(e.message.contains("the most is 524288"), "{}", e.message);

        let ok = summarize
            .get(args(&[
                ("text", "Some text."),
                ("style", "Bullet-Points"),
                ("max_words", " 50 "),
            ]))
            .unwrap();
        let t = text(&ok, 0);
        assert!(
            t.contains("as a list of bullet points") && t.contains("at most 50 words"),
            "{t}"
        );
        assert!(t.ends_with("<text>\nSome text.\n</text>"), "{t}");
    }

    #[test]
    fn every_builtin_renders_with_its_required_arguments() {
        for e in builtins() {
            let required: BTreeMap<String, String> = e
                .args
                .iter()
                .filter(|a| a.required)
                .map(|a| (a.name.clone(), format!("<{}>", a.name)))
                .collect();
            let r = e.get(required.clone()).unwrap();
            assert!(!r.messages.is_empty(), "{}", e.name());
            let all_text: String = r
                .messages
                .iter()
                .filter_map(|m| m.content.as_text())
                .collect();
            for value in required.values() {
                assert!(
                    all_text.contains(value.as_str()),
                    "{}: {all_text}",
                    e.name()
                );
            }
        }
    }

    #[test]
    fn embedded_resource_and_image() {
        let r = entry("style_guide_review")
            .get(args(&[("code", "fn main() {}"), ("language", "RUST")]))
            .unwrap();
        match &r.messages[0].content {
            ContentBlock::Resource(res) => {
                assert_eq!(res.resource.uri(), "prompts://style-guides/rust");
                assert_eq!(res.resource.mime_type(), Some("text/markdown"));
                assert!(res.resource.as_text().unwrap().starts_with("# Rust style"));
            }
            other => panic!("{other:?}"),
        }
        assert!(text(&r, 1).contains("```rust\nfn main() {}\n```"));

        let r = entry("describe_image").get(args(&[])).unwrap();
        match &r.messages[0].content {
            ContentBlock::Image(img) => {
                assert_eq!(img.mime_type, "image/png");
                assert_eq!(img.data, image::SAMPLE_PNG);
            }
            other => panic!("{other:?}"),
        }
        let e = entry("describe_image")
            .get(args(&[("image", "aGVsbG8gd29ybGQ=")]))
            .unwrap_err();
        assert!(
            e.message.contains("PNG, JPEG, GIF or WebP"),
            "{}",
            e.message
        );
    }

    #[test]
    fn completion_filters_and_follows_context() {
        let review = entry("code_review");
        assert_eq!(
            review.complete("language", "ru", None).unwrap(),
            ["ruby", "rust"]
        );
        assert_eq!(review.complete("focus", "SEC", None).unwrap(), ["security"]);
        assert!(review.complete("code", "", None).unwrap().is_empty());
        assert!(review.complete("colour", "", None).is_err());
        let tests = entry("write_tests");
        let rust = args(&[("language", "Rust")]);
        assert_eq!(
            tests.complete("framework", "", Some(&rust)).unwrap(),
            ["built-in #[test]", "insta", "proptest", "rstest"]
        );
        let all = tests.complete("framework", "", None).unwrap();
        assert!(all.contains(&"pytest".to_owned()) && all.contains(&"jest".to_owned()));
        assert_eq!(
            entry("translate")
                .complete("target_language", "ch", None)
                .unwrap(),
            ["Chinese (Simplified)", "Chinese (Traditional)"]
        );
    }
}
