//! The tools reference server (seed server 3, port 5003): the seed's
//! calculator, text processor and data transformer, one MCP tool per
//! operation, each with an input and an output schema and structured
//! results.
//!
//! | seed tool | MCP tools |
//! |---|---|
//! | `calculator` | `add`, `subtract`, `multiply`, `divide`, `power` |
//! | `textProcessor` | `word_count`, `character_count`, `sentence_count`, `to_upper_case`, `to_lower_case` |
//! | `dataTransformer` | `json_to_csv`, `csv_to_json` |
//!
//! Every tool is a pure function of its arguments: read-only, idempotent,
//! closed-world, and annotated so. Failures (division by zero, bad CSV or
//! JSON, input over the size limit) are tool results with `isError` and a
//! sentence saying what is wrong. The two transforms report progress on
//! long inputs and stop when the client cancels.
//!
//! Nothing here depends on a session, so the same handlers serve both
//! protocol eras. In the stateless era (2026-07-28) a request asks for
//! progress with the `progressToken` in its `_meta` as before, and is
//! cancelled by `notifications/cancelled` over stdio or by closing its
//! response stream over HTTP; either way the transform stops at its next
//! chunk of rows.

pub mod calculator;
pub mod csv;
pub mod offload;
pub mod text;
pub mod transform;

use super::ServerSpec;
use mcp_sdk::{CallToolResult, ContentBlock, Implementation, Tool, ToolAnnotations};
use mcp_sdk_server::router::schema_for;
use mcp_sdk_server::{RequestContext, Router, Structured};
use offload::Offload;
use serde_json::{json, Value};
use std::time::Duration;
use text::{CountResult, TextInput, TextResult};
use transform::{CsvText, CsvToJsonInput, JsonRowsSchema, JsonToCsvInput, TransformError};

/// The largest text, CSV or JSON input accepted by default: 10 MiB. (Over
/// HTTP the transport's 4 MiB body limit comes first.)
pub const DEFAULT_MAX_INPUT_BYTES: usize = 10 * 1024 * 1024;

/// The largest result sent: its structured content plus the JSON text copy
/// that goes with it, kept well under the 16 MiB a stdio line may carry.
pub const MAX_RESULT_BYTES: usize = 12 * 1024 * 1024;

/// How many conversions (`json_to_csv`, `csv_to_json`) run at once by
/// default; more calls wait for a slot (within their time budget).
pub const DEFAULT_MAX_CONVERSIONS: usize = 4;

/// The time one conversion may take by default, waiting for a slot
/// included. A 10 MiB input takes well under a second.
pub const DEFAULT_CONVERSION_BUDGET: Duration = Duration::from_secs(10);

/// The longest text a conversion may produce: its answer carries it twice
/// (structured and as text), within [`MAX_RESULT_BYTES`].
pub const MAX_CONVERTED_BYTES: usize = MAX_RESULT_BYTES / 2;

/// Who the tools server is.
pub fn spec() -> ServerSpec {
    ServerSpec {
        id: "3",
        name: "tools",
        default_port: 5003,
        capabilities: &["tools"],
    }
}

/// Settings of the tools server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolsConfig {
    /// The largest `text`, `csv_data` or `json_data` accepted, in bytes.
    pub max_input_bytes: usize,
    /// How many conversions run at once (each on a blocking thread).
    pub max_conversions: usize,
    /// The time one conversion may take, waiting for a slot included.
    pub conversion_budget: Duration,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_conversions: DEFAULT_MAX_CONVERSIONS,
            conversion_budget: DEFAULT_CONVERSION_BUDGET,
        }
    }
}

/// A tool that only computes: read-only, idempotent, closed-world.
fn pure_tool(name: &str, title: &str, description: &str) -> Tool {
    Tool::named(name, description)
        .with_title(title)
        .with_annotations(
            ToolAnnotations::default()
                .with_title(title)
                .with_read_only_hint(true)
                .with_destructive_hint(false)
                .with_idempotent_hint(true)
                .with_open_world_hint(false),
        )
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Refuses an input over the limit, naming it.
fn check_size(name: &str, len: usize, limit: usize) -> Result<(), String> {
    if len > limit {
        return Err(format!(
            "{name} is {} ({len} bytes); this server takes at most {} ({limit} bytes) per input. \
             Split the data into smaller parts.",
            mib(len),
            mib(limit)
        ));
    }
    Ok(())
}

/// Counts serialized bytes, giving up past a limit.
struct SizeCounter {
    len: usize,
    limit: usize,
}

impl std::io::Write for SizeCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.len += buf.len();
        if self.len > self.limit {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuses a JSON value whose text would be over the limit.
fn check_value_size(name: &str, value: &Value, limit: usize) -> Result<(), String> {
    let mut counter = SizeCounter { len: 0, limit };
    if serde_json::to_writer(&mut counter, value).is_err() {
        return Err(format!(
            "{name} is more than {} as JSON; this server takes at most {} per input. \
             Split the data into smaller parts.",
            mib(limit),
            mib(limit)
        ));
    }
    Ok(())
}

/// A structured result whose JSON text is `text` (the same value, perhaps
/// with its keys in a more useful order), refused if too large to send.
fn bounded_result(structured: Value, text: String) -> Result<CallToolResult, String> {
    // The structured copy is as long as `text`; the text copy is `text`
    // again, escaped as a JSON string.
    let escapes = text.bytes().filter(|b| matches!(b, b'"' | b'\\')).count();
    let total = 2 * text.len() + escapes + 2;
    if total > MAX_RESULT_BYTES {
        return Err(format!(
            "the result would take {} to send, more than the {} one answer may carry. \
             Split the input into smaller parts.",
            mib(total),
            mib(MAX_RESULT_BYTES)
        ));
    }
    Ok(CallToolResult::new(vec![ContentBlock::text(text)]).with_structured_content(structured))
}

/// A converted text as a bounded structured result.
fn text_result(result: String) -> Result<CallToolResult, String> {
    let value = json!({ "result": result });
    let text = value.to_string();
    bounded_result(value, text)
}

/// The tools server: twelve tools, as [`spec`] and the module docs say.
pub fn router(config: ToolsConfig) -> Router {
    let limit = config.max_input_bytes;
    let offload = Offload::new(config.max_conversions, config.conversion_budget);
    let to_csv = offload.clone();
    let calc = |name: &str, title: &str, description: &str| pure_tool(name, title, description);
    Router::new()
        .with_info(Implementation::new("mcp-reference-tools", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Pure computation tools: arithmetic (add, subtract, multiply, divide, power), \
             text statistics and case conversion, and JSON <-> CSV conversion. \
             Results are structured (`result`); errors explain what to fix.",
        )
        // Calculator.
        .tool(
            calc("add", "Calculator: add", "Adds two numbers: a + b. Integers stay integers."),
            |o: calculator::Operands| async move { calculator::add(&o.a, &o.b).map(Structured) },
        )
        .tool(
            calc("subtract", "Calculator: subtract", "Subtracts b from a: a - b."),
            |o: calculator::Operands| async move { calculator::subtract(&o.a, &o.b).map(Structured) },
        )
        .tool(
            calc("multiply", "Calculator: multiply", "Multiplies two numbers: a * b."),
            |o: calculator::Operands| async move { calculator::multiply(&o.a, &o.b).map(Structured) },
        )
        .tool(
            calc(
                "divide",
                "Calculator: divide",
                "Divides a by b: a / b, always a float. Fails on division by zero.",
            ),
            |o: calculator::Operands| async move { calculator::divide(&o.a, &o.b).map(Structured) },
        )
        .tool(
            calc(
                "power",
                "Calculator: power",
                "Raises a to the power b: a ** b. An integer for an integer base and a \
                 non-negative integer exponent, a float otherwise.",
            ),
            |o: calculator::Operands| async move { calculator::power(&o.a, &o.b).map(Structured) },
        )
        // Text processor.
        .tool(
            pure_tool(
                "word_count",
                "Text: word count",
                "Counts the words of a text (runs of non-whitespace characters).",
            ),
            move |t: TextInput| async move {
                check_size("text", t.text.len(), limit)?;
                Ok::<_, String>(Structured(CountResult { result: text::word_count(&t.text) }))
            },
        )
        .tool(
            pure_tool(
                "character_count",
                "Text: character count",
                "Counts the characters (Unicode code points) of a text.",
            ),
            move |t: TextInput| async move {
                check_size("text", t.text.len(), limit)?;
                Ok::<_, String>(Structured(CountResult { result: text::character_count(&t.text) }))
            },
        )
        .tool(
            pure_tool(
                "sentence_count",
                "Text: sentence count",
                "Counts the sentences of a text: non-blank pieces between '.', '!' and '?'.",
            ),
            move |t: TextInput| async move {
                check_size("text", t.text.len(), limit)?;
                Ok::<_, String>(Structured(CountResult { result: text::sentence_count(&t.text) }))
            },
        )
        .tool(
            pure_tool("to_upper_case", "Text: upper case", "Converts a text to upper case.")
                .with_output_schema(schema_for::<TextResult>()),
            move |t: TextInput| async move {
                check_size("text", t.text.len(), limit)?;
                text_result(text::to_upper_case(&t.text))
            },
        )
        .tool(
            pure_tool("to_lower_case", "Text: lower case", "Converts a text to lower case.")
                .with_output_schema(schema_for::<TextResult>()),
            move |t: TextInput| async move {
                check_size("text", t.text.len(), limit)?;
                text_result(text::to_lower_case(&t.text))
            },
        )
        // Data transformer.
        .tool(
            pure_tool(
                "json_to_csv",
                "Data: JSON to CSV",
                "Converts an array of JSON objects to CSV: a header row of the first object's \
                 keys (or `columns`), then one row per object. Reports progress on long inputs.",
            )
            .with_output_schema(schema_for::<CsvText>()),
            move |input: JsonToCsvInput, ctx: RequestContext| {
                let offload = to_csv.clone();
                async move {
                    let csv = offload
                        .run(&ctx, move |budget| {
                            let invalid = TransformError::Invalid;
                            let (data, first_keys) = match input.json_data {
                                Value::String(s) => {
                                    check_size("json_data", s.len(), limit).map_err(invalid)?;
                                    let data: Value = serde_json::from_str(&s).map_err(|e| {
                                        invalid(format!(
                                            "json_data is a string but not valid JSON: {e}"
                                        ))
                                    })?;
                                    let keys = transform::first_object_keys(&s);
                                    (data, keys)
                                }
                                data => {
                                    check_value_size("json_data", &data, limit).map_err(invalid)?;
                                    (data, None)
                                }
                            };
                            transform::json_to_csv(
                                &data,
                                input.columns,
                                first_keys,
                                MAX_CONVERTED_BYTES,
                                budget,
                            )
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    text_result(csv)
                }
            },
        )
        .tool(
            pure_tool(
                "csv_to_json",
                "Data: CSV to JSON",
                "Converts CSV text (first row = column names) to an array of JSON objects. \
                 Values of digits with at most one '.' become numbers; all else stays text. \
                 Reports progress on long inputs.",
            )
            .with_output_schema(schema_for::<JsonRowsSchema>()),
            move |input: CsvToJsonInput, ctx: RequestContext| {
                let offload = offload.clone();
                async move {
                    check_size("csv_data", input.csv_data.len(), limit)?;
                    let rows = offload
                        .run(&ctx, move |budget| {
                            transform::csv_to_json(&input.csv_data, MAX_CONVERTED_BYTES, budget)
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    bounded_result(rows.value, rows.text)
                }
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_with_clear_words() {
        assert!(check_size("text", 10, 10).is_ok());
        let e = check_size("csv_data", 11 * 1024 * 1024, DEFAULT_MAX_INPUT_BYTES).unwrap_err();
        assert!(e.starts_with("csv_data is 11.0 MiB"), "{e}");
        assert!(e.contains("at most 10.0 MiB"), "{e}");
        let big = Value::Array(vec![Value::String("x".repeat(100)); 100]);
        assert!(check_value_size("json_data", &big, 100_000).is_ok());
        assert!(check_value_size("json_data", &big, 1000).is_err());
    }

    #[test]
    fn oversized_results_are_refused() {
        assert!(text_result("small".into()).is_ok());
        let e = text_result("\"".repeat(MAX_RESULT_BYTES / 3)).unwrap_err();
        assert!(e.contains("one answer may carry"), "{e}");
    }
}
