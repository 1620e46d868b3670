//! [`LengthFieldBasedFrameDecoder`]: frames that carry their own length.
//!
//! The parameters are Netty's. `length_field_offset` bytes come before the
//! length field of `length_field_length` bytes; the frame's total length is
//! `offset + field length + value + length_adjustment`; then
//! `initial_bytes_to_strip` bytes are cut from the front of the frame.
//!
//! **2-byte length, nothing stripped** (`new(max, 0, 2, 0, 0)`):
//!
//! ```text
//! INPUT (14 bytes)                 DECODED (14 bytes)
//! +--------+----------------+      +--------+----------------+
//! | 0x000C | "HELLO, WORLD" | ---> | 0x000C | "HELLO, WORLD" |
//! +--------+----------------+      +--------+----------------+
//! ```
//!
//! ```
//! # use bytes::Bytes;
//! # use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder};
//! # use weft_pipeline::{EmbeddedChannel, Pipeline};
//! # let mut p = Pipeline::new();
//! # p.handlers().add_last("f", ByteToMessageDecoder::new(LengthFieldBasedFrameDecoder::new(1024, 0, 2, 0, 0)?))?;
//! # let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"\x00\x0cHELLO, WORLD"));
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"\x00\x0cHELLO, WORLD"[..]);
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```
//!
//! **2-byte length, header stripped** (`new(max, 0, 2, 0, 2)`):
//!
//! ```text
//! INPUT (14 bytes)                 DECODED (12 bytes)
//! +--------+----------------+      +----------------+
//! | 0x000C | "HELLO, WORLD" | ---> | "HELLO, WORLD" |
//! +--------+----------------+      +----------------+
//! ```
//!
//! ```
//! # use bytes::Bytes;
//! # use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder};
//! # use weft_pipeline::{EmbeddedChannel, Pipeline};
//! # let mut p = Pipeline::new();
//! # p.handlers().add_last("f", ByteToMessageDecoder::new(LengthFieldBasedFrameDecoder::new(1024, 0, 2, 0, 2)?))?;
//! # let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"\x00\x0cHELLO, WORLD"));
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"HELLO, WORLD"[..]);
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```
//!
//! **Length counts the whole frame** (`new(max, 0, 2, -2, 0)`): the value
//! 0x000E includes the 2 bytes of the field itself.
//!
//! ```text
//! INPUT (14 bytes)                 DECODED (14 bytes)
//! +--------+----------------+      +--------+----------------+
//! | 0x000E | "HELLO, WORLD" | ---> | 0x000E | "HELLO, WORLD" |
//! +--------+----------------+      +--------+----------------+
//! ```
//!
//! ```
//! # use bytes::Bytes;
//! # use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder};
//! # use weft_pipeline::{EmbeddedChannel, Pipeline};
//! # let mut p = Pipeline::new();
//! # p.handlers().add_last("f", ByteToMessageDecoder::new(LengthFieldBasedFrameDecoder::new(1024, 0, 2, -2, 0)?))?;
//! # let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"\x00\x0eHELLO, WORLD"));
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"\x00\x0eHELLO, WORLD"[..]);
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```
//!
//! **3-byte length after a 2-byte header, header kept** (`new(max, 2, 3, 0, 0)`):
//!
//! ```text
//! INPUT (17 bytes)                            DECODED (17 bytes)
//! +--------+----------+----------------+      +--------+----------+----------------+
//! | 0xCAFE | 0x00000C | "HELLO, WORLD" | ---> | 0xCAFE | 0x00000C | "HELLO, WORLD" |
//! +--------+----------+----------------+      +--------+----------+----------------+
//! ```
//!
//! ```
//! # use bytes::Bytes;
//! # use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder};
//! # use weft_pipeline::{EmbeddedChannel, Pipeline};
//! # let mut p = Pipeline::new();
//! # p.handlers().add_last("f", ByteToMessageDecoder::new(LengthFieldBasedFrameDecoder::new(1024, 2, 3, 0, 0)?))?;
//! # let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"\xca\xfe\x00\x00\x0cHELLO, WORLD"));
//! assert_eq!(ch.read_inbound_bytes().unwrap().len(), 17);
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```
//!
//! **Too long.** A frame whose total length exceeds `max_frame_length` is
//! discarded, all of it, as its bytes arrive (nothing is buffered or
//! allocated for it), and a [`PipelineError::TooLongFrame`] is fired: at
//! once with `fail_fast` (the default), or once the frame has been skipped
//! without it. Decoding then goes on with the next frame; the channel stays
//! open unless a handler (or the tail) closes it on the exception. A length
//! that makes the frame shorter than its own header (a negative
//! adjustment), or a strip longer than the frame, is a corrupt stream
//! ([`PipelineError::Decode`]).

use weft_buf::CompositeBuf;

use crate::codec::FrameDecoder;
use crate::{Context, PipelineError};

/// Byte order of a length field.
///
/// # Examples
///
/// ```
/// use weft_pipeline::codec::{ByteOrder, LengthFieldBasedFrameDecoder};
/// let d = LengthFieldBasedFrameDecoder::new(64, 0, 4, 0, 4).unwrap().byte_order(ByteOrder::LittleEndian);
/// # drop(d);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteOrder {
    /// Network order (most significant byte first). The default.
    #[default]
    BigEndian,
    /// Least significant byte first.
    LittleEndian,
}

/// Decoder state.
///
/// ```text
///            need offset+field bytes          need `total` bytes
///   ┌──────────┐  header complete   ┌────────────────┐  all there   ┌─────────────┐
///   │  Header  │ ─────────────────▶ │ Body { total } │ ───────────▶ │ emit frame  │──▶ Header
///   └──────────┘                    └────────────────┘              └─────────────┘
///        │ total > max
///        │ (fail_fast: Err now)
///        ▼
///   ┌─────────────────────┐  `left` bytes skipped as they arrive
///   │ Discard { left, .. } │ ─────────────────────────────────────▶ Header
///   └─────────────────────┘  (!fail_fast: Err now)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body { total: usize },
    Discard { left: u64, total: u64 },
}

/// Cuts frames whose length is given by a field in their header. See the
/// [module docs](self) for the layouts and the too-long behaviour.
///
/// # Examples
///
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct LengthFieldBasedFrameDecoder {
    max_frame_length: u64,
    offset: usize,
    field_len: usize,
    adjustment: i64,
    strip: usize,
    order: ByteOrder,
    fail_fast: bool,
    state: State,
}

impl LengthFieldBasedFrameDecoder {
    /// A decoder with Netty's parameters: the maximum total frame length,
    /// the field's offset and length (1, 2, 3, 4 or 8 bytes), the value to
    /// add to the field's value, and how many bytes to cut from the front
    /// of each frame. Big-endian, fail-fast.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidConfig`] if the field length is not 1, 2, 3,
    /// 4 or 8, or the header does not fit in `max_frame_length`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::codec::LengthFieldBasedFrameDecoder;
    /// assert!(LengthFieldBasedFrameDecoder::new(1024, 0, 4, 0, 4).is_ok());
    /// assert!(LengthFieldBasedFrameDecoder::new(1024, 0, 5, 0, 0).is_err());
    /// ```
    pub fn new(
        max_frame_length: u64,
        length_field_offset: usize,
        length_field_length: usize,
        length_adjustment: i64,
        initial_bytes_to_strip: usize,
    ) -> Result<Self, PipelineError> {
        if ![1, 2, 3, 4, 8].contains(&length_field_length) {
            return Err(PipelineError::InvalidConfig(format!(
                "length field length must be 1, 2, 3, 4 or 8, not {length_field_length}"
            )));
        }
        let header = length_field_offset
            .checked_add(length_field_length)
            .ok_or_else(|| PipelineError::InvalidConfig("length field offset overflows".into()))?;
        if header as u64 > max_frame_length {
            return Err(PipelineError::InvalidConfig(format!(
                "max frame length {max_frame_length} is smaller than the {header}-byte header"
            )));
        }
        Ok(LengthFieldBasedFrameDecoder {
            max_frame_length,
            offset: length_field_offset,
            field_len: length_field_length,
            adjustment: length_adjustment,
            strip: initial_bytes_to_strip,
            order: ByteOrder::BigEndian,
            fail_fast: true,
            state: State::Header,
        })
    }

    /// Sets the byte order of the length field.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_pipeline::codec::{ByteOrder, ByteToMessageDecoder, LengthFieldBasedFrameDecoder};
    /// use weft_pipeline::{EmbeddedChannel, Pipeline};
    /// let d = LengthFieldBasedFrameDecoder::new(64, 0, 2, 0, 2)?.byte_order(ByteOrder::LittleEndian);
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("f", ByteToMessageDecoder::new(d))?;
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(Bytes::from_static(b"\x02\x00hi"));
    /// assert_eq!(ch.read_inbound_bytes().unwrap(), &b"hi"[..]);
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    #[must_use]
    pub fn byte_order(mut self, order: ByteOrder) -> Self {
        self.order = order;
        self
    }

    /// Chooses when a too-long frame is reported: at once (`true`, the
    /// default) or after it has been skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = weft_pipeline::codec::LengthFieldBasedFrameDecoder::new(64, 0, 2, 0, 2)
    ///     .unwrap()
    ///     .fail_fast(false);
    /// # drop(d);
    /// ```
    #[must_use]
    pub fn fail_fast(mut self, on: bool) -> Self {
        self.fail_fast = on;
        self
    }

    fn header_len(&self) -> usize {
        // Checked in `new`.
        self.offset + self.field_len
    }

    /// The length field's value. Fast path: the field lies in the first
    /// segment (the common case), read straight from that slice.
    fn read_field(&self, buf: &CompositeBuf) -> Result<u64, PipelineError> {
        let field = bytes::Buf::chunk(buf).get(self.offset..self.header_len());
        Ok(match (field, self.order) {
            (Some(f), ByteOrder::BigEndian) => {
                f.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            }
            (Some(f), ByteOrder::LittleEndian) => f
                .iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
            (None, ByteOrder::BigEndian) => buf.try_get_uint_at(self.offset, self.field_len)?,
            (None, ByteOrder::LittleEndian) => {
                buf.try_get_uint_le_at(self.offset, self.field_len)?
            }
        })
    }

    fn too_long(&self, total: u64) -> PipelineError {
        PipelineError::TooLongFrame {
            length: total,
            max: self.max_frame_length,
        }
    }

    /// Skips what is there of a discarded frame.
    fn discard(
        &mut self,
        buf: &mut CompositeBuf,
        left: u64,
        total: u64,
    ) -> Result<Option<CompositeBuf>, PipelineError> {
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        bytes::Buf::advance(buf, n);
        let left = left - n as u64;
        if left > 0 {
            self.state = State::Discard { left, total };
            return Ok(None);
        }
        self.state = State::Header;
        if self.fail_fast {
            Ok(None)
        } else {
            Err(self.too_long(total))
        }
    }
}

impl FrameDecoder for LengthFieldBasedFrameDecoder {
    type Frame = CompositeBuf;

    fn decode(
        &mut self,
        _ctx: &mut Context<'_, CompositeBuf>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<CompositeBuf>, PipelineError> {
        let total = match self.state {
            State::Discard { left, total } => return self.discard(buf, left, total),
            State::Body { total } => total,
            State::Header => {
                let header = self.header_len();
                if buf.len() < header {
                    return Ok(None);
                }
                let raw = self.read_field(buf)?;
                // total = header + raw + adjustment, in i128: no overflow for
                // any u64 value and i64 adjustment.
                let total = i128::from(raw) + i128::from(self.adjustment) + header as i128;
                if total < header as i128 {
                    return Err(PipelineError::decode(format!(
                        "length field value {raw} with adjustment {} gives a frame shorter than its {header}-byte header",
                        self.adjustment
                    )));
                }
                let total_u64 = u64::try_from(total).unwrap_or(u64::MAX);
                if total_u64 > self.max_frame_length {
                    let err = self.too_long(total_u64);
                    self.discard(buf, total_u64, total_u64)?;
                    // fail_fast: report now; otherwise `discard` reported or will.
                    return if self.fail_fast { Err(err) } else { Ok(None) };
                }
                // total <= max_frame_length; fits in usize on 64-bit, else too long.
                let Ok(total) = usize::try_from(total_u64) else {
                    return Err(self.too_long(total_u64));
                };
                if self.strip > total {
                    return Err(PipelineError::decode(format!(
                        "cannot strip {} bytes from a frame of {total} bytes",
                        self.strip
                    )));
                }
                total
            }
        };
        if buf.len() < total {
            self.state = State::Body { total };
            return Ok(None);
        }
        self.state = State::Header;
        // `strip <= total <= buf.len()` was checked above.
        bytes::Buf::advance(buf, self.strip);
        Ok(Some(buf.split_to(total - self.strip)))
    }
}
