//! [`HttpRequestDecoder`]: bytes in, [`HttpEvent`]s out.

use std::time::{Duration, Instant};

use bytes::Buf;
use weft_buf::CompositeBuf;
use weft_pipeline::{Context, Handler, Message, MessageTypes, TypeFlow};

use super::head::{parse_head, BodyKind, Request, MAX_HEAD_BYTES};
use super::Status;

/// How long a client may take from the first byte of a request head to its
/// end before it is answered 408 and closed (slowloris defence).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a kept-alive connection may sit with nothing to send and no
/// request arriving before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the decoder passes on: one per request head, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpEvent {
    /// A well-formed request head.
    Request(Request),
    /// A head that must be answered with this error status; the connection
    /// then closes and the decoder reads nothing more.
    Invalid(Status),
    /// A head did not arrive in time: answer 408 and close.
    Timeout,
}

/// The request decoder: cumulates reads in a [`CompositeBuf`] (no copy of
/// the reads), finds the `\r\n\r\n` that ends a head even when it straddles
/// reads, checks [`MAX_HEAD_BYTES`] before flattening anything, and parses
/// the head with `httparse`.
///
/// A head inside one read is parsed in place; only a head split across
/// reads is flattened (a counted copy of at most [`MAX_HEAD_BYTES`]).
/// Request bodies (`Content-Length`) are skipped without being read into
/// memory; after a request that closes the connection, an invalid head or a
/// timeout, the decoder discards everything else.
///
/// Timers (through [`Handler::deadline`]): a head must complete within the
/// header timeout of its first byte (408 otherwise), and a connection that
/// waits for a request longer than the idle timeout while it has nothing
/// left to send is closed.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::http::{HttpEvent, HttpRequestDecoder, Method};
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.add_last("http", HttpRequestDecoder::new()).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// // A head split in the middle of its terminator, then a pipelined second one.
/// ch.write_inbound(Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r\n\r"));
/// ch.write_inbound(Bytes::from_static(b"\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"));
/// let first = ch.read_inbound_as::<HttpEvent>().unwrap();
/// let second = ch.read_inbound_as::<HttpEvent>().unwrap();
/// assert!(matches!(first, HttpEvent::Request(r) if r.target == "/a"));
/// assert!(matches!(second, HttpEvent::Request(r) if r.method == Method::Head));
/// ```
#[derive(Debug)]
pub struct HttpRequestDecoder {
    cumulation: CompositeBuf,
    /// Bytes of the cumulation already searched for the terminator.
    scanned: usize,
    /// Body bytes still to discard.
    skip: u64,
    /// No more requests on this connection.
    done: bool,
    header_timeout: Duration,
    idle_timeout: Duration,
    /// When the first byte of the head now arriving came.
    head_started: Option<Instant>,
    /// Since when the connection has been waiting for a request.
    waiting_since: Option<Instant>,
    /// Set when the idle wait must restart at the next timer.
    rearm_at: Option<Instant>,
    writable: bool,
}

impl Default for HttpRequestDecoder {
    fn default() -> Self {
        HttpRequestDecoder::new()
    }
}

impl HttpRequestDecoder {
    /// A decoder with the default timeouts.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = weft_examples::http::HttpRequestDecoder::new();
    /// # let _ = d;
    /// ```
    pub fn new() -> HttpRequestDecoder {
        HttpRequestDecoder::with_timeouts(DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT)
    }

    /// A decoder with the given header and idle timeouts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let d = weft_examples::http::HttpRequestDecoder::with_timeouts(
    ///     Duration::from_secs(5),
    ///     Duration::from_secs(30),
    /// );
    /// # let _ = d;
    /// ```
    pub fn with_timeouts(header: Duration, idle: Duration) -> HttpRequestDecoder {
        HttpRequestDecoder {
            cumulation: CompositeBuf::new(),
            scanned: 0,
            skip: 0,
            done: false,
            header_timeout: header,
            idle_timeout: idle,
            head_started: None,
            waiting_since: None,
            rearm_at: None,
            writable: true,
        }
    }

    fn finish(&mut self, ctx: &mut Context<'_>, ev: HttpEvent) {
        self.done = true;
        self.cumulation.clear();
        self.head_started = None;
        self.waiting_since = None;
        ctx.fire_read(Message::user(ev));
    }

    fn decode(&mut self, ctx: &mut Context<'_>) {
        while !self.done {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(self.cumulation.len());
                self.cumulation.advance(n);
                self.skip -= n as u64;
                if self.skip > 0 {
                    return;
                }
            }
            // RFC 9112 §2.2: ignore empty lines before a request line. No
            // request line starts with CR or LF, so this is safe however the
            // bytes were split (a lone CR waits for what follows).
            loop {
                if self.cumulation.starts_with(b"\r\n") {
                    self.cumulation.advance(2);
                } else if self.cumulation.starts_with(b"\n") {
                    self.cumulation.advance(1);
                } else {
                    break;
                }
                self.scanned = 0;
            }
            if self.cumulation.is_empty() {
                return;
            }
            let now = ctx.now();
            self.head_started.get_or_insert(now);
            let from = self.scanned.saturating_sub(3);
            let Some(pos) = self.cumulation.find_from(b"\r\n\r\n", from) else {
                // The limit is checked before anything is flattened: a
                // terminator could still end within it only while fewer than
                // MAX_HEAD_BYTES + 3 bytes sit here without one.
                if self.cumulation.len() >= MAX_HEAD_BYTES {
                    self.finish(ctx, HttpEvent::Invalid(Status::HeaderFieldsTooLarge));
                } else {
                    self.scanned = self.cumulation.len();
                }
                return;
            };
            let head_len = pos + 4;
            if head_len > MAX_HEAD_BYTES {
                self.finish(ctx, HttpEvent::Invalid(Status::HeaderFieldsTooLarge));
                return;
            }
            let head = self.cumulation.split_to(head_len);
            self.scanned = 0;
            self.head_started = None;
            // Free for a head inside one read; a counted copy of at most
            // MAX_HEAD_BYTES for one split across reads.
            let flat = head.to_bytes();
            match parse_head(&flat) {
                Ok(req) => {
                    if req.body == BodyKind::Chunked || !req.keep_alive {
                        self.finish(ctx, HttpEvent::Request(req));
                        return;
                    }
                    if let BodyKind::Length(n) = req.body {
                        self.skip = n;
                    }
                    self.waiting_since = Some(now);
                    ctx.fire_read(Message::user(HttpEvent::Request(req)));
                }
                Err(status) => {
                    self.finish(ctx, HttpEvent::Invalid(status));
                    return;
                }
            }
        }
    }
}

impl Handler for HttpRequestDecoder {
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::transform(MessageTypes::BUFFERS, MessageTypes::of::<HttpEvent>())
    }

    fn channel_active(&mut self, ctx: &mut Context<'_>) {
        self.waiting_since = Some(ctx.now());
        ctx.fire_channel_active();
    }

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        if self.done {
            return;
        }
        match msg {
            Message::Bytes(b) => self.cumulation.push(b),
            Message::Composite(c) => self.cumulation.append(c),
            other => {
                ctx.fire_read(other);
                return;
            }
        }
        self.decode(ctx);
    }

    fn writability_changed(&mut self, ctx: &mut Context<'_>, writable: bool) {
        self.writable = writable;
        if writable && self.waiting_since.is_some() {
            // A long response has (nearly) drained: the idle wait starts
            // now. weft-transport fires this event without setting the
            // pipeline's clock, so `ctx.now()` may be as old as the last
            // read; a timer due at once restarts the wait with a fresh one.
            self.rearm_at.get_or_insert(ctx.now());
        }
        ctx.fire_writability_changed(writable);
    }

    fn deadline(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        if let Some(started) = self.head_started {
            return started.checked_add(self.header_timeout);
        }
        if self.rearm_at.is_some() {
            return self.rearm_at;
        }
        if self.writable && self.skip == 0 {
            return self.waiting_since?.checked_add(self.idle_timeout);
        }
        None
    }

    fn timer(&mut self, ctx: &mut Context<'_>) {
        if self.done {
            return;
        }
        let now = ctx.now();
        if self.rearm_at.take().is_some() && self.waiting_since.is_some() {
            self.waiting_since = Some(now);
        }
        if let Some(started) = self.head_started {
            if started
                .checked_add(self.header_timeout)
                .is_some_and(|d| now >= d)
            {
                self.finish(ctx, HttpEvent::Timeout);
            }
        } else if let Some(since) = self.waiting_since {
            if self.writable
                && since
                    .checked_add(self.idle_timeout)
                    .is_some_and(|d| now >= d)
            {
                self.done = true;
                self.waiting_since = None;
                ctx.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weft_buf::measure_copies;
    use weft_pipeline::{EmbeddedChannel, Pipeline};

    const TWO: &[u8] =
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n";

    fn channel() -> EmbeddedChannel {
        let mut p = Pipeline::new();
        p.add_last(
            "http",
            HttpRequestDecoder::with_timeouts(Duration::from_secs(5), Duration::from_secs(30)),
        )
        .unwrap();
        EmbeddedChannel::new(p)
    }

    fn events(ch: &mut EmbeddedChannel) -> Vec<HttpEvent> {
        std::iter::from_fn(|| ch.read_inbound_as::<HttpEvent>()).collect()
    }

    fn targets(evs: &[HttpEvent]) -> Vec<String> {
        evs.iter()
            .map(|e| match e {
                HttpEvent::Request(r) => r.target.clone(),
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
            assert_eq!(targets(&events(&mut ch)), ["/a", "/b"], "cut at {cut}");
        }
    }

    #[test]
    fn a_head_in_one_read_is_parsed_without_a_copy() {
        let mut ch = channel();
        let ((), copied) = measure_copies(|| ch.write_inbound(Bytes::from_static(TWO)));
        assert_eq!(copied, 0);
        assert_eq!(events(&mut ch).len(), 2);
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
        assert_eq!(targets(&events(&mut ch)), ["/a"]);
    }

    #[test]
    fn empty_lines_before_a_request_are_ignored_however_they_are_split() {
        let input =
            b"\r\n\r\n\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        for cut in 0..=input.len() {
            for cut2 in cut..=input.len() {
                let mut ch = channel();
                ch.write_inbound(Bytes::copy_from_slice(&input[..cut]));
                ch.write_inbound(Bytes::copy_from_slice(&input[cut..cut2]));
                ch.write_inbound(Bytes::copy_from_slice(&input[cut2..]));
                assert_eq!(targets(&events(&mut ch)), ["/a", "/b"], "cuts {cut} {cut2}");
            }
        }
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
            events(&mut ch),
            [HttpEvent::Invalid(Status::HeaderFieldsTooLarge)]
        );
        // Everything after is discarded.
        ch.write_inbound(Bytes::from_static(
            b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert!(events(&mut ch).is_empty());
    }

    #[test]
    fn a_complete_head_just_over_the_limit_is_refused() {
        let mut ch = channel();
        let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
        head.resize(MAX_HEAD_BYTES - 3, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        ch.write_inbound(Bytes::from(head));
        assert_eq!(
            events(&mut ch),
            [HttpEvent::Invalid(Status::HeaderFieldsTooLarge)]
        );
    }

    #[test]
    fn a_request_body_is_skipped_and_the_next_request_decoded() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
        ));
        ch.write_inbound(Bytes::from_static(
            b"56789GET /n HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert_eq!(targets(&events(&mut ch)), ["/p", "/n"]);
    }

    #[test]
    fn nothing_is_decoded_after_connection_close() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(
            b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        assert_eq!(targets(&events(&mut ch)), ["/a"]);
    }

    #[test]
    fn a_trickling_head_times_out_on_the_virtual_clock() {
        let mut ch = channel();
        for _ in 0..4 {
            ch.write_inbound(Bytes::from_static(b"G"));
            ch.advance(Duration::from_secs(1));
        }
        assert!(events(&mut ch).is_empty());
        ch.advance(Duration::from_secs(1));
        assert_eq!(events(&mut ch), [HttpEvent::Timeout]);
    }

    #[test]
    fn an_idle_connection_is_closed_but_not_while_a_response_drains() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        ch.set_writable(false);
        ch.advance(Duration::from_secs(31));
        assert!(!ch.is_closed(), "a long response is still going out");
        ch.set_writable(true);
        ch.advance(Duration::ZERO);
        ch.advance(Duration::from_secs(29));
        assert!(!ch.is_closed());
        ch.advance(Duration::from_secs(2));
        assert!(ch.is_closed());
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
                Just(b"\r".to_vec()),
                Just(b"X-Long: ".iter().chain(&[b'z'; 3000]).copied().collect()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ]
        }

        fn run(parts: &[&[u8]]) -> Vec<HttpEvent> {
            let mut ch = channel();
            for p in parts {
                ch.write_inbound(Bytes::copy_from_slice(p));
            }
            events(&mut ch)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn the_same_events_however_the_input_is_split(
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
