//! [`Channel`]: a cloneable handle to a running connection.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use weft_pipeline::{Message, Pipeline, WriteFuture, WritePromise};

use crate::outbound::FilePath;
use crate::stats::{Stats, StatsSnapshot};

/// What another task asks a connection's task to do.
pub(crate) enum Command {
    Write(Message, Option<WritePromise>),
    Flush,
    Close,
    SetAutoRead(bool),
    SetFilePath(FilePath),
    Execute(Box<dyn FnOnce(&mut Pipeline) + Send>),
}

/// State shared between a connection's task and its handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stats: Arc<Stats>,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) writable: AtomicBool,
    pub(crate) closed: watch::Sender<bool>,
}

/// A cloneable, `Send` handle to a connection: other tasks write, flush
/// and close through it. The connection's own task owns the socket and
/// the pipeline; the handle only sends it commands, so every method is
/// cheap and never blocks.
///
/// Writes enter the pipeline at its tail (Netty's `channel.write`), so
/// they pass through the pipeline's encoders.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), weft_transport::TransportError> {
/// use weft_transport::{connect_tcp, ChannelConfig};
/// let ch = connect_tcp("127.0.0.1:7000".parse().unwrap(), &ChannelConfig::default(), |_p| Ok(())).await?;
/// ch.write_and_flush(bytes::Bytes::from_static(b"hello")).await?;
/// ch.close();
/// ch.closed().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Channel {
    pub(crate) tx: mpsc::UnboundedSender<Command>,
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("local", &self.shared.local)
            .field("peer", &self.shared.peer)
            .field("active", &self.is_active())
            .finish()
    }
}

impl Channel {
    fn send(&self, cmd: Command) {
        // A closed connection drops the command; a write's promise is
        // dropped with it, which fails its future.
        let _ = self.tx.send(cmd);
    }

    /// Queues `msg` at the tail of the pipeline; it goes out at the next
    /// flush. The future resolves when its bytes are handed to the kernel,
    /// or fails with the reason.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(ch: weft_transport::Channel) -> std::io::Result<()> {
    /// let done = ch.write(bytes::Bytes::from_static(b"a"));
    /// ch.flush();
    /// done.await?;
    /// # Ok(()) }
    /// ```
    pub fn write(&self, msg: impl Into<Message>) -> WriteFuture {
        let (p, f) = WritePromise::new();
        self.send(Command::Write(msg.into(), Some(p)));
        f
    }

    /// Queues `msg` and flushes.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(ch: weft_transport::Channel) -> std::io::Result<()> {
    /// ch.write_and_flush(bytes::Bytes::from_static(b"a")).await?;
    /// # Ok(()) }
    /// ```
    pub fn write_and_flush(&self, msg: impl Into<Message>) -> WriteFuture {
        let f = self.write(msg);
        self.flush();
        f
    }

    /// Flushes what was written.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { ch.flush(); }
    /// ```
    pub fn flush(&self) {
        self.send(Command::Flush);
    }

    /// Closes the connection after flushing what is pending (within the
    /// configured close timeout).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { ch.close(); }
    /// ```
    pub fn close(&self) {
        self.send(Command::Close);
    }

    /// Switches reading on or off (backpressure from outside the pipeline).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { ch.set_auto_read(false); }
    /// ```
    pub fn set_auto_read(&self, on: bool) {
        self.send(Command::SetAutoRead(on));
    }

    /// Chooses how file regions written from now on are sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { ch.set_file_path(weft_transport::FilePath::Splice); }
    /// ```
    pub fn set_file_path(&self, path: FilePath) {
        self.send(Command::SetFilePath(path));
    }

    /// Runs `f` on the pipeline inside the connection's task (to add or
    /// remove handlers, fire events, ...); head operations it causes are
    /// performed afterwards.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) {
    /// ch.execute(|p| { let _ = p.remove("idle"); });
    /// # }
    /// ```
    pub fn execute(&self, f: impl FnOnce(&mut Pipeline) + Send + 'static) {
        self.send(Command::Execute(Box::new(f)));
    }

    /// Returns `true` until the connection has closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { assert!(ch.is_active()); }
    /// ```
    pub fn is_active(&self) -> bool {
        !*self.shared.closed.borrow()
    }

    /// The writability the outbound buffer last reported (watermarks).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { let _ = ch.is_writable(); }
    /// ```
    pub fn is_writable(&self) -> bool {
        self.shared.writable.load(Ordering::Relaxed)
    }

    /// Resolves once the connection has closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(ch: weft_transport::Channel) { ch.closed().await; }
    /// ```
    pub async fn closed(&self) {
        let mut rx = self.shared.closed.subscribe();
        // An error means the task is gone: closed too.
        let _ = rx.wait_for(|c| *c).await;
    }

    /// This connection's counters.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { let _ = ch.stats().writev_calls; }
    /// ```
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// The local address (TCP only).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { let _ = ch.local_addr(); }
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared.local
    }

    /// The peer's address (TCP only).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { let _ = ch.peer_addr(); }
    /// ```
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.shared.peer
    }
}
