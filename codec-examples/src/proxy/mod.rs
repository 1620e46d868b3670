//! `weft proxy`: a TCP proxy whose bytes never enter user space.
//!
//! Each accepted client gets a connection to the upstream, and
//! [`weft_transport::relay`] moves bytes both ways: with `--mode splice`
//! (the default) through a pipe per direction (`socket → pipe → socket`,
//! two `splice` calls, no copy), with `--mode copy` through a buffer (one
//! counted copy per byte), for comparison. When one side half-closes, the
//! relay shuts down the write half of the other side and keeps relaying the
//! other direction.
//!
//! On exit (SIGINT/SIGTERM) it stops accepting, lets open relays finish for
//! up to [`SHUTDOWN_GRACE`], then ends the ones still open (an idle
//! keep-alive connection never finishes by itself) by shutting down the
//! read half of both their sockets: each direction sees the end of its
//! stream, sends on what its pipe still holds, half-closes its peer and
//! reports its bytes, so they count too. Only a relay that cannot even
//! drain within [`CUT_DRAIN`] (a peer that stopped reading) is dropped
//! uncounted, with a warning. Then it prints how many bytes went each way:
//!
//! ```text
//! client->upstream 8388608 bytes
//! upstream->client 8388608 bytes
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::os::fd::{AsRawFd, BorrowedFd};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use weft_transport::{relay, RelayMode};

use crate::common::{announce, raise_nofile_limit, shutdown_signal, SHUTDOWN_GRACE};

mod tls;

/// How long a relay ended after the grace period may take to send on
/// what its pipes hold and report its byte counts.
pub const CUT_DRAIN: Duration = Duration::from_secs(1);

/// How the proxy moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// `splice` through a pipe per direction: zero-copy.
    #[default]
    Splice,
    /// `read` + `write` through a buffer: one counted copy per byte.
    Copy,
}

impl From<Mode> for RelayMode {
    fn from(m: Mode) -> RelayMode {
        match m {
            Mode::Splice => RelayMode::Splice,
            Mode::Copy => RelayMode::Copy,
        }
    }
}

/// Arguments of `weft proxy`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Address of the upstream server (`host:port`).
    #[arg(long)]
    pub upstream: String,
    /// `splice` (zero-copy, the default) or `copy`.
    #[arg(long, value_enum, default_value_t = Mode::Splice)]
    pub mode: Mode,
    /// Terminate TLS (`--tls-cert`, `--tls-key`) in front of the plaintext
    /// upstream; `--mode` then does not apply (decrypted bytes are handed
    /// on as the buffers TLS produced).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
}

/// Bytes relayed by the connections that have finished (or were ended at
/// shutdown and reported their counts).
#[derive(Debug, Default)]
struct Totals {
    to_upstream: AtomicU64,
    to_client: AtomicU64,
    copied: AtomicU64,
}

/// Stops reading `fd` (`shutdown(SHUT_RD)`): a read or `splice` waiting
/// on it wakes up and sees the end of the stream.
fn shutdown_read(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is a socket borrowed for the call; shutdown(2) does not
    // touch memory.
    if unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RD) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

async fn serve_one(
    client: TcpStream,
    upstream: &str,
    mode: Mode,
    totals: &Totals,
    mut cut: watch::Receiver<bool>,
) -> io::Result<()> {
    use std::os::fd::AsFd;
    let up = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    up.set_nodelay(true)?;
    let relayed = relay(&client, &up, mode.into());
    tokio::pin!(relayed);
    let stats = tokio::select! {
        stats = &mut relayed => stats?,
        // The sender lives until every relay is done or dropped.
        Ok(()) = async { cut.wait_for(|&cut| cut).await.map(drop) } => {
            // Both directions see their stream end, drain and report.
            for fd in [client.as_fd(), up.as_fd()] {
                if let Err(e) = shutdown_read(fd) {
                    tracing::debug!("shutdown(SHUT_RD) at exit: {e}");
                }
            }
            let drained = tokio::time::timeout(CUT_DRAIN, &mut relayed).await;
            drained.map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "relay did not drain at exit")
            })??
        }
    };
    totals
        .to_upstream
        .fetch_add(stats.a_to_b, Ordering::Relaxed);
    totals.to_client.fetch_add(stats.b_to_a, Ordering::Relaxed);
    totals
        .copied
        .fetch_add(stats.stats.copied_bytes, Ordering::Relaxed);
    tracing::debug!(
        to_upstream = stats.a_to_b,
        to_client = stats.b_to_a,
        fallbacks = stats.fallbacks,
        "relay done"
    );
    Ok(())
}

/// Runs `weft proxy` until SIGINT or SIGTERM.
///
/// # Errors
///
/// Fails if the listening socket cannot be bound or the signal handlers
/// cannot be installed. Errors of single connections are logged.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use weft_examples::proxy::{run, Mode, ProxyArgs};
/// run(ProxyArgs {
///     listen: "127.0.0.1:0".parse().unwrap(),
///     upstream: "127.0.0.1:6379".into(),
///     mode: Mode::Splice,
///     tls: Default::default(),
/// })
/// .await
/// # }
/// ```
pub async fn run(args: ProxyArgs) -> io::Result<()> {
    if let Err(e) = raise_nofile_limit() {
        tracing::warn!("cannot raise the descriptor limit: {e}");
    }
    if let Some(acceptor) = args.tls.acceptor(&[])? {
        return run_tls(args, acceptor).await;
    }
    let listener = TcpListener::bind(args.listen).await?;
    announce(listener.local_addr()?);
    let totals = Arc::new(Totals::default());
    let upstream: Arc<str> = args.upstream.into();
    let mut conns = JoinSet::new();
    let (cut, cut_rx) = watch::channel(false);
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            res = &mut signal => {
                res?;
                break;
            }
            accepted = listener.accept() => {
                let (client, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        continue;
                    }
                };
                let totals = totals.clone();
                let upstream = upstream.clone();
                let mode = args.mode;
                let cut_rx = cut_rx.clone();
                conns.spawn(async move {
                    if let Err(e) = serve_one(client, &upstream, mode, &totals, cut_rx).await {
                        tracing::info!(%peer, "relay ended: {e}");
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let open = conns.len();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let still = conns.len();
        tracing::info!("{still} of {open} relays still open after the grace period: ending them");
        cut.send_replace(true);
        // Each task gives up by itself after CUT_DRAIN; this bound is a
        // second line.
        let ended = tokio::time::timeout(CUT_DRAIN * 2, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if ended.is_err() {
            tracing::warn!(
                "{} relays did not end: dropped, their bytes uncounted",
                conns.len()
            );
            conns.shutdown().await;
        }
    }
    totals.print();
    Ok(())
}

/// [`run`] with TLS terminated here: each client is a TLS connection of a
/// Weft server whose pipeline forwards to a plaintext upstream connection.
async fn run_tls(args: ProxyArgs, acceptor: weft_transport::TlsAcceptor) -> io::Result<()> {
    let totals = Arc::new(Totals::default());
    let upstream: Arc<str> = args.upstream.into();
    let t = totals.clone();
    let mut config = weft_transport::ChannelConfig::default();
    config.allow_half_closure(true);
    let server = crate::common::server_builder()
        .config(config)
        .tls(acceptor)
        .bind_tcp(args.listen, move |p| {
            p.handlers()
                .add_last("front", tls::Front::new(upstream.clone(), t.clone()))?;
            Ok(())
        })
        .map_err(io::Error::other)?;
    announce(server.local_addr().unwrap_or(args.listen));
    shutdown_signal().await?;
    server
        .shutdown(SHUTDOWN_GRACE)
        .await
        .map_err(io::Error::other)?;
    totals
        .copied
        .store(weft_buf::total_copied(), Ordering::Relaxed);
    totals.print();
    Ok(())
}

impl Totals {
    fn print(&self) {
        println!(
            "client->upstream {} bytes",
            self.to_upstream.load(Ordering::Relaxed)
        );
        println!(
            "upstream->client {} bytes",
            self.to_client.load(Ordering::Relaxed)
        );
        println!(
            "copied in user space {} bytes",
            self.copied.load(Ordering::Relaxed)
        );
    }
}
