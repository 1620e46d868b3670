//! The in-memory half of a flush: gathering segments into one `writev`.
//!
//! Segments shorter than the coalesce threshold that sit next to another
//! short one are copied into a small staging buffer and go out as one iovec
//! (a counted copy); the others go out as iovecs of their own, uncopied.
//! When the staging buffer is full the gather ends there: the next write
//! step coalesces the rest, so a writev never carries a run of tiny
//! iovecs (the kernel's per-iovec cost made that 4x slower than one copy).
//!
//! ```text
//!  queue:   [hdr 12B][len 4B][body 8 KiB][crlf 2B][trailer 40B][FileRegion ...]
//!  iovecs:  [ staging: hdr+len ][ body ][ staging: crlf+trailer ]   -> 1 writev
//! ```

use std::io::IoSlice;

use smallvec::SmallVec;
use weft_pipeline::Wire;

use std::io;
use std::os::fd::BorrowedFd;

use super::{Completion, OutboundBuffer, DEFAULT_GATHER_CAP, MIN_GATHER_CAP, STAGING};
use crate::stats::Counter;
use crate::sys::{self, FdKind, IOV_MAX};

/// iovecs a gather holds inline (on the stack) before it spills to the
/// heap. Most writes carry a handful; sizing the scratch to `IOV_MAX`
/// cost 40 KiB of stack initialised per write (15% of a pipelined RESP
/// server's instructions).
pub(crate) const INLINE_IOVS: usize = 32;

/// The iovecs of one gather, sized to the work.
pub(crate) type IoVecs<'a> = SmallVec<[IoSlice<'a>; INLINE_IOVS]>;

/// Bytes the staging buffer holds at most. A gather ends when the next
/// short segment would not fit: the write step after it goes on
/// coalescing, so short segments are never sent as runs of iovecs of
/// their own.
///
/// Set with `cargo bench -p weft-transport --bench coalesce` (sender CPU
/// per flush of 64 frames x 32 pieces, coalesced / iovecs): with 16 KiB,
/// coalescing 256 B pieces cost 1.17x the iovecs; with 64 KiB it ties
/// (0.99-1.09x), as with 256 KiB (0.94x). The buffer is per thread, not
/// per connection.
pub const STAGING_CAPACITY: usize = 64 * 1024;

/// What one gather produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gathered {
    /// iovecs filled.
    pub(crate) iovs: usize,
    /// Bytes they cover.
    pub(crate) bytes: usize,
    /// Bytes copied into the staging buffer.
    pub(crate) copied: usize,
    /// Every segment offered was taken whole (no cap or iovec limit hit).
    pub(crate) exhausted: bool,
}

/// Walks `segs` under the limits and calls `on(seg, take, staged, new_iov)`
/// for each piece taken. Both passes of [`gather`] use this one walk, so
/// they make the same decisions.
fn walk<'a, I>(
    segs: I,
    cap: usize,
    threshold: usize,
    mut on: impl FnMut(&'a [u8], usize, bool, bool),
) -> Gathered
where
    I: Iterator<Item = &'a [u8]>,
{
    let mut it = segs.filter(|s| !s.is_empty()).peekable();
    let mut g = Gathered::default();
    let mut staged = 0usize;
    let mut prev_staged = false;
    while let Some(seg) = it.next() {
        let room = cap.saturating_sub(g.bytes);
        if room == 0 {
            return g;
        }
        let take = seg.len().min(room);
        let small = seg.len() < threshold;
        let next_small = it.peek().is_some_and(|n| n.len() < threshold);
        let stage = small && (prev_staged || next_small);
        if stage && staged + take > STAGING_CAPACITY {
            // Staging is full (so this write already carries at least
            // STAGING_CAPACITY - threshold bytes): stop, the next write step
            // coalesces the rest.
            return g;
        }
        let new_iov = !(stage && prev_staged);
        if new_iov && g.iovs == IOV_MAX {
            return g;
        }
        on(seg, take, stage, new_iov);
        if new_iov {
            g.iovs += 1;
        }
        if stage {
            staged += take;
            g.copied += take;
        }
        prev_staged = stage;
        g.bytes += take;
        if take < seg.len() {
            return g;
        }
    }
    g.exhausted = true;
    g
}

/// Where one iovec of a gather points: a segment, or a run of the
/// staging buffer (resolved once the staging buffer stops growing).
#[derive(Clone, Copy)]
enum Slot<'a> {
    Direct(&'a [u8]),
    Staged(usize, usize),
}

/// Fills `iovs` (cleared first; as many entries as iovecs, no more) from
/// `segs`: at most [`IOV_MAX`] iovecs and `cap` bytes, short neighbours
/// copied into `staging`. One walk over the segments.
pub(crate) fn gather<'a, I>(
    segs: I,
    cap: usize,
    threshold: usize,
    staging: &'a mut Vec<u8>,
    iovs: &mut IoVecs<'a>,
) -> Gathered
where
    I: Iterator<Item = &'a [u8]>,
{
    staging.clear();
    staging.reserve(STAGING_CAPACITY);
    iovs.clear();
    let mut plan: SmallVec<[Slot<'a>; INLINE_IOVS]> = SmallVec::new();
    let g = walk(segs, cap, threshold, |seg, take, stage, new_iov| {
        let piece = seg.get(..take).unwrap_or_default();
        if stage {
            let start = staging.len();
            staging.extend_from_slice(piece);
            match plan.last_mut() {
                Some(Slot::Staged(_, end)) if !new_iov => *end = staging.len(),
                _ => plan.push(Slot::Staged(start, staging.len())),
            }
        } else {
            plan.push(Slot::Direct(piece));
        }
    });
    let staging: &'a Vec<u8> = staging;
    iovs.extend(plan.iter().map(|slot| match *slot {
        Slot::Direct(piece) => IoSlice::new(piece),
        Slot::Staged(a, b) => IoSlice::new(staging.get(a..b).unwrap_or_default()),
    }));
    g
}

/// The gathering half of [`OutboundBuffer::write_step`]: build the iovecs of
/// the flushed in-memory entries at the front and write them in one call.
impl<P: Completion> OutboundBuffer<P> {
    /// One `writev` (or `sendmsg` with `MSG_MORE` before a file region) of
    /// the in-memory entries at the front.
    pub(super) fn gather_step(&mut self, fd: BorrowedFd<'_>, sink: FdKind) -> io::Result<usize> {
        // The thread's staging buffer; a fresh one if it is gone (thread
        // exit) or in use, so this never panics.
        let shared = STAGING.try_with(|cell| {
            cell.try_borrow_mut()
                .ok()
                .map(|mut staging| self.gather_write(fd, sink, &mut staging))
        });
        let (attempted, n) = match shared {
            Ok(Some(r)) => r?,
            _ => self.gather_write(fd, sink, &mut Vec::new())?,
        };
        self.adapt_gather_cap(attempted, n);
        Ok(n)
    }

    /// The body of [`gather_step`](Self::gather_step), given the thread's
    /// staging buffer; returns (bytes offered, bytes written).
    pub(super) fn gather_write(
        &self,
        fd: BorrowedFd<'_>,
        sink: FdKind,
        staging: &mut Vec<u8>,
    ) -> io::Result<(usize, usize)> {
        let flushed = self.flushed;
        let segs = self
            .queue
            .iter()
            .take(flushed)
            .map_while(|e| match &e.payload {
                Wire::Bytes(b) => Some(std::slice::from_ref(b)),
                Wire::Composite(c) => Some(c.segments()),
                Wire::File(..) => None,
            })
            .flatten()
            .map(|b| &b[..]);
        let mut iovs = IoVecs::new();
        let g = gather(
            segs,
            self.gather_cap,
            self.coalesce_threshold,
            staging,
            &mut iovs,
        );
        if g.copied > 0 {
            self.stats.record_copy(g.copied);
        }
        // Hold the bytes back (MSG_MORE) only when a non-empty file region
        // follows at once: it will push them out with its first packet.
        let before_file = g.exhausted
            && sink == FdKind::Socket
            && self
                .queue
                .iter()
                .take(flushed)
                .find(|e| matches!(e.payload, Wire::File(..)))
                .is_some_and(|e| !e.payload.is_empty());
        let iovs = &iovs[..];
        self.stats.add(Counter::WritevIovecs, g.iovs as u64);
        let n = if before_file {
            self.stats.add(Counter::SendmsgCalls, 1);
            sys::sendmsg(fd, iovs, true)?
        } else {
            self.stats.add(Counter::WritevCalls, 1);
            sys::writev(fd, iovs)?
        };
        if n == 0 && g.bytes > 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "writev accepted no bytes",
            ));
        }
        self.stats.add(Counter::WritevBytes, n as u64);
        if n < g.bytes {
            self.stats.add(Counter::PartialWrites, 1);
        }
        Ok((g.bytes, n))
    }

    /// The most one gathering write may offer: the write chunk, or
    /// [`DEFAULT_GATHER_CAP`] if that is larger (a `writev` copies, at
    /// several GB/s, so it may take more than a `sendfile` in the same time).
    pub(super) fn max_gather(&self) -> usize {
        self.max_chunk.max(DEFAULT_GATHER_CAP)
    }

    /// Netty's `maxBytesPerGatheringWrite`: double after a complete write
    /// that used most of the cap, halve after one that wrote less than
    /// half, never below [`MIN_GATHER_CAP`].
    pub(super) fn adapt_gather_cap(&mut self, attempted: usize, written: usize) {
        if written == attempted {
            if attempted.saturating_mul(2) > self.gather_cap {
                self.gather_cap = self.gather_cap.saturating_mul(2).min(self.max_gather());
            }
        } else if written < attempted / 2 {
            self.gather_cap = (self.gather_cap / 2).max(MIN_GATHER_CAP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segs: &[&[u8]], cap: usize, threshold: usize) -> (Gathered, Vec<Vec<u8>>) {
        let mut staging = Vec::new();
        let mut iovs = IoVecs::new();
        let g = gather(
            segs.iter().copied(),
            cap,
            threshold,
            &mut staging,
            &mut iovs,
        );
        // The scratch holds exactly the iovecs filled, inline while few.
        assert_eq!(iovs.len(), g.iovs);
        assert_eq!(iovs.spilled(), g.iovs > INLINE_IOVS);
        let out = iovs.iter().map(|s| s.to_vec()).collect();
        (g, out)
    }

    #[test]
    fn short_neighbours_share_one_staged_iovec() {
        let body = vec![7u8; 2048];
        let (g, out) = run(&[b"ab", b"cd", &body, b"ef", b"gh"], usize::MAX, 256);
        assert_eq!(g.iovs, 3);
        assert_eq!(g.copied, 8);
        assert!(g.exhausted);
        assert_eq!(out[0], b"abcd");
        assert_eq!(out[1], body);
        assert_eq!(out[2], b"efgh");
    }

    #[test]
    fn a_lone_short_segment_is_not_copied() {
        let body = vec![1u8; 4096];
        let (g, out) = run(&[b"hdr", &body], usize::MAX, 256);
        assert_eq!((g.iovs, g.copied), (2, 0));
        assert_eq!(out[0], b"hdr");
    }

    #[test]
    fn segments_of_one_kib_are_never_copied() {
        let a = vec![1u8; 1024];
        let (g, _) = run(&[&a, &a, &a], usize::MAX, 1024);
        assert_eq!((g.iovs, g.copied), (3, 0));
    }

    #[test]
    fn cap_cuts_the_last_segment() {
        let a = vec![1u8; 3000];
        let (g, out) = run(&[&a, &a], 4096, 256);
        assert_eq!((g.iovs, g.bytes), (2, 4096));
        assert_eq!(out[1].len(), 1096);
        assert!(!g.exhausted);
    }

    #[test]
    fn at_most_iov_max_iovecs() {
        let a = vec![1u8; 2000];
        let segs: Vec<&[u8]> = (0..1500).map(|_| &a[..]).collect();
        let (g, _) = run(&segs, usize::MAX, 256);
        assert_eq!(g.iovs, IOV_MAX);
        assert_eq!(g.bytes, IOV_MAX * 2000);
    }
}
