//! CSV as Python's `csv` module reads and writes it with the default
//! `excel` dialect: `,` between fields, `"` around fields that need it
//! (doubled inside), `\r\n` after each written row. The seed's data
//! transformer used that module, so this is what its users got.
//!
//! The reader follows the state machine of CPython's `_csv.c` (non-strict
//! mode). Like CPython it refuses a carriage return inside an unquoted
//! field and a field longer than 131,072 characters; unlike CPython 3.11
//! it also refuses two kinds of damage Python lets through silently: a
//! quoted field still open at the end of the data (Python swallows the rest
//! of the file into it) and NUL characters (binary data, not text).
//!
//! Why by hand and not with the `csv` crate: the reader was never the slow
//! part (it is one pass over the text, linear in its length; the quadratic
//! costs of issue 17 were in the column lookups of the transforms), and the
//! crate reads differently from Python where the seed's users would notice:
//! it takes a lone `\r` as a line end and a text after a closing quote as
//! an error or a new field, has no NUL or field-length check, and counts
//! lines differently. Keeping Python's answers is the point of this module.
//!
//! The writer neutralises formula cells for spreadsheets, as OWASP's "CSV
//! Injection" page recommends: see [`neutralise`].

use std::fmt;

/// CPython's default `csv.field_size_limit()`, in characters.
pub const FIELD_SIZE_LIMIT: usize = 131_072;

/// Why a CSV text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvError {
    /// A NUL character (CPython: "line contains NUL").
    Nul {
        /// The 1-based line.
        line: usize,
    },
    /// A carriage return in the middle of an unquoted field.
    CarriageReturn {
        /// The 1-based line.
        line: usize,
    },
    /// A quoted field never closed.
    UnterminatedQuote {
        /// The 1-based line where the quoted field starts.
        line: usize,
    },
    /// A field longer than [`FIELD_SIZE_LIMIT`] characters.
    FieldTooLong {
        /// The 1-based line.
        line: usize,
    },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Nul { line } => write!(f, "line {line} contains a NUL character"),
            CsvError::CarriageReturn { line } => write!(
                f,
                "line {line} has a carriage return inside an unquoted field \
                 (quote the field, or end lines with \\n or \\r\\n)"
            ),
            CsvError::UnterminatedQuote { line } => write!(
                f,
                "the quoted field starting on line {line} is never closed (a \" is missing)"
            ),
            CsvError::FieldTooLong { line } => write!(
                f,
                "line {line} has a field longer than {FIELD_SIZE_LIMIT} characters"
            ),
        }
    }
}

impl std::error::Error for CsvError {}

/// One record: its fields, and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The fields; empty for a blank line.
    pub fields: Vec<String>,
    /// The 1-based line the record starts on.
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuotedField,
    QuoteInQuotedField,
    EatCrnl,
}

/// Reads records from a CSV text, one at a time.
#[derive(Debug)]
pub struct Reader<'a> {
    input: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `input`.
    pub fn new(input: &'a str) -> Self {
        Reader {
            input,
            pos: 0,
            line: 0,
        }
    }

    /// How many bytes of the input have been read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Option<Result<Record, CsvError>> {
        if self.pos >= self.input.len() {
            return None;
        }
        let start_line = self.line + 1;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut field_chars = 0usize;
        let mut state = State::StartRecord;
        let mut quote_line = start_line;
        loop {
            // Python iterates the text by lines split after each '\n'.
            let rest = &self.input[self.pos..];
            if rest.is_empty() {
                // The data ended inside a quoted field.
                return Some(Err(CsvError::UnterminatedQuote { line: quote_line }));
            }
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            let line_text = &rest[..end];
            self.pos += end;
            self.line += 1;
            let line = self.line;
            for c in line_text.chars() {
                if c == '\0' {
                    return Some(Err(CsvError::Nul { line }));
                }
                let r = step(&mut state, c, &mut field, &mut fields, &mut field_chars);
                if r == Step::QuoteOpened {
                    quote_line = line;
                }
                if r == Step::CarriageReturn {
                    return Some(Err(CsvError::CarriageReturn { line }));
                }
                if field_chars > FIELD_SIZE_LIMIT {
                    return Some(Err(CsvError::FieldTooLong { line }));
                }
            }
            // End of the line.
            match state {
                State::StartRecord | State::EatCrnl => state = State::StartRecord,
                State::StartField | State::InField | State::QuoteInQuotedField => {
                    fields.push(std::mem::take(&mut field));
                    state = State::StartRecord;
                }
                State::InQuotedField => {}
            }
            if state == State::StartRecord {
                return Some(Ok(Record {
                    fields,
                    line: start_line,
                }));
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Ok,
    QuoteOpened,
    CarriageReturn,
}

/// One character through CPython's `parse_process_char`.
fn step(
    state: &mut State,
    c: char,
    field: &mut String,
    fields: &mut Vec<String>,
    field_chars: &mut usize,
) -> Step {
    fn save(field: &mut String, fields: &mut Vec<String>, n: &mut usize) {
        fields.push(std::mem::take(field));
        *n = 0;
    }
    fn add(field: &mut String, n: &mut usize, c: char) {
        field.push(c);
        *n += 1;
    }
    let newline = c == '\n' || c == '\r';
    match *state {
        State::StartRecord | State::StartField => {
            if *state == State::StartRecord && newline {
                *state = State::EatCrnl;
            } else if newline {
                save(field, fields, field_chars);
                *state = State::EatCrnl;
            } else if c == '"' {
                *state = State::InQuotedField;
                return Step::QuoteOpened;
            } else if c == ',' {
                save(field, fields, field_chars);
                *state = State::StartField;
            } else {
                add(field, field_chars, c);
                *state = State::InField;
            }
        }
        State::InField => {
            if newline {
                save(field, fields, field_chars);
                *state = State::EatCrnl;
            } else if c == ',' {
                save(field, fields, field_chars);
                *state = State::StartField;
            } else {
                add(field, field_chars, c);
            }
        }
        State::InQuotedField => {
            if c == '"' {
                *state = State::QuoteInQuotedField;
            } else {
                add(field, field_chars, c);
            }
        }
        State::QuoteInQuotedField => {
            if c == '"' {
                add(field, field_chars, c);
                *state = State::InQuotedField;
            } else if c == ',' {
                save(field, fields, field_chars);
                *state = State::StartField;
            } else if newline {
                save(field, fields, field_chars);
                *state = State::EatCrnl;
            } else {
                add(field, field_chars, c);
                *state = State::InField;
            }
        }
        State::EatCrnl => {
            if !newline {
                return Step::CarriageReturn;
            }
        }
    }
    Step::Ok
}

/// Whether a spreadsheet could take a cell as a formula: it starts with
/// one of OWASP's characters (`=`, `+`, `-`, `@`, tab, carriage return).
/// A signed plain number (`-1`, `+2.5`) is the one exception: every
/// spreadsheet reads it as the number it is, and negative numbers, which
/// `csv_to_json` keeps as text, then survive a round trip.
pub fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_signed_number(text)
}

/// `+` or `-`, then ASCII digits with at most one `.` among them.
fn is_signed_number(text: &str) -> bool {
    let Some(digits) = text.strip_prefix(['+', '-']) else {
        return false;
    };
    let mut dots = 0;
    digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| {
            dots += usize::from(b == b'.');
            b.is_ascii_digit() || (b == b'.' && dots == 1)
        })
}

/// A text cell made safe to open in a spreadsheet (OWASP's convention): a
/// `'` in front when it [`looks_like_formula`], so that Excel, LibreOffice
/// and Google Sheets show it as text instead of running it. [`write_row`]
/// then quotes it. Other text is unchanged.
pub fn neutralise(text: &str) -> String {
    if looks_like_formula(text) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Whether a field was made safe by [`neutralise`].
fn neutralised(field: &str) -> bool {
    field.strip_prefix('\'').is_some_and(looks_like_formula)
}

/// Appends one row as Python's `csv.writer` writes it (`QUOTE_MINIMAL`,
/// `\r\n` after the row), quoting [`neutralise`]d cells as OWASP asks.
pub fn write_row<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    if let [only] = fields {
        if only.as_ref().is_empty() {
            // A lone empty field is quoted, or the row would read back as
            // a blank line.
            out.push_str("\"\"\r\n");
            return;
        }
    }
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let field = field.as_ref();
        if field.contains([',', '"', '\r', '\n']) || neutralised(field) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Vec<Vec<String>>, CsvError> {
        let mut r = Reader::new(s);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record() {
            out.push(rec?.fields);
        }
        Ok(out)
    }

    fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn reads_as_python_does() {
        // list(csv.reader(io.StringIO(...)))
        assert_eq!(
            read("a,b\r\n\"x, y\",\"q\"\"z\"\r\n\r\n3, 4 \n").unwrap(),
            rows(&[&["a", "b"], &["x, y", "q\"z"], &[], &["3", " 4 "]])
        );
        assert_eq!(
            read("a\n\"multi\nline\"\nlast").unwrap(),
            rows(&[&["a"], &["multi\nline"], &["last"]])
        );
        assert_eq!(
            read("a,,\n,\n").unwrap(),
            rows(&[&["a", "", ""], &["", ""]])
        );
        // Non-strict: text after a closing quote joins the field.
        assert_eq!(read("\"ab\"cd,e\n").unwrap(), rows(&[&["abcd", "e"]]));
        // A quote inside an unquoted field is a plain character.
        assert_eq!(read("ab\"c\n").unwrap(), rows(&[&["ab\"c"]]));
        assert_eq!(read("").unwrap(), Vec::<Vec<String>>::new());
    }

    #[test]
    fn refuses_damaged_text() {
        assert_eq!(
            read("a\n\"open\nstill"),
            Err(CsvError::UnterminatedQuote { line: 2 })
        );
        assert_eq!(read("a\nb\0c\n"), Err(CsvError::Nul { line: 2 }));
        assert_eq!(
            read("a,b\rc,d\n"),
            Err(CsvError::CarriageReturn { line: 1 })
        );
        let long = "x".repeat(FIELD_SIZE_LIMIT + 1);
        assert_eq!(read(&long), Err(CsvError::FieldTooLong { line: 1 }));
        assert!(read(&"x".repeat(FIELD_SIZE_LIMIT)).is_ok());
    }

    #[test]
    fn writes_as_python_does() {
        let mut out = String::new();
        write_row(&mut out, &["a", "b"]);
        write_row(&mut out, &["1", "x,y"]);
        write_row(&mut out, &["q\"", "line\nbreak"]);
        write_row(&mut out, &[""]);
        write_row(&mut out, &["", ""]);
        assert_eq!(
            out,
            "a,b\r\n1,\"x,y\"\r\n\"q\"\"\",\"line\nbreak\"\r\n\"\"\r\n,\r\n"
        );
    }

    #[test]
    fn formula_cells_are_neutralised() {
        let cells = [
            "=1+2", "+x", "-y", "@SUM(A1)", "\tz", "\rz", "a=b", "'q", "",
        ];
        let safe: Vec<String> = cells.iter().map(|c| neutralise(c)).collect();
        assert_eq!(
            safe,
            [
                "'=1+2",
                "'+x",
                "'-y",
                "'@SUM(A1)",
                "'\tz",
                "'\rz",
                "a=b",
                "'q",
                ""
            ]
        );
        // Signed plain numbers are numbers, not formulas; anything more is not.
        for number in ["-1", "+2.5", "-.5", "-3."] {
            assert_eq!(neutralise(number), number);
        }
        for formula in ["-1+1", "-1.2.3", "-", "+-1", "-1e5", "-A1", "- 1"] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        let mut out = String::new();
        write_row(&mut out, &safe);
        assert_eq!(
            out,
            "\"'=1+2\",\"'+x\",\"'-y\",\"'@SUM(A1)\",\"'\tz\",\"'\rz\",a=b,'q,\r\n"
        );
    }
}
