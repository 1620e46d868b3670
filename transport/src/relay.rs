//! A bidirectional relay between two sockets: zero-copy through a pipe in
//! each direction with `splice`, or a counted copy loop.
//!
//! ```text
//!  a --splice--> pipe --splice--> b      (a to b)
//!  b --splice--> pipe --splice--> a      (b to a)
//! ```
//!
//! When one side ends its stream, the relay shuts down the writing half of
//! the other side (half-close) and keeps relaying the other direction
//! until it ends too.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use crate::outbound::AsyncSink;
use crate::stats::{Counter, Stats, StatsSnapshot};
use crate::sys;

/// Pipe buffer asked for per direction; the kernel may grant less.
pub const RELAY_PIPE_SIZE: usize = 1024 * 1024;

/// Bytes moved per round by the copy loop.
pub const RELAY_COPY_CHUNK: usize = 64 * 1024;

/// How a relay moves bytes.
///
/// # Examples
///
/// ```
/// assert_ne!(weft_transport::RelayMode::Splice, weft_transport::RelayMode::Copy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayMode {
    /// `splice` through a pipe: no byte enters user space. Falls back to
    /// [`RelayMode::Copy`] for a direction where the kernel refuses it
    /// (`EINVAL`/`ENOSYS`) before any byte went through: on the source's
    /// side, or on the sink's, in which case the bytes already in the pipe
    /// are read out of it and written (counted) before the copy loop
    /// goes on.
    Splice,
    /// `read` into a buffer and `write` it: one counted copy per byte.
    Copy,
}

/// What a finished relay did.
///
/// # Examples
///
/// ```
/// let s = weft_transport::RelayStats::default();
/// assert_eq!(s.a_to_b + s.b_to_a, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Bytes relayed from `a` to `b`.
    pub a_to_b: u64,
    /// Bytes relayed from `b` to `a`.
    pub b_to_a: u64,
    /// Directions that fell back from splice to copying.
    pub fallbacks: u32,
    /// System calls and copies of this relay alone.
    pub stats: StatsSnapshot,
}

/// Relays bytes both ways between `a` and `b` until both directions have
/// ended, shutting down the write half of each side when the other side's
/// stream ends.
///
/// # Errors
///
/// The first I/O error of either direction (a reset peer, ...); the other
/// direction is then abandoned.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use weft_transport::{relay, RelayMode};
///
/// let (mut client, a) = tokio::net::UnixStream::pair().unwrap();
/// let (b, mut server) = tokio::net::UnixStream::pair().unwrap();
/// let relayed = tokio::spawn(async move { relay(&a, &b, RelayMode::Splice).await });
/// client.write_all(b"ping").await.unwrap();
/// client.shutdown().await.unwrap();
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await.unwrap();
/// assert_eq!(got, b"ping");
/// server.write_all(b"pong").await.unwrap();
/// drop(server);
/// let mut back = Vec::new();
/// client.read_to_end(&mut back).await.unwrap();
/// assert_eq!(back, b"pong");
/// let stats = relayed.await.unwrap().unwrap();
/// assert_eq!((stats.a_to_b, stats.b_to_a), (4, 4));
/// # });
/// ```
pub async fn relay<A: AsyncSink, B: AsyncSink>(
    a: &A,
    b: &B,
    mode: RelayMode,
) -> io::Result<RelayStats> {
    let stats = Stats::new();
    let ((a_to_b, fa), (b_to_a, fb)) =
        tokio::try_join!(pump(a, b, mode, &stats), pump(b, a, mode, &stats))?;
    Ok(RelayStats {
        a_to_b,
        b_to_a,
        fallbacks: u32::from(fa) + u32::from(fb),
        stats: stats.snapshot(),
    })
}

/// One direction; returns the bytes moved and whether it fell back.
async fn pump<S: AsyncSink, D: AsyncSink>(
    src: &S,
    dst: &D,
    mode: RelayMode,
    stats: &Stats,
) -> io::Result<(u64, bool)> {
    let (n, fell_back) = match mode {
        RelayMode::Splice => match pump_splice(src, dst, stats).await? {
            Spliced::Done(n) => (n, false),
            Spliced::Refused(n) => (n + copy_loop(src, dst, stats).await?, true),
        },
        RelayMode::Copy => (copy_loop(src, dst, stats).await?, false),
    };
    match sys::shutdown_write(dst.as_fd()) {
        Err(e) if e.raw_os_error() != Some(libc::ENOTCONN) => Err(e),
        _ => Ok((n, fell_back)),
    }
}

fn refused(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS))
}

/// Splices `src` to `dst` until end of stream; `None` when the kernel
/// refused the very first splice (nothing moved yet: copy instead).
/// How a splice pump ended.
enum Spliced {
    /// The source ended; this many bytes went through.
    Done(u64),
    /// The kernel refused splice on one side before any byte went through;
    /// this many bytes (taken into the pipe already) were moved by copy.
    Refused(u64),
}

async fn pump_splice<S: AsyncSink, D: AsyncSink>(
    src: &S,
    dst: &D,
    stats: &Stats,
) -> io::Result<Spliced> {
    let (r, w): (OwnedFd, OwnedFd) = sys::pipe()?;
    let chunk = sys::set_pipe_size(w.as_fd(), RELAY_PIPE_SIZE).unwrap_or(64 * 1024);
    let mut total = 0u64;
    loop {
        let got = src
            .read_io(|| {
                stats.add(Counter::SpliceCalls, 1);
                sys::splice(src.as_fd(), None, w.as_fd(), chunk)
            })
            .await;
        let mut pending = match got {
            Ok(0) => return Ok(Spliced::Done(total)),
            Ok(n) => n,
            Err(e) if total == 0 && refused(&e) => return Ok(Spliced::Refused(0)),
            Err(e) => return Err(e),
        };
        while pending > 0 {
            let sent = dst
                .write_io(|| {
                    stats.add(Counter::SpliceCalls, 1);
                    sys::splice(r.as_fd(), None, dst.as_fd(), pending)
                })
                .await;
            let n = match sent {
                Ok(n) => n,
                Err(e) if total == 0 && refused(&e) => {
                    let moved = copy_out_of_pipe(&r, pending, dst, stats).await?;
                    return Ok(Spliced::Refused(moved));
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "splice accepted no bytes",
                ));
            }
            if n < pending {
                stats.add(Counter::PartialWrites, 1);
            }
            stats.add(Counter::SpliceBytes, n as u64);
            pending -= n;
            total += n as u64;
        }
    }
}

/// Reads into a buffer and writes it out until end of stream, counting
/// the copy.
/// Moves the `pending` bytes a refused sink left in the pipe by copy.
async fn copy_out_of_pipe<D: AsyncSink>(
    r: &OwnedFd,
    pending: usize,
    dst: &D,
    stats: &Stats,
) -> io::Result<u64> {
    let mut buf = vec![0u8; RELAY_COPY_CHUNK];
    let mut left = pending;
    while left > 0 {
        let want = left.min(buf.len());
        stats.add(Counter::ReadCalls, 1);
        // The bytes are in the pipe already: this read does not wait.
        let n = sys::read(r.as_fd(), buf.get_mut(..want).unwrap_or_default())?;
        if n == 0 {
            break;
        }
        stats.record_copy(n);
        write_all(dst, buf.get(..n).unwrap_or_default(), stats).await?;
        left -= n;
    }
    Ok((pending - left) as u64)
}

/// Writes `data` to `dst` with `write`, waiting for writability.
async fn write_all<D: AsyncSink>(dst: &D, data: &[u8], stats: &Stats) -> io::Result<()> {
    let mut off = 0;
    while off < data.len() {
        let chunk = data.get(off..).unwrap_or_default();
        let w = dst
            .write_io(|| {
                stats.add(Counter::WriteCalls, 1);
                sys::write(dst.as_fd(), chunk)
            })
            .await?;
        if w == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write accepted no bytes",
            ));
        }
        stats.add(Counter::CopyBytes, w as u64);
        off += w;
    }
    Ok(())
}

async fn copy_loop<S: AsyncSink, D: AsyncSink>(src: &S, dst: &D, stats: &Stats) -> io::Result<u64> {
    let mut buf = vec![0u8; RELAY_COPY_CHUNK];
    let mut total = 0u64;
    loop {
        let n = src
            .read_io(|| {
                stats.add(Counter::ReadCalls, 1);
                sys::read(src.as_fd(), &mut buf)
            })
            .await?;
        if n == 0 {
            return Ok(total);
        }
        stats.record_copy(n);
        write_all(dst, buf.get(..n).unwrap_or_default(), stats).await?;
        total += n as u64;
    }
}
