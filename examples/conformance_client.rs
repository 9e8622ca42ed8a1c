//! The client the official conformance suite drives: it runs with the
//! server's URL as its last argument and the scenario's name in
//! `MCP_CONFORMANCE_SCENARIO`, and does what that scenario expects.
//!
//! ```text
//! npx @modelcontextprotocol/conformance client \
//!     --command "target/release/examples/conformance_client" --scenario tools_call
//! npx @modelcontextprotocol/conformance client --spec-version 2026-07-28 \
//!     --command "target/release/examples/conformance_client" --scenario tools_call
//! ```
//!
//! The client connects with `Era::Auto`: it probes with `server/discover`
//! and speaks `2026-07-28` to a stateless server, or falls back to
//! `initialize` for a session-era one, so the same binary serves the
//! scenarios of every revision.
//!
//! For the `auth/*` scenarios it authorizes with OAuth
//! ([`mcp_sdk_client::auth`]): the suite's authorization server grants
//! without asking anyone, so [`FollowRedirect`] reads the code from its
//! redirect. A pre-registered client comes from `MCP_CONFORMANCE_CONTEXT`
//! (`client_id`, `client_secret`, `issuer`).

use mcp_sdk::{
    ClientCapabilities, ElicitRequestParams, ElicitResult, ElicitationCapability, Error,
    Implementation, JsonObject,
};
use mcp_sdk_client::auth::{FollowRedirect, Grant, OAuth, Secret};
use mcp_sdk_client::skills::SkillError;
use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{async_trait, Client, ClientError, ClientHandler, RequestContext};
use serde_json::{json, Value};
use std::process::ExitCode;

/// Accepts every elicitation with no fields of its own, so the SDK's
/// defaults (SEP-1034) are all the server sees.
struct AcceptDefaults;

#[async_trait]
impl ClientHandler for AcceptDefaults {
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default().with_elicitation(ElicitationCapability::default())
    }

    async fn elicit(
        &self,
        _params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        Ok(ElicitResult::accept(JsonObject::new()))
    }
}

/// The Client ID Metadata Document URL the `auth/basic-cimd` scenario
/// expects as client id.
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

/// The scenario's context (`MCP_CONFORMANCE_CONTEXT`), or `null`.
fn context() -> Value {
    std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null)
}

/// The authorization of an `auth/*` scenario: the authorization code,
/// unless the context brings a private key or a workload JWT, or the
/// scenario is the client credentials one.
fn oauth(scenario: &str) -> Result<OAuth, ClientError> {
    let context = context();
    let mut oauth = OAuth::builder(FollowRedirect::new())
        .client_name("mcp-sdk-conformance-client")
        .redirect_uri("http://localhost:3000/callback")
        .client_metadata_url(CLIENT_METADATA_URL);
    let issuer = context["issuer"].as_str();
    if let Some(client_id) = context["client_id"].as_str() {
        if let Some(pem) = context["private_key_pem"].as_str() {
            oauth = oauth
                .private_key_jwt(issuer, client_id, Secret::from(pem))
                .grant(Grant::ClientCredentials);
        } else {
            let secret = context["client_secret"].as_str().map(Secret::from);
            oauth = oauth.pre_registered(issuer, client_id, secret);
        }
    }
    if let Some(jwt) = context["valid_jwt"].as_str() {
        oauth = oauth.grant(Grant::JwtBearer(Secret::from(jwt)));
    }
    if let (Some(endpoint), Some(idp_client), Some(id_token)) = (
        context["idp_token_endpoint"].as_str(),
        context["idp_client_id"].as_str(),
        context["idp_id_token"].as_str(),
    ) {
        oauth = oauth.grant(Grant::EnterpriseManaged {
            idp_token_endpoint: endpoint.to_owned(),
            idp_client_id: idp_client.to_owned(),
            id_token: Secret::from(id_token),
        });
    }
    if scenario == "auth/client-credentials-basic" {
        oauth = oauth.grant(Grant::ClientCredentials);
    }
    oauth.build()
}

/// The arguments the scenario asks for, by tool, from
/// `MCP_CONFORMANCE_CONTEXT` (`{"toolCalls": [{"name", "arguments"}]}`).
fn context_tool_calls() -> Vec<(String, Value)> {
    let Ok(context) = std::env::var("MCP_CONFORMANCE_CONTEXT") else {
        return Vec::new();
    };
    let Ok(context) = serde_json::from_str::<Value>(&context) else {
        return Vec::new();
    };
    context["toolCalls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| {
                    let name = c["name"].as_str()?.to_owned();
                    Some((name, c.get("arguments").cloned().unwrap_or(json!({}))))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A skills failure as the client error it is, or as a protocol error.
fn skill_error(error: SkillError) -> ClientError {
    match error {
        SkillError::Client(e) => e,
        other => ClientError::Protocol(other.to_string()),
    }
}

async fn run(scenario: &str, url: &str) -> Result<(), ClientError> {
    let transport = if scenario.starts_with("auth/") {
        HttpTransport::builder(url)
            .oauth(oauth(scenario)?)
            .build()?
    } else {
        HttpTransport::new(url)?
    };
    // Era::Auto: server/discover first, `initialize` for a session-era
    // server; the scenario's revision decides which one it meets.
    let client = Client::builder()
        .info(Implementation::new(
            "mcp-sdk-conformance-client",
            env!("CARGO_PKG_VERSION"),
        ))
        .handler(AcceptDefaults)
        .connect(transport)
        .await?;
    tracing::info!(
        scenario,
        version = %client.protocol_version(),
        stateless = client.is_stateless(),
        "connected"
    );
    let tools = client.list_all_tools().await?;
    tracing::info!(scenario, tools = tools.len(), "listed tools");
    match scenario {
        "initialize" | "request-metadata" | "json-schema-ref-no-deref" => {}
        "tools_call" => {
            let sum = client
                .call_tool("add_numbers", json!({"a": 5, "b": 3}))
                .await?;
            tracing::info!("add_numbers: {:?}", sum.content);
        }
        "elicitation-sep1034-client-defaults" => {
            client
                .call_tool("test_client_elicitation_defaults", json!({}))
                .await?;
        }
        "sse-retry" => {
            client.call_tool("test_reconnection", json!({})).await?;
        }
        "sep-2322-client-request-state" => {
            // Each input_required round is answered by the handler and
            // retried under a new id; the unrelated call in between must
            // carry nothing of it.
            for name in [
                "test_mrtr_echo_state",
                "test_mrtr_unrelated",
                "test_mrtr_no_state",
                "test_mrtr_no_result_type",
            ] {
                let result = client.call_tool(name, json!({})).await?;
                tracing::info!("{name}: {:?}", result.content);
            }
        }
        "http-standard-headers" => {
            for tool in &tools {
                client.call_tool(&tool.name, json!({})).await?;
            }
            for resource in client.list_all_resources().await? {
                client.read_resource(&resource.uri).await?;
            }
            for prompt in client.list_all_prompts().await? {
                client
                    .get_prompt(&prompt.name, Vec::<(String, String)>::new())
                    .await?;
            }
        }
        "http-custom-headers" => {
            for (name, arguments) in context_tool_calls() {
                client.call_tool(&name, arguments).await?;
            }
        }
        "http-invalid-tool-headers" => {
            // The tools with invalid x-mcp-header annotations are gone from
            // the list; call what is left.
            for tool in &tools {
                client
                    .call_tool(&tool.name, json!({"region": "us-west1"}))
                    .await?;
            }
        }
        "json-schema-2020-12-preservation" => {
            // Echo the rich tool's inputSchema back through the echo tool,
            // verbatim: unknown keywords must survive our types.
            let takes_schema = |t: &&mcp_sdk::Tool| {
                serde_json::to_value(&t.input_schema)
                    .ok()
                    .and_then(|s| s.pointer("/properties/schema").cloned())
                    .is_some()
            };
            let echo = tools.iter().find(takes_schema);
            let focal = tools.iter().find(|t| !takes_schema(t));
            if let (Some(echo), Some(focal)) = (echo, focal) {
                client
                    .call_tool(&echo.name, json!({ "schema": focal.input_schema }))
                    .await?;
            }
        }
        "sep-2640-client-no-prefetch" => {
            // The listing alone: no skill is loaded, so no file is read.
            let skills = client.list_all_skills().await.map_err(skill_error)?;
            tracing::info!(skills = skills.len(), "listed skills");
        }
        skills if skills.starts_with("sep-2640-client-verify") => {
            // Load each listed skill, and read its other files only if its
            // SKILL.md passes verification (these scenarios tamper with it).
            for entry in client.list_all_skills().await.map_err(skill_error)? {
                match client.load_skill(&entry).await {
                    Ok(loaded) => {
                        for file in entry.resources.iter().flatten() {
                            if file.uri != loaded.entry.uri {
                                client
                                    .read_skill_file(&entry, &file.uri)
                                    .await
                                    .map_err(skill_error)?;
                            }
                        }
                    }
                    Err(e @ SkillError::Unverified { .. }) => {
                        tracing::warn!("skill {} not loaded: {e}", entry.name());
                    }
                    Err(e) => return Err(skill_error(e)),
                }
            }
        }
        auth if auth.starts_with("auth/") => {
            // The protected server's tool; a step-up scenario asks for
            // more scope to call it.
            for tool in &tools {
                client.call_tool(&tool.name, json!({})).await?;
            }
        }
        other => {
            // An unknown scenario: call each tool without arguments, which
            // is what most client scenarios look for.
            tracing::warn!("unknown scenario {other}; calling every tool");
            for tool in &tools {
                let _ = client.call_tool(&tool.name, json!({})).await;
            }
        }
    }
    client.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    mcp_reference::init_tracing();
    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("usage: conformance_client <server-url> (scenario in MCP_CONFORMANCE_SCENARIO)");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    match run(&scenario, &url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance_client: {scenario}: {e}");
            ExitCode::FAILURE
        }
    }
}
