//! `bytes::Buf` for [`CompositeBuf`]: reading through the segments.
//!
//! Consumed segments are replaced by empty placeholders and skipped with an
//! index, so reading through a buffer of N segments is O(N) in total, never
//! O(N²) from shifting the segment list.

use bytes::{Buf, Bytes};

use super::CompositeBuf;

/// Overrides `Buf`'s integer reads: a read that lies inside the first
/// segment (and leaves it non-empty) is one `Bytes` read; only a read that
/// straddles a boundary takes the byte-by-byte path.
macro_rules! fast_reads {
    ($($name:ident, $ty:ty, $from:ident;)*) => {
        $(
            #[inline]
            fn $name(&mut self) -> $ty {
                const N: usize = std::mem::size_of::<$ty>();
                if let Some(first) = self.segs.get_mut(self.head) {
                    if first.len() > N {
                        self.len -= N;
                        return first.$name();
                    }
                }
                let mut raw = [0u8; N];
                self.copy_to_slice(&mut raw);
                <$ty>::$from(raw)
            }
        )*
    };
}

impl CompositeBuf {
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
        get_u16, u16, from_be_bytes;
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
