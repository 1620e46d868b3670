//! [`Wire`]: what reaches the head and goes out on the socket.

use bytes::{Buf, Bytes, BytesMut};
use weft_buf::{CompositeBuf, FileRegion};

use crate::Message;

/// A message the transport can put on the wire: the one type a write has
/// from the pipeline's head down to the outbound buffer (no translation
/// between enums on the way).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::{Message, Wire};
///
/// let w = Wire::try_from(Message::from(Bytes::from_static(b"abc"))).unwrap();
/// assert_eq!(w.len(), 3);
/// assert!(Wire::try_from(Message::user(1u8)).is_err());
/// ```
#[derive(Debug, Clone)]
pub enum Wire {
    /// A contiguous buffer.
    Bytes(Bytes),
    /// Many segments, written with one `writev`.
    Composite(CompositeBuf),
    /// A file range, sent with `sendfile` (or the transport's chosen path).
    File(FileRegion),
}

impl Wire {
    /// Bytes this message still puts on the wire. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_pipeline::Wire::from(bytes::Bytes::from_static(b"ab")).len(), 2);
    /// ```
    pub fn len(&self) -> u64 {
        match self {
            Wire::Bytes(b) => b.len() as u64,
            Wire::Composite(c) => c.len() as u64,
            Wire::File(r) => r.len(),
        }
    }

    /// True if nothing is left to send.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Wire::from(bytes::Bytes::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the first `n` bytes (at most all of them): what a partial
    /// write has already sent. O(1) for bytes and regions.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut w = weft_pipeline::Wire::from(bytes::Bytes::from_static(b"abcd"));
    /// w.advance(3);
    /// assert_eq!(w.len(), 1);
    /// ```
    pub fn advance(&mut self, n: u64) {
        match self {
            Wire::Bytes(b) => b.advance((n.min(b.len() as u64)) as usize),
            Wire::Composite(c) => c.advance((n.min(c.len() as u64)) as usize),
            Wire::File(r) => r.advance(n.min(r.len())),
        }
    }
}

impl TryFrom<Message> for Wire {
    type Error = Message;

    /// The byte and file variants; a user value is given back.
    fn try_from(m: Message) -> Result<Self, Message> {
        match m {
            Message::Bytes(b) => Ok(Wire::Bytes(b)),
            Message::Composite(c) => Ok(Wire::Composite(c)),
            Message::File(f) => Ok(Wire::File(f)),
            other => Err(other),
        }
    }
}

impl From<Bytes> for Wire {
    fn from(b: Bytes) -> Self {
        Wire::Bytes(b)
    }
}

impl From<BytesMut> for Wire {
    fn from(b: BytesMut) -> Self {
        Wire::Bytes(b.freeze())
    }
}

impl From<&'static [u8]> for Wire {
    fn from(b: &'static [u8]) -> Self {
        Wire::Bytes(Bytes::from_static(b))
    }
}

impl From<CompositeBuf> for Wire {
    fn from(c: CompositeBuf) -> Self {
        Wire::Composite(c)
    }
}

impl From<FileRegion> for Wire {
    fn from(f: FileRegion) -> Self {
        Wire::File(f)
    }
}
