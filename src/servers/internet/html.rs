//! A web page as Markdown for a model: html5ever parses it as a browser
//! would (through `dom_query`'s tree), `dom_smoothie` (a port of Mozilla's
//! Readability) finds the main content when the page does not mark it with
//! `<main>`, `role="main"` or `<article>`, and `dom_query` writes the Markdown (headings,
//! links, lists, code blocks with their language, tables).
//!
//! A hostile page can neither exhaust the stack nor take quadratic time:
//! [`super::nesting`] bounds the nesting before the tree builder sees it,
//! the tree is measured again after parsing, its size is capped, and the
//! whole conversion runs under a [`Monitor`] (the caller's time budget and
//! cancellation), asked between chunks of input and between stages.

use super::nesting::{NestingGuard, MAX_DEPTH};
use crate::servers::tools::transform::{Monitor, TransformError};
use dom_query::{Document, NodeRef};
use dom_smoothie::{Config, Readability, TextMode};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, Tokenizer, TokenizerOpts};
use html5ever::tree_builder::{TreeBuilder, TreeBuilderOpts, TreeSink};
use html5ever::TokenizerResult;
use reqwest::Url;

/// The input is fed to the parser in chunks of this many bytes, and the
/// monitor asked between them.
const CHUNK_BYTES: usize = 16 * 1024;

/// The most nodes (elements and texts) a page may have; parsing stops
/// there and converts what it has.
pub const MAX_NODES: usize = 400_000;

/// Readability scores every element several times; above this many it is
/// skipped and the page's `<body>` converted whole.
const MAX_READABILITY_ELEMENTS: usize = 60_000;

/// The deepest tree the Markdown writer is given: the guard's limit plus
/// the formatting elements the tree builder re-opens; deeper elements
/// become their text (never reached but by a page that fools the guard).
const MAX_TREE_DEPTH: usize = MAX_DEPTH + 32;

/// Elements that are not content: scripts and styles, embedded objects,
/// forms, navigation and page chrome, hidden elements. (`head` stays for
/// Readability, which reads the title there; the writer skips it.)
const CHROME: &str = "script, style, noscript, template, svg, math, iframe, object, \
    embed, canvas, button, select, input, textarea, form, dialog, nav, aside, footer, \
    [hidden], [aria-hidden=true]";

/// A page converted to Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markdown {
    /// The Markdown.
    pub text: String,
    /// What the conversion left out and why (nesting flattened, a page cut
    /// short), for the answer's notes.
    pub notes: Vec<String>,
}

/// Converts an HTML document to Markdown, resolving relative links against
/// `base`: its `<main>` (or `role="main"`), else its first `<article>`,
/// else the main content Readability finds, else its `<body>`.
pub fn to_markdown(
    html: &str,
    base: Option<&Url>,
    monitor: &dyn Monitor,
) -> Result<Markdown, TransformError> {
    let mut notes = Vec::new();
    let doc = parse(html, monitor, &mut notes)?;
    monitor.check()?;
    flatten_deep_elements(&doc);
    let base = effective_base(&doc, base);
    clean(&doc, base.as_ref());
    let tables = lift_list_tables(&doc);
    monitor.check()?;
    let text = match main_content(&doc) {
        Some(node) => node.md(None).to_string(),
        None => readable_article(doc),
    };
    let text = put_back_tables(&text, &tables);
    Ok(Markdown {
        text: tidy(&plain_ampersands(&text)),
        notes,
    })
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

/// Parses `html` with html5ever behind the nesting guard, in chunks.
fn parse(
    html: &str,
    monitor: &dyn Monitor,
    notes: &mut Vec<String>,
) -> Result<Document, TransformError> {
    let builder = TreeBuilder::new(Document::default(), TreeBuilderOpts::default());
    let tokenizer = Tokenizer::new(NestingGuard::new(builder), TokenizerOpts::default());
    let input = BufferQueue::default();
    let mut rest = html;
    while !rest.is_empty() {
        monitor.check()?;
        if tokenizer.sink.inner().sink.tree.len() > MAX_NODES {
            let read = html.len() - rest.len();
            notes.push(format!(
                "the page has more than {MAX_NODES} elements and texts; only its first \
                 {read} bytes were converted"
            ));
            break;
        }
        let mut cut = rest.len().min(CHUNK_BYTES);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        input.push_back(StrTendril::from_slice(&rest[..cut]));
        rest = &rest[cut..];
        // Scripts are not run: the tokenizer just goes on after one.
        while let TokenizerResult::Script(_) = tokenizer.feed(&input) {}
    }
    tokenizer.end();
    let guard = tokenizer.sink;
    let flattened = guard.flattened();
    if flattened > 0 {
        notes.push(format!(
            "the page nests elements more than {MAX_DEPTH} levels deep; {flattened} deeper \
             elements were flattened into their ancestors (their text is kept)"
        ));
    }
    Ok(guard.into_inner().sink.finish())
}

/// Replaces the elements deeper than [`MAX_TREE_DEPTH`] by their text, so
/// that no later pass recurses deeper.
fn flatten_deep_elements(doc: &Document) {
    let mut stack = vec![(doc.root(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth >= MAX_TREE_DEPTH && node.is_element() {
            let text = node.text();
            node.set_text(text);
            continue;
        }
        for child in node.children_it(false) {
            stack.push((child, depth + 1));
        }
    }
}

/// The URL relative links resolve against: the page's `<base href>`
/// (itself resolved against the page's URL), else the page's URL.
fn effective_base(doc: &Document, page: Option<&Url>) -> Option<Url> {
    let declared = doc.base_uri();
    match (page, declared.as_deref().map(str::trim)) {
        (Some(page), Some(href)) if !href.is_empty() => page.join(href).ok().or(Some(page.clone())),
        (None, Some(href)) => Url::parse(href).ok(),
        (page, _) => page.cloned(),
    }
}

/// Drops what is not content, resolves links and images against `base`,
/// and keeps only links a reader can follow (http, https, mailto): others
/// become their text, images without a usable source their `alt` text.
fn clean(doc: &Document, base: Option<&Url>) {
    doc.select(CHROME).remove();
    // Permalink anchors after headings (Sphinx's and MkDocs' `¶`).
    doc.select("a[href^='#']")
        .nodes()
        .iter()
        .filter(|a| matches!(a.text().trim(), "¶" | "#" | "§"))
        .for_each(|a| a.remove_from_parent());
    // The Markdown writer runs a definition's term into its description:
    // each becomes a block of its own (Sphinx writes every function's
    // signature and text so).
    doc.select("dt").rename("p");
    doc.select("dl, dd").rename("div");
    for link in doc.select("a[href]").nodes() {
        let href = link.attr("href").unwrap_or_default();
        match resolve(&href, base) {
            Some(url) => link.set_attr("href", &url),
            None => link.remove_attr("href"),
        }
    }
    for img in doc.select("img").nodes() {
        let src = img.attr("src").unwrap_or_default();
        match resolve(&src, base) {
            Some(url) if !url.starts_with("mailto:") => {
                img.set_attr("src", &url);
                img.remove_attrs(&["srcset", "data-src"]);
            }
            _ => {
                let alt = img.attr("alt").unwrap_or_default();
                let text = doc.tree.new_text(alt.trim());
                img.replace_with(&text);
            }
        }
    }
}

/// Marks where a table lifted out of a list item goes back (characters of
/// Unicode's private use area, which no page text should hold and no
/// Markdown writer escapes).
const TABLE_MARK: (char, char) = ('\u{E000}', '\u{E001}');

/// The Markdown writer runs a table inside a list item into text: each
/// such table is written on its own and replaced by a marked paragraph,
/// which [`put_back_tables`] replaces with it. Nothing is lifted from a
/// page that holds the marker characters itself.
fn lift_list_tables(doc: &Document) -> Vec<String> {
    let tables = doc.select("li table");
    if tables.is_empty() || doc.root().text().contains(TABLE_MARK.0) {
        return Vec::new();
    }
    let mut written = Vec::new();
    for table in tables.nodes() {
        // A table inside a lifted table goes with it.
        if table.ancestors_it(None).any(|a| a.has_name("table")) {
            continue;
        }
        // The writer writes a node's children: the table goes into a
        // wrapper of its own, which the marker then replaces.
        let wrapper = doc.tree.new_element("div");
        table.wrap_node(&wrapper);
        let markdown = wrapper.md(None).trim().to_owned();
        let mark = doc.tree.new_element("p");
        mark.set_text(format!("{}{}{}", TABLE_MARK.0, written.len(), TABLE_MARK.1));
        wrapper.replace_with(&mark);
        written.push(markdown);
    }
    written
}

/// Puts each lifted table back at its marker, its lines indented as the
/// list item's content is.
fn put_back_tables(md: &str, tables: &[String]) -> String {
    if tables.is_empty() {
        return md.to_owned();
    }
    let mut out = String::with_capacity(md.len());
    for line in md.split_inclusive('\n') {
        let table = line.find(TABLE_MARK.0).and_then(|start| {
            let end = start + line[start..].find(TABLE_MARK.1)?;
            let index: usize = line[start + TABLE_MARK.0.len_utf8()..end].parse().ok()?;
            Some((start, end, tables.get(index)?))
        });
        let Some((start, end, table)) = table else {
            out.push_str(line);
            continue;
        };
        // What stands before the marker is indentation and maybe a list
        // item's marker: the table's other lines align under its first.
        let indent = " ".repeat(line[..start].chars().count());
        out.push_str(&line[..start]);
        out.push_str(&table.replace('\n', &format!("\n{indent}")));
        out.push_str(&line[end + TABLE_MARK.1.len_utf8()..]);
    }
    out
}

/// `href` as an absolute http, https or mailto URL; `None` for in-page
/// fragments, scripts, data and anything unparseable.
fn resolve(href: &str, base: Option<&Url>) -> Option<String> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let url = match base {
        Some(base) => base.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    matches!(url.scheme(), "http" | "https" | "mailto").then(|| url.to_string())
}

/// The page's own mark of its main content: `<main>` or the ARIA landmark
/// `role="main"` (Sphinx's), else its first `<article>`.
fn main_content(doc: &Document) -> Option<NodeRef<'_>> {
    ["main, [role=main]", "article"]
        .iter()
        .find_map(|selector| doc.select(selector).nodes().first().cloned())
}

/// The article Readability finds, under the page's title as its heading;
/// the `<body>` when the page is not article-like (short, or a list of
/// links) or too large to score.
fn readable_article(doc: Document) -> String {
    let elements = doc.select("*").length();
    // Readability takes a heading that repeats the title out of the
    // content: the page's first `h1`, as Markdown, when the title holds it
    // ("json — JSON encoder and decoder — Python 3.11 documentation").
    let h1 = doc.select("h1").nodes().first().map(|h1| {
        let text = h1.text().split_whitespace().collect::<Vec<_>>().join(" ");
        (text, h1.md(None).trim().to_owned())
    });
    let config = Config {
        text_mode: TextMode::Markdown,
        ..Config::default()
    };
    // Links are absolute already (see `clean`): Readability needs no URL,
    // and without one it cannot refuse the document.
    let Ok(mut readability) = Readability::with_document(doc, None, Some(config)) else {
        return String::new();
    };
    if elements <= MAX_READABILITY_ELEMENTS && readability.is_probably_readable() {
        if let Ok(article) = readability.parse() {
            let title = article.title.trim();
            let heading = match &h1 {
                Some((text, markdown)) if !text.is_empty() && title.contains(text.as_str()) => {
                    markdown.as_str()
                }
                _ => title,
            };
            return with_title(&article.text_content, heading);
        }
    }
    // Not article-like, or Readability found nothing: the whole body (what
    // `parse` left of it is the page without scripts and styles).
    readability
        .doc
        .select("body")
        .nodes()
        .first()
        .map(|body| body.md(None).to_string())
        .unwrap_or_default()
}

/// `body` under `heading` as its first-level heading: Readability makes
/// the `h1`s `h2`s (the demoted one is promoted back), and drops the one
/// that repeats the title (it is put back).
fn with_title(body: &str, heading: &str) -> String {
    if heading.is_empty() {
        return body.to_owned();
    }
    let demoted = format!("## {heading}");
    match body.lines().position(|l| l.trim_end() == demoted) {
        Some(at) => body
            .lines()
            .enumerate()
            .map(|(i, l)| if i == at { &l[1..] } else { l })
            .collect::<Vec<_>>()
            .join("\n"),
        None if body
            .lines()
            .any(|l| l.trim_start_matches('#').trim() == heading) =>
        {
            body.to_owned()
        }
        None => format!("# {heading}\n\n{body}"),
    }
}

/// Link destinations with `&` for the `&amp;` the Markdown writer puts
/// there (valid Markdown, but a model copies the URL as it reads it).
fn plain_ampersands(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut rest = md;
    while let Some(at) = rest.find("](") {
        let (before, after) = rest.split_at(at + 2);
        out.push_str(before);
        // The destination ends at the first `)` or space (a title
        // follows a space); `(` and `)` inside it are balanced or the
        // writer wrapped it in `<...>`, where `>` ends it.
        let end = if after.starts_with('<') {
            after.find('>').map_or(after.len(), |e| e + 1)
        } else {
            after.find([')', ' ', '\n']).unwrap_or(after.len())
        };
        out.push_str(&after[..end].replace("&amp;", "&"));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Trims the Markdown, empties blank lines, and keeps at most one blank
/// line in a row outside code blocks (trailing spaces stay: two of them
/// are a hard line break).
fn tidy(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut blank = 0;
    let mut fenced = false;
    for line in md.trim().lines() {
        let marker = line.trim_start();
        if marker.starts_with("```") || marker.starts_with("~~~") {
            fenced = !fenced;
        }
        if line.trim().is_empty() && !fenced {
            blank += 1;
            if blank == 1 {
                out.push('\n');
            }
            continue;
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A monitor that never stops the work.
    struct Unbounded;

    impl Monitor for Unbounded {
        fn check(&self) -> Result<(), TransformError> {
            Ok(())
        }
        fn progress(&self, _done: u64, _total: u64, _message: String) {}
    }

    fn md(html: &str) -> String {
        convert(html).text
    }

    fn convert(html: &str) -> Markdown {
        let base = Url::parse("https://example.com/dir/page.html").unwrap();
        to_markdown(html, Some(&base), &Unbounded).unwrap()
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
        // `<br>` is a hard line break (two spaces); the old converter
        // wrote a soft one, which Markdown reads as a space.
        assert_eq!(
            out,
            "# Hello & welcome\n\nSome **bold**, *soft* and [a link](https://example.com/about).\n\nNext  \nline ☺ ©"
        );
    }

    #[test]
    fn lists_nest_and_number() {
        let out = md("<ul><li>one<li>two<ul><li>inner</li></ul></li></ul><ol start=3><li>c</li><li>d</li></ol>");
        assert_eq!(out, "- one\n- two\n    - inner\n\n3. c\n4. d");
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
            "```\nfn main() {\n    x < 1\n}\n```\n\n> quoted\n\n| a | b |\n| - | - |\n| 1 | 2\\|3 |\n\n![A pic](https://example.com/dir/pic.png)inline"
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
            "a \\< b and c > d &unknown; &"
        );
        assert_eq!(md("<!-- comment --><p>x</p><!-- unterminated"), "x");
        assert_eq!(md("<a href='javascript:alert(1)'>click</a>"), "click");
        assert_eq!(md("<SCRIPT>x</script >after"), "after");
        assert_eq!(md(""), "");
        assert_eq!(md("\u{0}<p>\u{0}x</p>"), "x");
    }

    #[test]
    fn every_named_entity_of_html5_is_decoded() {
        assert_eq!(
            md("<p>Caf&eacute; &ndash; cr&egrave;me br&ucirc;l&eacute;e</p>"),
            "Café – crème brûlée"
        );
        assert_eq!(
            md("<p>&Aring;ngstr&ouml;m &frac12; &spades;</p>"),
            "Ångström ½ ♠"
        );
        // Legacy names without ';', as browsers read them.
        assert_eq!(md("<p>&amp &copy 2026</p>"), "& © 2026");
    }

    /// What the hand-written converter got wrong.
    #[test]
    fn cases_the_hand_parser_got_wrong() {
        // A code block kept its language only as a class; now it is the
        // fence's info string.
        assert_eq!(
            md(r#"<pre><code class="language-rust">fn x() {}</code></pre>"#),
            "```rust\nfn x() {}\n```"
        );
        // Text that reads as Markdown stayed unescaped, so `*x*` became
        // emphasis and `<y>` an HTML tag.
        assert_eq!(
            md("<p>*not emphasis* and &lt;y&gt; and `tick`</p>"),
            "\\*not emphasis\\* and \\<y> and \\`tick\\`"
        );
        // Two code spans side by side ran into one broken span.
        assert_eq!(md("<p><code>a</code><code>b</code></p>"), "`a` `b`");
        // A list item of paragraphs left its marker on a line of its own.
        assert_eq!(
            md("<ul><li><p>para one</p><p>para two</p></li></ul>"),
            "- para one\n\n  para two"
        );
        // `<base href>` was ignored.
        assert_eq!(
            md(
                r#"<head><base href="https://other.org/docs/"></head><a href="a.html?x=1&amp;y=2">A</a>"#
            ),
            "[A](https://other.org/docs/a.html?x=1&y=2)"
        );
        // Misnested formatting is repaired as browsers do (the adoption
        // agency): `y` is still italic.
        assert_eq!(md("<p><b><i>x</b>y</i></p>"), "***x****y*");
    }

    #[test]
    fn tables_in_list_items_stay_tables() {
        assert_eq!(
            md(
                "<ul><li><p>Values:</p><table><tr><th>a</th><th>b</th></tr><tr><td>1</td>\
                <td>2</td></tr></table></li><li>next</li></ul>"
            ),
            "- Values:\n\n  | a | b |\n  | - | - |\n  | 1 | 2 |\n\n- next"
        );
        // A page holding the marker characters keeps its text as it is.
        assert_eq!(
            md("<ul><li>\u{E000}0\u{E001}<table><tr><td>x</td></tr></table></li></ul>"),
            "- \u{E000}0\u{E001}\n  x"
        );
    }

    #[test]
    fn definitions_are_blocks_of_their_own() {
        assert_eq!(
            md("<dl><dt>term</dt><dd>its meaning</dd><dt>other<dd>more</dl>"),
            "term\n\nits meaning\n\nother\n\nmore"
        );
    }

    #[test]
    fn readability_finds_the_article_among_chrome() {
        let paragraph = "This paragraph is the article's own text, long enough, with commas, \
            several clauses, and enough words to score as content rather than chrome. ";
        let page = format!(
            r#"<html><head><title>The article</title></head><body>
            <div class="sidebar"><a href="/a">Link one</a> <a href="/b">Link two</a>
            <a href="/c">Link three</a> <a href="/d">Link four</a></div>
            <div class="content"><h1>The article</h1><p>{p}</p><p>{p}</p><p>{p}</p>
            <h2>A section</h2><p>{p}</p></div>
            <div class="comments"><a href="/e">Share</a> <a href="/f">Tweet</a></div>
            </body></html>"#,
            p = paragraph.repeat(2)
        );
        let out = md(&page);
        assert!(out.starts_with("# The article\n\nThis paragraph"), "{out}");
        assert!(out.contains("\n## A section\n"), "{out}");
        assert!(!out.contains("Link one") && !out.contains("Tweet"), "{out}");
    }

    #[test]
    fn deep_nesting_is_flattened_with_a_note() {
        let deep =
            "<div>".repeat(20_000) + "<p>deep</p>" + &"</div>".repeat(20_000) + "<p>after</p>";
        let out = convert(&deep);
        assert_eq!(out.text, "deep\n\nafter");
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
        assert!(
            out.notes[0].contains("more than 128 levels deep"),
            "{:?}",
            out.notes
        );
        // Unclosed formatting elements, which the tree builder re-opens in
        // every paragraph, are bounded in number.
        let bold: String = (0..5_000).map(|i| format!("<b id={i}>")).collect();
        let out = convert(&(bold + &"<p>x</p>".repeat(2_000)));
        assert_eq!(out.text.matches('x').count(), 2_000);
        assert!(
            out.notes[0].contains("4976 deeper elements"),
            "{:?}",
            out.notes
        );
        // Misnested cells and objects do not fool the guard.
        for page in [
            "<table><td>".repeat(5_000),
            "<div><object></div>".repeat(5_000),
            "<b><div></b>".repeat(5_000),
            "<span><div></span>".repeat(5_000),
        ] {
            let doc = parse(&(page + "x"), &Unbounded, &mut Vec::new()).unwrap();
            assert!(depth(&doc) <= MAX_TREE_DEPTH, "{}", depth(&doc));
        }
    }

    #[test]
    fn a_page_with_too_many_nodes_is_cut_with_a_note() {
        let page = "<p>x</p>".repeat(MAX_NODES);
        let out = convert(&page);
        assert!(
            out.notes.iter().any(|n| n.contains("only its first")),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn the_monitor_stops_the_work() {
        struct Stop;
        impl Monitor for Stop {
            fn check(&self) -> Result<(), TransformError> {
                Err(TransformError::Cancelled)
            }
            fn progress(&self, _done: u64, _total: u64, _message: String) {}
        }
        assert_eq!(
            to_markdown("<p>x</p>", None, &Stop),
            Err(TransformError::Cancelled)
        );
    }

    #[test]
    fn ampersands_in_destinations_only() {
        assert_eq!(
            plain_ampersands(
                "a &amp; [x](http://h/?a=1&amp;b=2 \"t &amp;\") [y](<http://h/a b?c&amp;d>)"
            ),
            "a &amp; [x](http://h/?a=1&b=2 \"t &amp;\") [y](<http://h/a b?c&d>)"
        );
    }

    fn depth(doc: &Document) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(doc.root(), 0usize)];
        while let Some((node, d)) = stack.pop() {
            deepest = deepest.max(d);
            stack.extend(node.children_it(false).map(|c| (c, d + 1)));
        }
        deepest
    }

    #[test]
    fn html_is_recognised() {
        assert!(looks_like_html("  <!DOCTYPE html><html>"));
        assert!(!looks_like_html("{\"json\": true}"));
    }
}
