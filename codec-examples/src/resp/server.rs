//! The RESP server: a [`ByteToMessageDecoder`] running [`RespDecoder`]
//! cuts requests out of the reads, and a typed [`RespHandler`] runs them.
//!
//! ```text
//!  socket ─▶ "decoder": ByteToMessageDecoder<RespDecoder>   (the reads, as segments)
//!              │ RespFrame per request, all of one read in one batch (inline, no box)
//!              ▼
//!            "resp": RespHandler::read_batch: Db locked once, command::execute each
//!              │ replies encoded into one ReplyWriter (GET values as their own segments)
//!              ▼ at read complete: ONE write (a CompositeBuf), ONE flush, one writev
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use weft_pipeline::codec::ByteToMessageDecoder;
use weft_pipeline::{Batch, Context, Event, Handler, Nothing, Pipeline, PipelineError};

use super::command::{execute_in, After, Session};
use super::db::{Db, SWEEP_BATCH};
use super::decoder::{RespDecoder, RespFrame};
use super::reply::{Reply, ReplyWriter};
use super::stats::ClientInfo;
use super::value::Value;

/// How often the background sweep removes expired keys (Redis' `hz` 10).
pub const SWEEP_PERIOD: Duration = Duration::from_millis(100);

/// Replies of one read batch handed on (not yet flushed) once this many
/// bytes are pending, so a long pipeline is answered in bounded pieces.
pub const EARLY_WRITE_BYTES: usize = 64 * 1024;

/// Runs [`RespFrame`]s against the shared [`Db`] and writes their replies.
///
/// All requests cut from one read arrive in one batch and run with the key
/// space locked once and one clock reading; their replies are encoded into
/// one buffer (a value `GET` returns is its own segment, the very bytes
/// `SET` stored) and go out at "read complete" as one write and one flush,
/// so pipelined requests cost one `writev`. More than
/// [`EARLY_WRITE_BYTES`] of replies are handed on early, unflushed.
///
/// A protocol error is answered, then the channel closes; so does `QUIT`.
/// Reading stops while the transport says the connection is not writable
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
/// add_resp_handlers(&mut p, Arc::new(Mutex::new(Db::new())))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nhi\r\nGET k\r\n"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"+OK\r\n$2\r\nhi\r\n"[..]);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug)]
pub struct RespHandler {
    db: Arc<Mutex<Db>>,
    /// This connection's id, name and open transaction.
    session: Session,
    out: ReplyWriter,
    /// A sliced request's arguments, lent to the command engine (reused, so
    /// a request costs no allocation once it has grown).
    args: Vec<Value>,
    /// Replies were handed on early and await the flush.
    unflushed: bool,
    close_after_reply: bool,
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
            session: Session::new(),
            out: ReplyWriter::new(),
            args: Vec::new(),
            unflushed: false,
            close_after_reply: false,
        }
    }

    /// Runs `frames` with one lock of the key space and one clock reading.
    fn run(&mut self, ctx: &mut Context<'_, Nothing>, frames: impl Iterator<Item = RespFrame>) {
        if self.close_after_reply {
            return;
        }
        let now = ctx.now();
        let mut db = lock(&self.db);
        for frame in frames {
            match frame {
                RespFrame::Request(req) => {
                    let session = &mut self.session;
                    let (reply, after) = req.with_args(&mut self.args, |args| {
                        execute_in(session, &mut db, args, now)
                    });
                    self.out.set_resp3(self.session.protocol() == 3);
                    self.out.push(&reply);
                    if after == After::Close {
                        // Requests after QUIT are not run.
                        self.close_after_reply = true;
                        break;
                    }
                }
                RespFrame::ProtocolError(e) => {
                    self.out.push(&Reply::err(e));
                    self.close_after_reply = true;
                    break;
                }
            }
            // A long pipeline in one read is answered in pieces of bounded size.
            if self.out.pending_bytes() >= EARLY_WRITE_BYTES {
                ctx.write(self.out.finish());
                self.unflushed = true;
            }
        }
        // CLIENT LIST's line for this connection, once per batch.
        self.session.report(&mut db, now);
    }

    /// Writes what the batch left, flushes once, and closes after a
    /// protocol error or `QUIT`.
    fn send(&mut self, ctx: &mut Context<'_, Nothing>) {
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
    type In = RespFrame;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: RespFrame) {
        self.run(ctx, std::iter::once(frame));
    }

    fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, frames: Batch<'_, RespFrame>) {
        self.run(ctx, frames);
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        match event {
            Event::ReadComplete => self.send(ctx),
            Event::Writability(writable) => ctx.set_auto_read(writable),
            Event::Active => {
                let ch = weft_transport::Channel::from_context(ctx);
                let (peer, local) = ch.map_or((None, None), |c| (c.peer_addr(), c.local_addr()));
                let now = ctx.now();
                let mut db = lock(&self.db);
                db.stats.connections_received += 1;
                db.stats.connected_clients += 1;
                db.stats
                    .clients
                    .insert(self.session.id(), ClientInfo::new(peer, local, now));
            }
            // The key space stops counting changes to keys only this
            // connection watched.
            Event::Inactive => {
                let mut db = lock(&self.db);
                self.session.release(&mut db);
                db.stats.connected_clients = db.stats.connected_clients.saturating_sub(1);
                db.stats.clients.remove(&self.session.id());
            }
            _ => {}
        }
        ctx.fire_event(event);
    }
}

/// Adds the RESP decoder and handler to a connection's pipeline.
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
/// weft_examples::resp::server::add_resp_handlers(&mut p, db)?;
/// assert_eq!(p.names(), ["decoder", "resp"]);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
pub fn add_resp_handlers(p: &mut Pipeline, db: Arc<Mutex<Db>>) -> Result<(), PipelineError> {
    p.handlers()
        .add_last("decoder", ByteToMessageDecoder::new(RespDecoder::new()))?
        .add_last("resp", RespHandler::new(db))?;
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
    let server = crate::common::server_builder()
        .config(config)
        .bind_tcp(listen, move |p| add_resp_handlers(p, init_db.clone()))
        .map_err(std::io::Error::other)?;
    let addr = server.local_addr().unwrap_or(listen);
    lock(&db).stats.tcp_port = addr.port();
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
        .shutdown(crate::common::SHUTDOWN_GRACE)
        .await
        .map_err(std::io::Error::other)?;
    signal
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weft_pipeline::{EmbeddedChannel, HeadOp, Wire};

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
        let Some(HeadOp::Write(Wire::Composite(reply), _)) = ch.read_outbound() else {
            panic!("a composite reply");
        };
        assert!(matches!(ch.read_outbound(), Some(HeadOp::Flush)));
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
    fn a_value_set_in_a_transaction_is_queued_stored_and_returned_without_a_copy() {
        let mut ch = channel();
        let read = Bytes::from_static(
            b"MULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$11\r\nhello world\r\nEXEC\r\nGET k\r\n",
        );
        let value_ptr = read[32..].as_ptr();
        assert_eq!(&read[32..43], b"hello world");
        let (_, copied) = weft_buf::measure_copies(|| ch.write_inbound(read.clone()));
        assert_eq!(copied, 0);
        let Some(HeadOp::Write(Wire::Composite(reply), _)) = ch.read_outbound() else {
            panic!("a composite reply");
        };
        assert_eq!(
            reply,
            &b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n$11\r\nhello world\r\n"[..]
        );
        assert!(reply.segments().iter().any(|s| s.as_ptr() == value_ptr));
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

    /// Writes and flushes that reached the head, and the bytes written.
    fn drain(ch: &mut EmbeddedChannel) -> (usize, usize, Vec<u8>) {
        let (mut writes, mut flushes, mut out) = (0, 0, Vec::new());
        while let Some(op) = ch.read_outbound() {
            match op {
                HeadOp::Write(Wire::Composite(c), _) => {
                    writes += 1;
                    out.extend_from_slice(&c.to_bytes());
                }
                HeadOp::Write(Wire::Bytes(b), _) => {
                    writes += 1;
                    out.extend_from_slice(&b);
                }
                HeadOp::Write(Wire::File(_), _) => panic!("no file is written"),
                HeadOp::Flush => flushes += 1,
                HeadOp::Close => {}
            }
        }
        (writes, flushes, out)
    }

    #[test]
    fn a_batch_of_pipelined_requests_in_one_read_is_answered_with_one_write_and_one_flush() {
        let mut ch = channel();
        let mut read = Vec::new();
        let mut want = Vec::new();
        for i in 0..100 {
            read.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n$1\r\nv\r\n", i % 10).as_bytes(),
            );
            read.extend_from_slice(b"PING\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
            want.extend_from_slice(format!("+OK\r\n+PONG\r\n:{}\r\n", i + 1).as_bytes());
        }
        ch.write_inbound(Bytes::from(read));
        let (writes, flushes, out) = drain(&mut ch);
        assert_eq!((writes, flushes), (1, 1));
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want)
        );
        assert!(!ch.is_closed());
    }

    #[test]
    fn a_long_pipeline_is_handed_on_in_bounded_pieces_and_flushed_once() {
        let mut ch = channel();
        let value = vec![b'x'; 1000];
        let mut set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n".to_vec();
        set.extend_from_slice(&value);
        set.extend_from_slice(b"\r\n");
        ch.write_inbound(Bytes::from(set));
        drain(&mut ch);
        // 200 GETs of 1000 bytes: about 200 KB of replies.
        ch.write_inbound(Bytes::from(b"GET k\r\n".repeat(200)));
        let (writes, flushes, out) = drain(&mut ch);
        let pieces = 200 * 1009 / EARLY_WRITE_BYTES;
        assert_eq!((writes, flushes), (pieces + 1, 1));
        assert_eq!(out.len(), 200 * 1009);
    }

    #[test]
    fn quit_answers_then_closes_and_later_requests_are_not_run() {
        let mut ch = channel();
        ch.write_inbound(Bytes::from_static(b"INCR n\r\nQUIT\r\nINCR n\r\n"));
        let (_, _, out) = drain(&mut ch);
        assert_eq!(out, b":1\r\n+OK\r\n");
        assert!(ch.is_closed());
    }
}
