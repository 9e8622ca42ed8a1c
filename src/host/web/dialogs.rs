//! [`Dialogs`]: servers' requests that wait for the person at the page, a
//! sampling request to approve or an elicitation form to fill in. Each is
//! pushed to every open page (`approval`, `elicitation`), answered by one
//! (`POST /api/approvals/{id}`, `/api/elicitations/{id}`), and closed on
//! every page (`dialogClosed`) however it ended: answered, timed out, or
//! cancelled by the server.

use super::events::Events;
use super::http::ApiError;
use crate::host::handler::{field_choices, Approver, Elicitor};
use mcp_sdk::{CreateMessageParams, ElicitRequestParams, ElicitResult, Error};
use mcp_sdk_client::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a dialog waits for the person before the server is told no.
pub const DEFAULT_DIALOG_TIMEOUT: Duration = Duration::from_secs(300);

/// What a dialog asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Approval,
    Elicitation,
}

impl Kind {
    fn event(self) -> &'static str {
        match self {
            Kind::Approval => "approval",
            Kind::Elicitation => "elicitation",
        }
    }
}

/// The person's answer.
#[derive(Debug)]
enum Answer {
    Approve(bool),
    Elicit(ElicitResult),
}

struct Waiting {
    kind: Kind,
    params: Value,
    answer: oneshot::Sender<Answer>,
}

/// The dialogs open now.
pub struct Dialogs {
    events: Arc<Events>,
    next: AtomicU64,
    waiting: Mutex<BTreeMap<String, Waiting>>,
    timeout: Duration,
}

/// Closes a dialog on every page when its request ends, whichever way.
struct Open<'a> {
    dialogs: &'a Dialogs,
    id: String,
    outcome: &'static str,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.dialogs.lock().remove(&self.id);
        self.dialogs.events.send(
            "dialogClosed",
            &json!({ "id": self.id, "outcome": self.outcome }),
        );
    }
}

impl Dialogs {
    /// No dialogs yet; each waits at most `timeout` for an answer.
    pub fn new(events: Arc<Events>, timeout: Duration) -> Self {
        Dialogs {
            events,
            next: AtomicU64::new(1),
            waiting: Mutex::new(BTreeMap::new()),
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a dialog and waits for its answer; `Err` says why there is
    /// none (no page open, or the time ran out).
    async fn ask(&self, kind: Kind, params: Value) -> Result<Answer, String> {
        if self.events.listeners() == 0 {
            return Err("no page of the host's web UI is open to ask the user".to_owned());
        }
        let prefix = match kind {
            Kind::Approval => "a",
            Kind::Elicitation => "e",
        };
        let id = format!("{prefix}{}", self.next.fetch_add(1, Ordering::Relaxed));
        let (answer, answered) = oneshot::channel();
        self.lock().insert(
            id.clone(),
            Waiting {
                kind,
                params: params.clone(),
                answer,
            },
        );
        let mut open = Open {
            dialogs: self,
            id: id.clone(),
            outcome: "cancelled",
        };
        self.events
            .send(kind.event(), &json!({ "id": id, "params": params }));
        match tokio::time::timeout(self.timeout, answered).await {
            Ok(Ok(answer)) => {
                open.outcome = match answer {
                    Answer::Approve(true) => "approved",
                    Answer::Approve(false) => "declined",
                    Answer::Elicit(_) => "answered",
                };
                Ok(answer)
            }
            Ok(Err(_)) => Err("the dialog was closed".to_owned()),
            Err(_) => {
                open.outcome = "timed out";
                Err(format!(
                    "the user did not answer within {} s",
                    self.timeout.as_secs()
                ))
            }
        }
    }

    /// The dialogs waiting, for a page that opens while they are:
    /// `{"approvals": [{id, params}], "elicitations": [...]}`.
    pub fn pending(&self) -> Value {
        let waiting = self.lock();
        let of = |kind: Kind| -> Vec<Value> {
            waiting
                .iter()
                .filter(|(_, w)| w.kind == kind)
                .map(|(id, w)| json!({ "id": id, "params": w.params }))
                .collect()
        };
        json!({ "approvals": of(Kind::Approval), "elicitations": of(Kind::Elicitation) })
    }

    /// Takes the waiting dialog `id` of `kind` (404 if there is none).
    fn take(&self, id: &str, kind: Kind) -> Result<Waiting, ApiError> {
        let mut waiting = self.lock();
        match waiting.get(id) {
            Some(w) if w.kind == kind => Ok(waiting.remove(id).expect("it is there")),
            _ => Err(ApiError::not_found(format!(
                "no {} {id} is waiting (it was answered, timed out or cancelled)",
                kind.event()
            ))),
        }
    }

    /// The person approved (or declined) the sampling request `id`.
    pub fn approve(&self, id: &str, approve: bool) -> Result<(), ApiError> {
        let waiting = self.take(id, Kind::Approval)?;
        let _ = waiting.answer.send(Answer::Approve(approve));
        Ok(())
    }

    /// The person answered the elicitation `id`; an accepted form is
    /// checked against the requested schema first (and stays open when it
    /// does not fit, so the person can correct it).
    pub fn elicit(&self, id: &str, answer: FormAnswer) -> Result<(), ApiError> {
        let result = {
            let waiting = self.lock();
            let Some(w) = waiting.get(id).filter(|w| w.kind == Kind::Elicitation) else {
                drop(waiting);
                return self.take(id, Kind::Elicitation).map(drop);
            };
            answer.into_result(&w.params)?
        };
        let waiting = self.take(id, Kind::Elicitation)?;
        let _ = waiting.answer.send(Answer::Elicit(result));
        Ok(())
    }
}

/// The body of `POST /api/elicitations/{id}`.
#[derive(Debug, Deserialize)]
pub struct FormAnswer {
    /// `accept`, `decline` or `cancel`.
    pub action: String,
    /// The form's values, with `accept`.
    #[serde(default)]
    pub content: Option<Map<String, Value>>,
}

impl FormAnswer {
    /// The elicitation result, checked against the request's `params`.
    fn into_result(self, params: &Value) -> Result<ElicitResult, ApiError> {
        match self.action.as_str() {
            "decline" => Ok(ElicitResult::decline()),
            "cancel" => Ok(ElicitResult::cancel()),
            "accept" if params["mode"] == "url" => Ok(ElicitResult::accept_url()),
            "accept" => {
                let content = self.content.unwrap_or_default();
                check_form(&params["requestedSchema"], &content).map_err(ApiError::bad_request)?;
                Ok(ElicitResult::accept(content))
            }
            other => Err(ApiError::bad_request(format!(
                "the action {other:?} is not one of accept, decline, cancel"
            ))),
        }
    }
}

/// Checks a filled-in form against an elicitation's requested schema
/// (flat, of primitive fields): required fields present, no unknown
/// fields, each value of its field's type, choice and bounds.
pub fn check_form(schema: &Value, content: &Map<String, Value>) -> Result<(), String> {
    let properties = schema["properties"].as_object();
    let field = |name: &str| properties.and_then(|p| p.get(name));
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap_or_default();
        if !content.contains_key(name) {
            return Err(format!("the field {name:?} is required"));
        }
    }
    for (name, value) in content {
        let Some(spec) = field(name) else {
            return Err(format!("the form has no field {name:?}"));
        };
        check_field(spec, value).map_err(|why| format!("the field {name:?} {why}"))?;
    }
    Ok(())
}

fn check_field(spec: &Value, value: &Value) -> Result<(), String> {
    let choices = field_choices(spec);
    let choice = |v: &str| {
        if choices.is_empty() || choices.iter().any(|c| c == v) {
            Ok(())
        } else {
            Err(format!("must be one of: {}", choices.join(", ")))
        }
    };
    let bounds = |n: f64| {
        if spec["minimum"].as_f64().is_some_and(|min| n < min) {
            return Err(format!("must be at least {}", spec["minimum"]));
        }
        if spec["maximum"].as_f64().is_some_and(|max| n > max) {
            return Err(format!("must be at most {}", spec["maximum"]));
        }
        Ok(())
    };
    match (spec["type"].as_str().unwrap_or("string"), value) {
        ("string", Value::String(s)) => {
            let length = s.chars().count() as u64;
            if spec["minLength"].as_u64().is_some_and(|min| length < min) {
                return Err(format!("needs at least {} characters", spec["minLength"]));
            }
            if spec["maxLength"].as_u64().is_some_and(|max| length > max) {
                return Err(format!("takes at most {} characters", spec["maxLength"]));
            }
            choice(s)
        }
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {
            bounds(n.as_f64().unwrap_or_default())
        }
        ("number", Value::Number(n)) => bounds(n.as_f64().unwrap_or_default()),
        ("boolean", Value::Bool(_)) => Ok(()),
        ("array", Value::Array(items)) => items.iter().try_for_each(|item| match item {
            Value::String(s) => choice(s),
            _ => Err("must be a list of text choices".to_owned()),
        }),
        (kind, _) => Err(format!("must be {}", article(kind))),
    }
}

fn article(kind: &str) -> &'static str {
    match kind {
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        _ => "text",
    }
}

/// Approves sampling requests at the page (or every one, with
/// `--auto-approve`).
pub struct WebApprover {
    /// The dialogs.
    pub dialogs: Arc<Dialogs>,
    /// Approve without asking.
    pub auto: bool,
}

#[async_trait]
impl Approver for WebApprover {
    async fn approve(&self, params: &CreateMessageParams) -> Result<(), String> {
        if self.auto {
            return Ok(());
        }
        let params = serde_json::to_value(params).map_err(|e| e.to_string())?;
        match self.dialogs.ask(Kind::Approval, params).await? {
            Answer::Approve(true) => Ok(()),
            _ => Err("the user declined the sampling request".to_owned()),
        }
    }
}

/// Fills in elicitation forms at the page.
pub struct WebElicitor {
    /// The dialogs.
    pub dialogs: Arc<Dialogs>,
}

#[async_trait]
impl Elicitor for WebElicitor {
    async fn elicit(&self, params: &ElicitRequestParams) -> Result<ElicitResult, Error> {
        let params = serde_json::to_value(params).map_err(Error::internal)?;
        match self.dialogs.ask(Kind::Elicitation, params).await {
            Ok(Answer::Elicit(result)) => Ok(result),
            Ok(Answer::Approve(_)) => Ok(ElicitResult::cancel()),
            // Nobody to ask, or nobody answered: the form was not filled
            // in, which MCP calls cancel.
            Err(why) => {
                tracing::info!("elicitation cancelled: {why}");
                Ok(ElicitResult::cancel())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_sdk::ElicitAction;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "color": {"type": "string", "enum": ["red", "green"]},
                "ok": {"type": "boolean"}
            },
            "required": ["name"]
        })
    }

    fn form(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn forms_are_checked_against_the_requested_schema() {
        let ok = form(json!({"name": "Ada", "age": 36, "color": "red", "ok": true}));
        assert_eq!(check_form(&schema(), &ok), Ok(()));
        for (content, why) in [
            (json!({}), "the field \"name\" is required"),
            (json!({"name": "A"}), "needs at least 2"),
            (json!({"name": "Ada", "age": 3.5}), "a whole number"),
            (json!({"name": "Ada", "age": 200}), "at most 150"),
            (
                json!({"name": "Ada", "color": "blue"}),
                "one of: red, green",
            ),
            (json!({"name": "Ada", "ok": "yes"}), "true or false"),
            (json!({"name": "Ada", "shoe": 42}), "no field \"shoe\""),
        ] {
            let error = check_form(&schema(), &form(content.clone())).unwrap_err();
            assert!(error.contains(why), "{content}: {error}");
        }
    }

    #[test]
    fn a_url_elicitation_is_accepted_without_a_form() {
        let params = json!({"mode": "url", "message": "Sign in", "url": "https://example.com/",
                            "elicitationId": "e1"});
        let answer = FormAnswer {
            action: "accept".into(),
            content: None,
        };
        let result = answer.into_result(&params).unwrap();
        assert_eq!(result.action, ElicitAction::Accept);
        assert!(result.content.is_none());
    }

    #[tokio::test]
    async fn a_dialog_is_answered_once_and_closed_everywhere() {
        let events = Arc::new(Events::default());
        let dialogs = Arc::new(Dialogs::new(events.clone(), Duration::from_secs(5)));
        let approver = WebApprover {
            dialogs: dialogs.clone(),
            auto: false,
        };
        // No page open: refused at once rather than left waiting.
        let params = CreateMessageParams::default();
        let refused = approver.approve(&params).await.unwrap_err();
        assert!(refused.contains("no page"), "{refused}");

        let page = events.stream(axum::body::Bytes::new(), axum::body::Bytes::new);
        let asking = tokio::spawn(async move { approver.approve(&params).await });
        let id = loop {
            if let Some(id) = dialogs.pending()["approvals"][0]["id"].as_str() {
                break id.to_owned();
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(
            dialogs
                .elicit(
                    &id,
                    FormAnswer {
                        action: "accept".into(),
                        content: None
                    }
                )
                .unwrap_err()
                .status,
            http::StatusCode::NOT_FOUND,
            "an approval is not an elicitation"
        );
        dialogs.approve(&id, true).unwrap();
        assert_eq!(asking.await.unwrap(), Ok(()));
        let again = dialogs.approve(&id, true).unwrap_err();
        assert_eq!(again.status, http::StatusCode::NOT_FOUND);
        assert_eq!(dialogs.pending()["approvals"], json!([]));
        drop(page);
    }

    #[tokio::test]
    async fn an_unanswered_dialog_times_out_and_a_bad_form_stays_open() {
        let events = Arc::new(Events::default());
        let _page = events.stream(axum::body::Bytes::new(), axum::body::Bytes::new);
        let dialogs = Arc::new(Dialogs::new(events.clone(), Duration::from_millis(200)));
        let approver = WebApprover {
            dialogs: dialogs.clone(),
            auto: false,
        };
        let why = approver
            .approve(&CreateMessageParams::default())
            .await
            .unwrap_err();
        assert!(why.contains("did not answer"), "{why}");

        let dialogs = Arc::new(Dialogs::new(events, Duration::from_secs(5)));
        let elicitor = WebElicitor {
            dialogs: dialogs.clone(),
        };
        let params: ElicitRequestParams = serde_json::from_value(json!({
            "message": "Who?", "requestedSchema": schema()
        }))
        .unwrap();
        let asking = tokio::spawn(async move { elicitor.elicit(&params).await });
        let id = loop {
            if let Some(id) = dialogs.pending()["elicitations"][0]["id"].as_str() {
                break id.to_owned();
            }
            tokio::task::yield_now().await;
        };
        let bad = FormAnswer {
            action: "accept".into(),
            content: Some(form(json!({"name": 7}))),
        };
        assert_eq!(
            dialogs.elicit(&id, bad).unwrap_err().status,
            http::StatusCode::BAD_REQUEST
        );
        let good = FormAnswer {
            action: "accept".into(),
            content: Some(form(json!({"name": "Ada"}))),
        };
        dialogs.elicit(&id, good).unwrap();
        let result = asking.await.unwrap().unwrap();
        assert_eq!(result.action, ElicitAction::Accept);
        assert_eq!(result.content.unwrap()["name"], "Ada");
    }
}
