//! The accept side of a server: listeners, the accept loop with its
//! back-off after errors, the connection limit, and spawning each accepted
//! connection's task.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use futures::FutureExt;
use tokio::task::JoinSet;
use tokio::time::Instant;
use weft_pipeline::Pipeline;

use crate::channel::{Command, Shared};
use crate::config::ChannelConfig;
use crate::conn::{self, Ended, ShutdownRx};
use crate::server::{ChannelHook, Initializer, MAX_ACCEPT_BACKOFF, MIN_ACCEPT_BACKOFF};
use crate::stream::Stream;

/// Server-wide counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) active: AtomicU64,
    pub(crate) panicked: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    pub(crate) init_errors: AtomicU64,
    pub(crate) refused: AtomicU64,
}

pub(crate) enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

pub(crate) enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

impl StdListener {
    pub(crate) fn into_tokio(self) -> io::Result<Listener> {
        Ok(match self {
            StdListener::Tcp(l) => Listener::Tcp(tokio::net::TcpListener::from_std(l)?),
            StdListener::Unix(l) => Listener::Unix(tokio::net::UnixListener::from_std(l)?),
        })
    }
}

impl Listener {
    async fn accept(&self) -> io::Result<Stream> {
        Ok(match self {
            Listener::Tcp(l) => Stream::Tcp(l.accept().await?.0),
            Listener::Unix(l) => Stream::Unix(l.accept().await?.0),
        })
    }
}

/// What every acceptor shares.
pub(crate) struct AcceptCtx {
    pub(crate) init: Initializer,
    pub(crate) config: ChannelConfig,
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_connections: Option<u64>,
    pub(crate) on_channel: Option<ChannelHook>,
}

fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO) | Some(libc::EPERM)
    )
}

/// The connections one acceptor started, by id, to tell them of the
/// shutdown: a command each, where a watch receiver per connection cost a
/// `Notify` waiter on every turn of every connection's loop.
#[derive(Default)]
struct Live {
    next: u64,
    conns: HashMap<u64, Weak<Shared>>,
}

impl Live {
    /// Tells every live connection to close by `deadline`.
    fn shut_down(&mut self, deadline: Instant) {
        for shared in std::mem::take(&mut self.conns).into_values() {
            if let Some(shared) = shared.upgrade() {
                shared.send(Command::Shutdown(deadline));
            }
        }
    }
}

pub(crate) async fn accept_loop(listener: Listener, ctx: Arc<AcceptCtx>, mut shutdown: ShutdownRx) {
    let mut conns: JoinSet<(u64, Ended)> = JoinSet::new();
    let mut live = Live::default();
    let mut backoff = MIN_ACCEPT_BACKOFF;
    loop {
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_err() || shutdown.borrow().is_some() {
                    break;
                }
            }
            Some(done) = conns.join_next(), if !conns.is_empty() => reap(&ctx.counters, &mut live, done),
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    backoff = MIN_ACCEPT_BACKOFF;
                    ctx.counters.accepted.fetch_add(1, Ordering::Relaxed);
                    if ctx.full() {
                        // Closed at once: the peer reads the end of the stream.
                        ctx.counters.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("connection limit reached; refused a connection");
                        drop(stream);
                    } else {
                        spawn_conn(stream, &ctx, &mut live, &mut conns);
                    }
                }
                Err(e) if transient(&e) => {}
                Err(e) => {
                    ctx.counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, ?backoff, "accept failed; pausing");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                }
            },
        }
    }
    drop(listener);
    // The server's deadline; if its handle went away without one, each
    // connection's own close timeout.
    let deadline = shutdown
        .borrow()
        .unwrap_or_else(|| Instant::now() + ctx.config.close_timeout);
    live.shut_down(deadline);
    while let Some(done) = conns.join_next().await {
        reap(&ctx.counters, &mut live, done);
    }
}

impl AcceptCtx {
    /// Returns `true` when `max_connections` connections are running.
    fn full(&self) -> bool {
        self.max_connections
            .is_some_and(|max| self.counters.active.load(Ordering::Relaxed) >= max)
    }
}

fn reap(counters: &Counters, live: &mut Live, done: Result<(u64, Ended), tokio::task::JoinError>) {
    counters.active.fetch_sub(1, Ordering::Relaxed);
    if let Ok((id, _)) = &done {
        live.conns.remove(id);
    }
    match done.map(|(_, ended)| ended) {
        Ok(Ended::Normally) => {}
        Ok(Ended::Panicked) => {
            counters.panicked.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            if e.is_panic() {
                counters.panicked.fetch_add(1, Ordering::Relaxed);
            }
            tracing::error!(error = %e, "connection task failed");
        }
    }
}

fn spawn_conn(stream: Stream, ctx: &AcceptCtx, live: &mut Live, conns: &mut JoinSet<(u64, Ended)>) {
    let mut pipeline = Pipeline::new();
    let init = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (ctx.init)(&mut pipeline)));
    match init {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            ctx.counters.init_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "pipeline initializer refused a connection");
            return;
        }
        Err(_) => {
            ctx.counters.panicked.fetch_add(1, Ordering::Relaxed);
            tracing::error!("pipeline initializer panicked; connection dropped");
            return;
        }
    }
    match conn::start(stream, pipeline, &ctx.config) {
        Ok((channel, fut)) => {
            ctx.counters.active.fetch_add(1, Ordering::Relaxed);
            let id = live.next;
            live.next += 1;
            live.conns.insert(id, Arc::downgrade(&channel.shared));
            conns.spawn(fut.map(move |ended| (id, ended)));
            if let Some(hook) = &ctx.on_channel {
                let called =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(channel)));
                if called.is_err() {
                    ctx.counters.panicked.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("the on_channel hook panicked");
                }
            }
        }
        Err(e) => {
            ctx.counters.init_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "cannot set up an accepted connection");
        }
    }
}
