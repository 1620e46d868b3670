//! Weft's own rows: the file as one `FileRegion` message written to a
//! channel from `weft_transport::connect_tcp`, through its (empty) pipeline
//! and outbound buffer, by each of the transport's file paths; and the same
//! over TLS (`connect_tcp_tls` to a rustls receiver), as a `FileRegion` and
//! as in-memory `Bytes` (the file mapped, in 1 MiB views of the mapping).

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weft_buf::FileRegion;
use weft_pipeline::Message;
use weft_transport::tls::write_test_certs;
use weft_transport::{
    connect_tcp, connect_tcp_tls, ChannelConfig, FilePath, TlsAcceptor, TlsConnector,
};

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
    /// The `FileRegion` over TLS: `pread` into the staging buffer (counted),
    /// encrypted, written.
    Tls,
    /// In-memory `Bytes` over TLS: encrypted straight from the buffers.
    TlsMemory,
}

impl WeftPath {
    /// Every Weft path, in table order.
    pub const ALL: [WeftPath; 6] = [
        WeftPath::Sendfile,
        WeftPath::Splice,
        WeftPath::MmapWrite,
        WeftPath::ReadWrite,
        WeftPath::Tls,
        WeftPath::TlsMemory,
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
            WeftPath::Tls => "weft FileRegion TLS",
            WeftPath::TlsMemory => "weft Bytes TLS",
        }
    }

    /// The article's (CPU copies, mode switches) for the syscalls this path
    /// makes; `None` for TLS, which the article does not cover.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_benches::WeftPath;
    /// assert_eq!(WeftPath::Sendfile.article(), Some((1, 2)));
    /// assert_eq!(WeftPath::Tls.article(), None);
    /// ```
    pub fn article(self) -> Option<(u32, u32)> {
        match self {
            WeftPath::Sendfile => Some((1, 2)),
            WeftPath::Splice => Some((0, 2)),
            WeftPath::MmapWrite => Some((1, 4)),
            WeftPath::ReadWrite => Some((2, 4)),
            WeftPath::Tls | WeftPath::TlsMemory => None,
        }
    }

    fn file_path(self) -> FilePath {
        match self {
            WeftPath::Sendfile | WeftPath::Tls | WeftPath::TlsMemory => FilePath::Sendfile,
            WeftPath::Splice => FilePath::Splice,
            WeftPath::MmapWrite => FilePath::MmapWrite,
            WeftPath::ReadWrite => FilePath::ReadWrite,
        }
    }

    fn is_tls(self) -> bool {
        matches!(self, WeftPath::Tls | WeftPath::TlsMemory)
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
    let tls = if path.is_tls() {
        Some(TlsPair::new()?)
    } else {
        None
    };
    let rx = match &tls {
        Some(t) => Receiver::spawn_tls(verify, t.server.clone())?,
        None => Receiver::spawn(verify)?,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let file = Arc::new(input.file().try_clone()?);
    let messages: Vec<Message> = if path == WeftPath::TlsMemory {
        mapped_views(&file, input.len())?
    } else {
        let region = FileRegion::new(file, 0, input.len()).map_err(io::Error::other)?;
        vec![region.into()]
    };
    let mut config = ChannelConfig::default();
    config.nodelay(true).file_path(path.file_path());
    let addr = rx.addr();
    let (cpu, secs, stats, copied) = rt.block_on(async {
        let ch = match &tls {
            Some(t) => connect_tcp_tls(addr, &config, t.client.clone(), |_p| Ok(())).await,
            None => connect_tcp(addr, &config, |_p| Ok(())).await,
        }
        .map_err(io::Error::from)?;
        let copied0 = weft_buf::total_copied();
        let cpu0 = sys::thread_cpu()?;
        let t0 = Instant::now();
        let mut last = None;
        for m in messages {
            last = Some(ch.write(m));
        }
        ch.flush();
        let sent = tokio::time::timeout(WEFT_TIMEOUT, async {
            match last {
                Some(f) => f.await,
                None => Ok(()),
            }
        })
        .await;
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
        encrypted: stats.tls_encrypted_bytes,
    })
}

/// A server configuration for the receiver and a connector that trusts it,
/// from certificates generated for the run.
struct TlsPair {
    server: Arc<rustls::ServerConfig>,
    client: TlsConnector,
}

impl TlsPair {
    fn new() -> io::Result<TlsPair> {
        let dir = tempfile::tempdir()?;
        let certs = write_test_certs(dir.path(), &rcgen::PKCS_ECDSA_P256_SHA256)?;
        let bad = |e: weft_transport::TlsError| io::Error::other(e.to_string());
        let server = TlsAcceptor::from_pem_files(&certs.cert, &certs.key, &[])
            .map_err(bad)?
            .config()
            .clone();
        let client = TlsConnector::from_ca_file(&certs.ca, "localhost", &[]).map_err(bad)?;
        Ok(TlsPair { server, client })
    }
}

/// The file mapped once and cut into 1 MiB `Bytes` views of the mapping:
/// in-memory messages that own no copy of the file.
fn mapped_views(file: &std::fs::File, len: u64) -> io::Result<Vec<Message>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the bench's input file is private to this process (a fresh
    // temporary file) and nothing truncates or writes it while mapped.
    let map = unsafe { memmap2::Mmap::map(file)? };
    let all = Bytes::from_owner(map);
    Ok((0..all.len())
        .step_by(1 << 20)
        .map(|at| Message::Bytes(all.slice(at..all.len().min(at + (1 << 20)))))
        .collect())
}
