//! The RESP server on Weft's public API: a [`RespHandler`] that parses the
//! reads itself, runs each request and sends the replies of a read batch
//! with one flush.
//!
//! ```text
//!  socket ─▶ RespHandler: cumulation (CompositeBuf of the reads)
//!              │ RequestParser::decode_values: args as slices, reused vector
//!              ▼ command::execute(Db, locked once per read)
//!            replies of the batch: one CompositeBuf, one flush, one writev
//! ```
//!
//! Parsing inside the handler, rather than in a `ByteToMessageDecoder` in
//! front of it, saves a boxed message, a pipeline dispatch and an argument
//! vector per request: with pipelined requests these were most of the cost
//! of a `PING`. [`RespDecoder`] remains for pipelines that want requests as
//! messages; [`RespHandler`] answers those too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{FrameDecoder, MAX_CUMULATION_SEGMENTS};
use weft_pipeline::{Context, Handler, Message, MessageTypes, Pipeline, PipelineError, TypeFlow};

use super::command::{execute, After};
use super::db::{Db, SWEEP_BATCH};
use super::parser::{ProtocolError, Request, RequestParser};
use super::reply::{Reply, ReplyWriter};
use super::value::Value;

/// How often the background sweep removes expired keys (Redis' `hz` 10).
pub const SWEEP_PERIOD: Duration = Duration::from_millis(100);

/// Replies of one read batch handed on (not yet flushed) once this many
/// bytes are pending, so a long pipeline is answered in bounded pieces.
pub const EARLY_WRITE_BYTES: usize = 64 * 1024;

/// What the decoder hands the handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum Frame {
    /// One request (command name and arguments).
    Request(Request),
    /// The stream is corrupt: answer this and close.
    ProtocolError(ProtocolError),
}

/// Cuts RESP requests out of the cumulation with a [`RequestParser`].
/// After a protocol error it ignores the rest of the stream.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::codec::ByteToMessageDecoder;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
/// use weft_examples::resp::server::{Frame, RespDecoder};
///
/// let mut p = Pipeline::new();
/// p.add_last("resp", ByteToMessageDecoder::new(RespDecoder::default())).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"PING\r\n"));
/// let frame = ch.read_inbound().unwrap().downcast::<Frame>().unwrap();
/// assert!(matches!(frame, Frame::Request(args) if args[0] == &b"PING"[..]));
/// ```
#[derive(Debug, Default)]
pub struct RespDecoder {
    parser: RequestParser,
    failed: bool,
}

impl FrameDecoder for RespDecoder {
    fn decode(&mut self, buf: &mut CompositeBuf) -> Result<Option<Message>, PipelineError> {
        if self.failed {
            buf.clear();
            return Ok(None);
        }
        match self.parser.decode(buf) {
            Ok(Some(req)) => Ok(Some(Message::user(Frame::Request(req)))),
            Ok(None) => Ok(None),
            Err(e) => {
                // Everything after a protocol error is ignored, as Redis
                // does while it closes the connection.
                self.failed = true;
                buf.clear();
                Ok(Some(Message::user(Frame::ProtocolError(e))))
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut CompositeBuf) -> Result<Option<Message>, PipelineError> {
        let out = self.decode(buf)?;
        if out.is_none() {
            // A request cut short by the peer's close is dropped, as Redis does.
            buf.clear();
        }
        Ok(out)
    }

    fn emits(&self) -> MessageTypes {
        MessageTypes::of::<Frame>()
    }
}

/// Parses the reads (`Bytes` / `Composite` messages) into requests, runs
/// them against the shared [`Db`] and writes their replies: all replies of
/// one read batch are one `CompositeBuf` written and flushed at
/// `read_complete`, so pipelined requests cost one `writev`. It also
/// answers [`Frame`]s from a [`RespDecoder`] placed in front of it.
///
/// Stops reading while the transport says the connection is not writable
/// (a client that pipelines without reading cannot grow the outbound
/// buffer without bound).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use bytes::Bytes;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
/// use weft_examples::resp::{db::Db, server::add_resp_handlers};
///
/// let mut p = Pipeline::new();
/// add_resp_handlers(&mut p, Arc::new(Mutex::new(Db::new()))).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nhi\r\nGET k\r\n"));
/// let out = ch.read_outbound_bytes().unwrap();
/// assert_eq!(out, &b"+OK\r\n$2\r\nhi\r\n"[..]);
/// ```
#[derive(Debug)]
pub struct RespHandler {
    db: Arc<Mutex<Db>>,
    out: ReplyWriter,
    /// Replies were written in this batch and await the flush.
    unflushed: bool,
    close_after_reply: bool,
    parser: RequestParser,
    /// Received bytes not parsed yet: the reads themselves, as segments.
    cumulation: CompositeBuf,
}

impl RespHandler {
    /// A handler over a shared key space.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let db = Arc::new(Mutex::new(weft_examples::resp::db::Db::new()));
    /// let _h = weft_examples::resp::server::RespHandler::new(db);
    /// ```
    pub fn new(db: Arc<Mutex<Db>>) -> RespHandler {
        RespHandler {
            db,
            out: ReplyWriter::new(),
            unflushed: false,
            close_after_reply: false,
            parser: RequestParser::new(),
            cumulation: CompositeBuf::new(),
        }
    }

    fn cumulate(&mut self, read: Bytes) {
        self.cumulation.push(read);
        if self.cumulation.segments().len() > MAX_CUMULATION_SEGMENTS {
            // A peer sending a byte per packet; counted by `consolidate`.
            self.cumulation.consolidate();
        }
    }

    /// Runs every complete request in the cumulation, with one lock of the
    /// key space and one clock reading for the batch.
    fn run_parsed(&mut self, ctx: &mut Context<'_>) {
        let now = Instant::now();
        let mut db = lock(&self.db);
        loop {
            match self.parser.decode_values(&mut self.cumulation) {
                Ok(Some(args)) => {
                    let (reply, after) = execute(&mut db, args, now);
                    self.out.push(&reply);
                    if after == After::Close {
                        self.close_after_reply = true;
                        self.cumulation.clear();
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    // Everything after a protocol error is ignored, as Redis
                    // does while it closes the connection.
                    self.out.push(&Reply::err(e));
                    self.close_after_reply = true;
                    self.cumulation.clear();
                    return;
                }
            }
            // A long pipeline in one read is answered in pieces of bounded size.
            if self.out.pending_bytes() >= EARLY_WRITE_BYTES {
                ctx.write(self.out.finish());
                self.unflushed = true;
            }
        }
    }

    fn send(&mut self, ctx: &mut Context<'_>) {
        if !self.out.is_empty() {
            ctx.write(self.out.finish());
            self.unflushed = true;
        }
        if self.unflushed {
            ctx.flush();
            self.unflushed = false;
        }
        if self.close_after_reply {
            ctx.close();
        }
    }
}

/// Locks the key space; a poisoned lock (a panic elsewhere) still holds a
/// consistent map, so it is used as is.
fn lock(db: &Mutex<Db>) -> MutexGuard<'_, Db> {
    db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Handler for RespHandler {
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::sink(MessageTypes::BUFFERS.or(MessageTypes::of::<Frame>()))
    }

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        if self.close_after_reply {
            return;
        }
        let frame = match msg {
            Message::Bytes(b) => {
                self.cumulate(b);
                return self.run_parsed(ctx);
            }
            Message::Composite(c) => {
                for seg in c.into_segments() {
                    self.cumulate(seg);
                }
                return self.run_parsed(ctx);
            }
            other => match other.downcast::<Frame>() {
                Ok(frame) => frame,
                Err(_) => return,
            },
        };
        match frame {
            Frame::Request(args) => {
                let args: Vec<Value> = args.into_iter().map(Value::from).collect();
                let (reply, after) = execute(&mut lock(&self.db), &args, Instant::now());
                self.out.push(&reply);
                if after == After::Close {
                    self.close_after_reply = true;
                }
            }
            Frame::ProtocolError(e) => {
                self.out.push(&Reply::err(e));
                self.close_after_reply = true;
            }
        }
        if self.out.pending_bytes() >= EARLY_WRITE_BYTES {
            ctx.write(self.out.finish());
            self.unflushed = true;
        }
    }

    fn read_complete(&mut self, ctx: &mut Context<'_>) {
        self.send(ctx);
        ctx.fire_read_complete();
    }

    fn writability_changed(&mut self, ctx: &mut Context<'_>, writable: bool) {
        ctx.set_auto_read(writable);
        ctx.fire_writability_changed(writable);
    }

    fn channel_inactive(&mut self, ctx: &mut Context<'_>) {
        ctx.fire_channel_inactive();
    }
}

/// Adds the RESP handler (which parses the reads itself) to a connection's
/// pipeline.
///
/// # Errors
///
/// A [`PipelineError`] if the pipeline refuses them (names taken).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let mut p = weft_pipeline::Pipeline::new();
/// let db = Arc::new(Mutex::new(weft_examples::resp::db::Db::new()));
/// weft_examples::resp::server::add_resp_handlers(&mut p, db).unwrap();
/// ```
pub fn add_resp_handlers(p: &mut Pipeline, db: Arc<Mutex<Db>>) -> Result<(), PipelineError> {
    p.add_last("resp", RespHandler::new(db))?;
    Ok(())
}

/// Runs the server on `listen` until SIGINT/SIGTERM: prints
/// `listening on ADDR` first, sweeps expired keys in the background, and
/// shuts down gracefully.
///
/// # Errors
///
/// I/O errors binding the address or installing the signal handlers.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// weft_examples::resp::server::run("127.0.0.1:0".parse().unwrap()).await
/// # }
/// ```
pub async fn run(listen: SocketAddr) -> std::io::Result<()> {
    let _ = crate::common::raise_nofile_limit();
    let db = Arc::new(Mutex::new(Db::new()));
    let mut config = weft_transport::ChannelConfig::default();
    config.nodelay(true);
    let init_db = db.clone();
    let server = weft_transport::ServerBuilder::new()
        .config(config)
        .bind_tcp(listen, move |p| add_resp_handlers(p, init_db.clone()))
        .map_err(std::io::Error::other)?;
    let addr = server.local_addr().unwrap_or(listen);
    crate::common::announce(addr);
    tracing::info!(%addr, "resp server started");
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_PERIOD);
        loop {
            tick.tick().await;
            let removed = lock(&db).sweep(Instant::now(), SWEEP_BATCH);
            if removed > 0 {
                tracing::debug!(removed, "expired keys swept");
            }
        }
    });
    let signal = crate::common::shutdown_signal().await;
    sweeper.abort();
    tracing::info!("shutting down");
    server
        .shutdown(Duration::from_secs(5))
        .await
        .map_err(std::io::Error::other)?;
    signal
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weft_pipeline::EmbeddedChannel;

    fn channel() -> EmbeddedChannel {
        let mut p = Pipeline::new();
        add_resp_handlers(&mut p, Arc::new(Mutex::new(Db::new()))).unwrap();
        EmbeddedChannel::new(p)
    }

    #[test]
    fn a_value_arriving_in_many_reads_is_stored_without_a_copy() {
        let mut ch = channel();
        let size = 100_000;
        let value: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut req = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${size}\r\n").into_bytes();
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\nGET big\r\n");
        let ((), copied) = weft_buf::measure_copies(|| {
            for piece in req.chunks(7919) {
                ch.write_inbound(Bytes::copy_from_slice(piece));
            }
        });
        assert_eq!(copied, 0);
        let mut out = Vec::new();
        while let Some(b) = ch.read_outbound_bytes() {
            out.extend_from_slice(&b);
        }
        let mut want = b"+OK\r\n".to_vec();
        want.extend_from_slice(format!("${size}\r\n").as_bytes());
        want.extend_from_slice(&value);
        want.extend_from_slice(b"\r\n");
        assert!(out == want, "got {} bytes", out.len());
    }

    #[test]
    fn get_replies_with_the_very_bytes_set_stored_and_one_flush_per_batch() {
        let mut ch = channel();
        let read = Bytes::from_static(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$11\r\nhello world\r\n");
        let value_ptr = read[25..].as_ptr();
        ch.write_inbound(read.clone());
        assert_eq!(ch.read_outbound_bytes().unwrap(), &b"+OK\r\n"[..]);
        while ch.read_outbound().is_some() {}
        let (_, copied) = weft_buf::measure_copies(|| {
            ch.write_inbound(Bytes::from_static(b"GET k\r\nGET k\r\n"))
        });
        assert_eq!(copied, 0);
        // One write of both replies, then one flush.
        let Some(weft_pipeline::HeadOp::Write(Message::Composite(reply), _)) = ch.read_outbound()
        else {
            panic!("a composite reply");
        };
        assert!(matches!(
            ch.read_outbound(),
            Some(weft_pipeline::HeadOp::Flush)
        ));
        assert!(ch.read_outbound().is_none());
        assert_eq!(reply, &b"$11\r\nhello world\r\n$11\r\nhello world\r\n"[..]);
        let value_segments = reply
            .segments()
            .iter()
            .filter(|s| s.as_ptr() == value_ptr)
            .count();
        assert_eq!(value_segments, 2);
    }

    #[test]
    fn a_protocol_error_is_answered_then_the_channel_closes() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(b"PING\r\n*1\r\n$2147483648\r\nPING\r\n"));
        let mut out = Vec::new();
        while let Some(b) = ch.read_outbound_bytes() {
            out.extend_from_slice(&b);
        }
        assert_eq!(
            out,
            b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
        );
        assert!(ch.is_closed());
    }
}
