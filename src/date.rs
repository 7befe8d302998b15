//! Dates, in one place (on `jiff`): today's date for end-of-life and triage
//! expiry, time stamps for stores and SBOMs, and ages in days.
//!
//! Dates travel as strings (`YYYY-MM-DD`, RFC 3339 UTC time stamps): that is
//! how every input writes them and how reports and stores keep them.

use jiff::Timestamp;
use jiff::civil::Date;

/// Today's UTC date as `YYYY-MM-DD`; `FWAUDIT_TODAY` overrides it so that
/// reports can be reproduced (and tests do not age).
pub fn today() -> String {
    if let Ok(fixed) = std::env::var("FWAUDIT_TODAY") {
        return fixed;
    }
    Timestamp::now().strftime("%Y-%m-%d").to_string()
}

/// Now, or the start of the day `FWAUDIT_TODAY` pins (reproducible reports).
pub fn now_or_pinned() -> String {
    match std::env::var("FWAUDIT_TODAY") {
        Ok(day) => format!("{day}T00:00:00Z"),
        Err(_) => now_utc(),
    }
}

/// `YYYY-MM-DD` (its first second) or an RFC 3339 UTC time stamp to the
/// second (`2027-01-01T12:00:00Z`), as an RFC 3339 UTC stamp.
pub fn parse_instant(text: &str) -> Option<String> {
    if is_date(text) {
        return Some(format!("{text}T00:00:00Z"));
    }
    if text.len() != 20 || !text.ends_with('Z') {
        return None;
    }
    let t: Timestamp = text.parse().ok()?;
    Some(stamp(t))
}

/// Now as RFC 3339 UTC, to the second (`2026-11-25T06:30:00Z`).
pub fn now_utc() -> String {
    stamp(Timestamp::now())
}

/// Seconds since 1970 (before it when negative) as RFC 3339 UTC, to the
/// second; `None` past the years a time stamp can hold (a hostile
/// `SOURCE_DATE_EPOCH` or certificate).
pub fn utc_stamp(secs: i64) -> Option<String> {
    Timestamp::from_second(secs).ok().map(stamp)
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The date a `YYYY-MM-DD` string or an RFC 3339 time stamp starts with.
pub fn parse(text: &str) -> Option<Date> {
    text.get(..10)?.parse().ok()
}

/// True for a valid `YYYY-MM-DD` date (and nothing more).
pub fn is_date(text: &str) -> bool {
    text.len() == 10 && parse(text).is_some()
}

/// Whole days from `from` to `to` (dates or time stamps; only the dates
/// count), negative when `to` is earlier.
pub fn days_between(from: &str, to: &str) -> Option<i64> {
    let (from, to) = (parse(from)?, parse(to)?);
    let span = from.until(to).ok()?;
    Some(i64::from(span.get_days()))
}

/// The `count` dates (`YYYY-MM-DD`) that end with the day `day` starts
/// with, oldest first; empty when `day` is not a date.
pub fn days_ending(day: &str, count: u32) -> Vec<String> {
    let Some(end) = parse(day) else {
        return Vec::new();
    };
    (0..count)
        .rev()
        .filter_map(|back| end.checked_sub(jiff::Span::new().days(back)).ok())
        .map(|d| d.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_days() {
        assert_eq!(utc_stamp(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            utc_stamp(1_795_564_800 + 23_400).as_deref(),
            Some("2026-11-25T06:30:00Z")
        );
        assert_eq!(utc_stamp(i64::MAX), None);
        assert_eq!(utc_stamp(-86_400).as_deref(), Some("1969-12-31T00:00:00Z"));
        assert_eq!(days_between("2026-11-25", "2026-12-05T08:00:00Z"), Some(10));
        assert_eq!(days_between("2024-03-01", "2024-02-28"), Some(-2));
        assert_eq!(days_between("2026-11-25", "soon"), None);
        assert_eq!(
            days_ending("2024-03-01T10:00:00Z", 3),
            ["2024-02-28", "2024-02-29", "2024-03-01"]
        );
        assert!(days_ending("soon", 3).is_empty());
        assert!(is_date("2027-06-30"));
        assert!(!is_date("2027-02-30"));
        assert!(!is_date("2027-06-30T00:00:00Z"));
        assert_eq!(
            parse("2026-11-25T06:30:00Z"),
            Some(jiff::civil::date(2026, 11, 25))
        );
    }
}
