//! `weft echo`: echoes framed messages back without copying them.
//!
//! Two framings:
//!
//! - `length`: a 4-byte big-endian length, not counting itself, then that
//!   many bytes. Frames longer than `--max-frame` (16 MiB by default) are
//!   refused before any of their bytes are buffered, and the connection
//!   closes.
//! - `line`: `\n`-terminated lines (`\r\n` accepted and echoed as sent);
//!   a line longer than `--max-frame` closes the connection.
//!
//! ```text
//!  length: socket ─▶ LengthFieldBasedFrameDecoder ─▶ Echo ─▶ socket
//!                    (checks the 4-byte prefix against     (the frame, prefix included,
//!                     --max-frame; the frame is a slice     written back untouched: writev)
//!                     of the reads, prefix included)
//!  line:   socket ─▶ LineBasedFrameDecoder (keeps the delimiter) ─▶ Echo ─▶ socket
//! ```
//!
//! The frame the decoder hands on is a `Bytes` slice of one read, or a
//! `CompositeBuf` of slices when it spans reads; `Echo` writes that same
//! value back, so no payload byte is copied in user space.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use weft_buf::CompositeBuf;
use weft_pipeline::codec::{
    ByteToMessageDecoder, LengthFieldBasedFrameDecoder, LineBasedFrameDecoder,
};
use weft_pipeline::{Batch, Context, Event, Handler, Nothing, Pipeline, PipelineError};

use crate::common::raise_nofile_limit;

/// The default largest frame: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// How `weft echo` cuts the byte stream into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Framing {
    /// A 4-byte big-endian length prefix that does not count itself.
    Length,
    /// `\n`-terminated lines; `\r\n` is accepted.
    Line,
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::Length => "length",
            Framing::Line => "line",
        })
    }
}

/// Writes every frame it reads back to the peer, unchanged: the frames cut
/// from one read arrive as one batch and go back as one write of one
/// [`CompositeBuf`] (their segments, no copy); one flush when the reads of
/// this wakeup are over, so many small frames go out in one `writev`.
///
/// Backpressure: when the channel stops being writable (a peer that sends
/// but does not read), `Echo` switches reading off, and back on once the
/// outbound buffer has drained below its low watermark, so such a peer
/// cannot make the server buffer without bound.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::echo::Echo;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("echo", Echo::new()).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"ping"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"ping"[..]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Echo {
    /// Reading is off until the channel is writable again.
    paused: bool,
}

impl Echo {
    /// A new echo handler.
    ///
    /// # Examples
    ///
    /// ```
    /// let _e = weft_examples::echo::Echo::new();
    /// ```
    pub fn new() -> Echo {
        Echo::default()
    }
}

impl Handler for Echo {
    type In = CompositeBuf;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: CompositeBuf) {
        ctx.write(frame);
    }

    fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, frames: Batch<'_, CompositeBuf>) {
        let mut all = CompositeBuf::with_capacity(frames.len());
        for frame in frames {
            all.append(frame);
        }
        ctx.write(all);
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        match event {
            // The reads of this wakeup are over: one flush for all their
            // batches, so their echoes share a writev.
            Event::ReadComplete => ctx.flush(),
            Event::Writability(false) if !self.paused => {
                self.paused = true;
                ctx.set_auto_read(false);
            }
            // Resume at once: the transport runs what a handler does in
            // this event right after it. Resuming from a due timer instead
            // cost a timer tick (1 ms) per pause, which a client with
            // 512 KiB in flight hit on every window.
            Event::Writability(true) if self.paused => {
                self.paused = false;
                ctx.set_auto_read(true);
            }
            // A too-long frame or an I/O error ends the connection: the
            // peer broke the protocol or went away, which is not a server
            // error.
            Event::Exception(err) => {
                tracing::info!(error = %err, "closing the connection");
                ctx.close();
                return;
            }
            _ => {}
        }
        ctx.fire_event(event);
    }
}

/// Fills the pipeline of one echo connection: the framer, then [`Echo`].
///
/// # Errors
///
/// [`PipelineError::InvalidConfig`] if `max_frame` does not fit the 4-byte
/// length field.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::echo::{init_pipeline, Framing};
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// init_pipeline(&mut p, Framing::Length, 1024).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"\0\0\0\x02hi\0\0"));
/// ch.write_inbound(Bytes::from_static(b"\0\x01!"));
/// let mut out = Vec::new();
/// while let Some(b) = ch.read_outbound_bytes() {
///     out.extend_from_slice(&b);
/// }
/// assert_eq!(out, b"\0\0\0\x02hi\0\0\0\x01!");
/// ```
pub fn init_pipeline(
    p: &mut Pipeline,
    framing: Framing,
    max_frame: usize,
) -> Result<(), PipelineError> {
    match framing {
        Framing::Length => {
            if max_frame as u64 > u64::from(u32::MAX) {
                return Err(PipelineError::InvalidConfig(format!(
                    "--max-frame {max_frame} does not fit a 4-byte length"
                )));
            }
            // Netty's max frame length counts the 4-byte header too.
            let max_total = (max_frame as u64).saturating_add(4);
            // The frame is echoed with the header it came with: nothing is
            // stripped, so nothing has to be prepended again (no 4-byte
            // allocation and no extra iovec per frame), and a frame inside
            // one read goes back as one slice of it.
            let decoder = LengthFieldBasedFrameDecoder::new(max_total, 0, 4, 0, 0)?;
            p.handlers()
                .add_last("framer", ByteToMessageDecoder::new(decoder))?;
        }
        Framing::Line => {
            let decoder = LineBasedFrameDecoder::new(max_frame).strip_delimiter(false);
            p.handlers()
                .add_last("framer", ByteToMessageDecoder::new(decoder))?;
        }
    }
    p.handlers().add_last("echo", Echo::new())?;
    Ok(())
}

/// Arguments of `weft echo`.
#[derive(Debug, Clone, clap::Args)]
pub struct EchoArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:7007")]
    pub listen: SocketAddr,
    /// `length` (4-byte big-endian prefix) or `line` (`\n`-terminated).
    #[arg(long, value_enum)]
    pub framing: Framing,
    /// Largest message in bytes (prefix or line delimiter not counted).
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
    /// TLS (`--tls-cert`, `--tls-key`).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
}

/// Runs `weft echo` until SIGINT or SIGTERM.
///
/// # Errors
///
/// Fails if `--max-frame` is out of range, the address cannot be bound or
/// the signal handlers cannot be installed.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use weft_examples::echo::{run, EchoArgs, Framing, DEFAULT_MAX_FRAME};
/// run(EchoArgs {
///     listen: "127.0.0.1:0".parse().unwrap(),
///     framing: Framing::Line,
///     max_frame: DEFAULT_MAX_FRAME,
///     tls: Default::default(),
/// })
/// .await
/// # }
/// ```
pub async fn run(args: EchoArgs) -> io::Result<()> {
    if let Err(e) = raise_nofile_limit() {
        tracing::warn!("cannot raise the descriptor limit: {e}");
    }
    // Check the configuration once, before binding.
    init_pipeline(&mut Pipeline::new(), args.framing, args.max_frame).map_err(io::Error::other)?;
    let (framing, max) = (args.framing, args.max_frame);
    let mut builder = crate::common::server_builder();
    if let Some(tls) = args.tls.acceptor(&[])? {
        builder.tls(tls);
    }
    let server = builder
        .bind_tcp(args.listen, move |p| init_pipeline(p, framing, max))
        .map_err(io::Error::other)?;
    crate::common::serve_until_signal(server, args.listen).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weft_buf::measure_copies;
    use weft_pipeline::{EmbeddedChannel, Wire};

    fn channel(framing: Framing, max: usize) -> EmbeddedChannel {
        let mut p = Pipeline::new();
        init_pipeline(&mut p, framing, max).unwrap();
        EmbeddedChannel::new(p)
    }

    /// Every write that reached the head, as the segments it carries.
    fn drain(ch: &mut EmbeddedChannel) -> Vec<Vec<Bytes>> {
        std::iter::from_fn(|| ch.read_outbound_wire())
            .map(|w| match w {
                Wire::Bytes(b) => vec![b],
                Wire::Composite(c) => c.into_segments().collect(),
                Wire::File(f) => panic!("unexpected {f:?}"),
            })
            .collect()
    }

    fn flat(writes: &[Vec<Bytes>]) -> Vec<u8> {
        writes
            .iter()
            .flatten()
            .flat_map(|b| b.iter().copied())
            .collect()
    }

    #[test]
    fn a_length_frame_split_across_three_reads_is_echoed_without_a_copy() {
        let mut ch = channel(Framing::Length, 64);
        let ((), copied) = measure_copies(|| {
            ch.write_inbound(Bytes::from_static(b"\0\0"));
            ch.write_inbound(Bytes::from_static(b"\0\x0bhello "));
            ch.write_inbound(Bytes::from_static(b"world\0\0\0\0"));
        });
        let out = drain(&mut ch);
        assert_eq!(flat(&out), b"\0\0\0\x0bhello world\0\0\0\0");
        assert_eq!(copied, 0);
    }

    #[test]
    fn the_echoed_body_is_the_very_memory_that_was_read() {
        let mut ch = channel(Framing::Length, 64);
        let read = Bytes::from_static(b"\0\0\0\x05hello");
        ch.write_inbound(read.clone());
        let out = drain(&mut ch);
        // Header and body go back as the one slice of the read they came in.
        let [segs] = &out[..] else { panic!("{out:?}") };
        let [frame] = &segs[..] else {
            panic!("{segs:?}")
        };
        assert_eq!(frame, &read);
        assert_eq!(frame.as_ptr(), read.as_ptr());
        assert_eq!(frame[4..].as_ptr(), read[4..].as_ptr());
    }

    #[test]
    fn frames_of_one_read_go_back_as_slices_of_it_each_with_its_header() {
        let mut ch = channel(Framing::Length, 64);
        let read = Bytes::from_static(b"\0\0\0\x02hi\0\0\0\0\0\0\0\x01!");
        let ((), copied) = measure_copies(|| ch.write_inbound(read.clone()));
        assert_eq!(copied, 0);
        let out = drain(&mut ch);
        // The three frames of the one read: one batch, one write, one flush.
        assert_eq!(out.len(), 1, "{out:?}");
        let ptrs: Vec<*const u8> = out[0].iter().map(|b| b.as_ptr()).collect();
        assert_eq!(
            ptrs,
            [read.as_ptr(), read[6..].as_ptr(), read[10..].as_ptr()]
        );
        assert_eq!(flat(&out), &read[..]);
    }

    #[test]
    fn lines_keep_their_delimiters_and_are_not_copied() {
        let mut ch = channel(Framing::Line, 64);
        let ((), copied) = measure_copies(|| {
            ch.write_inbound(Bytes::from_static(b"a\r\nb"));
            ch.write_inbound(Bytes::from_static(b"c\n"));
        });
        assert_eq!(flat(&drain(&mut ch)), b"a\r\nbc\n");
        assert_eq!(copied, 0);
    }

    #[test]
    fn reading_stops_while_the_channel_is_not_writable() {
        let mut ch = channel(Framing::Line, 64);
        ch.set_writable(false);
        assert!(!ch.auto_read());
        ch.set_writable(true);
        assert!(ch.auto_read(), "resumes as soon as it is writable");
        // Auto-read is channel state, not an outbound operation.
        assert!(ch.read_outbound().is_none());
    }

    #[test]
    fn too_long_frames_close_the_connection() {
        let mut ch = channel(Framing::Length, 8);
        ch.write_inbound(Bytes::from_static(b"\0\0\0\x09"));
        assert!(ch.is_closed());
        assert!(drain(&mut ch).is_empty());
        let mut ch = channel(Framing::Line, 4);
        ch.write_inbound(Bytes::from_static(b"toolong"));
        assert!(ch.is_closed());
    }
}
