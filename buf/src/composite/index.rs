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

use bytes::Bytes;
use smallvec::SmallVec;

use super::CompositeBuf;

/// Up to this many live segments, finding an index is a linear scan and no
/// table is built.
pub(crate) const LINEAR_SEGMENTS: usize = 8;

/// From this many segments on, `push_front` on a list with no free front
/// slot makes room (see [`CompositeBuf::make_front_room`]) instead of
/// shifting the list by one.
pub(crate) const FRONT_ROOM_MIN: usize = 8;

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
    /// Builds the table (first indexed read on a long buffer).
    #[cold]
    #[inline(never)]
    fn build_index(&self) -> &Index {
        self.index.get_or_init(|| {
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
        })
    }

    /// Finds the segment holding byte `pos` and the offset inside it; the
    /// segment number counts from the first live segment. `pos` must be
    /// `< self.len`. O(1) on a hint hit (the same or the next segment as the
    /// last lookup), O(log segments) otherwise, O(segments) below
    /// [`LINEAR_SEGMENTS`].
    #[inline]
    pub(crate) fn locate(&self, pos: usize) -> (usize, usize) {
        let (i, off) = self.locate_abs(&self.segs, pos);
        (i - self.head, off)
    }

    /// [`locate`](Self::locate) with the segment number counted in `all`
    /// (`self.segs` as a slice, taken once by the caller).
    #[inline]
    pub(crate) fn locate_abs(&self, all: &[Bytes], pos: usize) -> (usize, usize) {
        // The front segment needs no table.
        let front = all.get(self.head).map_or(0, Bytes::len);
        if pos < front {
            return (self.head, pos);
        }
        self.locate_past_front(all, pos)
    }

    /// [`locate_abs`](Self::locate_abs) for a byte the caller knows lies
    /// past the front segment.
    #[inline]
    pub(crate) fn locate_past_front(&self, all: &[Bytes], pos: usize) -> (usize, usize) {
        let head = self.head;
        if let Some(ix) = self.index.get() {
            let base = ix.end.wrapping_sub(self.len);
            let h = ix.hint.load(Ordering::Relaxed);
            // The hinted segment, then the one after it (sequential reads).
            // `h > head`: the front segment's entry is not kept up to date.
            if let (true, Some(&start), Some(seg)) = (h > head, ix.starts.get(h), all.get(h)) {
                let off = pos.wrapping_sub(start.wrapping_sub(base));
                if off < seg.len() {
                    return (h, off);
                }
                let off = off.wrapping_sub(seg.len());
                if all.get(h + 1).is_some_and(|next| off < next.len()) {
                    ix.hint.store(h + 1, Ordering::Relaxed);
                    return (h + 1, off);
                }
            }
            return self.locate_search(ix, all, pos, base);
        }
        self.locate_unindexed(all, pos)
    }

    /// Binary search over the segments after the front one.
    #[inline(never)]
    fn locate_search(&self, ix: &Index, all: &[Bytes], pos: usize, base: usize) -> (usize, usize) {
        let head = self.head;
        // Segments after the front one whose start is <= pos (none if
        // `pos` lies in the front segment).
        let starts = ix.starts.get(head + 1..all.len()).unwrap_or_default();
        let i = head + starts.partition_point(|&s| s.wrapping_sub(base) <= pos);
        ix.hint.store(i, Ordering::Relaxed);
        // The front segment's entry is not kept: it starts at 0.
        let start = match i == head {
            true => 0,
            false => ix.starts.get(i).map_or(0, |s| s.wrapping_sub(base)),
        };
        (i, pos - start)
    }

    /// No table yet: scan a short list, or build the table for a long one.
    #[inline(never)]
    fn locate_unindexed(&self, all: &[Bytes], pos: usize) -> (usize, usize) {
        let live = all.get(self.head..).unwrap_or_default();
        if live.len() > LINEAR_SEGMENTS {
            let ix = self.build_index();
            return self.locate_search(ix, all, pos, ix.end.wrapping_sub(self.len));
        }
        let mut base = 0;
        for (i, seg) in live.iter().enumerate() {
            if pos < base + seg.len() {
                return (self.head + i, pos - base);
            }
            base += seg.len();
        }
        (all.len(), 0)
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

    /// Puts as many free slots before the live segments as there are
    /// segments, so the next `push_front`s fill them in O(1). O(segments),
    /// once per doubling, like a `VecDeque` growing.
    pub(crate) fn make_front_room(&mut self) {
        let live = self.segs.len() - self.head;
        let room = live.max(FRONT_ROOM_MIN);
        let mut segs = SmallVec::with_capacity(room + 2 * live);
        segs.extend(std::iter::repeat_with(Bytes::new).take(room));
        segs.extend(self.segs.drain(self.head..));
        self.segs = segs;
        let shift = room.wrapping_sub(self.head);
        if let Some(ix) = self.index.get_mut() {
            let mut starts = Vec::with_capacity(room + 2 * live);
            starts.resize(room, 0);
            starts.extend_from_slice(ix.starts.get(self.head..).unwrap_or_default());
            ix.starts = starts;
            let h = ix.hint.get_mut();
            *h = h.wrapping_add(shift);
        }
        self.head = room;
    }

    /// Drops the table (the segments are being replaced wholesale).
    #[inline]
    pub(crate) fn index_reset(&mut self) {
        self.index.take();
    }
}
