//! Slicing and splitting a [`CompositeBuf`] without copying: each costs
//! O(log segments) to find the cut (the offset table in `index.rs`) plus the
//! segments it moves.

use std::ops::RangeBounds;
use std::sync::OnceLock;

use smallvec::SmallVec;

use super::{checked_range, CompositeBuf};

impl CompositeBuf {
    /// Returns a buffer holding `range`, sharing memory with `self`.
    /// Nothing is copied; cost is O(segments in the range).
    ///
    /// # Panics
    ///
    /// Panics if the range does not lie inside `0..self.len()`. See
    /// [`try_slice`](Self::try_slice) for the fallible form.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"hello "), Bytes::from_static(b"world")].into_iter().collect();
    /// assert_eq!(buf.slice(4..8), &b"o wo"[..]);
    /// ```
    pub fn slice(&self, range: impl RangeBounds<usize>) -> CompositeBuf {
        match self.try_slice(range) {
            Ok(s) => s,
            Err(e) => crate::error::panic_with("CompositeBuf::slice", e),
        }
    }

    /// Like [`slice`](Self::slice), but returns an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`BufError::OutOfRange`](crate::BufError::OutOfRange) if the range does
    /// not lie inside the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = weft_buf::CompositeBuf::from(bytes::Bytes::from_static(b"abc"));
    /// assert!(buf.try_slice(1..3).is_ok());
    /// assert!(buf.try_slice(2..5).is_err());
    /// ```
    pub fn try_slice(
        &self,
        range: impl RangeBounds<usize>,
    ) -> Result<CompositeBuf, crate::BufError> {
        let (start, end) = checked_range(&range, self.len)?;
        Ok(self.slice_unchecked(start, end))
    }

    fn slice_unchecked(&self, start: usize, end: usize) -> CompositeBuf {
        let mut out = CompositeBuf::new();
        if start == end {
            return out;
        }
        // Start at the segment holding `start`: O(log n), not a walk.
        let (first, off) = self.locate(start);
        let mut pos = start - off;
        for seg in &self.segments()[first..] {
            let seg_end = pos + seg.len();
            if seg_end > start && pos < end {
                let from = start.saturating_sub(pos);
                let to = (end - pos).min(seg.len());
                if from == 0 && to == seg.len() {
                    out.push(seg.clone());
                } else {
                    out.push(seg.slice(from..to));
                }
            }
            if seg_end >= end {
                break;
            }
            pos = seg_end;
        }
        out
    }

    /// Splits the buffer in two at `at`: `self` keeps `[at, len)` and the
    /// returned buffer holds `[0, at)`. No payload byte is copied; at most
    /// one segment is split (reference counted, O(1)).
    ///
    /// # Panics
    ///
    /// Panics if `at > self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"abc"), Bytes::from_static(b"def")].into_iter().collect();
    /// let head = buf.split_to(4);
    /// assert_eq!(head, &b"abcd"[..]);
    /// assert_eq!(buf, &b"ef"[..]);
    /// ```
    pub fn split_to(&mut self, at: usize) -> CompositeBuf {
        assert!(
            at <= self.len,
            "split_to out of bounds: {at} > {}",
            self.len
        );
        // The common cut, a frame inside the first segment: split that
        // segment (O(1)) and leave the list and its offset table alone.
        if let Some(first) = self.segs.get_mut(self.head) {
            if at < first.len() {
                if at == 0 {
                    return CompositeBuf::new();
                }
                let mut segs = SmallVec::new();
                segs.push(first.split_to(at));
                self.len -= at;
                return CompositeBuf {
                    segs,
                    head: 0,
                    len: at,
                    index: OnceLock::new(),
                };
            }
        }
        let mut head = CompositeBuf::new();
        let mut need = at;
        let mut whole = 0;
        for seg in self.segments() {
            if seg.len() > need {
                break;
            }
            need -= seg.len();
            whole += 1;
            if need == 0 {
                break;
            }
        }
        let live = self.head;
        head.segs
            .extend(self.segs[live..live + whole].iter_mut().map(std::mem::take));
        self.head += whole;
        if need > 0 {
            // `need` < len of the next segment: `at` < self.len guarantees it exists.
            head.segs.push(self.segs[self.head].split_to(need));
        }
        head.len = at;
        self.len -= at;
        self.reset_if_drained();
        head
    }

    /// Splits the buffer in two at `at`: `self` keeps `[0, at)` and the
    /// returned buffer holds `[at, len)`. No payload byte is copied; cost is
    /// O(log segments) to find the cut plus O(segments after it).
    ///
    /// # Panics
    ///
    /// Panics if `at > self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"abc"), Bytes::from_static(b"def")].into_iter().collect();
    /// let tail = buf.split_off(2);
    /// assert_eq!(buf, &b"ab"[..]);
    /// assert_eq!(tail, &b"cdef"[..]);
    /// ```
    pub fn split_off(&mut self, at: usize) -> CompositeBuf {
        assert!(
            at <= self.len,
            "split_off out of bounds: {at} > {}",
            self.len
        );
        if at == self.len {
            return CompositeBuf::new();
        }
        if at == 0 {
            return std::mem::take(self);
        }
        // O(log n) to find the cut, then O(segments after it) to move them.
        let (mut i, off) = self.locate_abs(&self.segs, at);
        let mut tail = CompositeBuf::with_capacity(self.segs.len() - i);
        if off > 0 {
            // `off` lies inside segment `i`: both halves are non-empty.
            let rest = self.segs[i].split_off(off);
            tail.segs.push(rest);
            i += 1;
        }
        tail.segs.extend(self.segs.drain(i..));
        tail.len = self.len - at;
        self.len = at;
        if let Some(ix) = self.index.get_mut() {
            ix.starts.truncate(i);
            ix.end = ix.end.wrapping_sub(tail.len);
        }
        tail
    }

    /// Shortens the buffer to `len` bytes, dropping the rest. Does nothing if
    /// `len >= self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"abc"), Bytes::from_static(b"def")].into_iter().collect();
    /// buf.truncate(4);
    /// assert_eq!(buf, &b"abcd"[..]);
    /// assert_eq!(buf.segments().len(), 2);
    /// ```
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        drop(self.split_off(len));
    }
}
