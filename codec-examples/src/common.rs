//! What every `weft` server shares: the `listening on ADDR` line, graceful
//! shutdown on SIGINT/SIGTERM and its grace period, the byte totals printed
//! on exit, and raising the descriptor limit.

use std::fmt::Display;
use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::Duration;

use weft_transport::ServerBuilder;

/// How long connections may go on sending after a shutdown signal, in
/// every `weft` server, before they are closed.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_examples::common::SHUTDOWN_GRACE.as_secs(), 5);
/// ```
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Prints, on exit, how the process sent its bytes (weft-transport's
/// process-wide counters) and how many bytes Weft copied in user space
/// (`weft_buf::total_copied`: heads split across reads, small segments the
/// transport coalesced).
///
/// # Examples
///
/// ```
/// weft_examples::common::print_totals(); // "received 0 bytes", ...
/// ```
pub fn print_totals() {
    let s = weft_transport::global_stats();
    println!("received {} bytes", s.bytes_read);
    println!(
        "sent from memory {} bytes in {} writev/sendmsg calls",
        s.writev_bytes,
        s.writev_calls + s.sendmsg_calls
    );
    println!(
        "sent by sendfile {} bytes in {} calls",
        s.sendfile_bytes, s.sendfile_calls
    );
    println!("copied in user space {} bytes", weft_buf::total_copied());
    if s.tls_handshakes > 0 {
        println!(
            "TLS: {} handshakes, {} bytes encrypted, {} bytes decrypted",
            s.tls_handshakes, s.tls_encrypted_bytes, s.tls_decrypted_bytes
        );
    }
}

/// Announces `server`'s address, waits for SIGINT or SIGTERM, shuts the
/// server down within [`SHUTDOWN_GRACE`], and prints the totals: the end
/// of every `weft` server built on [`ServerBuilder`].
///
/// # Errors
///
/// The signal handlers cannot be installed, or the shutdown failed.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let server = weft_transport::ServerBuilder::new()
///     .bind_tcp("127.0.0.1:0".parse().unwrap(), |_p| Ok(()))
///     .map_err(std::io::Error::other)?;
/// weft_examples::common::serve_until_signal(server, "127.0.0.1:0".parse().unwrap()).await
/// # }
/// ```
pub async fn serve_until_signal(
    server: weft_transport::Server,
    listen: std::net::SocketAddr,
) -> io::Result<()> {
    announce(server.local_addr().unwrap_or(listen));
    shutdown_signal().await?;
    server
        .shutdown(SHUTDOWN_GRACE)
        .await
        .map_err(io::Error::other)?;
    print_totals();
    Ok(())
}

/// Prints `listening on ADDR` as the first line on stdout and flushes it, so
/// scripts that start a server with `--listen 127.0.0.1:0` can read the port.
///
/// # Examples
///
/// ```
/// weft_examples::common::announce("127.0.0.1:8080");
/// ```
pub fn announce(addr: impl Display) {
    let mut out = io::stdout().lock();
    // A closed stdout must not stop the server: the line is for scripts.
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// Resolves when the process receives SIGINT (Ctrl-C) or SIGTERM.
///
/// # Errors
///
/// Fails if the signal handlers cannot be installed.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// weft_examples::common::shutdown_signal().await?;
/// println!("shutting down");
/// # Ok(()) }
/// ```
pub async fn shutdown_signal() -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Raises the soft limit on open descriptors to the hard limit, as nginx's
/// `worker_rlimit_nofile` does, and returns the new soft limit.
///
/// # Errors
///
/// Fails if the limit cannot be read or set.
///
/// # Examples
///
/// ```
/// let soft = weft_examples::common::raise_nofile_limit().unwrap();
/// assert!(soft > 0);
/// ```
// `rlim_t` is `u64` on Linux but not on every Unix, hence the cast.
#[allow(clippy::unnecessary_cast)]
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit read just above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur as u64)
}

/// Event-loop threads the servers run on, chosen once by `weft --threads N`.
static THREADS: OnceLock<usize> = OnceLock::new();

/// The default of `weft --threads`: one event-loop thread per core the
/// process may run on (`std::thread::available_parallelism`, which
/// honours CPU affinity and cgroup quotas), 1 if that cannot be read.
///
/// # Examples
///
/// ```
/// assert!(weft_examples::common::default_threads() >= 1);
/// ```
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Sets the number of event-loop threads every server of this process
/// uses (`weft --threads N`, by default [`default_threads`]): 0 runs the
/// acceptor and the connections on the process's tokio runtime (what a
/// library user who never calls this gets); N > 0 runs N threads, each
/// with a current-thread runtime and its own `SO_REUSEPORT` listener
/// ([`ServerBuilder::threads`]). Only the first call counts.
///
/// # Examples
///
/// ```
/// weft_examples::common::set_threads(2);
/// assert_eq!(weft_examples::common::threads(), 2);
/// ```
pub fn set_threads(n: usize) {
    let _ = THREADS.set(n);
}

/// The number of event-loop threads chosen with [`set_threads`] (0 if none).
///
/// # Examples
///
/// ```
/// assert_eq!(weft_examples::common::threads(), 0);
/// ```
pub fn threads() -> usize {
    THREADS.get().copied().unwrap_or(0)
}

/// A [`ServerBuilder`] with the process's thread choice applied: what every
/// `weft` server starts from.
///
/// # Examples
///
/// ```
/// let _b = weft_examples::common::server_builder();
/// ```
pub fn server_builder() -> ServerBuilder {
    let mut b = ServerBuilder::new();
    if threads() > 0 {
        b.threads(threads());
    }
    b
}
