//! [`Payload`]: one queued write.

use bytes::{Buf, Bytes};
use weft_buf::{CompositeBuf, FileRegion};

use super::FilePath;

/// One queued write.
///
/// # Examples
///
/// ```
/// use weft_transport::Payload;
/// let p = Payload::from(bytes::Bytes::from_static(b"abc"));
/// assert_eq!(p.len(), 3);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Payload {
    /// A contiguous buffer.
    Bytes(Bytes),
    /// Many segments, written with one `writev`.
    Composite(CompositeBuf),
    /// A file range, sent by the given path.
    File(FileRegion, FilePath),
}

impl Payload {
    /// Bytes this payload still puts on the wire.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = weft_transport::Payload::from(bytes::Bytes::new());
    /// assert!(p.is_empty());
    /// ```
    pub fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::Composite(c) => c.len() as u64,
            Payload::File(r, _) => r.len(),
        }
    }

    /// Returns `true` if nothing is left to send.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!weft_transport::Payload::from(bytes::Bytes::from_static(b"x")).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn advance(&mut self, n: usize) {
        match self {
            Payload::Bytes(b) => b.advance(n.min(b.len())),
            Payload::Composite(c) => c.advance(n.min(c.len())),
            Payload::File(r, _) => r.advance((n as u64).min(r.len())),
        }
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Payload::Bytes(b)
    }
}

impl From<CompositeBuf> for Payload {
    fn from(c: CompositeBuf) -> Self {
        Payload::Composite(c)
    }
}

impl From<FileRegion> for Payload {
    fn from(r: FileRegion) -> Self {
        Payload::File(r, FilePath::default())
    }
}
