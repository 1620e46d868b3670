//! Request heads: parsed with `httparse` into the few facts a static file
//! server acts on, with the limits checked first.

use super::Status;

/// Largest request head accepted, request line and headers together;
/// a longer one is answered 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// Most header fields accepted in one request; more is answered 431.
pub const MAX_HEADERS: usize = 64;

/// A request method the server tells apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// Anything else, answered 405.
    Other(String),
}

/// How the request's body (which this server never reads) is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// No body.
    None,
    /// `Content-Length: n` bytes follow the head; the decoder skips them.
    Length(u64),
    /// `Transfer-Encoding`: the body cannot be skipped cheaply; the
    /// connection is answered and closed.
    Chunked,
}

/// One parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The request target as sent (origin form, `/path?query`).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
    /// `If-None-Match`, if present.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`, if present.
    pub if_modified_since: Option<String>,
    /// `Range`, if present.
    pub range: Option<String>,
    /// `If-Range`, if present.
    pub if_range: Option<String>,
    pub(crate) body: BodyKind,
}

/// Parses one complete head (ending in `\r\n\r\n`) or says which status
/// answers it.
pub(crate) fn parse_head(head: &[u8]) -> Result<Request, Status> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(Status::HeaderFieldsTooLarge);
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Status::BadRequest),
        Err(httparse::Error::TooManyHeaders) => return Err(Status::HeaderFieldsTooLarge),
        Err(httparse::Error::Version) => return Err(version_status(head)),
        Err(_) => return Err(Status::BadRequest),
    }
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(Status::BadRequest);
    };
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_owned()),
    };
    let mut out = Request {
        method,
        target: path.to_owned(),
        minor_version: minor,
        keep_alive: minor >= 1,
        if_none_match: None,
        if_modified_since: None,
        range: None,
        if_range: None,
        body: BodyKind::None,
    };
    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut expects_continue = false;
    for h in req.headers.iter() {
        let name = h.name;
        let value = std::str::from_utf8(h.value).ok().map(str::trim);
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.ok_or(Status::BadRequest)?;
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    out.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && minor == 0 {
                    out.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let value = value.ok_or(Status::BadRequest)?;
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Status::BadRequest);
            }
            let n: u64 = value.parse().map_err(|_| Status::BadRequest)?;
            if content_length.is_some_and(|c| c != n) {
                return Err(Status::BadRequest);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("expect") {
            expects_continue = value.is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if name.eq_ignore_ascii_case("if-none-match") {
            out.if_none_match = value.map(str::to_owned);
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            out.if_modified_since = value.map(str::to_owned);
        } else if name.eq_ignore_ascii_case("range") {
            out.range = value.map(str::to_owned);
        } else if name.eq_ignore_ascii_case("if-range") {
            out.if_range = value.map(str::to_owned);
        }
    }
    // RFC 9112 §3.2: a 1.1 request without exactly one Host is answered 400.
    if (minor >= 1 && hosts != 1) || hosts > 1 {
        return Err(Status::BadRequest);
    }
    out.body = match (chunked, content_length) {
        // Both framings at once is a request-smuggling shape: refuse it.
        (true, Some(_)) => return Err(Status::BadRequest),
        (true, None) => BodyKind::Chunked,
        (false, Some(0)) | (false, None) => BodyKind::None,
        (false, Some(n)) => BodyKind::Length(n),
    };
    // A chunked body cannot be skipped cheaply, and a client waiting for
    // `100 Continue` may never send the body it announced: answer, then close.
    if out.body == BodyKind::Chunked || (expects_continue && out.body != BodyKind::None) {
        out.keep_alive = false;
    }
    Ok(out)
}

/// httparse reports every version other than 1.0 and 1.1 as a version
/// error, and garbage in that place too: `HTTP/d.d` is a version this server
/// does not support (505), anything else is malformed (400).
fn version_status(head: &[u8]) -> Status {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = &head[..line_end];
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    match parts.as_slice() {
        [_, _, [b'H', b'T', b'T', b'P', b'/', a, b'.', b]]
            if a.is_ascii_digit() && b.is_ascii_digit() =>
        {
            Status::VersionNotSupported
        }
        _ => Status::BadRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Request, Status> {
        parse_head(s.as_bytes())
    }

    #[test]
    fn a_plain_get_keeps_the_connection_alive() {
        let r = parse("GET /a/b.txt?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.target, "/a/b.txt?x=1");
        assert!(r.keep_alive);
        assert_eq!(r.body, BodyKind::None);
    }

    #[test]
    fn connection_close_and_http_1_0_semantics() {
        assert!(
            !parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
    }

    #[test]
    fn conditional_and_range_headers_are_kept() {
        let r = parse(
            "HEAD / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\nIf-Modified-Since: d\r\nRange: bytes=0-1\r\nIf-Range: \"x\"\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, Method::Head);
        assert_eq!(r.if_none_match.as_deref(), Some("\"x\""));
        assert_eq!(r.if_modified_since.as_deref(), Some("d"));
        assert_eq!(r.range.as_deref(), Some("bytes=0-1"));
        assert_eq!(r.if_range.as_deref(), Some("\"x\""));
    }

    #[test]
    fn statuses_for_bad_heads() {
        assert_eq!(
            parse("GET / HTTP/2.0\r\n\r\n"),
            Err(Status::VersionNotSupported)
        );
        assert_eq!(
            parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n"),
            Err(Status::VersionNotSupported)
        );
        assert_eq!(parse("GET / FOO\r\n\r\n"), Err(Status::BadRequest));
        assert_eq!(
            parse("GET / HTTP/1.1\r\n\r\n"),
            Err(Status::BadRequest),
            "no host"
        );
        assert_eq!(
            parse("G ET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            Err(Status::BadRequest)
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(Status::BadRequest)
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Status::BadRequest)
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"),
            Err(Status::BadRequest)
        );
    }

    #[test]
    fn too_many_headers_is_431() {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        for i in 0..MAX_HEADERS {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s.push_str("\r\n");
        assert_eq!(parse(&s), Err(Status::HeaderFieldsTooLarge));
    }

    #[test]
    fn bodies_are_described_for_skipping() {
        let r = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n").unwrap();
        assert_eq!(r.method, Method::Other("POST".into()));
        assert_eq!(r.body, BodyKind::Length(12));
        assert!(r.keep_alive);
        let r = parse(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n",
        )
        .unwrap();
        assert!(!r.keep_alive, "the body may never come");
        let r = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(r.body, BodyKind::Chunked);
        assert!(!r.keep_alive);
    }
}
