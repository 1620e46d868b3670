//! Server and client bootstraps.
//!
//! A [`ServerBuilder`] binds a TCP or Unix address and accepts; each
//! accepted connection gets a fresh [`Pipeline`] filled by the initializer
//! closure and runs in its own tokio task. Two runtime models:
//!
//! - the ordinary one: one acceptor task on the caller's tokio runtime
//!   (usually the multi-thread runtime);
//! - thread-per-core ([`ServerBuilder::threads`]): N threads, each with a
//!   current-thread runtime and its own `SO_REUSEPORT` listener, so the
//!   kernel spreads connections and each connection stays on one thread.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use weft_pipeline::{Pipeline, PipelineError};

use crate::accept::{accept_loop, AcceptCtx, Counters, StdListener};
use crate::channel::Channel;
use crate::config::ChannelConfig;
use crate::error::TransportError;
use crate::sys;

/// Fills the pipeline of each new connection.
pub type Initializer = Arc<dyn Fn(&mut Pipeline) -> Result<(), PipelineError> + Send + Sync>;

/// Called with the handle of each accepted connection.
pub type ChannelHook = Arc<dyn Fn(Channel) + Send + Sync>;

/// Default listen backlog.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// First pause after an accept error such as `EMFILE`; it doubles after
/// each further error up to [`MAX_ACCEPT_BACKOFF`].
pub const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(5);

/// Longest pause between accept attempts after errors.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A server's counters at one moment.
///
/// # Examples
///
/// ```
/// let s = weft_transport::ServerStats::default();
/// assert_eq!(s.accepted, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections running now.
    pub active: u64,
    /// Connections closed because a handler panicked.
    pub panicked: u64,
    /// Failed accepts (`EMFILE`, ...), each followed by a pause.
    pub accept_errors: u64,
    /// Connections the initializer refused.
    pub init_errors: u64,
    /// Connections accepted and closed at once because
    /// [`max_connections`](ServerBuilder::max_connections) were running.
    pub refused: u64,
}

/// The address a server is bound to.
///
/// # Examples
///
/// ```
/// let a = weft_transport::BoundAddr::Unix("/tmp/s.sock".into());
/// assert!(a.tcp().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BoundAddr {
    /// A TCP address (with the real port when bound to port 0).
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(PathBuf),
}

impl BoundAddr {
    /// The TCP address, if it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = weft_transport::BoundAddr::Tcp("127.0.0.1:80".parse().unwrap());
    /// assert_eq!(a.tcp().unwrap().port(), 80);
    /// ```
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            BoundAddr::Tcp(a) => Some(*a),
            BoundAddr::Unix(_) => None,
        }
    }
}

/// Configures and binds a [`Server`].
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), weft_transport::TransportError> {
/// use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
/// use weft_transport::ServerBuilder;
///
/// let server = ServerBuilder::new().bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
///     p.handlers().add_last("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(1024)))?;
///     Ok(())
/// })?;
/// println!("listening on {:?}", server.local_addr());
/// server.shutdown(std::time::Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerBuilder {
    config: ChannelConfig,
    threads: usize,
    backlog: u32,
    reuse_port: bool,
    max_connections: Option<u64>,
    on_channel: Option<ChannelHook>,
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("threads", &self.threads)
            .field("backlog", &self.backlog)
            .field("reuse_port", &self.reuse_port)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl ServerBuilder {
    /// A builder with the default [`ChannelConfig`], one acceptor on the
    /// caller's runtime and a backlog of [`DEFAULT_BACKLOG`].
    ///
    /// # Examples
    ///
    /// ```
    /// let _b = weft_transport::ServerBuilder::new();
    /// ```
    pub fn new() -> Self {
        ServerBuilder {
            config: ChannelConfig::default(),
            threads: 0,
            backlog: DEFAULT_BACKLOG,
            reuse_port: false,
            max_connections: None,
            on_channel: None,
        }
    }

    /// Socket options and buffer settings of accepted connections. Replaces
    /// the whole configuration, including what setters such as
    /// [`write_budget`](Self::write_budget) set before.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = weft_transport::ChannelConfig::default();
    /// c.nodelay(true);
    /// weft_transport::ServerBuilder::new().config(c);
    /// ```
    pub fn config(&mut self, config: ChannelConfig) -> &mut Self {
        // TLS set with `tls()` is the builder's, not the configuration's.
        let tls = self.config.tls.take();
        self.config = config;
        self.config.set_tls(tls);
        self
    }

    /// Thread-per-core mode with `n` threads (each a current-thread runtime
    /// with its own `SO_REUSEPORT` listener); 0 (the default) accepts on
    /// the caller's runtime instead.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().threads(2);
    /// ```
    pub fn threads(&mut self, n: usize) -> &mut Self {
        self.threads = n;
        self
    }

    /// The listen backlog.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().backlog(128);
    /// ```
    pub fn backlog(&mut self, n: u32) -> &mut Self {
        self.backlog = n;
        self
    }

    /// Sets `SO_REUSEPORT` on the listener even with one acceptor (so other
    /// processes can share the port). Thread-per-core mode always sets it.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().reuse_port(true);
    /// ```
    pub fn reuse_port(&mut self, on: bool) -> &mut Self {
        self.reuse_port = on;
        self
    }

    /// Bytes each connection writes in one turn of its thread's event loop
    /// before the other connections run (see
    /// [`DEFAULT_WRITE_BUDGET`](crate::DEFAULT_WRITE_BUDGET)); the same as
    /// [`ChannelConfig::write_budget`] on [`config`](Self::config).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().write_budget(512 * 1024);
    /// ```
    pub fn write_budget(&mut self, bytes: usize) -> &mut Self {
        self.config.write_budget(bytes);
        self
    }

    /// Write system calls each connection makes in one turn before the
    /// other connections run (see
    /// [`DEFAULT_MAX_WRITES_PER_WAKEUP`](crate::DEFAULT_MAX_WRITES_PER_WAKEUP)).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().max_writes_per_wakeup(8);
    /// ```
    pub fn max_writes_per_wakeup(&mut self, n: usize) -> &mut Self {
        self.config.max_writes_per_wakeup(n);
        self
    }

    /// Most bytes one `sendfile` / `splice` call moves (see
    /// [`DEFAULT_MAX_WRITE_CHUNK`](crate::outbound::DEFAULT_MAX_WRITE_CHUNK),
    /// nginx's `sendfile_max_chunk`).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().max_write_chunk(256 * 1024);
    /// ```
    pub fn max_write_chunk(&mut self, bytes: usize) -> &mut Self {
        self.config.max_write_chunk(bytes);
        self
    }

    /// At most `n` connections run at once, over all the server's threads
    /// (unlimited by default). A connection accepted past the limit is
    /// closed at once, before any pipeline is built for it (the peer sees
    /// the end of the stream), and counted in [`ServerStats::refused`].
    /// `None` lifts the limit.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().max_connections(Some(10_000));
    /// ```
    pub fn max_connections(&mut self, n: Option<u64>) -> &mut Self {
        self.max_connections = n;
        self
    }

    /// Makes every connection TLS, as the server side of `acceptor` (see
    /// [`tls`](crate::tls)). Handlers are the same as on plaintext
    /// connections; a handshake that does not complete within the
    /// configuration's [`handshake_timeout`](ChannelConfig::handshake_timeout)
    /// closes the connection.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let tls = weft_transport::TlsAcceptor::from_pem_files("cert.pem", "key.pem", &[b"http/1.1"])?;
    /// let server = weft_transport::ServerBuilder::new()
    ///     .tls(tls)
    ///     .bind_tcp("127.0.0.1:0".parse()?, |_p| Ok(()))?;
    /// # Ok(()) }
    /// ```
    pub fn tls(&mut self, acceptor: crate::tls::TlsAcceptor) -> &mut Self {
        self.config
            .set_tls(Some(crate::tls::TlsRole::Server(acceptor)));
        self
    }

    /// Calls `f` with the [`Channel`] of each accepted connection (to keep
    /// handles for pushing to clients, for example).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ServerBuilder::new().on_channel(|ch| drop(ch));
    /// ```
    pub fn on_channel(&mut self, f: impl Fn(Channel) + Send + Sync + 'static) -> &mut Self {
        self.on_channel = Some(Arc::new(f));
        self
    }

    /// Binds a TCP address (`SO_REUSEADDR` on) and starts accepting.
    ///
    /// # Errors
    ///
    /// [`TransportError::Io`] if the address cannot be bound;
    /// [`TransportError::NoRuntime`] outside a tokio runtime in the
    /// ordinary mode.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), weft_transport::TransportError> {
    /// let server = weft_transport::ServerBuilder::new()
    ///     .bind_tcp("127.0.0.1:0".parse().unwrap(), |_p| Ok(()))?;
    /// assert!(server.local_addr().is_some());
    /// # Ok(()) }
    /// ```
    pub fn bind_tcp(
        &self,
        addr: SocketAddr,
        init: impl Fn(&mut Pipeline) -> Result<(), PipelineError> + Send + Sync + 'static,
    ) -> Result<Server, TransportError> {
        let n = self.threads.max(1);
        let reuse_port = self.reuse_port || self.threads > 0;
        let first = sys::tcp_listener(addr, reuse_port, self.backlog)?;
        let bound = first.local_addr()?;
        let mut listeners = vec![StdListener::Tcp(first)];
        for _ in 1..n {
            listeners.push(StdListener::Tcp(sys::tcp_listener(
                bound,
                true,
                self.backlog,
            )?));
        }
        self.start(listeners, BoundAddr::Tcp(bound), Arc::new(init))
    }

    /// Binds a Unix socket path and starts accepting. In thread-per-core
    /// mode the threads share one listener.
    ///
    /// # Errors
    ///
    /// As [`bind_tcp`](Self::bind_tcp).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), weft_transport::TransportError> {
    /// let server = weft_transport::ServerBuilder::new().bind_unix("/tmp/weft.sock", |_p| Ok(()))?;
    /// # Ok(()) }
    /// ```
    pub fn bind_unix(
        &self,
        path: impl AsRef<Path>,
        init: impl Fn(&mut Pipeline) -> Result<(), PipelineError> + Send + Sync + 'static,
    ) -> Result<Server, TransportError> {
        let path = path.as_ref().to_path_buf();
        let first = std::os::unix::net::UnixListener::bind(&path)?;
        first.set_nonblocking(true)?;
        let mut listeners = Vec::new();
        for _ in 1..self.threads.max(1) {
            listeners.push(StdListener::Unix(first.try_clone()?));
        }
        listeners.push(StdListener::Unix(first));
        self.start(listeners, BoundAddr::Unix(path), Arc::new(init))
    }

    fn start(
        &self,
        listeners: Vec<StdListener>,
        addr: BoundAddr,
        init: Initializer,
    ) -> Result<Server, TransportError> {
        let counters = Arc::new(Counters::default());
        let (shutdown_tx, shutdown_rx) = watch::channel(None);
        let ctx = Arc::new(AcceptCtx {
            init,
            config: self.config.clone(),
            counters: counters.clone(),
            max_connections: self.max_connections,
            on_channel: self.on_channel.clone(),
        });
        let mut acceptors = Vec::new();
        if self.threads == 0 {
            let handle =
                tokio::runtime::Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
            for l in listeners {
                let _guard = handle.enter();
                let l = l.into_tokio()?;
                let task = handle.spawn(accept_loop(l, ctx.clone(), shutdown_rx.clone()));
                acceptors.push(Acceptor::Task(task));
            }
        } else {
            for (i, l) in listeners.into_iter().enumerate() {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let ctx = ctx.clone();
                let rx = shutdown_rx.clone();
                let thread = std::thread::Builder::new()
                    .name(format!("weft-acceptor-{i}"))
                    .spawn(move || {
                        rt.block_on(async move {
                            match l.into_tokio() {
                                Ok(l) => accept_loop(l, ctx, rx).await,
                                Err(e) => tracing::error!(error = %e, "cannot register listener"),
                            }
                        });
                    })?;
                acceptors.push(Acceptor::Thread(thread));
            }
        }
        Ok(Server {
            addr,
            shutdown: shutdown_tx,
            counters,
            acceptors,
        })
    }
}

/// Accept errors that say nothing about the listener (the peer gave up).
enum Acceptor {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

/// A bound, accepting server. Dropping it shuts it down as
/// [`shutdown`](Self::shutdown) would, without waiting.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), weft_transport::TransportError> {
/// let server = weft_transport::ServerBuilder::new()
///     .bind_tcp("127.0.0.1:0".parse().unwrap(), |_p| Ok(()))?;
/// let addr = server.local_addr().unwrap();
/// let _ = tokio::net::TcpStream::connect(addr).await?;
/// server.shutdown(std::time::Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
pub struct Server {
    addr: BoundAddr,
    shutdown: watch::Sender<Option<Instant>>,
    counters: Arc<Counters>,
    acceptors: Vec<Acceptor>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("acceptors", &self.acceptors.len())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Server {
    /// The bound TCP address (with the real port when bound to port 0);
    /// `None` for a Unix socket.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(s: weft_transport::Server) { let _port = s.local_addr().unwrap().port(); }
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr.tcp()
    }

    /// The bound address, TCP or Unix.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(s: weft_transport::Server) { let _ = s.bound_addr(); }
    /// ```
    pub fn bound_addr(&self) -> &BoundAddr {
        &self.addr
    }

    /// The server's counters.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(s: weft_transport::Server) { assert_eq!(s.stats().panicked, 0); }
    /// ```
    pub fn stats(&self) -> ServerStats {
        let c = &self.counters;
        ServerStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            active: c.active.load(Ordering::Relaxed),
            panicked: c.panicked.load(Ordering::Relaxed),
            accept_errors: c.accept_errors.load(Ordering::Relaxed),
            init_errors: c.init_errors.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }

    /// Graceful shutdown: stops accepting, lets every connection flush what
    /// is pending and close, and closes the stragglers when `timeout` has
    /// passed. Resolves when every acceptor and connection has ended.
    ///
    /// # Errors
    ///
    /// [`TransportError::Io`] if an acceptor thread could not be joined.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(s: weft_transport::Server) -> Result<(), weft_transport::TransportError> {
    /// s.shutdown(std::time::Duration::from_secs(2)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(mut self, timeout: Duration) -> Result<(), TransportError> {
        self.shutdown.send_replace(Some(Instant::now() + timeout));
        for a in std::mem::take(&mut self.acceptors) {
            match a {
                Acceptor::Task(t) => {
                    if let Err(e) = t.await {
                        tracing::error!(error = %e, "acceptor task failed");
                    }
                }
                Acceptor::Thread(t) => {
                    tokio::task::spawn_blocking(move || t.join())
                        .await
                        .map_err(|e| io::Error::other(e.to_string()))?
                        .map_err(|_| io::Error::other("acceptor thread panicked"))?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.shutdown.borrow().is_none() {
            let deadline = Instant::now() + crate::config::DEFAULT_CLOSE_TIMEOUT;
            self.shutdown.send_replace(Some(deadline));
        }
        if let BoundAddr::Unix(path) = &self.addr {
            // The socket file is ours; a failure leaves a stale file only.
            let _ = std::fs::remove_file(path);
        }
    }
}
