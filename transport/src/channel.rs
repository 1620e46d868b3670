//! [`Channel`]: a cloneable handle to a running connection.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::task::AtomicWaker;
use tokio::sync::Notify;
use weft_pipeline::{Context, Message, MessageType, Pipeline, WriteFuture, WritePromise};

use crate::outbound::FilePath;
use crate::stats::{Stats, StatsSnapshot};

/// What another task asks a connection's task to do.
pub(crate) enum Command {
    /// A write and the bytes it added to [`Shared`]'s queued count.
    Write(Message, Option<WritePromise>, u64),
    Flush,
    Close,
    /// The server is shutting down: close by this deadline.
    Shutdown(tokio::time::Instant),
    ShutdownOutput,
    SetAutoRead(bool),
    SetFilePath(FilePath),
    Execute(Box<dyn FnOnce(&mut Pipeline) + Send>),
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Command::Write(..) => "Write",
            Command::Flush => "Flush",
            Command::Close => "Close",
            Command::Shutdown(_) => "Shutdown",
            Command::ShutdownOutput => "ShutdownOutput",
            Command::SetAutoRead(_) => "SetAutoRead",
            Command::SetFilePath(_) => "SetFilePath",
            Command::Execute(_) => "Execute",
        })
    }
}

/// What a connection shares with its handles.
///
/// Nothing here allocates until it is used: commands wait in a queue that
/// is empty (no heap) while none is pending, and the wakeups are `Notify`s
/// (a tokio `mpsc` channel's first block alone was 4 KiB a connection).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stats: Arc<Stats>,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) peer: Option<SocketAddr>,
    /// The outbound buffer's writability, as the connection last reported it.
    writable: AtomicBool,
    /// Woken (all waiters) when the channel becomes writable, takes queued
    /// writes, or closes.
    wake: Notify,
    /// Bytes written through handles and not yet taken by the connection:
    /// with the outbound buffer, they count towards the high watermark.
    queued: AtomicU64,
    high: u64,
    /// Buffer memory the connection held when it last went to wait.
    held: AtomicU64,
    closed: AtomicBool,
    /// Commands from handles, in order; dropped (failing their promises)
    /// once the connection has closed.
    commands: Mutex<VecDeque<Command>>,
    /// A command is queued and the connection has not been told yet.
    command_pending: AtomicBool,
    /// The connection task's waker, registered on every turn: an atomic
    /// compare, where a `Notify` waiter cost a lock to enqueue and another
    /// to remove on every turn of every connection (3% of an HTTP server's
    /// CPU).
    command_waker: AtomicWaker,
}

impl Shared {
    pub(crate) fn new(
        stats: Arc<Stats>,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
        high: u64,
    ) -> Shared {
        Shared {
            stats,
            local,
            peer,
            writable: AtomicBool::new(true),
            wake: Notify::new(),
            queued: AtomicU64::new(0),
            high,
            held: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            commands: Mutex::new(VecDeque::new()),
            command_pending: AtomicBool::new(false),
            command_waker: AtomicWaker::new(),
        }
    }

    pub(crate) fn set_writable(&self, w: bool) {
        self.writable.store(w, Ordering::Relaxed);
        if w {
            self.wake.notify_waiters();
        }
    }

    /// The connection took `n` queued bytes into its pipeline.
    pub(crate) fn dequeued(&self, n: u64) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
        self.wake.notify_waiters();
    }

    pub(crate) fn set_held(&self, bytes: u64) {
        self.held.store(bytes, Ordering::Relaxed);
    }

    /// The command queue; a handle that panicked while holding the lock
    /// left it consistent (push and pop only), so poisoning is ignored.
    fn commands(&self) -> MutexGuard<'_, VecDeque<Command>> {
        self.commands.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `cmd` for the connection's task and wakes it; drops it if the
    /// connection has closed.
    pub(crate) fn send(&self, cmd: Command) {
        let mut q = self.commands();
        if self.closed.load(Ordering::Relaxed) {
            drop(q);
            // A write's promise is dropped with it, which fails its future.
            drop(cmd);
            return;
        }
        q.push_back(cmd);
        drop(q);
        self.command_pending.store(true, Ordering::Release);
        self.command_waker.wake();
    }

    /// Ready once a command is queued (the connection then takes it with
    /// [`next_command`](Self::next_command)).
    pub(crate) fn command_ready(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            self.command_waker.register(cx.waker());
            if self.command_pending.swap(false, Ordering::AcqRel) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }

    /// The oldest queued command. The queue lets go of its memory once
    /// empty, so an idle connection holds none.
    pub(crate) fn next_command(&self) -> Option<Command> {
        let mut q = self.commands();
        let cmd = q.pop_front();
        if q.is_empty() {
            if q.capacity() > 0 {
                *q = VecDeque::new();
            }
        } else {
            // More are waiting: the connection takes the next one on its
            // next turn.
            self.command_pending.store(true, Ordering::Release);
        }
        cmd
    }

    pub(crate) fn close(&self) {
        let dropped = {
            let mut q = self.commands();
            self.closed.store(true, Ordering::Relaxed);
            std::mem::take(&mut *q)
        };
        // Outside the lock: dropping a promise may run other code.
        drop(dropped);
        self.wake.notify_waiters();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
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
        self.shared.send(cmd);
    }

    /// Queues `msg` at the tail of the pipeline; it goes out at the next
    /// flush. The future resolves when its bytes are handed to the kernel,
    /// or fails with the reason.
    ///
    /// A write is queued at once, in order with this handle's other calls,
    /// and counts towards the channel's high watermark from then on (first
    /// as bytes waiting for the connection's task, then in its outbound
    /// buffer). A task that writes faster than
    /// the peer reads bounds its memory by awaiting each write, or by
    /// awaiting [`writable`](Self::writable) between writes.
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
        let msg = msg.into();
        let n = msg.len();
        self.shared.queued.fetch_add(n, Ordering::Relaxed);
        let (p, f) = WritePromise::new();
        self.send(Command::Write(msg, Some(p), n));
        f
    }

    /// [`write`](Self::write) then [`flush`](Self::flush).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn write_and_flush(&self, msg: impl Into<Message>) -> WriteFuture {
        let f = self.write(msg);
        self.flush();
        f
    }

    /// Waits until the channel is writable ([`is_writable`](Self::is_writable))
    /// or closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(ch: weft_transport::Channel, chunks: Vec<bytes::Bytes>) {
    /// for c in chunks {
    ///     ch.writable().await;
    ///     drop(ch.write_and_flush(c)); // memory stays bounded by the watermarks
    /// }
    /// # }
    /// ```
    pub async fn writable(&self) {
        loop {
            // Registered before the check, so a wakeup in between is kept.
            let woken = self.shared.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if !self.is_active() || self.is_writable() {
                return;
            }
            woken.await;
        }
    }

    /// The channel of the connection whose pipeline `ctx` belongs to: how a
    /// handler hands its channel to another task (a subscriber list, a
    /// worker). `None` outside a `weft-transport` connection (in an
    /// `EmbeddedChannel`).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Context, Handler, Message};
    /// use weft_transport::Channel;
    ///
    /// struct Register;
    /// impl Handler for Register {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         if let Some(ch) = Channel::from_context(ctx) {
    ///             tokio::spawn(async move { ch.write_and_flush(bytes::Bytes::from_static(b"hi")).await });
    ///         }
    ///         ctx.fire_read(msg);
    ///     }
    /// }
    /// ```
    pub fn from_context<O: MessageType>(ctx: &Context<'_, O>) -> Option<Channel> {
        ctx.channel()?.downcast_ref::<Channel>().cloned()
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

    /// Half-closes the connection: once what was flushed before has been
    /// written, the writing half is shut down (`shutdown(SHUT_WR)`; on TLS
    /// after `close_notify`), so the peer reads end of stream while this
    /// side can still read its answer. The connection stays open until it
    /// is closed or the peer closes too.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(ch: weft_transport::Channel) -> std::io::Result<()> {
    /// ch.write_and_flush(bytes::Bytes::from_static(b"last request")).await?;
    /// ch.shutdown_output(); // the peer sees EOF, its answer still arrives
    /// # Ok(()) }
    /// ```
    pub fn shutdown_output(&self) {
        self.send(Command::ShutdownOutput);
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
    /// ch.execute(|p| { let _ = p.handlers().remove("idle"); });
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
        !self.shared.is_closed()
    }

    /// True while the outbound buffer is under its watermarks (as the
    /// connection last reported) and the bytes written through handles
    /// that the connection has not taken yet are under the high watermark.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { let _ = ch.is_writable(); }
    /// ```
    pub fn is_writable(&self) -> bool {
        self.shared.writable.load(Ordering::Relaxed)
            && self.shared.queued.load(Ordering::Relaxed) < self.shared.high
    }

    /// Resolves once the connection has closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(ch: weft_transport::Channel) { ch.closed().await; }
    /// ```
    pub async fn closed(&self) {
        loop {
            // Registered before the check, so a wakeup in between is kept.
            let woken = self.shared.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.shared.is_closed() {
                return;
            }
            woken.await;
        }
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

    /// Buffer memory the connection held when it last went to wait for
    /// the socket: its receive chunk, its outbound queue's slots and its
    /// file copy buffer. 0 for an idle connection (nothing pending, the
    /// socket drained or auto-read off): idle connections hold no buffers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(ch: weft_transport::Channel) { let _bytes: u64 = ch.held_bytes(); }
    /// ```
    pub fn held_bytes(&self) -> u64 {
        self.shared.held.load(Ordering::Relaxed)
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
