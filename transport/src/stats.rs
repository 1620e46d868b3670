//! Counters of what the transport did: bytes by path, system calls by kind,
//! partial writes and bytes copied in user space.
//!
//! Each channel has its own [`Stats`]; every update also goes to a
//! process-wide set read by [`global_stats`]. All counters are relaxed
//! atomics: reading them is cheap, and they are meant for tests and
//! benchmarks, not for synchronisation.

use std::fmt;
use std::ops::Sub;
use std::sync::atomic::{AtomicU64, Ordering};

use weft_buf::PoolStats;

/// One counter of [`Stats`].
///
/// # Examples
///
/// ```
/// use weft_transport::{Counter, Stats};
/// let s = Stats::new();
/// s.add(Counter::WritevCalls, 2);
/// assert_eq!(s.snapshot().writev_calls, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Counter {
    /// Bytes the kernel accepted from `writev`/`sendmsg` of in-memory buffers.
    WritevBytes,
    /// Bytes sent from files with `sendfile`.
    SendfileBytes,
    /// Bytes sent with `splice` (file regions and relays).
    SpliceBytes,
    /// Bytes sent through a copying path (read + write, mmap + write, the
    /// relay's copy loop).
    CopyBytes,
    /// Bytes received by reads.
    BytesRead,
    /// `writev` calls.
    WritevCalls,
    /// `sendmsg` calls (used with `MSG_MORE` before a file region).
    SendmsgCalls,
    /// `sendfile` calls.
    SendfileCalls,
    /// `splice` calls.
    SpliceCalls,
    /// Plain `write` calls.
    WriteCalls,
    /// `read`/`pread` calls.
    ReadCalls,
    /// `mmap` calls.
    MmapCalls,
    /// Writes of any kind that took fewer bytes than offered.
    PartialWrites,
    /// Calls that returned `EAGAIN`.
    WouldBlock,
    /// Payload bytes copied in user space (also reported to
    /// `weft_buf::record_copy`).
    CopiedBytes,
    /// iovecs handed to `writev`/`sendmsg` (a run of coalesced segments
    /// is one).
    WritevIovecs,
    /// Receive chunks allocated (a chunk reclaimed or taken from the
    /// thread's cache is not counted).
    RecvChunks,
    /// Turns a connection ended with flushed bytes still owed because it
    /// had spent its write budget (it yielded to the other connections of
    /// its thread).
    WriteYields,
    /// Plaintext bytes encrypted into TLS records (what encryption wrote;
    /// not counted as copied).
    TlsEncryptedBytes,
    /// Plaintext bytes decrypted from TLS records.
    TlsDecryptedBytes,
    /// TLS handshakes completed.
    TlsHandshakes,
}

const COUNTERS: usize = 21;

impl Counter {
    fn index(self) -> usize {
        self as usize
    }
}

/// A set of transport counters.
///
/// # Examples
///
/// ```
/// use weft_transport::{Counter, Stats};
/// let s = Stats::new();
/// s.add(Counter::SendfileBytes, 10);
/// assert_eq!(s.snapshot().sendfile_bytes, 10);
/// ```
pub struct Stats {
    counters: [AtomicU64; COUNTERS],
}

static GLOBAL: Stats = Stats::new();

impl Stats {
    /// A set with every counter at zero.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_transport::Stats::new().snapshot().total_syscalls(), 0);
    /// ```
    pub const fn new() -> Stats {
        Stats {
            counters: [const { AtomicU64::new(0) }; COUNTERS],
        }
    }

    /// Adds `n` to a counter here and in the process-wide set.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_transport::{global_stats, Counter, Stats};
    /// let before = global_stats().splice_calls;
    /// Stats::new().add(Counter::SpliceCalls, 1);
    /// assert!(global_stats().splice_calls > before);
    /// ```
    #[inline]
    pub fn add(&self, c: Counter, n: u64) {
        self.counters[c.index()].fetch_add(n, Ordering::Relaxed);
        GLOBAL.counters[c.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// Records a user-space copy of `n` payload bytes here and in
    /// `weft_buf`'s copy accounting.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = weft_transport::Stats::new();
    /// let ((), copied) = weft_buf::measure_copies(|| s.record_copy(4));
    /// assert_eq!((copied, s.snapshot().copied_bytes), (4, 4));
    /// ```
    pub fn record_copy(&self, n: usize) {
        self.add(Counter::CopiedBytes, n as u64);
        weft_buf::record_copy(n);
    }

    /// Reads every counter.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = weft_transport::Stats::new();
    /// assert_eq!(s.snapshot(), weft_transport::StatsSnapshot::default());
    /// ```
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: Counter| self.counters[c.index()].load(Ordering::Relaxed);
        StatsSnapshot {
            writev_bytes: g(Counter::WritevBytes),
            sendfile_bytes: g(Counter::SendfileBytes),
            splice_bytes: g(Counter::SpliceBytes),
            copy_bytes: g(Counter::CopyBytes),
            bytes_read: g(Counter::BytesRead),
            writev_calls: g(Counter::WritevCalls),
            sendmsg_calls: g(Counter::SendmsgCalls),
            sendfile_calls: g(Counter::SendfileCalls),
            splice_calls: g(Counter::SpliceCalls),
            write_calls: g(Counter::WriteCalls),
            read_calls: g(Counter::ReadCalls),
            mmap_calls: g(Counter::MmapCalls),
            partial_writes: g(Counter::PartialWrites),
            would_block: g(Counter::WouldBlock),
            copied_bytes: g(Counter::CopiedBytes),
            writev_iovecs: g(Counter::WritevIovecs),
            recv_chunks: g(Counter::RecvChunks),
            write_yields: g(Counter::WriteYields),
            tls_encrypted_bytes: g(Counter::TlsEncryptedBytes),
            tls_decrypted_bytes: g(Counter::TlsDecryptedBytes),
            tls_handshakes: g(Counter::TlsHandshakes),
            pool: PoolStats::default(),
        }
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.snapshot().fmt(f)
    }
}

/// The process-wide counters: the sum over every channel, buffer and relay,
/// plus weft-buf's pool counters ([`StatsSnapshot::pool`]).
///
/// # Examples
///
/// ```
/// let before = weft_transport::global_stats();
/// let after = weft_transport::global_stats();
/// assert!(after.writev_calls >= before.writev_calls);
/// ```
pub fn global_stats() -> StatsSnapshot {
    let mut s = GLOBAL.snapshot();
    s.pool = weft_buf::pool::stats();
    s
}

/// The values of a [`Stats`] at one moment. Subtract two to get what
/// happened in between.
///
/// # Examples
///
/// ```
/// use weft_transport::{Counter, Stats};
/// let s = Stats::new();
/// let a = s.snapshot();
/// s.add(Counter::WritevBytes, 5);
/// assert_eq!((s.snapshot() - a).writev_bytes, 5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Bytes sent by `writev`/`sendmsg` from memory.
    pub writev_bytes: u64,
    /// Bytes sent by `sendfile`.
    pub sendfile_bytes: u64,
    /// Bytes sent by `splice`.
    pub splice_bytes: u64,
    /// Bytes sent through copying paths.
    pub copy_bytes: u64,
    /// Bytes received.
    pub bytes_read: u64,
    /// `writev` calls.
    pub writev_calls: u64,
    /// `sendmsg` calls.
    pub sendmsg_calls: u64,
    /// `sendfile` calls.
    pub sendfile_calls: u64,
    /// `splice` calls.
    pub splice_calls: u64,
    /// `write` calls.
    pub write_calls: u64,
    /// `read`/`pread` calls.
    pub read_calls: u64,
    /// `mmap` calls.
    pub mmap_calls: u64,
    /// Writes that took fewer bytes than offered.
    pub partial_writes: u64,
    /// Calls that returned `EAGAIN`.
    pub would_block: u64,
    /// Payload bytes copied in user space.
    pub copied_bytes: u64,
    /// iovecs handed to `writev`/`sendmsg`.
    pub writev_iovecs: u64,
    /// Receive chunks allocated.
    pub recv_chunks: u64,
    /// Turns that ended at the write budget with bytes still owed.
    pub write_yields: u64,
    /// Plaintext bytes encrypted into TLS records.
    pub tls_encrypted_bytes: u64,
    /// Plaintext bytes decrypted from TLS records.
    pub tls_decrypted_bytes: u64,
    /// TLS handshakes completed.
    pub tls_handshakes: u64,
    /// weft-buf's pool (receive chunks and staging buffers, every thread):
    /// filled in by [`global_stats`] only; zero in a channel's snapshot,
    /// because the pool's caches are per thread, not per channel.
    pub pool: PoolStats,
}

impl StatsSnapshot {
    /// Every system call counted: writev, sendmsg, sendfile, splice, write,
    /// read and mmap.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_transport::{Counter, Stats};
    /// let s = Stats::new();
    /// s.add(Counter::WritevCalls, 1);
    /// s.add(Counter::SendfileCalls, 2);
    /// assert_eq!(s.snapshot().total_syscalls(), 3);
    /// ```
    pub fn total_syscalls(&self) -> u64 {
        self.writev_calls
            + self.sendmsg_calls
            + self.sendfile_calls
            + self.splice_calls
            + self.write_calls
            + self.read_calls
            + self.mmap_calls
    }

    /// Write system calls only (writev, sendmsg, sendfile, splice, write).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_transport::{Counter, Stats};
    /// let s = Stats::new();
    /// s.add(Counter::ReadCalls, 1);
    /// s.add(Counter::WritevCalls, 1);
    /// assert_eq!(s.snapshot().write_syscalls(), 1);
    /// ```
    pub fn write_syscalls(&self) -> u64 {
        self.writev_calls
            + self.sendmsg_calls
            + self.sendfile_calls
            + self.splice_calls
            + self.write_calls
    }

    /// Bytes sent by every path together.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_transport::{Counter, Stats};
    /// let s = Stats::new();
    /// s.add(Counter::WritevBytes, 1);
    /// s.add(Counter::SendfileBytes, 2);
    /// assert_eq!(s.snapshot().bytes_sent(), 3);
    /// ```
    pub fn bytes_sent(&self) -> u64 {
        self.writev_bytes + self.sendfile_bytes + self.splice_bytes + self.copy_bytes
    }
}

impl Sub for StatsSnapshot {
    type Output = StatsSnapshot;

    fn sub(self, o: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            writev_bytes: self.writev_bytes.wrapping_sub(o.writev_bytes),
            sendfile_bytes: self.sendfile_bytes.wrapping_sub(o.sendfile_bytes),
            splice_bytes: self.splice_bytes.wrapping_sub(o.splice_bytes),
            copy_bytes: self.copy_bytes.wrapping_sub(o.copy_bytes),
            bytes_read: self.bytes_read.wrapping_sub(o.bytes_read),
            writev_calls: self.writev_calls.wrapping_sub(o.writev_calls),
            sendmsg_calls: self.sendmsg_calls.wrapping_sub(o.sendmsg_calls),
            sendfile_calls: self.sendfile_calls.wrapping_sub(o.sendfile_calls),
            splice_calls: self.splice_calls.wrapping_sub(o.splice_calls),
            write_calls: self.write_calls.wrapping_sub(o.write_calls),
            read_calls: self.read_calls.wrapping_sub(o.read_calls),
            mmap_calls: self.mmap_calls.wrapping_sub(o.mmap_calls),
            partial_writes: self.partial_writes.wrapping_sub(o.partial_writes),
            would_block: self.would_block.wrapping_sub(o.would_block),
            copied_bytes: self.copied_bytes.wrapping_sub(o.copied_bytes),
            writev_iovecs: self.writev_iovecs.wrapping_sub(o.writev_iovecs),
            recv_chunks: self.recv_chunks.wrapping_sub(o.recv_chunks),
            write_yields: self.write_yields.wrapping_sub(o.write_yields),
            tls_encrypted_bytes: self.tls_encrypted_bytes.wrapping_sub(o.tls_encrypted_bytes),
            tls_decrypted_bytes: self.tls_decrypted_bytes.wrapping_sub(o.tls_decrypted_bytes),
            tls_handshakes: self.tls_handshakes.wrapping_sub(o.tls_handshakes),
            pool: self.pool - o.pool,
        }
    }
}
