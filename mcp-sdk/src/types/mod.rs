//! Typed params and results of every MCP method and notification.
//!
//! The types cover the session-era revisions 2024-11-05, 2025-03-26,
//! 2025-06-18 and 2025-11-25: the union of their fields, named as in
//! 2025-11-25 (with `XxxRequestParams` shortened to `XxxParams`). Fields
//! newer than 2024-11-05 are optional and say in their docs when they came.
//! Every object keeps the fields it does not know in an `extra` map, so a
//! message from a newer peer survives a round trip through this crate.
//!
//! Each request's params type implements [`RequestParams`], which names its
//! method and its result type; each notification's params type implements
//! [`NotificationParams`]:
//!
//! ```
//! use mcp_sdk::{CallToolParams, CallToolResult, HasMeta, RequestParams};
//!
//! assert_eq!(CallToolParams::METHOD, "tools/call");
//! let params: CallToolParams =
//!     serde_json::from_str(r#"{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":7}}"#).unwrap();
//! assert_eq!(params.progress_token(), Some(mcp_sdk::ProgressToken::Number(7)));
//! let result: <CallToolParams as RequestParams>::Result = CallToolResult::text("hi");
//! assert_eq!(serde_json::to_value(&result).unwrap()["content"][0]["text"], "hi");
//! ```
//!
//! The structs are `#[non_exhaustive]`, since the protocol adds fields to
//! them with each revision: outside this crate they are built with `new`
//! (the required fields) or `default()`, and a `with_*` setter per optional
//! field, never with a struct literal. Their fields stay public.
//!
//! ```
//! use mcp_sdk::{Resource, ServerCapabilities, ToolsCapability};
//!
//! let caps = ServerCapabilities::default()
//!     .with_logging()
//!     .with_tools(ToolsCapability::default().with_list_changed(true));
//! assert_eq!(
//!     serde_json::to_value(&caps).unwrap(),
//!     serde_json::json!({"logging": {}, "tools": {"listChanged": true}}),
//! );
//! let readme = Resource::new("file:///README.md", "README")
//!     .with_mime_type("text/markdown")
//!     .with_size(2048);
//! assert_eq!(readme.size, Some(2048));
//! ```
//!
//! Content blocks are tagged by `type`:
//!
//! ```
//! use mcp_sdk::ContentBlock;
//!
//! let block = ContentBlock::image("iVBORw0KGgo=", "image/png");
//! assert_eq!(
//!     serde_json::to_value(&block).unwrap(),
//!     serde_json::json!({"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}),
//! );
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

mod completion;
mod content;
mod elicitation;
mod lifecycle;
mod logging;
mod notifications;
mod pagination;
mod prompts;
mod resources;
mod roots;
mod sampling;
mod stateless;
mod tasks;
mod tools;

pub use completion::*;
pub use content::*;
pub use elicitation::*;
pub use lifecycle::*;
pub use logging::*;
pub use notifications::*;
pub use pagination::*;
pub use prompts::*;
pub use resources::*;
pub use roots::*;
pub use sampling::*;
pub use stateless::*;
pub use tasks::*;
pub use tools::*;

/// The `_meta` object that params, results and many data types may carry:
/// free-form metadata, keyed by (optionally prefixed) names.
pub type Meta = serde_json::Map<String, Value>;

/// A JSON object, for schemas, tool arguments and other free-form objects.
pub type JsonObject = serde_json::Map<String, Value>;

/// The `_meta` key under which a request asks for progress notifications.
pub const PROGRESS_TOKEN_META_KEY: &str = "progressToken";

/// A request type: its method name and the result type it expects.
pub trait RequestParams: Serialize + DeserializeOwned + Send + 'static {
    /// The JSON-RPC method, such as `tools/call`.
    const METHOD: &'static str;
    /// What a successful response carries.
    type Result: Serialize + DeserializeOwned + Send + 'static;
}

/// A notification type.
pub trait NotificationParams: Serialize + DeserializeOwned + Send + 'static {
    /// The JSON-RPC method, such as `notifications/progress`.
    const METHOD: &'static str;
}

/// A token the requester chose so that progress notifications can name the
/// request they are about: a string or an integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProgressToken {
    /// An integer token.
    Number(i64),
    /// A string token.
    String(String),
}

impl fmt::Display for ProgressToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgressToken::Number(n) => n.fmt(f),
            ProgressToken::String(s) => s.fmt(f),
        }
    }
}

impl From<i64> for ProgressToken {
    fn from(n: i64) -> Self {
        ProgressToken::Number(n)
    }
}

impl From<String> for ProgressToken {
    fn from(s: String) -> Self {
        ProgressToken::String(s)
    }
}

impl From<&str> for ProgressToken {
    fn from(s: &str) -> Self {
        ProgressToken::String(s.to_owned())
    }
}

impl From<ProgressToken> for Value {
    fn from(t: ProgressToken) -> Self {
        match t {
            ProgressToken::Number(n) => Value::from(n),
            ProgressToken::String(s) => Value::String(s),
        }
    }
}

/// The progress token in a `_meta` object, if there is a valid one (a string
/// or an integer under `progressToken`).
///
/// ```
/// use mcp_sdk::{progress_token, ProgressToken};
///
/// let meta = serde_json::json!({"progressToken": "abc"}).as_object().cloned();
/// assert_eq!(progress_token(&meta), Some(ProgressToken::from("abc")));
/// assert_eq!(progress_token(&None), None);
/// ```
pub fn progress_token(meta: &Option<Meta>) -> Option<ProgressToken> {
    match meta.as_ref()?.get(PROGRESS_TOKEN_META_KEY)? {
        Value::String(s) => Some(ProgressToken::String(s.clone())),
        Value::Number(n) => n.as_i64().map(ProgressToken::Number),
        _ => None,
    }
}

/// A type with a `_meta` member.
pub trait HasMeta {
    /// The `_meta` object, if any.
    fn meta(&self) -> &Option<Meta>;

    /// The `_meta` object, to change it.
    fn meta_mut(&mut self) -> &mut Option<Meta>;

    /// The progress token the requester asked progress notifications for.
    fn progress_token(&self) -> Option<ProgressToken> {
        progress_token(self.meta())
    }

    /// Asks for progress notifications under this token.
    fn set_progress_token(&mut self, token: impl Into<ProgressToken>) {
        self.meta_mut()
            .get_or_insert_with(Meta::new)
            .insert(PROGRESS_TOKEN_META_KEY.to_owned(), token.into().into());
    }
}

/// Implements [`HasMeta`] for types with a `meta: Option<Meta>` field, and
/// gives them a `with_meta` setter.
macro_rules! impl_has_meta {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::types::HasMeta for $ty {
            fn meta(&self) -> &Option<$crate::types::Meta> {
                &self.meta
            }
            fn meta_mut(&mut self) -> &mut Option<$crate::types::Meta> {
                &mut self.meta
            }
        }

        impl $ty {
            /// Sets the metadata (`_meta`).
            #[must_use]
            pub fn with_meta(mut self, meta: $crate::types::Meta) -> Self {
                self.meta = Some(meta);
                self
            }
        }
    )*};
}
pub(crate) use impl_has_meta;

/// Gives types with an `extra` map of unknown fields a `with_extra` setter:
/// how a caller sends a member this version of the SDK has no field for
/// (such as one from a newer revision), now that the types are
/// `#[non_exhaustive]` and cannot be built with a struct literal.
macro_rules! impl_with_extra {
    ($($ty:ty),* $(,)?) => {$(
        impl $ty {
            /// Sets a member this version of the SDK has no field for (kept in
            /// `extra` and sent as it is), replacing one of the same name.
            #[must_use]
            pub fn with_extra(
                mut self,
                name: impl Into<String>,
                value: impl Into<serde_json::Value>,
            ) -> Self {
                self.extra.insert(name.into(), value.into());
                self
            }
        }
    )*};
}
pub(crate) use impl_with_extra;

/// Implements [`RequestParams`]: `impl_request!(Params => Result, "method")`.
macro_rules! impl_request {
    ($($params:ty => $result:ty, $method:literal;)*) => {$(
        impl $crate::types::RequestParams for $params {
            const METHOD: &'static str = $method;
            type Result = $result;
        }
    )*};
}
pub(crate) use impl_request;

/// Implements [`NotificationParams`]: `impl_notification!(Params, "method")`.
macro_rules! impl_notification {
    ($($params:ty, $method:literal;)*) => {$(
        impl $crate::types::NotificationParams for $params {
            const METHOD: &'static str = $method;
        }
    )*};
}
pub(crate) use impl_notification;

/// Defines a params or result type that has only `_meta` and unknown fields.
macro_rules! meta_only {
    ($($(#[$attr:meta])* $name:ident;)*) => {$(
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            /// Metadata (`_meta`).
            #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<$crate::types::Meta>,
            /// Fields this version of the SDK does not know, kept as they came.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }

        $crate::types::impl_has_meta!($name);
        $crate::types::impl_with_extra!($name);
    )*};
}
pub(crate) use meta_only;

/// Defines a string constant that serializes as exactly one literal and
/// refuses any other when deserialized (the `type` of a JSON Schema object).
macro_rules! const_str {
    ($($(#[$attr:meta])* $name:ident = $lit:literal;)*) => {$(
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl $name {
            /// The literal on the wire.
            pub const VALUE: &'static str = $lit;
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($lit)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                if s == $lit {
                    Ok($name)
                } else {
                    Err(serde::de::Error::invalid_value(
                        serde::de::Unexpected::Str(&s),
                        &concat!("\"", $lit, "\""),
                    ))
                }
            }
        }
    )*};
}
pub(crate) use const_str;

meta_only! {
    /// The result of requests that return nothing but success, such as
    /// `ping`, `logging/setLevel` and `resources/subscribe`.
    EmptyResult;
}

/// Numbers that are `f64` in Rust but usually integral on the wire (progress,
/// priorities, schema bounds) serialize as integers when they are whole, as
/// JavaScript peers write them, so that values round-trip unchanged.
pub(crate) mod num {
    use serde::Serializer;

    fn whole(v: f64) -> Option<i64> {
        // 2^53: beyond it not every integer is representable, keep the float.
        const LIMIT: f64 = 9_007_199_254_740_992.0;
        (v.fract() == 0.0 && v.abs() <= LIMIT).then_some(v as i64)
    }

    /// Serializes an `f64`, as an integer when it is whole.
    pub fn f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match whole(*v) {
            Some(i) => s.serialize_i64(i),
            None => s.serialize_f64(*v),
        }
    }

    /// Serializes an `Option<f64>` (only called when it is `Some`).
    pub fn opt_f64<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => f64(v, s),
            None => s.serialize_none(),
        }
    }
}
