//! The tools a model may call inside `ask_with_tools`' sampling: the seed's
//! calculator (add, subtract, multiply, divide, power) and a clock. They run
//! here, in the server; the model's input is checked like any tool input.

use crate::servers::utc_timestamp;
use mcp_sdk::{ContentBlock, Tool, ToolResultContent, ToolUseContent};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::SystemTime;

/// The most tool uses answered in one model turn.
pub const MAX_USES_PER_TURN: usize = 16;

/// The calculator's operations (the seed's `Calculator`).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `a + b`.
    Add,
    /// `a - b`.
    Subtract,
    /// `a * b`.
    Multiply,
    /// `a / b`.
    Divide,
    /// `a` to the power `b`.
    Power,
}

/// The calculator's input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalculatorInput {
    /// What to compute.
    pub operation: Operation,
    /// The first operand.
    pub a: f64,
    /// The second operand.
    pub b: f64,
}

/// The clock's input: nothing.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ClockInput {}

/// The tools offered to the model.
pub fn definitions() -> Vec<Tool> {
    vec![
        Tool::new(
            "calculator",
            "Computes a + b, a - b, a * b, a / b or a to the power b.",
            mcp_sdk_server::schema_for::<CalculatorInput>(),
        ),
        Tool::new(
            "clock",
            "Tells the current date and time in UTC (RFC 3339).",
            mcp_sdk_server::schema_for::<ClockInput>(),
        ),
    ]
}

/// The calculator.
pub fn calculate(input: &CalculatorInput) -> Result<f64, String> {
    let (a, b) = (input.a, input.b);
    let result = match input.operation {
        Operation::Add => a + b,
        Operation::Subtract => a - b,
        Operation::Multiply => a * b,
        Operation::Divide if b == 0.0 => return Err("Division by zero".to_owned()),
        Operation::Divide => a / b,
        Operation::Power => a.powf(b),
    };
    if result.is_finite() {
        Ok(result)
    } else {
        Err("the result is not a finite number".to_owned())
    }
}

/// Whole numbers without a fraction (`42`, not `42.0`).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Runs one tool use of the model and returns its result block.
pub fn run(tool_use: &ToolUseContent) -> ToolResultContent {
    let input = Value::Object(tool_use.input.clone());
    let outcome: Result<Value, String> = match tool_use.name.as_str() {
        "calculator" => serde_json::from_value::<CalculatorInput>(input)
            .map_err(|e| format!("invalid input for calculator: {e}"))
            .and_then(|i| calculate(&i))
            .map(|r| json!({ "result": number(r) })),
        "clock" => Ok(json!({ "utc": utc_timestamp(SystemTime::now()) })),
        other => Err(format!(
            "unknown tool {other:?}; the tools are calculator and clock"
        )),
    };
    let mut result = ToolResultContent::new(tool_use.id.clone(), Vec::new());
    match outcome {
        Ok(value) => {
            let text = match (&value["result"], &value["utc"]) {
                (Value::Number(n), _) => n.to_string(),
                (_, Value::String(t)) => t.clone(),
                _ => value.to_string(),
            };
            result.content = vec![ContentBlock::text(text)];
            result.structured_content = Some(value);
        }
        Err(message) => {
            result.content = vec![ContentBlock::text(message)];
            result.is_error = Some(true);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn use_of(name: &str, input: Value) -> ToolUseContent {
        ToolUseContent::new("u1", name, input.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn the_calculator_computes_and_refuses() {
        let r = run(&use_of(
            "calculator",
            json!({"operation": "power", "a": 2, "b": 10}),
        ));
        assert_eq!(r.tool_use_id, "u1");
        assert_eq!(r.content[0].as_text(), Some("1024"));
        assert_eq!(r.is_error, None);
        let r = run(&use_of(
            "calculator",
            json!({"operation": "divide", "a": 1, "b": 0}),
        ));
        assert_eq!(r.is_error, Some(true));
        assert_eq!(r.content[0].as_text(), Some("Division by zero"));
        let r = run(&use_of(
            "calculator",
            json!({"operation": "modulo", "a": 1, "b": 2}),
        ));
        assert!(r.content[0]
            .as_text()
            .unwrap()
            .starts_with("invalid input for calculator"));
        let r = run(&use_of(
            "calculator",
            json!({"operation": "power", "a": 10, "b": 400}),
        ));
        assert_eq!(r.is_error, Some(true));
    }

    #[test]
    fn the_clock_and_unknown_tools() {
        let r = run(&use_of("clock", json!({})));
        let t = r.content[0].as_text().unwrap();
        assert!(t.len() == 20 && t.ends_with('Z'), "{t}");
        let r = run(&use_of("shell", json!({"cmd": "rm -rf /"})));
        assert_eq!(r.is_error, Some(true));
        assert!(r.content[0]
            .as_text()
            .unwrap()
            .contains("unknown tool \"shell\""));
    }
}
