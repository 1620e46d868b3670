//! One record as it lies in a segment file, and a windowed reader of segment
//! files that recovery and offset lookup share.
//!
//! ```text
//!  0               8       12      16
//!  +---------------+-------+-------+----------------------+
//!  | offset u64 BE | len   | crc   | payload (len bytes)  |
//!  |               | u32 BE| u32 BE|                      |
//!  +---------------+-------+-------+----------------------+
//!  crc = CRC-32 (IEEE) of offset, len and payload
//! ```
//!
//! Fetch sends these bytes unchanged (sendfile), so the same layout is what a
//! consumer reads.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::crc::Crc32;

/// Bytes in a record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// Largest payload of one record (16 MiB); larger ones are refused at
/// produce and treated as corruption at recovery.
pub const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

/// The fixed part in front of every record.
///
/// # Examples
///
/// ```
/// use weft_examples::log::record::RecordHeader;
/// let h = RecordHeader::new(7, b"hi");
/// let back = RecordHeader::decode(&h.encode());
/// assert_eq!(back, h);
/// assert!(back.matches(&[b"hi"]));
/// assert!(!back.matches(&[b"ho"]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The record's offset in the log.
    pub offset: u64,
    /// Payload length.
    pub len: u32,
    /// CRC-32 of offset, len and payload.
    pub crc: u32,
}

impl RecordHeader {
    /// The header of a record with `payload` at `offset`.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = weft_examples::log::record::RecordHeader::new(0, b"");
    /// assert_eq!(h.len, 0);
    /// ```
    pub fn new(offset: u64, payload: &[u8]) -> RecordHeader {
        RecordHeader::from_pieces(offset, payload.len() as u32, [payload])
    }

    /// The header of a record whose payload of `len` bytes comes in pieces.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::record::RecordHeader;
    /// let h = RecordHeader::from_pieces(3, 4, [&b"ab"[..], b"cd"]);
    /// assert_eq!(h, RecordHeader::new(3, b"abcd"));
    /// ```
    pub fn from_pieces<'a>(
        offset: u64,
        len: u32,
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> RecordHeader {
        let mut crc = Crc32::new();
        crc.update(&offset.to_be_bytes());
        crc.update(&len.to_be_bytes());
        for p in pieces {
            crc.update(p);
        }
        RecordHeader {
            offset,
            len,
            crc: crc.finish(),
        }
    }

    /// Whether `pieces` (the payload) match this header's length and CRC.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = weft_examples::log::record::RecordHeader::new(1, b"x");
    /// assert!(!h.matches(&[b"xy"]));
    /// ```
    pub fn matches(&self, pieces: &[&[u8]]) -> bool {
        let len: usize = pieces.iter().map(|p| p.len()).sum();
        len == self.len as usize
            && RecordHeader::from_pieces(self.offset, self.len, pieces.iter().copied()).crc
                == self.crc
    }

    /// The 16 header bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = weft_examples::log::record::RecordHeader { offset: 1, len: 2, crc: 3 };
    /// assert_eq!(h.encode(), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    /// ```
    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN] {
        let mut out = [0u8; RECORD_HEADER_LEN];
        out[..8].copy_from_slice(&self.offset.to_be_bytes());
        out[8..12].copy_from_slice(&self.len.to_be_bytes());
        out[12..].copy_from_slice(&self.crc.to_be_bytes());
        out
    }

    /// Reads a header from its 16 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::record::RecordHeader;
    /// let h = RecordHeader::decode(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0]);
    /// assert_eq!((h.offset, h.len), (9, 1));
    /// ```
    pub fn decode(raw: &[u8; RECORD_HEADER_LEN]) -> RecordHeader {
        let [o0, o1, o2, o3, o4, o5, o6, o7, l0, l1, l2, l3, c0, c1, c2, c3] = *raw;
        RecordHeader {
            offset: u64::from_be_bytes([o0, o1, o2, o3, o4, o5, o6, o7]),
            len: u32::from_be_bytes([l0, l1, l2, l3]),
            crc: u32::from_be_bytes([c0, c1, c2, c3]),
        }
    }

    /// Header plus payload bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::log::record::RecordHeader::new(0, b"abc").total_len(), 19);
    /// ```
    pub fn total_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + u64::from(self.len)
    }
}

/// Bytes read from a segment file at a time.
const WINDOW: usize = 64 * 1024;

/// Reads a file through a window with `pread`, so it never moves the file
/// position that appends use, and reads headers many at a time.
#[derive(Debug)]
pub(crate) struct WindowReader<'a> {
    file: &'a File,
    /// Bytes of the file that may be read (the valid length).
    end: u64,
    buf: Vec<u8>,
    start: u64,
}

impl<'a> WindowReader<'a> {
    pub(crate) fn new(file: &'a File, end: u64) -> WindowReader<'a> {
        WindowReader {
            file,
            end,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// `n` (at most the window) bytes at `pos`, or `None` past the end.
    pub(crate) fn bytes(&mut self, pos: u64, n: usize) -> io::Result<Option<&[u8]>> {
        let Some(stop) = pos.checked_add(n as u64) else {
            return Ok(None);
        };
        if n > WINDOW || stop > self.end {
            return Ok(None);
        }
        let have_end = self.start + self.buf.len() as u64;
        if pos < self.start || stop > have_end {
            let want = (self.end - pos).min(WINDOW as u64) as usize;
            self.buf.resize(want, 0);
            let mut filled = 0;
            while filled < want {
                match self
                    .file
                    .read_at(&mut self.buf[filled..], pos + filled as u64)
                {
                    Ok(0) => break,
                    Ok(k) => filled += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.buf.truncate(filled);
            self.start = pos;
            if filled < n {
                return Ok(None);
            }
        }
        let from = (pos - self.start) as usize;
        Ok(Some(&self.buf[from..from + n]))
    }

    /// The header at `pos`, or `None` if fewer than 16 bytes remain.
    pub(crate) fn header(&mut self, pos: u64) -> io::Result<Option<RecordHeader>> {
        Ok(self.bytes(pos, RECORD_HEADER_LEN)?.map(|raw| {
            let mut h = [0u8; RECORD_HEADER_LEN];
            h.copy_from_slice(raw);
            RecordHeader::decode(&h)
        }))
    }

    /// Whether the record at `pos` is whole and its CRC matches.
    pub(crate) fn verify(&mut self, pos: u64, h: &RecordHeader) -> io::Result<bool> {
        let mut crc = Crc32::new();
        crc.update(&h.offset.to_be_bytes());
        crc.update(&h.len.to_be_bytes());
        let mut at = pos + RECORD_HEADER_LEN as u64;
        let mut left = h.len as usize;
        while left > 0 {
            let n = left.min(WINDOW);
            match self.bytes(at, n)? {
                Some(piece) => crc.update(piece),
                None => return Ok(false),
            }
            at += n as u64;
            left -= n;
        }
        Ok(crc.finish() == h.crc)
    }
}
