//! From a parsed request to a response: a head as one `Bytes` and, for a
//! body, a `FileRegion` that the transport sends with `sendfile` (or, for a
//! small cached file, its bytes in memory, sent with the head).

use std::fmt::Write as _;
use std::time::SystemTime;

use bytes::Bytes;
use weft_buf::FileRegion;

use super::date::{parse_http_date, unix_secs};
use super::head::{Method, RequestHead};
use super::open_cache::Named;
use super::range::{parse_range, RangeAnswer};
use super::resolve::Target;
use super::validators::Validators;
use super::Status;

/// The methods this server answers, for `Allow` (on 405 and OPTIONS).
pub(crate) const ALLOW: &str = "GET, HEAD, OPTIONS";

/// A response ready to write: the head (with any small error body in the
/// same `Bytes`), then an optional file body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: Status,
    pub(crate) head: Bytes,
    pub(crate) body: Option<Body>,
    pub(crate) close: bool,
}

/// A response's body.
#[derive(Debug)]
pub(crate) enum Body {
    /// A region of the file, sent with `sendfile`.
    File(FileRegion),
    /// The bytes of a small file read at its open (see
    /// [`FileRoot::memory_body_max`](super::FileRoot::memory_body_max)).
    Memory(Bytes),
}

/// Starts a head: status line, `Server`, `Date` and the connection header.
fn start_head(status: Status, date: &str, close: bool, http10_keep_alive: bool) -> String {
    let mut h = String::with_capacity(320);
    h.push_str("HTTP/1.1 ");
    push_u64(&mut h, u64::from(status.code()));
    h.push(' ');
    h.push_str(status.reason());
    h.push_str("\r\nServer: weft\r\nDate: ");
    h.push_str(date);
    h.push_str("\r\n");
    if close {
        h.push_str("Connection: close\r\n");
    } else if http10_keep_alive {
        h.push_str("Connection: keep-alive\r\n");
    }
    h
}

/// Appends `n` in decimal (without `fmt`: a few of these are in every head).
fn push_u64(h: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        h.push(char::from(d));
    }
}

/// An error answer with a one-line text body (left out for HEAD).
pub(crate) fn error_response(status: Status, close: bool, head_only: bool, date: &str) -> Response {
    error_response_for(status, close, false, head_only, date)
}

fn error_response_for(
    status: Status,
    close: bool,
    http10_keep_alive: bool,
    head_only: bool,
    date: &str,
) -> Response {
    let allow = (status == Status::MethodNotAllowed).then_some(("Allow", ALLOW));
    short_response(status, allow, close, http10_keep_alive, head_only, date)
}

/// A response with a one-line text body (left out for HEAD) and an
/// optional extra header, `(name, value)`.
fn short_response(
    status: Status,
    extra: Option<(&str, &str)>,
    close: bool,
    http10_keep_alive: bool,
    head_only: bool,
    date: &str,
) -> Response {
    let body = format!("{} {}\n", status.code(), status.reason());
    let mut h = start_head(status, date, close, http10_keep_alive);
    if let Some((name, value)) = extra {
        let _ = write!(h, "{name}: {value}\r\n");
    }
    let _ = write!(
        h,
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    if !head_only {
        h.push_str(&body);
    }
    Response {
        status,
        head: Bytes::from(h),
        body: None,
        close,
    }
}

/// Weak comparison of an `If-None-Match` list against our tag (RFC 9110 §13.1.2).
fn none_match_hits(list: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == ours)
}

/// Whether a modification date header is at or after our mtime (seconds).
/// A date later than the server's clock (`now_secs`) is invalid and
/// ignored (RFC 9110 §13.1.3), as an unparsable one is.
fn not_modified_since(header: &str, mtime_secs: u64, now_secs: u64) -> bool {
    parse_http_date(header)
        .map(|t: SystemTime| unix_secs(t))
        .is_some_and(|since| since <= now_secs && mtime_secs <= since)
}

/// `If-Range`: a strong tag equal to ours, or a date equal to Last-Modified.
fn if_range_holds(header: &str, v: &Validators) -> bool {
    let header = header.trim();
    if header.starts_with('"') {
        header == v.etag
    } else if header.starts_with("W/") {
        false
    } else {
        parse_http_date(header).is_some_and(|t| unix_secs(t) == v.mtime_secs)
    }
}

/// What a request needs before it is answered.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Its answer: no file is involved (an error, `OPTIONS *`).
    Answer(Response),
    /// The file its target names, opened (off the event loop, or from the
    /// open-file cache), then [`respond_with`].
    Open(Target),
}

/// The `Connection` framing of an answer to `req`: (close, HTTP/1.0
/// keep-alive).
fn framing(req: &RequestHead) -> (bool, bool) {
    (
        !req.keep_alive(),
        req.keep_alive() && req.minor_version() == 0,
    )
}

/// `200` with `Allow` and no body: `OPTIONS *` asks about the server,
/// `OPTIONS /path` about a resource that exists; the same methods for all.
fn options(date: &str, close: bool, ka10: bool) -> Response {
    let mut h = start_head(Status::Ok, date, close, ka10);
    let _ = write!(h, "Allow: {ALLOW}\r\nContent-Length: 0\r\n\r\n");
    Response {
        status: Status::Ok,
        head: Bytes::from(h),
        body: None,
        close,
    }
}

/// The first step of answering `req`, on the event loop and without a
/// system call: the answer itself when no file is needed (405, `OPTIONS
/// *`, a malformed target or one with `..`), else the target to open.
/// `date` is the current IMF-fixdate for the `Date` header.
pub(crate) fn plan(req: &RequestHead, date: &str) -> Plan {
    let (close, ka10) = framing(req);
    let head_only = req.method() == Method::Head;
    if req.method() == Method::Other {
        return Plan::Answer(error_response_for(
            Status::MethodNotAllowed,
            close,
            ka10,
            head_only,
            date,
        ));
    }
    if req.method() == Method::Options && req.target() == "*" {
        return Plan::Answer(options(date, close, ka10));
    }
    match Target::parse(req.target()) {
        Ok(t) => Plan::Open(t),
        Err(s) => Plan::Answer(error_response_for(s, close, ka10, head_only, date)),
    }
}

/// Answers `req` once its target (from [`plan`]) is opened: `named` is
/// what the open found. `date` is the current IMF-fixdate for the `Date`
/// header, `now_secs` the same second since the epoch.
pub(crate) fn respond_with(
    req: &RequestHead,
    target: &Target,
    named: Result<Named, Status>,
    date: &str,
    now_secs: u64,
) -> Response {
    let head_only = req.method() == Method::Head;
    let (close, ka10) = framing(req);
    let err = |s: Status| error_response_for(s, close, ka10, head_only, date);
    let named = match named {
        Ok(n) => n,
        Err(s) => return err(s),
    };
    if req.method() == Method::Options {
        return options(date, close, ka10);
    }
    let file = match named {
        Named::File(f) => f,
        Named::Directory => {
            let location = target.directory_location(req.target());
            return short_response(
                Status::MovedPermanently,
                Some(("Location", &location)),
                close,
                ka10,
                head_only,
                date,
            );
        }
    };
    let len = file.len;
    let v = &*file.validators;

    let not_modified = match (req.if_none_match(), req.if_modified_since()) {
        (Some(inm), _) => none_match_hits(inm, &v.etag),
        (None, Some(ims)) => not_modified_since(ims, v.mtime_secs, now_secs),
        (None, None) => false,
    };
    if not_modified {
        let mut h = start_head(Status::NotModified, date, close, ka10);
        let _ = write!(
            h,
            "ETag: {}\r\nLast-Modified: {}\r\n\r\n",
            v.etag, v.last_modified
        );
        return Response {
            status: Status::NotModified,
            head: Bytes::from(h),
            body: None,
            close,
        };
    }

    let range = match (req.range(), req.if_range()) {
        (Some(r), None) if !head_only => parse_range(r, len),
        (Some(r), Some(ir)) if !head_only && if_range_holds(ir, v) => parse_range(r, len),
        _ => RangeAnswer::Full,
    };
    let (status, span) = match range {
        RangeAnswer::Full => (Status::Ok, 0..len),
        RangeAnswer::Partial(r) => (Status::PartialContent, r),
        RangeAnswer::Unsatisfiable => {
            let mut h = start_head(Status::RangeNotSatisfiable, date, close, ka10);
            let _ = write!(
                h,
                "Content-Range: bytes */{len}\r\nContent-Length: 0\r\n\r\n"
            );
            return Response {
                status: Status::RangeNotSatisfiable,
                head: Bytes::from(h),
                body: None,
                close,
            };
        }
    };
    let mut h = start_head(status, date, close, ka10);
    h.push_str("Content-Type: ");
    h.push_str(file.content_type);
    h.push_str("\r\nContent-Length: ");
    push_u64(&mut h, span.end - span.start);
    h.push_str("\r\nLast-Modified: ");
    h.push_str(&v.last_modified);
    h.push_str("\r\nETag: ");
    h.push_str(&v.etag);
    h.push_str("\r\nAccept-Ranges: bytes\r\n");
    if status == Status::PartialContent {
        let _ = write!(
            h,
            "Content-Range: bytes {}-{}/{len}\r\n",
            span.start,
            span.end - 1
        );
    }
    h.push_str("\r\n");
    let body = if head_only || span.is_empty() {
        None
    } else if let Some(contents) = &file.contents {
        // A small file read once at its open: the head and the body leave
        // in one sendmsg, no sendfile. (The span was cut to the length,
        // which is the contents' length.)
        match (usize::try_from(span.start), usize::try_from(span.end)) {
            (Ok(a), Ok(b)) if b <= contents.len() => Some(Body::Memory(contents.slice(a..b))),
            _ => return err(Status::InternalServerError),
        }
    } else {
        // The length from the open's fstat: no second fstat per request.
        match FileRegion::with_file_len(file.file.clone(), span.start, span.end - span.start, len) {
            Ok(r) => Some(Body::File(r)),
            // The span is outside the file's length (cannot happen: the
            // span was cut to it above).
            Err(_) => return err(Status::InternalServerError),
        }
    };
    Response {
        status,
        head: Bytes::from(h),
        body,
        close,
    }
}

/// Answers one request on the calling thread, opening its file there:
/// [`plan`], [`open_named`], [`respond_with`].
#[cfg(test)]
pub(crate) fn respond(
    root: &super::FileRoot,
    req: &RequestHead,
    date: &str,
    now_secs: u64,
) -> Response {
    match plan(req, date) {
        Plan::Answer(r) => r,
        Plan::Open(t) => {
            let named = super::open_cache::open_named(root, &t);
            respond_with(req, &t, named, date, now_secs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head::parse_head;
    use crate::http::FileRoot;
    use std::fs;
    use std::time::{Duration, UNIX_EPOCH};

    const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    fn root() -> (tempfile::TempDir, FileRoot) {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f.txt"), b"0123456789").unwrap();
        let r = FileRoot::open(d.path()).unwrap();
        (d, r)
    }

    fn ask(root: &FileRoot, head: &str) -> Response {
        let (req, _) = parse_head(Bytes::copy_from_slice(head.as_bytes())).unwrap();
        respond(root, &req, DATE, unix_secs(SystemTime::now()))
    }

    fn head_text(r: &Response) -> &str {
        std::str::from_utf8(&r.head).unwrap()
    }

    fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        head_text(r).split("\r\n").find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    #[test]
    fn get_answers_200_with_a_file_region_body() {
        let (_d, root) = root();
        let r = ask(&root, "GET /f.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.status, Status::Ok);
        assert!(head_text(&r).starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(header(&r, "content-length"), Some("10"));
        assert_eq!(
            header(&r, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(header(&r, "date"), Some(DATE));
        assert!(header(&r, "etag").is_some());
        assert!(header(&r, "last-modified").is_some());
        assert!(head_text(&r).ends_with("\r\n\r\n"));
        let Some(Body::File(body)) = r.body else {
            panic!("a file region body")
        };
        assert_eq!((body.offset(), body.len()), (0, 10));
        assert!(!r.close);
    }

    #[test]
    fn head_has_the_same_headers_and_no_body() {
        let (_d, root) = root();
        let r = ask(
            &root,
            "HEAD /f.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n",
        );
        assert_eq!(r.status, Status::Ok, "HEAD ignores Range");
        assert_eq!(header(&r, "content-length"), Some("10"));
        assert!(r.body.is_none());
    }

    #[test]
    fn ranges_answer_206_or_416() {
        let (_d, root) = root();
        let r = ask(
            &root,
            "GET /f.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=2-4\r\n\r\n",
        );
        assert_eq!(r.status, Status::PartialContent);
        assert_eq!(header(&r, "content-range"), Some("bytes 2-4/10"));
        assert_eq!(header(&r, "content-length"), Some("3"));
        let Some(Body::File(b)) = r.body else {
            panic!("a file region body")
        };
        assert_eq!((b.offset(), b.len()), (2, 3));

        let r = ask(
            &root,
            "GET /f.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=10-\r\n\r\n",
        );
        assert_eq!(r.status, Status::RangeNotSatisfiable);
        assert_eq!(header(&r, "content-range"), Some("bytes */10"));
        assert!(r.body.is_none());
    }

    #[test]
    fn if_range_with_another_tag_serves_the_whole_file() {
        let (_d, root) = root();
        let r = ask(
            &root,
            "GET /f.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=2-4\r\nIf-Range: \"other\"\r\n\r\n",
        );
        assert_eq!(r.status, Status::Ok);
        let tag = header(&r, "etag").unwrap().to_owned();
        let r = ask(
            &root,
            &format!(
                "GET /f.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=2-4\r\nIf-Range: {tag}\r\n\r\n"
            ),
        );
        assert_eq!(r.status, Status::PartialContent);
    }

    #[test]
    fn validators_answer_304() {
        let (_d, root) = root();
        let first = ask(&root, "GET /f.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        let tag = header(&first, "etag").unwrap().to_owned();
        let lm = header(&first, "last-modified").unwrap().to_owned();
        for cond in [
            format!("If-None-Match: {tag}"),
            format!("If-None-Match: \"zzz\", W/{tag}"),
            "If-None-Match: *".to_owned(),
            format!("If-Modified-Since: {lm}"),
            format!(
                "If-Modified-Since: {}",
                crate::http::date::format_http_date(SystemTime::now())
            ),
        ] {
            let r = ask(
                &root,
                &format!("GET /f.txt HTTP/1.1\r\nHost: h\r\n{cond}\r\n\r\n"),
            );
            assert_eq!(r.status, Status::NotModified, "{cond}");
            assert!(r.body.is_none());
            assert_eq!(header(&r, "etag"), Some(tag.as_str()));
        }
        for cond in [
            "If-None-Match: \"zzz\"",
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
            "If-Modified-Since: garbage",
            // Later than the server's clock: invalid, ignored (RFC 9110 §13.1.3).
            "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
            // If-None-Match wins over If-Modified-Since
            "If-None-Match: \"zzz\"\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
        ] {
            let r = ask(
                &root,
                &format!("GET /f.txt HTTP/1.1\r\nHost: h\r\n{cond}\r\n\r\n"),
            );
            assert_eq!(r.status, Status::Ok, "{cond}");
        }
    }

    #[test]
    fn validators_change_as_soon_as_the_file_does() {
        let (d, root) = root();
        let get = "GET /f.txt HTTP/1.1\r\nHost: h\r\n\r\n";
        let etag = |r: &Response| header(r, "etag").unwrap().to_owned();
        let first = ask(&root, get);
        assert_eq!(etag(&ask(&root, get)), etag(&first));
        // Another size.
        fs::write(d.path().join("f.txt"), b"01234567890").unwrap();
        let grown = ask(&root, get);
        assert_ne!(etag(&grown), etag(&first));
        assert_eq!(header(&grown, "content-length"), Some("11"));
        // The same size, another mtime.
        let f = fs::File::options()
            .write(true)
            .open(d.path().join("f.txt"))
            .unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(784_111_777))
            .unwrap();
        let touched = ask(&root, get);
        assert_ne!(etag(&touched), etag(&grown));
        assert_eq!(header(&touched, "last-modified"), Some(DATE));
    }

    #[test]
    fn other_methods_get_405_with_allow() {
        let (_d, root) = root();
        let r = ask(&root, "DELETE /f.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.status, Status::MethodNotAllowed);
        assert_eq!(header(&r, "allow"), Some("GET, HEAD, OPTIONS"));
    }

    #[test]
    fn options_answers_200_with_allow_for_the_server_and_for_what_exists() {
        let (_d, root) = root();
        for target in ["*", "/f.txt"] {
            let r = ask(
                &root,
                &format!("OPTIONS {target} HTTP/1.1\r\nHost: h\r\n\r\n"),
            );
            assert_eq!(r.status, Status::Ok, "{target}");
            assert_eq!(header(&r, "allow"), Some(ALLOW));
            assert_eq!(header(&r, "content-length"), Some("0"));
            assert!(r.body.is_none());
        }
        let r = ask(&root, "OPTIONS /nope HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.status, Status::NotFound);
        let r = ask(&root, "GET * HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.status, Status::BadRequest, "only OPTIONS takes *");
    }

    #[test]
    fn a_directory_without_its_slash_answers_301_to_it() {
        let (d, root) = root();
        fs::create_dir(d.path().join("dir")).unwrap();
        let r = ask(&root, "GET /dir?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.status, Status::MovedPermanently);
        assert_eq!(header(&r, "location"), Some("/dir/?x=1"));
        assert!(head_text(&r).ends_with("\r\n\r\n301 Moved Permanently\n"));
        assert!(!r.close);
        let r = ask(&root, "HEAD /dir HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.status, Status::MovedPermanently);
        assert!(head_text(&r).ends_with("\r\n\r\n"), "no body for HEAD");
    }

    #[test]
    fn connection_headers_follow_the_request() {
        let (_d, root) = root();
        let r = ask(
            &root,
            "GET /f.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        );
        assert!(r.close);
        assert_eq!(header(&r, "connection"), Some("close"));
        let r = ask(&root, "GET /f.txt HTTP/1.0\r\n\r\n");
        assert!(r.close);
        let r = ask(
            &root,
            "GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        );
        assert_eq!(r.status, Status::NotFound);
        assert!(!r.close);
        assert_eq!(header(&r, "connection"), Some("keep-alive"));
    }

    #[test]
    fn error_bodies_are_left_out_for_head() {
        let get = error_response(Status::NotFound, false, false, DATE);
        let head = error_response(Status::NotFound, false, true, DATE);
        assert!(head_text(&get).ends_with("\r\n\r\n404 Not Found\n"));
        assert!(head_text(&head).ends_with("Content-Length: 14\r\n\r\n"));
    }
}
