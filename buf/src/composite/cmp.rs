//! Content equality, hashing and the hex-dump `Debug`.

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

use super::CompositeBuf;

/// Compares two byte streams given as pieces, ignoring how they are cut.
fn pieces_eq<'a, 'b>(a: impl Iterator<Item = &'a [u8]>, b: impl Iterator<Item = &'b [u8]>) -> bool {
    let mut a = a.filter(|p| !p.is_empty());
    let mut b = b.filter(|p| !p.is_empty());
    let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
    loop {
        if x.is_empty() {
            x = a.next().unwrap_or(&[]);
        }
        if y.is_empty() {
            y = b.next().unwrap_or(&[]);
        }
        if x.is_empty() || y.is_empty() {
            return x.is_empty() && y.is_empty();
        }
        let n = x.len().min(y.len());
        if x[..n] != y[..n] {
            return false;
        }
        x = &x[n..];
        y = &y[n..];
    }
}

impl PartialEq for CompositeBuf {
    fn eq(&self, other: &CompositeBuf) -> bool {
        self.len() == other.len() && pieces_eq(self.pieces_from(0), other.pieces_from(0))
    }
}

impl Eq for CompositeBuf {}

impl PartialEq<[u8]> for CompositeBuf {
    fn eq(&self, other: &[u8]) -> bool {
        self.len() == other.len() && pieces_eq(self.pieces_from(0), std::iter::once(other))
    }
}

impl PartialEq<&[u8]> for CompositeBuf {
    fn eq(&self, other: &&[u8]) -> bool {
        *self == **other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for CompositeBuf {
    fn eq(&self, other: &[u8; N]) -> bool {
        *self == other[..]
    }
}

impl PartialEq<Vec<u8>> for CompositeBuf {
    fn eq(&self, other: &Vec<u8>) -> bool {
        *self == other[..]
    }
}

impl PartialEq<Bytes> for CompositeBuf {
    fn eq(&self, other: &Bytes) -> bool {
        *self == other[..]
    }
}

impl PartialEq<CompositeBuf> for Bytes {
    fn eq(&self, other: &CompositeBuf) -> bool {
        *other == self[..]
    }
}

impl PartialEq<CompositeBuf> for [u8] {
    fn eq(&self, other: &CompositeBuf) -> bool {
        *other == *self
    }
}

impl Hash for CompositeBuf {
    /// Hashes the content only: two buffers with the same bytes hash the
    /// same however they are segmented. Bytes are fed to the hasher in
    /// fixed windows so that hashers that are not streaming agree too.
    fn hash<H: Hasher>(&self, state: &mut H) {
        const WINDOW: usize = 64;
        let mut window = [0u8; WINDOW];
        let mut fill = 0;
        for piece in self.pieces_from(0) {
            let mut piece = piece;
            while !piece.is_empty() {
                let n = (WINDOW - fill).min(piece.len());
                window[fill..fill + n].copy_from_slice(&piece[..n]);
                fill += n;
                piece = &piece[n..];
                if fill == WINDOW {
                    state.write(&window);
                    fill = 0;
                }
            }
        }
        state.write(&window[..fill]);
        state.write_usize(self.len());
    }
}

/// How many bytes `Debug` dumps before it shortens the output.
///
/// # Examples
///
/// ```
/// use weft_buf::composite::DEBUG_DUMP_LIMIT;
/// let buf = weft_buf::CompositeBuf::from(vec![0u8; DEBUG_DUMP_LIMIT + 10]);
/// assert!(format!("{buf:?}").ends_with("... 10 more bytes"));
/// ```
pub const DEBUG_DUMP_LIMIT: usize = 256;

impl fmt::Debug for CompositeBuf {
    /// A hex dump in the style of Netty's `ByteBufUtil.prettyHexDump`,
    /// shortened after [`DEBUG_DUMP_LIMIT`] bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "CompositeBuf(len: {}, segments: {})",
            self.len(),
            self.segments().len()
        )?;
        writeln!(
            f,
            "         +-------------------------------------------------+"
        )?;
        writeln!(
            f,
            "         |  0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f |"
        )?;
        writeln!(
            f,
            "+--------+-------------------------------------------------+----------------+"
        )?;
        let shown = self.len().min(DEBUG_DUMP_LIMIT);
        let mut row = [0u8; 16];
        let mut off = 0;
        while off < shown {
            let n = (shown - off).min(16);
            // `off + n <= len`, so this cannot fail.
            if self.try_copy_out(off, &mut row[..n]).is_err() {
                break;
            }
            write!(f, "|{off:08x}|")?;
            for b in &row[..n] {
                write!(f, " {b:02x}")?;
            }
            for _ in n..16 {
                f.write_str("   ")?;
            }
            f.write_str(" |")?;
            for &b in &row[..n] {
                let c = if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                };
                write!(f, "{c}")?;
            }
            for _ in n..16 {
                f.write_str(" ")?;
            }
            writeln!(f, "|")?;
            off += n;
        }
        write!(
            f,
            "+--------+-------------------------------------------------+----------------+"
        )?;
        if shown < self.len() {
            write!(f, "\n... {} more bytes", self.len() - shown)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use super::*;

    fn h(b: &CompositeBuf) -> u64 {
        let mut s = DefaultHasher::new();
        b.hash(&mut s);
        s.finish()
    }

    #[test]
    fn equality_and_hash_ignore_segmentation() {
        let data: Vec<u8> = (0..200u8).collect();
        let a: CompositeBuf = data.chunks(7).map(Bytes::copy_from_slice).collect();
        let b: CompositeBuf = data.chunks(64).map(Bytes::copy_from_slice).collect();
        assert_eq!(a, b);
        assert_eq!(a, data[..]);
        assert_eq!(h(&a), h(&b));
        let c: CompositeBuf = data[..199].chunks(3).map(Bytes::copy_from_slice).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn debug_is_a_hex_dump_and_shortens() {
        let b = CompositeBuf::from(Bytes::from_static(b"hello, world!\x00\x01\x02xyz"));
        let s = format!("{b:?}");
        assert!(
            s.contains(
                "|00000000| 68 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21 00 01 02 |hello, world!...|"
            ),
            "{s}"
        );
        let long = CompositeBuf::from(Bytes::from(vec![0u8; 1000]));
        assert!(format!("{long:?}").ends_with("... 744 more bytes"));
    }
}
