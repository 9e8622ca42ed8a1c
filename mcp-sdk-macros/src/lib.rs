//! # mcp-sdk-macros: `#[tool]` for mcp-sdk-server
//!
//! Optional: everything here is one `Router::tool` call you can write by
//! hand, and the [`Router`](../mcp_sdk_server/struct.Router.html) needs none
//! of it.
//!
//! [`macro@tool`] on a documented `async fn` takes the tool's name from the
//! function, its description from the doc comment and its input schema from
//! the argument type (as any handler does), and writes a registration
//! function beside it, named after the function with `_tool` appended:
//!
//! ```
//! use mcp_sdk_macros::tool;
//! use mcp_sdk_server::Router;
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct AddArgs {
//!     /// The first number.
//!     a: f64,
//!     /// The second number.
//!     b: f64,
//! }
//!
//! /// Adds two numbers.
//! #[tool]
//! async fn add(args: AddArgs) -> String {
//!     (args.a + args.b).to_string()
//! }
//!
//! let router = Router::new().register(add_tool);
//! let tool = router.tools().get("add").unwrap();
//! assert_eq!(tool.description.as_deref(), Some("Adds two numbers."));
//! ```
//!
//! The function stays as you wrote it (call it in a unit test); `add_tool`
//! is exactly:
//!
//! ```
//! # use mcp_sdk_server::Router;
//! # #[derive(serde::Deserialize, schemars::JsonSchema)] struct AddArgs { a: f64, b: f64 }
//! # async fn add(args: AddArgs) -> String { (args.a + args.b).to_string() }
//! /// Registers `add` as the tool `add`.
//! fn add_tool<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
//!     router.tool(mcp_sdk_server::protocol::Tool::named("add", "Adds two numbers."), add)
//! }
//! ```
//!
//! A function whose first parameter is `State<T>` gets a registration for
//! a `Router<T>` only. `#[tool(name = "other_name", title = "For people")]`
//! sets the name and the title.
//!
//! The generated code names `::mcp_sdk_server`, so the crate using the
//! macro depends on `mcp-sdk-server` (with its `macros` feature, the macro
//! is also `mcp_sdk_server::tool`).
//!
//! Mistakes are compile errors that say what to do. A tool without a doc
//! comment has no description for the model:
//!
//! ```compile_fail
//! use mcp_sdk_macros::tool;
//! use mcp_sdk_server::NoArguments;
//!
//! #[tool] // error: `#[tool]` needs a doc comment on the function
//! async fn undocumented(_: NoArguments) -> String {
//!     String::new()
//! }
//! ```
//!
//! A handler is async:
//!
//! ```compile_fail
//! use mcp_sdk_macros::tool;
//! use mcp_sdk_server::NoArguments;
//!
//! /// Not async.
//! #[tool] // error: `#[tool]` needs an `async fn`
//! fn blocking(_: NoArguments) -> String {
//!     String::new()
//! }
//! ```
//!
//! And a name must be one MCP allows (1 to 128 of `A-Z a-z 0-9 _ - .`):
//!
//! ```compile_fail
//! use mcp_sdk_macros::tool;
//! use mcp_sdk_server::NoArguments;
//!
//! /// Badly named.
//! #[tool(name = "no spaces please")] // error: not a valid tool name
//! async fn spaced(_: NoArguments) -> String {
//!     String::new()
//! }
//! ```

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{
    parse_macro_input, spanned::Spanned, Error, Expr, ExprLit, FnArg, GenericArgument, ItemFn, Lit,
    LitStr, Meta, PathArguments, Type,
};

/// Turns a documented `async fn` into a tool: writes `<name>_tool`, a
/// function that registers it on a `Router` (see the [crate
/// documentation](crate)).
///
/// Options: `name = "..."` (default: the function's name) and
/// `title = "..."`.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut name: Option<LitStr> = None;
    let mut title: Option<LitStr> = None;
    let options = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("title") {
            title = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("`#[tool]` takes `name = \"...\"` and `title = \"...\"`"))
        }
    });
    parse_macro_input!(attr with options);
    let function = parse_macro_input!(item as ItemFn);
    match expand(function, name, title) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(
    function: ItemFn,
    name: Option<LitStr>,
    title: Option<LitStr>,
) -> Result<TokenStream2, Error> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(Error::new(
            sig.fn_token.span(),
            "`#[tool]` needs an `async fn`: a tool handler is async",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(Error::new(
            sig.generics.span(),
            "`#[tool]` cannot go on a generic function: a tool has one argument type, whose \
             schema it advertises",
        ));
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(Error::new(
            r.span(),
            "`#[tool]` goes on a free `async fn`, not a method: take the state as `State<T>`",
        ));
    }
    let ident = &sig.ident;
    let name = name.unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
    if !valid_tool_name(&name.value()) {
        return Err(Error::new(
            name.span(),
            format!(
                "{:?} is not a valid tool name: MCP tool names are 1 to 128 characters, each an \
                 ASCII letter or digit, '_', '-' or '.'",
                name.value()
            ),
        ));
    }
    let Some(description) = description(&function)? else {
        return Err(Error::new(
            ident.span(),
            "`#[tool]` needs a doc comment on the function: it is the tool's description, \
             which the model reads to decide when to call it",
        ));
    };
    let description = LitStr::new(&description, Span::call_site());
    let title = title.map(|t| quote!(.with_title(#t)));
    let vis = &function.vis;
    let register = format_ident!("{}_tool", ident);
    let doc = format!(
        "Registers [`{ident}`] as the tool `{}` (written by `#[tool]`).",
        name.value()
    );
    let definition = quote! {
        ::mcp_sdk_server::protocol::Tool::named(#name, #description) #title
    };
    let registration = match state_type(&function) {
        Some(state) => quote! {
            #[doc = #doc]
            #vis fn #register(
                router: ::mcp_sdk_server::Router<#state>,
            ) -> ::mcp_sdk_server::Router<#state> {
                router.tool(#definition, #ident)
            }
        },
        None => quote! {
            #[doc = #doc]
            #vis fn #register<S>(router: ::mcp_sdk_server::Router<S>) -> ::mcp_sdk_server::Router<S>
            where
                S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
            {
                router.tool(#definition, #ident)
            }
        },
    };
    Ok(quote! {
        #function
        #registration
    })
}

/// The doc comment as one description: lines of a paragraph joined by a
/// space, paragraphs by a blank line.
fn description(function: &ItemFn) -> Result<Option<String>, Error> {
    let mut lines = Vec::new();
    for attr in &function.attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        let Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => lines.push(s.value()),
            other => {
                return Err(Error::new(
                    other.span(),
                    "`#[tool]` reads the description from plain doc comments",
                ))
            }
        }
    }
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    // An empty `///` line is an empty attribute, which has no `lines()`.
    let split = lines.iter().flat_map(|l| {
        let parts: Vec<&str> = if l.trim().is_empty() {
            vec![""]
        } else {
            l.lines().collect()
        };
        parts
    });
    for line in split {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    Ok((!paragraphs.is_empty()).then(|| paragraphs.join("\n\n")))
}

/// `T` if the first parameter is `State<T>` (or `State(x): State<T>`).
fn state_type(function: &ItemFn) -> Option<&Type> {
    let Some(FnArg::Typed(first)) = function.sig.inputs.first() else {
        return None;
    };
    let Type::Path(path) = &*first.ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "State" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// MCP's tool name format (2025-11-25, SEP-986), as the router checks it.
fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[allow(dead_code)] // a proc-macro crate may export only macros
struct ReadmeDoctests;
