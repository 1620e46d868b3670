//! Weft's one pooling scheme: receive chunks and staging buffers come from
//! per-thread caches, with one set of process-wide [`PoolStats`].
//!
//! ```text
//!   make_room ──▶ BytesMut chunk ──read, split().freeze()──▶ Bytes views
//!       ▲  (tail as is, reclaimed in place,       │ clone, slice, CompositeBuf
//!       │   a parked chunk, or a new one)         │
//!       └──── park (when the reader goes idle) ◀──┘ last view drops: the
//!                                                   parked handle reclaims
//!                                                   the whole chunk in place
//! ```
//!
//! A chunk is a [`BytesMut`]: each read is split off its front and frozen
//! into a [`Bytes`](bytes::Bytes), so the views share the chunk and nothing is copied.
//! When the reader needs room and every view of the chunk's earlier reads
//! has dropped, the chunk is reclaimed in place
//! ([`BytesMut::try_reclaim`]: no allocation, no copy, pages already
//! faulted in). A reader that goes idle [`park`]s its chunk in a bounded
//! per-thread cache ([`CACHED_CHUNKS`]), where the next reader on that
//! thread takes it, so an idle connection holds no receive memory.
//!
//! The staging buffer that short outbound segments are coalesced into is
//! the other per-thread piece ([`STAGING`]): its bytes live only during one
//! `writev`, so one buffer per thread serves every connection.
//!
//! Every piece is counted in one set of process-wide counters
//! ([`stats`]), which `weft-transport` reports in its global stats.
//!
//! This replaces the earlier `BufPool` (fixed-size chunks behind a mutex,
//! each frozen whole into one `Bytes`), which no crate used: the receive
//! path writes many reads into one chunk and splits each off, which a
//! frozen-whole chunk cannot do, and a per-thread cache needs no lock.
//!
//! # Examples
//!
//! ```
//! use bytes::BufMut;
//! use weft_buf::pool;
//!
//! let (mut chunk, mut cap) = (bytes::BytesMut::new(), 0);
//! pool::make_room(&mut chunk, &mut cap, 100);
//! chunk.put_slice(b"hello");
//! let hello = chunk.split().freeze(); // a view, no copy
//! drop(hello);
//! // The reader goes idle: the chunk waits on this thread for the next one.
//! pool::park(chunk, cap);
//! let (mut again, mut again_cap) = (bytes::BytesMut::new(), 0);
//! pool::make_room(&mut again, &mut again_cap, 100);
//! assert_eq!(again_cap, cap);
//! ```

use std::cell::{BorrowMutError, RefCell, RefMut};
use std::fmt;
use std::ops::{Deref, DerefMut, Sub};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;

/// Bytes allocated for a new chunk (a request larger than this gets a
/// chunk of its own size). Kept small because a view kept by a handler (a
/// stored value) pins its whole chunk.
pub const CHUNK_SIZE: usize = 16 * 1024;

/// Chunks parked per thread for reuse; beyond this a parked chunk is
/// dropped (its views keep what they use).
pub const CACHED_CHUNKS: usize = 8;

/// A chunk's unread tail and the capacity of the whole chunk.
type Parked = (BytesMut, usize);

thread_local! {
    /// Chunks parked by readers that went idle or moved on to another
    /// chunk. Views of earlier reads may still use their front; the tail
    /// (spare capacity) belongs to the parked handle alone.
    static CHUNKS: RefCell<Vec<Parked>> = const { RefCell::new(Vec::new()) };

    /// The thread's staging buffer: bytes coalesced for one `writev`.
    /// Borrow it with [`Staging::try_borrow_mut`], which counts the use.
    ///
    /// # Examples
    ///
    /// ```
    /// let n = weft_buf::pool::STAGING
    ///     .try_with(|s| s.try_borrow_mut().ok().map(|mut v| {
    ///         v.clear();
    ///         v.extend_from_slice(b"abc");
    ///         v.len()
    ///     }))
    ///     .ok()
    ///     .flatten();
    /// assert_eq!(n, Some(3));
    /// ```
    pub static STAGING: Staging = const { Staging { buf: RefCell::new(Vec::new()) } };
}

/// The per-thread staging buffer (see [`STAGING`]).
pub struct Staging {
    buf: RefCell<Vec<u8>>,
}

impl Staging {
    /// Borrows the buffer, or an error if it is already borrowed on this
    /// thread (the caller then uses a fresh `Vec`), as
    /// [`RefCell::try_borrow_mut`] does. Never panics. Counted in
    /// [`PoolStats::staging_uses`] or [`PoolStats::staging_busy`].
    ///
    /// # Errors
    ///
    /// [`BorrowMutError`] while another borrow on this thread is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_buf::pool::STAGING.with(|s| {
    ///     let first = s.try_borrow_mut();
    ///     assert!(first.is_ok());
    ///     assert!(s.try_borrow_mut().is_err()); // in use
    /// });
    /// ```
    pub fn try_borrow_mut(&self) -> Result<StagingRef<'_>, BorrowMutError> {
        match self.buf.try_borrow_mut() {
            Ok(buf) => {
                STATS.staging_uses.fetch_add(1, Ordering::Relaxed);
                Ok(StagingRef { buf })
            }
            Err(e) => {
                STATS.staging_busy.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

impl fmt::Debug for Staging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cap = self.buf.try_borrow().map(|b| b.capacity()).ok();
        f.debug_struct("Staging").field("capacity", &cap).finish()
    }
}

/// A borrow of the thread's staging buffer; derefs to `Vec<u8>`.
pub struct StagingRef<'a> {
    buf: RefMut<'a, Vec<u8>>,
}

impl Deref for StagingRef<'_> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for StagingRef<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl fmt::Debug for StagingRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StagingRef")
            .field("len", &self.buf.len())
            .field("capacity", &self.buf.capacity())
            .finish()
    }
}

/// Runs `f` on this thread's chunk cache; `None` if it is gone (thread
/// exit) or in use, so this never panics.
fn with_cache<R>(f: impl FnOnce(&mut Vec<Parked>) -> Option<R>) -> Option<R> {
    CHUNKS
        .try_with(|cell| cell.try_borrow_mut().ok().and_then(|mut c| f(&mut c)))
        .ok()
        .flatten()
}

/// Makes room for `want` bytes in `chunk`, whose whole chunk has capacity
/// `*cap`: its tail as is; the chunk reclaimed in place if every view of
/// it has dropped; a parked chunk of this thread (as is or reclaimed); or
/// a new chunk of `max(CHUNK_SIZE, want)` bytes. A chunk given up is
/// parked. Returns `true` if a new chunk was allocated.
///
/// # Examples
///
/// ```
/// use bytes::BufMut;
/// let (mut chunk, mut cap) = (bytes::BytesMut::new(), 0);
/// assert!(weft_buf::pool::make_room(&mut chunk, &mut cap, 10)); // new
/// chunk.put_slice(b"0123456789");
/// let read = chunk.split().freeze();
/// assert!(!weft_buf::pool::make_room(&mut chunk, &mut cap, 10)); // the tail
/// assert_eq!(&read[..], b"0123456789");
/// ```
pub fn make_room(chunk: &mut BytesMut, cap: &mut usize, want: usize) -> bool {
    if chunk.capacity() >= want {
        return false;
    }
    // Unique (every earlier view dropped): start over at its front.
    if *cap >= want && chunk.try_reclaim(want) {
        STATS.reclaims.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    let (fresh, (next, next_cap)) = match take_parked(want) {
        Some(p) => (false, p),
        None => {
            STATS.allocated.fetch_add(1, Ordering::Relaxed);
            let c = BytesMut::with_capacity(CHUNK_SIZE.max(want));
            let c_cap = c.capacity();
            (true, (c, c_cap))
        }
    };
    let old = std::mem::replace(chunk, next);
    park(old, std::mem::replace(cap, next_cap));
    fresh
}

/// A parked chunk with room for `want` bytes, as is or reclaimed in place
/// because every view of it has dropped.
fn take_parked(want: usize) -> Option<Parked> {
    with_cache(|cache| {
        let i = cache
            .iter_mut()
            .position(|(c, cap)| c.capacity() >= want || (*cap >= want && c.try_reclaim(want)))?;
        STATS.hits.fetch_add(1, Ordering::Relaxed);
        Some(cache.swap_remove(i))
    })
}

/// Parks a chunk (its unread tail, and the capacity of the whole chunk)
/// for reuse on this thread; dropped if the cache is full. A chunk with no
/// capacity is ignored.
///
/// # Examples
///
/// ```
/// let before = weft_buf::pool::stats();
/// weft_buf::pool::park(bytes::BytesMut::with_capacity(64), 64);
/// let after = weft_buf::pool::stats();
/// assert_eq!((after.parked + after.discarded) - (before.parked + before.discarded), 1);
/// ```
pub fn park(chunk: BytesMut, cap: usize) {
    if cap == 0 {
        return;
    }
    let kept = with_cache(|cache| {
        if cache.len() < CACHED_CHUNKS {
            cache.push((chunk, cap));
            Some(())
        } else {
            None
        }
    });
    let counter = match kept {
        Some(()) => &STATS.parked,
        None => &STATS.discarded,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Chunks parked on the current thread now.
///
/// # Examples
///
/// ```
/// assert!(weft_buf::pool::parked_here() <= weft_buf::pool::CACHED_CHUNKS);
/// ```
pub fn parked_here() -> usize {
    with_cache(|c| Some(c.len())).unwrap_or(0)
}

struct Counters {
    allocated: AtomicU64,
    reclaims: AtomicU64,
    hits: AtomicU64,
    parked: AtomicU64,
    discarded: AtomicU64,
    staging_uses: AtomicU64,
    staging_busy: AtomicU64,
}

static STATS: Counters = Counters {
    allocated: AtomicU64::new(0),
    reclaims: AtomicU64::new(0),
    hits: AtomicU64::new(0),
    parked: AtomicU64::new(0),
    discarded: AtomicU64::new(0),
    staging_uses: AtomicU64::new(0),
    staging_busy: AtomicU64::new(0),
};

/// The pool's process-wide counters at one moment; subtract two to get
/// what happened in between.
///
/// # Examples
///
/// ```
/// let a = weft_buf::pool::stats();
/// let b = weft_buf::pool::stats();
/// assert!((b - a).allocated <= b.allocated);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// New chunks allocated (the cache had none with room).
    pub allocated: u64,
    /// A reader's own chunk reclaimed in place (every view dropped).
    pub reclaims: u64,
    /// Parked chunks reused (as is or reclaimed in place).
    pub hits: u64,
    /// Chunks parked.
    pub parked: u64,
    /// Chunks dropped because the thread's cache was full.
    pub discarded: u64,
    /// Borrows of a thread's staging buffer.
    pub staging_uses: u64,
    /// Staging borrows refused because it was in use (a fresh `Vec` was
    /// used instead).
    pub staging_busy: u64,
}

impl Sub for PoolStats {
    type Output = PoolStats;

    fn sub(self, o: PoolStats) -> PoolStats {
        PoolStats {
            allocated: self.allocated.wrapping_sub(o.allocated),
            reclaims: self.reclaims.wrapping_sub(o.reclaims),
            hits: self.hits.wrapping_sub(o.hits),
            parked: self.parked.wrapping_sub(o.parked),
            discarded: self.discarded.wrapping_sub(o.discarded),
            staging_uses: self.staging_uses.wrapping_sub(o.staging_uses),
            staging_busy: self.staging_busy.wrapping_sub(o.staging_busy),
        }
    }
}

/// Reads the pool's process-wide counters.
///
/// # Examples
///
/// ```
/// let (mut c, mut cap) = (bytes::BytesMut::new(), 0);
/// let before = weft_buf::pool::stats();
/// weft_buf::pool::make_room(&mut c, &mut cap, 1);
/// assert!(weft_buf::pool::stats().allocated + weft_buf::pool::stats().hits
///     > before.allocated + before.hits);
/// ```
pub fn stats() -> PoolStats {
    let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
    PoolStats {
        allocated: g(&STATS.allocated),
        reclaims: g(&STATS.reclaims),
        hits: g(&STATS.hits),
        parked: g(&STATS.parked),
        discarded: g(&STATS.discarded),
        staging_uses: g(&STATS.staging_uses),
        staging_busy: g(&STATS.staging_busy),
    }
}
