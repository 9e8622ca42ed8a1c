//! Notifications that concern any request: cancellation and progress.

use super::{impl_has_meta, impl_notification, impl_with_extra, num, Meta, ProgressToken};
use crate::jsonrpc::RequestId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Params of `notifications/cancelled`: the sender no longer wants the
/// answer to a request it made.
///
/// `requestId` is required here, as in every revision but 2025-11-25, whose
/// schema leaves it optional only so that the notification can be told apart
/// from task cancellation (done with `tasks/cancel`); a cancellation without
/// an id names nothing and is rejected as malformed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CancelledNotificationParams {
    /// The id of the request to cancel, one the sender issued earlier.
    pub request_id: RequestId,
    /// Why, for logs or people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CancelledNotificationParams {
    /// Cancels this request.
    pub fn new(request_id: impl Into<RequestId>) -> Self {
        CancelledNotificationParams {
            request_id: request_id.into(),
            reason: None,
            meta: None,
            extra: Map::new(),
        }
    }

    /// Sets the reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// Params of `notifications/progress`: how far a long request has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProgressNotificationParams {
    /// The token the request carried in `_meta.progressToken`.
    pub progress_token: ProgressToken,
    /// The progress so far; it must increase with each notification.
    #[serde(serialize_with = "num::f64")]
    pub progress: f64,
    /// The total, if known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub total: Option<f64>,
    /// A message for people about the current step (2025-03-26+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProgressNotificationParams {
    /// Progress under a token.
    pub fn new(progress_token: ProgressToken, progress: f64) -> Self {
        ProgressNotificationParams {
            progress_token,
            progress,
            total: None,
            message: None,
            meta: None,
            extra: Map::new(),
        }
    }

    /// Sets the total.
    #[must_use]
    pub fn with_total(mut self, total: f64) -> Self {
        self.total = Some(total);
        self
    }

    /// Sets the message (2025-03-26+).
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

// Not `ProgressNotificationParams`: its `progressToken` is a field, and
// `HasMeta::progress_token` (which reads `_meta`) would only confuse.
impl_has_meta!(CancelledNotificationParams);

impl_with_extra!(CancelledNotificationParams, ProgressNotificationParams);

impl ProgressNotificationParams {
    /// Sets the metadata (`_meta`).
    #[must_use]
    pub fn with_meta(mut self, meta: Meta) -> Self {
        self.meta = Some(meta);
        self
    }
}

impl_notification! {
    CancelledNotificationParams, "notifications/cancelled";
    ProgressNotificationParams, "notifications/progress";
}
