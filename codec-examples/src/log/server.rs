//! The broker on Weft's public API.
//!
//! ```text
//!  socket ─▶ ByteToMessageDecoder(LogDecoder) ─▶ LogHandler ─ctx.spawn─▶ one task per request, on the connection's task
//!                                                   ▲                      │ each starts when the previous one is done:
//!                                                   │                      │ produce: spawn_blocking(append + fsync policy)
//!                                                   │                      │ fetch:   long poll at the end of the log, then
//!                                                   │                      │          spawn_blocking(index lookup + header walk)
//!                                                   └── answer, in request order ◀──┘
//!  socket ◀── writev(header) + sendfile(FileRegion) ◀── ctx.write(header), ctx.write(region), ctx.flush()
//! ```
//!
//! A handler runs inside the connection's task and must not block, while a
//! produce may wait for `fdatasync` and a fetch at the end of the log waits
//! for new records. So [`LogHandler`] starts each request as a task with
//! [`Context::spawn`]: the task runs on the connection's own task (the
//! file work inside it on tokio's blocking pool), and its answer comes
//! back to the handler as an event, in the order the requests came. The
//! tasks of one connection also *run* one at a time in arrival order (see
//! [`InOrder`]), as Kafka handles one request per connection at a time: a
//! fetch pipelined after a produce sees the produced records, and batches
//! pipelined on one connection get ascending offsets.
//!
//! Backpressure: the handler stops reading from the socket while the
//! connection's outbound buffer is over its high watermark
//! ([`Event::Writability`]), and while [`MAX_REQUESTS_IN_FLIGHT`]
//! requests wait for their answers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{oneshot, watch};
use weft_buf::{CompositeBuf, FileRegion};
use weft_pipeline::codec::{ByteToMessageDecoder, FrameDecoder};
use weft_pipeline::{Context, Event, Handler, MessageType, Nothing, Pipeline, PipelineError};

use super::protocol::{
    decode_request, error_frame, fetch_header, produce_ok, BadRequest, Request, Status,
    MAX_FETCH_BYTES, MAX_WAIT_MS,
};
use super::store::{FsyncPolicy, Log, LogError};

/// Most requests of one connection waiting for their answers before the
/// broker stops reading from it (it reads again once one is answered).
/// Requests run one at a time, so more in flight only queue; the bound
/// keeps a client that pipelines without reading answers (or parks many
/// long-poll fetches) from growing the broker's memory without limit.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 16;

/// The log shared by every connection, and the end offset that waiting
/// fetches watch.
#[derive(Debug)]
pub struct Broker {
    log: Mutex<Log>,
    end: watch::Sender<u64>,
}

impl Broker {
    /// Wraps an opened log.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::{server::Broker, store::{Log, LogConfig}};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// let broker = Broker::new(log);
    /// assert_eq!(broker.next_offset(), 0);
    /// ```
    pub fn new(log: Log) -> Broker {
        let end = watch::Sender::new(log.next_offset());
        Broker {
            log: Mutex::new(log),
            end,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic while appending leaves at worst an unacknowledged tail
        // that recovery would cut; the log itself stays usable.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The offset the next record gets.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_examples::log::{server::Broker, store::{Log, LogConfig}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let broker = Broker::new(Log::open(dir.path(), LogConfig::default()).unwrap().0);
    /// assert_eq!(broker.next_offset(), 0);
    /// ```
    pub fn next_offset(&self) -> u64 {
        self.lock().next_offset()
    }

    /// Appends (blocking: may `fdatasync`), then wakes waiting fetches.
    fn append(&self, records: &[CompositeBuf]) -> Result<u64, LogError> {
        let mut log = self.lock();
        let first = log.append(records)?;
        let end = log.next_offset();
        drop(log);
        self.end.send_replace(end);
        Ok(first)
    }

    /// Syncs appended records (for the interval policy and at shutdown).
    fn sync(&self) -> Result<(), LogError> {
        self.lock().sync()
    }
}

/// What the decoder hands the handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogFrame {
    /// A well-formed request.
    Request(Request),
    /// A request to answer with an error.
    Bad(BadRequest),
}

impl MessageType for LogFrame {}

// A frame travels inline in the pipeline, with no allocation of its own.
const _: () = assert!(weft_pipeline::Value::fits_inline::<LogFrame>());

/// Cuts request frames out of the cumulation ([`decode_request`]). After a
/// fatal error (a frame length over the limit) it ignores the rest.
///
/// # Examples
///
/// ```
/// use weft_pipeline::codec::ByteToMessageDecoder;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
/// use weft_examples::log::{protocol::encode_fetch, server::{LogDecoder, LogFrame}};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("d", ByteToMessageDecoder::new(LogDecoder::default()))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(encode_fetch(3, 100, 0));
/// assert!(matches!(ch.read_inbound::<LogFrame>(), Some(LogFrame::Request(_))));
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug, Default)]
pub struct LogDecoder {
    failed: bool,
}

impl FrameDecoder for LogDecoder {
    type Frame = LogFrame;

    fn decode(
        &mut self,
        _ctx: &mut Context<'_, LogFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<LogFrame>, PipelineError> {
        if self.failed {
            buf.clear();
            return Ok(None);
        }
        match decode_request(buf) {
            Ok(Some(req)) => Ok(Some(LogFrame::Request(req))),
            Ok(None) => Ok(None),
            Err(bad) => {
                if bad.fatal {
                    self.failed = true;
                    buf.clear();
                }
                Ok(Some(LogFrame::Bad(bad)))
            }
        }
    }

    fn decode_eof(
        &mut self,
        ctx: &mut Context<'_, LogFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<LogFrame>, PipelineError> {
        let out = self.decode(ctx, buf)?;
        if out.is_none() {
            buf.clear(); // a request cut short by the client's close
        }
        Ok(out)
    }
}

/// Runs futures one after another in the order they were handed to
/// [`next`](Self::next), even when they are polled together (as the tasks
/// of one connection are): each waits until the one before it is done.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use weft_examples::log::server::InOrder;
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let mut order = InOrder::default();
/// let (s1, s2) = (seen.clone(), seen.clone());
/// let first = order.next(async move { s1.lock().unwrap().push(1) });
/// let second = order.next(async move { s2.lock().unwrap().push(2) });
/// // Polled second-first, they still run first-first.
/// futures::executor::block_on(futures::future::join(second, first));
/// assert_eq!(*seen.lock().unwrap(), [1, 2]);
/// ```
#[derive(Debug, Default)]
pub struct InOrder {
    last: Option<oneshot::Receiver<()>>,
}

impl InOrder {
    /// Wraps `work` so that it starts once the previously wrapped future
    /// is done (or dropped).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn next<F>(&mut self, work: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        let (done, next) = oneshot::channel();
        let before = self.last.replace(next);
        async move {
            if let Some(before) = before {
                // An error only says the earlier future was dropped
                // unfinished (its connection is ending): nothing to wait for.
                let _ = before.await;
            }
            let out = work.await;
            let _ = done.send(());
            out
        }
    }
}

/// What a request's task answers, written by [`LogHandler`] in request order.
#[derive(Debug)]
enum Answer {
    /// One frame: a produce acknowledgement, an empty fetch, or an error.
    Frame(Bytes),
    /// A fetch: its header, then the records as a region of the segment
    /// file (sent with `sendfile`).
    Records { header: Bytes, region: FileRegion },
    /// An error after which the stream cannot be trusted: answer, then close.
    Fatal(Bytes),
}

/// Answers the requests of one connection: appends produced records and
/// answers fetches with a header and a [`FileRegion`], each from a task
/// started with [`Context::spawn`] (see the module docs).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
/// use weft_examples::log::protocol::{encode_produce, produce_ok};
/// use weft_examples::log::server::{add_log_handlers, Broker};
/// use weft_examples::log::store::{Log, LogConfig};
///
/// // The append runs on tokio's blocking pool.
/// let rt = tokio::runtime::Runtime::new()?;
/// let _in_runtime = rt.enter();
/// let dir = tempfile::tempdir()?;
/// let broker = Arc::new(Broker::new(Log::open(dir.path(), LogConfig::default())?.0));
/// let mut p = Pipeline::new();
/// add_log_handlers(&mut p, broker)?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(encode_produce(&[b"hello"]));
/// assert!(ch.read_outbound_bytes().is_none()); // the append has not run yet
/// ch.run_tasks();
/// assert_eq!(ch.read_outbound_bytes(), Some(produce_ok(0, 1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LogHandler {
    broker: Arc<Broker>,
    in_order: InOrder,
    /// Requests started and not yet answered.
    in_flight: usize,
    /// The last writability the channel reported.
    writable: bool,
    /// What auto-read was last set to.
    reading: bool,
}

impl LogHandler {
    /// A handler for one connection to `broker`.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn new(broker: Arc<Broker>) -> LogHandler {
        LogHandler {
            broker,
            in_order: InOrder::default(),
            in_flight: 0,
            writable: true,
            reading: true,
        }
    }

    /// Starts `work` after the connection's earlier requests; its answer
    /// comes back to [`answer`](Self::answer).
    fn start<F>(&mut self, ctx: &mut Context<'_, Nothing>, work: F)
    where
        F: Future<Output = Answer> + Send + 'static,
    {
        let work = self.in_order.next(work);
        self.in_flight += 1;
        ctx.spawn(work, Self::answer);
        self.pace_reading(ctx);
    }

    /// A request's task is done: writes its answer (called in request order).
    fn answer(&mut self, ctx: &mut Context<'_, Nothing>, answer: Answer) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match answer {
            Answer::Frame(frame) => ctx.write_and_flush(frame),
            Answer::Records { header, region } => {
                ctx.write(header);
                ctx.write(region);
                ctx.flush();
            }
            Answer::Fatal(frame) => {
                ctx.write_and_flush(frame);
                ctx.close();
                return;
            }
        }
        self.pace_reading(ctx);
    }

    /// Reads while the channel is writable and fewer than
    /// [`MAX_REQUESTS_IN_FLIGHT`] requests wait.
    fn pace_reading(&mut self, ctx: &mut Context<'_, Nothing>) {
        let want = self.writable && self.in_flight < MAX_REQUESTS_IN_FLIGHT;
        if want != self.reading {
            self.reading = want;
            ctx.set_auto_read(want);
        }
    }
}

impl Handler for LogHandler {
    type In = LogFrame;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: LogFrame) {
        let broker = self.broker.clone();
        match frame {
            LogFrame::Request(Request::Produce(records)) => {
                self.start(ctx, produce(broker, records));
            }
            LogFrame::Request(Request::Fetch {
                offset,
                max_bytes,
                max_wait_ms,
            }) => self.start(ctx, fetch(broker, offset, max_bytes, max_wait_ms)),
            LogFrame::Bad(bad) => {
                let frame = error_frame(bad.status, &bad.message);
                let answer = if bad.fatal {
                    Answer::Fatal(frame)
                } else {
                    Answer::Frame(frame)
                };
                self.start(ctx, std::future::ready(answer));
            }
        }
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        if let Event::Writability(w) = event {
            self.writable = w;
            self.pace_reading(ctx);
        }
        ctx.fire_event(event);
    }
}

/// Adds the broker's decoder and handler to a connection's pipeline.
///
/// # Errors
///
/// A [`PipelineError`] if the pipeline refuses them.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_examples::log::{server::{add_log_handlers, Broker}, store::{Log, LogConfig}};
/// let dir = tempfile::tempdir()?;
/// let broker = Arc::new(Broker::new(Log::open(dir.path(), LogConfig::default())?.0));
/// let mut p = weft_pipeline::Pipeline::new();
/// add_log_handlers(&mut p, broker)?;
/// assert_eq!(p.names(), ["log-decoder", "log"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn add_log_handlers(p: &mut Pipeline, broker: Arc<Broker>) -> Result<(), PipelineError> {
    p.handlers()
        .add_last(
            "log-decoder",
            ByteToMessageDecoder::new(LogDecoder::default()),
        )?
        .add_last("log", LogHandler::new(broker))?;
    Ok(())
}

fn status_of(e: &LogError) -> Status {
    match e {
        LogError::OffsetOutOfRange { .. } => Status::OffsetOutOfRange,
        LogError::RecordTooLarge(_) => Status::RecordTooLarge,
        _ => Status::StorageError,
    }
}

fn log_error(e: &LogError) -> Answer {
    Answer::Frame(error_frame(status_of(e), &e.to_string()))
}

/// Appends off the runtime (the write and, with `--fsync always`, the
/// `fdatasync` block).
async fn produce(broker: Arc<Broker>, records: Vec<CompositeBuf>) -> Answer {
    let count = records.len() as u32;
    match tokio::task::spawn_blocking(move || broker.append(&records)).await {
        Ok(Ok(first)) => Answer::Frame(produce_ok(first, count)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "produce failed");
            log_error(&e)
        }
        Err(e) => Answer::Frame(error_frame(
            Status::StorageError,
            &format!("append task failed: {e}"),
        )),
    }
}

/// A header and a region of the segment file; at the end of the log,
/// waits up to `max_wait_ms` for records first. The lookup runs off the
/// runtime: it reads record headers with `pread` and takes the log's lock,
/// which an append holds through its `fdatasync`.
async fn fetch(broker: Arc<Broker>, offset: u64, max_bytes: u32, max_wait_ms: u32) -> Answer {
    let max_bytes = u64::from(max_bytes.min(MAX_FETCH_BYTES));
    let wait = Duration::from_millis(u64::from(max_wait_ms.min(MAX_WAIT_MS)));
    let mut end = broker.end.subscribe();
    if offset == *end.borrow_and_update() && !wait.is_zero() {
        // Timing out is the normal end of a long poll: it answers no records.
        let _ = tokio::time::timeout(wait, end.wait_for(|&e| e > offset)).await;
    }
    let fetched = tokio::task::spawn_blocking(move || broker.lock().read(offset, max_bytes)).await;
    match fetched {
        Ok(Ok(f)) => {
            let region_len = f.region.as_ref().map_or(0, |r| r.len());
            // One record is at most 16 MiB + 16 and a fetch at most 16 MiB
            // plus one record, so the length fits the u32 frame length.
            let header = fetch_header(f.first_offset, f.log_end, region_len as u32);
            match f.region {
                Some(region) => Answer::Records { header, region },
                None => Answer::Frame(header),
            }
        }
        Ok(Err(e)) => log_error(&e),
        Err(e) => Answer::Frame(error_frame(
            Status::StorageError,
            &format!("fetch task failed: {e}"),
        )),
    }
}

/// Runs the broker on `listen` until SIGINT/SIGTERM: prints
/// `listening on ADDR` first, syncs by the fsync policy, and on shutdown
/// syncs the log and prints what the transport sent by which path.
///
/// # Errors
///
/// I/O errors binding or installing signal handlers; a final sync error.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use weft_examples::log::{server::{run, Broker}, store::{Log, LogConfig}};
/// let (log, _) = Log::open(std::path::Path::new("/tmp/log"), LogConfig::default()).unwrap();
/// run(Broker::new(log), "127.0.0.1:0".parse().unwrap()).await
/// # }
/// ```
pub async fn run(broker: Broker, listen: SocketAddr) -> std::io::Result<()> {
    let _ = crate::common::raise_nofile_limit();
    let fsync = broker.lock().config().fsync;
    let broker = Arc::new(broker);
    let mut config = weft_transport::ChannelConfig::default();
    config.nodelay(true);
    let conn_broker = broker.clone();
    let server = weft_transport::ServerBuilder::new()
        .config(config)
        .bind_tcp(listen, move |p| add_log_handlers(p, conn_broker.clone()))
        .map_err(std::io::Error::other)?;
    let addr = server.local_addr().unwrap_or(listen);
    crate::common::announce(addr);
    tracing::info!(%addr, "log broker started");
    let syncer = match fsync {
        FsyncPolicy::Interval(period) => {
            let b = broker.clone();
            Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    let b = b.clone();
                    match tokio::task::spawn_blocking(move || b.sync()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::error!(error = %e, "periodic fsync failed"),
                        Err(e) => tracing::error!(error = %e, "periodic fsync task failed"),
                    }
                }
            }))
        }
        _ => None,
    };
    let signal = crate::common::shutdown_signal().await;
    if let Some(s) = syncer {
        s.abort();
    }
    server
        .shutdown(Duration::from_secs(5))
        .await
        .map_err(std::io::Error::other)?;
    broker.lock().sync_all().map_err(std::io::Error::other)?;
    let s = weft_transport::global_stats();
    println!(
        "sent {} bytes by sendfile, {} by writev; {} bytes copied",
        s.sendfile_bytes, s.writev_bytes, s.copied_bytes
    );
    signal
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use weft_pipeline::{EmbeddedChannel, Wire};

    use super::*;
    use crate::log::protocol::{encode_fetch, encode_produce};
    use crate::log::record::{RecordHeader, RECORD_HEADER_LEN};
    use crate::log::store::LogConfig;

    /// A runtime for the blocking pool and the long-poll timer; tests
    /// enter it and drive the channel themselves.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    fn broker(dir: &tempfile::TempDir) -> Arc<Broker> {
        Arc::new(Broker::new(
            Log::open(dir.path(), LogConfig::default()).unwrap().0,
        ))
    }

    fn channel(broker: &Arc<Broker>) -> EmbeddedChannel {
        let mut p = Pipeline::new();
        add_log_handlers(&mut p, broker.clone()).unwrap();
        EmbeddedChannel::new(p)
    }

    /// What reached the wire, one entry per write, with file regions read back.
    #[derive(Debug, PartialEq)]
    enum Out {
        Bytes(Bytes),
        File(Vec<u8>),
    }

    fn written(ch: &mut EmbeddedChannel) -> Vec<Out> {
        std::iter::from_fn(|| ch.read_outbound_wire())
            .map(|w| match w {
                Wire::Bytes(b) => Out::Bytes(b),
                Wire::Composite(c) => Out::Bytes(c.to_bytes()),
                Wire::File(r) => {
                    let mut raw = vec![0; r.len() as usize];
                    r.file().read_exact_at(&mut raw, r.offset()).unwrap();
                    Out::File(raw)
                }
            })
            .collect()
    }

    /// The payloads of the records in a fetched region, checking offsets.
    fn payloads(mut raw: &[u8], mut offset: u64) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while !raw.is_empty() {
            let h = RecordHeader::decode(raw[..RECORD_HEADER_LEN].try_into().unwrap());
            assert_eq!(h.offset, offset);
            let end = RECORD_HEADER_LEN + h.len as usize;
            out.push(&raw[RECORD_HEADER_LEN..end]);
            raw = &raw[end..];
            offset += 1;
        }
        out
    }

    fn concat(frames: &[Bytes]) -> Bytes {
        frames.concat().into()
    }

    #[test]
    fn a_produce_and_a_fetch_in_one_read_are_answered_in_order_with_the_records_as_a_file_region() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir);
        let mut ch = channel(&broker);
        ch.write_inbound(concat(&[
            encode_produce(&[&b"a"[..], b"bc"]),
            encode_fetch(0, 1 << 20, 0),
        ]));
        assert_eq!(written(&mut ch), [], "answers come from the tasks");
        assert_eq!(ch.run_tasks(), 2);
        let out = written(&mut ch);
        let [Out::Bytes(ack), Out::Bytes(header), Out::File(region)] = &out[..] else {
            panic!("ack, fetch header, file region: {out:?}");
        };
        assert_eq!(ack, &produce_ok(0, 2));
        assert_eq!(header, &fetch_header(0, 2, region.len() as u32));
        assert_eq!(payloads(region, 0), [&b"a"[..], b"bc"]);
        assert!(ch.auto_read());
    }

    #[test]
    fn a_fetch_waiting_at_the_end_holds_back_the_requests_after_it() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir);
        let mut ch = channel(&broker);
        ch.write_inbound(concat(&[
            encode_fetch(0, 1 << 20, 20),
            Bytes::from_static(&[0, 0, 0, 1, 9]), // unknown kind
            encode_produce(&[b"late"]),
        ]));
        assert_eq!(ch.run_tasks(), 3);
        // The fetch timed out on an empty log (the produce after it had
        // not run), and the answers keep request order.
        assert_eq!(
            written(&mut ch),
            [
                Out::Bytes(fetch_header(0, 0, 0)),
                Out::Bytes(error_frame(Status::BadRequest, "unknown request kind 9")),
                Out::Bytes(produce_ok(0, 1)),
            ]
        );
    }

    #[test]
    fn a_produce_on_another_connection_wakes_a_waiting_fetch() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir);
        let mut consumer = channel(&broker);
        let mut producer = channel(&broker);
        consumer.write_inbound(encode_fetch(0, 1 << 20, MAX_WAIT_MS));
        let handle = rt.handle().clone();
        let produced = std::thread::spawn(move || {
            let _in_runtime = handle.enter();
            producer.write_inbound(encode_produce(&[b"news"]));
            producer.run_tasks();
            written(&mut producer)
        });
        // Blocks in the long poll until the other connection's append.
        assert_eq!(consumer.run_tasks(), 1);
        assert_eq!(produced.join().unwrap(), [Out::Bytes(produce_ok(0, 1))]);
        let out = written(&mut consumer);
        let [Out::Bytes(header), Out::File(region)] = &out[..] else {
            panic!("fetch header, file region: {out:?}");
        };
        assert_eq!(header, &fetch_header(0, 1, region.len() as u32));
        assert_eq!(payloads(region, 0), [&b"news"[..]]);
    }

    #[test]
    fn a_broken_frame_is_answered_after_the_requests_before_it_then_the_channel_closes() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir);
        let mut ch = channel(&broker);
        ch.write_inbound(concat(&[
            encode_produce(&[b"kept"]),
            Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
        ]));
        assert!(!ch.is_closed(), "the close waits for its turn");
        assert_eq!(ch.run_tasks(), 2);
        let out = written(&mut ch);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0], Out::Bytes(produce_ok(0, 1)));
        let Out::Bytes(err) = &out[1] else {
            panic!("an error frame: {out:?}");
        };
        assert_eq!(err[4], Status::BadRequest as u8);
        assert!(String::from_utf8_lossy(&err[5..]).contains("over the 33554432-byte limit"));
        assert!(ch.is_closed());
        assert_eq!(broker.next_offset(), 1);
    }

    #[test]
    fn reading_pauses_while_unwritable_and_while_too_many_requests_wait() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir);
        let mut ch = channel(&broker);
        ch.set_writable(false);
        assert!(!ch.auto_read());
        ch.set_writable(true);
        assert!(ch.auto_read());

        let fetches: Vec<Bytes> = (0..MAX_REQUESTS_IN_FLIGHT)
            .map(|_| encode_fetch(0, 1 << 20, 0))
            .collect();
        ch.write_inbound(concat(&fetches[..MAX_REQUESTS_IN_FLIGHT - 1]));
        assert!(ch.auto_read(), "one below the limit");
        ch.write_inbound(fetches[0].clone());
        assert!(!ch.auto_read(), "{MAX_REQUESTS_IN_FLIGHT} requests wait");
        // Unwritable meanwhile: answering them does not resume reading...
        ch.set_writable(false);
        assert_eq!(ch.run_tasks(), MAX_REQUESTS_IN_FLIGHT);
        assert!(!ch.auto_read());
        // ...becoming writable does.
        ch.set_writable(true);
        assert!(ch.auto_read());
        let out = written(&mut ch);
        assert_eq!(out.len(), MAX_REQUESTS_IN_FLIGHT);
        assert!(out.iter().all(|o| *o == Out::Bytes(fetch_header(0, 0, 0))));
    }

    #[test]
    fn the_decoder_cuts_requests_split_across_reads_without_copying() {
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("d", ByteToMessageDecoder::new(LogDecoder::default()))
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        let stream = concat(&[
            encode_produce(&[&b"alpha"[..], b"beta"]),
            encode_fetch(9, 1, 2),
        ]);
        // Cut inside the first length, a record, and the fetch.
        let cuts = [0, 3, 11, 30, stream.len()];
        let ((), copied) = weft_buf::measure_copies(|| {
            for read in cuts.windows(2) {
                ch.write_inbound(stream.slice(read[0]..read[1]));
            }
        });
        assert_eq!(copied, 0);
        let Some(LogFrame::Request(Request::Produce(records))) = ch.read_inbound::<LogFrame>()
        else {
            panic!("a produce request");
        };
        assert_eq!(records, [&b"alpha"[..], b"beta"]);
        assert!(matches!(
            ch.read_inbound::<LogFrame>(),
            Some(LogFrame::Request(Request::Fetch {
                offset: 9,
                max_bytes: 1,
                max_wait_ms: 2
            }))
        ));
        assert_eq!(ch.inbound_len(), 0);
    }
}
