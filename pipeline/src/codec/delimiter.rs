//! [`DelimiterBasedFrameDecoder`]: frames separated by one of several
//! delimiters.
//!
//! ```text
//! INPUT (delimiters "\0" and "|")     DECODED
//! +------------------+                +-----+  +-----+
//! | "ABC\0DEF|GH"    | ------------>  | ABC |  | DEF |   ("GH" waits)
//! +------------------+                +-----+  +-----+
//! ```
//!
//! ```
//! # use bytes::Bytes;
//! # use weft_pipeline::codec::{ByteToMessageDecoder, DelimiterBasedFrameDecoder};
//! # use weft_pipeline::{EmbeddedChannel, Pipeline};
//! let d = DelimiterBasedFrameDecoder::new(64, [&b"\0"[..], b"|"])?;
//! # let mut p = Pipeline::new();
//! # p.handlers().add_last("d", ByteToMessageDecoder::new(d))?;
//! # let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"ABC\0DEF|GH"));
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"ABC"[..]);
//! assert_eq!(ch.read_inbound_bytes().unwrap(), &b"DEF"[..]);
//! assert_eq!(ch.inbound_len(), 0); // the rest waits for more bytes
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```
//!
//! When several delimiters match, the one giving the shortest frame wins
//! (first in the list on a tie). **Too long**: a frame longer than
//! `max_frame_length` is discarded up to and including its delimiter and a
//! [`PipelineError::TooLongFrame`] is fired (at once with `fail_fast`, the
//! default, else when the delimiter arrives); decoding then goes on.

use bytes::{Buf, Bytes};
use weft_buf::CompositeBuf;

use crate::codec::FrameDecoder;
use crate::{Context, PipelineError};

/// Decoder state.
///
/// ```text
///   ┌──────────────────┐ delimiter at i, i ≤ max ──▶ emit frame
///   │ Scan { scanned } │ delimiter at i, i > max ──▶ skip frame + delimiter, Err
///   └──────────────────┘ none, > max bytes ──▶ skip (keep a possible partial
///        ▲                                     delimiter), fail_fast: Err
///        │ delimiter found: skip through it           │
///        │ (!fail_fast: Err)                          ▼
///        └───────────────────────────────── Discard { discarded }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Scan { scanned: usize },
    Discard { discarded: u64 },
}

/// Cuts frames at any of a set of delimiters (Netty's
/// `DelimiterBasedFrameDecoder`). See the [module docs](self).
///
/// # Examples
///
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct DelimiterBasedFrameDecoder {
    delimiters: Vec<Bytes>,
    longest: usize,
    max_frame_length: usize,
    strip: bool,
    fail_fast: bool,
    state: State,
}

impl DelimiterBasedFrameDecoder {
    /// Frames of at most `max_frame_length` bytes (delimiter not counted),
    /// delimiter stripped, fail-fast.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidConfig`] if there is no delimiter or one is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::codec::DelimiterBasedFrameDecoder;
    /// assert!(DelimiterBasedFrameDecoder::new(64, [&b"\r\n\r\n"[..]]).is_ok());
    /// assert!(DelimiterBasedFrameDecoder::new(64, [&b""[..]]).is_err());
    /// ```
    pub fn new<'d>(
        max_frame_length: usize,
        delimiters: impl IntoIterator<Item = &'d [u8]>,
    ) -> Result<Self, PipelineError> {
        let delimiters: Vec<Bytes> = delimiters.into_iter().map(Bytes::copy_from_slice).collect();
        if delimiters.is_empty() || delimiters.iter().any(Bytes::is_empty) {
            return Err(PipelineError::InvalidConfig(
                "delimiters must be non-empty".into(),
            ));
        }
        let longest = delimiters.iter().map(Bytes::len).max().unwrap_or(1);
        Ok(DelimiterBasedFrameDecoder {
            delimiters,
            longest,
            max_frame_length,
            strip: true,
            fail_fast: true,
            state: State::Scan { scanned: 0 },
        })
    }

    /// Keeps (`false`) or strips (`true`, the default) the delimiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = weft_pipeline::codec::DelimiterBasedFrameDecoder::new(64, [&b";"[..]])
    ///     .unwrap()
    ///     .strip_delimiter(false);
    /// # drop(d);
    /// ```
    #[must_use]
    pub fn strip_delimiter(mut self, on: bool) -> Self {
        self.strip = on;
        self
    }

    /// Reports a too-long frame at once (`true`, the default) or once its
    /// delimiter arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = weft_pipeline::codec::DelimiterBasedFrameDecoder::new(64, [&b";"[..]])
    ///     .unwrap()
    ///     .fail_fast(false);
    /// # drop(d);
    /// ```
    #[must_use]
    pub fn fail_fast(mut self, on: bool) -> Self {
        self.fail_fast = on;
        self
    }

    /// The earliest delimiter match at or after `from`: (index, delimiter length).
    fn find(&self, buf: &CompositeBuf, from: usize) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for d in &self.delimiters {
            if let Some(i) = buf.find_from(d, from) {
                if best.map_or(true, |(b, _)| i < b) {
                    best = Some((i, d.len()));
                }
            }
        }
        best
    }

    fn too_long(&self, length: u64) -> PipelineError {
        PipelineError::TooLongFrame {
            length,
            max: self.max_frame_length as u64,
        }
    }

    /// Whether a delimiter that would win over the match at `best` may
    /// still be arriving: it starts at some `j` in `from..best` (a shorter
    /// frame), or at `best` itself ahead of the match in the list (the tie
    /// rule), and the cumulation ends inside it. Cutting at `best` then
    /// would make the frames depend on where the reads were split
    /// (delimiters `"abcd"` and `"c"` on `"abc"` + `"d"`). Only the last
    /// `longest - 1` bytes can hold such a start, so this is cheap.
    fn better_may_follow(&self, buf: &CompositeBuf, from: usize, best: usize) -> bool {
        let len = buf.len();
        let start = len.saturating_sub(self.longest - 1).max(from);
        if start > best || start >= len {
            return false;
        }
        let mut small = [0u8; 64];
        let mut heap = Vec::new();
        let tail: &mut [u8] = if len - start <= small.len() {
            &mut small[..len - start]
        } else {
            heap.resize(len - start, 0);
            &mut heap
        };
        if buf.try_copy_out(start, tail).is_err() {
            return false;
        }
        let partial_at = |d: &Bytes, p: &[u8]| d.len() > p.len() && d.starts_with(p);
        if (start..best).any(|j| {
            let p = &tail[j - start..];
            self.delimiters.iter().any(|d| partial_at(d, p))
        }) {
            return true;
        }
        // At `best` itself, in list order: an incomplete delimiter before
        // the first complete one would win the tie once it completes.
        let p = &tail[best - start..];
        for d in &self.delimiters {
            if partial_at(d, p) {
                return true;
            }
            if p.starts_with(d) {
                return false;
            }
        }
        false
    }

    fn decode_inner(
        &mut self,
        buf: &mut CompositeBuf,
        eof: bool,
    ) -> Result<Option<CompositeBuf>, PipelineError> {
        // Bytes at the end that may be the start of a delimiter.
        let keep = self.longest - 1;
        match self.state {
            State::Discard { discarded } => match self.find(buf, 0) {
                // As below: where the discard ends must not depend on reads.
                Some((i, _)) if !eof && self.better_may_follow(buf, 0, i) => Ok(None),
                Some((i, dl)) => {
                    buf.advance(i + dl);
                    self.state = State::Scan { scanned: 0 };
                    if self.fail_fast {
                        Ok(None)
                    } else {
                        Err(self.too_long(discarded.saturating_add(i as u64)))
                    }
                }
                None => {
                    let n = buf.len().saturating_sub(keep);
                    buf.advance(n);
                    self.state = State::Discard {
                        discarded: discarded.saturating_add(n as u64),
                    };
                    Ok(None)
                }
            },
            State::Scan { scanned } => match self.find(buf, scanned.saturating_sub(keep)) {
                Some((i, _))
                    if !eof && self.better_may_follow(buf, scanned.saturating_sub(keep), i) =>
                {
                    // Wait: a delimiter giving a shorter frame may complete.
                    Ok(None)
                }
                Some((i, dl)) => {
                    self.state = State::Scan { scanned: 0 };
                    if i > self.max_frame_length {
                        buf.advance(i + dl);
                        return Err(self.too_long(i as u64));
                    }
                    if self.strip {
                        let frame = Some(buf.split_to(i));
                        buf.advance(dl);
                        Ok(frame)
                    } else {
                        Ok(Some(buf.split_to(i + dl)))
                    }
                }
                None => {
                    let n = buf.len();
                    let sure = n.saturating_sub(keep);
                    if sure > self.max_frame_length {
                        buf.advance(sure);
                        self.state = State::Discard {
                            discarded: sure as u64,
                        };
                        return if self.fail_fast {
                            Err(self.too_long(sure as u64))
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

impl FrameDecoder for DelimiterBasedFrameDecoder {
    type Frame = CompositeBuf;

    fn decode(
        &mut self,
        _ctx: &mut Context<'_, CompositeBuf>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<CompositeBuf>, PipelineError> {
        self.decode_inner(buf, false)
    }

    /// At the end of the stream no longer delimiter can complete, so the
    /// best complete match is cut.
    fn decode_eof(
        &mut self,
        _ctx: &mut Context<'_, CompositeBuf>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<CompositeBuf>, PipelineError> {
        self.decode_inner(buf, true)
    }
}
