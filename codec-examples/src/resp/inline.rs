//! The inline request form (`SET k "two words"\r\n`, what people type at a
//! terminal): arguments split with Redis' `sdssplitargs` rules.

use bytes::Bytes;

use super::protocol::ProtocolError;
use super::value::Value;

/// Splits an inline line into arguments with Redis' `sdssplitargs` rules:
/// spaces separate, `"..."` takes `\n \r \t \b \a \\ \"` and `\xHH`
/// escapes, `'...'` takes `\'`, and a closing quote must be followed by a
/// space or the end. A plain token is a slice of the line; a quoted one is
/// built anew (a counted copy).
pub(crate) fn split_args(line: &Bytes, args: &mut Vec<Value>) -> Result<(), ProtocolError> {
    let s = &line[..];
    let mut p = 0;
    loop {
        while p < s.len() && is_space(s[p]) {
            p += 1;
        }
        if p >= s.len() {
            return Ok(());
        }
        let start = p;
        let mut quoted = false;
        let mut current = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = s.get(p).copied();
            let next = s.get(p + 1).copied();
            if inq {
                match (c, next) {
                    (Some(b'\\'), Some(b'x'))
                        if s.get(p + 2).is_some_and(u8::is_ascii_hexdigit)
                            && s.get(p + 3).is_some_and(u8::is_ascii_hexdigit) =>
                    {
                        current.push(hex(s[p + 2]) * 16 + hex(s[p + 3]));
                        p += 3;
                    }
                    (Some(b'\\'), Some(e)) => {
                        p += 1;
                        current.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    (Some(b'"'), n) => {
                        if n.is_some_and(|n| !is_space(n)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    (None, _) => return Err(ProtocolError::UnbalancedQuotes),
                    (Some(other), _) => current.push(other),
                }
            } else if insq {
                match (c, next) {
                    (Some(b'\\'), Some(b'\'')) => {
                        p += 1;
                        current.push(b'\'');
                    }
                    (Some(b'\''), n) => {
                        if n.is_some_and(|n| !is_space(n)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    (None, _) => return Err(ProtocolError::UnbalancedQuotes),
                    (Some(other), _) => current.push(other),
                }
            } else {
                match c {
                    // Every terminator is a space to the skip above, so each
                    // token makes progress.
                    None => break,
                    Some(b) if ends_token(b) => break,
                    Some(b'"') => {
                        inq = true;
                        quoted = true;
                    }
                    Some(b'\'') => {
                        insq = true;
                        quoted = true;
                    }
                    Some(other) => current.push(other),
                }
            }
            p += 1;
        }
        if quoted {
            weft_buf::record_copy(current.len());
            args.push(Value::One(Bytes::from(current)));
        } else {
            args.push(Value::One(line.slice(start..start + current.len())));
        }
    }
}

/// Whether `b` ends an unquoted token (the skip between tokens takes every
/// [`is_space`] byte, so each of these also starts the gap after a token).
pub(crate) fn ends_token(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// C's `isspace`.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d.wrapping_sub(b'A').wrapping_add(10),
    }
}
