//! Our client against our conformance server run as a real process, over
//! stdio and over Streamable HTTP, in the session era and in the stateless
//! era (2026-07-28): server-to-client requests (multi round-trip requests
//! when stateless), progress,
//! logging, a stream the server drops mid-call and the client resumes, and a
//! server process that dies.

mod support;

use mcp_sdk::{
    ClientCapabilities, CreateMessageParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationCapability, Error, JsonObject, LoggingLevel,
    LoggingMessageNotificationParams, SamplingCapability,
};
use mcp_sdk_client::transport::ChildProcess;
use mcp_sdk_client::{
    async_trait, Client, ClientError, ClientHandler, Era, RequestContext, RequestOptions,
};
use serde_json::json;
use std::sync::{Arc, Mutex};
use support::relay::Relay;
use support::{http_client_in, http_server, stdio_client_in, PATIENCE};
use tokio::process::Command;
use tokio::sync::mpsc;

struct Host {
    logs: mpsc::UnboundedSender<LoggingMessageNotificationParams>,
}

#[async_trait]
impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
            .with_sampling(SamplingCapability::default())
            .with_elicitation(ElicitationCapability::default())
    }

    async fn create_message(
        &self,
        _params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        Ok(serde_json::from_value(json!({
            "role": "assistant", "content": {"type": "text", "text": "forty-two"}, "model": "fake",
        }))
        .unwrap())
    }

    async fn elicit(
        &self,
        _params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        Ok(ElicitResult::accept(JsonObject::new()))
    }

    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        let _ = self.logs.send(params);
    }
}

fn host() -> (
    Host,
    mpsc::UnboundedReceiver<LoggingMessageNotificationParams>,
) {
    let (logs, rx) = mpsc::unbounded_channel();
    (Host { logs }, rx)
}

fn text(result: &mcp_sdk::CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap()[0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What both transports must do, in both eras.
async fn exercise(
    client: &Client,
    logs: &mut mpsc::UnboundedReceiver<LoggingMessageNotificationParams>,
    era: Era,
) {
    assert_eq!(client.is_stateless(), era == Era::StatelessOnly);
    assert_eq!(
        client.server().server_info.name,
        "mcp-sdk-conformance-server"
    );
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "test_sampling"));

    let sampled = client
        .call_tool("test_sampling", json!({"prompt": "6 x 7?"}))
        .await
        .unwrap();
    assert_eq!(text(&sampled), "LLM response: forty-two");

    // The SDK fills in the schema's defaults for the empty acceptance.
    let elicited = client
        .call_tool("test_elicitation_sep1034_defaults", json!({}))
        .await
        .unwrap();
    let shown = serde_json::to_string(&elicited.content).unwrap();
    assert!(
        shown.contains("John Doe") && shown.contains("95.5"),
        "{shown}"
    );

    let progress = Arc::new(Mutex::new(Vec::new()));
    let options = RequestOptions::new().on_progress({
        let progress = progress.clone();
        move |p| progress.lock().unwrap().push(p.progress)
    });
    client
        .call_tool_with("test_tool_with_progress", json!({}), options)
        .await
        .unwrap();
    assert_eq!(*progress.lock().unwrap(), [0.0, 50.0, 100.0]);

    client.set_logging_level(LoggingLevel::Info).await.unwrap();
    client
        .call_tool("test_tool_with_logging", json!({}))
        .await
        .unwrap();
    for expected in [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ] {
        let log = tokio::time::timeout(PATIENCE, logs.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.data, json!(expected));
    }

    let failed = client
        .call_tool("test_error_handling", json!({}))
        .await
        .unwrap();
    assert!(failed.is_error());
    // Resource-not-found is -32602 from 2026-07-28 on.
    let err = client.read_resource("test://nope").await.unwrap_err();
    let code = match era {
        Era::StatelessOnly => mcp_sdk::ErrorCode::INVALID_PARAMS,
        _ => mcp_sdk::ErrorCode::RESOURCE_NOT_FOUND,
    };
    assert_eq!(err.code(), Some(code), "{err}");
    assert!(err.to_string().contains("test://nope"), "{err}");
}

/// Both eras, and `Auto`, which must pick the stateless one with our server.
const ERAS: [Era; 2] = [Era::SessionOnly, Era::StatelessOnly];

#[tokio::test]
async fn against_the_conformance_server_over_stdio_in_both_eras() {
    for era in ERAS {
        let (host, mut logs) = host();
        let client = stdio_client_in(era, "conformance_server", &[], host).await;
        exercise(&client, &mut logs, era).await;
        client.close().await;
    }
    let auto = stdio_client_in(Era::Auto, "conformance_server", &[], host().0).await;
    assert!(
        auto.is_stateless(),
        "Auto speaks 2026-07-28 with a server that does"
    );
}

#[tokio::test]
async fn against_the_conformance_server_over_http_in_both_eras() {
    let server = http_server("conformance_server", &[]).await;
    for era in ERAS {
        let (host, mut logs) = host();
        let client = http_client_in(era, &server.url, host).await;
        exercise(&client, &mut logs, era).await;

        // The tool closes its SSE stream before answering: in a session the
        // client resumes with Last-Event-ID after the server's retry hint;
        // without sessions there is nothing to resume and the stream stays.
        let resumed = client
            .call_tool("test_reconnection", json!({}))
            .await
            .unwrap();
        assert_eq!(text(&resumed), "Reconnection test completed");
        client.close().await;
    }
    let auto = http_client_in(Era::Auto, &server.url, host().0).await;
    assert!(
        auto.is_stateless(),
        "Auto speaks 2026-07-28 with a server that does"
    );
}

#[tokio::test]
async fn a_server_process_that_exits_is_reported_with_its_status() {
    let transport =
        ChildProcess::spawn(Command::new("sh").args(["-c", "read line; exit 3"])).unwrap();
    let err = tokio::time::timeout(PATIENCE, Client::connect(transport))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, ClientError::Closed(_)), "{err}");
    assert!(err.to_string().contains("exit status: 3"), "{err}");

    let err = ChildProcess::spawn(&mut Command::new("/nonexistent/mcp-server")).unwrap_err();
    assert!(
        err.to_string()
            .contains("could not start /nonexistent/mcp-server"),
        "{err}"
    );
}

#[tokio::test]
async fn a_call_to_a_hung_server_times_out_in_both_eras() {
    let server = http_server("conformance_server", &[]).await;
    // The server hangs behind a frozen relay: its connections stay open and
    // nothing comes back.
    let relay = Relay::start(server.base.trim_start_matches("http://").parse().unwrap()).await;
    let url = format!("http://{}/mcp", relay.addr);
    for era in ERAS {
        let (host, _logs) = host();
        let client = http_client_in(era, &url, host).await;
        relay.freeze();
        // The answer never comes, and neither does the server's reply to the
        // cancellation the client sends: the call must still end.
        let options = RequestOptions::new().timeout(std::time::Duration::from_millis(300));
        let outcome = tokio::time::timeout(
            PATIENCE,
            client.call_tool_with("test_simple_text", json!({}), options),
        )
        .await;
        relay.thaw();
        let err = outcome.expect("the call ends").unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{era:?}: {err}");
        // The server, going on, still answers.
        let ok = client
            .call_tool("test_simple_text", json!({}))
            .await
            .unwrap();
        assert!(!ok.is_error(), "{era:?}");
    }
}
