//! URL-mode elicitation end to end, in both eras: `ctx.elicit_url(..)`
//! (`elicitation/create` in a session, an input request statelessly),
//! `notifications/elicitation/complete`, and the -32042 error a client
//! answers by showing the pages and retrying.

use mcp_sdk::{
    CallToolResult, ClientCapabilities, ElicitAction, ElicitRequestParams, ElicitRequestUrlParams,
    ElicitResult, ElicitationCapability, ElicitationCompleteNotificationParams, Error, ErrorCode,
    Tool,
};
use mcp_sdk_client::testing;
use mcp_sdk_client::{async_trait, ClientError, ClientHandler, Era};
use mcp_sdk_server::{NoArguments, ProtocolError, RequestContext, Router};
use serde_json::{json, Map};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

fn text(result: &CallToolResult) -> String {
    match result.content.first().map(serde_json::to_value) {
        Some(Ok(v)) => v["text"].as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

const PAGE: &str = "https://accounts.example.com/connect?session=e1";

/// A tool that needs the user to connect an account on a page the client
/// must not see, and a tool that refuses with -32042 until a page was
/// visited.
fn router(linked: Arc<AtomicBool>) -> Router {
    Router::new()
        .tool(
            Tool::named("connect", "Connects an account out of band"),
            |_: NoArguments, ctx: RequestContext| async move {
                let answer = ctx.elicit_url("Connect your account", PAGE, "e1").await?;
                if answer.action != ElicitAction::Accept {
                    return Ok::<_, Error>(format!("not connected: {:?}", answer.action));
                }
                // The out-of-band step would finish here; say so.
                ctx.elicitation_complete("e1").await?;
                Ok(format!(
                    "connected (url mode declared: {})",
                    ctx.can_elicit_url()
                ))
            },
        )
        .tool(
            Tool::named("linked", "Works once the account is linked"),
            move |_: NoArguments| {
                let linked = linked.clone();
                async move {
                    if linked.load(Ordering::SeqCst) {
                        return Ok("linked".to_owned());
                    }
                    Err(ProtocolError::url_elicitation_required(
                        "Link your account first",
                        vec![ElicitRequestUrlParams::new("Link your account", PAGE, "e2")],
                    ))
                }
            },
        )
}

/// A client that declares URL-mode elicitation (or only forms), records
/// the pages it was shown and the completions it heard, and answers with
/// `action`; "opening" a page marks the account linked.
#[derive(Clone)]
struct Browser {
    url_mode: bool,
    action: ElicitAction,
    shown: Arc<Mutex<Vec<String>>>,
    completed: mpsc::UnboundedSender<String>,
    linked: Arc<AtomicBool>,
}

#[async_trait]
impl ClientHandler for Browser {
    fn capabilities(&self) -> ClientCapabilities {
        let mut elicitation = ElicitationCapability::default().with_form();
        if self.url_mode {
            elicitation.url = Some(Map::new());
        }
        ClientCapabilities::default().with_elicitation(elicitation)
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _: mcp_sdk_client::RequestContext,
    ) -> Result<ElicitResult, Error> {
        let ElicitRequestParams::Url(url) = params else {
            return Err(Error::invalid_params("this client expected URL mode"));
        };
        self.shown.lock().unwrap().push(url.url);
        Ok(match self.action {
            ElicitAction::Accept => {
                self.linked.store(true, Ordering::SeqCst);
                ElicitResult::accept_url()
            }
            ElicitAction::Decline => ElicitResult::decline(),
            ElicitAction::Cancel => ElicitResult::cancel(),
        })
    }

    async fn on_elicitation_complete(&self, params: ElicitationCompleteNotificationParams) {
        let _ = self.completed.send(params.elicitation_id);
    }
}

struct Setup {
    linked: Arc<AtomicBool>,
    shown: Arc<Mutex<Vec<String>>>,
    completed: mpsc::UnboundedReceiver<String>,
    browser: Browser,
}

fn setup(url_mode: bool, action: ElicitAction) -> Setup {
    let linked = Arc::new(AtomicBool::new(false));
    let shown = Arc::new(Mutex::new(Vec::new()));
    let (tx, completed) = mpsc::unbounded_channel();
    let browser = Browser {
        url_mode,
        action,
        shown: shown.clone(),
        completed: tx,
        linked: linked.clone(),
    };
    Setup {
        linked,
        shown,
        completed,
        browser,
    }
}

#[tokio::test]
async fn an_accepted_url_elicitation_shows_the_page_and_completes_in_each_era() {
    for era in testing::ERAS {
        let mut s = setup(true, ElicitAction::Accept);
        let client = testing::in_process()
            .handler(s.browser.clone())
            .connect(router(s.linked.clone()), era)
            .await
            .unwrap();
        let result = client.call_tool("connect", json!({})).await.unwrap();
        assert_eq!(result.is_error, None, "{era:?}: {result:?}");
        assert_eq!(
            text(&result),
            "connected (url mode declared: true)",
            "{era:?}"
        );
        assert_eq!(*s.shown.lock().unwrap(), vec![PAGE.to_owned()], "{era:?}");
        // The session era tells the client the step is done; 2026-07-28 has
        // no such notification, so nothing is sent there.
        if era == Era::SessionOnly {
            let heard = tokio::time::timeout(Duration::from_secs(10), s.completed.recv()).await;
            assert_eq!(heard, Ok(Some("e1".to_owned())), "{era:?}");
        }
        client.close().await;
        let rest: Vec<String> = std::iter::from_fn(|| s.completed.try_recv().ok()).collect();
        assert!(rest.is_empty(), "{era:?}: {rest:?}");
    }
}

#[tokio::test]
async fn a_declined_url_elicitation_reaches_the_handler_in_each_era() {
    for action in [ElicitAction::Decline, ElicitAction::Cancel] {
        let s = setup(true, action);
        let browser = s.browser.clone();
        testing::in_each_era_with(
            router(s.linked.clone()),
            || testing::in_process().handler(browser.clone()),
            |client, era| async move {
                let result = client.call_tool("connect", json!({})).await.unwrap();
                assert_eq!(
                    text(&result),
                    format!("not connected: {action:?}"),
                    "{era:?}"
                );
            },
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_client_without_url_mode_is_never_sent_one() {
    let s = setup(false, ElicitAction::Accept);
    let browser = s.browser.clone();
    testing::in_each_era_with(
        router(s.linked.clone()),
        || testing::in_process().handler(browser.clone()),
        |client, era| async move {
            match era {
                // In a session the handler holds the error: a tool result.
                Era::SessionOnly => {
                    let result = client.call_tool("connect", json!({})).await.unwrap();
                    assert_eq!(result.is_error, Some(true), "{result:?}");
                    assert!(text(&result).contains("elicitation.url"), "{result:?}");
                }
                // Statelessly the request ends with -32021, naming the mode.
                _ => {
                    let err = client.call_tool("connect", json!({})).await.unwrap_err();
                    let ClientError::Server(e) = err else {
                        panic!("{era:?}: expected a JSON-RPC error, got {err:?}")
                    };
                    assert_eq!(e.code, ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
                    assert_eq!(
                        e.data.unwrap()["requiredCapabilities"]["elicitation"],
                        json!({"url": {}})
                    );
                }
            }
        },
    )
    .await
    .unwrap();
    assert!(s.shown.lock().unwrap().is_empty(), "no page was shown");
}

#[tokio::test]
async fn a_url_elicitation_required_error_is_answered_and_the_call_retried_in_each_era() {
    for era in testing::ERAS {
        let s = setup(true, ElicitAction::Accept);
        let client = testing::in_process()
            .handler(s.browser.clone())
            .connect(router(s.linked.clone()), era)
            .await
            .unwrap();
        let err = client.call_tool("linked", json!({})).await.unwrap_err();
        let pages = err.url_elicitations().expect("a -32042 error");
        assert_eq!(pages.len(), 1, "{era:?}");
        assert_eq!(
            (pages[0].url.as_str(), pages[0].elicitation_id.as_str()),
            (PAGE, "e2")
        );
        assert!(
            client.answer_url_elicitation_required(&err).await,
            "{era:?}"
        );
        assert_eq!(*s.shown.lock().unwrap(), vec![PAGE.to_owned()], "{era:?}");
        let result = client.call_tool("linked", json!({})).await.unwrap();
        assert_eq!(text(&result), "linked", "{era:?}");
        client.close().await;
    }
}

#[tokio::test]
async fn a_declined_or_malformed_url_elicitation_required_error_opens_nothing() {
    let s = setup(true, ElicitAction::Decline);
    let client = testing::in_process()
        .handler(s.browser.clone())
        .connect(router(s.linked.clone()), Era::SessionOnly)
        .await
        .unwrap();
    let err = client.call_tool("linked", json!({})).await.unwrap_err();
    assert!(!client.answer_url_elicitation_required(&err).await);
    assert!(!s.linked.load(Ordering::SeqCst));

    // -32042 without its data, or with data of the wrong shape, and other
    // errors: nothing to show.
    for bad in [
        Error::new(ErrorCode::URL_ELICITATION_REQUIRED, "no data"),
        Error::new(ErrorCode::URL_ELICITATION_REQUIRED, "bad")
            .with_data(json!({"elicitations": [{"url": 7}]})),
        Error::invalid_params("other"),
    ] {
        let err = ClientError::Server(bad);
        assert_eq!(err.url_elicitations(), None, "{err}");
        assert!(!client.answer_url_elicitation_required(&err).await, "{err}");
    }
    assert_eq!(
        s.shown.lock().unwrap().len(),
        1,
        "only the real one was shown"
    );
    client.close().await;
}
