//! The seed's `DataTransformer`: JSON rows to CSV and CSV to JSON rows,
//! with the seed's number detection, progress reports on long inputs and
//! cancellation between chunks of rows.
//!
//! Both transforms are plain (blocking) functions, linear in their input:
//! the server runs them on a blocking thread under a time budget (see the
//! module above), and they check the [`Monitor`] between chunks of rows or
//! of input bytes, so they stop soon after a cancellation or the end of
//! the budget. Each builds its answer once, refusing it as soon as the
//! text passes `max_output` bytes rather than after it is built.
//!
//! CSV written here neutralises formula cells the way OWASP's "CSV
//! Injection" page recommends ([`csv::neutralise`]): a text value (or
//! column name) starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return gets a `'` in front and is quoted, so a spreadsheet shows it as
//! text instead of running it.
//! Numbers, and text that is a signed plain number (`"-3"`), are left as
//! they are: a spreadsheet reads them as numbers.

use super::csv::{self, Reader};
use super::text::is_py_space;
use schemars::JsonSchema;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// Rows between two checks of the monitor (and possible progress reports).
const CHUNK: usize = 1000;

/// Input (or output) bytes between two checks of the monitor, for inputs
/// whose rows are long.
const CHUNK_BYTES: usize = 256 * 1024;

/// The input of `json_to_csv`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct JsonToCsvInput {
    /// The rows: an array of objects (`[{"name": "Ada", "age": 36}]`), or
    /// a string holding that JSON. Anything else that is not a non-empty
    /// array gives an empty CSV, as in the seed.
    pub json_data: Value,
    /// The columns, in order. By default the keys of the first row: in the
    /// order written when `json_data` is a JSON string, alphabetical when
    /// it is an array (JSON objects have no order once decoded).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
}

/// The input of `csv_to_json`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct CsvToJsonInput {
    /// CSV text whose first row names the columns. Fields are separated
    /// by commas and may be quoted with `"`.
    pub csv_data: String,
}

/// What `json_to_csv` answers.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CsvText {
    /// The CSV text: a header row, then one row per object, each ending
    /// with `\r\n`; empty when there were no rows. Text cells that a
    /// spreadsheet would take as a formula start with `'`.
    pub result: String,
}

/// A CSV value after the seed's number detection.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Cell {
    /// Digits only: an integer.
    Integer(i64),
    /// Digits with one `.`: a float.
    Float(f64),
    /// Anything else, as written.
    Text(String),
}

/// The schema of what `csv_to_json` answers (the answer itself is built
/// in column order, which a map does not keep).
#[derive(Debug, Clone, JsonSchema)]
pub struct JsonRowsSchema {
    /// One object per CSV row, keyed by the header's names.
    pub result: Vec<BTreeMap<String, Cell>>,
}

/// The rows read from a CSV text, as the answer carries them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonRows {
    /// `{"result": [...]}` with each row's keys in column order.
    pub text: String,
    /// The same as a JSON value (whose objects forget the column order).
    pub value: Value,
    /// How many rows.
    pub rows: usize,
}

fn cell_value(c: Cell) -> Value {
    match c {
        Cell::Integer(i) => i.into(),
        Cell::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cell::Text(s) => s.into(),
    }
}

struct OrderedRow<'a>(&'a [String], &'a [Cell]);

impl Serialize for OrderedRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter().zip(self.1) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Why a transform stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformError {
    /// The input is not what the transform needs; the text says why.
    Invalid(String),
    /// The answer would be longer than the transform may give.
    TooLarge {
        /// The most the answer's text may take, in bytes.
        limit: usize,
    },
    /// The transform ran out of its time budget.
    OverBudget(Duration),
    /// The client cancelled the request.
    Cancelled,
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::Invalid(why) => f.write_str(why),
            TransformError::TooLarge { limit } => write!(
                f,
                "the result would be longer than the {limit} bytes one answer may carry; \
                 split the input into smaller parts"
            ),
            TransformError::OverBudget(budget) => write!(
                f,
                "the conversion took longer than the {:.1} s this server allows one call; \
                 split the input into smaller parts",
                budget.as_secs_f64()
            ),
            TransformError::Cancelled => f.write_str("the request was cancelled"),
        }
    }
}

impl std::error::Error for TransformError {}

/// What a long transform answers to while it runs: the server's budget and
/// the request's cancellation and progress, a recorder in tests. Called
/// from the thread doing the work, so neither method may block.
pub trait Monitor: Send + Sync {
    /// Whether to stop now: cancelled, or out of time.
    fn check(&self) -> Result<(), TransformError>;
    /// Reports `done` of `total`.
    fn progress(&self, done: u64, total: u64, message: String);
}

/// Tracks what has been reported, so that progress only grows and comes at
/// most once per percent, and when the monitor was last asked.
struct Reporter<'m, M> {
    monitor: &'m M,
    total: u64,
    last: Option<u64>,
    last_percent: u64,
    rows_at_check: usize,
    bytes_at_check: usize,
}

impl<'m, M: Monitor> Reporter<'m, M> {
    fn new(monitor: &'m M, total: u64) -> Self {
        Reporter {
            monitor,
            total,
            last: None,
            last_percent: 0,
            rows_at_check: 0,
            bytes_at_check: 0,
        }
    }

    /// After each row: every [`CHUNK`] rows or [`CHUNK_BYTES`] bytes, stop
    /// if the monitor says so and report progress.
    fn row_done(&mut self, done: u64, rows: usize, bytes: usize) -> Result<(), TransformError> {
        if rows - self.rows_at_check < CHUNK && bytes - self.bytes_at_check < CHUNK_BYTES {
            return Ok(());
        }
        self.rows_at_check = rows;
        self.bytes_at_check = bytes;
        self.monitor.check()?;
        let percent = done.saturating_mul(100) / self.total.max(1);
        if percent > self.last_percent && self.last.is_none_or(|l| done > l) {
            self.last_percent = percent;
            self.last = Some(done);
            self.monitor
                .progress(done, self.total, format!("{rows} rows so far"));
        }
        Ok(())
    }

    fn finish(&mut self, rows: usize) -> Result<(), TransformError> {
        self.monitor.check()?;
        if self.last.is_none_or(|l| self.total > l) {
            self.monitor
                .progress(self.total, self.total, format!("{rows} rows done"));
        }
        Ok(())
    }
}

/// The seed's number detection: a value whose stripped text is digits with
/// at most one `.` becomes a float (with a `.`) or an integer (without);
/// everything else, negative numbers included, stays text.
///
/// Python's `isdigit` also accepts non-ASCII digits; only ASCII ones count
/// here. Integers beyond 64 bits become floats (Python keeps them exact).
pub fn detect_number(value: String) -> Cell {
    let t = value.trim_matches(is_py_space);
    let mut dots = 0;
    let numeric = !t.is_empty()
        && t.bytes().all(|b| {
            dots += usize::from(b == b'.');
            b.is_ascii_digit() || b == b'.'
        })
        && dots <= 1
        && t.len() > dots;
    if !numeric {
        return Cell::Text(value);
    }
    if dots == 0 {
        if let Ok(i) = t.parse::<i64>() {
            return Cell::Integer(i);
        }
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Cell::Float(f),
        _ => Cell::Text(value),
    }
}

/// CSV text to rows: the header names the columns, blank lines are
/// skipped, each other row must have one field per column. A repeated
/// column name keeps its first position and its last value (as a Python
/// `dict` built from the row does). Refused once the answer's text passes
/// `max_output` bytes.
pub fn csv_to_json(
    csv: &str,
    max_output: usize,
    monitor: &impl Monitor,
) -> Result<JsonRows, TransformError> {
    let invalid = |e: csv::CsvError| TransformError::Invalid(format!("bad CSV: {e}"));
    let mut reporter = Reporter::new(monitor, csv.len() as u64);
    let mut reader = Reader::new(csv);
    let empty = || JsonRows {
        text: r#"{"result":[]}"#.into(),
        value: serde_json::json!({ "result": [] }),
        rows: 0,
    };
    let header = match reader.next_record() {
        None => return Ok(empty()),
        Some(r) => r.map_err(invalid)?.fields,
    };
    // Each name's column, found by hashing: a header of 150,000 names
    // must not cost 150,000² comparisons.
    let mut columns: Vec<String> = Vec::new();
    let mut column_of: HashMap<&str, usize> = HashMap::with_capacity(header.len());
    let slots: Vec<usize> = header
        .iter()
        .map(|name| {
            *column_of.entry(name.as_str()).or_insert_with(|| {
                columns.push(name.clone());
                columns.len() - 1
            })
        })
        .collect();
    drop(column_of);
    let mut text: Vec<u8> = br#"{"result":["#.to_vec();
    let mut values: Vec<Value> = Vec::new();
    while let Some(record) = reader.next_record() {
        let record = record.map_err(invalid)?;
        if record.fields.is_empty() {
            continue;
        }
        if record.fields.len() != header.len() {
            return Err(TransformError::Invalid(format!(
                "bad CSV: row {} (line {}) has {} field{} but the header has {}",
                values.len() + 1,
                record.line,
                record.fields.len(),
                if record.fields.len() == 1 { "" } else { "s" },
                header.len()
            )));
        }
        let mut cells = vec![Cell::Text(String::new()); columns.len()];
        for (value, &slot) in record.fields.into_iter().zip(&slots) {
            cells[slot] = detect_number(value);
        }
        if !values.is_empty() {
            text.push(b',');
        }
        serde_json::to_writer(&mut text, &OrderedRow(&columns, &cells))
            .expect("rows of strings and numbers serialize");
        if text.len() + 2 > max_output {
            return Err(TransformError::TooLarge { limit: max_output });
        }
        let row: Map<String, Value> = columns
            .iter()
            .cloned()
            .zip(cells.into_iter().map(cell_value))
            .collect();
        values.push(Value::Object(row));
        reporter.row_done(reader.position() as u64, values.len(), reader.position())?;
    }
    reporter.finish(values.len())?;
    text.extend_from_slice(b"]}");
    let rows = values.len();
    Ok(JsonRows {
        text: String::from_utf8(text).expect("serde_json writes UTF-8"),
        value: serde_json::json!({ "result": Value::Array(values) }),
        rows,
    })
}

/// Rows to CSV text, as the seed's `csv.DictWriter` wrote them: a header
/// of `columns` (by default the first row's keys), then each row's values
/// in that order, missing ones empty. `first_keys` is the first row's key
/// order when the caller knows it. Formula-like text is neutralised (see
/// the module docs). Refused once the text passes `max_output` bytes.
pub fn json_to_csv(
    data: &Value,
    columns: Option<Vec<String>>,
    first_keys: Option<Vec<String>>,
    max_output: usize,
    monitor: &impl Monitor,
) -> Result<String, TransformError> {
    let rows = match data {
        Value::Array(rows) if !rows.is_empty() => rows,
        _ => return Ok(String::new()),
    };
    let object = |i: usize| -> Result<&Map<String, Value>, TransformError> {
        rows[i].as_object().ok_or_else(|| {
            TransformError::Invalid(format!(
                "json_data[{i}] is {}, not an object: json_to_csv needs an array of objects",
                kind(&rows[i])
            ))
        })
    };
    let header = match columns {
        Some(c) => c,
        None => first_keys.unwrap_or_else(|| {
            object(0)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        }),
    };
    // Looked up by hashing: a 100,000-key object must not cost 100,000²
    // comparisons.
    let known: HashSet<&str> = header.iter().map(String::as_str).collect();
    let mut reporter = Reporter::new(monitor, rows.len() as u64);
    let mut out = String::new();
    let names: Vec<String> = header.iter().map(|h| csv::neutralise(h)).collect();
    csv::write_row(&mut out, &names);
    drop(names);
    let mut fields: Vec<String> = Vec::with_capacity(header.len());
    for i in 0..rows.len() {
        let row = object(i)?;
        let extra: Vec<String> = row
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .map(|k| format!("'{k}'"))
            .collect();
        if !extra.is_empty() {
            return Err(TransformError::Invalid(format!(
                "json_data[{i}] has fields not in the header: {} (the header is the first row's keys, or `columns`)",
                extra.join(", ")
            )));
        }
        fields.clear();
        fields.extend(header.iter().map(|k| match row.get(k) {
            Some(Value::String(s)) => csv::neutralise(s),
            Some(v) => py_str(v),
            None => String::new(),
        }));
        csv::write_row(&mut out, &fields);
        if out.len() > max_output {
            return Err(TransformError::TooLarge { limit: max_output });
        }
        reporter.row_done(i as u64 + 1, i + 1, out.len())?;
    }
    reporter.finish(rows.len())?;
    Ok(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON value as Python's `str` writes it into a CSV field: `None` empty,
/// booleans `True`/`False`, floats in `repr` form (`1.0`, `1e+16`).
/// Nested arrays and objects are written as compact JSON (Python would
/// write its own `repr`, which nothing else reads).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) if n.is_f64() => py_float_repr(n.as_f64().unwrap_or(f64::NAN)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Python's `repr(float)`: the shortest digits that read back the same,
/// in fixed notation for exponents from -4 to 15, scientific otherwise.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{f:e}"); // shortest round-trip digits, e.g. "-1.25e-7"
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} has a decimal exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        if exp < 0 {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        } else {
            let point = exp as usize + 1;
            if digits.len() > point {
                format!("{sign}{}.{}", &digits[..point], &digits[point..])
            } else {
                format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
            }
        }
    } else {
        let rest = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{rest}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

/// The keys of the first object of a JSON array text, in the order
/// written (later duplicates dropped), or `None` if the text is not an
/// array starting with an object.
pub fn first_object_keys(json: &str) -> Option<Vec<String>> {
    struct FirstKeys(Vec<String>);
    struct KeysInOrder(Vec<String>);

    impl<'de> Deserialize<'de> for KeysInOrder {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = KeysInOrder;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeysInOrder, A::Error> {
                    let mut keys: Vec<String> = Vec::new();
                    let mut seen: HashSet<String> = HashSet::new();
                    while let Some(k) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        if seen.insert(k.clone()) {
                            keys.push(k);
                        }
                    }
                    Ok(KeysInOrder(keys))
                }
            }
            d.deserialize_map(V)
        }
    }

    impl<'de> Deserialize<'de> for FirstKeys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = FirstKeys;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an array")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstKeys, A::Error> {
                    let first = seq.next_element::<KeysInOrder>()?;
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(FirstKeys(first.map(|k| k.0).unwrap_or_default()))
                }
            }
            d.deserialize_seq(V)
        }
    }

    serde_json::from_str::<FirstKeys>(json).ok().map(|k| k.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// No limit on the output, for the tests of the conversions themselves.
    const UNBOUNDED: usize = usize::MAX;

    #[derive(Default)]
    struct Recorder {
        cancel_after_first: bool,
        cancelled: AtomicBool,
        checks: AtomicUsize,
        reports: Mutex<Vec<(u64, u64)>>,
    }

    impl Monitor for Recorder {
        fn check(&self) -> Result<(), TransformError> {
            self.checks.fetch_add(1, Ordering::SeqCst);
            if self.cancelled.load(Ordering::SeqCst) {
                return Err(TransformError::Cancelled);
            }
            Ok(())
        }
        fn progress(&self, done: u64, total: u64, _message: String) {
            self.reports.lock().unwrap().push((done, total));
            if self.cancel_after_first {
                self.cancelled.store(true, Ordering::SeqCst);
            }
        }
    }

    fn c2j(csv: &str) -> Result<String, TransformError> {
        let rows = csv_to_json(csv, UNBOUNDED, &Recorder::default())?;
        // The text and the value say the same.
        assert_eq!(
            serde_json::from_str::<Value>(&rows.text).unwrap(),
            rows.value
        );
        Ok(rows.text)
    }

    fn j2c(data: Value) -> Result<String, TransformError> {
        json_to_csv(&data, None, None, UNBOUNDED, &Recorder::default())
    }

    #[test]
    fn csv_to_json_matches_the_seed() {
        // Outputs of the seed's Python on the same inputs.
        assert_eq!(
            c2j("a,b\n1,2.5\n").unwrap(),
            r#"{"result":[{"a":1,"b":2.5}]}"#
        );
        assert_eq!(
            c2j("a,b\r\n\"x, y\",\"q\"\"z\"\r\n\r\n3, 4 \n").unwrap(),
            r#"{"result":[{"a":"x, y","b":"q\"z"},{"a":3,"b":4}]}"#
        );
        assert_eq!(c2j("a,a\n1,2\n").unwrap(), r#"{"result":[{"a":2}]}"#);
        assert_eq!(
            c2j("a\n.5\n5.\n.\n007\n-3\n1.2.3\n").unwrap(),
            r#"{"result":[{"a":0.5},{"a":5.0},{"a":"."},{"a":7},{"a":"-3"},{"a":"1.2.3"}]}"#
        );
        assert_eq!(c2j("z,a\n1,2\n").unwrap(), r#"{"result":[{"z":1,"a":2}]}"#);
        assert_eq!(c2j("").unwrap(), r#"{"result":[]}"#);
        assert_eq!(c2j("only,header\n").unwrap(), r#"{"result":[]}"#);
        assert_eq!(
            c2j("n\n99999999999999999999\n").unwrap(),
            r#"{"result":[{"n":1e+20}]}"#
        );
    }

    #[test]
    fn csv_to_json_refuses_bad_csv() {
        let e = c2j("a,b\n1,2\n3\n").unwrap_err().to_string();
        assert!(
            e.contains("row 2 (line 3) has 1 field but the header has 2"),
            "{e}"
        );
        let e = c2j("a,b\n1,2,3\n").unwrap_err().to_string();
        assert!(e.contains("has 3 fields"), "{e}");
        let e = c2j("a\n\"never closed\n").unwrap_err().to_string();
        assert!(e.contains("never closed"), "{e}");
    }

    #[test]
    fn json_to_csv_matches_the_seed() {
        let csv = json_to_csv(
            &json!([{"a": 1, "b": "x,y"}, {"a": 1.0, "b": "q\""}]),
            None,
            Some(vec!["a".into(), "b".into()]),
            UNBOUNDED,
            &Recorder::default(),
        )
        .unwrap();
        assert_eq!(csv, "a,b\r\n1,\"x,y\"\r\n1.0,\"q\"\"\"\r\n");
        assert_eq!(
            j2c(json!([{"a": null, "b": true}])).unwrap(),
            "a,b\r\n,True\r\n"
        );
        assert_eq!(j2c(json!([{"a": ""}])).unwrap(), "a\r\n\"\"\r\n");
        assert_eq!(j2c(json!([{"a": 1}, {}])).unwrap(), "a\r\n1\r\n\"\"\r\n");
        assert_eq!(j2c(json!([])).unwrap(), "");
        assert_eq!(j2c(json!({"a": 1})).unwrap(), "");
        assert_eq!(j2c(json!("text")).unwrap(), "");
        assert_eq!(j2c(json!([{"a": [1, 2]}])).unwrap(), "a\r\n\"[1,2]\"\r\n");
    }

    #[test]
    fn json_to_csv_refuses_what_dictwriter_refuses() {
        let e = j2c(json!([{"a": 1}, {"a": 2, "c": 3}]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("json_data[1] has fields not in the header: 'c'"),
            "{e}"
        );
        let e = j2c(json!([1, 2])).unwrap_err().to_string();
        assert!(e.contains("json_data[0] is a number, not an object"), "{e}");
        let e = j2c(json!([{"a": 1}, "x"])).unwrap_err().to_string();
        assert!(e.contains("json_data[1] is a string"), "{e}");
    }

    #[test]
    fn floats_are_written_as_python_repr() {
        // repr() of each, from CPython.
        for (f, s) in [
            (1e16, "1e+16"),
            (1e-5, "1e-05"),
            (0.1, "0.1"),
            (123456789.123, "123456789.123"),
            (-0.0, "-0.0"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (2.5, "2.5"),
            (100.0, "100.0"),
            (-1e300, "-1e+300"),
        ] {
            assert_eq!(py_float_repr(f), s, "{f}");
        }
    }

    #[test]
    fn first_keys_keep_the_written_order() {
        assert_eq!(
            first_object_keys(r#"[{"z": 1, "a": {"x": 1}, "z": 2, "m": []}, 5]"#),
            Some(vec!["z".into(), "a".into(), "m".into()])
        );
        assert_eq!(first_object_keys("[]"), Some(vec![]));
        assert_eq!(first_object_keys("{}"), None);
        assert_eq!(first_object_keys("[1]"), None);
    }

    #[test]
    fn long_transforms_report_progress_and_stop_when_cancelled() {
        let mut csv = String::from("id,name\n");
        for i in 0..5000 {
            csv.push_str(&format!("{i},row {i}\n"));
        }
        let recorder = Recorder::default();
        let rows = csv_to_json(&csv, UNBOUNDED, &recorder).unwrap();
        assert_eq!(rows.rows, 5000);
        let reports = recorder.reports.lock().unwrap().clone();
        assert!(reports.len() >= 5, "{reports:?}");
        assert!(reports.windows(2).all(|w| w[0].0 < w[1].0), "{reports:?}");
        assert_eq!(
            *reports.last().unwrap(),
            (csv.len() as u64, csv.len() as u64)
        );

        let cancelling = Recorder {
            cancel_after_first: true,
            ..Default::default()
        };
        assert_eq!(
            csv_to_json(&csv, UNBOUNDED, &cancelling),
            Err(TransformError::Cancelled)
        );
        assert_eq!(cancelling.reports.lock().unwrap().len(), 1);

        let data = Value::Array((0..3000).map(|i| json!({"i": i})).collect());
        let cancelling = Recorder {
            cancel_after_first: true,
            ..Default::default()
        };
        let r = json_to_csv(&data, None, None, UNBOUNDED, &cancelling);
        assert_eq!(r, Err(TransformError::Cancelled));
        assert_eq!(*cancelling.reports.lock().unwrap(), vec![(1000, 3000)]);
    }

    #[test]
    fn formula_text_is_neutralised_and_numbers_are_not() {
        let csv = json_to_csv(
            &json!([{"=x": "=1+2", "n": -3, "s": "-3-1", "t": "\tq", "ok": "a-b"}]),
            Some(vec![
                "=x".into(),
                "n".into(),
                "s".into(),
                "t".into(),
                "ok".into(),
            ]),
            None,
            UNBOUNDED,
            &Recorder::default(),
        )
        .unwrap();
        assert_eq!(
            csv,
            "\"'=x\",n,s,t,ok\r\n\"'=1+2\",-3,\"'-3-1\",\"'\tq\",a-b\r\n"
        );
    }

    #[test]
    fn wide_inputs_are_converted_in_one_pass() {
        // 150,000 columns (issue 17: 24 s, quadratic in the header).
        let names: Vec<String> = (0..150_000).map(|i| format!("c{i}")).collect();
        let mut csv = names.join(",");
        csv.push('\n');
        csv.push_str(&vec!["1"; names.len()].join(","));
        csv.push('\n');
        let rows = csv_to_json(&csv, UNBOUNDED, &Recorder::default()).unwrap();
        assert_eq!(rows.rows, 1);
        assert_eq!(rows.value["result"][0]["c149999"], 1);
        // A 100,000-key object (31 s).
        let object: Map<String, Value> = names[..100_000]
            .iter()
            .map(|n| (n.clone(), json!("v")))
            .collect();
        let out = j2c(Value::Array(vec![Value::Object(object)])).unwrap();
        assert_eq!(out.lines().count(), 2);
        // Long rows are checked every CHUNK_BYTES, not only every CHUNK rows.
        let recorder = Recorder::default();
        csv_to_json(&csv, UNBOUNDED, &recorder).unwrap();
        assert!(recorder.checks.load(Ordering::SeqCst) >= 2);
    }

    #[test]
    fn outputs_over_the_limit_stop_early() {
        let mut csv = String::from("a_long_column_name\n");
        for i in 0..10_000 {
            csv.push_str(&format!("{i}\n"));
        }
        let recorder = Recorder::default();
        let e = csv_to_json(&csv, 10_000, &recorder).unwrap_err();
        assert_eq!(e, TransformError::TooLarge { limit: 10_000 });
        assert!(e.to_string().contains("longer than the 10000 bytes"), "{e}");
        // It stopped long before the end: no progress past the first chunk.
        assert!(recorder.reports.lock().unwrap().is_empty());
        let data = Value::Array((0..10_000).map(|i| json!({"i": i})).collect());
        let e = json_to_csv(&data, None, None, 1000, &Recorder::default()).unwrap_err();
        assert_eq!(e, TransformError::TooLarge { limit: 1000 });
    }

    #[test]
    fn a_monitor_out_of_time_stops_the_work() {
        struct OutOfTime;
        impl Monitor for OutOfTime {
            fn check(&self) -> Result<(), TransformError> {
                Err(TransformError::OverBudget(Duration::from_millis(1500)))
            }
            fn progress(&self, _: u64, _: u64, _: String) {}
        }
        let e = csv_to_json("a\n1\n", UNBOUNDED, &OutOfTime).unwrap_err();
        assert!(e.to_string().contains("longer than the 1.5 s"), "{e}");
        let e = json_to_csv(&json!([{"a": 1}]), None, None, UNBOUNDED, &OutOfTime).unwrap_err();
        assert_eq!(e, TransformError::OverBudget(Duration::from_millis(1500)));
    }
}
