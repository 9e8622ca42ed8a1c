//! Timestamps as MCP writes them (RFC 3339, UTC), without a date library:
//! the civil calendar from a day count is a few lines.

use std::time::{SystemTime, UNIX_EPOCH};

/// The civil date (year, month 1-12, day 1-31) of a day counted from
/// 1970-01-01 (negative before), by Howard Hinnant's algorithm.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `t` as an RFC 3339 UTC timestamp, to the second
/// (`2025-11-25T10:30:00Z`); times before 1970 are written as 1970.
pub fn rfc3339(t: SystemTime) -> String {
    let (date, _) = parts(t);
    format!("{date}Z")
}

/// `t` as an RFC 3339 UTC timestamp, to the millisecond
/// (`2025-11-25T10:30:00.123Z`).
pub fn rfc3339_millis(t: SystemTime) -> String {
    let (date, millis) = parts(t);
    format!("{date}.{millis:03}Z")
}

fn parts(t: SystemTime) -> (String, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let date = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    (date, since.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_764_066_600_123);
        assert_eq!(rfc3339(t), "2025-11-25T10:30:00Z");
        assert_eq!(rfc3339_millis(t), "2025-11-25T10:30:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
