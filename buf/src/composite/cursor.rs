//! [`Cursor`]: a borrowed, non-consuming `Buf` cursor over a
//! [`CompositeBuf`].

use std::io::IoSlice;

use bytes::{Buf, Bytes};

use super::CompositeBuf;

/// A cursor that reads a [`CompositeBuf`] through [`bytes::Buf`] without
/// consuming it: made by [`CompositeBuf::cursor`].
///
/// Reading through a `CompositeBuf` itself drops each segment as it is
/// passed (a reference-count decrement per segment). A `Cursor` borrows the
/// segments instead and keeps the current one as a plain slice, so a read
/// inside a segment costs what it costs on a `&[u8]`; only a read that
/// straddles a boundary takes the slower byte-by-byte path. Use it to parse
/// a header before deciding how much to [`split_to`](CompositeBuf::split_to).
///
/// [`copy_to_bytes`](Buf::copy_to_bytes) is free inside one segment (a
/// `Bytes` slice) and a counted copy across segments, as on `CompositeBuf`.
///
/// # Examples
///
/// ```
/// use bytes::{Buf, Bytes};
/// use weft_buf::CompositeBuf;
///
/// let frame: CompositeBuf =
///     [Bytes::from_static(&[0, 0]), Bytes::from_static(&[0, 5, b'h', b'i'])]
///         .into_iter()
///         .collect();
/// let mut r = frame.cursor();
/// assert_eq!(r.get_u32(), 5); // straddles the boundary
/// assert_eq!(r.position(), 4);
/// assert_eq!(r.copy_to_bytes(2), &b"hi"[..]);
/// assert_eq!(frame.len(), 6); // the buffer itself is untouched
/// ```
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    /// Unread part of the current segment; empty only when nothing is left.
    cur: &'a [u8],
    /// The current segment (for zero-copy `copy_to_bytes`).
    seg: Option<&'a Bytes>,
    /// Segments after the current one.
    rest: &'a [Bytes],
    /// Bytes in `rest`; `remaining() = cur.len() + rest_len`, so a read
    /// inside the current segment updates `cur` only, as on a `&[u8]`.
    rest_len: usize,
    total: usize,
}

impl CompositeBuf {
    /// A [`Cursor`] positioned at the start of the buffer. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::{Buf, Bytes};
    /// let buf = weft_buf::CompositeBuf::from(Bytes::from_static(&[1, 2, 3]));
    /// let mut r = buf.cursor();
    /// assert_eq!(r.get_u16(), 0x0102);
    /// assert_eq!(r.remaining(), 1);
    /// ```
    pub fn cursor(&self) -> Cursor<'_> {
        let segs = self.segments();
        let (seg, rest) = match segs.split_first() {
            Some((first, rest)) => (Some(first), rest),
            None => (None, segs),
        };
        let cur: &[u8] = seg.map_or(&[], |s| &s[..]);
        Cursor {
            cur,
            seg,
            rest,
            rest_len: self.len() - cur.len(),
            total: self.len(),
        }
    }
}

impl Cursor<'_> {
    /// Bytes read (or skipped) so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::{Buf, Bytes};
    /// let buf = weft_buf::CompositeBuf::from(Bytes::from_static(b"abcdef"));
    /// let mut r = buf.cursor();
    /// r.advance(4);
    /// assert_eq!(r.position(), 4);
    /// ```
    pub fn position(&self) -> usize {
        self.total - self.remaining()
    }

    /// Moves to the next segment once the current one is used up.
    #[inline]
    fn refill(&mut self) {
        while self.cur.is_empty() {
            match self.rest.split_first() {
                Some((next, rest)) => {
                    self.cur = next;
                    self.seg = Some(next);
                    self.rest = rest;
                    self.rest_len -= next.len();
                }
                None => {
                    self.seg = None;
                    return;
                }
            }
        }
    }
}

/// Integer reads: one slice read when the value lies in the current
/// segment, the byte-by-byte path when it straddles a boundary.
macro_rules! cursor_reads {
    ($($name:ident, $ty:ty, $from:ident;)*) => {
        $(
            #[inline]
            fn $name(&mut self) -> $ty {
                const N: usize = std::mem::size_of::<$ty>();
                if let Some((raw, rest)) = self.cur.split_first_chunk::<N>() {
                    if !rest.is_empty() {
                        self.cur = rest;
                        return <$ty>::$from(*raw);
                    }
                }
                let mut raw = [0u8; N];
                // By value, so the cursor's fields can stay in registers
                // on the fast path (its address never escapes).
                *self = read_across(self.clone(), &mut raw);
                <$ty>::$from(raw)
            }
        )*
    };
}

// The slow paths take and return the cursor by value, so that on the fast
// paths its fields can live in registers: its address never escapes.

/// `advance` past the end of the current segment.
#[cold]
#[inline(never)]
fn advance_across(mut c: Cursor<'_>, mut cnt: usize) -> Cursor<'_> {
    assert!(
        cnt <= c.remaining(),
        "cannot advance past `remaining`: {cnt} > {}",
        c.remaining()
    );
    while cnt > 0 {
        let n = cnt.min(c.cur.len());
        c.cur = &c.cur[n..];
        cnt -= n;
        c.refill();
    }
    c.refill();
    c
}

/// The slow path of an integer read: the value straddles a boundary.
#[cold]
#[inline(never)]
fn read_across<'a>(mut c: Cursor<'a>, dst: &mut [u8]) -> Cursor<'a> {
    assert!(
        dst.len() <= c.remaining(),
        "read past `remaining`: {} > {}",
        dst.len(),
        c.remaining()
    );
    let mut filled = 0;
    while filled < dst.len() {
        let n = c.cur.len().min(dst.len() - filled);
        for (d, s) in dst[filled..filled + n].iter_mut().zip(c.cur) {
            *d = *s;
        }
        filled += n;
        c.cur = &c.cur[n..];
        c.refill();
    }
    c
}

impl Buf for Cursor<'_> {
    #[inline]
    fn remaining(&self) -> usize {
        self.cur.len() + self.rest_len
    }

    #[inline]
    fn chunk(&self) -> &[u8] {
        self.cur
    }

    #[inline]
    fn advance(&mut self, cnt: usize) {
        if cnt < self.cur.len() {
            self.cur = &self.cur[cnt..];
            return;
        }
        *self = advance_across(self.clone(), cnt);
    }

    fn chunks_vectored<'b>(&'b self, dst: &mut [IoSlice<'b>]) -> usize {
        if dst.is_empty() || self.cur.is_empty() {
            return 0;
        }
        dst[0] = IoSlice::new(self.cur);
        let mut n = 1;
        for (slot, seg) in dst[1..].iter_mut().zip(self.rest) {
            *slot = IoSlice::new(seg);
            n += 1;
        }
        n
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        assert!(
            len <= self.remaining(),
            "copy_to_bytes out of bounds: {len} > {}",
            self.remaining()
        );
        if len <= self.cur.len() {
            if let Some(seg) = self.seg {
                let off = seg.len() - self.cur.len();
                let out = seg.slice(off..off + len);
                self.advance(len);
                return out;
            }
        }
        // Across segments: gather zero-copy slices, then one counted copy.
        let mut parts = CompositeBuf::new();
        let mut left = len;
        while left > 0 {
            let n = left.min(self.cur.len());
            if let Some(seg) = self.seg {
                let off = seg.len() - self.cur.len();
                parts.push(seg.slice(off..off + n));
            }
            self.advance(n);
            left -= n;
        }
        parts.to_bytes()
    }

    cursor_reads! {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_to_the_end_of_a_segment_moves_to_the_next() {
        let buf: CompositeBuf = [Bytes::from_static(b"abcd"), Bytes::from_static(b"efgh")]
            .into_iter()
            .collect();
        let mut r = buf.cursor();
        assert_eq!(r.get_u32(), u32::from_be_bytes(*b"abcd"));
        assert_eq!(r.chunk(), b"efgh");
        let (b, copied) = crate::measure_copies(|| r.copy_to_bytes(4));
        assert_eq!((b, copied), (Bytes::from_static(b"efgh"), 0));
        assert!(r.chunk().is_empty());
        assert_eq!(r.remaining(), 0);
    }
}
