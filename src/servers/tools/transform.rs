//! The seed's `DataTransformer`: JSON rows to CSV and CSV to JSON rows,
//! with the seed's number detection, progress reports on long inputs and
//! cancellation between chunks of rows.

use super::csv::{self, Reader};
use super::text::is_py_space;
use schemars::JsonSchema;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

/// Rows between two cancellation checks (and possible progress reports).
const CHUNK: usize = 1000;

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
    /// with `\r\n`; empty when there were no rows.
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
/// from [`JsonRows`], which keeps the column order).
#[derive(Debug, Clone, JsonSchema)]
pub struct JsonRowsSchema {
    /// One object per CSV row, keyed by the header's names.
    pub result: Vec<BTreeMap<String, Cell>>,
}

/// The rows read from a CSV text, in column order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonRows {
    /// The column names, each once, in the order of first appearance.
    pub columns: Vec<String>,
    /// One cell per column for each row.
    pub rows: Vec<Vec<Cell>>,
}

impl JsonRows {
    /// `{"result": [...]}` with each row's keys in column order.
    pub fn to_ordered_json(&self) -> String {
        serde_json::to_string(&Ordered(self)).expect("rows of strings and numbers serialize")
    }

    /// `{"result": [...]}` as a JSON value (whose objects forget the
    /// column order).
    pub fn to_value(&self) -> Value {
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let obj: Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(k, v)| (k.clone(), cell_value(v)))
                    .collect();
                Value::Object(obj)
            })
            .collect();
        serde_json::json!({ "result": Value::Array(rows) })
    }
}

fn cell_value(c: &Cell) -> Value {
    match c {
        Cell::Integer(i) => (*i).into(),
        Cell::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Cell::Text(s) => s.clone().into(),
    }
}

struct Ordered<'a>(&'a JsonRows);
struct OrderedRow<'a>(&'a [String], &'a [Cell]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let rows: Vec<OrderedRow<'_>> = self
            .0
            .rows
            .iter()
            .map(|r| OrderedRow(&self.0.columns, r))
            .collect();
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("result", &rows)?;
        map.end()
    }
}

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
    /// The client cancelled the request.
    Cancelled,
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::Invalid(why) => f.write_str(why),
            TransformError::Cancelled => f.write_str("the request was cancelled"),
        }
    }
}

impl std::error::Error for TransformError {}

/// Where a long transform reports to: the request's context in the server,
/// a recorder in tests.
pub trait Monitor: Send + Sync {
    /// Whether to stop.
    fn is_cancelled(&self) -> bool;
    /// Reports `done` of `total`.
    fn progress(&self, done: u64, total: u64, message: String) -> impl Future<Output = ()> + Send;
}

/// Tracks what has been reported, so that progress only grows and comes at
/// most once per percent.
struct Reporter<'m, M> {
    monitor: &'m M,
    total: u64,
    last: Option<u64>,
    last_percent: u64,
}

impl<'m, M: Monitor> Reporter<'m, M> {
    fn new(monitor: &'m M, total: u64) -> Self {
        Reporter {
            monitor,
            total,
            last: None,
            last_percent: 0,
        }
    }

    /// Between chunks: stop if cancelled, report progress, let other tasks
    /// run.
    async fn checkpoint(&mut self, done: u64, rows: usize) -> Result<(), TransformError> {
        if self.monitor.is_cancelled() {
            return Err(TransformError::Cancelled);
        }
        let percent = done.saturating_mul(100) / self.total.max(1);
        if percent > self.last_percent && self.last.is_none_or(|l| done > l) {
            self.last_percent = percent;
            self.last = Some(done);
            self.monitor
                .progress(done, self.total, format!("{rows} rows so far"))
                .await;
        }
        tokio::task::yield_now().await;
        Ok(())
    }

    async fn finish(&mut self, rows: usize) -> Result<(), TransformError> {
        if self.monitor.is_cancelled() {
            return Err(TransformError::Cancelled);
        }
        if self.last.is_none_or(|l| self.total > l) {
            self.monitor
                .progress(self.total, self.total, format!("{rows} rows done"))
                .await;
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
    let digits = t.replacen('.', "", 1);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Cell::Text(value);
    }
    if !t.contains('.') {
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
/// `dict` built from the row does).
pub async fn csv_to_json(csv: &str, monitor: &impl Monitor) -> Result<JsonRows, TransformError> {
    let invalid = |e: csv::CsvError| TransformError::Invalid(format!("bad CSV: {e}"));
    let mut reporter = Reporter::new(monitor, csv.len() as u64);
    let mut reader = Reader::new(csv);
    let header = match reader.next_record() {
        None => return Ok(JsonRows::default()),
        Some(r) => r.map_err(invalid)?.fields,
    };
    let mut columns: Vec<String> = Vec::new();
    let slots: Vec<usize> = header
        .iter()
        .map(|name| match columns.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                columns.push(name.clone());
                columns.len() - 1
            }
        })
        .collect();
    let mut rows = Vec::new();
    let mut in_chunk = 0;
    while let Some(record) = reader.next_record() {
        let record = record.map_err(invalid)?;
        if record.fields.is_empty() {
            continue;
        }
        if record.fields.len() != header.len() {
            return Err(TransformError::Invalid(format!(
                "bad CSV: row {} (line {}) has {} field{} but the header has {}",
                rows.len() + 1,
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
        rows.push(cells);
        in_chunk += 1;
        if in_chunk == CHUNK {
            in_chunk = 0;
            reporter
                .checkpoint(reader.position() as u64, rows.len())
                .await?;
        }
    }
    reporter.finish(rows.len()).await?;
    Ok(JsonRows { columns, rows })
}

/// Rows to CSV text, as the seed's `csv.DictWriter` wrote them: a header
/// of `columns` (by default the first row's keys), then each row's values
/// in that order, missing ones empty. `first_keys` is the first row's key
/// order when the caller knows it.
pub async fn json_to_csv(
    data: &Value,
    columns: Option<Vec<String>>,
    first_keys: Option<Vec<String>>,
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
    let mut reporter = Reporter::new(monitor, rows.len() as u64);
    let mut out = String::new();
    csv::write_row(&mut out, &header);
    let mut fields: Vec<String> = Vec::with_capacity(header.len());
    for i in 0..rows.len() {
        let row = object(i)?;
        let extra: Vec<String> = row
            .keys()
            .filter(|k| !header.contains(k))
            .map(|k| format!("'{k}'"))
            .collect();
        if !extra.is_empty() {
            return Err(TransformError::Invalid(format!(
                "json_data[{i}] has fields not in the header: {} (the header is the first row's keys, or `columns`)",
                extra.join(", ")
            )));
        }
        fields.clear();
        fields.extend(
            header
                .iter()
                .map(|k| row.get(k).map(py_str).unwrap_or_default()),
        );
        csv::write_row(&mut out, &fields);
        if (i + 1) % CHUNK == 0 {
            reporter.checkpoint(i as u64 + 1, i + 1).await?;
        }
    }
    reporter.finish(rows.len()).await?;
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
                    while let Some(k) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        if !keys.contains(&k) {
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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        cancel_after_first: bool,
        cancelled: AtomicBool,
        reports: Mutex<Vec<(u64, u64)>>,
    }

    impl Monitor for Recorder {
        fn is_cancelled(&self) -> bool {
            self.cancelled.load(Ordering::SeqCst)
        }
        async fn progress(&self, done: u64, total: u64, _message: String) {
            self.reports.lock().unwrap().push((done, total));
            if self.cancel_after_first {
                self.cancelled.store(true, Ordering::SeqCst);
            }
        }
    }

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn c2j(csv: &str) -> Result<String, TransformError> {
        run(csv_to_json(csv, &Recorder::default())).map(|r| r.to_ordered_json())
    }

    fn j2c(data: Value) -> Result<String, TransformError> {
        run(json_to_csv(&data, None, None, &Recorder::default()))
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
        let csv = run(json_to_csv(
            &json!([{"a": 1, "b": "x,y"}, {"a": 1.0, "b": "q\""}]),
            None,
            Some(vec!["a".into(), "b".into()]),
            &Recorder::default(),
        ))
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
        let rows = run(csv_to_json(&csv, &recorder)).unwrap();
        assert_eq!(rows.rows.len(), 5000);
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
            run(csv_to_json(&csv, &cancelling)),
            Err(TransformError::Cancelled)
        );
        assert_eq!(cancelling.reports.lock().unwrap().len(), 1);

        let data = Value::Array((0..3000).map(|i| json!({"i": i})).collect());
        let cancelling = Recorder {
            cancel_after_first: true,
            ..Default::default()
        };
        let r = run(json_to_csv(&data, None, None, &cancelling));
        assert_eq!(r, Err(TransformError::Cancelled));
        assert_eq!(*cancelling.reports.lock().unwrap(), vec![(1000, 3000)]);
    }
}
