//! `weft http`: an HTTP/1.1 static file server.
//!
//! ```text
//!  socket ─▶ ByteToMessageDecoder<HttpDecoder> ─▶ HttpHandler ─▶ write(head Bytes)
//!            the reads cumulate as segments,      decodes the       + write(FileRegion)
//!            no copy; HttpDecoder finds \r\n\r\n target; takes the  one flush per read;
//!            across reads, parses the head with  open file from    the head goes out in
//!            httparse and hands on an HttpFrame  the open-file     one sendmsg, the body
//!            (RequestHead: the head's Bytes +    cache, or opens   with sendfile
//!            offsets, inline, no box)            it on tokio's
//!                                                blocking pool
//!                                                (ctx.spawn); answers
//!                                                in request order
//! ```
//!
//! No system call that can block runs on the event loop: path resolution
//! and `openat2` + `fstat` run on tokio's blocking pool
//! (`spawn_blocking`, through [`Context::spawn`](weft_pipeline::Context::spawn)),
//! and the requests of a connection behind one being opened wait their
//! turn. An open-file cache, like nginx's `open_file_cache`, keeps the
//! descriptor, length and validators of each file served for 1 s
//! (`--open-file-cache-valid-ms`), so a file requested again is answered
//! on the loop without any system call but the send. Measured on a 4 KiB
//! file with one server thread, wrk -t1 -c64 (`benches/peers.sh --only
//! http`, the run quoted in benches/README.md): 85,297 req/s with the
//! cache against 35,194 opening every file on the pool (2.42x); the pool
//! costs a thread hop per request (~2 context switches and 9 system calls
//! per request against 2.9, ~43 µs of CPU per request against ~10 in
//! side-by-side runs). So the cache is the default; `--open-file-cache 0`
//! opens every request's file on the pool.
//!
//! GET and HEAD, and OPTIONS (200 with `Allow`); keep-alive and pipelining
//! (answers go out in request order); `Content-Length`, `Content-Type` by
//! extension; `Last-Modified` / `If-Modified-Since` (a date later than the
//! clock is ignored) and `ETag` / `If-None-Match` (304); single byte ranges
//! (206, or 416 when unsatisfiable); a directory serves its `index.html`,
//! and one named without its slash is a 301 to it. Heads are limited to
//! [`MAX_HEAD_BYTES`] and [`MAX_HEADERS`] (431); lines end in CRLF only (a
//! bare LF is 400); `Host` must be one valid authority (400); a transfer
//! coding other than `chunked` is 501; HTTP/1.x after 1.1 is served as 1.1.
//! Targets that would leave the root (`..`, `%2e%2e`, symlinks pointing
//! outside) are refused with 403 and nothing outside the root is ever
//! opened. The README lists where this differs from nginx, and
//! `tests/http_nginx.rs` checks both servers side by side.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use weft_pipeline::codec::ByteToMessageDecoder;

use crate::common::raise_nofile_limit;

mod date;
mod decoder;
mod fields;
mod head;
mod mime;
#[cfg(test)]
mod off_loop_tests;
mod open_cache;
mod range;
mod resolve;
mod respond;
mod service;
mod timeouts;
mod validators;

pub use decoder::{HttpDecoder, HttpFrame, HttpProgress};
pub use head::{Method, RequestHead, MAX_HEADERS, MAX_HEAD_BYTES};
pub use open_cache::{
    DEFAULT_MEMORY_BODY_MAX, DEFAULT_OPEN_FILE_CACHE_ENTRIES, DEFAULT_OPEN_FILE_CACHE_VALID,
};
pub use resolve::FileRoot;
pub use service::HttpHandler;
pub use timeouts::{DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT};

/// Arguments of `weft http`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Directory whose files are served.
    #[arg(long)]
    pub root: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seconds a client may take to send a request head, from its first
    /// byte (slowloris defence); 408 and close after that.
    #[arg(long, default_value_t = DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,
    /// Open files kept for reuse (nginx's `open_file_cache max=`); 0 opens
    /// every file anew, off the event loop, for each request.
    #[arg(long, default_value_t = DEFAULT_OPEN_FILE_CACHE_ENTRIES)]
    pub open_file_cache: usize,
    /// Milliseconds a cached open file is used before its name is opened
    /// again (nginx's `open_file_cache_valid`): a file replaced, deleted
    /// or changed is served as it was for at most this long.
    #[arg(long, default_value_t = DEFAULT_OPEN_FILE_CACHE_VALID.as_millis() as u64)]
    pub open_file_cache_valid_ms: u64,
    /// Cached files up to this many bytes are read into memory once per
    /// open and sent with their head in one sendmsg (a counted copy); 0
    /// sends every body with sendfile.
    #[arg(long, default_value_t = DEFAULT_MEMORY_BODY_MAX)]
    pub memory_body_max: u64,
    /// HTTPS (`--tls-cert`, `--tls-key`; ALPN `http/1.1`).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
}

/// Runs `weft http` until SIGINT or SIGTERM: one pipeline per connection,
/// [`HttpDecoder`] (in a [`ByteToMessageDecoder`]) then [`HttpHandler`].
///
/// # Errors
///
/// Fails if the root is not a directory, the address cannot be bound or
/// the signal handlers cannot be installed.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use weft_examples::http::{run, HttpArgs};
/// run(HttpArgs {
///     root: "/var/www".into(),
///     listen: "127.0.0.1:0".parse().unwrap(),
///     header_timeout: 10,
///     idle_timeout: 60,
///     open_file_cache: 1000,
///     open_file_cache_valid_ms: 1000,
///     memory_body_max: 8192,
///     tls: Default::default(),
/// })
/// .await
/// # }
/// ```
pub async fn run(args: HttpArgs) -> io::Result<()> {
    if let Err(e) = raise_nofile_limit() {
        tracing::warn!("cannot raise the descriptor limit: {e}");
    }
    let mut root = FileRoot::open(&args.root)
        .map_err(|e| io::Error::new(e.kind(), format!("--root {}: {e}", args.root.display())))?;
    root.open_file_cache(
        args.open_file_cache,
        Duration::from_millis(args.open_file_cache_valid_ms),
    );
    root.memory_body_max(args.memory_body_max);
    let root = Arc::new(root);
    let sweep = root.cache_sweeper();
    let header = Duration::from_secs(args.header_timeout);
    let idle = Duration::from_secs(args.idle_timeout);
    let mut builder = crate::common::server_builder();
    if let Some(tls) = args.tls.acceptor(&[b"http/1.1"])? {
        builder.tls(tls);
    }
    let server = builder
        .bind_tcp(args.listen, move |p| {
            p.handlers()
                .add_last("decoder", ByteToMessageDecoder::new(HttpDecoder::new()))?
                .add_last(
                    "files",
                    HttpHandler::with_root(root.clone()).with_timeouts(header, idle),
                )?;
            Ok(())
        })
        .map_err(io::Error::other)?;
    let served = crate::common::serve_until_signal(server, args.listen).await;
    if let Some(s) = sweep {
        s.abort();
    }
    served
}

/// The response statuses this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// 200
    Ok,
    /// 206
    PartialContent,
    /// 301
    MovedPermanently,
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
    /// 501
    NotImplemented,
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
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::RangeNotSatisfiable => 416,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
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
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}
