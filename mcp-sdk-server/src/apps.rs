//! MCP Apps, the `io.modelcontextprotocol/ui` extension: a tool's result
//! shown by an HTML page of the server's (an *app*) that the host renders
//! in a sandboxed frame.
//!
//! A server offers an app in two parts: a `ui://` resource whose contents
//! are the page ([`AppResource`], registered with
//! [`Router::app`](crate::Router::app)), and a tool whose `_meta.ui.resourceUri`
//! names it ([`link`]). Hosts that declared the extension in their client
//! capabilities fetch the page with `resources/read` and hand it the tool's
//! input and result; for the others the router lists the tool without its
//! `_meta.ui` (the spec asks servers to check), and the tool's text content
//! is what they show, so every linked tool must answer meaningful text too.
//!
//! ```
//! use mcp_sdk::Tool;
//! use mcp_sdk_server::apps::{self, AppResource, Csp};
//! use mcp_sdk_server::{NoArguments, Router};
//!
//! let page = AppResource::new(
//!     "ui://clock/face",
//!     "clock-face",
//!     "<!doctype html><html><body><p id=t></p></body></html>",
//! )
//! .with_csp(Csp { connect_domains: vec!["https://time.example".into()], ..Csp::default() });
//! let router = Router::new()
//!     .app(page)
//!     .tool(apps::link(Tool::named("now", "The time"), "ui://clock/face"), |_: NoArguments| async {
//!         "12:00"
//!     });
//! assert!(router.check().is_ok());
//! ```

use crate::context::RequestContext;
use mcp_sdk::{ClientCapabilities, Meta, ReadResourceResult, Resource, ResourceContents, Tool};
use serde::Serialize;
use serde_json::{json, Value};

/// The extension's identifier, under `capabilities.extensions`.
pub const EXTENSION: &str = "io.modelcontextprotocol/ui";

/// The MIME type of an app's HTML page.
pub const MIME_TYPE: &str = "text/html;profile=mcp-app";

/// The URI scheme every app resource uses.
pub const SCHEME: &str = "ui://";

/// The largest page an [`AppResource`] may carry, in bytes. A host loads
/// the whole page into a frame before it shows anything; an app that
/// needs more should fetch it (declared in its [`Csp`]).
pub const MAX_HTML_BYTES: usize = 1024 * 1024;

/// Why an [`AppResource`] cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The URI does not use the `ui://` scheme.
    #[error("the app resource {0:?} must have a ui:// URI")]
    NotUiUri(String),
    /// The page is not an HTML document.
    #[error(
        "the app resource {0:?} is not an HTML document: an app's page starts with \
         <!DOCTYPE html> or <html> (MCP Apps serve {MIME_TYPE} only)"
    )]
    NotHtml(String),
    /// The page is larger than [`MAX_HTML_BYTES`].
    #[error("the app resource {uri:?} is {size} bytes, over the limit of {MAX_HTML_BYTES}")]
    TooLarge {
        /// The resource's URI.
        uri: String,
        /// The page's size in bytes.
        size: usize,
    },
    /// A CSP origin would change the policy's meaning.
    #[error(
        "the app resource {uri:?} declares the CSP origin {origin:?}: an origin is one \
         scheme://host[:port] (a leading *. allowed), without spaces, quotes, ';' or ','"
    )]
    BadOrigin {
        /// The resource's URI.
        uri: String,
        /// The origin as declared.
        origin: String,
    },
}

/// The origins an app may reach beyond its own page (`_meta.ui.csp`);
/// the host builds the frame's Content-Security-Policy from them. Empty
/// lists are the spec's restrictive default: no network, no outside
/// scripts, styles or images, no nested frames.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Csp {
    /// Origins for `fetch`, XHR and WebSockets (`connect-src`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_domains: Vec<String>,
    /// Origins for scripts, styles, images, fonts and media.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_domains: Vec<String>,
    /// Origins for nested frames (`frame-src`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frame_domains: Vec<String>,
    /// Origins for the document's base URI (`base-uri`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub base_uri_domains: Vec<String>,
}

impl Csp {
    fn is_empty(&self) -> bool {
        self.origins().next().is_none()
    }

    fn origins(&self) -> impl Iterator<Item = &String> {
        self.connect_domains
            .iter()
            .chain(&self.resource_domains)
            .chain(&self.frame_domains)
            .chain(&self.base_uri_domains)
    }
}

/// The browser features an app asks for (`_meta.ui.permissions`); a host
/// may grant them through the frame's `allow` attribute, or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    /// The camera.
    pub camera: bool,
    /// The microphone.
    pub microphone: bool,
    /// The position of the device.
    pub geolocation: bool,
    /// Writing to the clipboard.
    pub clipboard_write: bool,
}

impl Permissions {
    fn to_json(self) -> Option<Value> {
        let asked: serde_json::Map<String, Value> = [
            ("camera", self.camera),
            ("microphone", self.microphone),
            ("geolocation", self.geolocation),
            ("clipboardWrite", self.clipboard_write),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| (name.to_owned(), json!({})))
        .collect();
        (!asked.is_empty()).then_some(Value::Object(asked))
    }
}

/// An app's page: a `ui://` resource of type [`MIME_TYPE`], with the
/// CSP origins and permissions it needs. Register it with
/// [`Router::app`](crate::Router::app), which refuses (see
/// [`Router::check`](crate::Router::check)) a page that is not HTML, is
/// over [`MAX_HTML_BYTES`], or has a URI of another scheme.
#[derive(Debug, Clone)]
pub struct AppResource {
    resource: Resource,
    html: String,
    csp: Csp,
    permissions: Permissions,
    prefers_border: Option<bool>,
}

impl AppResource {
    /// The page `html` at `uri` (`ui://...`), named `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>, html: impl Into<String>) -> Self {
        let html = html.into();
        AppResource {
            resource: Resource::new(uri, name).with_mime_type(MIME_TYPE),
            html,
            csp: Csp::default(),
            permissions: Permissions::default(),
            prefers_border: None,
        }
    }

    /// Sets the description, for hosts that list resources.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.resource = self.resource.with_description(description);
        self
    }

    /// Sets the origins the app may reach.
    pub fn with_csp(mut self, csp: Csp) -> Self {
        self.csp = csp;
        self
    }

    /// Sets the browser features the app asks for.
    pub fn with_permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// Asks the host for a border and background around the frame (or,
    /// with `false`, for none).
    pub fn with_prefers_border(mut self, border: bool) -> Self {
        self.prefers_border = Some(border);
        self
    }

    /// The resource's URI.
    pub fn uri(&self) -> &str {
        &self.resource.uri
    }

    /// The resource as `resources/list` shows it.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Whether the app can be served: a `ui://` URI, an HTML document
    /// within [`MAX_HTML_BYTES`], CSP origins that are origins.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), AppError> {
        let uri = &self.resource.uri;
        if !uri.starts_with(SCHEME) || uri.len() == SCHEME.len() {
            return Err(AppError::NotUiUri(uri.clone()));
        }
        if self.html.len() > MAX_HTML_BYTES {
            return Err(AppError::TooLarge {
                uri: uri.clone(),
                size: self.html.len(),
            });
        }
        if !looks_like_html(&self.html) {
            return Err(AppError::NotHtml(uri.clone()));
        }
        if let Some(origin) = self.csp.origins().find(|o| !is_origin(o)) {
            return Err(AppError::BadOrigin {
                uri: uri.clone(),
                origin: origin.clone(),
            });
        }
        Ok(())
    }

    /// `_meta.ui` of the contents: the CSP, permissions and border wish.
    fn ui_meta(&self) -> Option<Meta> {
        let mut ui = serde_json::Map::new();
        if !self.csp.is_empty() {
            ui.insert("csp".into(), json!(self.csp));
        }
        if let Some(permissions) = self.permissions.to_json() {
            ui.insert("permissions".into(), permissions);
        }
        if let Some(border) = self.prefers_border {
            ui.insert("prefersBorder".into(), border.into());
        }
        (!ui.is_empty()).then(|| Meta::from_iter([("ui".to_owned(), Value::Object(ui))]))
    }

    /// What `resources/read` of the app answers.
    pub fn read(&self) -> ReadResourceResult {
        let mut contents = ResourceContents::text(
            self.resource.uri.clone(),
            Some(MIME_TYPE.into()),
            self.html.clone(),
        );
        if let ResourceContents::Text(text) = &mut contents {
            text.meta = self.ui_meta();
        }
        ReadResourceResult::new(vec![contents])
    }
}

/// An HTML document begins (after a byte-order mark, white space and
/// comments) with its doctype or its `<html>` element. Anything else —
/// JSON, Markdown, a fragment — would render as text or half a page.
fn looks_like_html(html: &str) -> bool {
    let mut rest = html.trim_start_matches('\u{feff}').trim_start();
    while let Some(after) = rest.strip_prefix("<!--") {
        match after.find("-->") {
            Some(end) => rest = after[end + 3..].trim_start(),
            None => return false,
        }
    }
    let head = rest.get(..14).unwrap_or(rest).to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// `scheme://host[:port]`, the host possibly `*.`-prefixed: nothing that
/// could end a CSP directive or add a source keyword to it.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:*[]".contains(c))
}

/// `tool` with `_meta.ui.resourceUri` naming the app at `resource_uri`:
/// hosts with the extension show the tool's results in that app.
pub fn link(mut tool: Tool, resource_uri: impl Into<String>) -> Tool {
    let meta = tool.meta.get_or_insert_with(Meta::new);
    let ui = meta
        .entry("ui")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !ui.is_object() {
        *ui = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(ui) = ui {
        ui.insert("resourceUri".into(), Value::String(resource_uri.into()));
    }
    tool
}

/// The app a tool's `_meta.ui.resourceUri` names, if any.
pub fn resource_uri(tool: &Tool) -> Option<&str> {
    tool.meta.as_ref()?.get("ui")?.get("resourceUri")?.as_str()
}

/// Whether a client with `capabilities` declared the extension with HTML
/// apps among its `mimeTypes`.
pub fn client_supports(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .extra
        .get("extensions")
        .and_then(|e| e.get(EXTENSION))
        .and_then(|ui| ui.get("mimeTypes"))
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(MIME_TYPE)))
}

/// Whether the client of this request can show apps: use it to choose
/// between a result for an app and a text-only one.
pub fn supported(ctx: &RequestContext) -> bool {
    ctx.client()
        .is_some_and(|c| client_supports(&c.capabilities))
}

/// `tool` as a client without the extension should see it: without its
/// `_meta.ui` (so that it is an ordinary tool there).
pub fn without_ui(mut tool: Tool) -> Tool {
    if let Some(meta) = tool.meta.as_mut() {
        meta.remove("ui");
        meta.remove("ui/resourceUri");
        if meta.is_empty() {
            tool.meta = None;
        }
    }
    tool
}

/// The client capabilities a host declares to show HTML apps: merge them
/// into its own.
pub fn client_capability() -> Value {
    json!({ EXTENSION: { "mimeTypes": [MIME_TYPE] } })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<!DOCTYPE html><html><body>hi</body></html>";

    #[test]
    fn an_html_page_at_a_ui_uri_is_an_app() {
        assert_eq!(AppResource::new("ui://a/b", "b", PAGE).validate(), Ok(()));
        for html in [
            "\u{feff}  <!-- made by hand -->\n<!doctype HTML>\n<p>x",
            "<html lang=en></html>",
        ] {
            assert_eq!(AppResource::new("ui://a/b", "b", html).validate(), Ok(()));
        }
    }

    #[test]
    fn what_is_not_html_is_refused_with_the_reason() {
        for html in [
            "{\"rows\": []}",
            "# Markdown",
            "<div>a fragment</div>",
            "",
            "<!-- never closed <html>",
            "plain text <html>",
        ] {
            let err = AppResource::new("ui://a/b", "b", html)
                .validate()
                .unwrap_err();
            assert_eq!(err, AppError::NotHtml("ui://a/b".into()), "{html:?}");
            assert!(err.to_string().contains("not an HTML document"));
        }
    }

    #[test]
    fn a_page_over_the_limit_is_refused() {
        let big = format!("<!doctype html>{}", "x".repeat(MAX_HTML_BYTES));
        let err = AppResource::new("ui://a/b", "b", big)
            .validate()
            .unwrap_err();
        assert!(matches!(err, AppError::TooLarge { size, .. } if size > MAX_HTML_BYTES));
        let at_limit = format!(
            "<!doctype html>{}",
            "x".repeat(MAX_HTML_BYTES - "<!doctype html>".len())
        );
        assert_eq!(
            AppResource::new("ui://a/b", "b", at_limit).validate(),
            Ok(())
        );
    }

    #[test]
    fn other_schemes_and_odd_origins_are_refused() {
        for uri in ["https://a/b", "ui://", "file:///x.html"] {
            assert_eq!(
                AppResource::new(uri, "b", PAGE).validate(),
                Err(AppError::NotUiUri(uri.into()))
            );
        }
        for origin in [
            "https://a.example; script-src *",
            "'unsafe-eval'",
            "*",
            "https://a.example https://b.example",
        ] {
            let csp = Csp {
                connect_domains: vec![origin.into()],
                ..Csp::default()
            };
            let err = AppResource::new("ui://a/b", "b", PAGE)
                .with_csp(csp)
                .validate()
                .unwrap_err();
            assert!(matches!(err, AppError::BadOrigin { .. }), "{origin}");
        }
    }

    #[test]
    fn the_contents_carry_the_mime_type_csp_and_permissions() {
        let app = AppResource::new("ui://a/b", "b", PAGE)
            .with_csp(Csp {
                resource_domains: vec!["https://*.cdn.example".into()],
                ..Csp::default()
            })
            .with_permissions(Permissions {
                clipboard_write: true,
                ..Permissions::default()
            })
            .with_prefers_border(false);
        let read = serde_json::to_value(app.read()).unwrap();
        let contents = &read["contents"][0];
        assert_eq!(contents["mimeType"], MIME_TYPE);
        assert_eq!(contents["text"], PAGE);
        assert_eq!(
            contents["_meta"]["ui"],
            json!({
                "csp": {"resourceDomains": ["https://*.cdn.example"]},
                "permissions": {"clipboardWrite": {}},
                "prefersBorder": false,
            })
        );
        // Without any, no _meta at all.
        let plain = serde_json::to_value(AppResource::new("ui://a/b", "b", PAGE).read()).unwrap();
        assert!(plain["contents"][0].get("_meta").is_none());
    }

    #[test]
    fn a_link_is_meta_ui_resource_uri_and_can_be_taken_off() {
        let tool = link(Tool::named("t", "d"), "ui://a/b");
        assert_eq!(resource_uri(&tool), Some("ui://a/b"));
        assert_eq!(
            serde_json::to_value(&tool).unwrap()["_meta"],
            json!({"ui": {"resourceUri": "ui://a/b"}})
        );
        let plain = without_ui(tool);
        assert_eq!(resource_uri(&plain), None);
        assert!(plain.meta.is_none());
    }

    #[test]
    fn only_a_declared_html_extension_counts() {
        let caps = |v: Value| -> ClientCapabilities { serde_json::from_value(v).unwrap() };
        assert!(client_supports(&caps(
            json!({"extensions": client_capability()})
        )));
        assert!(!client_supports(&caps(json!({}))));
        assert!(!client_supports(&caps(
            json!({"extensions": {EXTENSION: {}}})
        )));
        assert!(!client_supports(&caps(
            json!({"extensions": {EXTENSION: {"mimeTypes": ["text/uri-list"]}}})
        )));
        assert!(!client_supports(&caps(
            json!({"experimental": {EXTENSION: {"mimeTypes": [MIME_TYPE]}}})
        )));
    }

    #[tokio::test]
    async fn the_router_serves_the_app_and_lists_the_link_only_to_clients_with_it() {
        use crate::{ClientInfo, NoArguments, Router, Server};
        use mcp_sdk::{Implementation, ListToolsParams, ReadResourceParams};
        let router = Router::new()
            .app(AppResource::new("ui://a/b", "b", PAGE))
            .tool(
                link(Tool::named("t", "d"), "ui://a/b"),
                |_: NoArguments| async { "text" },
            );
        router.check().unwrap();
        let ctx = |caps: Value| {
            crate::RequestContext::builder()
                .client(ClientInfo {
                    protocol_version: mcp_sdk::ProtocolVersion::LATEST_SESSION,
                    capabilities: serde_json::from_value(caps).unwrap(),
                    implementation: Implementation::new("c", "0"),
                })
                .build()
        };
        let with = ctx(json!({"extensions": client_capability()}));
        let listed = router
            .list_tools(ListToolsParams::default(), with.clone())
            .await
            .unwrap();
        assert_eq!(resource_uri(&listed.tools[0]), Some("ui://a/b"));
        let listed = router
            .list_tools(ListToolsParams::default(), ctx(json!({})))
            .await
            .unwrap();
        assert_eq!(resource_uri(&listed.tools[0]), None);
        let read = router
            .read_resource(ReadResourceParams::new("ui://a/b"), with)
            .await
            .unwrap();
        assert_eq!(read, AppResource::new("ui://a/b", "b", PAGE).read());
    }

    #[test]
    fn the_router_refuses_a_page_that_is_not_html() {
        let router = crate::Router::new().app(AppResource::new("ui://a/b", "b", "{}"));
        let problems = router.check().unwrap_err();
        assert!(
            problems.to_string().contains("not an HTML document"),
            "{problems}"
        );
    }
}
