//! SQL values to JSON and JSON parameters to bound SQL values.
//!
//! PostgreSQL answers the extended protocol in its binary formats; the
//! common types are decoded here by type OID (numbers stay numbers while
//! `f64` holds them exactly, dates and times become ISO 8601 strings, `json`
//! and `jsonb` become JSON, arrays become arrays), so no extra `sqlx` type
//! features are needed. Anything else comes out as its text, or as `\x` hex
//! when it is not UTF-8.

use serde_json::{Number, Value};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgRow, PgTypeInfo, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteRow};
use sqlx::{Arguments, Column, Decode, Row, TypeInfo, ValueRef};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A JSON array or object as a parameter is bound as its JSON text.
fn json_text(v: &Value) -> String {
    v.to_string()
}

/// Binds JSON parameters for SQLite: null, integer, real, text (arrays and
/// objects as JSON text).
pub fn sqlite_arguments(params: &[Value]) -> Result<SqliteArguments<'static>, String> {
    let mut args = SqliteArguments::default();
    for (i, p) in params.iter().enumerate() {
        let r = match p {
            Value::Null => args.add(Option::<i64>::None),
            Value::Bool(b) => args.add(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => args.add(i),
                None => args.add(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => args.add(s.clone()),
            other => args.add(json_text(other)),
        };
        r.map_err(|e| format!("parameter {} could not be bound: {e}", i + 1))?;
    }
    Ok(args)
}

/// A NULL whose type PostgreSQL infers from where the placeholder stands
/// (the parameter is sent as "unspecified").
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

/// Binds JSON parameters for PostgreSQL: strings as `text`, integers as
/// `bigint`, other numbers as `double precision`, booleans as `boolean`,
/// arrays and objects as their JSON `text`, and null as a NULL of whatever
/// type the placeholder needs.
pub fn pg_arguments(params: &[Value]) -> Result<PgArguments, String> {
    let mut args = PgArguments::default();
    for (i, p) in params.iter().enumerate() {
        let r = match p {
            Value::Null => args.add(UntypedNull),
            Value::Bool(b) => args.add(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => args.add(i),
                None => args.add(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => args.add(s.clone()),
            other => args.add(json_text(other)),
        };
        r.map_err(|e| format!("parameter {} could not be bound: {e}", i + 1))?;
    }
    Ok(args)
}

/// A float as JSON: NaN and the infinities, which JSON lacks, as strings.
fn float(f: f64) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(float_name(f)), Value::Number)
}

fn float_name(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

/// Bytes as PostgreSQL prints `bytea`: `\x` and lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("\\x");
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// About how many bytes of JSON an SQLite cell becomes, read from the raw
/// value without decoding it (so a huge value is refused before it is
/// copied into a string): text its length, a blob twice (hex).
pub fn sqlite_cell_size(row: &SqliteRow, i: usize) -> usize {
    let Ok(raw) = row.try_get_raw(i) else {
        return 4;
    };
    if raw.is_null() {
        return 4;
    }
    let class = raw.type_info().name().to_owned();
    match class.as_str() {
        "INTEGER" | "REAL" => 24,
        "BLOB" => 2 + 2 * <&[u8] as Decode<Sqlite>>::decode(raw).map_or(0, <[u8]>::len),
        _ => <&[u8] as Decode<Sqlite>>::decode(raw).map_or(0, <[u8]>::len),
    }
}

/// About how many bytes of JSON a PostgreSQL cell becomes, from its raw
/// length (`bytea` twice, as hex), without decoding it.
pub fn pg_cell_size(row: &PgRow, i: usize) -> usize {
    let Ok(raw) = row.try_get_raw(i) else {
        return 4;
    };
    if raw.is_null() {
        return 4;
    }
    let oid = row.column(i).type_info().oid().map_or(0, |o| o.0);
    let len = raw.as_bytes().map_or(0, <[u8]>::len);
    if oid == oid::BYTEA {
        2 + 2 * len
    } else {
        len.max(8)
    }
}

/// One SQLite cell as JSON, by the value's storage class; an integer in a
/// column declared `BOOLEAN` is a boolean.
pub fn sqlite_cell(row: &SqliteRow, i: usize) -> Value {
    let Ok(raw) = row.try_get_raw(i) else {
        return Value::Null;
    };
    if raw.is_null() {
        return Value::Null;
    }
    let class = raw.type_info().name().to_owned();
    match class.as_str() {
        "INTEGER" => {
            let n = <i64 as Decode<Sqlite>>::decode(raw).unwrap_or_default();
            if row.column(i).type_info().name() == "BOOLEAN" && (n == 0 || n == 1) {
                Value::Bool(n == 1)
            } else {
                Value::from(n)
            }
        }
        "REAL" => float(<f64 as Decode<Sqlite>>::decode(raw).unwrap_or(f64::NAN)),
        "BLOB" => Value::String(hex(
            <&[u8] as Decode<Sqlite>>::decode(raw).unwrap_or_default()
        )),
        _ => {
            let bytes = <&[u8] as Decode<Sqlite>>::decode(raw).unwrap_or_default();
            match std::str::from_utf8(bytes) {
                Ok(s) => Value::String(s.to_owned()),
                Err(_) => Value::String(hex(bytes)),
            }
        }
    }
}

/// One PostgreSQL cell as JSON.
pub fn pg_cell(row: &PgRow, i: usize) -> Value {
    let Ok(raw) = row.try_get_raw(i) else {
        return Value::Null;
    };
    if raw.is_null() {
        return Value::Null;
    }
    let info = row.column(i).type_info();
    let oid = info.oid().map_or(0, |o| o.0);
    match raw.format() {
        sqlx::postgres::PgValueFormat::Text => raw
            .as_str()
            .map_or(Value::Null, |s| Value::String(s.to_owned())),
        sqlx::postgres::PgValueFormat::Binary => match raw.as_bytes() {
            Ok(bytes) => pg_binary(oid, bytes),
            Err(_) => Value::Null,
        },
    }
}

/// Type OIDs of the PostgreSQL built-in types decoded here.
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const CIDR: u32 = 650;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const MONEY: u32 = 790;
    pub const INET: u32 = 869;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

fn be<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}
fn i16_at(b: &[u8], at: usize) -> Option<i16> {
    be::<2>(b, at).map(i16::from_be_bytes)
}
fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    be::<4>(b, at).map(i32::from_be_bytes)
}
fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    be::<8>(b, at).map(i64::from_be_bytes)
}

/// A value in PostgreSQL's binary format as JSON, by type OID.
pub fn pg_binary(type_oid: u32, b: &[u8]) -> Value {
    decode_known(type_oid, b).unwrap_or_else(|| {
        // Text-like types (enums, citext, domains over text) send their
        // text, which never holds a NUL; arrays always do (their header).
        match std::str::from_utf8(b) {
            Ok(s) if !b.contains(&0) => Value::String(s.to_owned()),
            _ => decode_array(b).unwrap_or_else(|| Value::String(hex(b))),
        }
    })
}

fn decode_known(type_oid: u32, b: &[u8]) -> Option<Value> {
    Some(match type_oid {
        oid::BOOL => Value::Bool(*b.first()? != 0),
        oid::INT2 => Value::from(i16_at(b, 0)?),
        oid::INT4 => Value::from(i32_at(b, 0)?),
        oid::INT8 => Value::from(i64_at(b, 0)?),
        oid::OID => Value::from(u32::from_be_bytes(be::<4>(b, 0)?)),
        oid::FLOAT4 => float(f32::from_be_bytes(be::<4>(b, 0)?) as f64),
        oid::FLOAT8 => float(f64::from_be_bytes(be::<8>(b, 0)?)),
        oid::NUMERIC => numeric_json(&numeric_text(b)?),
        oid::MONEY => numeric_json(&cents(i64_at(b, 0)?)),
        oid::BYTEA => Value::String(hex(b)),
        oid::JSON => serde_json::from_slice(b).ok()?,
        oid::JSONB => serde_json::from_slice(b.strip_prefix(&[1])?).ok()?,
        oid::UUID => Value::String(uuid(b)?),
        oid::DATE => Value::String(date(i32_at(b, 0)?)),
        oid::TIME => Value::String(time_of_day(i64_at(b, 0)?)),
        oid::TIMETZ => {
            let offset = -i32_at(b, 8)?; // seconds west of UTC on the wire
            Value::String(format!(
                "{}{}",
                time_of_day(i64_at(b, 0)?),
                utc_offset(offset)
            ))
        }
        oid::TIMESTAMP => Value::String(timestamp(i64_at(b, 0)?, "")),
        oid::TIMESTAMPTZ => Value::String(timestamp(i64_at(b, 0)?, "Z")),
        oid::INTERVAL => Value::String(interval(i64_at(b, 0)?, i32_at(b, 8)?, i32_at(b, 12)?)),
        oid::INET | oid::CIDR => Value::String(inet(b)?),
        _ => return None,
    })
}

/// PostgreSQL's binary array: dimensions, element OID, then elements.
fn decode_array(b: &[u8]) -> Option<Value> {
    let ndim = usize::try_from(i32_at(b, 0)?).ok()?;
    let elem = u32::from_be_bytes(be::<4>(b, 8)?);
    if ndim > 6 || elem == 0 {
        return None;
    }
    if ndim == 0 {
        return Some(Value::Array(Vec::new()));
    }
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        dims.push(usize::try_from(i32_at(b, 12 + d * 8)?).ok()?);
    }
    let mut at = 12 + ndim * 8;
    let total = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    let mut flat = Vec::with_capacity(total.min(1 << 16));
    for _ in 0..total {
        let len = i32_at(b, at)?;
        at += 4;
        if len < 0 {
            flat.push(Value::Null);
        } else {
            let len = len as usize;
            flat.push(pg_binary(elem, b.get(at..at + len)?));
            at += len;
        }
    }
    if at != b.len() {
        return None;
    }
    // Fold the flat elements into nested arrays, innermost dimension first.
    for &d in dims.iter().skip(1).rev() {
        flat = flat
            .chunks(d.max(1))
            .map(|c| Value::Array(c.to_vec()))
            .collect();
    }
    Some(Value::Array(flat))
}

/// NUMERIC's binary form (base-10000 digits) as decimal text.
fn numeric_text(b: &[u8]) -> Option<String> {
    let ndigits = usize::try_from(i16_at(b, 0)?).ok()?;
    let weight = i16_at(b, 2)? as i32;
    let sign = u16::from_be_bytes(be::<2>(b, 4)?);
    let dscale = usize::try_from(i16_at(b, 6)?).ok()?;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i32> = (0..ndigits)
        .map(|k| i16_at(b, 8 + 2 * k).map(i32::from))
        .collect::<Option<_>>()?;
    let digit = |k: i32| -> i32 {
        usize::try_from(k)
            .ok()
            .and_then(|k| digits.get(k))
            .copied()
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    // Integer part: groups 0..=weight.
    if weight < 0 {
        s.push('0');
    } else {
        s.push_str(&digit(0).to_string());
        for k in 1..=weight {
            s.push_str(&format!("{:04}", digit(k)));
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut k = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(k)));
            k += 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Some(s)
}

/// A decimal as a JSON number when `f64` holds it exactly enough (at most
/// 15 significant digits), else as a string so no digit is lost.
fn numeric_json(text: &str) -> Value {
    let significant = text
        .trim_start_matches('-')
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let significant = significant.trim_start_matches('0').len();
    if significant <= 15 {
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_owned())
}

fn cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    let c = c.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

fn uuid(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Days since 1970-01-01 to a civil date.
fn civil(days: i64) -> (i64, u32, u32) {
    mcp_sdk::time::civil_from_days(days)
}

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

fn ymd(days_since_2000: i64) -> String {
    let (y, m, d) = civil(days_since_2000 + PG_EPOCH_DAYS);
    if y < 1 {
        // 1 BC is year 0 here; PostgreSQL prints it as "0001 BC".
        format!("{:04}-{m:02}-{d:02} BC", 1 - y)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        d => ymd(i64::from(d)),
    }
}

fn time_of_day(micros: i64) -> String {
    let (secs, frac) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        m => {
            let day = m.div_euclid(86_400_000_000);
            let date = ymd(day);
            let time = time_of_day(m.rem_euclid(86_400_000_000));
            match date.strip_suffix(" BC") {
                Some(d) => format!("{d}T{time}{zone} BC"),
                None => format!("{date}T{time}{zone}"),
            }
        }
    }
}

fn utc_offset(seconds_east: i32) -> String {
    let sign = if seconds_east < 0 { '-' } else { '+' };
    let s = seconds_east.unsigned_abs();
    let mut out = format!("{sign}{:02}:{:02}", s / 3600, s / 60 % 60);
    if s % 60 != 0 {
        out.push_str(&format!(":{:02}", s % 60));
    }
    out
}

/// An interval as an ISO 8601 duration, such as `P1Y2M3DT4H5M6.5S`.
fn interval(micros: i64, days: i32, months: i32) -> String {
    let mut s = String::from("P");
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        s.push_str(&format!("{years}Y"));
    }
    if months != 0 {
        s.push_str(&format!("{months}M"));
    }
    if days != 0 {
        s.push_str(&format!("{days}D"));
    }
    if micros != 0 {
        let neg = micros < 0;
        let m = micros.unsigned_abs();
        let (h, min, sec, frac) = (
            m / 3_600_000_000,
            m / 60_000_000 % 60,
            m / 1_000_000 % 60,
            m % 1_000_000,
        );
        let sign = if neg { "-" } else { "" };
        s.push('T');
        if h != 0 {
            s.push_str(&format!("{sign}{h}H"));
        }
        if min != 0 {
            s.push_str(&format!("{sign}{min}M"));
        }
        if sec != 0 || frac != 0 {
            s.push_str(&format!("{sign}{sec}"));
            if frac != 0 {
                s.push('.');
                s.push_str(format!("{frac:06}").trim_end_matches('0'));
            }
            s.push('S');
        }
    }
    if s == "P" {
        s.push_str("T0S");
    }
    s
}

fn inet(b: &[u8]) -> Option<String> {
    let (family, bits, is_cidr, len) = (*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)? as usize);
    let addr = b.get(4..4 + len)?;
    let ip = match (family, len) {
        (2, 4) => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
        (3, 16) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?)),
        _ => return None,
    };
    let full = if ip.is_ipv4() { 32 } else { 128 };
    Some(if is_cidr != 0 || bits != full {
        format!("{ip}/{bits}")
    } else {
        ip.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn numeric(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> Vec<u8> {
        let mut b = Vec::new();
        for x in [ndigits, weight] {
            b.extend(x.to_be_bytes());
        }
        b.extend(sign.to_be_bytes());
        b.extend(dscale.to_be_bytes());
        for d in digits {
            b.extend(d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics() {
        // 12345.678 = [1, 2345, 6780], weight 1, dscale 3
        assert_eq!(
            numeric_text(&numeric(3, 1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        assert_eq!(
            numeric_text(&numeric(1, -1, 0x4000, 2, &[5000])).unwrap(),
            "-0.50"
        );
        assert_eq!(numeric_text(&numeric(0, 0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(
            numeric_text(&numeric(1, 2, 0, 0, &[7])).unwrap(),
            "700000000"
        );
        assert_eq!(numeric_text(&numeric(0, 0, 0xC000, 0, &[])).unwrap(), "NaN");
        assert_eq!(numeric_json("19.99"), json!(19.99));
        assert_eq!(numeric_json("42"), json!(42));
        assert_eq!(
            numeric_json("1234567890.1234567890"),
            json!("1234567890.1234567890")
        );
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(60), "2000-03-01");
        assert_eq!(
            timestamp(86_400_000_000 + 3_723_500_000, "Z"),
            "2000-01-02T01:02:03.5Z"
        );
        assert_eq!(time_of_day(45_296_000_000), "12:34:56");
        assert_eq!(utc_offset(-5 * 3600), "-05:00");
        assert_eq!(interval(3_723_000_000, 3, 14), "P1Y2M3DT1H2M3S");
        assert_eq!(interval(0, 0, 0), "PT0S");
        assert_eq!(interval(-1_500_000, 0, 0), "PT-1.5S");
    }

    #[test]
    fn arrays_nest() {
        // int4[][] = {{1,2},{3,NULL}}
        let mut b = Vec::new();
        for x in [2i32, 1, 23, 2, 1, 2, 1] {
            b.extend(x.to_be_bytes());
        }
        for v in [Some(1i32), Some(2), Some(3), None] {
            match v {
                Some(v) => {
                    b.extend(4i32.to_be_bytes());
                    b.extend(v.to_be_bytes());
                }
                None => b.extend((-1i32).to_be_bytes()),
            }
        }
        assert_eq!(pg_binary(1007, &b), json!([[1, 2], [3, null]]));
    }

    #[test]
    fn misc_types() {
        assert_eq!(pg_binary(oid::JSONB, b"\x01{\"a\":1}"), json!({"a": 1}));
        assert_eq!(pg_binary(oid::BYTEA, &[0, 255]), json!("\\x00ff"));
        assert_eq!(
            pg_binary(oid::INET, &[2, 32, 0, 4, 10, 0, 0, 1]),
            json!("10.0.0.1")
        );
        assert_eq!(
            pg_binary(oid::CIDR, &[2, 8, 1, 4, 10, 0, 0, 0]),
            json!("10.0.0.0/8")
        );
        assert_eq!(
            pg_binary(oid::FLOAT8, &f64::NAN.to_be_bytes()),
            json!("NaN")
        );
        assert_eq!(pg_binary(99999, b"happy"), json!("happy"));
        assert_eq!(
            pg_binary(oid::MONEY, &(-1234i64).to_be_bytes()),
            json!(-12.34)
        );
    }
}
