//! [`StaticFiles`]: answers [`HttpEvent`]s with files from a root.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use weft_pipeline::{Context, Handler, Message, MessageTypes, PipelineError, TypeFlow};

use super::date::{format_http_date, unix_secs};
use super::decoder::HttpEvent;
use super::resolve::FileRoot;
use super::respond::{error_response, respond, Response};
use super::Status;

/// The application handler of `weft http`: answers each [`HttpEvent`] in
/// arrival order with a head (`Bytes`) and, for a body, a
/// [`FileRegion`](weft_buf::FileRegion), which the transport sends with
/// `sendfile`. Answers to pipelined requests are written in order and
/// flushed together when the read batch is over.
///
/// While the channel is not writable (its outbound buffer is above the high
/// watermark), requests wait here and reading stops, so a client that
/// pipelines many requests and reads slowly cannot make the server open
/// files without bound.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::http::{HttpRequestDecoder, StaticFiles};
/// use weft_pipeline::{EmbeddedChannel, Message, Pipeline};
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("hello.txt"), b"hello").unwrap();
/// let mut p = Pipeline::new();
/// p.add_last("decoder", HttpRequestDecoder::new()).unwrap();
/// p.add_last("files", StaticFiles::new(dir.path()).unwrap()).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
/// let head = ch.read_outbound_bytes().unwrap();
/// assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// let body = ch.read_outbound_message().unwrap();
/// assert!(matches!(body, Message::File(r) if r.len() == 5));
/// ```
#[derive(Debug)]
pub struct StaticFiles {
    root: Arc<FileRoot>,
    waiting: VecDeque<HttpEvent>,
    date: (u64, String),
    closed: bool,
}

impl StaticFiles {
    /// Serves files under `root`.
    ///
    /// # Errors
    ///
    /// As [`FileRoot::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(weft_examples::http::StaticFiles::new(dir.path()).is_ok());
    /// assert!(weft_examples::http::StaticFiles::new("/no/such/dir").is_err());
    /// ```
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<StaticFiles> {
        Ok(StaticFiles::with_root(Arc::new(FileRoot::open(root)?)))
    }

    /// Serves files under a root opened once and shared; cheap, for one
    /// handler per connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let dir = tempfile::tempdir().unwrap();
    /// let root = Arc::new(weft_examples::http::FileRoot::open(dir.path()).unwrap());
    /// let _h = weft_examples::http::StaticFiles::with_root(root.clone());
    /// ```
    pub fn with_root(root: Arc<FileRoot>) -> StaticFiles {
        StaticFiles {
            root,
            waiting: VecDeque::new(),
            date: (u64::MAX, String::new()),
            closed: false,
        }
    }

    /// Brings the cached `Date` value up to the current second.
    fn refresh_date(&mut self) {
        let now = SystemTime::now();
        let secs = unix_secs(now);
        if self.date.0 != secs {
            self.date = (secs, format_http_date(now));
        }
    }

    fn answer(&mut self, ctx: &mut Context<'_>, ev: HttpEvent) {
        if self.closed {
            return;
        }
        self.refresh_date();
        let date = self.date.1.as_str();
        let response: Response = match ev {
            HttpEvent::Request(req) => {
                let r = respond(&self.root, &req, date);
                tracing::debug!(
                    method = ?req.method,
                    target = %req.target,
                    status = r.status.code(),
                    "http"
                );
                r
            }
            HttpEvent::Invalid(status) => error_response(status, true, false, date),
            HttpEvent::Timeout => error_response(Status::RequestTimeout, true, false, date),
        };
        ctx.write(response.head);
        if let Some(body) = response.body {
            ctx.write(body);
        }
        if response.close {
            self.closed = true;
            self.waiting.clear();
            ctx.flush();
            ctx.close();
        }
    }
}

impl Handler for StaticFiles {
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::sink(MessageTypes::of::<HttpEvent>())
    }

    fn outbound_types(&self) -> TypeFlow {
        TypeFlow::transform(MessageTypes::NONE, MessageTypes::WIRE)
    }

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        let ev = match msg.downcast::<HttpEvent>() {
            Ok(ev) => ev,
            Err(other) => {
                ctx.fire_read(other);
                return;
            }
        };
        if !self.waiting.is_empty() || !ctx.is_writable() {
            if self.waiting.is_empty() {
                ctx.flush();
                ctx.set_auto_read(false);
            }
            self.waiting.push_back(ev);
            return;
        }
        self.answer(ctx, ev);
    }

    fn read_complete(&mut self, ctx: &mut Context<'_>) {
        if !self.closed {
            ctx.flush();
        }
        ctx.fire_read_complete();
    }

    /// An I/O error (a reset peer, a file that shrank under `sendfile`)
    /// ends the connection; it is the client's or the file's doing, so it
    /// is logged quietly.
    fn exception(&mut self, ctx: &mut Context<'_>, err: PipelineError) {
        tracing::debug!(error = %err, "closing the connection");
        self.closed = true;
        self.waiting.clear();
        ctx.close();
    }

    fn writability_changed(&mut self, ctx: &mut Context<'_>, writable: bool) {
        if writable && !self.waiting.is_empty() {
            // Resume at once: weft-transport performs what a handler does
            // in this event (write, flush, switch reading on) as soon as it
            // returns. Resuming from a due timer instead cost a timer tick
            // (1 ms) per pause.
            while let Some(ev) = self.waiting.pop_front() {
                self.answer(ctx, ev);
            }
            if !self.closed {
                ctx.flush();
                ctx.set_auto_read(true);
            }
        }
        ctx.fire_writability_changed(writable);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpRequestDecoder;
    use bytes::Bytes;
    use weft_pipeline::{EmbeddedChannel, HeadOp, Pipeline};

    fn channel(dir: &Path) -> EmbeddedChannel {
        let mut p = Pipeline::new();
        p.add_last("decoder", HttpRequestDecoder::new()).unwrap();
        p.add_last("files", StaticFiles::new(dir).unwrap()).unwrap();
        EmbeddedChannel::new(p)
    }

    fn ops(ch: &mut EmbeddedChannel) -> Vec<String> {
        std::iter::from_fn(|| ch.read_outbound())
            .map(|op| match op {
                HeadOp::Write(Message::Bytes(b), _) => {
                    let s = String::from_utf8_lossy(&b).into_owned();
                    s.split(' ').take(2).collect::<Vec<_>>().join(" ")
                }
                HeadOp::Write(Message::File(r), _) => format!("file {}+{}", r.offset(), r.len()),
                HeadOp::Write(m, _) => format!("{m:?}"),
                HeadOp::Flush => "flush".into(),
                HeadOp::Close => "close".into(),
                HeadOp::SetAutoRead(on) => format!("auto-read {on}"),
            })
            .collect()
    }

    #[test]
    fn pipelined_answers_are_written_in_order_and_flushed_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"aaaa").unwrap();
        let mut ch = channel(dir.path());
        ch.write_inbound(Bytes::from_static(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\nRange: bytes=1-\r\n\r\n",
        ));
        assert_eq!(
            ops(&mut ch),
            [
                "HTTP/1.1 200",
                "file 0+4",
                "HTTP/1.1 404",
                "HTTP/1.1 206",
                "file 1+3",
                "flush"
            ]
        );
    }

    #[test]
    fn invalid_heads_are_answered_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let mut ch = channel(dir.path());
        ch.write_inbound(Bytes::from_static(b"GET / HTTP/3.0\r\n\r\n"));
        assert_eq!(ops(&mut ch), ["HTTP/1.1 505", "flush", "close"]);
        assert!(ch.is_closed());
    }

    #[test]
    fn requests_wait_while_the_channel_is_not_writable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"aaaa").unwrap();
        let mut ch = channel(dir.path());
        ch.set_writable(false);
        ch.write_inbound(Bytes::from_static(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert_eq!(ops(&mut ch), ["flush", "auto-read false", "flush"]);
        // Answered in the writability event itself, no timer needed.
        ch.set_writable(true);
        assert_eq!(
            ops(&mut ch),
            [
                "HTTP/1.1 200",
                "file 0+4",
                "HTTP/1.1 200",
                "flush",
                "auto-read true"
            ]
        );
    }
}
