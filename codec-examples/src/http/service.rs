//! [`HttpHandler`]: answers [`HttpFrame`]s with files from a root.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use weft_pipeline::{Batch, Context, Event, Handler, Nothing, PipelineError};

use super::date::{format_http_date, unix_secs};
use super::decoder::{HttpFrame, HttpProgress};
use super::head::RequestHead;
use super::open_cache::{open_named, Named};
use super::resolve::{FileRoot, Target};
use super::respond::{error_response, plan, respond_with, Body, Plan, Response};
use super::timeouts::{Expired, Timeouts, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT};
use super::Status;

/// The application handler of `weft http`, after
/// [`HttpDecoder`](super::HttpDecoder): answers each [`HttpFrame`] in
/// arrival order with a head (`Bytes`) and, for a body, a
/// [`FileRegion`](weft_buf::FileRegion), which the transport sends with
/// `sendfile`. All the requests cut from one read arrive as one batch and
/// are answered with their writes queued and one flush.
///
/// While the channel is not writable (its outbound buffer is above the high
/// watermark), requests wait here and reading stops, so a client that
/// pipelines many requests and reads slowly cannot make the server open
/// files without bound; they are answered in the writability event that
/// says the buffer drained.
///
/// Timers (through [`Handler::deadline`]): a head must complete within the
/// header timeout of its first byte (408 and close otherwise), and a
/// connection that waits for a request longer than the idle timeout while
/// it has nothing left to send is closed.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::http::{HttpDecoder, HttpHandler};
/// use weft_pipeline::codec::ByteToMessageDecoder;
/// use weft_pipeline::{EmbeddedChannel, Pipeline, Wire};
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("hello.txt"), b"hello").unwrap();
/// let mut p = Pipeline::new();
/// p.handlers()
///     .add_last("decoder", ByteToMessageDecoder::new(HttpDecoder::new()))?
///     .add_last("files", HttpHandler::new(dir.path()).unwrap())?;
/// let mut ch = EmbeddedChannel::new(p);
/// // The file is opened on tokio's blocking pool.
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let _in_runtime = rt.enter();
/// ch.write_inbound(Bytes::from_static(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
/// assert!(ch.read_outbound_bytes().is_none()); // not opened yet
/// ch.run_tasks();
/// let head = ch.read_outbound_bytes().unwrap();
/// assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// let body = ch.read_outbound_wire().unwrap();
/// assert!(matches!(body, Wire::File(r) if r.len() == 5));
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug)]
pub struct HttpHandler {
    root: Arc<FileRoot>,
    /// Requests behind an open in flight or a full outbound buffer.
    waiting: VecDeque<HttpFrame>,
    /// A file is being opened off the event loop for the oldest request;
    /// the requests after it wait (answers go out in request order).
    opening: bool,
    /// What auto-read was last set to.
    reading: bool,
    date: (u64, String),
    timeouts: Timeouts,
    /// Answers written since the last flush.
    unflushed: bool,
    closed: bool,
}

impl HttpHandler {
    /// Serves files under `root`, with the default timeouts.
    ///
    /// # Errors
    ///
    /// As [`FileRoot::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(weft_examples::http::HttpHandler::new(dir.path()).is_ok());
    /// assert!(weft_examples::http::HttpHandler::new("/no/such/dir").is_err());
    /// ```
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<HttpHandler> {
        Ok(HttpHandler::with_root(Arc::new(FileRoot::open(root)?)))
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
    /// let _h = weft_examples::http::HttpHandler::with_root(root.clone());
    /// ```
    pub fn with_root(root: Arc<FileRoot>) -> HttpHandler {
        HttpHandler {
            root,
            waiting: VecDeque::new(),
            opening: false,
            reading: true,
            date: (u64::MAX, String::new()),
            timeouts: Timeouts::new(DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT),
            unflushed: false,
            closed: false,
        }
    }

    /// Sets the header timeout (from a head's first byte to its end) and
    /// the idle timeout (waiting for a request with nothing to send).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut h = weft_examples::http::HttpHandler::new(dir.path()).unwrap();
    /// h.timeouts(Duration::from_secs(5), Duration::from_secs(30));
    /// ```
    pub fn timeouts(&mut self, header: Duration, idle: Duration) -> &mut Self {
        self.timeouts.set(header, idle);
        self
    }

    /// Builder form of [`timeouts`](Self::timeouts).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir().unwrap();
    /// let _h = weft_examples::http::HttpHandler::new(dir.path())
    ///     .unwrap()
    ///     .with_timeouts(Duration::from_secs(5), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn with_timeouts(mut self, header: Duration, idle: Duration) -> Self {
        self.timeouts(header, idle);
        self
    }

    /// Brings the cached `Date` value up to the current second.
    fn refresh_date(&mut self) {
        let now = SystemTime::now();
        let secs = unix_secs(now);
        if self.date.0 != secs {
            self.date = (secs, format_http_date(now));
        }
    }

    /// Answers `frame` now, or queues it behind earlier ones while a file
    /// is being opened for one of them or the channel cannot take more.
    fn take(&mut self, ctx: &mut Context<'_, Nothing>, frame: HttpFrame) {
        if self.closed {
            return;
        }
        if let HttpFrame::Request(req) = &frame {
            self.timeouts.request(ctx.now(), req.has_body());
        }
        if self.opening || !self.waiting.is_empty() || !ctx.is_writable() {
            self.waiting.push_back(frame);
            self.pace_reading(ctx);
            return;
        }
        self.answer(ctx, frame);
    }

    /// Writes the answer to `frame` (no flush, unless it closes), or starts
    /// opening its file off the event loop when the open-file cache does
    /// not have it.
    fn answer(&mut self, ctx: &mut Context<'_, Nothing>, frame: HttpFrame) {
        if self.closed {
            return;
        }
        self.refresh_date();
        let req = match frame {
            HttpFrame::Request(req) => req,
            HttpFrame::Invalid(status) => {
                let r = error_response(status, true, false, &self.date.1);
                return self.write(ctx, r);
            }
        };
        let target = match plan(&req, &self.date.1) {
            Plan::Answer(r) => return self.write_logged(ctx, &req, r),
            Plan::Open(target) => target,
        };
        match self.root.cache.get(target.key(), ctx.now()) {
            Some(file) => {
                let r = respond_with(
                    &req,
                    &target,
                    Ok(Named::File(file)),
                    &self.date.1,
                    self.date.0,
                );
                self.write_logged(ctx, &req, r);
            }
            None => self.start_open(ctx, req, target),
        }
    }

    /// Opens `target` on tokio's blocking pool (`openat2`, `fstat`, and on
    /// the slow path `readlink`s can all block on a slow disk or network
    /// file system); [`opened`](Self::opened) answers `req` with the result.
    fn start_open(&mut self, ctx: &mut Context<'_, Nothing>, req: RequestHead, target: Target) {
        self.opening = true;
        let root = self.root.clone();
        let started = ctx.now();
        let to_open = target.clone();
        let open = async move {
            let named = tokio::task::spawn_blocking(move || open_named(&root, &to_open))
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "an open on the blocking pool failed");
                    Err(Status::InternalServerError)
                });
            Opened {
                req,
                target,
                named,
                started,
            }
        };
        ctx.spawn(open, Self::opened);
    }

    /// An open started by [`start_open`](Self::start_open) is done: caches
    /// the file, answers its request, then the requests that waited.
    fn opened(&mut self, ctx: &mut Context<'_, Nothing>, o: Opened) {
        self.opening = false;
        if self.closed {
            return;
        }
        if let Ok(Named::File(f)) = &o.named {
            // The window counts from before the open: never longer than
            // `valid` after what was served was current.
            self.root.cache.insert(o.target.key(), f.clone(), o.started);
        }
        self.refresh_date();
        let r = respond_with(&o.req, &o.target, o.named, &self.date.1, self.date.0);
        self.write_logged(ctx, &o.req, r);
        self.resume(ctx);
    }

    /// Answers the requests that waited, in order, until one needs an open
    /// or the channel is full; flushes; reads again once none wait.
    fn resume(&mut self, ctx: &mut Context<'_, Nothing>) {
        while !self.opening && !self.closed && ctx.is_writable() {
            let Some(frame) = self.waiting.pop_front() else {
                break;
            };
            self.answer(ctx, frame);
        }
        self.flush(ctx);
        self.pace_reading(ctx);
    }

    /// Reads while no request waits: a client that pipelines while a file
    /// is opened or while it reads slowly cannot queue requests without
    /// bound (one read's worth at most).
    fn pace_reading(&mut self, ctx: &mut Context<'_, Nothing>) {
        let want = self.waiting.is_empty();
        if want != self.reading && !self.closed {
            self.reading = want;
            ctx.set_auto_read(want);
        }
    }

    fn write_logged(&mut self, ctx: &mut Context<'_, Nothing>, req: &RequestHead, r: Response) {
        tracing::debug!(
            method = req.method_name(),
            target = req.target(),
            status = r.status.code(),
            "http"
        );
        self.write(ctx, r);
    }

    /// Queues a response's writes (no flush, unless it closes).
    fn write(&mut self, ctx: &mut Context<'_, Nothing>, response: Response) {
        ctx.write(response.head);
        match response.body {
            Some(Body::File(region)) => ctx.write(region),
            Some(Body::Memory(bytes)) => ctx.write(bytes),
            None => {}
        }
        self.unflushed = true;
        if response.close {
            self.close(ctx);
        }
    }

    fn flush(&mut self, ctx: &mut Context<'_, Nothing>) {
        if std::mem::take(&mut self.unflushed) && !self.closed {
            ctx.flush();
        }
    }

    /// Flushes what was written and closes; nothing more is answered.
    fn close(&mut self, ctx: &mut Context<'_, Nothing>) {
        if std::mem::take(&mut self.unflushed) {
            ctx.flush();
        }
        self.closed = true;
        self.waiting.clear();
        ctx.close();
    }
}

/// What an open off the event loop hands back to its connection.
#[derive(Debug)]
struct Opened {
    req: RequestHead,
    target: Target,
    named: Result<Named, Status>,
    /// The pipeline's time when the open started.
    started: Instant,
}

impl Handler for HttpHandler {
    type In = HttpFrame;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: HttpFrame) {
        self.take(ctx, frame);
        self.flush(ctx);
    }

    /// All the requests of one read: answered in order, one flush.
    fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, frames: Batch<'_, HttpFrame>) {
        for frame in frames {
            self.take(ctx, frame);
        }
        self.flush(ctx);
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        match event {
            Event::Active => {
                self.timeouts.active(ctx.now());
                ctx.fire_event(Event::Active);
            }
            Event::User(v) if v.is::<HttpProgress>() => match v.downcast::<HttpProgress>() {
                Ok(HttpProgress::HeadStarted) => self.timeouts.head_started(ctx.now()),
                Ok(HttpProgress::BodySkipped) => self.timeouts.body_skipped(ctx.now()),
                Err(v) => ctx.fire_event(Event::User(v)),
            },
            Event::Writability(writable) => {
                if writable && !self.closed {
                    self.timeouts.writable_again(ctx.now());
                    if !self.waiting.is_empty() && !self.opening {
                        // Resume at once: weft-transport performs what a
                        // handler does in this event (write, flush, switch
                        // reading on) as soon as it returns. Resuming from a
                        // due timer instead cost a timer tick (1 ms) per pause.
                        self.resume(ctx);
                    }
                }
                ctx.fire_event(Event::Writability(writable));
            }
            // An I/O error (a reset peer, a file that shrank under
            // `sendfile`) ends the connection; it is the client's or the
            // file's doing, so it is logged quietly.
            Event::Exception(err) => {
                tracing::debug!(error = %err, "closing the connection");
                if matches!(&err, PipelineError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof)
                {
                    // A file ended before its region: it was truncated in
                    // place, perhaps while cached with its old length.
                    // Forget the cached opens so the next request sees it
                    // as it is now.
                    self.root.cache.clear();
                }
                if !self.closed {
                    self.close(ctx);
                }
            }
            Event::Inactive => {
                self.closed = true;
                self.waiting.clear();
                ctx.fire_event(Event::Inactive);
            }
            other => ctx.fire_event(other),
        }
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        if self.closed {
            return None;
        }
        self.timeouts.deadline()
    }

    fn timer(&mut self, ctx: &mut Context<'_, Nothing>) {
        if self.closed {
            return;
        }
        let idle_ok = self.waiting.is_empty() && !self.opening && ctx.is_writable();
        match self.timeouts.expired(ctx.now(), idle_ok) {
            Some(Expired::Header) => {
                self.take(ctx, HttpFrame::Invalid(Status::RequestTimeout));
                self.flush(ctx);
            }
            Some(Expired::Idle) => {
                self.closed = true;
                ctx.close();
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpDecoder;
    use bytes::Bytes;
    use weft_pipeline::codec::ByteToMessageDecoder;
    use weft_pipeline::{EmbeddedChannel, HeadOp, Pipeline, Wire};

    /// Opens run on tokio's blocking pool: the tests drive them with
    /// `run_tasks` inside this runtime.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap()
    }

    fn channel(dir: &Path) -> EmbeddedChannel {
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("decoder", ByteToMessageDecoder::new(HttpDecoder::new()))
            .unwrap()
            .add_last(
                "files",
                HttpHandler::new(dir)
                    .unwrap()
                    .with_timeouts(Duration::from_secs(5), Duration::from_secs(30)),
            )
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        ch.pipeline_mut().fire_channel_active();
        ch
    }

    fn ops(ch: &mut EmbeddedChannel) -> Vec<String> {
        std::iter::from_fn(|| ch.read_outbound())
            .map(|op| match op {
                HeadOp::Write(Wire::Bytes(b), _) => {
                    let s = String::from_utf8_lossy(&b).into_owned();
                    s.split(' ').take(2).collect::<Vec<_>>().join(" ")
                }
                HeadOp::Write(Wire::File(r), _) => format!("file {}+{}", r.offset(), r.len()),
                HeadOp::Write(w, _) => format!("{w:?}"),
                HeadOp::Flush => "flush".into(),
                HeadOp::Close => "close".into(),
            })
            .collect()
    }

    #[test]
    fn pipelined_answers_are_written_in_order_each_open_off_the_loop() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"aaaa").unwrap();
        let mut ch = channel(dir.path());
        ch.write_inbound(Bytes::from_static(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\nRange: bytes=1-\r\n\r\n",
        ));
        assert!(ops(&mut ch).is_empty(), "the first open has not run");
        assert!(!ch.auto_read(), "requests wait behind it, reading stops");
        // /a is opened, answered and cached; /none is opened (404s are not
        // cached); the second /a comes from the cache.
        assert_eq!(ch.run_tasks(), 2);
        assert_eq!(
            ops(&mut ch),
            [
                "HTTP/1.1 200",
                "file 0+4",
                "flush",
                "HTTP/1.1 404",
                "HTTP/1.1 206",
                "file 1+3",
                "flush"
            ]
        );
        assert!(ch.auto_read());
    }

    #[test]
    fn without_the_cache_every_request_is_opened_off_the_loop() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"aaaa").unwrap();
        let mut root = FileRoot::open(dir.path()).unwrap();
        root.open_file_cache(0, Duration::ZERO);
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("decoder", ByteToMessageDecoder::new(HttpDecoder::new()))
            .unwrap()
            .add_last("files", HttpHandler::with_root(Arc::new(root)))
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        for _ in 0..3 {
            ch.write_inbound(Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
            assert!(ops(&mut ch).is_empty());
            assert_eq!(ch.run_tasks(), 1);
            assert_eq!(ops(&mut ch), ["HTTP/1.1 200", "file 0+4", "flush"]);
        }
    }

    #[test]
    fn small_cached_files_can_be_sent_from_memory() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"aaaa").unwrap();
        std::fs::write(dir.path().join("b"), b"bbbbb").unwrap();
        let mut root = FileRoot::open(dir.path()).unwrap();
        root.memory_body_max(4);
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("decoder", ByteToMessageDecoder::new(HttpDecoder::new()))
            .unwrap()
            .add_last("files", HttpHandler::with_root(Arc::new(root)))
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        ch.write_inbound(Bytes::from_static(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\nRange: bytes=1-\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert_eq!(ch.run_tasks(), 2);
        // Up to the limit the body is the file's bytes; past it, a region.
        assert_eq!(
            ops(&mut ch),
            [
                "HTTP/1.1 200",
                "aaaa",
                "HTTP/1.1 206",
                "aaa",
                "flush",
                "HTTP/1.1 200",
                "file 0+5",
                "flush"
            ]
        );
    }

    #[test]
    fn a_cached_file_is_opened_again_after_its_window() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"aaaa").unwrap();
        let mut ch = channel(dir.path());
        let get = || Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        ch.write_inbound(get());
        assert_eq!(ch.run_tasks(), 1);
        assert_eq!(ops(&mut ch), ["HTTP/1.1 200", "file 0+4", "flush"]);
        // Replaced by a longer file: the cached open serves the old one
        // within the window...
        std::fs::write(dir.path().join("b"), b"bbbbbb").unwrap();
        std::fs::rename(dir.path().join("b"), dir.path().join("a")).unwrap();
        ch.write_inbound(get());
        assert_eq!(ops(&mut ch), ["HTTP/1.1 200", "file 0+4", "flush"]);
        // ...and after it the name is opened again.
        ch.advance(crate::http::DEFAULT_OPEN_FILE_CACHE_VALID);
        ch.write_inbound(get());
        assert!(ops(&mut ch).is_empty());
        assert_eq!(ch.run_tasks(), 1);
        assert_eq!(ops(&mut ch), ["HTTP/1.1 200", "file 0+6", "flush"]);
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
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"aaaa").unwrap();
        let mut ch = channel(dir.path());
        ch.set_writable(false);
        ch.write_inbound(Bytes::from_static(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert!(ops(&mut ch).is_empty(), "nothing answered");
        assert!(!ch.auto_read(), "reading stops");
        // Resumed in the writability event itself, no timer needed: the
        // first open starts there, the HEAD is answered from the cache.
        ch.set_writable(true);
        assert_eq!(ch.run_tasks(), 1);
        assert_eq!(
            ops(&mut ch),
            ["HTTP/1.1 200", "file 0+4", "HTTP/1.1 200", "flush"]
        );
        assert!(ch.auto_read());
    }

    #[test]
    fn a_trickling_head_is_answered_408_on_the_virtual_clock() {
        let dir = tempfile::tempdir().unwrap();
        let mut ch = channel(dir.path());
        for _ in 0..4 {
            ch.write_inbound(Bytes::from_static(b"G"));
            ch.advance(Duration::from_secs(1));
        }
        assert!(ops(&mut ch).is_empty());
        ch.advance(Duration::from_secs(1));
        assert_eq!(ops(&mut ch), ["HTTP/1.1 408", "flush", "close"]);
        assert!(ch.is_closed());
    }

    #[test]
    fn an_idle_connection_is_closed_but_not_while_a_response_drains() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let mut ch = channel(dir.path());
        ch.write_inbound(Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(ch.run_tasks(), 1);
        ch.set_writable(false);
        ch.advance(Duration::from_secs(31));
        assert!(!ch.is_closed(), "a long response is still going out");
        ch.set_writable(true);
        ch.advance(Duration::ZERO);
        ch.advance(Duration::from_secs(29));
        assert!(!ch.is_closed());
        ch.advance(Duration::from_secs(2));
        assert!(ch.is_closed());
    }

    #[test]
    fn no_idle_close_while_a_request_body_trickles_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut ch = channel(dir.path());
        ch.write_inbound(Bytes::from_static(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab",
        ));
        assert_eq!(ops(&mut ch), ["HTTP/1.1 405", "flush"]);
        ch.advance(Duration::from_secs(100));
        assert!(!ch.is_closed(), "the body is still arriving");
        ch.write_inbound(Bytes::from_static(b"cd"));
        ch.advance(Duration::from_secs(29));
        assert!(!ch.is_closed());
        ch.advance(Duration::from_secs(1));
        assert!(ch.is_closed(), "idle from the end of the body");
    }
}
