//! Conversions into [`CompositeBuf`].

use bytes::{Bytes, BytesMut};

use super::CompositeBuf;

impl From<Bytes> for CompositeBuf {
    fn from(seg: Bytes) -> Self {
        let mut buf = CompositeBuf::new();
        buf.push(seg);
        buf
    }
}

impl From<Vec<u8>> for CompositeBuf {
    fn from(v: Vec<u8>) -> Self {
        CompositeBuf::from(Bytes::from(v))
    }
}

impl From<&'static [u8]> for CompositeBuf {
    fn from(s: &'static [u8]) -> Self {
        CompositeBuf::from(Bytes::from_static(s))
    }
}

impl From<BytesMut> for CompositeBuf {
    fn from(b: BytesMut) -> Self {
        CompositeBuf::from(b.freeze())
    }
}

impl Extend<Bytes> for CompositeBuf {
    fn extend<I: IntoIterator<Item = Bytes>>(&mut self, iter: I) {
        for seg in iter {
            self.push(seg);
        }
    }
}

impl FromIterator<Bytes> for CompositeBuf {
    fn from_iter<I: IntoIterator<Item = Bytes>>(iter: I) -> Self {
        let mut buf = CompositeBuf::new();
        buf.extend(iter);
        buf
    }
}
