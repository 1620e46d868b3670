//! [`LineBasedFrameDecoder`]: frames that end in `\n` or `\r\n`.
//!
//! ```text
//! INPUT                      DECODED (strip_delimiter = true, the default)
//! +--------------------+     +-------+  +-------+
//! | "ABC\r\nDEF\nGH"   | --> | "ABC" |  | "DEF" |   ("GH" waits for its "\n")
//! +--------------------+     +-------+  +-------+
//! ```
//!
//! ```
//! # use bytes::Bytes;
//! # use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
//! # use weft_pipeline::{EmbeddedChannel, Pipeline};
//! # let mut p = Pipeline::new();
//! # p.handlers().add_last("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(64)))?;
//! # let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"ABC\r\nDEF\nGH"));
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"ABC"[..]);
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"DEF"[..]);
//! assert_eq!(ch.inbound_len(), 0); // the rest waits for more bytes
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```
//!
//! **Too long.** A line longer than `max_length` (not counting its
//! delimiter) is discarded up to and including its delimiter, and a
//! [`PipelineError::TooLongFrame`] is fired: as soon as the length is
//! exceeded with `fail_fast` (the default), or when the delimiter arrives
//! without it. Decoding then goes on with the next line. A last line without
//! a delimiter at the end of the stream is reported as leftover bytes.

use weft_buf::CompositeBuf;

use crate::codec::FrameDecoder;
use crate::{Context, PipelineError};

/// Decoder state.
///
/// ```text
///   ┌──────────────────┐ "\n" at i, line ≤ max ──▶ emit line, scanned = 0
///   │ Scan { scanned } │ "\n" at i, line > max ──▶ skip line, Err
///   └──────────────────┘ no "\n", > max bytes  ──▶ skip all (fail_fast: Err)
///        ▲                                           │
///        │ "\n" found: skip through it                ▼
///        │ (!fail_fast: Err)                 ┌──────────────────────┐
///        └────────────────────────────────── │ Discard { discarded } │ no "\n": skip all
///                                            └──────────────────────┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Scan { scanned: usize },
    Discard { discarded: u64 },
}

/// Cuts lines ending in `\n` or `\r\n` (Netty's `LineBasedFrameDecoder`).
/// See the [module docs](self).
///
/// # Examples
///
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct LineBasedFrameDecoder {
    max_length: usize,
    strip: bool,
    fail_fast: bool,
    state: State,
}

impl LineBasedFrameDecoder {
    /// Lines of at most `max_length` bytes, delimiter stripped, fail-fast.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = weft_pipeline::codec::LineBasedFrameDecoder::new(8192);
    /// # drop(d);
    /// ```
    pub fn new(max_length: usize) -> Self {
        LineBasedFrameDecoder {
            max_length,
            strip: true,
            fail_fast: true,
            state: State::Scan { scanned: 0 },
        }
    }

    /// Keeps (`false`) or strips (`true`, the default) the delimiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
    /// # use weft_pipeline::{EmbeddedChannel, Pipeline};
    /// let d = LineBasedFrameDecoder::new(64).strip_delimiter(false);
    /// # let mut p = Pipeline::new();
    /// # p.handlers().add_last("lines", ByteToMessageDecoder::new(d))?;
    /// # let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(Bytes::from_static(b"A\r\n"));
    /// assert_eq!(ch.read_inbound_bytes().unwrap(), &b"A\r\n"[..]);
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    #[must_use]
    pub fn strip_delimiter(mut self, on: bool) -> Self {
        self.strip = on;
        self
    }

    /// Reports a too-long line at once (`true`, the default) or once its
    /// delimiter arrives (`false`).
    ///
    /// # Examples
    ///
    /// ```
    /// let d = weft_pipeline::codec::LineBasedFrameDecoder::new(64).fail_fast(false);
    /// # drop(d);
    /// ```
    #[must_use]
    pub fn fail_fast(mut self, on: bool) -> Self {
        self.fail_fast = on;
        self
    }

    fn too_long(&self, length: u64) -> PipelineError {
        PipelineError::TooLongFrame {
            length,
            max: self.max_length as u64,
        }
    }
}

impl FrameDecoder for LineBasedFrameDecoder {
    type Frame = CompositeBuf;

    fn decode(
        &mut self,
        _ctx: &mut Context<'_, CompositeBuf>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<CompositeBuf>, PipelineError> {
        match self.state {
            State::Discard { discarded } => match buf.find_byte(b'\n') {
                Some(i) => {
                    bytes::Buf::advance(buf, i + 1);
                    self.state = State::Scan { scanned: 0 };
                    let length = discarded.saturating_add(i as u64);
                    if self.fail_fast {
                        Ok(None)
                    } else {
                        Err(self.too_long(length))
                    }
                }
                None => {
                    let n = buf.len();
                    bytes::Buf::advance(buf, n);
                    self.state = State::Discard {
                        discarded: discarded.saturating_add(n as u64),
                    };
                    Ok(None)
                }
            },
            State::Scan { scanned } => match buf.find_byte_from(b'\n', scanned) {
                Some(i) => {
                    let cr = i > 0 && buf.try_get_u8_at(i - 1).ok() == Some(b'\r');
                    let line = if cr { i - 1 } else { i };
                    self.state = State::Scan { scanned: 0 };
                    if line > self.max_length {
                        bytes::Buf::advance(buf, i + 1);
                        return Err(self.too_long(line as u64));
                    }
                    if self.strip {
                        let frame = Some(buf.split_to(line));
                        bytes::Buf::advance(buf, i + 1 - line);
                        Ok(frame)
                    } else {
                        Ok(Some(buf.split_to(i + 1)))
                    }
                }
                None => {
                    let n = buf.len();
                    // A trailing '\r' may be the start of "\r\n".
                    let cr = n > 0 && buf.try_get_u8_at(n - 1).ok() == Some(b'\r');
                    let line = if cr { n - 1 } else { n };
                    if line > self.max_length {
                        bytes::Buf::advance(buf, n);
                        self.state = State::Discard {
                            discarded: n as u64,
                        };
                        return if self.fail_fast {
                            Err(self.too_long(n as u64))
                        } else {
                            Ok(None)
                        };
                    }
                    self.state = State::Scan { scanned: n };
                    Ok(None)
                }
            },
        }
    }
}
