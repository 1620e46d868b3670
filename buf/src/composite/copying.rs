//! The only `CompositeBuf` operations that copy payload bytes, each one
//! explicit and counted: consolidation and copy-on-write.

use std::ops::RangeBounds;

use bytes::{Bytes, BytesMut};

use super::{checked_range, CompositeBuf};
use crate::copy::record_copy;

impl CompositeBuf {
    /// Returns the contents as one contiguous [`Bytes`].
    ///
    /// Free (a reference count) for zero or one segment. With more segments
    /// this copies all bytes into a new buffer, and the copy is counted by
    /// [`crate::measure_copies`]. The buffer itself is left as it was;
    /// consolidation only ever happens when you ask for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_buf::{measure_copies, CompositeBuf};
    ///
    /// let one = CompositeBuf::from(Bytes::from_static(b"abc"));
    /// assert_eq!(measure_copies(|| one.to_bytes()).1, 0);
    ///
    /// let two: CompositeBuf =
    ///     [Bytes::from_static(b"ab"), Bytes::from_static(b"c")].into_iter().collect();
    /// let (flat, copied) = measure_copies(|| two.to_bytes());
    /// assert_eq!(flat, &b"abc"[..]);
    /// assert_eq!(copied, 3);
    /// ```
    pub fn to_bytes(&self) -> Bytes {
        match self.segments() {
            [] => Bytes::new(),
            [one] => one.clone(),
            segs => {
                let mut out = BytesMut::with_capacity(self.len);
                for seg in segs {
                    out.extend_from_slice(seg);
                }
                record_copy(self.len);
                out.freeze()
            }
        }
    }

    /// Like [`to_bytes`](Self::to_bytes), but also replaces the segments with
    /// the one consolidated segment, so later reads see a contiguous buffer.
    /// The copy (if any) is counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"ab"), Bytes::from_static(b"c")].into_iter().collect();
    /// let flat = buf.consolidate();
    /// assert_eq!(buf.segments().len(), 1);
    /// assert_eq!(flat, &b"abc"[..]);
    /// ```
    pub fn consolidate(&mut self) -> Bytes {
        let flat = self.to_bytes();
        self.clear();
        self.push(flat.clone());
        flat
    }

    /// Gives mutable access to the bytes in `range`, copying on write.
    ///
    /// `f` is called once for each piece of the range that lies in one
    /// segment, in order. A segment the range touches is made writable first:
    /// free when this buffer holds the only reference to its memory
    /// (`Bytes::try_into_mut`), otherwise that whole segment, and only that
    /// segment, is copied, and the copy is counted. Segments outside the range
    /// are never copied, and other views of shared memory never see the write.
    ///
    /// # Panics
    ///
    /// Panics if the range does not lie inside `0..self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_buf::{measure_copies, CompositeBuf};
    ///
    /// let shared = Bytes::from_static(b"hello");
    /// let mut buf: CompositeBuf =
    ///     [shared.clone(), Bytes::from(b" world".to_vec())].into_iter().collect();
    /// let ((), copied) = measure_copies(|| buf.modify(0..1, |piece| piece[0] = b'j'));
    /// assert_eq!(buf, &b"jello world"[..]);
    /// assert_eq!(shared, &b"hello"[..]); // the other view is untouched
    /// assert_eq!(copied, 5); // only the shared segment was copied
    /// ```
    pub fn modify(&mut self, range: impl RangeBounds<usize>, mut f: impl FnMut(&mut [u8])) {
        let (start, end) = match checked_range(&range, self.len) {
            Ok(r) => r,
            Err(e) => crate::error::panic_with("CompositeBuf::modify", e),
        };
        if start == end {
            // No byte to write: touching (and copying) a segment would be waste.
            return;
        }
        let mut pos = 0;
        let live = self.head;
        for seg in self.segs[live..].iter_mut() {
            let seg_end = pos + seg.len();
            if seg_end > start && pos < end {
                let from = start.saturating_sub(pos);
                let to = (end - pos).min(seg.len());
                let mut owned = match std::mem::take(seg).try_into_mut() {
                    Ok(m) => m,
                    Err(shared) => {
                        record_copy(shared.len());
                        BytesMut::from(&shared[..])
                    }
                };
                f(&mut owned[from..to]);
                *seg = owned.freeze();
            }
            if seg_end >= end {
                break;
            }
            pos = seg_end;
        }
    }
}
