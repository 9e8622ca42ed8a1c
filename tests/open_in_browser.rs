//! The internet server's `open_in_browser` (URL-mode elicitation), in
//! process in both eras: the client's handler is shown the page and the
//! user's answer reaches the model; a client without URL mode, and bad
//! URLs, are told so without anything shown.

use mcp_reference::servers::internet::{router, Config};
use mcp_sdk::{
    CallToolResult, ClientCapabilities, ElicitRequestParams, ElicitResult, ElicitationCapability,
    Error,
};
use mcp_sdk_client::testing;
use mcp_sdk_client::{async_trait, ClientHandler, RequestContext};
use serde_json::{json, Map};
use std::sync::{Arc, Mutex};

/// A host that shows URL-mode elicitations (recording them) and answers as
/// its user would: accept, or decline.
#[derive(Clone, Default)]
struct Host {
    url_mode: bool,
    decline: bool,
    shown: Arc<Mutex<Vec<(String, String)>>>,
}

#[async_trait]
impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        let mut elicitation = ElicitationCapability::default().with_form();
        elicitation.url = self.url_mode.then(Map::new);
        ClientCapabilities::default().with_elicitation(elicitation)
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _: RequestContext,
    ) -> Result<ElicitResult, Error> {
        let ElicitRequestParams::Url(url) = params else {
            return Err(Error::invalid_params("expected URL mode"));
        };
        self.shown.lock().unwrap().push((url.url, url.message));
        Ok(if self.decline {
            ElicitResult::decline()
        } else {
            ElicitResult::accept_url()
        })
    }
}

fn text(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content[0]).unwrap()["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const PAGE: &str = "https://bank.example.com/statements";

async fn open_with(host: Host) -> Vec<(CallToolResult, String)> {
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    testing::in_each_era_with(
        router(Config::default()),
        || testing::in_process().handler(host.clone()),
        |client, era| {
            let seen = seen.clone();
            async move {
                let args = json!({"url": PAGE, "reason": "Download your statement"});
                let result = client.call_tool("open_in_browser", args).await.unwrap();
                seen.lock().unwrap().push((result, format!("{era:?}")));
            }
        },
    )
    .await
    .unwrap();
    let answers = answers.lock().unwrap().clone();
    answers
}

#[tokio::test]
async fn the_user_is_shown_the_page_and_their_answer_reaches_the_model_in_each_era() {
    let host = Host {
        url_mode: true,
        ..Default::default()
    };
    for (result, era) in open_with(host.clone()).await {
        assert_eq!(result.is_error, None, "{era}: {result:?}");
        assert!(
            text(&result).contains("agreed to open"),
            "{era}: {result:?}"
        );
    }
    let shown = host.shown.lock().unwrap().clone();
    let expected = (PAGE.to_owned(), "Download your statement".to_owned());
    assert_eq!(shown, [expected.clone(), expected], "once per era");

    let declining = Host {
        url_mode: true,
        decline: true,
        ..Default::default()
    };
    for (result, era) in open_with(declining).await {
        assert!(text(&result).contains("declined"), "{era}: {result:?}");
    }
}

#[tokio::test]
async fn a_client_without_url_mode_gets_the_link_as_a_tool_error_in_each_era() {
    let host = Host::default();
    for (result, era) in open_with(host.clone()).await {
        assert_eq!(result.is_error, Some(true), "{era}: {result:?}");
        assert!(text(&result).contains(PAGE), "{era}: {result:?}");
    }
    assert!(host.shown.lock().unwrap().is_empty());
}

#[tokio::test]
async fn urls_that_are_not_web_pages_and_long_reasons_are_refused() {
    let host = Host {
        url_mode: true,
        ..Default::default()
    };
    let shown = host.shown.clone();
    testing::in_each_era_with(
        router(Config::default()),
        || testing::in_process().handler(host.clone()),
        |client, era| async move {
            for (url, reason, says) in [
                ("javascript:alert(1)", "x".to_owned(), "only http and https"),
                ("file:///etc/passwd", "x".to_owned(), "only http and https"),
                ("not a url", "x".to_owned(), "is not a URL"),
                (PAGE, "r".repeat(501), "over 500 characters"),
            ] {
                let args = json!({"url": url, "reason": reason});
                let result = client.call_tool("open_in_browser", args).await.unwrap();
                assert_eq!(result.is_error, Some(true), "{era:?} {url}");
                assert!(text(&result).contains(says), "{era:?} {url}: {result:?}");
            }
        },
    )
    .await
    .unwrap();
    assert!(shown.lock().unwrap().is_empty(), "nothing was shown");
}
