//! Bounds how deeply a page nests before html5ever's tree builder sees it.
//!
//! The tree builder looks through its stack of open elements for most tags
//! ("is there a `p` in button scope?" on every `<div>`), so its time grows
//! with the number of tags times the nesting depth: 4,000 nested `<div>`s
//! take 150 ms, and a 5 MiB page of them would take hours. The Readability
//! pass and the Markdown writer after it recurse with the depth, too.
//!
//! [`NestingGuard`] sits between html5ever's tokenizer and its tree builder
//! and keeps a model of the open elements: the spec's rules for end tags
//! (scopes, special and formatting elements) and its common implied end
//! tags (`p`, `li`, `dd`/`dt`, headings, `option`, table rows and cells,
//! with the `tbody` and `tr` the tree builder adds on its own). A start tag
//! that would nest deeper than [`MAX_DEPTH`] is dropped, and so is the end
//! tag that matches it: the element's content stays, in its ancestor at the
//! limit. Formatting elements (`b`, `a`, `em`...) are also bounded in
//! number, since the tree builder re-opens the unclosed ones on every text.
//!
//! The model is an estimate that errs towards counting too deep (where the
//! tree builder would close elements the model keeps open, it flattens a
//! little early); the tree is measured again after parsing, and the parse
//! runs under a time budget, so an estimate that is wrong the other way
//! costs time within the budget, never the stack.

use html5ever::tokenizer::{Tag, TagKind, Token, TokenSink, TokenSinkResult};
use html5ever::{local_name, LocalName};
use std::cell::RefCell;
use std::collections::HashMap;

/// The deepest nesting of elements passed on to the tree builder (real
/// pages stay well under 60).
pub const MAX_DEPTH: usize = 128;

/// The most formatting elements left open at once.
const MAX_FORMATTING: usize = 24;

/// A [`TokenSink`] that passes tokens on to `inner`, dropping the start
/// tags that would nest too deeply (and their end tags).
pub struct NestingGuard<S> {
    inner: S,
    model: RefCell<Model>,
}

impl<S> NestingGuard<S> {
    /// Guards `inner` (html5ever's tree builder).
    pub fn new(inner: S) -> Self {
        NestingGuard {
            inner,
            model: RefCell::new(Model::default()),
        }
    }

    /// How many start tags were dropped.
    pub fn flattened(&self) -> usize {
        self.model.borrow().flattened
    }

    /// The guarded sink.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The guarded sink, given up.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: TokenSink> TokenSink for NestingGuard<S> {
    type Handle = S::Handle;

    fn process_token(&self, token: Token, line_number: u64) -> TokenSinkResult<S::Handle> {
        if let Token::TagToken(tag) = &token {
            if !self.model.borrow_mut().admit(tag) {
                return TokenSinkResult::Continue;
            }
        }
        self.inner.process_token(token, line_number)
    }

    fn end(&self) {
        self.inner.end();
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.inner
            .adjusted_current_node_present_but_not_in_html_namespace()
    }
}

/// An open element of the model: its name, and how many levels it stands
/// for (a `td` straight in a `table` gets a `tbody` and a `tr` too).
struct Open {
    name: LocalName,
    levels: usize,
}

/// The model of the tree builder's stack of open elements.
#[derive(Default)]
struct Model {
    open: Vec<Open>,
    /// The levels of `open`, added up.
    depth: usize,
    /// Formatting elements in `open`.
    formatting_open: usize,
    /// Formatting elements closed by something other than their end tag,
    /// which the tree builder keeps in its list to re-open.
    lingering: usize,
    /// Dropped start tags by name whose end tags are still to drop.
    dropped: HashMap<LocalName, usize>,
    /// All dropped start tags.
    flattened: usize,
}

/// `html` and `body`, open around everything.
const BASE_DEPTH: usize = 2;

impl Model {
    /// Whether to pass `tag` on; updates the model.
    fn admit(&mut self, tag: &Tag) -> bool {
        match tag.kind {
            TagKind::StartTag => self.start(tag),
            TagKind::EndTag => self.end(&tag.name),
        }
    }

    fn start(&mut self, tag: &Tag) -> bool {
        let name = &tag.name;
        if is_void(name)
            || matches!(
                *name,
                local_name!("html") | local_name!("head") | local_name!("body")
            )
            || (tag.self_closing && self.in_foreign_content())
        {
            return true;
        }
        self.implied_end_tags(name);
        let levels = self.levels_of(name);
        let formatting = is_formatting(name);
        let too_deep = BASE_DEPTH + self.depth + levels > MAX_DEPTH;
        let too_many = formatting && self.formatting_open + self.lingering >= MAX_FORMATTING;
        // Raw text (script, style, textarea...) holds no elements, and the
        // tokenizer must hear of it to read it as text.
        if (too_deep || too_many) && !is_raw_text(name) {
            *self.dropped.entry(name.clone()).or_default() += 1;
            self.flattened += 1;
            return false;
        }
        self.open.push(Open {
            name: name.clone(),
            levels,
        });
        self.depth += levels;
        if formatting {
            self.formatting_open += 1;
        }
        true
    }

    fn end(&mut self, name: &LocalName) -> bool {
        if let Some(count) = self.dropped.get_mut(name) {
            *count -= 1;
            if *count == 0 {
                self.dropped.remove(name);
            }
            return false;
        }
        match *name {
            // The tree builder keeps these open to the end.
            local_name!("html") | local_name!("body") | local_name!("head") => {}
            local_name!("p") => self.close_in_scope(&[local_name!("p")], Scope::Button),
            local_name!("li") => self.close_in_scope(&[local_name!("li")], Scope::ListItem),
            local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6") => self.close_in_scope(HEADINGS, Scope::Default),
            local_name!("table")
            | local_name!("tbody")
            | local_name!("thead")
            | local_name!("tfoot")
            | local_name!("tr")
            | local_name!("td")
            | local_name!("th") => self.close_in_scope(std::slice::from_ref(name), Scope::Table),
            _ if is_formatting(name) => {
                match self.find_in_scope(std::slice::from_ref(name), Scope::Default) {
                    // Already closed implicitly: the tree builder drops it
                    // from its list now.
                    None => self.lingering = self.lingering.saturating_sub(1),
                    // The adoption agency moves a block out of the element and
                    // keeps the stack as high as it was.
                    Some(at) if self.open[at + 1..].iter().any(|o| is_special(&o.name)) => {}
                    Some(at) => self.pop_through(at),
                }
            }
            _ if is_special(name) => {
                self.close_in_scope(std::slice::from_ref(name), Scope::Default)
            }
            _ => {
                // Any other end tag closes the nearest element of its name,
                // unless a special element stands in between.
                for at in (0..self.open.len()).rev() {
                    if self.open[at].name == *name {
                        self.pop_through(at);
                        break;
                    }
                    if is_special(&self.open[at].name) {
                        break;
                    }
                }
            }
        }
        true
    }

    /// The end tags the tree builder implies before a start tag `name`.
    fn implied_end_tags(&mut self, name: &LocalName) {
        if closes_p(name) {
            self.close_in_scope(&[local_name!("p")], Scope::Button);
        }
        match *name {
            local_name!("li") => self.close_item(&[local_name!("li")]),
            local_name!("dd") | local_name!("dt") => {
                self.close_item(&[local_name!("dd"), local_name!("dt")])
            }
            local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6") => self.close_top(HEADINGS),
            local_name!("option") => self.close_top(&[local_name!("option")]),
            local_name!("optgroup") => {
                self.close_top(&[local_name!("option")]);
                self.close_top(&[local_name!("optgroup")]);
            }
            local_name!("tr") => self.close_in_scope(&[local_name!("tr")], Scope::Table),
            local_name!("td") | local_name!("th") => {
                self.close_in_scope(&[local_name!("td"), local_name!("th")], Scope::Table)
            }
            local_name!("tbody") | local_name!("thead") | local_name!("tfoot") => self
                .close_in_scope(
                    &[
                        local_name!("tbody"),
                        local_name!("thead"),
                        local_name!("tfoot"),
                    ],
                    Scope::Table,
                ),
            local_name!("a") => {
                // A new link closes one left open (the adoption agency).
                if let Some(at) = self.find_in_scope(&[local_name!("a")], Scope::Default) {
                    if !self.open[at + 1..].iter().any(|o| is_special(&o.name)) {
                        self.pop_through(at);
                    }
                }
            }
            _ => {}
        }
    }

    /// The levels a start tag `name` adds: the tree builder puts a `tbody`
    /// around a `tr`, and a `tbody` and `tr` around a cell, when missing.
    fn levels_of(&self, name: &LocalName) -> usize {
        let top = self.top();
        let in_section = top.is_some_and(|t| {
            matches!(
                *t,
                local_name!("tbody") | local_name!("thead") | local_name!("tfoot")
            )
        });
        match *name {
            local_name!("td") | local_name!("th") if top == Some(&local_name!("tr")) => 1,
            local_name!("td") | local_name!("th") if in_section => 2,
            local_name!("td") | local_name!("th") => 3,
            local_name!("tr") if in_section => 1,
            local_name!("tr") => 2,
            _ => 1,
        }
    }

    fn top(&self) -> Option<&LocalName> {
        self.open.last().map(|o| &o.name)
    }

    fn in_foreign_content(&self) -> bool {
        self.open
            .iter()
            .any(|o| matches!(o.name, local_name!("svg") | local_name!("math")))
    }

    /// Closes the top element if it is one of `names`.
    fn close_top(&mut self, names: &[LocalName]) {
        if self.top().is_some_and(|top| names.contains(top)) {
            self.pop_through(self.open.len() - 1);
        }
    }

    /// `li`, `dd` and `dt` close an open item of theirs, unless a special
    /// element other than `address`, `div` or `p` stands in between.
    fn close_item(&mut self, names: &[LocalName]) {
        for at in (0..self.open.len()).rev() {
            let name = &self.open[at].name;
            if names.contains(name) {
                self.pop_through(at);
                return;
            }
            if is_special(name)
                && !matches!(
                    *name,
                    local_name!("address") | local_name!("div") | local_name!("p")
                )
            {
                return;
            }
        }
    }

    fn close_in_scope(&mut self, names: &[LocalName], scope: Scope) {
        if let Some(at) = self.find_in_scope(names, scope) {
            self.pop_through(at);
        }
    }

    /// Where the nearest of `names` is open, if it is in `scope`.
    fn find_in_scope(&self, names: &[LocalName], scope: Scope) -> Option<usize> {
        for at in (0..self.open.len()).rev() {
            let name = &self.open[at].name;
            if names.contains(name) {
                return Some(at);
            }
            if scope.is_boundary(name) {
                return None;
            }
        }
        None
    }

    /// Closes the element at `at` and everything opened after it.
    fn pop_through(&mut self, at: usize) {
        for (i, open) in self.open.drain(at..).enumerate() {
            self.depth -= open.levels;
            if is_formatting(&open.name) {
                self.formatting_open -= 1;
                if i > 0 {
                    self.lingering += 1;
                }
            }
        }
    }
}

/// The kinds of scope the tree builder looks for an element in.
#[derive(Clone, Copy)]
enum Scope {
    Default,
    Button,
    ListItem,
    Table,
}

impl Scope {
    fn is_boundary(self, name: &LocalName) -> bool {
        let table = matches!(
            *name,
            local_name!("html") | local_name!("table") | local_name!("template")
        );
        let default = table
            || matches!(
                *name,
                local_name!("applet")
                    | local_name!("caption")
                    | local_name!("td")
                    | local_name!("th")
                    | local_name!("marquee")
                    | local_name!("object")
                    | local_name!("mi")
                    | local_name!("mo")
                    | local_name!("mn")
                    | local_name!("ms")
                    | local_name!("mtext")
                    | local_name!("annotation-xml")
                    | local_name!("foreignObject")
                    | local_name!("desc")
                    | local_name!("title")
            );
        match self {
            Scope::Default => default,
            Scope::Button => default || *name == local_name!("button"),
            Scope::ListItem => default || matches!(*name, local_name!("ol") | local_name!("ul")),
            Scope::Table => table,
        }
    }
}

const HEADINGS: &[LocalName] = &[
    local_name!("h1"),
    local_name!("h2"),
    local_name!("h3"),
    local_name!("h4"),
    local_name!("h5"),
    local_name!("h6"),
];

/// Elements without content or end tag.
fn is_void(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("area")
            | local_name!("base")
            | local_name!("basefont")
            | local_name!("bgsound")
            | local_name!("br")
            | local_name!("col")
            | local_name!("embed")
            | local_name!("frame")
            | local_name!("hr")
            | local_name!("img")
            | local_name!("image")
            | local_name!("input")
            | local_name!("keygen")
            | local_name!("link")
            | local_name!("meta")
            | local_name!("param")
            | local_name!("source")
            | local_name!("track")
            | local_name!("wbr")
    )
}

/// Elements whose content the tokenizer reads as text.
fn is_raw_text(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("script")
            | local_name!("style")
            | local_name!("title")
            | local_name!("textarea")
            | local_name!("xmp")
            | local_name!("iframe")
            | local_name!("noembed")
            | local_name!("noframes")
            | local_name!("noscript")
            | local_name!("plaintext")
    )
}

/// The spec's formatting elements.
fn is_formatting(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("a")
            | local_name!("b")
            | local_name!("big")
            | local_name!("code")
            | local_name!("em")
            | local_name!("font")
            | local_name!("i")
            | local_name!("nobr")
            | local_name!("s")
            | local_name!("small")
            | local_name!("strike")
            | local_name!("strong")
            | local_name!("tt")
            | local_name!("u")
    )
}

/// Start tags that close an open `p` first.
fn closes_p(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("address")
            | local_name!("article")
            | local_name!("aside")
            | local_name!("blockquote")
            | local_name!("center")
            | local_name!("details")
            | local_name!("dialog")
            | local_name!("dir")
            | local_name!("div")
            | local_name!("dl")
            | local_name!("fieldset")
            | local_name!("figcaption")
            | local_name!("figure")
            | local_name!("footer")
            | local_name!("form")
            | local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6")
            | local_name!("header")
            | local_name!("hgroup")
            | local_name!("main")
            | local_name!("menu")
            | local_name!("nav")
            | local_name!("ol")
            | local_name!("p")
            | local_name!("pre")
            | local_name!("listing")
            | local_name!("search")
            | local_name!("section")
            | local_name!("summary")
            | local_name!("ul")
            | local_name!("li")
            | local_name!("dd")
            | local_name!("dt")
            | local_name!("plaintext")
            | local_name!("xmp")
    )
}

/// The spec's special elements (HTML ones; the MathML and SVG ones share
/// names with the scope boundaries).
fn is_special(name: &LocalName) -> bool {
    closes_p(name)
        || is_void(name)
        || matches!(
            *name,
            local_name!("applet")
                | local_name!("body")
                | local_name!("button")
                | local_name!("caption")
                | local_name!("colgroup")
                | local_name!("frameset")
                | local_name!("head")
                | local_name!("html")
                | local_name!("iframe")
                | local_name!("marquee")
                | local_name!("noembed")
                | local_name!("noframes")
                | local_name!("noscript")
                | local_name!("object")
                | local_name!("script")
                | local_name!("select")
                | local_name!("style")
                | local_name!("table")
                | local_name!("tbody")
                | local_name!("td")
                | local_name!("template")
                | local_name!("textarea")
                | local_name!("tfoot")
                | local_name!("th")
                | local_name!("thead")
                | local_name!("title")
                | local_name!("tr")
        )
}
