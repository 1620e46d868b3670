//! Non-advancing reads at an index, across segment boundaries.

use bytes::Bytes;

use super::CompositeBuf;
use crate::BufError;

macro_rules! int_reads {
    ($($ty:ident, $get:ident, $try_get:ident, $from:ident, $order:literal;)*) => {
        $(
            #[doc = concat!("Reads a ", $order, " `", stringify!($ty), "` at `index` without advancing.")]
            ///
            /// The value may straddle any number of segment boundaries. Finding
            /// the segment is O(1) for an index in the first segment or near
            /// the last one read, O(log segments) otherwise; a value spanning
            /// two segments is two fixed-size copies.
            ///
            /// # Panics
            ///
            /// Panics if the buffer holds fewer than
            #[doc = concat!("`size_of::<", stringify!($ty), ">()`")]
            /// bytes from `index` on. See the `try_` form.
            ///
            /// # Examples
            ///
            /// ```
            /// use bytes::Bytes;
            /// let buf: weft_buf::CompositeBuf =
            ///     [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4, 5, 6, 7, 8, 9, 10])]
            ///         .into_iter()
            ///         .collect();
            #[doc = concat!("let v = buf.", stringify!($get), "(1);")]
            #[doc = concat!("let mut raw = [0u8; std::mem::size_of::<", stringify!($ty), ">()];")]
            /// let n = raw.len();
            /// raw.copy_from_slice(&[2, 3, 4, 5, 6, 7, 8, 9][..n]);
            #[doc = concat!("assert_eq!(v, ", stringify!($ty), "::", stringify!($from), "(raw));")]
            /// ```
            #[inline]
            pub fn $get(&self, index: usize) -> $ty {
                match self.$try_get(index) {
                    Ok(v) => v,
                    Err(e) => crate::error::panic_with(concat!("CompositeBuf::", stringify!($get)), e),
                }
            }

            #[doc = concat!("Reads a ", $order, " `", stringify!($ty), "` at `index`, or says why it cannot.")]
            ///
            /// # Errors
            ///
            /// [`BufError::Underflow`] with the bytes requested and the bytes
            /// available from `index` on.
            ///
            /// # Examples
            ///
            /// ```
            /// let buf = weft_buf::CompositeBuf::from(bytes::Bytes::from_static(&[1]));
            #[doc = concat!("assert!(buf.", stringify!($try_get), "(1).is_err());")]
            /// ```
            #[inline(always)]
            pub fn $try_get(&self, index: usize) -> Result<$ty, BufError> {
                Ok($ty::$from(self.read_array(index)?))
            }
        )*
    };
}

impl CompositeBuf {
    int_reads! {
        u8, get_u8_at, try_get_u8_at, from_be_bytes, "";
        u16, get_u16_at, try_get_u16_at, from_be_bytes, "big-endian";
        u16, get_u16_le_at, try_get_u16_le_at, from_le_bytes, "little-endian";
        u32, get_u32_at, try_get_u32_at, from_be_bytes, "big-endian";
        u32, get_u32_le_at, try_get_u32_le_at, from_le_bytes, "little-endian";
        u64, get_u64_at, try_get_u64_at, from_be_bytes, "big-endian";
        u64, get_u64_le_at, try_get_u64_le_at, from_le_bytes, "little-endian";
        i16, get_i16_at, try_get_i16_at, from_be_bytes, "big-endian";
        i32, get_i32_at, try_get_i32_at, from_be_bytes, "big-endian";
        i64, get_i64_at, try_get_i64_at, from_be_bytes, "big-endian";
    }

    /// Reads an unsigned big-endian integer of `nbytes` (1 to 8) bytes at
    /// `index`, as length fields of odd widths (3 bytes) need.
    ///
    /// # Errors
    ///
    /// [`BufError::Underflow`] if fewer than `nbytes` bytes follow `index`;
    /// [`BufError::OutOfRange`] if `nbytes` is not in `1..=8`.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = weft_buf::CompositeBuf::from(bytes::Bytes::from_static(&[0, 1, 2, 3]));
    /// assert_eq!(buf.try_get_uint_at(1, 3).unwrap(), 0x010203);
    /// assert_eq!(buf.try_get_uint_le_at(1, 3).unwrap(), 0x030201);
    /// ```
    pub fn try_get_uint_at(&self, index: usize, nbytes: usize) -> Result<u64, BufError> {
        let raw = self.uint_raw(index, nbytes)?;
        Ok(raw[..nbytes]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Little-endian form of [`try_get_uint_at`](Self::try_get_uint_at).
    ///
    /// # Errors
    ///
    /// As [`try_get_uint_at`](Self::try_get_uint_at).
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = weft_buf::CompositeBuf::from(bytes::Bytes::from_static(&[1, 2]));
    /// assert_eq!(buf.try_get_uint_le_at(0, 2).unwrap(), 0x0201);
    /// ```
    pub fn try_get_uint_le_at(&self, index: usize, nbytes: usize) -> Result<u64, BufError> {
        let raw = self.uint_raw(index, nbytes)?;
        Ok(raw[..nbytes]
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Reads `N` bytes at `index`: one fixed-size read when they lie in
    /// one segment, two copies when they span exactly two, the general
    /// loop otherwise.
    #[inline]
    fn read_array<const N: usize>(&self, index: usize) -> Result<[u8; N], BufError> {
        let available = self.len().saturating_sub(index);
        if N > available {
            return Err(BufError::Underflow {
                requested: N,
                available,
            });
        }
        // Inside the front segment: no lookup at all.
        let front = self.segments().first().map_or(&[][..], |s| &s[..]);
        if let Some(raw) = front.get(index..).and_then(|s| s.first_chunk::<N>()) {
            return Ok(*raw);
        }
        Ok(self.read_array_past_front(index))
    }

    /// `read_array` when the value does not lie inside the front segment;
    /// the caller has checked that `N` bytes follow `index`. `index` may
    /// still lie in the front segment (a value that straddles its end):
    /// the lookup then lands on the front segment through the table.
    #[inline(never)]
    fn read_array_past_front<const N: usize>(&self, index: usize) -> [u8; N] {
        let all: &[Bytes] = &self.segs;
        let (i, off) = self.locate_past_front(all, index);
        // `index < len`, so `locate` found a live segment and `off` lies in it.
        let here = all
            .get(i)
            .map_or(&[][..], |s| s.get(off..).unwrap_or_default());
        if let Some(raw) = here.first_chunk::<N>() {
            return *raw;
        }
        // Two whole-word loads when both segments hold at least N bytes.
        let tail = all.get(i).and_then(|s| s.last_chunk::<N>());
        let head = all.get(i + 1).and_then(|s| s.first_chunk::<N>());
        if let (Some(tail), Some(head)) = (tail, head) {
            return join_words(tail, head, here.len());
        }
        read_straddling(here, all.get(i + 1..).unwrap_or_default())
    }

    fn uint_raw(&self, index: usize, nbytes: usize) -> Result<[u8; 8], BufError> {
        if !(1..=8).contains(&nbytes) {
            return Err(BufError::OutOfRange {
                start: nbytes as u64,
                end: nbytes as u64,
                len: 8,
            });
        }
        let mut raw = [0u8; 8];
        self.try_copy_out(index, &mut raw[..nbytes])?;
        Ok(raw)
    }

    /// Copies `dst.len()` bytes starting at `index` into `dst` without
    /// advancing. This is a read into the caller's scratch space, not a
    /// payload copy, so it is not counted.
    ///
    /// # Errors
    ///
    /// [`BufError::Underflow`] if fewer than `dst.len()` bytes follow `index`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")].into_iter().collect();
    /// let mut out = [0u8; 3];
    /// buf.try_copy_out(1, &mut out).unwrap();
    /// assert_eq!(&out, b"bcd");
    /// ```
    pub fn try_copy_out(&self, index: usize, dst: &mut [u8]) -> Result<(), BufError> {
        let available = self.len().saturating_sub(index);
        if dst.len() > available {
            return Err(BufError::Underflow {
                requested: dst.len(),
                available,
            });
        }
        let mut filled = 0;
        for piece in self.pieces_from(index) {
            if filled == dst.len() {
                break;
            }
            let n = piece.len().min(dst.len() - filled);
            dst[filled..filled + n].copy_from_slice(&piece[..n]);
            filled += n;
        }
        Ok(())
    }
}

/// The value whose first `k` bytes (`0 < k < N <= 8`) are the last `k` of
/// `tail` and whose other `N - k` are the first of `head`: two word loads
/// and two shifts. Assembling it byte by byte through memory would stall
/// on store forwarding (four byte stores, then one four-byte load).
#[inline(always)]
pub(crate) fn join_words<const N: usize>(tail: &[u8; N], head: &[u8; N], k: usize) -> [u8; N] {
    const { assert!(N <= 8) };
    let word = |b: &[u8; N]| {
        let mut w = [0u8; 8];
        w[..N].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    // In little-endian order byte j of the result is bit 8j: the tail's
    // last k bytes move down to 0..k, the head's first N-k bytes up to k..N.
    let lo = word(tail).checked_shr(8 * (N - k) as u32).unwrap_or(0);
    let hi = word(head).checked_shl(8 * k as u32).unwrap_or(0);
    let bytes = (lo | hi).to_le_bytes();
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// The `N` bytes (`N <= 8`) made of `first[..k]` then `second[..N - k]`,
/// which the caller has checked exist; assembled in a register, byte by
/// byte, for segments too short for [`join_words`].
#[inline(always)]
pub(crate) fn gather<const N: usize>(first: &[u8], second: &[u8], k: usize) -> [u8; N] {
    const { assert!(N <= 8) };
    let mut v = 0u64;
    for j in 0..N {
        let b = if j < k {
            first.get(j)
        } else {
            second.get(j - k)
        };
        v |= u64::from(b.copied().unwrap_or(0)) << (8 * j);
    }
    let bytes = v.to_le_bytes();
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// `N` bytes that begin in `here` (shorter than `N`) and continue in
/// `rest`, which the caller has checked holds enough of them.
#[inline]
fn read_straddling<const N: usize>(here: &[u8], rest: &[Bytes]) -> [u8; N] {
    let mut out = [0u8; N];
    let k = here.len();
    let want = N.saturating_sub(k);
    match rest.first() {
        Some(next) if next.len() >= want && k < N => {
            out = gather(here, next, k);
        }
        _ => {
            out[..k.min(N)].copy_from_slice(&here[..k.min(N)]);
            let mut filled = k.min(N);
            for seg in rest {
                let n = seg.len().min(N - filled);
                out[filled..filled + n].copy_from_slice(&seg[..n]);
                filled += n;
                if filled == N {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn u64_across_five_segments() {
        let b: CompositeBuf = [&[1u8, 2][..], &[3], &[4, 5], &[6], &[7, 8, 9]]
            .iter()
            .map(|s| Bytes::copy_from_slice(s))
            .collect();
        assert_eq!(b.get_u64_at(0), 0x0102030405060708);
        assert_eq!(b.get_u64_le_at(1), 0x0908070605040302);
        assert_eq!(b.get_u16_at(1), 0x0203);
        assert_eq!(b.get_u8_at(8), 9);
    }

    #[test]
    fn underflow_names_requested_and_available() {
        let b = CompositeBuf::from(Bytes::from_static(&[0; 6]));
        match b.try_get_u64_at(2) {
            Err(BufError::Underflow {
                requested: 8,
                available: 4,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(b.try_get_u8_at(usize::MAX).is_err());
        assert!(b.try_get_uint_at(0, 9).is_err());
        assert!(b.try_get_uint_at(0, 0).is_err());
    }
}
