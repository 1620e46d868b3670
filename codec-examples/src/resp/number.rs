//! Decimal integers as RESP writes them (Redis' `string2ll` rules), shared
//! by the parser (`*n` / `$n` headers) and by [`Value::to_i64`](super::value::Value::to_i64).

use weft_buf::CompositeBuf;

/// Parses a decimal `i64` the way Redis' `string2ll` does: an optional `-`,
/// no `+`, no leading zeros, no spaces, at most 20 characters.
///
/// # Examples
///
/// ```
/// use weft_buf::CompositeBuf;
/// use weft_examples::resp::number::parse_i64;
/// assert_eq!(parse_i64(&CompositeBuf::from(&b"-42"[..])), Some(-42));
/// assert_eq!(parse_i64(&CompositeBuf::from(&b"042"[..])), None);
/// ```
pub fn parse_i64(text: &CompositeBuf) -> Option<i64> {
    let mut digits = [0u8; 20];
    let n = text.len();
    if n == 0 || n > digits.len() {
        return None;
    }
    text.try_copy_out(0, &mut digits[..n]).ok()?;
    parse_i64_slice(&digits[..n])
}

/// [`parse_i64`] on a contiguous slice.
///
/// # Examples
///
/// ```
/// use weft_examples::resp::number::parse_i64_slice;
/// assert_eq!(parse_i64_slice(b"0"), Some(0));
/// assert_eq!(parse_i64_slice(b"-9223372036854775808"), Some(i64::MIN));
/// assert_eq!(parse_i64_slice(b"9223372036854775808"), None);
/// assert_eq!(parse_i64_slice(b"+1"), None);
/// ```
pub fn parse_i64_slice(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64_slice(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_slice(b"-0"), None);
        assert_eq!(parse_i64_slice(b""), None);
        assert_eq!(parse_i64_slice(b"-"), None);
        assert_eq!(parse_i64_slice(b" 1"), None);
        assert_eq!(parse_i64_slice(b"12a"), None);
    }
}
