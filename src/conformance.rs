//! The server the official MCP conformance suite tests: the tools,
//! resources and prompts its server scenarios call, with the exact contents
//! they check.

use mcp_sdk::{
    CompleteParams, CompleteResult, Completion, ContentBlock, ElicitRequestParams, Error,
    GetPromptResult, Implementation, InputRequest, InputResponse, JsonObject, LoggingLevel, Prompt,
    PromptArgument, PromptMessage, ReadResourceResult, Resource, ResourceTemplate, Role,
    TaskSupport, Tool,
};
use mcp_sdk_server::{
    NoArguments, PromptArguments, ProtocolError, RequestContext, ResourceRequest, Router,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// A 1x1 red PNG.
pub const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A WAV file with a header and no samples.
pub const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

#[derive(Deserialize, JsonSchema)]
struct PromptArg {
    /// The prompt to send to the LLM.
    prompt: String,
}

#[derive(Deserialize, JsonSchema)]
struct MessageArg {
    /// The message to show the user.
    message: String,
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

fn elicit(params: serde_json::Value) -> Result<ElicitRequestParams, Error> {
    serde_json::from_value(params).map_err(Error::internal)
}

/// The conformance router: the scenarios' tools, resources and prompts,
/// and the fixtures of the tasks extension.
pub fn router() -> Router {
    task_fixtures(base_router())
}

fn base_router() -> Router {
    let no_args = |name: &str, description: &str| Tool::named(name, description);
    Router::new()
        .with_list_changed()
        .with_info(Implementation::new("mcp-sdk-conformance-server", env!("CARGO_PKG_VERSION")))
        .tool(no_args("test_simple_text", "Returns simple text"), |_: NoArguments| async {
            "This is a simple text response for testing."
        })
        .tool(no_args("test_image_content", "Returns an image"), |_: NoArguments| async {
            ContentBlock::image(PNG, "image/png")
        })
        .tool(no_args("test_audio_content", "Returns audio"), |_: NoArguments| async {
            ContentBlock::audio(WAV, "audio/wav")
        })
        .tool(no_args("test_embedded_resource", "Returns an embedded resource"), |_: NoArguments| async {
            ContentBlock::embedded_text("test://embedded-resource", "text/plain", "This is an embedded resource content.")
        })
        .tool(no_args("test_multiple_content_types", "Returns text, image and resource"), |_: NoArguments| async {
            vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(PNG, "image/png"),
                ContentBlock::embedded_text(
                    "test://mixed-content-resource",
                    "application/json",
                    r#"{"test":"data","value":123}"#,
                ),
            ]
        })
        .tool(
            no_args("test_tool_with_logging", "Logs while it runs"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.log(LoggingLevel::Info, "Tool execution started").await?;
                pause().await;
                ctx.log(LoggingLevel::Info, "Tool processing data").await?;
                pause().await;
                ctx.log(LoggingLevel::Info, "Tool execution completed").await?;
                Ok::<_, Error>("Tool with logging executed successfully")
            },
        )
        .tool(no_args("test_error_handling", "Always fails"), |_: NoArguments| async {
            Err::<String, _>("This tool intentionally returns an error for testing")
        })
        .tool(
            no_args("test_tool_with_progress", "Reports progress"),
            |_: NoArguments, ctx: RequestContext| async move {
                for (i, p) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                    if i > 0 {
                        pause().await;
                    }
                    ctx.progress(p, Some(100.0), None).await?;
                }
                Ok::<_, Error>("Tool with progress executed successfully")
            },
        )
        .tool(
            Tool::named("test_sampling", "Asks the client's LLM"),
            |args: PromptArg, ctx: RequestContext| async move {
                let params = serde_json::from_value(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": args.prompt}}],
                    "maxTokens": 100,
                }))
                .map_err(Error::internal)?;
                let answer = ctx.sample(params).await?;
                let text = serde_json::to_value(&answer.content)
                    .ok()
                    .and_then(|c| c.get("text").and_then(|t| t.as_str()).map(str::to_owned))
                    .unwrap_or_default();
                Ok::<_, Error>(format!("LLM response: {text}"))
            },
        )
        .tool(
            Tool::named("test_elicitation", "Asks the user"),
            |args: MessageArg, ctx: RequestContext| async move {
                let params = elicit(json!({
                    "message": args.message,
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"},
                        },
                        "required": ["username", "email"],
                    },
                }))?;
                let answer = ctx.elicit(params).await?;
                Ok::<_, Error>(format!("User response: {}", serde_json::to_string(&answer).unwrap_or_default()))
            },
        )
        .tool(
            no_args("test_elicitation_sep1034_defaults", "Elicitation with defaults"),
            |_: NoArguments, ctx: RequestContext| async move {
                let params = elicit(json!({
                    "message": "Please review and update the form fields with defaults",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "description": "User name", "default": "John Doe"},
                            "age": {"type": "integer", "description": "User age", "default": 30},
                            "score": {"type": "number", "description": "User score", "default": 95.5},
                            "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
                            "verified": {"type": "boolean", "description": "Verification status", "default": true},
                        },
                    },
                }))?;
                elicitation_summary(ctx.elicit(params).await?)
            },
        )
        .tool(
            no_args("test_elicitation_sep1330_enums", "Elicitation with every enum form"),
            |_: NoArguments, ctx: RequestContext| async move {
                let params = elicit(json!({
                    "message": "Please select options from the enum fields",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "untitledSingle": {"type": "string", "description": "Select one option", "enum": ["option1", "option2", "option3"]},
                            "titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
                                {"const": "value1", "title": "First Option"},
                                {"const": "value2", "title": "Second Option"},
                                {"const": "value3", "title": "Third Option"}]},
                            "legacyEnum": {"type": "string", "description": "Select one option (legacy)", "enum": ["opt1", "opt2", "opt3"],
                                "enumNames": ["Option One", "Option Two", "Option Three"]},
                            "untitledMulti": {"type": "array", "description": "Select multiple options",
                                "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                            "titledMulti": {"type": "array", "description": "Select multiple options with titles",
                                "items": {"anyOf": [
                                    {"const": "value1", "title": "First Choice"},
                                    {"const": "value2", "title": "Second Choice"},
                                    {"const": "value3", "title": "Third Choice"}]}},
                        },
                    },
                }))?;
                elicitation_summary(ctx.elicit(params).await?)
            },
        )
        .tool(
            no_args("test_missing_capability", "Needs the client's sampling capability"),
            |_: NoArguments, ctx: RequestContext| async move {
                let params = serde_json::from_value(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": "Say hi"}}],
                    "maxTokens": 10,
                }))
                .map_err(Error::internal)?;
                ctx.sample(params).await?;
                Ok::<_, Error>("sampled")
            },
        )
        .tool(
            no_args("test_streaming_elicitation", "Asks the user while streaming"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.progress(0.0, Some(1.0), None).await?;
                let answer = ctx.input("user_name", ask("What is your name?", "name", "string")?).await?;
                Ok::<_, Error>(format!("Hello, {}", answered(&answer, "name")))
            },
        )
        .tool(
            no_args("test_logging_tool", "Logs once"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.log(LoggingLevel::Info, "test_logging_tool ran").await?;
                Ok::<_, Error>("logged")
            },
        )
        .tool(
            no_args("test_trigger_tool_change", "Announces a change of the tool list"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.peer().notify_tool_list_changed().await?;
                Ok::<_, Error>("tools changed")
            },
        )
        .tool(
            no_args("test_trigger_prompt_change", "Announces a change of the prompt list"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.peer().notify_prompt_list_changed().await?;
                Ok::<_, Error>("prompts changed")
            },
        )
        .tool(
            no_args("test_input_required_result_elicitation", "Asks the user's name (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                let answer = ctx.input("user_name", ask("What is your name?", "name", "string")?).await?;
                Ok::<_, Error>(format!("Hello, {}!", answered(&answer, "name")))
            },
        )
        .tool(
            no_args("test_input_required_result_sampling", "Asks the client's LLM (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                let answer = ctx.input("capital_question", sample("What is the capital of France?")?).await?;
                Ok::<_, Error>(format!("LLM said: {}", answer_text(&answer)))
            },
        )
        .tool(
            no_args("test_input_required_result_list_roots", "Asks the client's roots (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                let answer = ctx.input("client_roots", InputRequest::ListRoots(Default::default())).await?;
                let InputResponse::ListRoots(roots) = answer else {
                    return Err(Error::invalid_params("client_roots must be a roots/list result"));
                };
                let uris: Vec<String> = roots.roots.into_iter().map(|r| r.uri).collect();
                Ok(format!("Roots: {}", uris.join(", ")))
            },
        )
        .tool(
            no_args("test_input_required_result_request_state", "Confirms, carrying state (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.input("confirm", ask("Please confirm", "ok", "boolean")?).await?;
                Ok::<_, Error>("state-ok: the requestState verified and the confirmation arrived")
            },
        )
        .tool(
            no_args("test_input_required_result_tampered_state", "Refuses altered state (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.input("confirm", ask("Please confirm", "ok", "boolean")?).await?;
                Ok::<_, Error>("confirmed")
            },
        )
        .tool(
            no_args("test_input_required_result_multiple_inputs", "Asks three things at once (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                let (name, llm, roots) = tokio::join!(
                    ctx.input("user_name", ask("What is your name?", "name", "string")?),
                    ctx.input("greeting", sample("Say hello")?),
                    ctx.input("client_roots", InputRequest::ListRoots(Default::default())),
                );
                let (name, llm, _) = (name?, llm?, roots?);
                Ok::<_, Error>(format!("{} / {}", answered(&name, "name"), answer_text(&llm)))
            },
        )
        .tool(
            no_args("test_input_required_result_multi_round", "Asks in two rounds (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                let name = ctx.input("step1", ask("Step 1: What is your name?", "name", "string")?).await?;
                let color = ctx.input("step2", ask("Step 2: What is your favorite color?", "color", "string")?).await?;
                Ok::<_, Error>(format!("{} likes {}", answered(&name, "name"), answered(&color, "color")))
            },
        )
        .tool(
            no_args("test_input_required_result_capabilities", "Asks only what the client can answer (MRTR)"),
            |_: NoArguments, ctx: RequestContext| async move {
                let caps = ctx.client().map(|c| c.capabilities.clone()).unwrap_or_default();
                let mut said = Vec::new();
                if caps.elicitation.is_some() {
                    let a = ctx.input("user_name", ask("What is your name?", "name", "string")?).await?;
                    said.push(answered(&a, "name"));
                }
                if caps.sampling.is_some() {
                    let a = ctx.input("capital_question", sample("What is the capital of France?")?).await?;
                    said.push(answer_text(&a));
                }
                Ok::<_, Error>(format!("answers: {}", said.join(", ")))
            },
        )
        .prompt(
            Prompt::new("test_input_required_result_prompt", "A prompt that asks for context (MRTR)"),
            |_: PromptArguments, ctx: RequestContext| async move {
                let answer = ctx
                    .input("user_context", ask("What context should the prompt use?", "context", "string")?)
                    .await?;
                Ok(GetPromptResult::new(vec![PromptMessage::user_text(format!(
                    "Use this context: {}",
                    answered(&answer, "context")
                ))]))
            },
        )
        .tool(custom_header_tool(), |args: JsonObject| async move {
            format!("region {}", args.get("region").and_then(|r| r.as_str()).unwrap_or("(none)"))
        })
        .tool(json_schema_2020_12_tool(), |args: JsonObject| async move {
            format!("Received: {}", serde_json::Value::Object(args))
        })
        .tool(
            no_args("test_reconnection", "Closes its SSE stream mid-call; the client resumes"),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.close_sse_stream().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                "Reconnection test completed"
            },
        )
        .resource(
            Resource::new("test://static-text", "Static text").with_description("A static text resource").with_mime_type("text/plain"),
            |r: ResourceRequest| async move {
                Ok(ReadResourceResult::text(r.uri, "text/plain", "This is the content of the static text resource."))
            },
        )
        .resource(
            Resource::new("test://static-binary", "Static binary").with_description("A static PNG").with_mime_type("image/png"),
            |r: ResourceRequest| async move { Ok(ReadResourceResult::blob(r.uri, "image/png", PNG)) },
        )
        .resource(
            Resource::new("test://watched-resource", "Watched").with_description("A resource to subscribe to").with_mime_type("text/plain"),
            |r: ResourceRequest| async move { Ok(ReadResourceResult::text(r.uri, "text/plain", "Watched resource content.")) },
        )
        .resource_template(
            ResourceTemplate::new("test://template/{id}/data", "Template data")
                .with_mime_type("application/json")
                .with_description("Data for any id"),
            |r: ResourceRequest| async move {
                let id = r.variables.get("id").cloned().unwrap_or_default();
                let text = json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string();
                Ok(ReadResourceResult::text(r.uri, "application/json", text))
            },
        )
        .prompt(Prompt::new("test_simple_prompt", "A simple prompt"), |_: PromptArguments| async {
            Ok(GetPromptResult::new(vec![PromptMessage::user_text("This is a simple prompt for testing.")]))
        })
        .prompt(
            Prompt::new("test_prompt_with_arguments", "A prompt with arguments")
                .with_argument(PromptArgument::new("arg1", "First test argument", true))
                .with_argument(PromptArgument::new("arg2", "Second test argument", true)),
            |args: PromptArguments| async move {
                let (a, b) = (args.get("arg1").cloned().unwrap_or_default(), args.get("arg2").cloned().unwrap_or_default());
                Ok(GetPromptResult::new(vec![PromptMessage::user_text(format!(
                    "Prompt with arguments: arg1='{a}', arg2='{b}'"
                ))]))
            },
        )
        .prompt(
            Prompt::new("test_prompt_with_embedded_resource", "A prompt with an embedded resource")
                .with_argument(PromptArgument::new("resourceUri", "URI of the resource to embed", true)),
            |args: PromptArguments| async move {
                let uri = args.get("resourceUri").cloned().unwrap_or_default();
                Ok(GetPromptResult::new(vec![
                    PromptMessage::new(Role::User, ContentBlock::embedded_text(uri, "text/plain", "Embedded resource content for testing.")),
                    PromptMessage::user_text("Please process the embedded resource above."),
                ]))
            },
        )
        .prompt(Prompt::new("test_prompt_with_image", "A prompt with an image"), |_: PromptArguments| async {
            Ok(GetPromptResult::new(vec![
                PromptMessage::new(Role::User, ContentBlock::image(PNG, "image/png")),
                PromptMessage::user_text("Please analyze the image above."),
            ]))
        })
        .completion(|params: CompleteParams| async move {
            const WORDS: [&str; 6] = ["paris", "park", "party", "test", "testing", "value"];
            let prefix = params.argument.value.to_lowercase();
            let values: Vec<String> = WORDS.iter().filter(|w| w.starts_with(&prefix)).map(|w| w.to_string()).collect();
            let total = values.len() as u64;
            let completion = Completion::new(values).with_total(total).with_has_more(false);
            Ok(CompleteResult::default().with_completion(completion))
        })
}

/// An elicitation of one required field.
fn ask(message: &str, field: &str, kind: &str) -> Result<InputRequest, Error> {
    Ok(InputRequest::Elicit(elicit(json!({
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {field: {"type": kind}},
            "required": [field],
        },
    }))?))
}

/// A sampling request of one user message.
fn sample(question: &str) -> Result<InputRequest, Error> {
    let params = serde_json::from_value(json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": question}}],
        "systemPrompt": "You are a helpful assistant.",
        "maxTokens": 100,
    }))
    .map_err(Error::internal)?;
    Ok(InputRequest::CreateMessage(params))
}

/// A field of an accepted elicitation, as text.
fn answered(answer: &InputResponse, field: &str) -> String {
    match answer {
        InputResponse::Elicit(e) => e
            .content
            .as_ref()
            .and_then(|c| c.get(field))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_else(|| "(declined)".into()),
        _ => "(not an elicitation answer)".into(),
    }
}

/// The text of a sampling answer.
fn answer_text(answer: &InputResponse) -> String {
    let InputResponse::CreateMessage(m) = answer else {
        return "(not a sampling answer)".into();
    };
    serde_json::to_value(&m.content)
        .ok()
        .and_then(|c| c.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

fn elicitation_summary(answer: mcp_sdk::ElicitResult) -> Result<String, Error> {
    let action = serde_json::to_value(answer.action).map_err(Error::internal)?;
    let content = serde_json::to_string(&answer.content).map_err(Error::internal)?;
    Ok(format!(
        "Elicitation completed: action={}, content={content}",
        action.as_str().unwrap_or_default()
    ))
}

/// A tool whose `region` argument is mirrored in the `Mcp-Param-Region`
/// header (2026-07-28, `x-mcp-header`).
fn custom_header_tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {
            "region": {"type": "string", "description": "Where to run", "x-mcp-header": "Region"},
            "query": {"type": "string", "description": "What to run"},
        },
        "required": ["region"],
    });
    let serde_json::Value::Object(schema) = schema else {
        unreachable!("a JSON object literal")
    };
    Tool::new("test_custom_header", "Mirrors region in a header", schema)
}

fn json_schema_2020_12_tool() -> Tool {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"address": {"$anchor": "addressDef", "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": false,
    });
    let serde_json::Value::Object(schema) = schema else {
        unreachable!("a JSON object literal")
    };
    Tool::new(
        "json_schema_2020_12_tool",
        "Tool with JSON Schema 2020-12 features",
        schema,
    )
}

#[derive(Deserialize, JsonSchema)]
struct Greeting {
    /// Whom to greet.
    name: String,
}

#[derive(Deserialize, JsonSchema)]
struct Compute {
    /// How long to work, in seconds.
    seconds: f64,
    /// A label for the result.
    #[serde(default)]
    label: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct FileArg {
    /// The file to delete.
    filename: String,
}

/// The tools the tasks-extension scenarios (SEP-2663) call.
fn task_fixtures(router: Router) -> Router {
    let task = |name: &str, description: &str, support| {
        Tool::named(name, description).with_task_support(support)
    };
    router
        .tool(
            Tool::named("greet", "Greets, at once"),
            |g: Greeting| async move { format!("Hello, {}!", g.name) },
        )
        .tool(
            task(
                "slow_compute",
                "Works for `seconds`, as a task when it takes a while",
                TaskSupport::Optional,
            ),
            |c: Compute, ctx: RequestContext| async move {
                let work = Duration::from_secs_f64(c.seconds.clamp(0.0, 600.0));
                tokio::select! {
                    _ = tokio::time::sleep(work) => {}
                    _ = ctx.cancelled() => return Err("cancelled".to_owned()),
                }
                Ok(format!(
                    "computed {} in {} s",
                    c.label.unwrap_or_default(),
                    c.seconds
                ))
            },
        )
        .tool(
            task(
                "failing_job",
                "Fails after a second (the tool reports it)",
                TaskSupport::Required,
            ),
            |_: NoArguments| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Err::<String, _>("the job failed")
            },
        )
        .tool(
            task(
                "protocol_error_job",
                "Ends in a protocol error",
                TaskSupport::Optional,
            ),
            |_: NoArguments| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                ProtocolError(Error::internal("protocol_error_job fails on purpose"))
            },
        )
        .tool(
            task(
                "confirm_delete",
                "Asks for confirmation, as a task",
                TaskSupport::Optional,
            ),
            |f: FileArg, ctx: RequestContext| async move {
                ctx.continue_as_task();
                let answer = ctx
                    .input(
                        "confirm",
                        ask(&format!("Delete {}?", f.filename), "confirm", "boolean")?,
                    )
                    .await?;
                Ok::<_, Error>(match answered(&answer, "confirm").as_str() {
                    "true" => format!("deleted {}", f.filename),
                    _ => format!("kept {}", f.filename),
                })
            },
        )
        .tool(
            task(
                "multi_input",
                "Asks two questions at once, as a task",
                TaskSupport::Optional,
            ),
            |_: NoArguments, ctx: RequestContext| async move {
                ctx.continue_as_task();
                let (first, second) = tokio::join!(
                    ctx.input("first", ask("First name?", "name", "string")?),
                    ctx.input("second", ask("Sure?", "confirm", "boolean")?),
                );
                Ok::<_, Error>(format!(
                    "{} / {}",
                    answered(&first?, "name"),
                    answered(&second?, "confirm")
                ))
            },
        )
        .tool(
            task(
                "test_tool_with_task",
                "Asks a name, then goes on as a task",
                TaskSupport::Required,
            ),
            |_: NoArguments, ctx: RequestContext| async move {
                let answer = ctx
                    .input("user_name", ask("What is your name?", "name", "string")?)
                    .await?;
                ctx.continue_as_task();
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<_, Error>(format!("Hello, {}!", answered(&answer, "name")))
            },
        )
}
