//! Roots: the directories or URIs the client lets the server work in.

use super::{impl_has_meta, impl_notification, impl_request, impl_with_extra, meta_only, Meta};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A root the client exposes, such as a project directory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Root {
    /// The root's URI; `file://` in the current revisions.
    pub uri: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Root {
    /// A root at a URI.
    pub fn new(uri: impl Into<String>) -> Self {
        Root {
            uri: uri.into(),
            ..Default::default()
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

meta_only! {
    /// Params of `roots/list` (sent by the server).
    ListRootsParams;
    /// Params of `notifications/roots/list_changed`: the client's roots changed.
    RootsListChangedNotificationParams;
}

/// The result of `roots/list`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListRootsResult {
    /// The roots.
    pub roots: Vec<Root>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ListRootsResult {
    /// A result listing these roots.
    pub fn new(roots: Vec<Root>) -> Self {
        ListRootsResult {
            roots,
            ..Default::default()
        }
    }
}

impl_has_meta!(Root, ListRootsResult);

impl_with_extra!(Root, ListRootsResult);

impl_request! {
    ListRootsParams => ListRootsResult, "roots/list";
}

impl_notification! {
    RootsListChangedNotificationParams, "notifications/roots/list_changed";
}
