//! [`BufPool`]: fixed-size chunks that go back to their pool when the last
//! view of them drops (the fbufs idea: reuse memory instead of allocating).
//!
//! ```text
//!   pool.get() ──▶ PooledChunk (writable, BufMut) ──freeze()──▶ Bytes
//!        ▲                                                     │ clone, slice,
//!        │                                                     │ put in a CompositeBuf
//!        └──────────── last Bytes view drops ◀─────────────────┘
//! ```
//!
//! A frozen chunk is an ordinary [`Bytes`] (made with [`Bytes::from_owner`]),
//! so slices and clones of it keep the chunk out of the pool until the last
//! one drops. The pool is bounded: once `max_chunks` chunks are out, `get`
//! returns [`BufError::PoolExhausted`] rather than allocating without limit.
//!
//! # Examples
//!
//! ```
//! use bytes::BufMut;
//! use weft_buf::BufPool;
//!
//! let pool = BufPool::new(4096, 8);
//! let mut chunk = pool.get().unwrap();
//! chunk.put_slice(b"hello");
//! let hello = chunk.freeze();
//! assert_eq!(pool.stats().outstanding, 1);
//! drop(hello);
//! assert_eq!(pool.stats().outstanding, 0);
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes};

use crate::BufError;

struct Inner {
    chunk_size: usize,
    max_chunks: usize,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    exhausted: AtomicU64,
}

struct State {
    /// Chunks ready for reuse; the most recently returned is reused first.
    free: Vec<Box<[u8]>>,
    /// Chunks ever allocated and not freed: `free.len() + outstanding`.
    allocated: usize,
}

impl Inner {
    fn give_back(&self, chunk: Box<[u8]>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.free.push(chunk);
    }
}

/// A bounded pool of fixed-size byte chunks. Cloning the handle is cheap
/// (an `Arc`); all clones share one pool. `Send + Sync`.
///
/// # Examples
///
/// ```
/// use bytes::BufMut;
/// use weft_buf::BufPool;
///
/// let pool = BufPool::new(64, 2);
/// let mut a = pool.get().unwrap();
/// a.put_u32(7);
/// let first = a.as_ptr();
/// drop(a.freeze());
/// // the same memory comes back
/// assert_eq!(pool.get().unwrap().as_ptr(), first);
/// assert_eq!(pool.stats().hits, 1);
/// ```
#[derive(Clone)]
pub struct BufPool {
    inner: Arc<Inner>,
}

/// Counters of a [`BufPool`], read with [`BufPool::stats`].
///
/// # Examples
///
/// ```
/// let pool = weft_buf::BufPool::new(16, 4);
/// let s = pool.stats();
/// assert_eq!((s.hits, s.misses, s.outstanding, s.free), (0, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// `get` calls served by a chunk from the free list.
    pub hits: u64,
    /// `get` calls that had to allocate a new chunk.
    pub misses: u64,
    /// `get` calls refused because the pool was at its bound.
    pub exhausted: u64,
    /// Chunks handed out whose memory has not come back yet (a writable
    /// chunk, or at least one live `Bytes` view of a frozen one).
    pub outstanding: usize,
    /// Chunks waiting in the pool for reuse.
    pub free: usize,
}

impl BufPool {
    /// Creates a pool of chunks of `chunk_size` bytes, at most `max_chunks`
    /// of them allocated at once. Nothing is allocated until the first
    /// [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_buf::BufPool::new(16 * 1024, 256);
    /// assert_eq!(pool.chunk_size(), 16 * 1024);
    /// assert_eq!(pool.max_chunks(), 256);
    /// ```
    pub fn new(chunk_size: usize, max_chunks: usize) -> BufPool {
        BufPool {
            inner: Arc::new(Inner {
                chunk_size,
                max_chunks,
                state: Mutex::new(State {
                    free: Vec::new(),
                    allocated: 0,
                }),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                exhausted: AtomicU64::new(0),
            }),
        }
    }

    /// Size of every chunk, in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_buf::BufPool::new(512, 1).chunk_size(), 512);
    /// ```
    pub fn chunk_size(&self) -> usize {
        self.inner.chunk_size
    }

    /// The bound: how many chunks may be allocated at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_buf::BufPool::new(512, 3).max_chunks(), 3);
    /// ```
    pub fn max_chunks(&self) -> usize {
        self.inner.max_chunks
    }

    /// Takes an empty chunk: a free one if there is one (a hit), else a new
    /// allocation (a miss) while under the bound. O(1).
    ///
    /// # Errors
    ///
    /// [`BufError::PoolExhausted`] if `max_chunks` chunks are outstanding.
    /// Nothing is allocated in that case; the caller may wait for views to
    /// drop, or fall back to an unpooled `BytesMut`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_buf::{BufError, BufPool};
    /// let pool = BufPool::new(8, 1);
    /// let held = pool.get().unwrap();
    /// assert!(matches!(pool.get(), Err(BufError::PoolExhausted { max_chunks: 1 })));
    /// drop(held);
    /// assert!(pool.get().is_ok());
    /// ```
    pub fn get(&self) -> Result<PooledChunk, BufError> {
        let recycled = {
            let mut state = self
                .inner
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match state.free.pop() {
                Some(chunk) => Some(chunk),
                None if state.allocated < self.inner.max_chunks => {
                    state.allocated += 1;
                    None
                }
                None => {
                    self.inner.exhausted.fetch_add(1, Ordering::Relaxed);
                    return Err(BufError::PoolExhausted {
                        max_chunks: self.inner.max_chunks,
                    });
                }
            }
        };
        let mem = match recycled {
            Some(chunk) => {
                self.inner.hits.fetch_add(1, Ordering::Relaxed);
                chunk
            }
            None => {
                self.inner.misses.fetch_add(1, Ordering::Relaxed);
                vec![0u8; self.inner.chunk_size].into_boxed_slice()
            }
        };
        Ok(PooledChunk {
            mem: Some(mem),
            len: 0,
            pool: Arc::clone(&self.inner),
        })
    }

    /// The pool's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_buf::BufPool::new(8, 4);
    /// let a = pool.get().unwrap();
    /// let s = pool.stats();
    /// assert_eq!((s.misses, s.outstanding), (1, 1));
    /// drop(a);
    /// assert_eq!((pool.stats().outstanding, pool.stats().free), (0, 1));
    /// ```
    pub fn stats(&self) -> PoolStats {
        let (allocated, free) = {
            let state = self
                .inner
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (state.allocated, state.free.len())
        };
        PoolStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            exhausted: self.inner.exhausted.load(Ordering::Relaxed),
            outstanding: allocated.saturating_sub(free),
            free,
        }
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("chunk_size", &self.inner.chunk_size)
            .field("max_chunks", &self.inner.max_chunks)
            .field("stats", &self.stats())
            .finish()
    }
}

/// A writable chunk from a [`BufPool`]: fill it through [`BufMut`] (or
/// `DerefMut` on the filled part), then [`freeze`](Self::freeze) it into
/// [`Bytes`]. Dropped unfrozen, it goes straight back to the pool.
///
/// It derefs to the bytes written so far, not to the whole chunk.
///
/// # Examples
///
/// ```
/// use bytes::BufMut;
/// let pool = weft_buf::BufPool::new(16, 1);
/// let mut c = pool.get().unwrap();
/// c.put_u16(0xabcd);
/// c[0] = 0x12;
/// assert_eq!(&c[..], &[0x12, 0xcd]);
/// assert_eq!(c.remaining_mut(), 14);
/// ```
pub struct PooledChunk {
    /// Always `Some` until `freeze` or `drop` takes it.
    mem: Option<Box<[u8]>>,
    len: usize,
    pool: Arc<Inner>,
}

impl PooledChunk {
    /// Size of the whole chunk (written or not).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_buf::BufPool::new(32, 1);
    /// assert_eq!(pool.get().unwrap().capacity(), 32);
    /// ```
    pub fn capacity(&self) -> usize {
        self.mem.as_ref().map_or(0, |m| m.len())
    }

    /// Forgets what was written, so the chunk can be filled again.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::BufMut;
    /// let pool = weft_buf::BufPool::new(8, 1);
    /// let mut c = pool.get().unwrap();
    /// c.put_u8(1);
    /// c.clear();
    /// assert!(c.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Turns the written part into [`Bytes`] without copying. The chunk's
    /// memory returns to the pool when the last view (clone or slice) of
    /// these `Bytes` drops.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::BufMut;
    /// let pool = weft_buf::BufPool::new(8, 1);
    /// let mut c = pool.get().unwrap();
    /// c.put_slice(b"abc");
    /// let ptr = c.as_ptr();
    /// let (b, copied) = weft_buf::measure_copies(|| c.freeze());
    /// assert_eq!((b.as_ptr(), copied), (ptr, 0));
    /// let tail = b.slice(1..);
    /// drop(b);
    /// assert_eq!(pool.stats().outstanding, 1); // `tail` still holds it
    /// drop(tail);
    /// assert_eq!(pool.stats().outstanding, 0);
    /// ```
    pub fn freeze(mut self) -> Bytes {
        match self.mem.take() {
            Some(mem) => Bytes::from_owner(Frozen {
                mem: Some(mem),
                len: self.len,
                pool: Arc::clone(&self.pool),
            }),
            None => Bytes::new(),
        }
    }
}

impl Deref for PooledChunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.mem.as_deref().map_or(&[], |m| &m[..self.len])
    }
}

impl DerefMut for PooledChunk {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        self.mem.as_deref_mut().map_or(&mut [], |m| &mut m[..len])
    }
}

// SAFETY: `chunk_mut` always describes `mem[len..]`, memory this chunk owns
// exclusively; `advance_mut` never moves `len` past the end of `mem`, so the
// filled part `mem[..len]` stays in bounds. The memory is zeroed when
// allocated, so it is always initialized.
unsafe impl BufMut for PooledChunk {
    fn remaining_mut(&self) -> usize {
        self.capacity() - self.len
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        let remaining = self.remaining_mut();
        assert!(
            cnt <= remaining,
            "advance_mut past the end of the chunk: {cnt} > {remaining}"
        );
        self.len += cnt;
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        let len = self.len;
        let tail: &mut [u8] = self.mem.as_deref_mut().map_or(&mut [], |m| &mut m[len..]);
        UninitSlice::new(tail)
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        if let Some(mem) = self.mem.take() {
            self.pool.give_back(mem);
        }
    }
}

impl fmt::Debug for PooledChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledChunk")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// The owner behind a frozen chunk's `Bytes`: returns the memory on drop.
struct Frozen {
    mem: Option<Box<[u8]>>,
    len: usize,
    pool: Arc<Inner>,
}

impl AsRef<[u8]> for Frozen {
    fn as_ref(&self) -> &[u8] {
        self.mem.as_deref().map_or(&[], |m| &m[..self.len])
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Some(mem) = self.mem.take() {
            self.pool.give_back(mem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn pool_and_frozen_views_cross_threads() {
        assert_send_sync::<BufPool>();
        let pool = BufPool::new(64, 4);
        let mut c = pool.get().unwrap();
        c.put_slice(b"xyz");
        let b = c.freeze();
        let t = std::thread::spawn(move || b.len());
        assert_eq!(t.join().unwrap(), 3);
        assert_eq!(pool.stats().outstanding, 0);
    }

    #[test]
    fn unfrozen_chunk_returns_on_drop() {
        let pool = BufPool::new(8, 1);
        drop(pool.get().unwrap());
        let s = pool.stats();
        assert_eq!((s.outstanding, s.free, s.misses), (0, 1, 1));
    }
}
