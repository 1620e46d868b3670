//! The task that owns one connection: its socket, its pipeline, and the
//! pipeline's head ([`ConnHead`]: the outbound buffer and the channel's
//! state).
//!
//! ```text
//!            ┌──────────────── connection task ────────────────┐
//!  socket ──▶│ AdaptiveRecvBuf ─▶ pipeline.fire_read ...        │
//!            │                                                 │
//!  socket ◀──│ ConnHead: OutboundBuffer ◀── Head::write(Wire)  │◀── Channel handles
//!            │           auto-read, writability, close         │    (commands)
//!            │ tasks handlers spawned (FuturesOrdered)         │
//!            │ timers: pipeline.next_deadline()                │
//!            └─────────────────────────────────────────────────┘
//! ```
//!
//! One `select!` waits for whichever comes first: readability (while
//! auto-read is on), writability (while flushed writes wait), a command
//! from a [`Channel`](crate::Channel) (or the server's shutdown, which its
//! acceptor sends as a command), a task a handler started, the pipeline's
//! next deadline, or the close deadline.
//! After each event the connection settles: it moves new tasks onto its
//! list, writes what was flushed, reports watermark crossings to the
//! pipeline, and starts closing if a handler asked.
//!
//! Fairness: one turn writes at most the write budget (bytes and calls,
//! [`DEFAULT_WRITE_BUDGET`](crate::DEFAULT_WRITE_BUDGET)), each call at most
//! the write chunk; a connection that still owes bytes then yields, so the
//! other connections of its thread run before it writes on.
//!
//! Memory: before it waits, the connection lets go of what an idle
//! connection does not need (its receive chunk once drained or while
//! auto-read is off, its outbound queue's slots and copy buffer once empty)
//! and publishes what it still holds ([`Channel::held_bytes`]).

use std::any::Any;
use std::io;
use std::os::fd::AsFd;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use tokio::io::Interest;
use tokio::sync::watch;
use tokio::time::Instant;
use weft_pipeline::{
    Event, Head, Message, Pipeline, PipelineError, Task, TaskDone, Value, Wire, WritePromise,
};

use crate::channel::{Channel, Command, Shared};
use crate::config::ChannelConfig;
use crate::outbound::{Completion, FilePath, OutboundBuffer};
use crate::recv::AdaptiveRecvBuf;
use crate::stats::{Counter, Stats};
use crate::stream::Stream;
use crate::tls::TlsSession;

mod tls;

impl Completion for WritePromise {
    fn complete(self, result: io::Result<()>) {
        match result {
            Ok(()) => self.succeed(),
            Err(e) => self.fail(e),
        }
    }
}

/// The server's shutdown signal: `Some(deadline)` once it is shutting down.
pub(crate) type ShutdownRx = watch::Receiver<Option<Instant>>;

/// How a connection task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Normally,
    Panicked,
}

/// The pipeline's head on a socket: the one owner of the outbound buffer,
/// writability (through the buffer's watermarks) and auto-read.
struct ConnHead {
    out: OutboundBuffer<WritePromise>,
    auto_read: bool,
    file_path: FilePath,
    /// A handler asked to close; the connection starts closing when it settles.
    close_requested: bool,
    /// Closed or failed: writes fail at once.
    dead: bool,
    /// Tasks handlers started, not yet on the connection's list.
    tasks: Vec<Task>,
    channel: Channel,
}

impl Head for ConnHead {
    fn write(&mut self, msg: Wire, promise: Option<WritePromise>) {
        if self.dead {
            if let Some(p) = promise {
                p.fail(closed_error());
            }
            return;
        }
        self.out.push_with_path(msg, self.file_path, promise);
    }

    fn flush(&mut self) {
        self.out.flush();
    }

    fn close(&mut self) {
        self.close_requested = true;
    }

    fn set_auto_read(&mut self, on: bool) {
        self.auto_read = on;
    }

    fn is_writable(&self) -> bool {
        self.out.is_writable()
    }

    fn spawn(&mut self, task: Task) {
        self.tasks.push(task);
    }

    fn channel(&self) -> Option<&(dyn Any + Send + Sync)> {
        Some(&self.channel)
    }
}

/// The connection's head. Every connection's pipeline gets a `ConnHead` in
/// [`start`] and never another one.
fn head_of(p: &mut Pipeline) -> &mut ConnHead {
    match p.head_mut::<ConnHead>() {
        Some(h) => h,
        None => unreachable!("start() installs a ConnHead and nothing replaces it"),
    }
}

struct Conn {
    stream: Stream,
    pipeline: Pipeline,
    rb: AdaptiveRecvBuf,
    stats: Arc<Stats>,
    shared: Arc<Shared>,
    /// Tasks handlers started; `None` while there are none (an empty
    /// `FuturesOrdered` still holds two allocations, ~150 B a connection).
    tasks: Option<FuturesOrdered<Task>>,
    max_reads: usize,
    /// Bytes and write calls one turn may use (see `DEFAULT_WRITE_BUDGET`).
    write_budget: usize,
    max_writes: usize,
    /// Bytes and write calls used in this turn.
    turn_bytes: usize,
    turn_writes: usize,
    /// This turn stopped at the budget with flushed bytes left.
    owed: bool,
    close_timeout: Duration,
    /// Set once closing: the time by which the connection closes anyway.
    closing: Option<Instant>,
    read_eof: bool,
    failed: bool,
    /// The TLS session of an encrypted connection (boxed: a plaintext
    /// connection pays one pointer for it).
    tls: Option<Box<TlsSession>>,
    /// The peer's end of stream does not close (ALLOW_HALF_CLOSURE).
    half_closure: bool,
    /// `Channel::shutdown_output` was asked and has not happened yet.
    shutdown_output: bool,
    /// A TLS read ran while auto-read was off (the handshake's): decrypted
    /// bytes may wait in rustls for auto-read to come back on.
    plaintext_waiting: bool,
    /// The writing half is shut down.
    output_shut: bool,
}

/// Sets up a connection and returns its handle and the future that runs
/// it (to be spawned).
pub(crate) fn start(
    stream: Stream,
    mut pipeline: Pipeline,
    cfg: &ChannelConfig,
) -> io::Result<(
    Channel,
    impl std::future::Future<Output = Ended> + Send + 'static,
)> {
    cfg.apply(stream.as_fd(), stream.is_tcp())?;
    let stats = Arc::new(Stats::new());
    let (local, peer) = stream.addrs();
    let shared = Arc::new(Shared::new(stats.clone(), local, peer, cfg.high));
    let channel = Channel { shared };
    let mut out = OutboundBuffer::new(stats.clone());
    out.set_watermarks(cfg.high, cfg.low)
        .set_coalesce_threshold(cfg.coalesce)
        .set_max_write_chunk(cfg.max_write_chunk);
    pipeline.set_head(Box::new(ConnHead {
        out,
        auto_read: cfg.auto_read,
        file_path: cfg.file_path,
        close_requested: false,
        dead: false,
        tasks: Vec::new(),
        channel: channel.clone(),
    }));
    let (min, initial, max) = cfg.recv_sizes;
    let tls = match &cfg.tls {
        Some(role) => Some(Box::new(TlsSession::new(role, cfg.handshake_timeout)?)),
        None => None,
    };
    let conn = Conn {
        stream,
        pipeline,
        rb: AdaptiveRecvBuf::with_sizes(min, initial, max),
        stats,
        shared: channel.shared.clone(),
        tasks: None,
        max_reads: cfg.max_reads,
        write_budget: cfg.write_budget.max(1),
        max_writes: cfg.max_writes.max(1),
        turn_bytes: 0,
        turn_writes: 0,
        owed: false,
        close_timeout: cfg.close_timeout,
        closing: None,
        read_eof: false,
        failed: false,
        tls,
        half_closure: cfg.half_closure,
        shutdown_output: false,
        plaintext_waiting: false,
        output_shut: false,
    };
    let closed = channel.shared.clone();
    // A combinator, not an `async` block: the task's future then holds the
    // connection's state once (an async block would keep room for the run
    // future both as a captured variable and as the future it awaits).
    let fut = AssertUnwindSafe(conn.run()).catch_unwind().map(move |ran| {
        let ended = match ran {
            Ok(()) => Ended::Normally,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "a handler panicked; its connection is closed");
                Ended::Panicked
            }
        };
        closed.close();
        ended
    });
    Ok((channel, fut))
}

impl Conn {
    fn head(&mut self) -> &mut ConnHead {
        head_of(&mut self.pipeline)
    }

    /// The connection's loop. Not an `async fn`: its arguments would be
    /// stored twice in the future (once as arguments, once as the
    /// body's locals), and the future is what each connection costs.
    #[allow(clippy::manual_async_fn)]
    fn run(mut self) -> impl std::future::Future<Output = ()> + Send {
        async move {
            self.dispatch(|p| p.fire_channel_active());
            loop {
                let writing = self.wants_write();
                if self.failed || (self.closing.is_some() && !writing) {
                    break;
                }
                if self.plaintext_waiting && self.head().auto_read {
                    self.deliver_waiting_plaintext();
                }
                if std::mem::take(&mut self.owed) {
                    // Over budget: let the thread's other tasks run first; the
                    // socket is still writable, so the next turn writes on.
                    tokio::task::yield_now().await;
                }
                self.turn_bytes = 0;
                self.turn_writes = 0;
                self.release_idle();
                let timer = self.pipeline.next_deadline().map(Instant::from_std);
                let close_at = self.closing;
                // A TLS handshake reads even while auto-read is off.
                let handshaking = self.tls.as_ref().is_some_and(|t| t.handshaking());
                let reading = (self.head().auto_read || handshaking)
                    && !self.read_eof
                    && self.closing.is_none();
                let tasks = self.tasks.as_ref().is_some_and(|t| !t.is_empty());
                let interest = match (writing, reading) {
                    (true, true) => Interest::READABLE | Interest::WRITABLE,
                    (true, false) => Interest::WRITABLE,
                    _ => Interest::READABLE,
                };
                let wake_at = [
                    timer,
                    close_at,
                    self.tls.as_ref().and_then(|t| t.handshake_deadline()),
                ]
                .into_iter()
                .flatten()
                .min();
                tokio::select! {
                    biased;
                    // Commands from handles, and the server's shutdown (its
                    // acceptor sends it to every connection it started).
                    () = self.shared.command_ready() => {
                        if let Some(cmd) = self.shared.next_command() {
                            self.command(cmd);
                        }
                    }
                    // One readiness future for both directions: it is part
                    // of what every waiting connection costs.
                    r = self.stream.ready(interest), if writing || reading => match r {
                        Ok(ready) => {
                            if writing && ready.is_writable() {
                                // Progress may cross the low watermark:
                                // handlers that react (resume reading, write
                                // more) run in `settle`.
                                self.pipeline.set_now(Instant::now().into_std());
                                self.settle();
                            }
                            if reading && ready.is_readable() && !self.failed {
                                self.read_ready();
                            }
                        }
                        Err(e) => self.fail(e),
                    },
                    done = next_task(&mut self.tasks), if tasks => {
                        if let Some(done) = done {
                            self.dispatch(|p| p.complete(done));
                        }
                    }
                    // One sleep for the pipeline's deadline and the close
                    // deadline, whichever is first.
                    () = sleep_until(wake_at), if wake_at.is_some() => {
                        if close_at.is_some_and(|c| c <= Instant::now()) {
                            tracing::debug!(pending = self.head().out.pending_bytes(), "close deadline passed; closing anyway");
                            break;
                        }
                        let handshake_by = self.tls.as_ref().and_then(|t| t.handshake_deadline());
                        if handshake_by.is_some_and(|h| h <= Instant::now()) {
                            self.tls_failed(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "TLS: the handshake did not complete in time",
                            ));
                            continue;
                        }
                        let now = Instant::now().into_std();
                        self.dispatch(|p| p.fire_timer(now));
                    }
                }
            }
            if self.tls.is_some() && !self.failed && !self.read_eof {
                // Boxed: the lingering close is rare, and inline its state
                // (a timer, a read buffer) would be part of what every
                // connection's future costs.
                Box::pin(self.linger()).await;
            }
            self.finish();
        }
    }

    /// Lets go of the buffers an idle connection does not need and
    /// publishes what it still holds.
    fn release_idle(&mut self) {
        let head = head_of(&mut self.pipeline);
        if !head.auto_read || self.read_eof || self.closing.is_some() {
            self.rb.release();
        }
        head.out.release_idle();
        self.pipeline.release_idle_memory();
        let head = head_of(&mut self.pipeline);
        if head.tasks.is_empty() && head.tasks.capacity() > 0 {
            head.tasks = Vec::new();
        }
        if self.tasks.as_ref().is_some_and(|t| t.is_empty()) {
            self.tasks = None;
        }
        let held = head.out.held_capacity() + self.rb.held_capacity();
        self.shared.set_held(held as u64);
    }

    /// Runs `f` on the pipeline with the current time set, then settles.
    fn dispatch(&mut self, f: impl FnOnce(&mut Pipeline)) {
        self.pipeline.set_now(Instant::now().into_std());
        f(&mut self.pipeline);
        self.settle();
    }

    /// Acts on what the pipeline left at its head: new tasks, a close, and
    /// flushed writes; reports watermark crossings to the handlers (and
    /// settles again after what they do in return).
    fn settle(&mut self) {
        loop {
            let head = head_of(&mut self.pipeline);
            for t in head.tasks.drain(..) {
                self.tasks
                    .get_or_insert_with(FuturesOrdered::new)
                    .push_back(t);
            }
            let close = std::mem::take(&mut head.close_requested);
            if close {
                self.begin_close(None);
            } else {
                self.write_ready();
                if self.shutdown_output {
                    self.try_shutdown_output();
                }
            }
            let head = head_of(&mut self.pipeline);
            let Some(w) = head.out.take_writability_change() else {
                return;
            };
            self.shared.set_writable(w);
            self.pipeline.fire_writability_changed(w);
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Write(msg, p, queued) => {
                self.shared.dequeued(queued);
                self.dispatch(|pl| pl.write(msg, p));
            }
            Command::Flush => self.dispatch(|pl| pl.flush()),
            Command::Close => self.dispatch(|pl| pl.close()),
            Command::Shutdown(deadline) => self.begin_close(Some(deadline)),
            Command::ShutdownOutput => {
                self.shutdown_output = !self.output_shut;
                self.settle();
            }
            Command::SetAutoRead(on) => self.head().auto_read = on,
            Command::SetFilePath(path) => self.head().file_path = path,
            Command::Execute(f) => self.dispatch(f),
        }
    }

    /// Writes flushed entries until the kernel says `EAGAIN`, none is left,
    /// or the turn's budget is spent (then the connection owes a write and
    /// yields before the next turn).
    fn write_ready(&mut self) {
        if self.failed || self.owed {
            return;
        }
        if self.tls.is_some() {
            return self.write_ready_tls();
        }
        loop {
            if self.over_budget() {
                return;
            }
            let Conn {
                stream, pipeline, ..
            } = self;
            let out = &mut head_of(pipeline).out;
            if !out.has_flushed() {
                return;
            }
            let fd = stream.as_fd();
            self.turn_writes += 1;
            match stream.try_io(Interest::WRITABLE, || out.write_step(fd)) {
                Ok(n) => {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    self.turn_bytes = self.turn_bytes.saturating_add(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    /// The connection has something to write now: flushed entries, or
    /// (TLS) ciphertext, or flushed entries it may encrypt.
    fn wants_write(&mut self) -> bool {
        let flushed = head_of(&mut self.pipeline).out.has_flushed();
        match &self.tls {
            None => flushed,
            Some(t) => t.has_ciphertext() || (flushed && t.can_seal()),
        }
    }

    /// The turn's write budget is spent: the connection owes a write if it
    /// still has something to write, and yields.
    fn over_budget(&mut self) -> bool {
        if self.turn_bytes < self.write_budget && self.turn_writes < self.max_writes {
            return false;
        }
        self.owed = self.wants_write();
        if self.owed {
            self.stats.add(Counter::WriteYields, 1);
        }
        true
    }

    fn read_ready(&mut self) {
        if self.tls.is_some() {
            return self.read_ready_tls();
        }
        for _ in 0..self.max_reads {
            if !self.head().auto_read || self.failed || self.closing.is_some() {
                break;
            }
            let Conn {
                stream, rb, stats, ..
            } = self;
            let fd = stream.as_fd();
            let want = rb.next_size();
            match stream.try_io(Interest::READABLE, || rb.read_from(fd, stats)) {
                Ok(b) if b.is_empty() => {
                    self.read_eof = true;
                    break;
                }
                Ok(b) => {
                    let short = b.len() < want;
                    self.dispatch(|p| p.fire_read(Message::Bytes(b)));
                    if short {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        self.dispatch(|p| p.fire_read_complete());
        if self.read_eof {
            self.input_ended();
        }
    }

    /// The peer's end of stream: closes, or with half-closure allowed,
    /// tells the handlers and stays open.
    fn input_ended(&mut self) {
        if self.half_closure && self.closing.is_none() && !self.output_shut {
            self.head().out.flush();
            self.dispatch(|p| p.fire_event(Event::User(Value::new(crate::InputShutdown))));
        } else {
            self.begin_close(None);
        }
    }

    /// Shuts down the writing half once nothing flushed is left to write
    /// (on TLS: after `close_notify` went out).
    fn try_shutdown_output(&mut self) {
        if self.failed || head_of(&mut self.pipeline).out.has_flushed() {
            return;
        }
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.close_notify();
            if tls.has_ciphertext() {
                self.write_ready();
                if self.tls.as_ref().is_some_and(|t| t.has_ciphertext()) {
                    return;
                }
            }
        }
        self.shutdown_output = false;
        self.output_shut = true;
        if let Err(e) = crate::sys::shutdown_write(self.stream.as_fd()) {
            self.fail(e);
        } else if self.read_eof {
            // Both directions are done.
            self.begin_close(None);
        }
    }

    fn begin_close(&mut self, deadline: Option<Instant>) {
        let own = Instant::now() + self.close_timeout;
        let deadline = deadline.map_or(own, |d| d.min(own));
        self.closing = Some(self.closing.map_or(deadline, |c| c.min(deadline)));
        self.head().out.flush();
        self.write_ready();
    }

    fn fail(&mut self, err: io::Error) {
        if self.failed {
            return;
        }
        self.failed = true;
        tracing::debug!(error = %err, "connection failed");
        let head = self.head();
        head.dead = true;
        head.out.fail_all(&err);
        self.dispatch(|p| p.fire_exception(PipelineError::Io(err)));
    }

    fn finish(&mut self) {
        let head = self.head();
        head.dead = true;
        if !head.out.is_empty() {
            head.out.fail_all(&closed_error());
        }
        self.pipeline.set_now(Instant::now().into_std());
        self.pipeline.fire_channel_inactive();
    }
}

fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the channel is closed")
}

/// The next finished task, if there are tasks (the caller checks).
async fn next_task(tasks: &mut Option<FuturesOrdered<Task>>) -> Option<TaskDone> {
    match tasks {
        Some(t) => t.next().await,
        None => None,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}
