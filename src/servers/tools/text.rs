//! The seed's `TextProcessor`: word, character and sentence counts and case
//! conversion, with Python's notions of whitespace (`str.split`,
//! `str.strip`) and of a character (a Unicode code point, as `len`
//! counts).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The input of every text tool.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TextInput {
    /// The text to process.
    pub text: String,
}

/// A count.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CountResult {
    /// How many there are.
    pub result: u64,
}

/// A converted text.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TextResult {
    /// The converted text.
    pub result: String,
}

/// Python's `str.isspace`: Unicode `White_Space` plus the four ASCII
/// separator controls (U+001C to U+001F) Python counts as whitespace.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Words as Python's `text.split()` finds them: runs of non-whitespace.
pub fn word_count(text: &str) -> u64 {
    text.split(is_py_space).filter(|w| !w.is_empty()).count() as u64
}

/// Characters as Python's `len(text)` counts them: code points.
pub fn character_count(text: &str) -> u64 {
    text.chars().count() as u64
}

/// Sentences as the seed counts them: pieces between `.`, `!` and `?` that
/// hold something other than whitespace.
pub fn sentence_count(text: &str) -> u64 {
    text.split(['.', '!', '?'])
        .filter(|s| s.chars().any(|c| !is_py_space(c)))
        .count() as u64
}

/// Upper case, with Unicode's full mappings (`ß` becomes `SS`), as Python's
/// `str.upper`.
pub fn to_upper_case(text: &str) -> String {
    text.to_uppercase()
}

/// Lower case, with Unicode's full mappings (a final sigma becomes `ς`), as
/// Python's `str.lower`.
pub fn to_lower_case(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_python() {
        // len("  hello   world\tagain\n".split()) == 3
        assert_eq!(word_count("  hello   world\tagain\n"), 3);
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("a\u{1f}b\u{a0}c"), 3);
        // len("héllo") == 5
        assert_eq!(character_count("héllo"), 5);
        assert_eq!(character_count("🦀!"), 2);
        assert_eq!(sentence_count("One. Two! Three? ... Four"), 4);
        assert_eq!(sentence_count("   "), 0);
        assert_eq!(sentence_count("no end"), 1);
    }

    #[test]
    fn case_conversion_matches_python() {
        assert_eq!(to_upper_case("straße"), "STRASSE");
        // "ΟΔΟΣ".lower() == "οδος"
        assert_eq!(to_lower_case("ΟΔΟΣ"), "οδος");
        assert_eq!(to_lower_case("Hello WORLD"), "hello world");
    }
}
