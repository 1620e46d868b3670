//! The broker on Weft's public API.
//!
//! ```text
//!  socket ─▶ ByteToMessageDecoder(LogDecoder) ─▶ LogHandler ──jobs──▶ worker task (one per connection)
//!                                                                     │ produce: spawn_blocking(append + fsync policy)
//!                                                                     │ fetch:   index lookup, long poll at the end
//!  socket ◀── writev(header) + sendfile(FileRegion) ◀── Channel ◀─────┘
//! ```
//!
//! A handler runs inside the connection's task and must not block, while a
//! produce may wait for `fdatasync` and a fetch at the end of the log waits
//! for new records. So each connection gets a worker task: the server's
//! `on_channel` hook spawns it with the connection's [`Channel`] and hands
//! the handler the worker's queue through `Channel::execute` (a user event).
//! Jobs run one at a time in arrival order, so answers keep request order.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{ByteToMessageDecoder, FrameDecoder};
use weft_pipeline::{Context, Handler, Message, MessageTypes, Pipeline, PipelineError, TypeFlow};
use weft_transport::Channel;

use super::protocol::{
    decode_request, error_frame, fetch_header, produce_ok, BadRequest, Request, Status,
    MAX_FETCH_BYTES, MAX_WAIT_MS,
};
use super::store::{FsyncPolicy, Log, LogError};

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
/// p.add_last("d", ByteToMessageDecoder::new(LogDecoder::default())).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(encode_fetch(3, 100, 0));
/// let frame = ch.read_inbound().unwrap().downcast::<LogFrame>().unwrap();
/// assert!(matches!(frame, LogFrame::Request(_)));
/// ```
#[derive(Debug, Default)]
pub struct LogDecoder {
    failed: bool,
}

impl FrameDecoder for LogDecoder {
    fn decode(&mut self, buf: &mut CompositeBuf) -> Result<Option<Message>, PipelineError> {
        if self.failed {
            buf.clear();
            return Ok(None);
        }
        match decode_request(buf) {
            Ok(Some(req)) => Ok(Some(Message::user(LogFrame::Request(req)))),
            Ok(None) => Ok(None),
            Err(bad) => {
                if bad.fatal {
                    self.failed = true;
                    buf.clear();
                }
                Ok(Some(Message::user(LogFrame::Bad(bad))))
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut CompositeBuf) -> Result<Option<Message>, PipelineError> {
        let out = self.decode(buf)?;
        if out.is_none() {
            buf.clear(); // a request cut short by the client's close
        }
        Ok(out)
    }

    fn emits(&self) -> MessageTypes {
        MessageTypes::of::<LogFrame>()
    }
}

/// The link from a connection's pipeline to its worker, delivered as a
/// user event.
#[derive(Debug)]
struct WorkerLink(mpsc::UnboundedSender<LogFrame>);

/// Passes decoded requests to the connection's worker (queueing them until
/// the worker's link arrives).
#[derive(Debug, Default)]
pub struct LogHandler {
    link: Option<mpsc::UnboundedSender<LogFrame>>,
    waiting: Vec<LogFrame>,
}

impl Handler for LogHandler {
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::sink(MessageTypes::of::<LogFrame>())
    }

    fn read(&mut self, _ctx: &mut Context<'_>, msg: Message) {
        let Ok(frame) = msg.downcast::<LogFrame>() else {
            return;
        };
        match &self.link {
            Some(tx) => {
                let _ = tx.send(frame);
            }
            None => self.waiting.push(frame),
        }
    }

    fn user_event(&mut self, ctx: &mut Context<'_>, event: Box<dyn std::any::Any + Send>) {
        match event.downcast::<WorkerLink>() {
            Ok(link) => {
                for frame in self.waiting.drain(..) {
                    let _ = link.0.send(frame);
                }
                self.link = Some(link.0);
            }
            Err(other) => ctx.fire_user_event(other),
        }
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
/// let mut p = weft_pipeline::Pipeline::new();
/// weft_examples::log::server::add_log_handlers(&mut p).unwrap();
/// ```
pub fn add_log_handlers(p: &mut Pipeline) -> Result<(), PipelineError> {
    p.add_last(
        "log-decoder",
        ByteToMessageDecoder::new(LogDecoder::default()),
    )?
    .add_last("log", LogHandler::default())?;
    Ok(())
}

fn status_of(e: &LogError) -> Status {
    match e {
        LogError::OffsetOutOfRange { .. } => Status::OffsetOutOfRange,
        LogError::RecordTooLarge(_) => Status::RecordTooLarge,
        _ => Status::StorageError,
    }
}

/// Starts the worker of a new connection and links it to the pipeline.
fn start_worker(broker: Arc<Broker>, channel: Channel) {
    let (tx, rx) = mpsc::unbounded_channel();
    channel.execute(move |p| p.fire_user_event(Box::new(WorkerLink(tx))));
    tokio::spawn(worker(broker, channel, rx));
}

async fn worker(broker: Arc<Broker>, channel: Channel, mut rx: mpsc::UnboundedReceiver<LogFrame>) {
    while let Some(frame) = rx.recv().await {
        let keep_going = match frame {
            LogFrame::Request(Request::Produce(records)) => {
                produce(&broker, &channel, records).await
            }
            LogFrame::Request(Request::Fetch {
                offset,
                max_bytes,
                max_wait_ms,
            }) => fetch(&broker, &channel, offset, max_bytes, max_wait_ms).await,
            LogFrame::Bad(bad) => {
                let _ = channel
                    .write_and_flush(error_frame(bad.status, &bad.message))
                    .await;
                if bad.fatal {
                    channel.close();
                }
                !bad.fatal
            }
        };
        if !keep_going {
            break;
        }
    }
}

/// Appends off the runtime (the write and, with `--fsync always`, the
/// `fdatasync` block), then answers. Returns whether the connection lives.
async fn produce(broker: &Arc<Broker>, channel: &Channel, records: Vec<CompositeBuf>) -> bool {
    let count = records.len() as u32;
    let b = broker.clone();
    let answer = match tokio::task::spawn_blocking(move || b.append(&records)).await {
        Ok(Ok(first)) => produce_ok(first, count),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "produce failed");
            error_frame(status_of(&e), &e.to_string())
        }
        Err(e) => error_frame(Status::StorageError, &format!("append task failed: {e}")),
    };
    channel.write_and_flush(answer).await.is_ok()
}

/// Answers a fetch with a header and a region of the segment file; at the
/// end of the log, waits up to `max_wait_ms` for records first.
async fn fetch(
    broker: &Arc<Broker>,
    channel: &Channel,
    offset: u64,
    max_bytes: u32,
    max_wait_ms: u32,
) -> bool {
    let max_bytes = u64::from(max_bytes.min(MAX_FETCH_BYTES));
    let wait = Duration::from_millis(u64::from(max_wait_ms.min(MAX_WAIT_MS)));
    let mut end = broker.end.subscribe();
    if offset == *end.borrow_and_update() && !wait.is_zero() {
        tokio::select! {
            _ = tokio::time::timeout(wait, end.wait_for(|&e| e > offset)) => {}
            () = channel.closed() => return false,
        }
    }
    let fetched = broker.lock().read(offset, max_bytes);
    match fetched {
        Ok(f) => {
            let region_len = f.region.as_ref().map_or(0, |r| r.len());
            // One record is at most 16 MiB + 16 and a fetch at most 16 MiB
            // plus one record, so the length fits the u32 frame length.
            let header = fetch_header(f.first_offset, f.log_end, region_len as u32);
            match f.region {
                Some(region) => {
                    // The header's own completion is implied by the region's.
                    drop(channel.write(header));
                    // Waiting for the region to reach the kernel keeps one
                    // answer in flight per connection: backpressure.
                    channel.write_and_flush(region).await.is_ok()
                }
                None => channel.write_and_flush(header).await.is_ok(),
            }
        }
        Err(e) => channel
            .write_and_flush(error_frame(status_of(&e), &e.to_string()))
            .await
            .is_ok(),
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
    let hook_broker = broker.clone();
    let server = weft_transport::ServerBuilder::new()
        .config(config)
        .on_channel(move |ch| start_worker(hook_broker.clone(), ch))
        .bind_tcp(listen, add_log_handlers)
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
