//! The grammar of the request header fields whose values decide whether a
//! request is valid at all: `Host` (RFC 9112 §3.2, RFC 3986 authority) and
//! `Transfer-Encoding` (RFC 9112 §6.1).

/// The `Transfer-Encoding` fields of a request, all lists joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// No field.
    Absent,
    /// Exactly `chunked` (the only coding this server can frame).
    Chunked,
    /// Anything else: another coding, `chunked` twice, or `chunked` and
    /// more (`chunked, gzip`).
    Other,
}

impl TransferEncoding {
    /// Adds one field's value.
    pub(crate) fn and(self, value: Option<&str>) -> TransferEncoding {
        let chunked = value.is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        match (self, chunked) {
            (TransferEncoding::Absent, true) => TransferEncoding::Chunked,
            _ => TransferEncoding::Other,
        }
    }
}

/// Whether `v` is a `Host` value RFC 9112 §3.2 allows: `uri-host [":" port]`
/// of RFC 3986, not empty. `uri-host` is an IP literal in brackets or a
/// reg-name (unreserved characters, sub-delims, percent-escapes); so a
/// space, `/`, `@` or a backslash makes it invalid, and so does a port that is
/// not digits.
pub(crate) fn valid_host(v: &[u8]) -> bool {
    let (host, rest) = if v.first() == Some(&b'[') {
        let Some(close) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        // `close` > 0: v[0] is the `[`.
        if !ip_literal(&v[1..close]) {
            return false;
        }
        (&v[..=close], &v[close + 1..])
    } else {
        let end = v.iter().position(|&b| b == b':').unwrap_or(v.len());
        (&v[..end], &v[end..])
    };
    let host_ok = host.first() == Some(&b'[') || (!host.is_empty() && reg_name(host));
    let port_ok = match rest {
        [] => true,
        [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    host_ok && port_ok
}

/// The inside of an RFC 3986 IP-literal: an IPv6 address (hex digits,
/// `:` and the `.` of an embedded IPv4 address) or an IPvFuture
/// (`v` HEXDIG+ `.` then unreserved, sub-delims or `:`).
fn ip_literal(s: &[u8]) -> bool {
    match s {
        [b'v' | b'V', rest @ ..] => {
            let dot = rest.iter().position(|&b| b == b'.');
            dot.is_some_and(|d| {
                let (version, tail) = rest.split_at(d);
                !version.is_empty()
                    && version.iter().all(u8::is_ascii_hexdigit)
                    && tail.len() > 1
                    && tail[1..].iter().all(|&b| reg_name_byte(b) || b == b':')
            })
        }
        _ => {
            s.contains(&b':')
                && s.iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
    }
}

/// A reg-name of RFC 3986: unreserved, sub-delims and `%XX`.
fn reg_name(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hex = |j: usize| s.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if reg_name_byte(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Unreserved characters and sub-delims of RFC 3986.
fn reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_follow_the_uri_host_and_port_grammar() {
        for ok in [
            &b"a"[..],
            b"a.example:8080",
            b"a:",
            b"a,b",
            b"a%20b",
            b"[::1]",
            b"[::ffff:127.0.0.1]:80",
            b"[v7.a:b]",
        ] {
            assert!(valid_host(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b"a b",
            b"a/b",
            b"a@b",
            b"a\\b",
            b"a:8x",
            b":80",
            b"%2",
            b"[",
            b"[]",
            b"[zz]",
            b"[v.a]",
            b"[v1.]",
            b"[::1]80",
            b"\xc3\xa9",
        ] {
            assert!(!valid_host(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_one_chunked_is_understood() {
        let te = |values: &[&str]| {
            values
                .iter()
                .fold(TransferEncoding::Absent, |t, v| t.and(Some(v)))
        };
        assert_eq!(te(&[]), TransferEncoding::Absent);
        assert_eq!(te(&["chunked"]), TransferEncoding::Chunked);
        assert_eq!(te(&[" CHUNKED "]), TransferEncoding::Chunked);
        for other in [
            &["gzip"][..],
            &["chunked, gzip"],
            &["chunked", "chunked"],
            &[""],
        ] {
            assert_eq!(te(other), TransferEncoding::Other, "{other:?}");
        }
        assert_eq!(
            TransferEncoding::Absent.and(None),
            TransferEncoding::Other,
            "not UTF-8"
        );
    }
}
