//! HTTP-dates (RFC 9110 §5.6.7) through the `httpdate` crate: formatting
//! as IMF-fixdate and parsing the three forms a server must accept.
//!
//! `httpdate` panics on times it cannot write (before 1970, after 9999);
//! a file's mtime can be either, so times are clamped into its range here
//! and nothing from a file or a peer reaches that panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last second `httpdate` can format: 9999-12-31 23:59:59 GMT.
const LAST_FORMATTABLE_SECS: u64 = 253_402_300_799;

/// Whole seconds since the epoch; times before it count as the epoch.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats `t` as an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. Times
/// before 1970 are written as the epoch, times after 9999 as its last
/// second.
pub(crate) fn format_http_date(t: SystemTime) -> String {
    let secs = unix_secs(t).min(LAST_FORMATTABLE_SECS);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses an HTTP-date in any of its three forms: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
/// Returns `None` for anything else; the caller then ignores the header, as
/// RFC 9110 §13.1.3 says.
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn formats_the_rfc_example_date() {
        assert_eq!(
            format_http_date(at(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(format_http_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(at(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn times_httpdate_cannot_write_are_clamped_not_a_panic() {
        let before = UNIX_EPOCH - Duration::from_secs(86_400 * 365);
        assert_eq!(format_http_date(before), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(at(LAST_FORMATTABLE_SECS + 86_400 * 400)),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn parses_all_three_forms_of_the_rfc_example() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(parse_http_date(s), Some(at(784_111_777)), "{s}");
        }
    }

    #[test]
    fn format_and_parse_round_trip_over_many_days() {
        let mut t = 0u64;
        for _ in 0..2000 {
            let d = at(t);
            assert_eq!(parse_http_date(&format_http_date(d)), Some(d));
            t += 86_400 * 17 + 3_599;
        }
    }

    #[test]
    fn garbage_dates_are_ignored() {
        for s in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 99 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 99999999999999999999 08:49:37 GMT",
            "Sün, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(s), None, "{s:?}");
        }
    }
}
