//! Pagination: the cursor of list requests and the params of every list
//! method.

use super::{impl_has_meta, impl_request, impl_with_extra, Meta};
use super::{
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListTasksResult,
    ListToolsResult,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An opaque token naming a position in a paginated list.
pub type Cursor = String;

macro_rules! paginated_params {
    ($($(#[$attr:meta])* $name:ident;)*) => {$(
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            /// Where to continue: the `nextCursor` of the previous page;
            /// absent for the first page.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub cursor: Option<Cursor>,
            /// Metadata (`_meta`), such as a progress token.
            #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<Meta>,
            /// Fields this version of the SDK does not know, kept as they came.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl $name {
            /// The page that starts at this cursor.
            pub fn at(cursor: impl Into<Cursor>) -> Self {
                Self::page(Some(cursor.into()))
            }

            /// The page that starts at this cursor, or the first page
            /// when there is none.
            pub fn page(cursor: Option<Cursor>) -> Self {
                $name {
                    cursor,
                    ..Default::default()
                }
            }
        }

        impl_has_meta!($name);
        impl_with_extra!($name);
    )*};
}

paginated_params! {
    /// Params of any paginated list request (the schema's
    /// `PaginatedRequestParams`).
    PaginatedParams;
    /// Params of `tools/list`.
    ListToolsParams;
    /// Params of `resources/list`.
    ListResourcesParams;
    /// Params of `resources/templates/list`.
    ListResourceTemplatesParams;
    /// Params of `prompts/list`.
    ListPromptsParams;
    /// Params of `tasks/list` (2025-11-25, experimental).
    ListTasksParams;
}

impl_request! {
    ListToolsParams => ListToolsResult, "tools/list";
    ListResourcesParams => ListResourcesResult, "resources/list";
    ListResourceTemplatesParams => ListResourceTemplatesResult, "resources/templates/list";
    ListPromptsParams => ListPromptsResult, "prompts/list";
    ListTasksParams => ListTasksResult, "tasks/list";
}
