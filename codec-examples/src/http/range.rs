//! The `Range` request header (RFC 9110 §14.2), single byte ranges only.

use std::ops::Range;

/// What a `Range` header asks of a representation of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// No usable range (absent, malformed, several ranges, other unit):
    /// serve the whole representation with 200, as RFC 9110 allows.
    Full,
    /// One satisfiable range: serve it with 206.
    Partial(Range<u64>),
    /// The range lies wholly past the end: 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Overflowing positions are treated as "past any end", never as a panic.
    Some(s.parse::<u64>().unwrap_or(u64::MAX))
}

/// Interprets the header value `header` against a representation of `len` bytes.
pub(crate) fn parse_range(header: &str, len: u64) -> RangeAnswer {
    let Some((unit, set)) = header.trim().split_once('=') else {
        return RangeAnswer::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Full;
    }
    let set = set.trim();
    if set.contains(',') {
        // Several ranges would need multipart/byteranges; serving the whole
        // representation is a valid answer.
        return RangeAnswer::Full;
    }
    let Some((first, last)) = set.split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // suffix range: the last N bytes
        return match digits(last) {
            None => RangeAnswer::Full,
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Partial(len.saturating_sub(n)..len),
        };
    }
    let Some(start) = digits(first) else {
        return RangeAnswer::Full;
    };
    let end = if last.is_empty() {
        len
    } else {
        match digits(last) {
            Some(l) if l >= start => l.saturating_add(1).min(len),
            _ => return RangeAnswer::Full,
        }
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Partial(start..end)
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    #[test]
    fn single_ranges_of_every_form_are_honoured() {
        assert_eq!(parse_range("bytes=0-99", 1000), Partial(0..100));
        assert_eq!(parse_range("bytes=900-", 1000), Partial(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000), Partial(900..1000));
        assert_eq!(parse_range("bytes=-5000", 1000), Partial(0..1000));
        assert_eq!(parse_range("bytes=990-5000", 1000), Partial(990..1000));
        assert_eq!(parse_range("Bytes = 5-5", 1000), Partial(5..6));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5000-6000", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", 1000),
            Unsatisfiable
        );
    }

    #[test]
    fn malformed_or_multiple_ranges_serve_the_whole_file() {
        for h in [
            "",
            "bytes",
            "items=0-1",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=1-x",
        ] {
            assert_eq!(parse_range(h, 1000), Full, "{h:?}");
        }
    }
}
