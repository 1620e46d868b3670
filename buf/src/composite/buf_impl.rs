//! `bytes::Buf` for [`CompositeBuf`]: reading through the segments.
//!
//! Consumed segments are replaced by empty placeholders and skipped with an
//! index, so reading through a buffer of N segments is O(N) in total, never
//! O(N²) from shifting the segment list.

use bytes::{Buf, Bytes};

use super::CompositeBuf;

/// Overrides `Buf`'s integer reads: a value inside the first segment is
/// read straight from it (then the segment is advanced, or dropped when
/// used up); a value that straddles a boundary takes
/// [`CompositeBuf::take_straddling`], a fixed-size two-segment copy.
macro_rules! fast_reads {
    ($($name:ident, $ty:ty, $from:ident;)*) => {
        $(
            #[inline(always)]
            fn $name(&mut self) -> $ty {
                const N: usize = std::mem::size_of::<$ty>();
                if let Some(first) = self.segs.get_mut(self.head) {
                    if first.len() > N {
                        if let Some(raw) = first.first_chunk::<N>() {
                            let v = <$ty>::$from(*raw);
                            first.advance(N);
                            self.len -= N;
                            return v;
                        }
                    }
                }
                <$ty>::$from(self.take_slow::<N>())
            }
        )*
    };
}

impl CompositeBuf {
    /// Drops the front segment, which the caller has read to its end.
    #[inline]
    fn drop_front(&mut self) {
        let seg = std::mem::take(&mut self.segs[self.head]);
        self.len -= seg.len();
        self.head += 1;
        self.reset_if_drained();
    }

    /// The rest of an integer read: the value ends the front segment
    /// exactly (read it, drop the segment) or straddles a boundary. Out of
    /// line, so the inlined fast path stays a handful of instructions.
    #[inline(never)]
    fn take_slow<const N: usize>(&mut self) -> [u8; N] {
        if let Some(raw) = self.segs.get(self.head).and_then(|s| s.first_chunk::<N>()) {
            let raw = *raw;
            self.drop_front();
            return raw;
        }
        self.take_straddling::<N>()
    }

    /// Reads and consumes `N` bytes that do not all lie in the front
    /// segment. When they span exactly two segments (the common case) this
    /// is two fixed-size copies and no loop; more segments take the general
    /// `Buf::copy_to_slice` path.
    ///
    /// # Panics
    ///
    /// Panics if fewer than `N` bytes remain, as `Buf::get_u32` does.
    #[inline]
    fn take_straddling<const N: usize>(&mut self) -> [u8; N] {
        assert!(N <= self.len, "read past `remaining`: {N} > {}", self.len);
        let mut out = [0u8; N];
        // `N <= len` and the front segment holds fewer than N bytes, so a
        // second segment exists.
        let k = self.segs[self.head].len();
        let want = N - k;
        if self
            .segs
            .get(self.head + 1)
            .is_some_and(|s| s.len() >= want)
        {
            let (first, second) = (&self.segs[self.head], &self.segs[self.head + 1]);
            out = super::read::gather(first, second, k);
            self.drop_front();
            if self.segs[self.head].len() > want {
                self.segs[self.head].advance(want);
                self.len -= want;
            } else {
                self.drop_front();
            }
        } else {
            out[..k].copy_from_slice(&self.segs[self.head]);
            self.drop_front();
            self.copy_to_slice(&mut out[k..]);
        }
        out
    }

    /// `advance` when it consumes at least the first segment.
    fn advance_across(&mut self, cnt: usize) {
        assert!(
            cnt <= self.len,
            "cannot advance past `remaining`: {cnt} > {}",
            self.len
        );
        let mut left = cnt;
        while left > 0 {
            let seg = &mut self.segs[self.head];
            if seg.len() > left {
                seg.advance(left);
                break;
            }
            left -= seg.len();
            // Drops this view of the segment now; the slot is reused later.
            *seg = Bytes::new();
            self.head += 1;
        }
        self.len -= cnt;
        self.reset_if_drained();
    }
}

impl Buf for CompositeBuf {
    #[inline]
    fn remaining(&self) -> usize {
        self.len
    }

    #[inline]
    fn chunk(&self) -> &[u8] {
        self.segs.get(self.head).map_or(&[], |s| &s[..])
    }

    #[inline]
    fn advance(&mut self, cnt: usize) {
        if let Some(first) = self.segs.get_mut(self.head) {
            if cnt < first.len() {
                first.advance(cnt);
                self.len -= cnt;
                return;
            }
        }
        self.advance_across(cnt);
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        let live = self.segments();
        let n = dst.len().min(live.len());
        for (slot, seg) in dst.iter_mut().zip(live) {
            *slot = std::io::IoSlice::new(seg);
        }
        n
    }

    fast_reads! {
        get_u8, u8, from_be_bytes;
        get_i8, i8, from_be_bytes;
        get_u16, u16, from_be_bytes;
        get_i16_le, i16, from_le_bytes;
        get_i32_le, i32, from_le_bytes;
        get_i64_le, i64, from_le_bytes;
        get_u16_le, u16, from_le_bytes;
        get_i16, i16, from_be_bytes;
        get_u32, u32, from_be_bytes;
        get_u32_le, u32, from_le_bytes;
        get_i32, i32, from_be_bytes;
        get_u64, u64, from_be_bytes;
        get_u64_le, u64, from_le_bytes;
        get_i64, i64, from_be_bytes;
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        assert!(
            len <= self.len,
            "copy_to_bytes out of bounds: {len} > {}",
            self.len
        );
        match self.segs.get_mut(self.head) {
            Some(first) if first.len() >= len => {
                let out = first.split_to(len);
                if first.is_empty() {
                    self.head += 1;
                    self.reset_if_drained();
                }
                self.len -= len;
                out
            }
            _ => self.split_to(len).to_bytes(),
        }
    }
}
