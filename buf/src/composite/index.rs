//! Finding the segment that holds a byte: a lazily built table of segment
//! start offsets (binary search, O(log n)) plus a last-accessed hint (O(1)
//! for repeated, sequential and nearby reads), as Netty's
//! `CompositeByteBuf` does.
//!
//! ```text
//!  segs:    [ ·  · | s2      | s3  | s4          ]    `·` = consumed slot, head = 2
//!  starts:  [ ?  ? | ?       | 107 | 110         ]    virtual positions
//!                    ▲ base = end - len = 100 (front segment starts here)
//!  logical start of s3 = starts[3] - base = 7
//! ```
//!
//! The positions are *virtual*: they are anchored at the end of the buffer
//! (`end`), so reading from the front (`advance`, `get_u32`, `split_to`)
//! changes only `len` and `head` and never touches the table. `push` appends
//! one entry; `push_front` writes one entry; compaction drains the same
//! prefix from both lists. The front segment's entry is never read (it
//! always starts at logical 0), which is what lets a read inside the front
//! segment skip the table. All arithmetic wraps, so `push_front` may move
//! positions below zero; differences stay exact because a buffer is never
//! longer than `usize::MAX`.
//!
//! The table is only built for buffers of more than [`LINEAR_SEGMENTS`]
//! live segments, by the first read that needs it; smaller buffers are
//! scanned, which is faster than a table for a handful of lengths and keeps
//! them free of a heap allocation.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::CompositeBuf;

/// Up to this many live segments, finding an index is a linear scan and no
/// table is built.
pub(crate) const LINEAR_SEGMENTS: usize = 8;

/// Segment start positions; see the module documentation.
#[derive(Debug)]
pub(crate) struct Index {
    /// `starts[i]` is the virtual position of `segs[i]`'s first byte, for
    /// every live segment except the front one; parallel to `segs`.
    pub(crate) starts: Vec<usize>,
    /// Virtual position one past the last byte.
    pub(crate) end: usize,
    /// The (absolute) segment index of the last lookup. Only a hint: it is
    /// checked against the table before use, so a stale value costs a miss,
    /// never a wrong answer. Atomic (relaxed) so that `&self` reads can
    /// update it and `CompositeBuf` stays `Sync`.
    hint: AtomicUsize,
}

impl Clone for Index {
    fn clone(&self) -> Self {
        Index {
            starts: self.starts.clone(),
            end: self.end,
            hint: AtomicUsize::new(self.hint.load(Ordering::Relaxed)),
        }
    }
}

impl Index {
    /// The segment list lost its first `n` slots (compaction).
    pub(crate) fn hint_shift(&mut self, n: usize) {
        let h = self.hint.get_mut();
        *h = h.saturating_sub(n);
    }
}

impl CompositeBuf {
    /// The table, built now if the buffer has more than
    /// [`LINEAR_SEGMENTS`] live segments and none exists yet. O(segments)
    /// once; later `&mut` operations keep it up to date in O(1) each.
    fn index(&self) -> Option<&Index> {
        if let Some(ix) = self.index.get() {
            return Some(ix);
        }
        if self.segments().len() <= LINEAR_SEGMENTS {
            return None;
        }
        Some(self.index.get_or_init(|| {
            let mut starts = Vec::with_capacity(self.segs.capacity());
            // Anchor: the front segment starts at virtual 0.
            starts.resize(self.head, 0);
            let mut pos = 0usize;
            for seg in self.segments() {
                starts.push(pos);
                pos += seg.len();
            }
            Box::new(Index {
                starts,
                end: pos,
                hint: AtomicUsize::new(self.head),
            })
        }))
    }

    /// Finds the segment holding byte `pos` and the offset inside it; the
    /// segment number counts from the first live segment. `pos` must be
    /// `< self.len`. O(1) on a hint hit (the same or the next segment as the
    /// last lookup), O(log segments) otherwise, O(segments) below
    /// [`LINEAR_SEGMENTS`].
    #[inline]
    pub(crate) fn locate(&self, pos: usize) -> (usize, usize) {
        // The front segment needs no table.
        let front = self.segments().first().map_or(0, |s| s.len());
        if pos < front {
            return (0, pos);
        }
        match self.index() {
            Some(ix) => self.locate_indexed(ix, pos),
            None => {
                let mut base = 0;
                for (i, seg) in self.segments().iter().enumerate() {
                    if pos < base + seg.len() {
                        return (i, pos - base);
                    }
                    base += seg.len();
                }
                (self.segments().len(), 0)
            }
        }
    }

    fn locate_indexed(&self, ix: &Index, pos: usize) -> (usize, usize) {
        let n = self.segs.len();
        let head = self.head;
        let base = ix.end.wrapping_sub(self.len);
        // Logical start of segment `i` (absolute), for head < i <= n.
        let start_of = |i: usize| -> usize {
            if i >= n {
                self.len
            } else {
                ix.starts[i].wrapping_sub(base)
            }
        };
        let h = ix.hint.load(Ordering::Relaxed);
        // The hinted segment, then the one after it (sequential reads).
        for cand in [h, h.wrapping_add(1)] {
            if cand > head && cand < n {
                let s = start_of(cand);
                if s <= pos && pos < start_of(cand + 1) {
                    if cand != h {
                        ix.hint.store(cand, Ordering::Relaxed);
                    }
                    return (cand - head, pos - s);
                }
            }
        }
        // Segments after the front one whose start is <= pos; pos is past
        // the front segment, so there is at least one.
        let after = ix.starts[head + 1..n].partition_point(|&s| s.wrapping_sub(base) <= pos);
        let i = head + after;
        ix.hint.store(i, Ordering::Relaxed);
        (after, pos - start_of(i))
    }

    /// Keeps the table in step with a segment appended at the back; call
    /// before `len` grows.
    #[inline]
    pub(crate) fn index_push(&mut self, seg_len: usize) {
        if let Some(ix) = self.index.get_mut() {
            ix.starts.push(ix.end);
            ix.end = ix.end.wrapping_add(seg_len);
        }
    }

    /// Keeps the table in step with a segment about to become the front
    /// one at absolute slot `slot`; call before `len` grows and after the
    /// slot exists in `segs`. `old_front` is the previous front segment's
    /// absolute slot, if any.
    #[inline]
    pub(crate) fn index_push_front(
        &mut self,
        slot: usize,
        old_front: Option<usize>,
        seg_len: usize,
    ) {
        let len = self.len;
        if let Some(ix) = self.index.get_mut() {
            let base = ix.end.wrapping_sub(len);
            if let Some(old) = old_front {
                ix.starts[old] = base;
            }
            ix.starts[slot] = base.wrapping_sub(seg_len);
        }
    }

    /// Drops the table (the segments are being replaced wholesale).
    #[inline]
    pub(crate) fn index_reset(&mut self) {
        self.index.take();
    }
}
