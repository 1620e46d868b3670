//! [`FixedLengthFrameDecoder`]: frames of one fixed length.
//!
//! ```text
//! INPUT (reads)              DECODED (length 3)
//! +---+----+-------+         +-----+-----+-----+
//! | A | BC | DEFG  |  --->   | ABC | DEF | G.. (waits)
//! +---+----+-------+         +-----+-----+
//! ```
//!
//! ```
//! # use bytes::Bytes;
//! # use weft_pipeline::codec::{ByteToMessageDecoder, FixedLengthFrameDecoder};
//! # use weft_pipeline::{EmbeddedChannel, Pipeline};
//! # let mut p = Pipeline::new();
//! # p.handlers().add_last("fixed", ByteToMessageDecoder::new(FixedLengthFrameDecoder::new(3)?))?;
//! # let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound_all([&b"A"[..], b"BC", b"DEFG"].map(Bytes::from_static));
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"ABC"[..]);
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"DEF"[..]);
//! assert_eq!(ch.inbound_len(), 0); // the rest waits for more bytes
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```
//!
//! No frame can be too long; bytes left at the end of the stream are
//! reported as an error.

use weft_buf::CompositeBuf;

use crate::codec::FrameDecoder;
use crate::{Context, PipelineError};

/// Cuts frames of exactly `n` bytes. Stateless.
///
/// # Examples
///
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct FixedLengthFrameDecoder {
    n: usize,
}

impl FixedLengthFrameDecoder {
    /// Frames of `n` bytes.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidConfig`] if `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::codec::FixedLengthFrameDecoder::new(0).is_err());
    /// ```
    pub fn new(n: usize) -> Result<Self, PipelineError> {
        if n == 0 {
            return Err(PipelineError::InvalidConfig(
                "frame length must be at least 1".into(),
            ));
        }
        Ok(FixedLengthFrameDecoder { n })
    }

    /// The frame length.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_pipeline::codec::FixedLengthFrameDecoder::new(4).unwrap().frame_length(), 4);
    /// ```
    pub fn frame_length(&self) -> usize {
        self.n
    }
}

impl FrameDecoder for FixedLengthFrameDecoder {
    type Frame = CompositeBuf;

    fn decode(
        &mut self,
        _ctx: &mut Context<'_, CompositeBuf>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<CompositeBuf>, PipelineError> {
        if buf.len() < self.n {
            return Ok(None); // need the rest of the frame
        }
        Ok(Some(buf.split_to(self.n)))
    }
}
