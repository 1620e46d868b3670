//! `weft http`: an HTTP/1.1 static file server.
//!
//! ```text
//!  socket ─▶ HttpRequestDecoder ─▶ StaticFiles ─▶ write(head Bytes) + write(FileRegion)
//!            cumulates reads in a   resolves the    the head is one small Bytes, the
//!            CompositeBuf, finds    target under    body a FileRegion the transport
//!            \r\n\r\n across reads, the root, opens sends with sendfile
//!            parses with httparse   the file
//! ```
//!
//! GET and HEAD; keep-alive and pipelining (answers go out in request order);
//! `Content-Length`, `Content-Type` by extension; `Last-Modified` /
//! `If-Modified-Since` and `ETag` / `If-None-Match` (304); single byte ranges
//! (206, or 416 when unsatisfiable); a directory serves its `index.html`.
//! Heads are limited to [`MAX_HEAD_BYTES`] and [`MAX_HEADERS`] (431). Targets
//! that would leave the root (`..`, `%2e%2e`, symlinks pointing outside) are
//! refused with 403 and nothing outside the root is ever opened.

// The protocol logic lands before the server that uses it (weft-transport
// is being written); this goes once `run` is wired.
#![allow(dead_code)]

mod date;
mod head;
mod mime;
mod range;
mod resolve;
mod respond;

pub use head::{Method, Request, MAX_HEADERS, MAX_HEAD_BYTES};

/// The response statuses this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// 200
    Ok,
    /// 206
    PartialContent,
    /// 304
    NotModified,
    /// 400
    BadRequest,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 408
    RequestTimeout,
    /// 416
    RangeNotSatisfiable,
    /// 431
    HeaderFieldsTooLarge,
    /// 500
    InternalServerError,
    /// 505
    VersionNotSupported,
}

impl Status {
    /// The numeric code.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::http::Status::NotFound.code(), 404);
    /// ```
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::PartialContent => 206,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::RangeNotSatisfiable => 416,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::VersionNotSupported => 505,
        }
    }

    /// The reason phrase.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::http::Status;
    /// assert_eq!(Status::HeaderFieldsTooLarge.reason(), "Request Header Fields Too Large");
    /// ```
    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::PartialContent => "Partial Content",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}
