//! Reading a sentiment out of a model's answer, robustly: a JSON object
//! anywhere in the text (fenced, quoted, surrounded by prose; keys `label` or
//! `sentiment`, `confidence` or `score`, as numbers, strings or
//! percentages), else the first label word and a number after "confidence".

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// A sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    /// Favourable.
    Positive,
    /// Unfavourable.
    Negative,
    /// Neither.
    Neutral,
    /// Both.
    Mixed,
}

const WORDS: [(&str, SentimentLabel); 4] = [
    ("positive", SentimentLabel::Positive),
    ("negative", SentimentLabel::Negative),
    ("neutral", SentimentLabel::Neutral),
    ("mixed", SentimentLabel::Mixed),
];

/// The most JSON object candidates tried in one answer.
const MAX_CANDIDATES: usize = 32;

/// The label and the confidence (0 to 1, if given) in a model's answer.
pub fn parse(answer: &str) -> Option<(SentimentLabel, Option<f64>)> {
    json_objects(answer)
        .into_iter()
        .take(MAX_CANDIDATES)
        .filter_map(|candidate| match serde_json::from_str(candidate) {
            Ok(Value::Object(map)) => from_object(&map),
            _ => None,
        })
        .next()
        .or_else(|| from_prose(answer))
}

fn from_object(map: &Map<String, Value>) -> Option<(SentimentLabel, Option<f64>)> {
    let get = |keys: &[&str]| {
        map.iter()
            .find(|(k, _)| keys.contains(&k.to_ascii_lowercase().as_str()))
            .map(|(_, v)| v)
    };
    let label = get(&["label", "sentiment", "classification", "class", "polarity"])?;
    let label = match label {
        Value::String(s) => label_of(s)?,
        // {"sentiment": {"label": ..., "confidence": ...}}
        Value::Object(inner) => return from_object(inner),
        _ => return None,
    };
    let confidence =
        get(&["confidence", "score", "probability", "certainty"]).and_then(|v| match v {
            Value::Number(n) => n.as_f64().and_then(normalize),
            Value::String(s) => number_at_start(s.trim()),
            _ => None,
        });
    Some((label, confidence))
}

fn label_of(text: &str) -> Option<SentimentLabel> {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "pos" | "+" => return Some(SentimentLabel::Positive),
        "neg" | "-" => return Some(SentimentLabel::Negative),
        "neu" => return Some(SentimentLabel::Neutral),
        _ => {}
    }
    first_label_word(&t).map(|(_, l)| l)
}

/// The earliest label word in `lower` (as a whole word), with its position.
fn first_label_word(lower: &str) -> Option<(usize, SentimentLabel)> {
    WORDS
        .iter()
        .filter_map(|(word, label)| {
            lower.match_indices(word).find_map(|(i, _)| {
                let before = lower[..i].chars().next_back();
                let after = lower[i + word.len()..].chars().next();
                let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
                (boundary(before) && boundary(after)).then_some((i, *label))
            })
        })
        .min_by_key(|(i, _)| *i)
}

fn from_prose(answer: &str) -> Option<(SentimentLabel, Option<f64>)> {
    let lower = answer.to_ascii_lowercase();
    let (_, label) = first_label_word(&lower)?;
    let confidence = lower.find("confiden").and_then(|i| {
        let after: String = lower[i..].chars().take(60).collect();
        let start = after.find(|c: char| c.is_ascii_digit())?;
        number_at_start(&after[start..])
    });
    Some((label, confidence))
}

/// A number at the start of `s` (`0.8`, `85%`, `85 %`), as 0 to 1.
fn number_at_start(s: &str) -> Option<f64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let number: f64 = s[..end].trim_end_matches('.').parse().ok()?;
    if s[end..].trim_start().starts_with('%') {
        normalize_percent(number)
    } else {
        normalize(number)
    }
}

/// 0 to 1 as is; 1 to 100 read as a percentage; anything else dropped.
fn normalize(x: f64) -> Option<f64> {
    if (0.0..=1.0).contains(&x) {
        Some(x)
    } else {
        normalize_percent(x)
    }
}

fn normalize_percent(x: f64) -> Option<f64> {
    (0.0..=100.0).contains(&x).then_some(x / 100.0)
}

/// Balanced `{...}` spans of `text`, outermost first, strings respected.
fn json_objects(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(open) = text[start..].find('{').map(|i| start + i) {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut end = None;
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        match end {
            Some(end) => {
                found.push(&text[open..=end]);
                start = open + 1;
            }
            None => start = open + 1,
        }
        if found.len() >= MAX_CANDIDATES {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use SentimentLabel::*;

    #[test]
    fn json_answers_in_every_dress() {
        assert_eq!(
            parse(r#"{"label": "positive", "confidence": 0.93}"#),
            Some((Positive, Some(0.93)))
        );
        assert_eq!(
            parse("Sure! Here it is:\n```json\n{\"Sentiment\": \"Negative\", \"score\": \"87%\"}\n```"),
            Some((Negative, Some(0.87)))
        );
        assert_eq!(
            parse(r#"{"label": "NEU", "confidence": 75}"#),
            Some((Neutral, Some(0.75)))
        );
        assert_eq!(
            parse(r#"{"result": {"sentiment": "mixed", "confidence": 2000}}"#),
            Some((Mixed, None))
        );
        assert_eq!(
            parse(r#"{"note": "a } in a string", "label": "positive"}"#),
            Some((Positive, None))
        );
    }

    #[test]
    fn prose_answers() {
        assert_eq!(
            parse("The sentiment is clearly negative (confidence: 0.8)."),
            Some((Negative, Some(0.8)))
        );
        assert_eq!(
            parse("Mixed feelings here; confidence around 60 %"),
            Some((Mixed, Some(0.6)))
        );
        assert_eq!(parse("Positive."), Some((Positive, None)));
        // Whole words only.
        assert_eq!(parse("nonpositive-ish"), None);
        assert_eq!(parse("I cannot tell."), None);
        assert_eq!(parse("{not json} and nothing else"), None);
    }
}
