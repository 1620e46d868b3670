//! Weft's own rows: the file as one `FileRegion` message written to a
//! channel from `weft_transport::connect_tcp`, through its (empty) pipeline
//! and outbound buffer, by each of the transport's file paths.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_buf::FileRegion;
use weft_transport::{connect_tcp, ChannelConfig, FilePath};

use crate::{check_received, sys, Input, Receiver, Sample};

/// How long one Weft transfer may take before the bench gives up.
pub const WEFT_TIMEOUT: Duration = Duration::from_secs(120);

/// One of the transport's ways to send a `FileRegion`.
///
/// # Examples
///
/// ```
/// use weft_benches::WeftPath;
/// assert_eq!(WeftPath::Sendfile.name(), "weft FileRegion");
/// assert!(WeftPath::ALL.iter().all(|p| p.name().starts_with("weft")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeftPath {
    /// The default: `sendfile`.
    Sendfile,
    /// `splice` file -> pipe -> socket.
    Splice,
    /// `mmap` + `write` (a counted copy path).
    MmapWrite,
    /// `pread` + `write` (the counted copy fallback).
    ReadWrite,
}

impl WeftPath {
    /// Every Weft path, in table order.
    pub const ALL: [WeftPath; 4] = [
        WeftPath::Sendfile,
        WeftPath::Splice,
        WeftPath::MmapWrite,
        WeftPath::ReadWrite,
    ];

    /// The row name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_benches::WeftPath::Splice.name(), "weft FileRegion splice");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            WeftPath::Sendfile => "weft FileRegion",
            WeftPath::Splice => "weft FileRegion splice",
            WeftPath::MmapWrite => "weft FileRegion mmap+write",
            WeftPath::ReadWrite => "weft FileRegion read+write",
        }
    }

    /// The article's (CPU copies, mode switches) for the syscalls this path
    /// makes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_benches::WeftPath::Sendfile.article(), (1, 2));
    /// ```
    pub fn article(self) -> (u32, u32) {
        match self {
            WeftPath::Sendfile => (1, 2),
            WeftPath::Splice => (0, 2),
            WeftPath::MmapWrite => (1, 4),
            WeftPath::ReadWrite => (2, 4),
        }
    }

    fn file_path(self) -> FilePath {
        match self {
            WeftPath::Sendfile => FilePath::Sendfile,
            WeftPath::Splice => FilePath::Splice,
            WeftPath::MmapWrite => FilePath::MmapWrite,
            WeftPath::ReadWrite => FilePath::ReadWrite,
        }
    }
}

/// Sends the whole input once as a `FileRegion` through a Weft client
/// channel on a current-thread runtime on this thread (so the thread's CPU
/// time is the whole sender's), and measures it. Syscalls are the
/// channel's own counts (I/O calls; `epoll_wait` is not counted); copies are
/// the change of `weft_buf::total_copied()`.
///
/// # Errors
///
/// Any transport or I/O error; [`io::ErrorKind::TimedOut`] after
/// [`WEFT_TIMEOUT`]; [`io::ErrorKind::InvalidData`] if the receiver did not
/// get exactly the file's bytes.
///
/// # Examples
///
/// ```no_run
/// use weft_benches::{measure_weft, Input, WeftPath};
/// let input = Input::create(1 << 20).unwrap();
/// let s = measure_weft(WeftPath::Sendfile, &input, true).unwrap();
/// assert_eq!((s.bytes, s.copied), (1 << 20, 0));
/// ```
pub fn measure_weft(path: WeftPath, input: &Input, verify: bool) -> io::Result<Sample> {
    let rx = Receiver::spawn(verify)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let region = FileRegion::new(Arc::new(input.file().try_clone()?), 0, input.len())
        .map_err(io::Error::other)?;
    let mut config = ChannelConfig::default();
    config.nodelay(true).file_path(path.file_path());
    let addr = rx.addr();
    let (cpu, secs, stats, copied) = rt.block_on(async {
        let ch = connect_tcp(addr, &config, |_p| Ok(()))
            .await
            .map_err(io::Error::from)?;
        let copied0 = weft_buf::total_copied();
        let cpu0 = sys::thread_cpu()?;
        let t0 = Instant::now();
        let sent = tokio::time::timeout(WEFT_TIMEOUT, ch.write_and_flush(region)).await;
        let stats = ch.stats();
        ch.close();
        let closed = tokio::time::timeout(WEFT_TIMEOUT, ch.closed()).await;
        let cpu = sys::thread_cpu()?.saturating_sub(cpu0);
        let copied = weft_buf::total_copied().wrapping_sub(copied0);
        sent.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "weft write timed out"))??;
        closed.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "weft close timed out"))?;
        io::Result::Ok((cpu, t0, stats, copied))
    })?;
    drop(rt);
    let got = rx.join()?;
    let secs = secs.elapsed().as_secs_f64();
    check_received(
        path.name(),
        got,
        input.len(),
        verify.then_some(input.checksum()),
    )?;
    Ok(Sample {
        bytes: got.bytes,
        secs,
        cpu_secs: cpu.as_secs_f64(),
        syscalls: stats.total_syscalls(),
        copied,
    })
}
