//! [`HttpDecoder`]: the cumulation in, [`HttpFrame`]s out.
//!
//! ```text
//!  cumulation (ByteToMessageDecoder's, the reads as segments)
//!  ┌──────────────────────────────┬──────────────┬───────────────┐
//!  │ \r\n (blank lines, skipped)  │ head …\r\n\r\n│ body (skipped)│ next head …
//!  └──────────────────────────────┴──────────────┴───────────────┘
//!          find "\r\n\r\n" from where the last search stopped (no rescan;
//!          one LF at a time: an LF without its CR is a 400),
//!          limit checked before anything is flattened;
//!          split_to(head) → one segment: free, several: one counted copy
//!          → httparse → HttpFrame::Request(RequestHead) (inline, no box)
//! ```
//!
//! Line ends are CRLF only. RFC 9112 §2.2 lets a server also take a bare LF
//! as a line end; this one does not: an LF without its CR anywhere in a
//! head (or in the empty lines before it) is answered 400 and the
//! connection closes, as soon as that LF arrives. A bare LF is where
//! parsers disagree about where a header ends (a proxy in front may read
//! `X: a\nContent-Length: 5` as one field, a lenient server as two), so
//! refusing it keeps it from ever changing how a request is framed. The
//! head this decoder cuts is also checked to be exactly what httparse
//! parses. (nginx accepts a bare LF; see the README.)
//!
//! State machine of one connection's input:
//!
//! ```text
//!        ┌────────── head parsed (keep-alive, no body) ───────────┐
//!        ▼                                                        │
//!   [between requests] ─ byte ─▶ [in a head] ─ \r\n\r\n ─▶ parse ─┤
//!        ▲                            │                           │ body: n bytes
//!        │                            │ > MAX_HEAD_BYTES,         ▼
//!        └── n bytes skipped ─────────┼── bad head, ─────────  [skipping a body]
//!                                     ▼   bare LF, close
//!                                         or chunked
//!                                  [done]: everything after is discarded
//! ```

use bytes::Buf;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::FrameDecoder;
use weft_pipeline::{Context, MessageType, PipelineError};

use super::head::{parse_head, BodyKind, RequestHead, MAX_HEAD_BYTES};
use super::Status;

/// What [`HttpDecoder`] hands on: one per request head, in arrival order.
/// Fits a pipeline message inline (no allocation per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFrame {
    /// A well-formed request head.
    Request(RequestHead),
    /// A head that must be answered with this error status; the connection
    /// then closes and the decoder reads nothing more.
    Invalid(Status),
}

impl MessageType for HttpFrame {}

/// Progress of the request now arriving that is not a frame, fired by
/// [`HttpDecoder`] as a user event (not boxed) for the handler's timers:
/// a head that has begun must end within the header timeout, and the idle
/// timeout must not run while a body arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpProgress {
    /// The first bytes of a head arrived, and the head is not complete yet
    /// (fired once per head, only when it spans reads).
    HeadStarted,
    /// The body of the last request has arrived and been skipped; the
    /// decoder waits for the next request.
    BodySkipped,
}

/// The request decoder, run in a
/// [`ByteToMessageDecoder`](weft_pipeline::codec::ByteToMessageDecoder):
/// finds the `\r\n\r\n` that ends a head in the cumulation, even when it
/// straddles reads, checks [`MAX_HEAD_BYTES`] before flattening anything,
/// and parses the head with `httparse` into a [`RequestHead`] that keeps
/// the head's bytes. Lines end in CRLF only: an LF without its CR is
/// answered [`HttpFrame::Invalid`]`(`[`Status::BadRequest`]`)` as soon as it
/// arrives (see the module docs for why).
///
/// A head inside one read is parsed in place (a slice of that read); only
/// a head split across reads is flattened (a counted copy of at most
/// [`MAX_HEAD_BYTES`]). Request bodies (`Content-Length`) are skipped
/// without being read into memory; after a request that closes the
/// connection or an invalid head, the decoder discards everything else.
/// At the end of the stream, a partial head is dropped quietly.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::http::{HttpDecoder, HttpFrame, Method};
/// use weft_pipeline::codec::ByteToMessageDecoder;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("http", ByteToMessageDecoder::new(HttpDecoder::new()))?;
/// let mut ch = EmbeddedChannel::new(p);
/// // A head split in the middle of its terminator, then a pipelined second one.
/// ch.write_inbound(Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r\n\r"));
/// ch.write_inbound(Bytes::from_static(b"\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"));
/// let first = ch.read_inbound::<HttpFrame>().unwrap();
/// let second = ch.read_inbound::<HttpFrame>().unwrap();
/// assert!(matches!(first, HttpFrame::Request(r) if r.target() == "/a"));
/// assert!(matches!(second, HttpFrame::Request(r) if r.method() == Method::Head));
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug, Default)]
pub struct HttpDecoder {
    /// Bytes at the front of the cumulation already searched for the
    /// terminator (only ever bytes of the head now arriving).
    scanned: usize,
    /// Body bytes still to discard.
    skip: u64,
    /// [`HttpProgress::HeadStarted`] was fired for the head now arriving.
    head_announced: bool,
    /// No more requests on this connection.
    done: bool,
}

/// Where the head at the front of the cumulation ends, as far as has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadEnd {
    /// Its CRLF CRLF starts here.
    At(usize),
    /// Not arrived yet.
    NotYet,
    /// An LF without its CR came first.
    BareLf,
    /// The first LF not yet accounted for lies past [`MAX_HEAD_BYTES`]: no
    /// head that fits can end there, bare LF or not.
    TooLong,
}

impl HttpDecoder {
    /// A decoder waiting for the first request.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = weft_examples::http::HttpDecoder::new();
    /// # let _ = d;
    /// ```
    pub fn new() -> HttpDecoder {
        HttpDecoder::default()
    }

    /// Looks for the CRLF CRLF that ends the head at the front of `buf`,
    /// from where the last search stopped, one LF at a time (everything
    /// searched is remembered in `scanned`). A bare LF is refused, never
    /// taken as a line end.
    fn find_head_end(&mut self, buf: &CompositeBuf) -> HeadEnd {
        let mut from = self.scanned;
        while let Some(lf) = buf.find_byte_from(b'\n', from) {
            // Checked first, so the answer does not depend on how the bytes
            // were split: a split one sees the limit pass before this LF.
            if lf >= MAX_HEAD_BYTES {
                return HeadEnd::TooLong;
            }
            let before = |back: usize| lf.checked_sub(back).and_then(|i| buf.try_get_u8_at(i).ok());
            if before(1) != Some(b'\r') {
                return HeadEnd::BareLf;
            }
            if before(2) == Some(b'\n') && before(3) == Some(b'\r') {
                return HeadEnd::At(lf - 3);
            }
            from = lf + 1;
        }
        self.scanned = buf.len();
        HeadEnd::NotYet
    }

    /// Ends decoding: the frame to hand on last, with everything after it
    /// discarded (now and in every later call).
    fn finish(&mut self, buf: &mut CompositeBuf, frame: HttpFrame) -> Option<HttpFrame> {
        self.done = true;
        buf.clear();
        Some(frame)
    }
}

impl FrameDecoder for HttpDecoder {
    type Frame = HttpFrame;

    fn decode(
        &mut self,
        ctx: &mut Context<'_, HttpFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<HttpFrame>, PipelineError> {
        if self.done {
            buf.clear();
            return Ok(None);
        }
        if self.skip > 0 {
            let n = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            buf.advance(n);
            self.skip -= n as u64;
            if self.skip > 0 {
                return Ok(None);
            }
            ctx.fire_user_event(HttpProgress::BodySkipped);
        }
        // RFC 9112 §2.2: ignore empty lines (CRLF) before a request line.
        // No request line starts with CR, so this is safe however the bytes
        // were split (a lone CR waits for what follows).
        while buf.starts_with(b"\r\n") {
            buf.advance(2);
            self.scanned = 0;
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let pos = match self.find_head_end(buf) {
            HeadEnd::At(pos) => pos,
            HeadEnd::BareLf => {
                return Ok(self.finish(buf, HttpFrame::Invalid(Status::BadRequest)));
            }
            HeadEnd::TooLong => {
                return Ok(self.finish(buf, HttpFrame::Invalid(Status::HeaderFieldsTooLarge)));
            }
            HeadEnd::NotYet => {
                // The limit is checked before anything is flattened: a
                // terminator could still end within it only while fewer than
                // MAX_HEAD_BYTES + 3 bytes sit here without one.
                if buf.len() >= MAX_HEAD_BYTES {
                    return Ok(self.finish(buf, HttpFrame::Invalid(Status::HeaderFieldsTooLarge)));
                }
                if !self.head_announced {
                    self.head_announced = true;
                    ctx.fire_user_event(HttpProgress::HeadStarted);
                }
                return Ok(None);
            }
        };
        let head_len = pos + 4;
        if head_len > MAX_HEAD_BYTES {
            return Ok(self.finish(buf, HttpFrame::Invalid(Status::HeaderFieldsTooLarge)));
        }
        self.scanned = 0;
        self.head_announced = false;
        // Free for a head inside one read; a counted copy of at most
        // MAX_HEAD_BYTES for one split across reads.
        let head = buf.split_to(head_len).to_bytes();
        match parse_head(head) {
            Ok((req, body)) => {
                if body == BodyKind::Chunked || !req.keep_alive() {
                    return Ok(self.finish(buf, HttpFrame::Request(req)));
                }
                if let BodyKind::Length(n) = body {
                    self.skip = n;
                }
                Ok(Some(HttpFrame::Request(req)))
            }
            Err(status) => Ok(self.finish(buf, HttpFrame::Invalid(status))),
        }
    }

    /// The end of the stream: what is complete is decoded, a partial head
    /// or body is dropped without an error (a client may hang up mid-request).
    fn decode_eof(
        &mut self,
        ctx: &mut Context<'_, HttpFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<HttpFrame>, PipelineError> {
        let frame = self.decode(ctx, buf)?;
        if frame.is_none() {
            buf.clear();
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weft_buf::measure_copies;
    use weft_pipeline::codec::ByteToMessageDecoder;
    use weft_pipeline::{EmbeddedChannel, Pipeline};

    const TWO: &[u8] =
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n";

    fn channel() -> EmbeddedChannel {
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("http", ByteToMessageDecoder::new(HttpDecoder::new()))
            .unwrap();
        EmbeddedChannel::new(p)
    }

    fn frames(ch: &mut EmbeddedChannel) -> Vec<HttpFrame> {
        let out: Vec<HttpFrame> = std::iter::from_fn(|| ch.read_inbound::<HttpFrame>()).collect();
        assert_eq!(ch.inbound_len(), 0, "only frames reach the tail");
        out
    }

    fn progress(ch: &mut EmbeddedChannel) -> Vec<HttpProgress> {
        std::iter::from_fn(|| ch.read_user_event::<HttpProgress>()).collect()
    }

    fn targets(frames: &[HttpFrame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                HttpFrame::Request(r) => r.target().to_owned(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn two_pipelined_heads_split_at_every_byte_boundary_decode_the_same() {
        for cut in 0..=TWO.len() {
            let mut ch = channel();
            ch.write_inbound(Bytes::copy_from_slice(&TWO[..cut]));
            ch.write_inbound(Bytes::copy_from_slice(&TWO[cut..]));
            assert_eq!(targets(&frames(&mut ch)), ["/a", "/b"], "cut at {cut}");
        }
    }

    #[test]
    fn a_head_in_one_read_is_parsed_without_a_copy() {
        let mut ch = channel();
        let read = Bytes::from_static(TWO);
        let at = read.as_ptr();
        let ((), copied) = measure_copies(|| ch.write_inbound(read));
        assert_eq!(copied, 0);
        let got = frames(&mut ch);
        assert_eq!(got.len(), 2);
        // The head is a slice of the read itself.
        let HttpFrame::Request(first) = &got[0] else {
            panic!("{got:?}")
        };
        assert_eq!(first.as_bytes().as_ptr(), at);
        assert!(progress(&mut ch).is_empty(), "no event for whole heads");
    }

    #[test]
    fn a_head_one_byte_per_read_is_flattened_once() {
        let mut ch = channel();
        let head = &TWO[..28];
        let ((), copied) = measure_copies(|| {
            for b in head {
                ch.write_inbound(Bytes::copy_from_slice(&[*b]));
            }
        });
        assert_eq!(copied, head.len() as u64);
        assert_eq!(targets(&frames(&mut ch)), ["/a"]);
        assert_eq!(
            progress(&mut ch),
            [HttpProgress::HeadStarted],
            "once per head"
        );
    }

    #[test]
    fn empty_lines_before_a_request_are_ignored_however_they_are_split() {
        let input =
            b"\r\n\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        for cut in 0..=input.len() {
            for cut2 in cut..=input.len() {
                let mut ch = channel();
                ch.write_inbound(Bytes::copy_from_slice(&input[..cut]));
                ch.write_inbound(Bytes::copy_from_slice(&input[cut..cut2]));
                ch.write_inbound(Bytes::copy_from_slice(&input[cut2..]));
                assert_eq!(targets(&frames(&mut ch)), ["/a", "/b"], "cuts {cut} {cut2}");
            }
        }
    }

    #[test]
    fn a_bare_lf_is_400_as_soon_as_it_arrives_wherever_it_is() {
        for input in [
            &b"GET /a HTTP/1.1\nHost: x\r\n\r\n"[..],
            b"GET /a HTTP/1.1\r\nHost: x\n\r\n",
            b"GET /a HTTP/1.1\r\nHost: x\r\n\n",
            b"GET /a HTTP/1.1\nHost: x\n\n",
            b"\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\r\n\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\n",
        ] {
            let lf = input
                .iter()
                .enumerate()
                .position(|(i, &b)| b == b'\n' && (i == 0 || input[i - 1] != b'\r'));
            let lf = lf.unwrap();
            // Up to the bare LF: nothing yet. With it: 400, whatever follows.
            let mut ch = channel();
            ch.write_inbound(Bytes::copy_from_slice(&input[..lf]));
            assert!(frames(&mut ch).is_empty(), "{input:?}");
            ch.write_inbound(Bytes::copy_from_slice(&input[lf..=lf]));
            assert_eq!(
                frames(&mut ch),
                [HttpFrame::Invalid(Status::BadRequest)],
                "{input:?}"
            );
            ch.write_inbound(Bytes::copy_from_slice(&input[lf + 1..]));
            assert!(frames(&mut ch).is_empty(), "nothing after: {input:?}");
        }
    }

    #[test]
    fn a_bare_lf_past_the_limit_is_431_however_the_input_is_split() {
        let mut input = b"GET / HTTP/1.1\r\nX: ".to_vec();
        input.resize(MAX_HEAD_BYTES + 10, b'a');
        input.extend_from_slice(b"\nHost: x\r\n\r\n");
        for cut in [
            0,
            100,
            MAX_HEAD_BYTES - 1,
            MAX_HEAD_BYTES,
            MAX_HEAD_BYTES + 10,
            input.len(),
        ] {
            let mut ch = channel();
            ch.write_inbound(Bytes::copy_from_slice(&input[..cut]));
            ch.write_inbound(Bytes::copy_from_slice(&input[cut..]));
            assert_eq!(
                frames(&mut ch),
                [HttpFrame::Invalid(Status::HeaderFieldsTooLarge)],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_bare_lf_in_a_body_or_after_the_head_is_not_looked_at() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na\nbGET /n HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert_eq!(targets(&frames(&mut ch)), ["/p", "/n"]);
    }

    #[test]
    fn a_head_past_the_limit_is_refused_before_it_is_flattened() {
        let mut ch = channel();
        let big = vec![b'a'; MAX_HEAD_BYTES];
        let ((), copied) = measure_copies(|| {
            ch.write_inbound(Bytes::from_static(b"GET / HTTP/1.1\r\nX: "));
            ch.write_inbound(Bytes::from(big));
        });
        assert_eq!(copied, 0);
        assert_eq!(
            frames(&mut ch),
            [HttpFrame::Invalid(Status::HeaderFieldsTooLarge)]
        );
        // Everything after is discarded.
        ch.write_inbound(Bytes::from_static(
            b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert!(frames(&mut ch).is_empty());
        assert!(ch.take_exceptions().is_empty());
    }

    #[test]
    fn a_complete_head_just_over_the_limit_is_refused() {
        let mut ch = channel();
        let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
        head.resize(MAX_HEAD_BYTES - 3, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        ch.write_inbound(Bytes::from(head));
        assert_eq!(
            frames(&mut ch),
            [HttpFrame::Invalid(Status::HeaderFieldsTooLarge)]
        );
    }

    #[test]
    fn a_request_body_is_skipped_and_the_next_request_decoded() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
        ));
        let first = frames(&mut ch);
        assert!(matches!(&first[..], [HttpFrame::Request(r)] if r.has_body()));
        assert!(progress(&mut ch).is_empty(), "the body is still arriving");
        ch.write_inbound(Bytes::from_static(
            b"56789GET /n HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert_eq!(targets(&frames(&mut ch)), ["/n"]);
        assert_eq!(progress(&mut ch), [HttpProgress::BodySkipped]);
    }

    #[test]
    fn nothing_is_decoded_after_connection_close() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(
            b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert_eq!(targets(&frames(&mut ch)), ["/a"]);
        ch.write_inbound(Bytes::from_static(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(frames(&mut ch).is_empty());
    }

    #[test]
    fn a_partial_head_at_the_end_of_the_stream_is_dropped_quietly() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(b"GET /a HTTP/1.1\r\nHo"));
        ch.finish();
        assert!(frames(&mut ch).is_empty());
        assert!(ch.take_exceptions().is_empty());
    }

    mod split {
        use super::*;
        use proptest::prelude::*;

        /// Pieces that make interesting heads: whole requests, bodies,
        /// stray CR/LF, garbage and long fields.
        fn piece() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
                Just(b"HEAD /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec()),
                Just(b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"GET /lf HTTP/1.1\r\nX: a\nHost: x\r\n\r\n".to_vec()),
                Just(b"\r".to_vec()),
                Just(b"X-Long: ".iter().chain(&[b'z'; 3000]).copied().collect()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ]
        }

        fn run(parts: &[&[u8]]) -> Vec<HttpFrame> {
            let mut ch = channel();
            for p in parts {
                ch.write_inbound(Bytes::copy_from_slice(p));
            }
            frames(&mut ch)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn the_same_frames_however_the_input_is_split(
                pieces in proptest::collection::vec(piece(), 1..8),
                cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            ) {
                let input: Vec<u8> = pieces.concat();
                let mut at: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
                at.sort_unstable();
                let mut parts: Vec<&[u8]> = Vec::new();
                let mut from = 0;
                for c in at {
                    parts.push(&input[from..c]);
                    from = c;
                }
                parts.push(&input[from..]);
                prop_assert_eq!(run(&[&input]), run(&parts));
            }
        }
    }
}
