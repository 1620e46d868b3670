//! Request heads: parsed with `httparse` into the few facts a static file
//! server acts on, with the limits checked first.

use bytes::Bytes;

use super::fields::{valid_host, TransferEncoding};
use super::Status;

/// Largest request head accepted, request line and headers together;
/// a longer one is answered 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// Most header fields accepted in one request; more is answered 431.
pub const MAX_HEADERS: usize = 64;

/// A request method the server tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `OPTIONS`: answered 200 with `Allow`, for `*` and for any target
    /// that exists.
    Options,
    /// Anything else, answered 405 ([`RequestHead::method_name`] has it).
    Other,
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

/// Where a piece of the head lies in its bytes: offsets fit a `u16`
/// because a head is at most [`MAX_HEAD_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u16,
    end: u16,
}

const _: () = assert!(MAX_HEAD_BYTES <= u16::MAX as usize);

impl Span {
    /// The span of `part`, a subslice of `head` (as httparse hands out).
    fn of(head: &[u8], part: &[u8]) -> Result<Span, Status> {
        let start = (part.as_ptr() as usize)
            .checked_sub(head.as_ptr() as usize)
            .ok_or(Status::BadRequest)?;
        let end = start.checked_add(part.len()).ok_or(Status::BadRequest)?;
        if end > head.len() {
            return Err(Status::BadRequest);
        }
        let fit = |n: usize| u16::try_from(n).map_err(|_| Status::HeaderFieldsTooLarge);
        Ok(Span {
            start: fit(start)?,
            end: fit(end)?,
        })
    }
}

/// One parsed request head: the head's own bytes (a slice of the read it
/// arrived in, no copy when it lay in one read) and where the facts this
/// server acts on lie in them. Small enough to travel through the
/// pipeline inline (no allocation per request); the strings are read
/// from the bytes when asked for.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::http::{HttpDecoder, HttpFrame, Method};
/// use weft_pipeline::codec::ByteToMessageDecoder;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("http", ByteToMessageDecoder::new(HttpDecoder::new()))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(
///     b"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n",
/// ));
/// let Some(HttpFrame::Request(req)) = ch.read_inbound::<HttpFrame>() else { panic!() };
/// assert_eq!(req.method(), Method::Get);
/// assert_eq!(req.target(), "/a.txt");
/// assert_eq!(req.range(), Some("bytes=0-1"));
/// assert!(req.keep_alive());
/// assert!(weft_pipeline::Value::fits_inline::<HttpFrame>());
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The whole head, request line to the empty line.
    head: Bytes,
    method: Method,
    method_name: Span,
    target: Span,
    minor_version: u8,
    keep_alive: bool,
    has_body: bool,
    if_none_match: Option<Span>,
    if_modified_since: Option<Span>,
    range: Option<Span>,
    if_range: Option<Span>,
}

impl RequestHead {
    fn text(&self, span: Span) -> &str {
        // The spans were cut by `parse_head` from `&str`s that httparse or
        // `from_utf8` checked, within the head; checking again costs a pass
        // over a few bytes and keeps this free of `unsafe`. The fallback
        // cannot be reached (the debug assertion says so in tests) and is
        // not a panic on peer input.
        let text = self
            .head
            .get(usize::from(span.start)..usize::from(span.end))
            .and_then(|b| std::str::from_utf8(b).ok());
        debug_assert!(
            text.is_some(),
            "span {span:?} outside the head or not UTF-8"
        );
        text.unwrap_or("")
    }

    fn header(&self, span: Option<Span>) -> Option<&str> {
        span.map(|s| self.text(s))
    }

    /// The method.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method as sent (`"GET"`, `"DELETE"`, ...).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn method_name(&self) -> &str {
        self.text(self.method_name)
    }

    /// The request target as sent (origin form, `/path?query`).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn target(&self) -> &str {
        self.text(self.target)
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1 and for any later HTTP/1.x, which is
    /// served as 1.1 (RFC 9112 §2.6).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Whether the connection stays open after the answer.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether a `Content-Length` body follows the head (the decoder skips
    /// it, and tells the handler with [`HttpProgress::BodySkipped`](super::HttpProgress)
    /// when it is past).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn has_body(&self) -> bool {
        self.has_body
    }

    /// `If-None-Match`, if present.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn if_none_match(&self) -> Option<&str> {
        self.header(self.if_none_match)
    }

    /// `If-Modified-Since`, if present.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn if_modified_since(&self) -> Option<&str> {
        self.header(self.if_modified_since)
    }

    /// `Range`, if present.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn range(&self) -> Option<&str> {
        self.header(self.range)
    }

    /// `If-Range`, if present.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn if_range(&self) -> Option<&str> {
        self.header(self.if_range)
    }

    /// The head's bytes, request line to the empty line.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn as_bytes(&self) -> &Bytes {
        &self.head
    }
}

/// Parses one complete head (ending in `\r\n\r\n`, every line ended by
/// CRLF: the decoder refuses a bare LF before this is called) or says
/// which status answers it. The head's bytes are kept, not copied.
///
/// The checks, in nginx's order: the head's syntax (400, 431, 505), `Host`
/// (400), `Transfer-Encoding` (400 on HTTP/1.0 or beside
/// `Content-Length`, 501 for any coding but `chunked`); the method is
/// looked at only after all of them, by the handler.
pub(crate) fn parse_head(head: Bytes) -> Result<(RequestHead, BodyKind), Status> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(Status::HeaderFieldsTooLarge);
    }
    // RFC 9112 §2.6: a later HTTP/1.x is served as HTTP/1.1. httparse knows
    // only 1.0 and 1.1, so it parses a copy whose version says 1.1 (same
    // length: every span found in it is a span of `head`). Rare, so the
    // copy costs nothing on the common path.
    let patched = later_http1_minor(&head).map(|at| {
        let mut v = head.to_vec();
        if let Some(digit) = v.get_mut(at) {
            *digit = b'1';
        }
        v
    });
    let src: &[u8] = patched.as_deref().unwrap_or(&head);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(src) {
        // The head the decoder cut is exactly the head httparse read: the
        // framing is decided in one place only.
        Ok(httparse::Status::Complete(n)) if n == src.len() => {}
        Ok(_) => return Err(Status::BadRequest),
        Err(httparse::Error::TooManyHeaders) => return Err(Status::HeaderFieldsTooLarge),
        Err(httparse::Error::Version) => return Err(version_status(&head)),
        Err(_) => return Err(Status::BadRequest),
    }
    let (Some(method_name), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(Status::BadRequest);
    };
    let method = match method_name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        _ => Method::Other,
    };
    let span = |part: &str| Span::of(src, part.as_bytes());
    let mut keep_alive = minor >= 1;
    let mut if_none_match = None;
    let mut if_modified_since = None;
    let mut range = None;
    let mut if_range = None;
    let mut hosts = 0;
    let mut bad_host = false;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = TransferEncoding::Absent;
    let mut expects_continue = false;
    for h in req.headers.iter() {
        let name = h.name;
        let value = std::str::from_utf8(h.value).ok().map(str::trim);
        let value_span = || value.map(span).transpose();
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            bad_host |= !value.is_some_and(|v| valid_host(v.as_bytes()));
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.ok_or(Status::BadRequest)?;
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && minor == 0 {
                    keep_alive = true;
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
            transfer_encoding = transfer_encoding.and(value);
        } else if name.eq_ignore_ascii_case("if-none-match") {
            if_none_match = value_span()?;
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            if_modified_since = value_span()?;
        } else if name.eq_ignore_ascii_case("range") {
            range = value_span()?;
        } else if name.eq_ignore_ascii_case("if-range") {
            if_range = value_span()?;
        }
    }
    // RFC 9112 §3.2: a 1.1 request without exactly one Host is answered
    // 400, and so is any request with a Host that is not a valid
    // `uri-host [":" port]` (an empty one included, as nginx does).
    if (minor >= 1 && hosts != 1) || hosts > 1 || bad_host {
        return Err(Status::BadRequest);
    }
    let chunked = match transfer_encoding {
        TransferEncoding::Absent => false,
        // RFC 9112 §6.1: Transfer-Encoding in a 1.0 request is faulty
        // framing.
        _ if minor == 0 => return Err(Status::BadRequest),
        TransferEncoding::Chunked => true,
        // RFC 9112 §6.1: a coding the server does not understand is 501,
        // whatever the method.
        TransferEncoding::Other => return Err(Status::NotImplemented),
    };
    let body = match (chunked, content_length) {
        // Both framings at once is a request-smuggling shape: refuse it.
        (true, Some(_)) => return Err(Status::BadRequest),
        (true, None) => BodyKind::Chunked,
        (false, Some(0)) | (false, None) => BodyKind::None,
        (false, Some(n)) => BodyKind::Length(n),
    };
    // A chunked body cannot be skipped cheaply, and a client waiting for
    // `100 Continue` may never send the body it announced: answer, then close.
    if body == BodyKind::Chunked || (expects_continue && body != BodyKind::None) {
        keep_alive = false;
    }
    let (method_name, target) = (span(method_name)?, span(path)?);
    Ok((
        RequestHead {
            head,
            method,
            method_name,
            target,
            minor_version: minor,
            keep_alive,
            has_body: matches!(body, BodyKind::Length(_)),
            if_none_match,
            if_modified_since,
            range,
            if_range,
        },
        body,
    ))
}

/// Where the minor digit of `HTTP/1.x` is, when the request line of `head`
/// ends in a 1.x later than 1.1 (RFC 9112 §2.3: one digit each).
fn later_http1_minor(head: &[u8]) -> Option<usize> {
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let start = line_end.checked_sub(9)?;
    match head.get(start..line_end)? {
        [b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if (b'2'..=b'9').contains(d) => {
            Some(line_end - 1)
        }
        _ => None,
    }
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

    fn parse(s: &str) -> Result<RequestHead, Status> {
        parse_head(Bytes::copy_from_slice(s.as_bytes())).map(|(r, _)| r)
    }

    fn body(s: &str) -> BodyKind {
        parse_head(Bytes::copy_from_slice(s.as_bytes()))
            .map(|(_, b)| b)
            .unwrap()
    }

    #[test]
    fn a_plain_get_keeps_the_connection_alive() {
        let r = parse("GET /a/b.txt?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(r.method(), Method::Get);
        assert_eq!(r.method_name(), "GET");
        assert_eq!(r.target(), "/a/b.txt?x=1");
        assert!(r.keep_alive());
        assert!(!r.has_body());
        assert_eq!(body("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), BodyKind::None);
    }

    #[test]
    fn connection_close_and_http_1_0_semantics() {
        assert!(
            !parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive()
        );
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive());
        assert!(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .keep_alive());
    }

    #[test]
    fn conditional_and_range_headers_are_kept() {
        let r = parse(
            "HEAD / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\nIf-Modified-Since: d\r\nRange: bytes=0-1\r\nIf-Range: \"x\"\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method(), Method::Head);
        assert_eq!(r.if_none_match(), Some("\"x\""));
        assert_eq!(r.if_modified_since(), Some("d"));
        assert_eq!(r.range(), Some("bytes=0-1"));
        assert_eq!(r.if_range(), Some("\"x\""));
    }

    #[test]
    fn statuses_for_bad_heads() {
        assert_eq!(
            parse("GET / HTTP/2.0\r\n\r\n"),
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
    fn a_later_http_1_x_is_served_as_1_1() {
        for v in ["1.2", "1.9"] {
            let r = parse(&format!(
                "GET /x HTTP/{v}\r\nHost: h\r\nRange: bytes=1-\r\n\r\n"
            ))
            .unwrap();
            assert_eq!(r.minor_version(), 1, "{v}");
            assert!(r.keep_alive());
            assert_eq!(r.target(), "/x");
            assert_eq!(r.range(), Some("bytes=1-"));
            assert!(
                r.as_bytes().starts_with(b"GET /x HTTP/"),
                "the head as sent"
            );
            assert_eq!(
                parse(&format!("GET / HTTP/{v}\r\n\r\n")),
                Err(Status::BadRequest),
                "a 1.1 request needs a Host"
            );
        }
        assert_eq!(
            parse("GET / HTTP/1.10\r\nHost: h\r\n\r\n"),
            Err(Status::BadRequest),
            "one digit each (RFC 9112 §2.3)"
        );
        for v in ["2.0", "3.1", "0.9"] {
            assert_eq!(
                parse(&format!("GET / HTTP/{v}\r\nHost: h\r\n\r\n")),
                Err(Status::VersionNotSupported),
                "{v}"
            );
        }
    }

    #[test]
    fn host_must_be_one_valid_authority() {
        for host in [
            "a, b", "a/path", "", "a b", "a@b", "a:x", "a\\b", "[::1", "[]", "%zz", "a:80:1",
            "[zz]", "[v.x]", "[v1.]", "[::1]x",
        ] {
            for v in ["1.1", "1.0"] {
                assert_eq!(
                    parse(&format!("GET / HTTP/{v}\r\nHost: {host}\r\n\r\n")),
                    Err(Status::BadRequest),
                    "Host: {host:?} on {v}"
                );
            }
        }
        for host in [
            "a",
            "a:80",
            "a:",
            "127.0.0.1:8080",
            "[::1]:80",
            "[::ffff:127.0.0.1]",
            "[v1.x]",
            "a,b",
            "xn--d1acufc.example",
            "a%20b",
        ] {
            assert!(
                parse(&format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n")).is_ok(),
                "Host: {host:?}"
            );
        }
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
            Err(Status::BadRequest),
            "two Host fields, even equal"
        );
        assert!(parse("GET / HTTP/1.0\r\n\r\n").is_ok(), "1.0 may omit Host");
    }

    #[test]
    fn transfer_codings_other_than_chunked_are_501_before_the_method() {
        for te in [
            "gzip",
            "chunked, gzip",
            "gzip, chunked",
            "chunked\r\nTransfer-Encoding: chunked",
            "identity",
            "",
        ] {
            for method in ["GET", "POST", "BREW"] {
                assert_eq!(
                    parse(&format!(
                        "{method} / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {te}\r\n\r\n"
                    )),
                    Err(Status::NotImplemented),
                    "{method} with {te:?}"
                );
            }
        }
        assert!(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked \r\n\r\n").is_ok());
        assert_eq!(
            parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Status::BadRequest),
            "faulty framing on 1.0"
        );
        assert_eq!(
            parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Err(Status::BadRequest),
            "Host is checked first, as nginx does"
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
        let post = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n";
        let r = parse(post).unwrap();
        assert_eq!(r.method(), Method::Other);
        assert_eq!(r.method_name(), "POST");
        assert_eq!(body(post), BodyKind::Length(12));
        assert!(r.has_body());
        assert!(r.keep_alive());
        let r = parse(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n",
        )
        .unwrap();
        assert!(!r.keep_alive(), "the body may never come");
        let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(body(chunked), BodyKind::Chunked);
        assert!(!parse(chunked).unwrap().keep_alive());
        assert!(!parse(chunked).unwrap().has_body(), "not a length to skip");
    }

    #[test]
    fn header_values_are_trimmed_slices_of_the_head_and_the_frame_is_inline() {
        let r = parse("GET /x HTTP/1.1\r\nHost: h\r\nRange:   bytes=1-2  \r\nIf-Range:\r\n\r\n")
            .unwrap();
        assert_eq!(r.range(), Some("bytes=1-2"));
        assert_eq!(r.if_range(), Some(""), "present but empty");
        assert_eq!(r.if_none_match(), None);
        let range = r.range().unwrap().as_ptr() as usize;
        let head = r.as_bytes().as_ptr() as usize;
        assert!(
            range > head && range < head + r.as_bytes().len(),
            "not a copy"
        );
        assert!(weft_pipeline::Value::fits_inline::<RequestHead>());
        assert!(weft_pipeline::Value::fits_inline::<crate::http::HttpFrame>());
    }
}
