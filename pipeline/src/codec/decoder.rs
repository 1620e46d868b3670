//! [`FrameDecoder`] and [`ByteToMessageDecoder`]: cumulate reads as the
//! segments of a [`CompositeBuf`] and cut frames out of them, no copy.

use bytes::Bytes;
use weft_buf::{record_copy, CompositeBuf};

use crate::{Batch, Context, Event, Handler, MessageType, PipelineError};

/// Default threshold of the opt-in merge mode, in bytes: like h2's 256-byte
/// threshold for chaining instead of copying.
pub const DEFAULT_MERGE_THRESHOLD: usize = 256;

/// Most segments a [`ByteToMessageDecoder`]'s cumulation holds before it
/// consolidates them into one (a counted copy). Without a bound, a peer
/// sending one byte per packet would make every byte cost a 32-byte segment
/// entry; at 1024 the copy happens at most once per 1024 reads, far from
/// Netty's consolidation at 16 components.
pub const MAX_CUMULATION_SEGMENTS: usize = 1024;

/// Cuts frames out of a byte stream. Run it in a pipeline with
/// [`ByteToMessageDecoder`].
///
/// # The decoder protocol
///
/// [`decode`](Self::decode) is called with the cumulation: every byte
/// received and not yet consumed, as a [`CompositeBuf`] whose segments are
/// the reads themselves. It must do one of:
///
/// - **`Ok(Some(frame))`**: it removed a frame's bytes from the front of
///   `buf` (with `split_to` / `advance`, which never copy) and returns it.
///   It is called again at once for the next frame.
/// - **`Ok(None)`**: more bytes are needed. It may have consumed bytes
///   (for example while discarding an oversized frame); it is called again
///   when the next read arrives.
/// - **`Err(PipelineError::TooLongFrame { .. })`**: a frame exceeded the
///   limit. The decoder has decided how to recover (discard, see each
///   codec's docs) and decoding goes on; the error travels on as an
///   exception event.
/// - **any other `Err`**: the stream is corrupt. The error travels on as an
///   exception event (which closes the channel unless handled), the
///   cumulation is dropped, and later input is ignored.
///
/// # Pitfalls
///
/// - Returning `Ok(Some(_))` without consuming a byte would loop forever;
///   the base reports it as a decode error instead.
/// - Never allocate or reserve a length read from the wire: compare it
///   with your maximum first, and use checked arithmetic. The bytes are
///   already in `buf`; a frame is a slice of them.
/// - Use `CompositeBuf`'s `*_at` reads (`try_get_u32_at`, `find_byte`, ...)
///   to peek without consuming, so `Ok(None)` leaves `buf` as it was.
/// - Do not keep references into `buf` between calls; keep offsets.
/// - A protocol switch: by default a read is decoded completely, and all
///   its frames reach the next handler in one batch
///   ([`Handler::read_batch`]), so if that handler replaces the decoder on
///   seeing frame *k*, frames *k+1..* of the same read are already in its
///   hands as frames of the old protocol; only the undecoded rest goes to
///   the replacement. Switch on
///   [`single_decode`](ByteToMessageDecoder::single_decode): the decoder
///   then hands on one frame, waits until the pipeline has reacted to it
///   ([`Context::defer`]), and only then cuts the next; on removal, it
///   hands the undecoded bytes on.
/// - A byte frame is a [`CompositeBuf`] whether it lay in one read (one
///   segment, stored inline: free) or spanned several (one segment per
///   read, still no copy); cut it with `buf.split_to(n)`. A handler that
///   takes `Bytes` cannot follow a framing decoder (the pipeline refuses
///   it, naming both): take `CompositeBuf`.
///
/// # Examples
///
/// ```
/// use weft_buf::CompositeBuf;
/// use weft_pipeline::codec::{ByteToMessageDecoder, FrameDecoder};
/// use weft_pipeline::{Context, EmbeddedChannel, Pipeline, PipelineError};
///
/// /// Frames of exactly two bytes.
/// struct Pairs;
/// impl FrameDecoder for Pairs {
///     type Frame = CompositeBuf;
///     fn decode(
///         &mut self,
///         _ctx: &mut Context<'_, CompositeBuf>,
///         buf: &mut CompositeBuf,
///     ) -> Result<Option<CompositeBuf>, PipelineError> {
///         if buf.len() < 2 {
///             return Ok(None); // need more bytes
///         }
///         Ok(Some(buf.split_to(2))) // no copy
///     }
/// }
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("pairs", ByteToMessageDecoder::new(Pairs))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(bytes::Bytes::from_static(b"abc"));
/// ch.write_inbound(bytes::Bytes::from_static(b"d"));
/// let ab = ch.read_inbound::<CompositeBuf>().unwrap();
/// assert_eq!(ab, &b"ab"[..]);
/// assert_eq!(ab.segments().len(), 1); // inside one read
/// let cd = ch.read_inbound::<CompositeBuf>().unwrap();
/// assert_eq!(cd, &b"cd"[..]);
/// assert_eq!(cd.segments().len(), 2); // spans two reads, still no copy
/// # Ok::<(), PipelineError>(())
/// ```
pub trait FrameDecoder: Send + 'static {
    /// What the decoder cuts out: [`CompositeBuf`] for the framing codecs
    /// (one type whether the frame lay in one read or spanned several), a
    /// protocol's own request type for a protocol decoder.
    type Frame: MessageType;

    /// Cuts the next frame from the front of `buf`. See the protocol above.
    /// `ctx` gives the time ([`Context::now`]), and lets the decoder fire
    /// extra frames ([`Context::fire_read`]) or user events before it
    /// returns.
    ///
    /// # Errors
    ///
    /// [`PipelineError::TooLongFrame`] (decoding goes on) or any other
    /// error (the stream is corrupt).
    fn decode(
        &mut self,
        ctx: &mut Context<'_, Self::Frame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<Self::Frame>, PipelineError>;

    /// Called at the end of the stream until it returns `Ok(None)`. The
    /// default calls [`decode`](Self::decode); bytes still left afterwards
    /// are reported as a [`PipelineError::Decode`].
    ///
    /// # Errors
    ///
    /// As [`decode`](Self::decode).
    fn decode_eof(
        &mut self,
        ctx: &mut Context<'_, Self::Frame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<Self::Frame>, PipelineError> {
        self.decode(ctx, buf)
    }

    /// Turns bytes left undecoded when the decoder leaves the pipeline into
    /// a frame the next handler takes, so a protocol switch loses nothing.
    /// The default gives them back only when frames are byte buffers
    /// ([`CompositeBuf`] or `Bytes`); otherwise they are dropped and
    /// reported as an exception.
    fn leftover(&mut self, rest: CompositeBuf) -> Option<Self::Frame> {
        Self::Frame::from_message(rest.into_message()).ok()
    }
}

/// Runs a [`FrameDecoder`] as a pipeline [`Handler`], cumulating reads
/// without copying them (Netty's `ByteToMessageDecoder` with a composite
/// cumulator that never consolidates).
///
/// ```text
///  read "\0\0\0\x05he"   read "llo\0\0"        read "\0\x01!"
///        │                    │                    │
///        ▼                    ▼                    ▼
///  cumulation: [seg A]   [seg A | seg B]      [seg B' | seg C]
///                        frame "hello" = A[4..] + B[..3]  (2 segments, 0 bytes copied)
///                                             frame "!" = C[2..3] (1 segment, inline)
/// ```
///
/// Takes byte messages as a [`CompositeBuf`] (`Bytes` or `Composite`) and
/// hands on [`FrameDecoder::Frame`]s; all the frames cut from one read go
/// to the next handler in one batch ([`Handler::read_batch`]). When removed from a pipeline it
/// passes on what it had buffered (so a protocol switch loses nothing).
/// At the end of the stream (channel inactive) it calls
/// [`FrameDecoder::decode_eof`] and reports leftover bytes as an error.
///
/// **Merge mode** ([`merge_small_leftovers`](Self::merge_small_leftovers)):
/// when a read arrives while fewer than `threshold` bytes are left over,
/// the leftover and up to `threshold` bytes of the new read are copied into
/// one segment (at most `2 × threshold` bytes per read, counted by
/// `weft_buf::record_copy`); the rest of the read is chained. Small frames
/// that straddle a read boundary then come out as one segment, at the cost
/// of that copy. Off by default.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::codec::{ByteToMessageDecoder, FixedLengthFrameDecoder};
/// use weft_buf::CompositeBuf;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// let mut dec = ByteToMessageDecoder::new(FixedLengthFrameDecoder::new(4)?);
/// dec.merge_small_leftovers(256);
/// p.handlers().add_last("fixed", dec)?;
/// let mut ch = EmbeddedChannel::new(p);
/// let (_, copied) = weft_buf::measure_copies(|| {
///     ch.write_inbound(Bytes::from_static(b"ab"));
///     ch.write_inbound(Bytes::from_static(b"cd"));
/// });
/// let frame = ch.read_inbound::<CompositeBuf>().unwrap();
/// assert_eq!(frame, &b"abcd"[..]);
/// assert_eq!(frame.segments().len(), 1);
/// assert_eq!(copied, 4); // "ab" + "cd" merged
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug)]
pub struct ByteToMessageDecoder<D> {
    decoder: D,
    cumulation: CompositeBuf,
    merge_threshold: Option<usize>,
    single: bool,
    failed: bool,
    ended: bool,
}

impl<D: FrameDecoder> ByteToMessageDecoder<D> {
    /// Wraps `decoder`, in composite (no-copy) mode.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn new(decoder: D) -> Self {
        ByteToMessageDecoder {
            decoder,
            cumulation: CompositeBuf::new(),
            merge_threshold: None,
            single: false,
            failed: false,
            ended: false,
        }
    }

    /// Decodes one frame at a time: after handing one on, the decoder waits
    /// until the pipeline has reacted to it before cutting the next (Netty's
    /// `setSingleDecode`, without its wait for the next read). Use it when a
    /// frame may switch protocols.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_pipeline::codec::{ByteToMessageDecoder, FixedLengthFrameDecoder, LineBasedFrameDecoder};
    /// use weft_buf::CompositeBuf;
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Pipeline};
    ///
    /// /// Switches to 3-byte frames after the line "BIN".
    /// struct Upgrade;
    /// impl Handler for Upgrade {
    ///     type In = CompositeBuf;
    ///     type Out = CompositeBuf;
    ///     fn read(&mut self, ctx: &mut Context<'_, CompositeBuf>, line: CompositeBuf) {
    ///         if line == b"BIN"[..] {
    ///             let fixed = ByteToMessageDecoder::new(FixedLengthFrameDecoder::new(3).unwrap());
    ///             ctx.handlers().replace("lines", "fixed", fixed).unwrap();
    ///         } else {
    ///             ctx.fire_read(line);
    ///         }
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// let mut lines = ByteToMessageDecoder::new(LineBasedFrameDecoder::new(64));
    /// lines.single_decode(true);
    /// p.handlers().add_last("lines", lines)?.add_last("upgrade", Upgrade)?;
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(Bytes::from_static(b"hi\nBIN\nab\ncd\n"));
    /// let got: Vec<Bytes> = std::iter::from_fn(|| ch.read_inbound_bytes()).collect();
    /// assert_eq!(got, [&b"hi"[..], b"ab\n", b"cd\n"]);
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    pub fn single_decode(&mut self, on: bool) -> &mut Self {
        self.single = on;
        self
    }

    /// Switches on merge mode with `threshold` bytes (see the type docs);
    /// 0 switches it off.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn merge_small_leftovers(&mut self, threshold: usize) -> &mut Self {
        self.merge_threshold = (threshold > 0).then_some(threshold);
        self
    }

    /// Builder form of [`merge_small_leftovers`](Self::merge_small_leftovers).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
    /// let d = ByteToMessageDecoder::new(LineBasedFrameDecoder::new(80))
    ///     .with_merge(weft_pipeline::codec::DEFAULT_MERGE_THRESHOLD);
    /// assert_eq!(d.buffered(), 0);
    /// ```
    #[must_use]
    pub fn with_merge(mut self, threshold: usize) -> Self {
        self.merge_small_leftovers(threshold);
        self
    }

    /// The wrapped decoder.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::codec::{ByteToMessageDecoder, FixedLengthFrameDecoder};
    /// let d = ByteToMessageDecoder::new(FixedLengthFrameDecoder::new(3).unwrap());
    /// assert_eq!(d.decoder().frame_length(), 3);
    /// ```
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// Bytes received and not yet decoded.
    ///
    /// # Examples
    ///
    /// See [`with_merge`](Self::with_merge).
    pub fn buffered(&self) -> usize {
        self.cumulation.len()
    }

    fn cumulate(&mut self, read: Bytes) {
        if let Some(t) = self.merge_threshold {
            let left = self.cumulation.len();
            if left > 0 && left < t && !read.is_empty() {
                let take = read.len().min(t);
                let mut merged = bytes::BytesMut::with_capacity(left + take);
                for seg in self.cumulation.segments() {
                    merged.extend_from_slice(seg);
                }
                merged.extend_from_slice(&read[..take]);
                record_copy(left + take);
                self.cumulation.clear();
                self.cumulation.push(merged.freeze());
                self.cumulation.push(read.slice(take..));
                return;
            }
        }
        self.cumulation.push(read);
        if self.cumulation.segments().len() > MAX_CUMULATION_SEGMENTS {
            // Counted by `consolidate` (via `to_bytes`).
            self.cumulation.consolidate();
        }
    }

    /// Runs the decoder until it needs more bytes; `eof` selects decode_eof.
    fn decode_all(&mut self, ctx: &mut Context<'_, D::Frame>, eof: bool) {
        while !self.failed && !self.cumulation.is_empty() {
            let before = self.cumulation.len();
            let res = if eof {
                self.decoder.decode_eof(ctx, &mut self.cumulation)
            } else {
                self.decoder.decode(ctx, &mut self.cumulation)
            };
            let consumed = self.cumulation.len() != before;
            match res {
                Ok(Some(frame)) => {
                    if !consumed {
                        self.fail(
                            ctx,
                            PipelineError::decode(
                                "decoder returned a frame without consuming any input",
                            ),
                        );
                        return;
                    }
                    ctx.fire_read(frame);
                    if self.single && !eof {
                        ctx.defer();
                        return;
                    }
                }
                Ok(None) if consumed => {}
                Ok(None) => return,
                Err(e) if e.is_too_long_frame() => {
                    ctx.fire_exception(e);
                    if !consumed {
                        return;
                    }
                }
                Err(e) => {
                    self.fail(ctx, e);
                    return;
                }
            }
        }
    }

    fn fail(&mut self, ctx: &mut Context<'_, D::Frame>, e: PipelineError) {
        self.failed = true;
        self.cumulation.clear();
        ctx.fire_exception(e);
    }

    /// Cumulates one read unless input is no longer taken (after a decode
    /// error or the end of the stream); false then.
    fn take(&mut self, msg: CompositeBuf) -> bool {
        if self.failed || self.ended {
            tracing::debug!(
                len = msg.len(),
                "input after a decode error or end of stream ignored"
            );
            return false;
        }
        for seg in msg.into_segments() {
            self.cumulate(seg);
        }
        true
    }
}

impl<D: FrameDecoder> Handler for ByteToMessageDecoder<D> {
    type In = CompositeBuf;
    type Out = D::Frame;

    fn read(&mut self, ctx: &mut Context<'_, D::Frame>, msg: CompositeBuf) {
        if self.take(msg) {
            self.decode_all(ctx, false);
        }
    }

    /// Several reads at once (a handler before this one batched them):
    /// cumulated first, then decoded once.
    fn read_batch(&mut self, ctx: &mut Context<'_, D::Frame>, batch: Batch<'_, CompositeBuf>) {
        let mut any = false;
        for msg in batch {
            any |= self.take(msg);
        }
        if any {
            self.decode_all(ctx, false);
        }
    }

    fn deferred(&mut self, ctx: &mut Context<'_, D::Frame>) {
        if !self.ended {
            self.decode_all(ctx, false);
        }
    }

    fn event(&mut self, ctx: &mut Context<'_, D::Frame>, event: Event) {
        if matches!(event, Event::Inactive) && !self.ended {
            self.ended = true;
            self.decode_all(ctx, true);
            if !self.failed && !self.cumulation.is_empty() {
                let left = self.cumulation.len();
                self.cumulation.clear();
                ctx.fire_exception(PipelineError::decode(format!(
                    "{left} bytes left undecoded at the end of the stream"
                )));
            }
        }
        ctx.fire_event(event);
    }

    fn handler_removed(&mut self, ctx: &mut Context<'_, D::Frame>) {
        if self.cumulation.is_empty() {
            return;
        }
        let rest = std::mem::take(&mut self.cumulation);
        let len = rest.len();
        match self.decoder.leftover(rest) {
            Some(frame) => {
                ctx.fire_read(frame);
                ctx.fire_read_complete();
            }
            None => ctx.fire_exception(PipelineError::decode(format!(
                "{len} undecoded bytes dropped: the decoder left the pipeline and its frames are not bytes"
            ))),
        }
    }
}
