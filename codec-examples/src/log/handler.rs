//! One connection's requests, answered from tasks the handler starts
//! with `ctx.spawn`.
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
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use weft_buf::{CompositeBuf, FileRegion};
use weft_pipeline::{Context, Event, Handler, Nothing};

use super::decoder::LogFrame;
use super::protocol::{
    error_frame, fetch_header, produce_ok, Request, Status, MAX_FETCH_BYTES, MAX_WAIT_MS,
};
use super::server::Broker;
use super::store::LogError;

/// Most requests of one connection waiting for their answers before the
/// broker stops reading from it (it reads again once one is answered).
/// Requests run one at a time, so more in flight only queue; the bound
/// keeps a client that pipelines without reading answers (or parks many
/// long-poll fetches) from growing the broker's memory without limit.
/// The cost: while reading is paused, the broker notices the client's
/// close only when it reads again (after an answer), as Kafka, which
/// stops reading a connection while its request runs, does.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 16;

/// Runs futures one after another in the order they were handed to
/// [`next`](Self::next), even when they are polled together (as the tasks
/// of one connection are): each waits until the one before it is done.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use weft_examples::log::handler::InOrder;
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
    /// A fetch: its header, then the records as regions of consecutive
    /// segment files (each sent with `sendfile`).
    Records {
        header: Bytes,
        regions: Vec<FileRegion>,
    },
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
            Answer::Records { header, regions } => {
                ctx.write(header);
                for region in regions {
                    ctx.write(region);
                }
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

fn status_of(e: &LogError) -> Status {
    match e {
        LogError::OffsetOutOfRange { .. } | LogError::OffsetDeleted { .. } => {
            Status::OffsetOutOfRange
        }
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
    if !wait.is_zero() {
        broker.wait_for_records(offset, wait).await;
    }
    let fetched = tokio::task::spawn_blocking(move || broker.read(offset, max_bytes)).await;
    match fetched {
        Ok(Ok(f)) => {
            // One record is at most 16 MiB + 16 and a fetch at most 16 MiB
            // plus one record, so the length fits the u32 frame length.
            let header = fetch_header(f.first_offset, f.log_end, f.len() as u32);
            if f.is_empty() {
                Answer::Frame(header)
            } else {
                Answer::Records {
                    header,
                    regions: f.regions,
                }
            }
        }
        Ok(Err(e)) => log_error(&e),
        Err(e) => Answer::Frame(error_frame(
            Status::StorageError,
            &format!("fetch task failed: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use weft_pipeline::{EmbeddedChannel, Pipeline, Wire};

    use super::*;
    use crate::log::protocol::{encode_fetch, encode_produce};
    use crate::log::record::{RecordHeader, RECORD_HEADER_LEN};
    use crate::log::server::add_log_handlers;
    use crate::log::store::{Log, LogConfig};

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
    fn a_fetch_near_a_segment_end_is_answered_with_one_header_and_a_region_per_segment() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        // 10-byte payloads: 26-byte records, three to a 100-byte segment.
        let cfg = LogConfig {
            segment_bytes: 100,
            fsync: crate::log::store::FsyncPolicy::Never,
            ..LogConfig::default()
        };
        let broker = Arc::new(Broker::new(Log::open(dir.path(), cfg).unwrap().0));
        let mut ch = channel(&broker);
        let produces: Vec<Bytes> = (0..5)
            .map(|i| encode_produce(&[format!("record {i:03}").as_bytes()]))
            .collect();
        ch.write_inbound(concat(&produces));
        ch.write_inbound(encode_fetch(2, 1 << 20, 0));
        assert_eq!(ch.run_tasks(), 6);
        let out = written(&mut ch);
        let [acks @ .., Out::Bytes(header), Out::File(first), Out::File(second)] = &out[..] else {
            panic!("acks, fetch header, two file regions: {out:?}");
        };
        assert_eq!(acks.len(), 5);
        assert_eq!(
            header,
            &fetch_header(2, 5, (first.len() + second.len()) as u32)
        );
        assert_eq!(payloads(first, 2), [&b"record 002"[..]]);
        assert_eq!(payloads(second, 3), [&b"record 003"[..], b"record 004"]);
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
}
