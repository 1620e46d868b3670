//! The task that owns one connection: its socket, its pipeline and its
//! outbound buffer.
//!
//! ```text
//!            ┌───────────── connection task ─────────────┐
//!  socket ──▶│ AdaptiveRecvBuf ─▶ pipeline.fire_read ... │
//!            │                                           │
//!  socket ◀──│ OutboundBuffer ◀── HeadOp::{Write, Flush} │◀── Channel handles
//!            │ timers: pipeline.next_deadline()          │    (commands)
//!            └───────────────────────────────────────────┘
//! ```
//!
//! One `select!` waits for whichever comes first: readability (while
//! auto-read is on), writability (while flushed writes wait), a command
//! from a [`Channel`](crate::Channel), the pipeline's next deadline, the
//! server's shutdown, or the close deadline.

use std::io;
use std::os::fd::AsFd;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::io::Interest;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use weft_pipeline::{HeadOp, Message, Pipeline, PipelineError, WritePromise};

use crate::channel::{Channel, Command, Shared};
use crate::config::ChannelConfig;
use crate::outbound::{Completion, FilePath, OutboundBuffer, Payload};
use crate::recv::AdaptiveRecvBuf;
use crate::stats::Stats;
use crate::stream::Stream;

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

struct Conn {
    stream: Stream,
    pipeline: Pipeline,
    out: OutboundBuffer<WritePromise>,
    rb: AdaptiveRecvBuf,
    stats: Arc<Stats>,
    shared: Arc<Shared>,
    auto_read: bool,
    file_path: FilePath,
    max_reads: usize,
    close_timeout: Duration,
    /// Set once closing: the time by which the connection closes anyway.
    closing: Option<Instant>,
    read_eof: bool,
    failed: bool,
    closed: bool,
}

/// Sets up a connection and returns its handle and the future that runs
/// it (to be spawned).
pub(crate) fn start(
    stream: Stream,
    pipeline: Pipeline,
    cfg: &ChannelConfig,
    shutdown: Option<ShutdownRx>,
) -> io::Result<(
    Channel,
    impl std::future::Future<Output = Ended> + Send + 'static,
)> {
    cfg.apply(stream.as_fd(), stream.is_tcp())?;
    let stats = Arc::new(Stats::new());
    let (local, peer) = stream.addrs();
    let shared = Arc::new(Shared {
        stats: stats.clone(),
        local,
        peer,
        writable: true.into(),
        closed: watch::channel(false).0,
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let mut out = OutboundBuffer::new(stats.clone());
    out.set_watermarks(cfg.high, cfg.low)
        .set_coalesce_threshold(cfg.coalesce);
    let (min, initial, max) = cfg.recv_sizes;
    let conn = Conn {
        stream,
        pipeline,
        out,
        rb: AdaptiveRecvBuf::with_sizes(min, initial, max),
        stats,
        shared: shared.clone(),
        auto_read: cfg.auto_read,
        file_path: cfg.file_path,
        max_reads: cfg.max_reads,
        close_timeout: cfg.close_timeout,
        closing: None,
        read_eof: false,
        failed: false,
        closed: false,
    };
    let closed = shared.clone();
    let fut = async move {
        let ended = match AssertUnwindSafe(conn.run(rx, shutdown))
            .catch_unwind()
            .await
        {
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
        closed.closed.send_replace(true);
        ended
    };
    Ok((Channel { tx, shared }, fut))
}

impl Conn {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>, shutdown: Option<ShutdownRx>) {
        let (mut shutdown, mut watch_shutdown) = match shutdown {
            Some(s) => (s, true),
            None => (watch::channel(None).1, false),
        };
        let mut commands_open = true;
        self.dispatch(|p| p.fire_channel_active());
        if let Some(deadline) = *shutdown.borrow_and_update() {
            self.begin_close(Some(deadline));
        }
        loop {
            if self.failed || (self.closing.is_some() && !self.out.has_flushed()) {
                break;
            }
            let timer = self.pipeline.next_deadline().map(Instant::from_std);
            let close_at = self.closing;
            let reading = self.auto_read && !self.read_eof && self.closing.is_none();
            let writing = self.out.has_flushed();
            tokio::select! {
                biased;
                changed = shutdown.changed(), if watch_shutdown => match changed {
                    Ok(()) => {
                        let deadline = *shutdown.borrow_and_update();
                        if deadline.is_some() {
                            self.begin_close(deadline);
                        }
                    }
                    // The server is gone: close as if asked to.
                    Err(_) => {
                        watch_shutdown = false;
                        self.begin_close(None);
                    }
                },
                cmd = rx.recv(), if commands_open => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => commands_open = false,
                },
                r = self.stream.ready(Interest::WRITABLE), if writing => match r {
                    // Progress may fire writability events; what handlers do
                    // in them (write, flush, resume reading) must run now, or
                    // a connection that stopped reading would stall.
                    Ok(()) => {
                        self.pipeline.set_now(Instant::now().into_std());
                        self.write_ready();
                        self.perform_head_ops();
                    }
                    Err(e) => self.fail(e),
                },
                r = self.stream.ready(Interest::READABLE), if reading => match r {
                    Ok(()) => self.read_ready(),
                    Err(e) => self.fail(e),
                },
                () = sleep_until(timer), if timer.is_some() => {
                    let now = Instant::now().into_std();
                    self.dispatch(|p| p.fire_timer(now));
                }
                () = sleep_until(close_at), if close_at.is_some() => {
                    tracing::debug!(pending = self.out.pending_bytes(), "close deadline passed; closing anyway");
                    break;
                }
            }
        }
        self.finish();
    }

    /// Runs `f` on the pipeline with the current time set, then performs
    /// the head operations it caused.
    fn dispatch(&mut self, f: impl FnOnce(&mut Pipeline)) {
        self.pipeline.set_now(Instant::now().into_std());
        f(&mut self.pipeline);
        self.perform_head_ops();
    }

    fn perform_head_ops(&mut self) {
        loop {
            let ops = self.pipeline.take_head_ops();
            if ops.is_empty() {
                return;
            }
            for op in ops {
                match op {
                    HeadOp::Write(msg, promise) => self.queue(msg, promise),
                    HeadOp::Flush => {
                        self.out.flush();
                        self.write_ready();
                    }
                    HeadOp::Close => self.begin_close(None),
                    HeadOp::SetAutoRead(on) => self.auto_read = on,
                }
            }
        }
    }

    fn queue(&mut self, msg: Message, promise: Option<WritePromise>) {
        if self.closed || self.failed {
            if let Some(p) = promise {
                p.fail(closed_error());
            }
            return;
        }
        let payload = match msg {
            Message::Bytes(b) => Payload::Bytes(b),
            Message::Composite(c) => Payload::Composite(c),
            Message::File(r) => Payload::File(r, self.file_path),
            other => {
                if let Some(p) = promise {
                    p.fail(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{:?} cannot be written to a socket", other.kind()),
                    ));
                }
                return;
            }
        };
        self.out.push(payload, promise);
        self.writability();
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Write(msg, p) => self.dispatch(|pl| pl.write(msg, p)),
            Command::Flush => self.dispatch(|pl| pl.flush()),
            Command::Close => self.dispatch(|pl| pl.close()),
            Command::SetAutoRead(on) => self.auto_read = on,
            Command::SetFilePath(path) => self.file_path = path,
            Command::Execute(f) => self.dispatch(f),
        }
    }

    /// Reports a watermark crossing to the handle and the pipeline (the
    /// head operations it causes are performed by the caller's loop).
    fn writability(&mut self) {
        while let Some(w) = self.out.take_writability_change() {
            self.shared.writable.store(w, Ordering::Relaxed);
            self.pipeline.fire_writability_changed(w);
        }
    }

    /// Writes flushed entries until the kernel says `EAGAIN` or none is left.
    fn write_ready(&mut self) {
        if self.failed {
            return;
        }
        while self.out.has_flushed() {
            let Conn { stream, out, .. } = self;
            let fd = stream.as_fd();
            match stream.try_io(Interest::WRITABLE, || out.write_step(fd)) {
                Ok(_) => self.writability(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.fail(e);
                    break;
                }
            }
        }
    }

    fn read_ready(&mut self) {
        for _ in 0..self.max_reads {
            if !self.auto_read || self.failed || self.closing.is_some() {
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
            self.begin_close(None);
        }
    }

    fn begin_close(&mut self, deadline: Option<Instant>) {
        let own = Instant::now() + self.close_timeout;
        let deadline = deadline.map_or(own, |d| d.min(own));
        self.closing = Some(self.closing.map_or(deadline, |c| c.min(deadline)));
        self.out.flush();
        self.write_ready();
    }

    fn fail(&mut self, err: io::Error) {
        if self.failed {
            return;
        }
        self.failed = true;
        tracing::debug!(error = %err, "connection failed");
        self.out.fail_all(&err);
        self.dispatch(|p| p.fire_exception(PipelineError::Io(err)));
    }

    fn finish(&mut self) {
        self.closed = true;
        if !self.out.is_empty() {
            self.out.fail_all(&closed_error());
        }
        self.dispatch(|p| p.fire_channel_inactive());
    }
}

fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the channel is closed")
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}
