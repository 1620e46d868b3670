//! [`AdaptiveRecvBuf`]: the read side's buffer, sized like Netty's
//! `AdaptiveRecvByteBufAllocator`.
//!
//! Each read goes into spare capacity of a chunk and is split off and
//! frozen into a [`Bytes`], so the pipeline receives it without a copy.
//! The size of the next read grows quickly after a read that filled the
//! buffer and shrinks slowly after two short reads in a row.
//!
//! Receive memory comes from weft-buf's pool ([`weft_buf::pool`]), the
//! one pooling scheme (a fresh 64 KiB buffer per read cost 12% of an echo
//! run in page faults):
//!
//! - when the chunk has too little room left, it is reclaimed in place if
//!   every view of its earlier reads has dropped (`BytesMut::try_reclaim`:
//!   no allocation, no copy, pages already faulted in);
//! - when a read finds the socket drained (`WouldBlock`), the connection is
//!   about to wait, possibly for a long time: its chunk is parked in the
//!   pool's small per-thread cache (bounded: [`CACHED_CHUNKS`] chunks),
//!   where the next read of any connection on that thread takes it,
//!   reclaimed in place once the views of earlier reads have dropped. An
//!   idle connection so holds no receive memory at all; 10,000 idle
//!   connections hold none.

use std::io;
use std::os::fd::BorrowedFd;

use bytes::{Bytes, BytesMut};
use weft_buf::pool;

use crate::stats::{Counter, Stats};
use crate::sys;

/// Smallest read size.
pub const MIN_RECV: usize = 64;
/// First read size.
pub const INITIAL_RECV: usize = 2048;
/// Largest read size.
pub const MAX_RECV: usize = 65536;

/// Receive chunks parked per thread for reuse (the pool's bound).
pub use weft_buf::pool::CACHED_CHUNKS;

/// Steps up after a full read (Netty's `INDEX_INCREMENT`).
const INDEX_INCREMENT: usize = 4;
/// Steps down after two short reads (Netty's `INDEX_DECREMENT`).
const INDEX_DECREMENT: usize = 1;

/// Netty's size table: 16-byte steps to 512, then doubling.
fn size_table() -> impl Iterator<Item = usize> {
    (1..32)
        .map(|i| i * 16)
        .chain((9..=30).map(|shift| 1usize << shift))
}

fn index_of(size: usize) -> usize {
    size_table().position(|s| s >= size).unwrap_or(0)
}

fn size_at(index: usize) -> usize {
    size_table().nth(index).unwrap_or(MAX_RECV)
}

/// The adaptive read buffer of one connection.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use weft_transport::recv::AdaptiveRecvBuf;
///
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// std::io::Write::write_all(&mut &a, b"hello").unwrap();
/// let mut rb = AdaptiveRecvBuf::new();
/// assert_eq!(rb.next_size(), 2048);
/// let got = rb.read_from(b.as_fd(), &Default::default()).unwrap();
/// assert_eq!(got, &b"hello"[..]);
/// ```
#[derive(Debug)]
pub struct AdaptiveRecvBuf {
    buf: BytesMut,
    /// Capacity of the chunk `buf` is the unread tail of.
    chunk_cap: usize,
    index: usize,
    min_index: usize,
    max_index: usize,
    next: usize,
    decrease_now: bool,
}

impl Default for AdaptiveRecvBuf {
    fn default() -> Self {
        AdaptiveRecvBuf::new()
    }
}

impl AdaptiveRecvBuf {
    /// A buffer with Netty's defaults: [`MIN_RECV`], [`INITIAL_RECV`],
    /// [`MAX_RECV`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_transport::recv::AdaptiveRecvBuf::new().next_size(), 2048);
    /// ```
    pub fn new() -> Self {
        AdaptiveRecvBuf::with_sizes(MIN_RECV, INITIAL_RECV, MAX_RECV)
    }

    /// A buffer whose read size stays in `min..=max`, starting at `initial`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rb = weft_transport::recv::AdaptiveRecvBuf::with_sizes(64, 1024, 8192);
    /// assert_eq!(rb.next_size(), 1024);
    /// ```
    pub fn with_sizes(min: usize, initial: usize, max: usize) -> Self {
        let min_index = index_of(min);
        let max_index = index_of(max).max(min_index);
        let index = index_of(initial).clamp(min_index, max_index);
        AdaptiveRecvBuf {
            buf: BytesMut::new(),
            chunk_cap: 0,
            index,
            min_index,
            max_index,
            next: size_at(index),
            decrease_now: false,
        }
    }

    /// Bytes the next read asks for.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rb = weft_transport::recv::AdaptiveRecvBuf::new();
    /// rb.record(2048);
    /// assert_eq!(rb.next_size(), 32768);
    /// ```
    pub fn next_size(&self) -> usize {
        self.next
    }

    /// Adapts the next size to a read of `n` bytes (Netty's rule: grow by
    /// four steps after a full read, shrink by one after two reads in a row
    /// that would have fit the next smaller size).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rb = weft_transport::recv::AdaptiveRecvBuf::new();
    /// rb.record(10);
    /// assert_eq!(rb.next_size(), 2048);
    /// rb.record(10);
    /// assert_eq!(rb.next_size(), 1024);
    /// ```
    pub fn record(&mut self, n: usize) {
        let lower = size_at(
            self.index
                .saturating_sub(INDEX_DECREMENT)
                .max(self.min_index),
        );
        if n <= lower {
            if self.decrease_now {
                self.index = self
                    .index
                    .saturating_sub(INDEX_DECREMENT)
                    .max(self.min_index);
                self.next = size_at(self.index);
                self.decrease_now = false;
            } else {
                self.decrease_now = true;
            }
        } else {
            // A read that was not short breaks the run of short ones.
            self.decrease_now = false;
            if n >= self.next {
                self.index = (self.index + INDEX_INCREMENT).min(self.max_index);
                self.next = size_at(self.index);
            }
        }
    }

    /// Makes one `read` of up to [`next_size`](Self::next_size) bytes and
    /// returns them as a frozen [`Bytes`] (empty at end of stream), with no
    /// copy. Adapts the next size.
    ///
    /// # Errors
    ///
    /// The OS error; `WouldBlock` when the kernel said `EAGAIN`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// drop(a);
    /// let mut rb = weft_transport::recv::AdaptiveRecvBuf::new();
    /// assert!(rb.read_from(b.as_fd(), &Default::default()).unwrap().is_empty());
    /// ```
    pub fn read_from(&mut self, fd: BorrowedFd<'_>, stats: &Stats) -> io::Result<Bytes> {
        let want = self.next;
        self.make_room(want, stats);
        let spare = self.buf.spare_capacity_mut();
        let spare_len = spare.len().min(want);
        stats.add(Counter::ReadCalls, 1);
        let n = match sys::read_uninit(fd, spare.get_mut(..spare_len).unwrap_or_default()) {
            Ok(n) => n,
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    stats.add(Counter::WouldBlock, 1);
                    self.release();
                }
                return Err(e);
            }
        };
        // SAFETY: `read_uninit` returned `n`, so the kernel initialised the
        // first `n` bytes of the spare capacity (n <= spare_len).
        unsafe { self.buf.set_len(self.buf.len() + n.min(spare_len)) };
        stats.add(Counter::BytesRead, n as u64);
        if n > 0 {
            self.record(n);
        }
        Ok(self.buf.split().freeze())
    }

    /// Fills `n` bytes of the chunk from `fill` (called with the bytes
    /// still wanted until it has appended `n` in all, or appends nothing;
    /// it must not append more than asked) and returns them
    /// frozen. Used where the bytes come from another buffer (TLS
    /// plaintext), not from the socket.
    pub(crate) fn take_from(
        &mut self,
        n: usize,
        stats: &Stats,
        mut fill: impl FnMut(&mut BytesMut, usize) -> io::Result<usize>,
    ) -> io::Result<Bytes> {
        self.make_room(n, stats);
        let start = self.buf.len();
        while self.buf.len() - start < n {
            let left = n - (self.buf.len() - start);
            if fill(&mut self.buf, left)? == 0 {
                break;
            }
        }
        Ok(self.buf.split().freeze())
    }

    /// Makes room for a read of `want` bytes: the chunk's tail, the chunk
    /// reclaimed in place, a parked chunk, or (counted) a new one.
    fn make_room(&mut self, want: usize, stats: &Stats) {
        if pool::make_room(&mut self.buf, &mut self.chunk_cap, want) {
            stats.add(Counter::RecvChunks, 1);
        }
    }

    /// Lets go of the chunk (parked in the thread's cache, where it is
    /// reused once its views drop): done after a read finds the socket
    /// drained, and by the connection when auto-read is turned off. The
    /// next read takes a chunk again. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// std::io::Write::write_all(&mut &a, b"hi").unwrap();
    /// let mut rb = weft_transport::recv::AdaptiveRecvBuf::new();
    /// rb.read_from(b.as_fd(), &Default::default()).unwrap();
    /// assert!(rb.held_capacity() > 0);
    /// rb.release();
    /// assert_eq!(rb.held_capacity(), 0);
    /// ```
    pub fn release(&mut self) {
        if self.chunk_cap == 0 && self.buf.capacity() == 0 {
            return;
        }
        let chunk = std::mem::take(&mut self.buf);
        pool::park(chunk, std::mem::take(&mut self.chunk_cap));
    }

    /// Receive memory this buffer holds on to between reads: 0 once a read
    /// found the socket drained (the chunk went back to the thread's cache
    /// or to the views that still use it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// std::io::Write::write_all(&mut &a, b"hi").unwrap();
    /// let mut rb = weft_transport::recv::AdaptiveRecvBuf::new();
    /// let stats = Default::default();
    /// let hi = rb.read_from(b.as_fd(), &stats).unwrap();
    /// assert!(rb.held_capacity() > 0);
    /// assert!(rb.read_from(b.as_fd(), &stats).is_err()); // WouldBlock
    /// assert_eq!(rb.held_capacity(), 0);
    /// assert_eq!(hi, &b"hi"[..]);
    /// ```
    pub fn held_capacity(&self) -> usize {
        if self.buf.capacity() == 0 {
            0
        } else {
            self.chunk_cap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_chunks_come_from_the_pool_and_show_in_global_stats() {
        use std::os::fd::AsFd;
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        std::io::Write::write_all(&mut &a, b"ping").unwrap();
        let before = crate::global_stats().pool;
        let mut rb = AdaptiveRecvBuf::new();
        let stats = Stats::new();
        assert_eq!(rb.read_from(b.as_fd(), &stats).unwrap(), &b"ping"[..]);
        // Drained: the chunk goes back to the pool's per-thread cache.
        assert!(rb.read_from(b.as_fd(), &stats).is_err());
        let d = crate::global_stats().pool - before;
        assert!(d.allocated + d.hits >= 1, "{d:?}");
        assert!(d.parked + d.discarded >= 1, "{d:?}");
        assert_eq!(rb.held_capacity(), 0);
    }

    #[test]
    fn grows_after_full_reads_up_to_the_max() {
        let mut rb = AdaptiveRecvBuf::new();
        for _ in 0..10 {
            let n = rb.next_size();
            rb.record(n);
        }
        assert_eq!(rb.next_size(), MAX_RECV);
    }

    #[test]
    fn shrinks_only_after_two_short_reads_in_a_row() {
        let mut rb = AdaptiveRecvBuf::new();
        rb.record(1);
        rb.record(2000);
        rb.record(1);
        assert_eq!(rb.next_size(), 2048);
        rb.record(1);
        assert_eq!(rb.next_size(), 1024);
        for _ in 0..100 {
            rb.record(1);
        }
        assert_eq!(rb.next_size(), MIN_RECV);
    }
}
