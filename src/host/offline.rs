//! The offline assistant: what answers when no LLM is configured, so the
//! whole loop (a request, a tool call through MCP, an answer) works on a
//! fresh machine. It is no language model and says so in every answer: it
//! picks the tool whose name (and, less so, description) best matches the
//! user's words and fills the arguments from the text: numbers for number
//! and integer parameters, quoted strings or the remaining words for string
//! parameters, `true`/`false` for booleans, a JSON literal for arrays and
//! objects.

use super::llm::{shorten, Llm, LlmError, Message, Reply, ToolCall};
use mcp_sdk::Tool;
use mcp_sdk_client::async_trait;
use serde_json::{Map, Number, Value};
use std::collections::HashSet;

/// Every answer of the offline assistant starts with this, so nobody takes
/// it for a model.
pub const OFFLINE_LABEL: &str = "[offline assistant]";

/// Words that say nothing about which tool is meant.
const STOPWORDS: [&str; 34] = [
    "a", "an", "and", "the", "of", "in", "on", "to", "for", "with", "by", "from", "into", "is",
    "are", "be", "it", "this", "that", "me", "my", "please", "can", "you", "what", "how", "do",
    "does", "tell", "give", "use", "call", "run", "then",
];

/// Everyday words for the calculator's operations.
const SYNONYMS: [(&str, &str); 8] = [
    ("plus", "add"),
    ("sum", "add"),
    ("minus", "subtract"),
    ("difference", "subtract"),
    ("times", "multiply"),
    ("product", "multiply"),
    ("quotient", "divide"),
    ("divided", "divide"),
];

/// The offline assistant (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineAssistant;

#[async_trait]
impl Llm for OfflineAssistant {
    fn label(&self) -> String {
        "offline assistant (no LLM configured: set LLM_API_URL, LLM_API_KEY and LLM_MODEL)"
            .to_owned()
    }

    fn is_offline(&self) -> bool {
        true
    }

    async fn complete(&self, messages: &[Message], tools: &[Tool]) -> Result<Reply, LlmError> {
        let reply = match messages.last() {
            Some(Message::Tool { .. }) => summarize(messages),
            Some(Message::User(text)) => plan(text, tools, messages.len()),
            _ => Reply {
                text: Some(format!("{OFFLINE_LABEL} There is nothing to answer.")),
                ..Reply::default()
            },
        };
        Ok(Reply {
            model: "offline-assistant".to_owned(),
            ..reply
        })
    }
}

fn text_reply(text: String) -> Reply {
    Reply {
        text: Some(format!("{OFFLINE_LABEL} {text}")),
        ..Reply::default()
    }
}

/// The words of a text, lower case, split at anything not alphanumeric
/// (so `word_count` is `word`, `count`).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether the user's `word` names `part` of a tool name: equal, a longer
/// form of it ("adds", "words"), or an everyday synonym.
fn names(word: &str, part: &str) -> bool {
    word == part
        || (part.len() >= 3 && word.starts_with(part) && word.len() <= part.len() + 3)
        || SYNONYMS.iter().any(|(s, p)| *s == word && *p == part)
}

/// The parts of a tool's own name, without a gateway's `<server>__` prefix.
fn name_parts(name: &str) -> Vec<String> {
    let own = name.rsplit("__").next().unwrap_or(name);
    words(own)
}

/// How well the user's words match a tool: ten per part of its name they
/// name, five more when they name them all, one per description word.
fn score(user: &[String], tool: &Tool) -> usize {
    let parts = name_parts(&tool.name);
    let named = parts
        .iter()
        .filter(|p| p.len() >= 2 && !STOPWORDS.contains(&p.as_str()))
        .filter(|p| user.iter().any(|w| names(w, p)))
        .count();
    let mut score = named * 10;
    if named > 0 && named == parts.iter().filter(|p| p.len() >= 2).count() {
        score += 5;
    }
    let described: HashSet<String> = words(tool.description.as_deref().unwrap_or_default())
        .into_iter()
        .filter(|w| w.len() >= 4 && !STOPWORDS.contains(&w.as_str()))
        .collect();
    score + described.iter().filter(|d| user.contains(d)).count()
}

/// A user message: call the best-matching tool, or say why not.
fn plan(text: &str, tools: &[Tool], position: usize) -> Reply {
    if tools.is_empty() {
        return text_reply(format!(
            "No language model is configured (set LLM_API_URL, LLM_API_KEY and LLM_MODEL) and \
             there are no tools to use, so I cannot answer. You said: {}",
            shorten(text, 300)
        ));
    }
    let user = words(text);
    let best = tools
        .iter()
        .map(|tool| (score(&user, tool), tool))
        // The first of equals wins: `max_by_key` would take the last.
        .fold(None::<(usize, &Tool)>, |best, (s, tool)| match best {
            Some((b, _)) if b >= s => best,
            _ => Some((s, tool)),
        });
    let Some((points, tool)) = best.filter(|(s, _)| *s >= 2) else {
        let list: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        return text_reply(format!(
            "I am no language model (none is configured), and no tool matches your words. \
             Name a tool and give its arguments, such as \"add 2 and 3\". Tools: {}",
            shorten(&list.join(", "), 1000)
        ));
    };
    tracing::debug!(tool = %tool.name, points, "offline assistant picked a tool");
    match fill_arguments(text, tool) {
        Ok(arguments) => Reply {
            tool_calls: vec![ToolCall {
                id: format!("offline-{position}"),
                name: tool.name.clone(),
                arguments: Value::Object(arguments).to_string(),
            }],
            ..Reply::default()
        },
        Err(missing) => text_reply(format!(
            "I would call {} ({}), but found no value for {} in your message. Numbers are taken \
             in order, text in quotes (\"like this\") or after a colon.",
            tool.name,
            tool.description.as_deref().unwrap_or("no description"),
            missing.join(", ")
        )),
    }
}

/// The JSON types a property schema allows (`type` as a string or a list).
fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The numbers in a text, in order (`-2`, `3.5`; not digits inside words).
fn numbers(text: &str) -> Vec<Number> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '?' | '!'))
        .filter_map(|token| {
            let token = token.trim_end_matches('.');
            if let Ok(i) = token.parse::<i64>() {
                return Some(Number::from(i));
            }
            token
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && token.chars().any(|c| c.is_ascii_digit()))
                .and_then(Number::from_f64)
        })
        .collect()
}

/// The strings in double or single quotes, in order.
fn quoted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['"', '\'', '“']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let close = if quote == '“' { '”' } else { quote };
        let after = &rest[start + quote.len_utf8()..];
        // An apostrophe inside a word ("don't") is no quote.
        if quote == '\'' && start > 0 && rest[..start].ends_with(char::is_alphanumeric) {
            rest = after;
            continue;
        }
        match after.find(close) {
            Some(end) => {
                out.push(after[..end].to_owned());
                rest = &after[end + close.len_utf8()..];
            }
            None => break,
        }
    }
    out
}

/// The words left for a text parameter: what follows a colon, else what
/// follows the last word that named the tool, else what precedes the first.
fn remaining_text(text: &str, tool: &Tool) -> Option<String> {
    if let Some((_, after)) = text.split_once(':') {
        let after = after.trim();
        if !after.is_empty() {
            return Some(after.to_owned());
        }
    }
    let parts = name_parts(&tool.name);
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let is_name = |token: &str| {
        let w = words(token);
        !w.is_empty() && w.iter().all(|w| parts.iter().any(|p| names(w, p)))
    };
    let first = tokens.iter().position(|t| is_name(t));
    let last = tokens.iter().rposition(|t| is_name(t));
    let filler = |t: &&&str| {
        let w = words(t);
        w.len() == 1 && (STOPWORDS.contains(&w[0].as_str()) || w[0] == "text" || w[0] == "case")
    };
    let join = |slice: &[&str]| {
        let kept: Vec<&str> = slice.iter().skip_while(filler).copied().collect();
        Some(kept.join(" ")).filter(|s| !s.is_empty())
    };
    match (first, last) {
        (Some(first), Some(last)) => join(&tokens[last + 1..]).or_else(|| join(&tokens[..first])),
        _ => join(&tokens),
    }
}

/// The arguments for `tool` taken from `text`, or the required parameters
/// no value was found for.
fn fill_arguments(text: &str, tool: &Tool) -> Result<Map<String, Value>, Vec<String>> {
    let empty = Map::new();
    let properties = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // Required parameters first, in the order the schema lists them, so
    // "divide 6 by 3" gives a = 6, b = 3.
    let mut order: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| properties.contains_key(*r))
        .collect();
    order.extend(
        properties
            .keys()
            .map(String::as_str)
            .filter(|k| !required.contains(k)),
    );
    let mut numbers = numbers(text).into_iter();
    let mut quoted = quoted(text).into_iter();
    let string_params = order
        .iter()
        .filter(|k| types(&properties[**k]).contains(&"string"))
        .count();
    let mut remaining = if string_params == 1 {
        remaining_text(text, tool)
    } else {
        None
    };
    let user = words(text);
    let mut arguments = Map::new();
    for name in order {
        let schema = &properties[name];
        let kinds = types(schema);
        let value = if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            options
                .iter()
                .find(|o| o.as_str().is_some_and(|o| user.contains(&o.to_lowercase())))
                .cloned()
        } else if kinds.contains(&"number") || kinds.contains(&"integer") {
            numbers.next().map(Value::Number)
        } else if kinds.contains(&"boolean") {
            user.iter().find_map(|w| match w.as_str() {
                "true" | "yes" => Some(Value::Bool(true)),
                "false" | "no" => Some(Value::Bool(false)),
                _ => None,
            })
        } else if kinds.contains(&"array") || kinds.contains(&"object") {
            json_literal(text)
        } else if kinds.contains(&"string") || kinds.is_empty() {
            quoted
                .next()
                .or_else(|| remaining.take())
                .map(Value::String)
        } else {
            None
        };
        if let Some(value) = value {
            arguments.insert(name.to_owned(), value);
        }
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|r| !arguments.contains_key(**r))
        .filter(|r| {
            properties
                .get(**r)
                .is_none_or(|s| s.get("default").is_none())
        })
        .map(|r| r.to_string())
        .collect();
    if missing.is_empty() {
        Ok(arguments)
    } else {
        Err(missing)
    }
}

/// The first JSON array or object written in the text.
fn json_literal(text: &str) -> Option<Value> {
    let start = text.find(['[', '{'])?;
    serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// The results of the last tool calls, told back to the user.
fn summarize(messages: &[Message]) -> Reply {
    let start = messages
        .iter()
        .rposition(|m| !matches!(m, Message::Tool { .. }))
        .map_or(0, |i| i + 1);
    let lines: Vec<String> = messages[start..]
        .iter()
        .filter_map(|m| match m {
            Message::Tool {
                name,
                content,
                is_error,
                ..
            } => Some(if *is_error {
                format!("{name} failed: {}", shorten(content, 2000))
            } else {
                format!("{name} gave {}", result_text(content))
            }),
            _ => None,
        })
        .collect();
    text_reply(lines.join("\n"))
}

/// A tool's result for people: the value of a one-field object such as
/// `{"result": 5}` is `5`; anything else as it is.
fn result_text(content: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(content) {
        if map.len() == 1 {
            if let Some((_, value)) = map.iter().next() {
                return match value {
                    Value::String(s) => shorten(s, 2000),
                    other => shorten(&other.to_string(), 2000),
                };
            }
        }
    }
    shorten(content, 2000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, description: &str, schema: Value) -> Tool {
        Tool::new(name, description, schema.as_object().unwrap().clone())
    }

    fn calc(name: &str, description: &str) -> Tool {
        tool(
            name,
            description,
            json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
        )
    }

    fn text_tool(name: &str, description: &str) -> Tool {
        tool(
            name,
            description,
            json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        )
    }

    fn tools() -> Vec<Tool> {
        vec![
            calc("tools__add", "Adds two numbers: a + b."),
            calc("tools__subtract", "Subtracts b from a: a - b."),
            calc("tools__divide", "Divides a by b."),
            text_tool("tools__word_count", "Counts the words of a text."),
            text_tool("tools__character_count", "Counts the characters of a text."),
            text_tool("tools__to_upper_case", "Converts a text to upper case."),
        ]
    }

    fn call(text: &str) -> (String, Value) {
        let reply = plan(text, &tools(), 1);
        assert!(reply.text.is_none(), "{text}: {:?}", reply.text);
        let call = &reply.tool_calls[0];
        (
            call.name.clone(),
            serde_json::from_str(&call.arguments).unwrap(),
        )
    }

    #[test]
    fn picks_tools_and_fills_arguments() {
        assert_eq!(
            call("add 2 and 3"),
            ("tools__add".into(), json!({"a": 2, "b": 3}))
        );
        assert_eq!(
            call("what is 7.5 minus -2?"),
            ("tools__subtract".into(), json!({"a": 7.5, "b": -2}))
        );
        assert_eq!(
            call("count the words in \"hello big world\""),
            (
                "tools__word_count".into(),
                json!({"text": "hello big world"})
            )
        );
        assert_eq!(
            call("word count: one two three"),
            ("tools__word_count".into(), json!({"text": "one two three"}))
        );
        assert_eq!(
            call("to upper case hello there"),
            (
                "tools__to_upper_case".into(),
                json!({"text": "hello there"})
            )
        );
    }

    #[test]
    fn says_what_is_missing_or_unmatched() {
        let reply = plan("add 2", &tools(), 1);
        let text = reply.text.unwrap();
        assert!(
            text.starts_with(OFFLINE_LABEL) && text.contains("no value for b"),
            "{text}"
        );
        let reply = plan("sing me a song", &tools(), 1);
        assert!(reply.text.unwrap().contains("no tool matches"));
        let reply = plan("hello", &[], 1);
        assert!(reply.text.unwrap().contains("No language model"));
    }

    #[test]
    fn summarizes_results() {
        let messages = [
            Message::User("add 2 and 3".into()),
            Message::Tool {
                call_id: "1".into(),
                name: "add".into(),
                content: r#"{"result":5}"#.into(),
                is_error: false,
            },
        ];
        assert_eq!(
            summarize(&messages).text.unwrap(),
            format!("{OFFLINE_LABEL} add gave 5")
        );
    }
}
