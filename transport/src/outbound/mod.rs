//! [`OutboundBuffer`]: the ordered queue of pending writes and the flush
//! that hands them to the kernel.
//!
//! Writes are queued with [`OutboundBuffer::push`] and released with
//! [`OutboundBuffer::flush`] (Netty's `write` / `flush`). Each
//! [`OutboundBuffer::write_step`] makes exactly one write system call for
//! the entries at the front:
//!
//! - consecutive in-memory entries (`Bytes`, `CompositeBuf`) go out in one
//!   `writev` of at most [`IOV_MAX`](crate::sys::IOV_MAX) iovecs and at most
//!   an adaptive byte cap (Netty's `maxBytesPerGatheringWrite`); short
//!   neighbouring segments are coalesced (see [`DEFAULT_COALESCE_THRESHOLD`]);
//! - a [`FileRegion`](weft_buf::FileRegion) goes out by its [`FilePath`], `sendfile` by default;
//! - in-memory bytes directly before a file region are sent with
//!   `MSG_MORE`, so a small header and the file leave in one packet.
//!
//! A partial write resumes exactly where it stopped. Each step either
//! makes progress or returns an error; `WouldBlock` is returned only when
//! the kernel said `EAGAIN`.
//!
//! The buffer knows nothing of tokio or pipelines: it writes to any
//! non-blocking descriptor, so it is tested on a socket pair or a pipe.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use weft_pipeline::Wire;

use crate::stats::{Counter, Stats};
use crate::sys::{self, FdKind};

mod file;
mod gather;
mod seal;
mod sink;

pub use file::FilePath;
pub use gather::STAGING_CAPACITY;
pub use sink::AsyncSink;

use file::FileState;

/// The staging buffer short segments are coalesced into: weft-buf's
/// per-thread one (the one pooling scheme, counted in its stats). Its bytes
/// are needed only during the one `writev` of a write step (a partial
/// write is resumed from the segments themselves), so one buffer per
/// thread serves every connection, and an idle connection holds none.
use weft_buf::pool::STAGING;

/// Segments shorter than this many bytes are copied together into one
/// staging iovec when they sit next to another short segment; longer ones
/// go out as their own iovec.
///
/// Set from `cargo bench -p weft-transport --bench coalesce`: the sender's
/// CPU time to flush 64 frames of 32 pieces over loopback TCP, pieces
/// coalesced / pieces as iovecs, two runs on the 2-core dev machine:
/// 0.63-0.67x at 64 B, 0.78-0.80x at 128 B, 0.99-1.09x at 256 B,
/// 0.85-0.93x at 384 B, 1.17-1.26x at 512 B. Copying pays clearly below
/// 256 B and no longer from 512 B; 256 B, the tie, is the default (the
/// issue's range is 256 B-1 KiB).
pub const DEFAULT_COALESCE_THRESHOLD: usize = 256;

/// The largest coalesce threshold accepted: a segment of 1 KiB or more is
/// never copied.
pub const MAX_COALESCE_THRESHOLD: usize = 1024;

/// Default high write watermark: above this many pending bytes (file
/// regions included) the channel becomes unwritable.
pub const DEFAULT_HIGH_WATERMARK: u64 = 64 * 1024;

/// Default low write watermark: below this many pending bytes an
/// unwritable channel becomes writable again.
pub const DEFAULT_LOW_WATERMARK: u64 = 32 * 1024;

/// The gathering byte cap never shrinks below this.
pub const MIN_GATHER_CAP: usize = 4096;

/// Initial gathering cap when the sink is not a socket (for a socket it is
/// twice its `SO_SNDBUF`).
pub const DEFAULT_GATHER_CAP: usize = 256 * 1024;

/// Default cap on the bytes of one file write system call (`sendfile`,
/// `splice`, and the copying paths' `write`): nginx's `sendfile_max_chunk`.
/// A gathering `writev` is capped at this or [`DEFAULT_GATHER_CAP`],
/// whichever is larger.
///
/// On loopback one uncapped `sendfile` moved ~500 MB in 133 ms while every
/// other connection of its thread waited (issue 12). Chosen with
/// `benches/fairness.sh` (see `benches/README.md`, "Transport fairness"):
/// 128 KiB calls (with a 256 KiB budget) against 512 KiB calls (1 MiB
/// budget), three interleaved rounds of 1,000 small GETs while a 1 GiB
/// download runs on the same thread: p50 0.50-0.79 ms vs 0.91-1.08 ms,
/// p90 2.9-4.7 ms vs 3.4-5.4 ms (a loaded 2-core machine), and a 1 GiB
/// download as fast (1.30-1.62 s vs 1.59-1.70 s) for no more server CPU.
pub const DEFAULT_MAX_WRITE_CHUNK: usize = 128 * 1024;

/// The smallest cap on the bytes of one write system call.
pub const MIN_WRITE_CHUNK: usize = 4096;

/// Receives the outcome of one queued write: `Ok` once its last byte was
/// handed to the kernel, or the error that stopped it.
///
/// Implemented for a `futures` oneshot sender; the transport implements it
/// for the pipeline's `WritePromise`.
///
/// # Examples
///
/// ```
/// use weft_transport::Completion;
/// let (tx, mut rx) = futures::channel::oneshot::channel::<std::io::Result<()>>();
/// tx.complete(Ok(()));
/// assert!(rx.try_recv().unwrap().unwrap().is_ok());
/// ```
pub trait Completion: Send + 'static {
    /// Reports the outcome.
    fn complete(self, result: io::Result<()>);
}

impl Completion for futures::channel::oneshot::Sender<io::Result<()>> {
    fn complete(self, result: io::Result<()>) {
        // The receiver may be gone: nobody waits for the outcome.
        let _ = self.send(result);
    }
}

struct Entry<P> {
    payload: Wire,
    /// How a file region goes out (unused for in-memory payloads).
    path: FilePath,
    promise: Option<P>,
}

/// The ordered queue of pending writes of one connection, with watermarks
/// and the flush logic. See the [module docs](self).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use weft_transport::{OutboundBuffer, Stats};
///
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// let stats = Arc::new(Stats::new());
/// let mut out: OutboundBuffer = OutboundBuffer::new(stats.clone());
/// out.push(Bytes::from_static(b"hello "), None);
/// out.push(Bytes::from(vec![b'w'; 2000]), None);
/// out.flush();
/// while out.has_flushed() {
///     out.write_step(a.as_fd()).unwrap();
/// }
/// assert_eq!(stats.snapshot().writev_calls, 1);
/// assert_eq!(stats.snapshot().writev_bytes, 2006);
/// ```
pub struct OutboundBuffer<P = futures::channel::oneshot::Sender<io::Result<()>>> {
    queue: VecDeque<Entry<P>>,
    /// Entries at the front released by a flush.
    flushed: usize,
    /// Bytes in every entry, file regions included.
    pending: u64,
    high: u64,
    low: u64,
    writable: bool,
    reported_writable: bool,
    coalesce_threshold: usize,
    gather_cap: usize,
    /// Most bytes one write system call may move.
    max_chunk: usize,
    sink: Option<FdKind>,
    file: FileState,
    stats: Arc<Stats>,
}

impl<P> fmt::Debug for OutboundBuffer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundBuffer")
            .field("entries", &self.queue.len())
            .field("flushed", &self.flushed)
            .field("pending", &self.pending)
            .field("writable", &self.writable)
            .field("gather_cap", &self.gather_cap)
            .finish()
    }
}

impl<P: Completion> OutboundBuffer<P> {
    /// An empty buffer counting into `stats`, with the default watermarks
    /// and coalesce threshold.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert!(out.is_empty());
    /// ```
    pub fn new(stats: Arc<Stats>) -> Self {
        OutboundBuffer {
            queue: VecDeque::new(),
            flushed: 0,
            pending: 0,
            high: DEFAULT_HIGH_WATERMARK,
            low: DEFAULT_LOW_WATERMARK,
            writable: true,
            reported_writable: true,
            coalesce_threshold: DEFAULT_COALESCE_THRESHOLD,
            gather_cap: 0,
            max_chunk: DEFAULT_MAX_WRITE_CHUNK,
            sink: None,
            file: FileState::default(),
            stats,
        }
    }

    /// Sets the write watermarks; `low` is clamped to at most `high`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.set_watermarks(10, 5);
    /// out.push(bytes::Bytes::from(vec![0u8; 11]), None);
    /// assert!(!out.is_writable());
    /// ```
    pub fn set_watermarks(&mut self, high: u64, low: u64) -> &mut Self {
        self.high = high;
        self.low = low.min(high);
        self.update_writability();
        self
    }

    /// Sets the coalesce threshold (see [`DEFAULT_COALESCE_THRESHOLD`]),
    /// clamped to [`MAX_COALESCE_THRESHOLD`]; 0 switches coalescing off.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.set_coalesce_threshold(4096);
    /// assert_eq!(out.coalesce_threshold(), 1024);
    /// ```
    pub fn set_coalesce_threshold(&mut self, bytes: usize) -> &mut Self {
        self.coalesce_threshold = bytes.min(MAX_COALESCE_THRESHOLD);
        self
    }

    /// The coalesce threshold in use.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert_eq!(out.coalesce_threshold(), weft_transport::DEFAULT_COALESCE_THRESHOLD);
    /// ```
    pub fn coalesce_threshold(&self) -> usize {
        self.coalesce_threshold
    }

    /// Caps the bytes one file write system call may move (see
    /// [`DEFAULT_MAX_WRITE_CHUNK`]; a gathering `writev` may take up to
    /// [`DEFAULT_GATHER_CAP`] if that is larger), at least
    /// [`MIN_WRITE_CHUNK`]: a big file region or buffer goes out in several
    /// calls, so no one call holds the thread for long.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.set_max_write_chunk(1 << 20);
    /// assert_eq!(out.max_write_chunk(), 1 << 20);
    /// out.set_max_write_chunk(1);
    /// assert_eq!(out.max_write_chunk(), weft_transport::outbound::MIN_WRITE_CHUNK);
    /// ```
    pub fn set_max_write_chunk(&mut self, bytes: usize) -> &mut Self {
        self.max_chunk = bytes.clamp(MIN_WRITE_CHUNK, sys::MAX_RW_COUNT);
        self.gather_cap = self.gather_cap.min(self.max_gather());
        self
    }

    /// The cap on the bytes of one write system call.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert_eq!(out.max_write_chunk(), weft_transport::outbound::DEFAULT_MAX_WRITE_CHUNK);
    /// ```
    pub fn max_write_chunk(&self) -> usize {
        self.max_chunk
    }

    /// Memory the buffer holds besides the payloads queued in it: its
    /// queue's slots and the copy buffer of the copying file paths. 0 once
    /// [`release_idle`](Self::release_idle) ran on an empty buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert_eq!(out.held_capacity(), 0);
    /// out.push(bytes::Bytes::from_static(b"abc"), None);
    /// assert!(out.held_capacity() > 0);
    /// ```
    pub fn held_capacity(&self) -> usize {
        self.queue.capacity() * std::mem::size_of::<Entry<P>>() + self.file.held_capacity()
    }

    /// Lets go of the queue's slots and the copy buffer when nothing is
    /// queued, so an idle connection holds no outbound memory (the next
    /// write allocates a small queue again). Does nothing otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.push(bytes::Bytes::from_static(b"abc"), None);
    /// out.release_idle();
    /// assert!(out.held_capacity() > 0); // still queued
    /// out.flush();
    /// out.write_step(a.as_fd()).unwrap();
    /// out.release_idle();
    /// assert_eq!(out.held_capacity(), 0);
    /// ```
    pub fn release_idle(&mut self) {
        if !self.queue.is_empty() {
            return;
        }
        if self.queue.capacity() > 0 {
            self.queue = VecDeque::new();
        }
        self.file.release_idle();
    }

    /// The current gathering byte cap (0 until the first write step).
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert_eq!(out.gather_cap(), 0);
    /// ```
    pub fn gather_cap(&self) -> usize {
        self.gather_cap
    }

    /// The counters this buffer reports to.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert_eq!(out.stats().snapshot().writev_calls, 0);
    /// ```
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Queues a write; it goes out after the next [`flush`](Self::flush).
    /// O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.push(bytes::Bytes::from_static(b"abc"), None);
    /// assert_eq!(out.pending_bytes(), 3);
    /// assert!(!out.has_flushed());
    /// ```
    pub fn push(&mut self, payload: impl Into<Wire>, promise: Option<P>) {
        self.push_with_path(payload.into(), FilePath::default(), promise);
    }

    /// Queues a write whose file region (if it is one) goes out by `path`
    /// instead of the default `sendfile`. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_transport::{FilePath, OutboundBuffer};
    /// let mut out: OutboundBuffer = OutboundBuffer::new(Default::default());
    /// out.push_with_path(bytes::Bytes::from_static(b"abc").into(), FilePath::ReadWrite, None);
    /// assert_eq!(out.pending_bytes(), 3);
    /// ```
    pub fn push_with_path(&mut self, payload: Wire, path: FilePath, promise: Option<P>) {
        self.pending = self.pending.saturating_add(payload.len());
        self.queue.push_back(Entry {
            payload,
            path,
            promise,
        });
        self.update_writability();
    }

    /// Releases every queued write for sending (Netty's `flush`).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.push(bytes::Bytes::from_static(b"abc"), None);
    /// out.flush();
    /// assert!(out.has_flushed());
    /// ```
    pub fn flush(&mut self) {
        self.flushed = self.queue.len();
    }

    /// Returns `true` if no write is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert!(out.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Returns `true` if flushed writes wait to be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert!(!out.has_flushed());
    /// ```
    pub fn has_flushed(&self) -> bool {
        self.flushed > 0
    }

    /// Bytes queued, flushed or not, file regions included.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert_eq!(out.pending_bytes(), 0);
    /// ```
    pub fn pending_bytes(&self) -> u64 {
        self.pending
    }

    /// Returns `false` while the pending bytes have crossed the high
    /// watermark and not yet fallen below the low one.
    ///
    /// # Examples
    ///
    /// ```
    /// let out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// assert!(out.is_writable());
    /// ```
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Returns the new writability if it changed since the last call.
    /// Call it after each push and each write step to fire writability
    /// events in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.set_watermarks(4, 2);
    /// out.push(bytes::Bytes::from_static(b"hello"), None);
    /// assert_eq!(out.take_writability_change(), Some(false));
    /// assert_eq!(out.take_writability_change(), None);
    /// ```
    pub fn take_writability_change(&mut self) -> Option<bool> {
        if self.writable == self.reported_writable {
            return None;
        }
        self.reported_writable = self.writable;
        Some(self.writable)
    }

    fn update_writability(&mut self) {
        if self.writable && self.pending > self.high {
            self.writable = false;
        } else if !self.writable && self.pending < self.low {
            self.writable = true;
        }
    }

    /// Fails every queued write (flushed or not) with a copy of `err` and
    /// empties the buffer. Used when the connection breaks or closes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out = weft_transport::OutboundBuffer::new(Default::default());
    /// let (tx, mut rx) = futures::channel::oneshot::channel();
    /// out.push(bytes::Bytes::from_static(b"abc"), Some(tx));
    /// out.fail_all(&std::io::Error::from(std::io::ErrorKind::BrokenPipe));
    /// assert!(rx.try_recv().unwrap().unwrap().is_err());
    /// assert!(out.is_empty());
    /// ```
    pub fn fail_all(&mut self, err: &io::Error) {
        for e in self.queue.drain(..) {
            if let Some(p) = e.promise {
                p.complete(Err(io::Error::new(err.kind(), err.to_string())));
            }
        }
        self.flushed = 0;
        self.pending = 0;
        self.file.reset();
        self.update_writability();
    }

    /// Makes one write system call for the flushed entries at the front
    /// (or only completes empty ones) and returns the bytes the kernel took.
    ///
    /// Returns `Ok(0)` only when nothing flushed is left.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the kernel said `EAGAIN` (wait for writability and
    /// call again); any other error is final: the caller fails the buffer
    /// with [`fail_all`](Self::fail_all) and closes the connection. A file
    /// shorter than its region is `UnexpectedEof`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.push(bytes::Bytes::from_static(b"abc"), None);
    /// out.flush();
    /// assert_eq!(out.write_step(a.as_fd()).unwrap(), 3);
    /// assert_eq!(out.write_step(a.as_fd()).unwrap(), 0);
    /// ```
    pub fn write_step(&mut self, fd: BorrowedFd<'_>) -> io::Result<u64> {
        self.complete_empty();
        if self.flushed == 0 {
            return Ok(0);
        }
        let sink = self.sink_kind(fd)?;
        let n = match self.queue.front() {
            Some(Entry {
                payload: Wire::File(region),
                path,
                ..
            }) => {
                let (region, path) = (region.clone(), *path);
                self.file
                    .step(fd, sink, &region, path, self.max_chunk, &self.stats)
                    .inspect_err(|e| self.note_error(e))?
            }
            _ => self
                .gather_step(fd, sink)
                .inspect_err(|e| self.note_error(e))?,
        };
        self.advance(n);
        self.complete_empty();
        Ok(n as u64)
    }

    /// Flushes and writes until every flushed entry is sent, waiting for
    /// writability through tokio when the kernel says `EAGAIN`.
    ///
    /// # Errors
    ///
    /// The first final error; every queued write has then been failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tokio::io::AsyncReadExt;
    /// let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut out: weft_transport::OutboundBuffer = weft_transport::OutboundBuffer::new(Default::default());
    /// out.push(bytes::Bytes::from_static(b"abc"), None);
    /// out.flush_to(&a).await.unwrap();
    /// let mut buf = [0u8; 3];
    /// b.read_exact(&mut buf).await.unwrap();
    /// assert_eq!(&buf, b"abc");
    /// # });
    /// ```
    pub async fn flush_to<S: AsyncSink>(&mut self, sink: &S) -> io::Result<()> {
        self.flush();
        while self.has_flushed() {
            let fd = sink.as_fd();
            if let Err(e) = sink.write_io(|| self.write_step(fd)).await {
                self.fail_all(&e);
                return Err(e);
            }
        }
        Ok(())
    }

    fn note_error(&self, e: &io::Error) {
        if e.kind() == io::ErrorKind::WouldBlock {
            self.stats.add(Counter::WouldBlock, 1);
        }
    }

    fn sink_kind(&mut self, fd: BorrowedFd<'_>) -> io::Result<FdKind> {
        if let Some(k) = self.sink {
            return Ok(k);
        }
        let kind = sys::fd_kind(fd)?;
        self.gather_cap = match kind {
            FdKind::Socket => sys::send_buffer_size(fd)
                .map(|s| s.saturating_mul(2))
                .unwrap_or(DEFAULT_GATHER_CAP),
            _ => DEFAULT_GATHER_CAP,
        }
        .clamp(MIN_GATHER_CAP, self.max_gather());
        self.sink = Some(kind);
        Ok(kind)
    }

    /// Pops the empty flushed entries at the front, completing them.
    fn complete_empty(&mut self) {
        while self.flushed > 0 {
            match self.queue.front() {
                Some(e) if e.payload.is_empty() => {}
                _ => return,
            }
            if let Some(e) = self.queue.pop_front() {
                self.flushed -= 1;
                if let Some(p) = e.promise {
                    p.complete(Ok(()));
                }
            }
        }
    }

    /// Drops `n` written bytes from the front, completing whole entries.
    fn advance(&mut self, mut n: usize) {
        self.pending = self.pending.saturating_sub(n as u64);
        while n > 0 && self.flushed > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            let len = usize::try_from(front.payload.len()).unwrap_or(usize::MAX);
            if n < len {
                front.payload.advance(n as u64);
                break;
            }
            n -= len;
            if let Some(e) = self.queue.pop_front() {
                self.flushed -= 1;
                if let Some(p) = e.promise {
                    p.complete(Ok(()));
                }
            }
        }
        self.update_writability();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_cap_doubles_after_full_writes_and_halves_after_short_ones() {
        let mut out: OutboundBuffer = OutboundBuffer::new(Arc::new(Stats::new()));
        out.gather_cap = 65536;
        out.adapt_gather_cap(65536, 65536);
        assert_eq!(out.gather_cap, 131072);
        // A complete write far below the cap says nothing about the cap.
        out.adapt_gather_cap(100, 100);
        assert_eq!(out.gather_cap, 131072);
        out.adapt_gather_cap(131072, 1000);
        assert_eq!(out.gather_cap, 65536);
        // A short write of more than half keeps the cap.
        out.adapt_gather_cap(65536, 40000);
        assert_eq!(out.gather_cap, 65536);
        for _ in 0..20 {
            out.adapt_gather_cap(65536, 0);
        }
        assert_eq!(out.gather_cap, MIN_GATHER_CAP);
    }
}
