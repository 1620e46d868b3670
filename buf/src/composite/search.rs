//! Searching across segment boundaries.

use memchr::memmem;
use smallvec::SmallVec;

use super::CompositeBuf;

/// Pieces shorter than this are searched by first byte (`memchr`) plus a
/// check of each candidate, longer ones with `memmem`.
const SHORT_PIECE: usize = 256;

/// Returns `true` if `needle` starts at the beginning of `head` and, where
/// `head` is too short, continues in the pieces of `rest`.
fn continues_with<'a>(head: &[u8], rest: impl Iterator<Item = &'a [u8]>, needle: &[u8]) -> bool {
    let n = head.len().min(needle.len());
    if head[..n] != needle[..n] {
        return false;
    }
    let mut want = &needle[n..];
    for piece in rest {
        if want.is_empty() {
            break;
        }
        let k = piece.len().min(want.len());
        if piece[..k] != want[..k] {
            return false;
        }
        want = &want[k..];
    }
    want.is_empty()
}

impl CompositeBuf {
    /// Returns the index of the first occurrence of `needle`, or `None`.
    ///
    /// Matches may straddle segment boundaries. Inside a segment the search
    /// runs at `memchr::memmem` speed (segments under 256 bytes are scanned
    /// for the needle's first byte with `memchr`); at each boundary at most
    /// `2 × (needle.len() - 1)` bytes are compared in a small scratch buffer.
    /// An empty needle matches at 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"GET / HTTP/1.1\r"), Bytes::from_static(b"\n\r\nbody")]
    ///         .into_iter()
    ///         .collect();
    /// assert_eq!(buf.find(b"\r\n\r\n"), Some(14));
    /// assert_eq!(buf.find(b"nope"), None);
    /// ```
    pub fn find(&self, needle: &[u8]) -> Option<usize> {
        self.find_from(needle, 0)
    }

    /// Like [`find`](Self::find), but starts looking at byte `start`. The
    /// returned index counts from the start of the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = weft_buf::CompositeBuf::from(bytes::Bytes::from_static(b"a\nb\n"));
    /// assert_eq!(buf.find_from(b"\n", 2), Some(3));
    /// assert_eq!(buf.find_from(b"\n", 9), None);
    /// ```
    pub fn find_from(&self, needle: &[u8], start: usize) -> Option<usize> {
        if start > self.len() {
            return None;
        }
        if needle.is_empty() {
            return Some(start);
        }
        if needle.len() == 1 {
            return self.find_byte_from(needle[0], start);
        }
        if needle.len() > self.len() - start {
            return None;
        }
        // Built on the first long piece; short pieces do not need it.
        let mut finder: Option<memmem::Finder<'_>> = None;
        let overlap = needle.len() - 1;
        // Holds the last `overlap` bytes of a piece and the first `overlap`
        // bytes after it; inline (no allocation) for needles up to 33 bytes.
        let mut scratch: SmallVec<[u8; 64]> = SmallVec::new();
        let mut pieces = self.pieces_from(start);
        let mut base = start;
        while let Some(piece) = pieces.next() {
            if piece.len() < SHORT_PIECE {
                // A memmem call costs more than scanning a short piece for
                // the needle's first byte and checking each candidate,
                // across the following pieces if need be.
                let mut from = 0;
                while let Some(p) = memchr::memchr(needle[0], &piece[from..]) {
                    let at = from + p;
                    if continues_with(&piece[at..], pieces.clone(), needle) {
                        return Some(base + at);
                    }
                    from = at + 1;
                }
                base += piece.len();
                continue;
            }
            let finder = finder.get_or_insert_with(|| memmem::Finder::new(needle));
            if let Some(p) = finder.find(piece) {
                return Some(base + p);
            }
            // A match that starts in the last `overlap` bytes of this piece
            // and ends in later ones.
            let tail_start = piece.len().saturating_sub(overlap);
            scratch.clear();
            scratch.extend_from_slice(&piece[tail_start..]);
            let tail_len = scratch.len();
            for next in pieces.clone() {
                let want = overlap - (scratch.len() - tail_len);
                if want == 0 {
                    break;
                }
                scratch.extend_from_slice(&next[..want.min(next.len())]);
            }
            // At most `overlap` candidate starts: compare them directly
            // (cheaper than a memmem call for the few bytes involved).
            if let Some(p) = scratch
                .windows(needle.len())
                .take(tail_len)
                .position(|w| w == needle)
            {
                return Some(base + tail_start + p);
            }
            base += piece.len();
        }
        None
    }

    /// Returns the index of the first `byte`, or `None`. Runs at `memchr`
    /// speed inside each segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"abc"), Bytes::from_static(b"d\n")].into_iter().collect();
    /// assert_eq!(buf.find_byte(b'\n'), Some(4));
    /// ```
    pub fn find_byte(&self, byte: u8) -> Option<usize> {
        self.find_byte_from(byte, 0)
    }

    /// Like [`find_byte`](Self::find_byte), starting at `start`.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = weft_buf::CompositeBuf::from(bytes::Bytes::from_static(b"a,b,c"));
    /// assert_eq!(buf.find_byte_from(b',', 2), Some(3));
    /// ```
    pub fn find_byte_from(&self, byte: u8, start: usize) -> Option<usize> {
        if start > self.len() {
            return None;
        }
        let mut base = start;
        for piece in self.pieces_from(start) {
            if let Some(p) = memchr::memchr(byte, piece) {
                return Some(base + p);
            }
            base += piece.len();
        }
        None
    }

    /// Returns `true` if the buffer begins with `prefix`, across segments.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let buf: weft_buf::CompositeBuf =
    ///     [Bytes::from_static(b"GE"), Bytes::from_static(b"T /")].into_iter().collect();
    /// assert!(buf.starts_with(b"GET "));
    /// assert!(!buf.starts_with(b"POST"));
    /// ```
    pub fn starts_with(&self, prefix: &[u8]) -> bool {
        if prefix.len() > self.len() {
            return false;
        }
        let mut rest = prefix;
        for piece in self.pieces_from(0) {
            if rest.is_empty() {
                break;
            }
            let n = piece.len().min(rest.len());
            if piece[..n] != rest[..n] {
                return false;
            }
            rest = &rest[n..];
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn split_every(data: &[u8], n: usize) -> CompositeBuf {
        data.chunks(n).map(Bytes::copy_from_slice).collect()
    }

    #[test]
    fn needle_spanning_many_one_byte_segments() {
        let b = split_every(b"xxabcdefyy", 1);
        assert_eq!(b.find(b"abcdef"), Some(2));
        assert_eq!(b.find(b"fyy"), Some(7));
        assert_eq!(b.find(b"yyy"), None);
        assert_eq!(b.find_from(b"x", 1), Some(1));
    }

    #[test]
    fn first_match_wins_over_later_inside_match() {
        let b: CompositeBuf = [Bytes::from_static(b"..ab"), Bytes::from_static(b"cd..abcd")]
            .into_iter()
            .collect();
        assert_eq!(b.find(b"abcd"), Some(2));
    }
}
