//! The sampling server (the seed's server 2): tools that borrow the client's
//! LLM through `sampling/createMessage` — `summarize`, `translate`,
//! `classify_sentiment` (structured: label and confidence) and
//! `ask_with_tools`, where the model may call a calculator and a clock
//! inside sampling (tool use in sampling, MCP 2025-11-25).
//!
//! Every tool takes an optional `model_hint` (sent as a model preference) and
//! `system_prompt` (replacing the tool's own), and fails with a clear tool
//! error when the client cannot sample.
//!
//! Both protocol eras are served by the same handlers. In a session
//! (2024-11-05 .. 2025-11-25) each `ctx.sample(..)` is a
//! `sampling/createMessage` request to the client. In the stateless era
//! (2026-07-28) it is an input request of a multi round-trip `tools/call`:
//! the handler stops at the first answer the client has not given yet, and
//! the client's retry runs it again from the start with the answers so far.
//! So the handlers ask in an order that depends only on the answers, and do
//! nothing but compute between samples (nothing to undo when a run is
//! dropped). The capability check comes first in both eras, so a client
//! that cannot sample gets the same tool error rather than the
//! stateless era's bare -32021.

pub mod sentiment;
pub mod tools;

use super::ServerSpec;
use mcp_sdk::{
    CreateMessageParams, CreateMessageResult, Implementation, ModelHint, ModelPreferences,
    ProtocolVersion, Role, SamplingContent, SamplingContentBlock, SamplingMessage, Tool,
    ToolAnnotations, ToolChoice, ToolChoiceMode,
};
use mcp_sdk_server::{RequestContext, Router, Structured};
use schemars::JsonSchema;
use sentiment::SentimentLabel;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The sampling server's identity: id 2, port 5002.
pub fn spec() -> ServerSpec {
    ServerSpec {
        id: "2",
        name: "sampling",
        default_port: 5002,
        capabilities: &["sampling"],
    }
}

/// The error of a tool called by a client that cannot sample.
pub const NEEDS_SAMPLING: &str =
    "this tool needs a client that supports sampling (the client did not declare the `sampling` capability)";
/// The error of `ask_with_tools` called by a client that cannot use tools
/// in sampling.
pub const NEEDS_SAMPLING_TOOLS: &str =
    "this tool needs a client that supports tool use in sampling \
     (the `sampling.tools` capability of MCP 2025-11-25)";

/// Options every tool takes, passed through to the client.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SamplingOptions {
    /// A model name (or part of one) to prefer, such as `claude-3-5-sonnet`
    /// or `sonnet`; the client decides.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub model_hint: Option<String>,
    /// A system prompt replacing the tool's own.
    #[serde(default)]
    #[schemars(length(min = 1, max = 10000))]
    pub system_prompt: Option<String>,
    /// The most tokens the model may produce.
    #[serde(default)]
    #[schemars(range(min = 1, max = 32000))]
    pub max_tokens: Option<u64>,
}

/// Arguments of `summarize`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SummarizeArgs {
    /// The text to summarize.
    #[schemars(length(min = 1, max = 100000))]
    pub text: String,
    /// The longest summary wanted, in words.
    #[serde(default = "default_words")]
    #[schemars(range(min = 1, max = 2000))]
    pub max_words: u32,
    /// Model hint, system prompt, token limit.
    #[serde(flatten)]
    pub options: SamplingOptions,
}

fn default_words() -> u32 {
    100
}

/// Arguments of `translate`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TranslateArgs {
    /// The text to translate.
    #[schemars(length(min = 1, max = 100000))]
    pub text: String,
    /// The language to translate into, such as `French` or `pt-BR`.
    #[schemars(length(min = 1, max = 64))]
    pub target_language: String,
    /// The text's language, if known.
    #[serde(default)]
    #[schemars(length(min = 1, max = 64))]
    pub source_language: Option<String>,
    /// Model hint, system prompt, token limit.
    #[serde(flatten)]
    pub options: SamplingOptions,
}

/// Arguments of `classify_sentiment`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ClassifyArgs {
    /// The text to classify.
    #[schemars(length(min = 1, max = 100000))]
    pub text: String,
    /// Model hint, system prompt, token limit.
    #[serde(flatten)]
    pub options: SamplingOptions,
}

/// Arguments of `ask_with_tools`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskArgs {
    /// The question for the model, which may use a calculator and a clock.
    #[schemars(length(min = 1, max = 20000))]
    pub question: String,
    /// The most sampling rounds (model turns); the last one forbids tools.
    #[serde(default = "default_rounds")]
    #[schemars(range(min = 1, max = 10))]
    pub max_rounds: u32,
    /// Model hint, system prompt, token limit.
    #[serde(flatten)]
    pub options: SamplingOptions,
}

fn default_rounds() -> u32 {
    5
}

/// What `summarize` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    /// The summary.
    pub summary: String,
    /// The model that wrote it.
    pub model: String,
}

/// What `translate` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Translation {
    /// The translation.
    pub translation: String,
    /// The language translated into.
    pub target_language: String,
    /// The model that wrote it.
    pub model: String,
}

/// What `classify_sentiment` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Sentiment {
    /// The sentiment.
    pub label: SentimentLabel,
    /// How sure the model is, from 0 to 1; `null` when it did not say.
    pub confidence: Option<f64>,
    /// The model that classified.
    pub model: String,
}

/// One tool the model used in `ask_with_tools`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolCallRecord {
    /// The tool.
    pub name: String,
    /// The model's input.
    pub input: Value,
    /// What the tool answered.
    pub output: String,
    /// Whether the tool failed.
    pub is_error: bool,
}

/// What `ask_with_tools` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolAnswer {
    /// The model's final answer.
    pub answer: String,
    /// The model of the final answer.
    pub model: String,
    /// How many sampling requests were made.
    pub rounds: u32,
    /// The tools the model used, in order.
    pub tool_calls: Vec<ToolCallRecord>,
}

/// Checks the client's sampling capability (and its `tools` part).
fn require_sampling(ctx: &RequestContext, with_tools: bool) -> Result<(), String> {
    match ctx.client().and_then(|c| c.capabilities.sampling.as_ref()) {
        None => Err(NEEDS_SAMPLING.to_owned()),
        Some(s) if with_tools && s.tools.is_none() => Err(NEEDS_SAMPLING_TOOLS.to_owned()),
        Some(_) => Ok(()),
    }
}

/// Model preferences: the hint, if any, and the tool's priorities
/// (cost, speed, intelligence).
fn preferences(hint: Option<&str>, priorities: (f64, f64, f64)) -> ModelPreferences {
    let mut preferences = ModelPreferences::default()
        .with_cost_priority(priorities.0)
        .with_speed_priority(priorities.1)
        .with_intelligence_priority(priorities.2);
    preferences.hints = hint.map(|name| vec![ModelHint::new(name)]);
    preferences
}

/// A one-message sampling request with the options applied.
fn request(
    prompt: String,
    options: &SamplingOptions,
    default_system: &str,
    default_tokens: u64,
    priorities: (f64, f64, f64),
    temperature: Option<f64>,
) -> CreateMessageParams {
    let mut params = CreateMessageParams::new(
        vec![SamplingMessage::user_text(prompt)],
        options.max_tokens.unwrap_or(default_tokens),
    );
    params.system_prompt = Some(
        options
            .system_prompt
            .clone()
            .unwrap_or_else(|| default_system.to_owned()),
    );
    params.model_preferences = Some(preferences(options.model_hint.as_deref(), priorities));
    params.temperature = temperature;
    params
}

/// Sends a sampling request; failures become readable tool errors. (In the
/// stateless era a client's refusal never comes back here: an input request
/// has no error answer, so the client ends the call on its side.)
async fn sample(
    ctx: &RequestContext,
    params: CreateMessageParams,
) -> Result<CreateMessageResult, String> {
    ctx.sample(params)
        .await
        .map_err(|e| format!("the client's model did not answer: {e}"))
}

/// The text of an answer (its text blocks joined), or an error if it has
/// none.
fn answer_text(answer: &CreateMessageResult) -> Result<String, String> {
    let text: Vec<&str> = answer
        .content
        .blocks()
        .iter()
        .filter_map(SamplingContentBlock::as_text)
        .collect();
    let text = text.join("\n").trim().to_owned();
    if text.is_empty() {
        Err(format!(
            "the model ({}) answered without text",
            answer.model
        ))
    } else {
        Ok(text)
    }
}

/// `summarize`.
pub async fn summarize(args: SummarizeArgs, ctx: RequestContext) -> Result<Summary, String> {
    require_sampling(&ctx, false)?;
    let prompt = format!(
        "Summarize the following text in at most {} words.\n\n<text>\n{}\n</text>",
        args.max_words, args.text
    );
    let params = request(
        prompt,
        &args.options,
        "You are a careful summarizer. Keep the facts, drop the detail, and reply with the summary only.",
        1024,
        (0.5, 0.6, 0.4),
        None,
    );
    let answer = sample(&ctx, params).await?;
    Ok(Summary {
        summary: answer_text(&answer)?,
        model: answer.model,
    })
}

/// `translate`.
pub async fn translate(args: TranslateArgs, ctx: RequestContext) -> Result<Translation, String> {
    require_sampling(&ctx, false)?;
    let from = match &args.source_language {
        Some(lang) => format!("from {lang} "),
        None => String::new(),
    };
    let prompt = format!(
        "Translate the following text {from}into {}.\n\n<text>\n{}\n</text>",
        args.target_language, args.text
    );
    let params = request(
        prompt,
        &args.options,
        "You are a professional translator. Reply with the translation only, without notes, quotes or tags.",
        4096,
        (0.3, 0.4, 0.7),
        Some(0.2),
    );
    let answer = sample(&ctx, params).await?;
    Ok(Translation {
        translation: answer_text(&answer)?,
        target_language: args.target_language,
        model: answer.model,
    })
}

/// `classify_sentiment`.
pub async fn classify_sentiment(
    args: ClassifyArgs,
    ctx: RequestContext,
) -> Result<Sentiment, String> {
    require_sampling(&ctx, false)?;
    let prompt = format!(
        "Classify the sentiment of the following text.\n\n<text>\n{}\n</text>",
        args.text
    );
    let params = request(
        prompt,
        &args.options,
        "You classify the sentiment of texts. Answer with one JSON object and nothing else: \
         {\"label\": \"positive\" | \"negative\" | \"neutral\" | \"mixed\", \"confidence\": a number from 0 to 1}",
        200,
        (0.8, 0.8, 0.2),
        Some(0.0),
    );
    let answer = sample(&ctx, params).await?;
    let text = answer_text(&answer)?;
    let (label, confidence) = sentiment::parse(&text).ok_or_else(|| {
        let excerpt: String = text.chars().take(200).collect();
        format!("the model's answer could not be read as a sentiment: {excerpt:?}")
    })?;
    Ok(Sentiment {
        label,
        confidence,
        model: answer.model,
    })
}

/// `ask_with_tools`: the tool loop of sampling with tools.
///
/// In the stateless era the loop is replayed from the first round on every
/// retry: rounds already answered find their answer at once (under the
/// automatic keys `sampling-1`, `sampling-2`, ...) and their tool uses run
/// again. That is safe because the tools only compute: the calculator gives
/// the same result, and the clock, read again, differs only by the seconds
/// between two retries (the record then shows the later reading).
pub async fn ask_with_tools(args: AskArgs, ctx: RequestContext) -> Result<ToolAnswer, String> {
    require_sampling(&ctx, true)?;
    // One session-era request spans the whole loop, so "round k of n" is
    // news to the client. A stateless run replays rounds 1..k under the
    // retry's own progress token and then waits on the client itself, so
    // there it would only repeat what the client already knows.
    let report_rounds = ctx
        .protocol_version()
        .is_some_and(ProtocolVersion::is_session_era);
    let offered = tools::definitions();
    let system = args.options.system_prompt.clone().unwrap_or_else(|| {
        "Answer the user's question. Use the calculator tool for arithmetic and the clock tool \
         for the current date and time; then answer briefly."
            .to_owned()
    });
    let prefs = preferences(args.options.model_hint.as_deref(), (0.3, 0.5, 0.8));
    let mut messages = vec![SamplingMessage::user_text(args.question)];
    let mut calls = Vec::new();
    for round in 1..=args.max_rounds {
        let last = round == args.max_rounds;
        let mut params =
            CreateMessageParams::new(messages.clone(), args.options.max_tokens.unwrap_or(1024));
        params.system_prompt = Some(system.clone());
        params.model_preferences = Some(prefs.clone());
        params.tools = Some(offered.clone());
        // The last round forbids tools, so the model must answer.
        params.tool_choice = Some(ToolChoice::default().with_mode(if last {
            ToolChoiceMode::None
        } else {
            ToolChoiceMode::Auto
        }));
        if report_rounds {
            let _ = ctx
                .progress(
                    f64::from(round),
                    Some(f64::from(args.max_rounds)),
                    Some("asking the model"),
                )
                .await;
        }
        let answer = sample(&ctx, params).await?;
        let uses: Vec<_> = answer
            .content
            .blocks()
            .iter()
            .filter_map(|b| match b {
                SamplingContentBlock::ToolUse(u) => Some(u.clone()),
                _ => None,
            })
            .collect();
        if uses.is_empty() {
            return Ok(ToolAnswer {
                answer: answer_text(&answer)?,
                model: answer.model,
                rounds: round,
                tool_calls: calls,
            });
        }
        if last {
            return Err(format!(
                "the model still asked for tools after {} rounds; no answer",
                args.max_rounds
            ));
        }
        if uses.len() > tools::MAX_USES_PER_TURN {
            return Err(format!(
                "the model asked for {} tool uses in one turn (at most {})",
                uses.len(),
                tools::MAX_USES_PER_TURN
            ));
        }
        messages.push(SamplingMessage::new(
            Role::Assistant,
            answer.content.clone(),
        ));
        let mut results = Vec::with_capacity(uses.len());
        for tool_use in &uses {
            let result = tools::run(tool_use);
            calls.push(ToolCallRecord {
                name: tool_use.name.clone(),
                input: Value::Object(tool_use.input.clone()),
                output: result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text())
                    .collect::<Vec<_>>()
                    .join("\n"),
                is_error: result.is_error == Some(true),
            });
            results.push(SamplingContentBlock::ToolResult(result));
        }
        // Every tool use answered, in one user message of tool results only.
        messages.push(SamplingMessage::new(
            Role::User,
            SamplingContent::Multiple(results),
        ));
    }
    unreachable!("max_rounds is at least 1, and the last round returns")
}

/// The sampling server's tools.
pub fn router() -> Router {
    let llm = |title: &str| {
        ToolAnnotations::default()
            .with_title(title.to_owned())
            .with_read_only_hint(true)
            .with_open_world_hint(true)
    };
    Router::new()
        .with_info(Implementation::new(
            "mcp-reference-sampling",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Language tools that use your own model through MCP sampling: summarize, translate, \
             classify_sentiment, and ask_with_tools (the model may call a calculator and a clock).",
        )
        .tool(
            Tool::named(
                "summarize",
                "Summarizes a text with the client's model (MCP sampling).",
            )
            .with_annotations(llm("Summarize")),
            |args: SummarizeArgs, ctx: RequestContext| async move {
                summarize(args, ctx).await.map(Structured)
            },
        )
        .tool(
            Tool::named(
                "translate",
                "Translates a text into another language with the client's model (MCP sampling).",
            )
            .with_annotations(llm("Translate")),
            |args: TranslateArgs, ctx: RequestContext| async move {
                translate(args, ctx).await.map(Structured)
            },
        )
        .tool(
            Tool::named(
                "classify_sentiment",
                "Classifies a text's sentiment (positive, negative, neutral or mixed, with a \
                 confidence) with the client's model (MCP sampling).",
            )
            .with_annotations(llm("Classify sentiment")),
            |args: ClassifyArgs, ctx: RequestContext| async move {
                classify_sentiment(args, ctx).await.map(Structured)
            },
        )
        .tool(
            Tool::named(
                "ask_with_tools",
                "Answers a question with the client's model, which may call a calculator and a \
                 clock while sampling (needs a client with tool use in sampling, MCP 2025-11-25).",
            )
            .with_annotations(llm("Ask with tools")),
            |args: AskArgs, ctx: RequestContext| async move {
                ask_with_tools(args, ctx).await.map(Structured)
            },
        )
}
