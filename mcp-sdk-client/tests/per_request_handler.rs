//! `RequestOptions::handler`: the server's requests that belong to one call
//! are answered by that call's handler, through one shared client, against
//! our own server (a tool that asks the client's model): in the stateless
//! era (over HTTP and over a pipe), in the session era over Streamable HTTP,
//! and, as documented, not in the session era over stdio, where the
//! client's handler answers.

use mcp_sdk::{
    ClientCapabilities, CreateMessageParams, CreateMessageResult, Error, ErrorCode,
    SamplingCapability, Tool,
};
use mcp_sdk_client::transport::{HttpTransport, IoTransport};
use mcp_sdk_client::{
    async_trait, Client, ClientError, ClientHandler, Era, RequestContext, RequestOptions,
};
use mcp_sdk_server::http::{HttpConfig, ResponseMode, StreamableHttpService};
use mcp_sdk_server::{NoArguments, RequestContext as ServerContext, Router};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Barrier;

/// A server with one tool, `sample`, that answers with the name of the
/// model the client's sampling answer names.
fn router() -> Router {
    Router::new().tool(
        Tool::named("sample", "Asks the client's model"),
        |_: NoArguments, cx: ServerContext| async move {
            let answer = cx
                .sample(
                    serde_json::from_value::<CreateMessageParams>(json!({
                        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                        "maxTokens": 5,
                    }))
                    .unwrap(),
                )
                .await?;
            Ok::<_, Error>(answer.model)
        },
    )
}

/// Our Streamable HTTP server (both eras) on a loopback port.
async fn http_server(mode: ResponseMode) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = HttpConfig {
        response_mode: mode,
        ..Default::default()
    };
    tokio::spawn(mcp_sdk_server::http::serve_with_shutdown(
        listener,
        "/mcp",
        StreamableHttpService::new(router(), config),
        std::future::pending(),
    ));
    format!("http://{addr}/mcp")
}

/// Our stdio server (both eras) over an in-process pipe.
fn pipe_server() -> IoTransport {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (read, write) = tokio::io::split(theirs);
    tokio::spawn(mcp_sdk_server::stdio::serve_io(
        router(),
        Default::default(),
        read,
        write,
    ));
    let (read, write) = tokio::io::split(ours);
    IoTransport::new(read, write)
}

fn sampling() -> ClientCapabilities {
    ClientCapabilities::default().with_sampling(SamplingCapability::default())
}

/// A model that answers with its name, after waiting, if given a barrier,
/// until every other model sharing it has been asked too (so an answer
/// proves the calls overlapped).
#[derive(Clone)]
struct Model {
    name: &'static str,
    capabilities: ClientCapabilities,
    barrier: Option<Arc<Barrier>>,
}

impl Model {
    fn new(name: &'static str) -> Self {
        Model {
            name,
            capabilities: sampling(),
            barrier: None,
        }
    }

    fn meeting(mut self, barrier: &Arc<Barrier>) -> Self {
        self.barrier = Some(barrier.clone());
        self
    }

    fn declaring(mut self, capabilities: ClientCapabilities) -> Self {
        self.capabilities = capabilities;
        self
    }
}

#[async_trait]
impl ClientHandler for Model {
    fn capabilities(&self) -> ClientCapabilities {
        self.capabilities.clone()
    }

    async fn create_message(
        &self,
        _params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        if let Some(barrier) = &self.barrier {
            barrier.wait().await;
        }
        Ok(serde_json::from_value(json!({
            "role": "assistant", "content": {"type": "text", "text": "ok"}, "model": self.name,
        }))
        .unwrap())
    }
}

fn text(result: &mcp_sdk::CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap()[0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `sample` through `client` with these options: the model that answered.
async fn sample(client: &Client, options: RequestOptions) -> Result<String, ClientError> {
    let result = client.call_tool_with("sample", json!({}), options).await?;
    assert_ne!(result.is_error, Some(true), "{result:?}");
    Ok(text(&result))
}

/// Fails the test instead of hanging it.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than 10 s"))
}

async fn connect(
    era: Era,
    handler: impl ClientHandler,
    transport: impl mcp_sdk_client::transport::Transport,
) -> Client {
    Client::builder()
        .era(era)
        .handler(handler)
        .timeout(Duration::from_secs(10))
        .connect(transport)
        .await
        .unwrap()
}

/// Two concurrent calls through `client`, each with its own handler, get
/// their own handler's answer; a call without one gets the client's.
async fn two_calls_two_handlers(client: &Client) {
    let barrier = Arc::new(Barrier::new(2));
    let a = RequestOptions::new().handler(Model::new("model-a").meeting(&barrier));
    let b = RequestOptions::new().handler(Model::new("model-b").meeting(&barrier));
    let (a, b) = within("two concurrent calls", async {
        tokio::join!(sample(client, a), sample(client, b))
    })
    .await;
    assert_eq!(a.unwrap(), "model-a");
    assert_eq!(b.unwrap(), "model-b");

    let plain = within("a call", sample(client, RequestOptions::new())).await;
    assert_eq!(plain.unwrap(), "model-client");
}

#[tokio::test]
async fn stateless_era_over_http_each_call_asks_its_own_handler() {
    let url = http_server(ResponseMode::Auto).await;
    let client = connect(
        Era::StatelessOnly,
        Model::new("model-client"),
        HttpTransport::new(url).unwrap(),
    )
    .await;
    assert!(client.is_stateless());
    two_calls_two_handlers(&client).await;
}

#[tokio::test]
async fn stateless_era_over_a_pipe_each_call_asks_its_own_handler() {
    let client = connect(
        Era::StatelessOnly,
        Model::new("model-client"),
        pipe_server(),
    )
    .await;
    assert!(client.is_stateless());
    two_calls_two_handlers(&client).await;
}

#[tokio::test]
async fn session_era_over_http_requests_on_a_calls_stream_go_to_its_handler() {
    for mode in [ResponseMode::Sse, ResponseMode::Auto] {
        let url = http_server(mode).await;
        let client = connect(
            Era::SessionOnly,
            Model::new("model-client"),
            HttpTransport::new(url).unwrap(),
        )
        .await;
        assert!(!client.is_stateless());
        two_calls_two_handlers(&client).await;
        client.close().await;
    }
}

#[tokio::test]
async fn session_era_over_stdio_falls_back_to_the_clients_handler() {
    let client = connect(Era::SessionOnly, Model::new("model-client"), pipe_server()).await;
    assert!(!client.is_stateless());
    // Nothing on a pipe says which call a sampling request belongs to: the
    // client's handler answers, as `RequestOptions::handler` documents.
    let options = RequestOptions::new().handler(Model::new("model-a"));
    let answer = within("a call", sample(&client, options)).await;
    assert_eq!(answer.unwrap(), "model-client");
}

#[tokio::test]
async fn stateless_era_declares_the_calls_own_capabilities() {
    let url = http_server(ResponseMode::Auto).await;
    // The client declares nothing; a call whose handler declares sampling
    // gets sampled.
    let client = connect(Era::StatelessOnly, (), HttpTransport::new(&url).unwrap()).await;
    let options = RequestOptions::new().handler(Model::new("model-a"));
    assert_eq!(sample(&client, options).await.unwrap(), "model-a");
    // Without it, the server finds no sampling capability.
    let err = sample(&client, RequestOptions::new()).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY),
        "{err}"
    );

    // The client declares sampling; a call whose handler declares nothing
    // declares nothing.
    let client = connect(
        Era::StatelessOnly,
        Model::new("model-client"),
        HttpTransport::new(&url).unwrap(),
    )
    .await;
    let mute = Model::new("model-a").declaring(ClientCapabilities::default());
    let err = sample(&client, RequestOptions::new().handler(mute.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY),
        "{err}"
    );

    // RequestOptions::capabilities overrides what the handler declares.
    let options = RequestOptions::new().handler(mute).capabilities(sampling());
    assert_eq!(sample(&client, options).await.unwrap(), "model-a");
}

#[tokio::test]
async fn session_era_refuses_what_the_calls_handler_does_not_declare() {
    let url = http_server(ResponseMode::Sse).await;
    let client = connect(
        Era::SessionOnly,
        Model::new("model-client"),
        HttpTransport::new(url).unwrap(),
    )
    .await;
    let mute = Model::new("model-a").declaring(ClientCapabilities::default());
    let result = client
        .call_tool_with("sample", json!({}), RequestOptions::new().handler(mute))
        .await;
    // The sampling request was refused (-32601), which fails the tool.
    match result {
        Ok(result) => assert_eq!(result.is_error, Some(true), "{result:?}"),
        Err(err) => assert!(matches!(err, ClientError::Server(_)), "{err}"),
    }
}
