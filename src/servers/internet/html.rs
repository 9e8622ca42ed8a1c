//! A small HTML to Markdown converter for readable page text: scripts,
//! styles, navigation and forms dropped; headings, paragraphs, links,
//! images, lists, quotes, code and tables kept. It reads the page's `<main>`,
//! else its first `<article>`, else its `<body>`.
//!
//! It is a lenient tokenizer and a small tree builder, not an HTML5 parser:
//! good enough for reading, linear in the page, bounded in depth, never
//! failing. (An html5ever-based converter with a Readability port was
//! tried (htmd and dom_smoothie): their time grows faster than linearly
//! with the nesting depth (htmd 15 ms at 1,000 nested `<div>`s and 240 ms
//! at 5,000; the Readability pass 7.5 s at 1,000), and htmd's recursion
//! overflows the stack at 20,000; so the swap waits for a depth guard in
//! front of them.) Named character references come
//! from HTML5's whole table, through `html-escape`.

use reqwest::Url;
use std::borrow::Cow;

/// Elements nested deeper than this become part of their ancestor at that
/// depth, so hostile pages cannot exhaust the stack.
const MAX_DEPTH: usize = 200;

/// Converts an HTML document to Markdown, resolving relative links against
/// `base`.
pub fn to_markdown(html: &str, base: Option<&Url>) -> String {
    let root = parse(html);
    let content = find(&root, "main")
        .or_else(|| find(&root, "article"))
        .or_else(|| find(&root, "body"))
        .unwrap_or(&root);
    let mut md = Md::new(base);
    md.children(&content.children);
    md.finish()
}

/// Whether a body looks like HTML, for responses without a content type.
pub fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

// ---------------------------------------------------------------- tokens

#[derive(Debug, PartialEq)]
enum Token {
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        self_closing: bool,
    },
    End(String),
    Text(String),
}

fn tokenize(html: &str) -> Vec<Token> {
    let bytes = html.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut text_start = 0;
    let flush = |tokens: &mut Vec<Token>, from: usize, to: usize| {
        if from < to {
            tokens.push(Token::Text(decode_entities(&html[from..to]).into_owned()));
        }
    };
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &html[i..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            flush(&mut tokens, text_start, i);
            i = comment.find("-->").map_or(bytes.len(), |e| i + 4 + e + 3);
            text_start = i;
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            flush(&mut tokens, text_start, i);
            i = rest.find('>').map_or(bytes.len(), |e| i + e + 1);
            text_start = i;
        } else if rest.starts_with("</") && rest[2..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            flush(&mut tokens, text_start, i);
            let name_len = rest[2..]
                .find(|c: char| !is_name_char(c))
                .unwrap_or(rest.len() - 2);
            tokens.push(Token::End(rest[2..2 + name_len].to_ascii_lowercase()));
            i = rest.find('>').map_or(bytes.len(), |e| i + e + 1);
            text_start = i;
        } else if rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            flush(&mut tokens, text_start, i);
            let (token, len) = start_tag(rest);
            i += len;
            if let Token::Start {
                name,
                self_closing: false,
                ..
            } = &token
            {
                if matches!(
                    name.as_str(),
                    "script" | "style" | "textarea" | "title" | "xmp" | "noscript"
                ) {
                    // Raw text up to the matching end tag.
                    let name = name.clone();
                    tokens.push(token);
                    let close = format!("</{name}");
                    let end = find_ci(&html[i..], &close).map_or(bytes.len(), |e| i + e);
                    if end > i {
                        let raw = &html[i..end];
                        tokens.push(Token::Text(if name == "script" || name == "style" {
                            raw.to_owned()
                        } else {
                            decode_entities(raw).into_owned()
                        }));
                    }
                    tokens.push(Token::End(name));
                    i = html[end..].find('>').map_or(bytes.len(), |e| end + e + 1);
                    text_start = i;
                    continue;
                }
            }
            tokens.push(token);
            text_start = i;
        } else {
            i += 1;
        }
    }
    flush(&mut tokens, text_start, bytes.len());
    tokens
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == ':' || c == '_'
}

/// Finds `needle` (ASCII) in `haystack`, ignoring ASCII case.
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Parses a start tag at the start of `s` (which begins with `<` and a
/// letter); returns it and its length.
fn start_tag(s: &str) -> (Token, usize) {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() && is_name_char(b[i] as char) {
        i += 1;
    }
    let name = s[1..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            self_closing = b[i] == b'/';
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'>' {
            i += 1;
            break;
        }
        self_closing = false;
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let attr = s[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let quote = b[i];
                let vstart = i + 1;
                i = vstart;
                while i < b.len() && b[i] != quote {
                    i += 1;
                }
                value = decode_entities(&s[vstart..i]).into_owned();
                i = (i + 1).min(b.len());
            } else {
                let vstart = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = decode_entities(&s[vstart..i]).into_owned();
            }
        }
        if !attr.is_empty() {
            attrs.push((attr, value));
        }
    }
    (
        Token::Start {
            name,
            attrs,
            self_closing,
        },
        i,
    )
}

/// Decodes character references: numeric ones, every named one of HTML5
/// that ends in `;` (the full table, through `html-escape`), and the common
/// named ones without their `;`, as browsers read them.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '#')
            .map_or(rest.len(), |e| e + 1);
        let name = &rest[1..end];
        let terminated = rest[end..].starts_with(';');
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            code.map(|c| {
                Cow::Owned(
                    char::from_u32(c)
                        .filter(|&c| c != '\0')
                        .unwrap_or('\u{FFFD}')
                        .to_string(),
                )
            })
        } else {
            terminated
                .then(|| full_named_entity(name))
                .flatten()
                .or_else(|| named_entity(name).map(|c| Cow::Owned(c.to_string())))
        };
        match decoded {
            Some(text) if end > 1 => {
                out.push_str(&text);
                rest = &rest[end..];
                if rest.starts_with(';') {
                    rest = &rest[1..];
                }
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `&name;` from the whole HTML5 table (some names stand for two code
/// points), if it is there.
fn full_named_entity(name: &str) -> Option<Cow<'static, str>> {
    // The longest HTML5 entity name has 31 characters.
    if name.len() > 32 {
        return None;
    }
    let reference = format!("&{name};");
    match html_escape::decode_html_entities(&reference) {
        Cow::Owned(text) if text != reference => Some(Cow::Owned(text)),
        _ => None,
    }
}

/// The common named references, which pages also write without their `;`.
fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "times" => '×',
        "divide" => '÷',
        "plusmn" => '±',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "shy" => '\u{ad}',
        "zwj" => '\u{200d}',
        "zwnj" => '\u{200c}',
        _ => return None,
    })
}

// ------------------------------------------------------------------ tree

#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

fn closes_p(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "ul"
            | "ol"
            | "dl"
            | "pre"
            | "table"
            | "blockquote"
            | "section"
            | "article"
            | "aside"
            | "header"
            | "footer"
            | "nav"
            | "main"
            | "figure"
            | "form"
            | "hr"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "address"
            | "details"
            | "fieldset"
    )
}

fn parse(html: &str) -> Element {
    let mut stack = vec![Element {
        name: "#root".into(),
        ..Default::default()
    }];
    fn close_top(stack: &mut Vec<Element>) {
        if stack.len() > 1 {
            let done = stack.pop().expect("not empty");
            stack
                .last_mut()
                .expect("root")
                .children
                .push(Node::Element(done));
        }
    }
    // Closes up to and including the newest `names` element, unless one of
    // `boundary` is newer.
    fn close_open(stack: &mut Vec<Element>, names: &[&str], boundary: &[&str]) {
        let found = stack
            .iter()
            .rposition(|e| names.contains(&e.name.as_str()) || boundary.contains(&e.name.as_str()));
        if let Some(i) = found {
            if i > 0 && names.contains(&stack[i].name.as_str()) {
                while stack.len() > i {
                    close_top(stack);
                }
            }
        }
    }
    for token in tokenize(html) {
        match token {
            Token::Text(text) => {
                let top = stack.last_mut().expect("root");
                match top.children.last_mut() {
                    Some(Node::Text(prev)) => prev.push_str(&text),
                    _ => top.children.push(Node::Text(text)),
                }
            }
            Token::Start {
                name,
                attrs,
                self_closing,
            } => {
                if closes_p(&name) && stack.last().is_some_and(|e| e.name == "p") {
                    close_top(&mut stack);
                }
                match name.as_str() {
                    "li" => close_open(&mut stack, &["li"], &["ul", "ol", "menu"]),
                    "dt" | "dd" => close_open(&mut stack, &["dt", "dd"], &["dl"]),
                    "tr" => close_open(&mut stack, &["tr"], &["table"]),
                    "td" | "th" => close_open(&mut stack, &["td", "th"], &["tr", "table"]),
                    "thead" | "tbody" | "tfoot" => {
                        close_open(&mut stack, &["thead", "tbody", "tfoot"], &["table"])
                    }
                    "option" => close_open(&mut stack, &["option"], &["select"]),
                    _ => {}
                }
                let element = Element {
                    name,
                    attrs,
                    children: Vec::new(),
                };
                if is_void(&element.name) || self_closing || stack.len() >= MAX_DEPTH {
                    let top = stack.last_mut().expect("root");
                    top.children.push(Node::Element(element));
                } else {
                    stack.push(element);
                }
            }
            Token::End(name) => {
                if name == "br" {
                    let top = stack.last_mut().expect("root");
                    top.children.push(Node::Element(Element {
                        name,
                        ..Default::default()
                    }));
                } else if let Some(i) = stack.iter().rposition(|e| e.name == name) {
                    if i > 0 {
                        while stack.len() > i {
                            close_top(&mut stack);
                        }
                    }
                }
            }
        }
    }
    while stack.len() > 1 {
        close_top(&mut stack);
    }
    stack.pop().expect("root")
}

fn find<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    e.children.iter().find_map(|n| match n {
        Node::Element(c) if c.name == name => Some(c),
        Node::Element(c) if !skipped(c) => find(c, name),
        _ => None,
    })
}

/// Elements whose content is not page text.
fn skipped(e: &Element) -> bool {
    let hidden = e.attr("hidden").is_some()
        || e.attr("aria-hidden") == Some("true")
        || e.attr("style").is_some_and(|s| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            s.to_ascii_lowercase().contains("display:none")
        });
    hidden
        || matches!(
            e.name.as_str(),
            "head"
                | "script"
                | "style"
                | "noscript"
                | "template"
                | "svg"
                | "math"
                | "iframe"
                | "object"
                | "embed"
                | "canvas"
                | "title"
                | "meta"
                | "link"
                | "button"
                | "select"
                | "input"
                | "textarea"
                | "nav"
                | "aside"
                | "footer"
                | "form"
                | "dialog"
        )
}

/// The text of `nodes`, whitespace kept (for `<pre>`).
fn raw_text(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) if e.name == "br" => out.push('\n'),
            Node::Element(e) if !skipped(e) => raw_text(&e.children, out),
            Node::Element(_) => {}
        }
    }
}

// -------------------------------------------------------------- markdown

struct Md<'a> {
    base: Option<&'a Url>,
    out: String,
    prefixes: Vec<String>,
    at_line_start: bool,
    pending_space: bool,
    /// Whether the last line written is a blank one.
    last_blank: bool,
    /// Counters of the open lists: `Some(n)` for ordered ones.
    lists: Vec<Option<u64>>,
}

impl<'a> Md<'a> {
    fn new(base: Option<&'a Url>) -> Self {
        Md {
            base,
            out: String::new(),
            prefixes: Vec::new(),
            at_line_start: true,
            pending_space: false,
            last_blank: false,
            lists: Vec::new(),
        }
    }

    fn finish(self) -> String {
        let mut lines: Vec<&str> = self.out.lines().map(str::trim_end).collect();
        lines.dedup_by(|a, b| a.is_empty() && b.is_empty());
        lines.join("\n").trim().to_owned()
    }

    fn start_line(&mut self) {
        if self.at_line_start {
            let prefix: String = self.prefixes.concat();
            self.out.push_str(&prefix);
            self.at_line_start = false;
            self.pending_space = false;
            self.last_blank = false;
        }
    }

    /// Inline text: whitespace collapses.
    fn text(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() && c != '\u{a0}' {
                if !self.at_line_start {
                    self.pending_space = true;
                }
                continue;
            }
            self.start_line();
            if self.pending_space {
                self.out.push(' ');
                self.pending_space = false;
            }
            self.out.push(if c == '\u{a0}' { ' ' } else { c });
        }
    }

    /// Markup written as is (markers, link syntax).
    fn raw(&mut self, s: &str) {
        self.start_line();
        if self.pending_space {
            self.out.push(' ');
            self.pending_space = false;
        }
        self.out.push_str(s);
    }

    fn newline(&mut self) {
        if !self.at_line_start {
            self.out.push('\n');
            self.at_line_start = true;
            self.pending_space = false;
        }
    }

    fn line_break(&mut self) {
        if self.at_line_start {
            let prefix: String = self.prefixes.concat();
            self.out.push_str(prefix.trim_end());
        }
        self.out.push('\n');
        self.at_line_start = true;
        self.pending_space = false;
    }

    fn blank_line(&mut self) {
        self.newline();
        if !self.out.is_empty() && !self.last_blank {
            let prefix: String = self.prefixes.concat();
            self.out.push_str(prefix.trim_end());
            self.out.push('\n');
            self.last_blank = true;
        }
    }

    /// The children's text as one line, for link texts, headings and
    /// emphasis.
    fn inline(&self, nodes: &[Node]) -> String {
        let mut sub = Md::new(self.base);
        sub.children(nodes);
        sub.out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn url(&self, href: &str) -> Option<String> {
        let href = href.trim();
        if href.is_empty() || href.starts_with('#') {
            return None;
        }
        let url = match self.base {
            Some(base) => base.join(href).ok()?,
            None => Url::parse(href).ok()?,
        };
        matches!(url.scheme(), "http" | "https" | "mailto").then(|| url.to_string())
    }

    fn children(&mut self, nodes: &[Node]) {
        for n in nodes {
            match n {
                Node::Text(t) => self.text(t),
                Node::Element(e) => self.element(e),
            }
        }
    }

    fn element(&mut self, e: &Element) {
        if skipped(e) {
            return;
        }
        match e.name.as_str() {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = usize::from(e.name.as_bytes()[1] - b'0');
                let text = self.inline(&e.children);
                self.blank_line();
                if !text.is_empty() {
                    self.raw(&format!("{} {text}", "#".repeat(level)));
                }
                self.blank_line();
            }
            "p" | "figure" | "details" | "address" | "fieldset" | "dl" => {
                self.blank_line();
                self.children(&e.children);
                self.blank_line();
            }
            "div" | "section" | "article" | "main" | "header" | "figcaption" | "summary"
            | "center" | "caption" | "dt" | "dd" | "body" | "html" => {
                self.newline();
                self.children(&e.children);
                self.newline();
            }
            "br" => self.line_break(),
            "hr" => {
                self.blank_line();
                self.raw("---");
                self.blank_line();
            }
            "a" => {
                let text = self.inline(&e.children);
                match e.attr("href").and_then(|h| self.url(h)) {
                    Some(url) if !text.is_empty() => self.raw(&format!("[{text}]({url})")),
                    _ => self.text(&text),
                }
            }
            "img" => {
                let alt = e.attr("alt").unwrap_or("").trim().to_owned();
                match e.attr("src").and_then(|s| self.url(s)) {
                    Some(src) => self.raw(&format!("![{alt}]({src})")),
                    None => self.text(&alt),
                }
            }
            "strong" | "b" => self.wrap(e, "**"),
            "em" | "i" | "cite" => self.wrap(e, "*"),
            "s" | "del" | "strike" => self.wrap(e, "~~"),
            "code" | "kbd" | "samp" | "tt" => {
                let mut raw = String::new();
                raw_text(&e.children, &mut raw);
                let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
                if !text.is_empty() {
                    let fence = if text.contains('`') { "``" } else { "`" };
                    self.raw(&format!("{fence}{text}{fence}"));
                }
            }
            "pre" => {
                let mut raw = String::new();
                raw_text(&e.children, &mut raw);
                let raw = raw.trim_matches('\n');
                self.blank_line();
                let fence = if raw.contains("```") { "~~~" } else { "```" };
                self.raw(fence);
                self.newline();
                for line in raw.lines() {
                    self.start_line();
                    self.out.push_str(line);
                    self.out.push('\n');
                    self.at_line_start = true;
                }
                self.raw(fence);
                self.blank_line();
            }
            "blockquote" => {
                self.blank_line();
                self.prefixes.push("> ".into());
                self.children(&e.children);
                self.newline();
                // Drop the quote's trailing blank lines (`>`).
                let blank = format!("{}\n", self.prefixes.concat().trim_end());
                while self.out.ends_with(&blank)
                    && self.out[..self.out.len() - blank.len()].ends_with('\n')
                {
                    self.out.truncate(self.out.len() - blank.len());
                }
                self.last_blank = false;
                self.prefixes.pop();
                self.blank_line();
            }
            "ul" | "ol" | "menu" => {
                let nested = !self.lists.is_empty();
                if nested {
                    self.newline();
                } else {
                    self.blank_line();
                }
                let start = e
                    .attr("start")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1);
                self.lists.push((e.name == "ol").then_some(start));
                self.children(&e.children);
                self.lists.pop();
                if nested {
                    self.newline();
                } else {
                    self.blank_line();
                }
            }
            "li" => {
                self.newline();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "- ".to_owned(),
                };
                self.raw(&marker);
                self.prefixes.push(" ".repeat(marker.len()));
                self.children(&e.children);
                self.newline();
                self.prefixes.pop();
            }
            "table" => self.table(e),
            _ => self.children(&e.children),
        }
    }

    fn wrap(&mut self, e: &Element, mark: &str) {
        let text = self.inline(&e.children);
        if !text.is_empty() {
            self.raw(&format!("{mark}{text}{mark}"));
        }
    }

    fn table(&mut self, table: &Element) {
        fn rows<'e>(e: &'e Element, out: &mut Vec<&'e Element>) {
            for n in &e.children {
                if let Node::Element(c) = n {
                    match c.name.as_str() {
                        "tr" => out.push(c),
                        "thead" | "tbody" | "tfoot" => rows(c, out),
                        _ => {}
                    }
                }
            }
        }
        let mut trs = Vec::new();
        rows(table, &mut trs);
        let grid: Vec<Vec<String>> = trs
            .iter()
            .map(|tr| {
                tr.children
                    .iter()
                    .filter_map(|n| match n {
                        Node::Element(c) if c.name == "td" || c.name == "th" => {
                            Some(self.inline(&c.children).replace('|', "\\|"))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .filter(|row: &Vec<String>| !row.is_empty())
            .collect();
        let width = grid.iter().map(Vec::len).max().unwrap_or(0);
        self.blank_line();
        for (i, row) in grid.iter().enumerate() {
            let mut cells = row.clone();
            cells.resize(width, String::new());
            self.raw(&format!("| {} |", cells.join(" | ")));
            self.newline();
            if i == 0 {
                self.raw(&format!("|{}", " --- |".repeat(width)));
                self.newline();
            }
        }
        self.blank_line();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(html: &str) -> String {
        let base = Url::parse("https://example.com/dir/page.html").unwrap();
        to_markdown(html, Some(&base))
    }

    #[test]
    fn headings_paragraphs_links_and_emphasis() {
        let out = md(
            r#"<html><head><title>T</title><style>p{}</style></head><body>
            <h1>Hello &amp; welcome</h1>
            <p>Some <b>bold</b>, <em>soft</em> and <a href="/about">a link</a>.</p>
            <p>Next<br>line &#x263A; &copy;</p>
            <script>alert("no")</script>
            </body></html>"#,
        );
        assert_eq!(
            out,
            "# Hello & welcome\n\nSome **bold**, *soft* and [a link](https://example.com/about).\n\nNext\nline ☺ ©"
        );
    }

    #[test]
    fn lists_nest_and_number() {
        let out = md("<ul><li>one<li>two<ul><li>inner</li></ul></li></ul><ol start=3><li>c</li><li>d</li></ol>");
        assert_eq!(out, "- one\n- two\n  - inner\n\n3. c\n4. d");
    }

    #[test]
    fn code_quotes_tables_and_images() {
        let out = md(r#"<pre><code>fn main() {
    x &lt; 1
}</code></pre><blockquote><p>quoted</p></blockquote>
<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2|3</td></tr></table>
<img src="pic.png" alt="A pic"><img src="data:image/png;base64,AAAA" alt="inline">"#);
        assert_eq!(
            out,
            "```\nfn main() {\n    x < 1\n}\n```\n\n> quoted\n\n| a | b |\n| --- | --- |\n| 1 | 2\\|3 |\n\n![A pic](https://example.com/dir/pic.png)inline"
        );
    }

    #[test]
    fn main_content_is_preferred_and_chrome_dropped() {
        let out = md("<body><nav><a href='/'>Home</a></nav><main><p>Body text</p></main><footer>foot</footer></body>");
        assert_eq!(out, "Body text");
        let out = md("<body><nav>menu</nav><p>Plain <span hidden>secret</span>page</p><footer>foot</footer></body>");
        assert_eq!(out, "Plain page");
    }

    #[test]
    fn broken_markup_does_not_fail() {
        assert_eq!(md("<p>unclosed <b>bold"), "unclosed **bold**");
        assert_eq!(
            md("a < b and c > d &unknown; &amp"),
            "a < b and c > d &unknown; &"
        );
        assert_eq!(md("<!-- comment --><p>x</p><!-- unterminated"), "x");
        assert_eq!(md("<a href='javascript:alert(1)'>click</a>"), "click");
        let deep = "<div>".repeat(10_000) + "deep" + &"</div>".repeat(10_000);
        assert_eq!(md(&deep), "deep");
        assert_eq!(md("<SCRIPT>x</script >after"), "after");
    }

    #[test]
    fn every_named_entity_of_html5_is_decoded() {
        // The hand table knew 36 names, so these stayed literal.
        assert_eq!(decode_entities("caf&eacute; na&iuml;ve"), "café naïve");
        assert_eq!(
            decode_entities("&Aring;ngstr&ouml;m &frac12; &spades;"),
            "Ångström ½ ♠"
        );
        assert_eq!(decode_entities("&NotEqualTilde;").chars().next(), Some('≂'));
        // Common ones without their ';' as before; unknown ones stay.
        assert_eq!(decode_entities("&amp &copy 2026"), "& © 2026");
        assert_eq!(
            decode_entities("&unknown; &eacutex AT&T"),
            "&unknown; &eacutex AT&T"
        );
        assert_eq!(
            md("<p>Caf&eacute; &ndash; cr&egrave;me br&ucirc;l&eacute;e</p>"),
            "Café – crème brûlée"
        );
        let long = format!("&{};", "a".repeat(100));
        assert_eq!(decode_entities(&long), long);
    }

    #[test]
    fn html_is_recognised() {
        assert!(looks_like_html("  <!DOCTYPE html><html>"));
        assert!(!looks_like_html("{\"json\": true}"));
    }
}
