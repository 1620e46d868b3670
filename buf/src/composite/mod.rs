//! [`CompositeBuf`]: many [`Bytes`] segments read as one buffer, without
//! copying them together.
//!
//! ```text
//!  CompositeBuf (len = 11, cached)
//!  ┌──────────────┬───────────┬────────────────────┐
//!  │ Bytes "HDR:" │ Bytes "he"│ Bytes "llo!"  ...  │   segments (SmallVec)
//!  └──────────────┴───────────┴────────────────────┘
//!       each segment is a reference-counted view; nothing is copied
//! ```
//!
//! Unlike Netty's `CompositeByteBuf`, a `CompositeBuf` never consolidates on
//! its own: no segment count triggers a copy. The only copying operations are
//! the ones that say so ([`CompositeBuf::to_bytes`] on more than one segment,
//! [`CompositeBuf::modify`] on a shared segment), and each reports its bytes
//! to [`crate::copy`].
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use weft_buf::composite::CompositeBuf;
//!
//! let mut frame = CompositeBuf::new();
//! frame.push(Bytes::from_static(b"he"));
//! frame.push(Bytes::from_static(b"llo"));
//! assert_eq!(frame.find(b"ll"), Some(2));
//! assert_eq!(frame.slice(1..4), &b"ell"[..]);
//! ```

use std::ops::{Bound, RangeBounds};
use std::sync::OnceLock;

use bytes::Bytes;
use smallvec::SmallVec;

mod buf_impl;
mod cmp;
mod convert;
mod copying;
mod cursor;
mod index;
mod read;
mod search;
mod split;

pub use cmp::DEBUG_DUMP_LIMIT;
pub use cursor::Cursor;
use index::FRONT_ROOM_MIN;

/// How many segments a [`CompositeBuf`] stores inline before it allocates.
///
/// A header plus a body, or a frame that spans two reads, fits without a
/// heap allocation for the segment list. Two, not four: every pipeline
/// `Message` is as large as its largest variant, and shrinking the inline
/// list from 4 to 2 made small-frame decoding 16–25% faster in
/// `cargo bench -p weft-benches --bench decode -- weft_composite/small`
/// (two alternating runs each, same machine).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::composite::INLINE_SEGMENTS;
/// let buf: weft_buf::CompositeBuf =
///     (0..INLINE_SEGMENTS).map(|_| Bytes::from_static(b"seg")).collect();
/// assert_eq!(buf.segments().len(), INLINE_SEGMENTS);
/// ```
pub const INLINE_SEGMENTS: usize = 2;

/// A buffer made of several [`Bytes`] segments, read as one.
///
/// Cloning is cheap: it bumps the reference count of each segment. Empty
/// segments are never stored. The total length is cached, so [`len`] is O(1).
/// Finding the segment that holds an index (indexed reads, `slice`,
/// `split_off`, searches from an offset) is O(1) inside the first segment
/// or next to the last lookup and O(log segments) otherwise, through a
/// table of segment offsets built by the first such lookup on a buffer of
/// more than 8 segments (Netty's `CompositeByteBuf` does the same); `push`,
/// `push_front` and `split_to` keep it up to date in O(1) amortized.
///
/// `CompositeBuf` implements [`bytes::Buf`]; its
/// [`chunks_vectored`](bytes::Buf::chunks_vectored) yields one `IoSlice` per segment,
/// so a `writev` sees every segment.
///
/// [`len`]: CompositeBuf::len
///
/// # Examples
///
/// ```
/// use bytes::{Buf, Bytes};
/// use weft_buf::CompositeBuf;
///
/// let body = Bytes::from_static(b"hello");
/// let mut frame = CompositeBuf::from(body.clone());
/// frame.push_front(Bytes::from_static(&[0, 0, 0, 5]));
///
/// assert_eq!(frame.len(), 9);
/// assert_eq!(frame.segments().len(), 2);
/// // the body segment is the caller's own memory
/// assert_eq!(frame.segments()[1].as_ptr(), body.as_ptr());
/// assert_eq!(frame.get_u32(), 5);
/// assert_eq!(frame, &b"hello"[..]);
/// ```
#[derive(Clone, Default)]
pub struct CompositeBuf {
    /// `segs[..head]` are empty placeholders left by consumed segments (so
    /// that reading through the buffer never shifts the list); the live
    /// segments `segs[head..]` are never empty.
    segs: SmallVec<[Bytes; INLINE_SEGMENTS]>,
    head: usize,
    len: usize,
    /// Segment start offsets for O(log n) lookups, built by the first
    /// indexed read on a buffer of many segments (see `index.rs`).
    index: OnceLock<Box<index::Index>>,
}

/// Turns any range over `0..len` into `start..end`, or `None` if it does
/// not lie inside.
pub(crate) fn bounds(range: impl RangeBounds<usize>, len: usize) -> Option<(usize, usize)> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.checked_add(1)?,
        Bound::Excluded(&e) => e,
        Bound::Unbounded => len,
    };
    (start <= end && end <= len).then_some((start, end))
}

impl CompositeBuf {
    /// Creates an empty buffer. No allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = weft_buf::CompositeBuf::new();
    /// assert!(buf.is_empty());
    /// ```
    pub fn new() -> Self {
        CompositeBuf {
            segs: SmallVec::new(),
            head: 0,
            len: 0,
            index: OnceLock::new(),
        }
    }

    /// Creates an empty buffer with room for `segments` segments.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = weft_buf::CompositeBuf::with_capacity(32);
    /// assert_eq!(buf.len(), 0);
    /// ```
    pub fn with_capacity(segments: usize) -> Self {
        CompositeBuf {
            segs: SmallVec::with_capacity(segments),
            head: 0,
            len: 0,
            index: OnceLock::new(),
        }
    }

    /// Total number of bytes in all segments. O(1): the length is cached.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"ab"), Bytes::from_static(b"c")].into_iter().collect();
    /// assert_eq!(buf.len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns `true` if the buffer holds no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut buf = weft_buf::CompositeBuf::new();
    /// buf.push(bytes::Bytes::new()); // empty segments are dropped
    /// assert!(buf.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The segments, in order. None of them is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"ab"), Bytes::from_static(b"c")].into_iter().collect();
    /// assert_eq!(buf.segments()[1], &b"c"[..]);
    /// ```
    #[inline]
    pub fn segments(&self) -> &[Bytes] {
        &self.segs[self.head..]
    }

    /// Consumes the buffer and returns its segments, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"ab"), Bytes::from_static(b"c")].into_iter().collect();
    /// let segs: Vec<Bytes> = buf.into_segments().collect();
    /// assert_eq!(segs.len(), 2);
    /// ```
    pub fn into_segments(self) -> impl ExactSizeIterator<Item = Bytes> {
        self.segs.into_iter().skip(self.head)
    }

    /// Appends a segment. O(1) amortized; the bytes are not copied.
    /// An empty segment is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut buf = weft_buf::CompositeBuf::new();
    /// buf.push(bytes::Bytes::from_static(b"abc"));
    /// assert_eq!(buf, &b"abc"[..]);
    /// ```
    pub fn push(&mut self, seg: Bytes) {
        if seg.is_empty() {
            return;
        }
        self.compact_if_sparse();
        self.index_push(seg.len());
        self.len += seg.len();
        self.segs.push(seg);
    }

    /// Prepends a segment, such as a protocol header, without moving the
    /// body's bytes. O(1) amortized: a long segment list is given free
    /// slots at its front (as many as it has segments) when it runs out;
    /// no payload byte is copied. An empty segment is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut buf = weft_buf::CompositeBuf::from(Bytes::from_static(b"body"));
    /// buf.push_front(Bytes::from_static(b"hdr:"));
    /// assert_eq!(buf, &b"hdr:body"[..]);
    /// ```
    pub fn push_front(&mut self, seg: Bytes) {
        if seg.is_empty() {
            return;
        }
        let n = seg.len();
        let had_front = self.head < self.segs.len();
        if self.head == 0 && self.segs.len() >= FRONT_ROOM_MIN {
            self.make_front_room();
        }
        if self.head > 0 {
            self.head -= 1;
            self.segs[self.head] = seg;
            let slot = self.head;
            self.index_push_front(slot, had_front.then_some(slot + 1), n);
        } else {
            // A short list: shifting it is cheaper than making room.
            self.segs.insert(0, seg);
            if let Some(ix) = self.index.get_mut() {
                ix.starts.insert(0, 0);
            }
            self.index_push_front(0, had_front.then_some(1), n);
        }
        self.len += n;
    }

    /// Appends every segment of `other`. No payload byte is copied.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut a = weft_buf::CompositeBuf::from(Bytes::from_static(b"ab"));
    /// a.append(weft_buf::CompositeBuf::from(Bytes::from_static(b"cd")));
    /// assert_eq!(a, &b"abcd"[..]);
    /// ```
    pub fn append(&mut self, other: CompositeBuf) {
        self.compact_if_sparse();
        if self.index.get().is_some() {
            for seg in other.into_segments() {
                self.index_push(seg.len());
                self.len += seg.len();
                self.segs.push(seg);
            }
        } else {
            self.len += other.len;
            self.segs.extend(other.segs.into_iter().skip(other.head));
        }
    }

    /// Removes every segment.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut buf = weft_buf::CompositeBuf::from(bytes::Bytes::from_static(b"abc"));
    /// buf.clear();
    /// assert!(buf.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.segs.clear();
        self.head = 0;
        self.len = 0;
        self.index_reset();
    }

    /// Once every segment is consumed, drops the placeholders.
    #[inline]
    fn reset_if_drained(&mut self) {
        if self.head == self.segs.len() {
            self.segs.clear();
            self.head = 0;
            self.index_reset();
        }
    }

    /// Before growing a full list, drops the placeholders if they are at
    /// least half of it, so the list never grows without bound while it is read
    /// from the front and appended at the back. Amortized O(1).
    #[inline]
    fn compact_if_sparse(&mut self) {
        // Only when the list is full: free slots at the front made by
        // `push_front` stay until growing would otherwise reallocate.
        if self.head > 0
            && self.segs.len() == self.segs.capacity()
            && self.head * 2 >= self.segs.len()
        {
            self.segs.drain(..self.head);
            if let Some(ix) = self.index.get_mut() {
                ix.starts.drain(..self.head);
                ix.hint_shift(self.head);
            }
            self.head = 0;
        }
    }

    /// Iterates over the bytes from `start` on, as contiguous pieces.
    fn pieces_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + Clone + '_ {
        let (first, off) = if start >= self.len {
            (self.segments().len(), 0)
        } else {
            self.locate(start)
        };
        self.segments()[first..]
            .iter()
            .enumerate()
            .map(move |(i, s)| if i == 0 { &s[off..] } else { &s[..] })
    }
}

/// Resolves `range` against `len`, or names what was out of range.
fn checked_range(
    range: &impl RangeBounds<usize>,
    len: usize,
) -> Result<(usize, usize), crate::BufError> {
    let raw = (range.start_bound().cloned(), range.end_bound().cloned());
    bounds(raw, len).ok_or_else(|| {
        let start = match raw.0 {
            Bound::Included(s) => s as u64,
            Bound::Excluded(s) => s as u64 + 1,
            Bound::Unbounded => 0,
        };
        let end = match raw.1 {
            Bound::Included(e) => e as u64 + 1,
            Bound::Excluded(e) => e as u64,
            Bound::Unbounded => len as u64,
        };
        crate::BufError::OutOfRange {
            start,
            end,
            len: len as u64,
        }
    })
}

#[cfg(test)]
mod tests {
    use bytes::Buf;

    use super::*;

    fn segs(parts: &[&'static [u8]]) -> CompositeBuf {
        parts.iter().map(|p| Bytes::from_static(p)).collect()
    }

    #[test]
    fn empty_segments_are_dropped() {
        let b = segs(&[b"", b"a", b"", b"bc", b""]);
        assert_eq!(b.segments().len(), 2);
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn split_to_on_exact_boundary_keeps_segments_whole() {
        let mut b = segs(&[b"ab", b"cd", b"ef"]);
        let head = b.split_to(4);
        assert_eq!(head.segments().len(), 2);
        assert_eq!(b.segments().len(), 1);
        assert_eq!(b, &b"ef"[..]);
    }

    #[test]
    fn advance_and_copy_to_bytes_inside_one_segment_copy_nothing() {
        let mut b = segs(&[b"abcdef", b"gh"]);
        let (out, copied) = crate::measure_copies(|| {
            b.advance(1);
            b.copy_to_bytes(5)
        });
        assert_eq!(out, &b"bcdef"[..]);
        assert_eq!(copied, 0);
        assert_eq!(b, &b"gh"[..]);
        assert_eq!(b.segments().len(), 1);
    }

    #[test]
    fn copy_to_bytes_across_segments_counts_the_copy() {
        let mut b = segs(&[b"abc", b"def"]);
        let (out, copied) = crate::measure_copies(|| b.copy_to_bytes(4));
        assert_eq!(out, &b"abcd"[..]);
        assert_eq!(copied, 4);
        assert_eq!(b, &b"ef"[..]);
    }

    #[test]
    fn chunks_vectored_yields_one_slice_per_segment() {
        let b = segs(&[b"a", b"bb", b"ccc"]);
        let mut iov = [std::io::IoSlice::new(&[]); 8];
        assert_eq!(b.chunks_vectored(&mut iov), 3);
        assert_eq!(&*iov[2], b"ccc");
        let mut small = [std::io::IoSlice::new(&[]); 2];
        assert_eq!(b.chunks_vectored(&mut small), 2);
    }

    #[test]
    fn modify_unique_segment_is_free() {
        let mut b = CompositeBuf::from(Bytes::from(b"abc".to_vec()));
        let ((), copied) = crate::measure_copies(|| b.modify(1..2, |p| p[0] = b'X'));
        assert_eq!(b, &b"aXc"[..]);
        assert_eq!(copied, 0);
    }

    #[test]
    fn try_slice_reports_the_bad_range() {
        let b = segs(&[b"abc"]);
        let e = b.try_slice(2..=4).unwrap_err();
        assert_eq!(e.to_string(), "range 2..5 is out of bounds for length 3");
    }
}
