//! `weft-bench`: the zero-copy table of `zero-copy-notes.md`, measured on
//! this machine.
//!
//! One file in the page cache goes over loopback TCP to a receiver thread
//! that discards it, once per path: `read` + `write` (64 KiB and 1 MiB),
//! `mmap` + `write`, `sendfile`, `splice` through a pipe, and Weft's own
//! `FileRegion` through its transport when that is available. A second
//! table sends frames of N pieces one `write` per piece, flattened into one
//! `write`, and with `writev`.
//!
//! The binary (`cargo run --release --bin weft-bench`) is a thin shell over
//! [`run`]; this library is what its tests drive with tiny sizes.
//!
//! # Examples
//!
//! ```no_run
//! use weft_benches::{run, Config};
//!
//! let mut cfg = Config::quick();
//! cfg.size = 1 << 20;
//! cfg.progress = false;
//! let rows = run(&cfg).unwrap();
//! assert!(rows.iter().any(|r| r.path == "sendfile"));
//! ```
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod frames;
mod paths;
mod receiver;
mod report;
mod svg;
mod sys;
mod weft;

use std::fs::File;
use std::io::{self, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

pub use frames::{make_pieces, send_frames, FrameMethod, FRAME_PIECES, PIECE_SIZES};
pub use paths::{send_raw, Counts, RawPath, BIG_CHUNK, SENDFILE_MAX};
pub use receiver::{fnv1a, Received, Receiver, RECV_BUF, RECV_TIMEOUT};
pub use report::{render_tables, write_json, FrameInfo, Row, Sample};
pub use svg::write_svg;
pub use weft::{measure_weft, WeftPath, WEFT_TIMEOUT};

/// Default file size: 256 MiB.
pub const DEFAULT_SIZE: u64 = 256 << 20;
/// Default number of runs per path.
pub const DEFAULT_RUNS: usize = 5;

/// What to measure and how long for.
///
/// # Examples
///
/// ```
/// let cfg = weft_benches::Config::default();
/// assert_eq!(cfg.size, weft_benches::DEFAULT_SIZE);
/// assert!(weft_benches::Config::quick().size < cfg.size);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Size of the file sent, in bytes.
    pub size: u64,
    /// Runs per path of the copy table (the median is reported).
    pub runs: usize,
    /// Wall-time budget of one frame-table cell.
    pub frame_budget: Duration,
    /// Upper bound on bytes sent by one frame-table cell.
    pub frame_max_bytes: u64,
    /// Whether to draw a progress indicator on stderr.
    pub progress: bool,
    /// Whether the receiver checksums what it reads and the run checks it
    /// against the file (slower; tests turn it on).
    pub verify: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            size: DEFAULT_SIZE,
            runs: DEFAULT_RUNS,
            frame_budget: Duration::from_millis(400),
            frame_max_bytes: 512 << 20,
            progress: true,
            verify: false,
        }
    }
}

impl Config {
    /// The `--quick` settings: 32 MiB, 3 runs, short frame cells.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_benches::Config::quick().runs, 3);
    /// ```
    pub fn quick() -> Config {
        Config {
            size: 32 << 20,
            runs: 3,
            frame_budget: Duration::from_millis(100),
            frame_max_bytes: 64 << 20,
            ..Config::default()
        }
    }
}

/// The file under test: a temporary file of pseudo-random bytes, read once
/// so it sits in the page cache.
///
/// # Examples
///
/// ```
/// let input = weft_benches::Input::create(4096).unwrap();
/// assert_eq!(input.len(), 4096);
/// assert_eq!(input.file().metadata().unwrap().len(), 4096);
/// ```
#[derive(Debug)]
pub struct Input {
    // Keeps the directory (and so the file) alive; removed on drop.
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    file: File,
    len: u64,
    checksum: u64,
}

impl Input {
    /// Creates the file in a new temporary directory and reads it once.
    ///
    /// # Errors
    ///
    /// Any error creating, writing or reading the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = weft_benches::Input::create(100).unwrap();
    /// let b = weft_benches::Input::create(100).unwrap();
    /// assert_eq!(a.checksum(), b.checksum());
    /// ```
    pub fn create(len: u64) -> io::Result<Input> {
        let dir = tempfile::Builder::new().prefix("weft-bench").tempdir()?;
        let path = dir.path().join("input.bin");
        let mut out = io::BufWriter::new(File::create(&path)?);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut chunk = vec![0u8; 1 << 20];
        let mut left = len;
        let mut checksum = fnv1a(b"");
        while left > 0 {
            for w in chunk.chunks_mut(8) {
                // xorshift64: fast, and not compressible by anything on the way.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let bytes = state.to_le_bytes();
                w.copy_from_slice(&bytes[..w.len()]);
            }
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
            out.write_all(&chunk[..n])?;
            checksum = fnv1a_continue(checksum, &chunk[..n]);
            left -= n as u64;
        }
        out.flush()?;
        drop(out);
        let file = File::open(&path)?;
        let read = paths::warm(&file)?;
        if read != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "input file is short",
            ));
        }
        Ok(Input {
            _dir: dir,
            path,
            file,
            len,
            checksum,
        })
    }

    /// The open file.
    ///
    /// # Examples
    ///
    /// ```
    /// let input = weft_benches::Input::create(1).unwrap();
    /// assert!(input.file().metadata().is_ok());
    /// ```
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file's path.
    ///
    /// # Examples
    ///
    /// ```
    /// let input = weft_benches::Input::create(1).unwrap();
    /// assert!(input.path().exists());
    /// ```
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The file's length.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_benches::Input::create(3).unwrap().len(), 3);
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Returns `true` for an empty file.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_benches::Input::create(0).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// FNV-1a 64 of the file's bytes, to compare with [`Received`].
    ///
    /// # Examples
    ///
    /// ```
    /// let input = weft_benches::Input::create(0).unwrap();
    /// assert_eq!(input.checksum(), weft_benches::fnv1a(b""));
    /// ```
    pub fn checksum(&self) -> u64 {
        self.checksum
    }
}

fn fnv1a_continue(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A progress line on stderr: `[ 3/30] sendfile, run 2/5`.
#[derive(Debug)]
struct Progress {
    enabled: bool,
    total: usize,
    done: usize,
}

impl Progress {
    fn step(&mut self, what: &str) {
        self.done += 1;
        if self.enabled {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K[{:>3}/{}] {what}", self.done, self.total);
            let _ = err.flush();
        }
    }

    fn finish(&self) {
        if self.enabled {
            let _ = writeln!(
                io::stderr().lock(),
                "\r\x1b[2K[{}/{}] done",
                self.done,
                self.total
            );
        }
    }
}

/// Fails with `InvalidData` when the receiver did not get what was sent.
pub(crate) fn check_received(
    what: &str,
    got: Received,
    bytes: u64,
    checksum: Option<u64>,
) -> io::Result<()> {
    if got.bytes != bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}: receiver got {} bytes, expected {bytes}", got.bytes),
        ));
    }
    if let (Some(want), Some(have)) = (checksum, got.checksum) {
        if want != have {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what}: checksum mismatch"),
            ));
        }
    }
    Ok(())
}

/// Sends the whole input once along `path` and measures it.
///
/// # Errors
///
/// Any I/O error, or [`io::ErrorKind::InvalidData`] if the receiver did not
/// get exactly the file's bytes (and, with `verify`, the same checksum).
///
/// # Examples
///
/// ```no_run
/// use weft_benches::{measure_raw, Input, RawPath};
/// let input = Input::create(1 << 20).unwrap();
/// let s = measure_raw(RawPath::Splice, &input, true).unwrap();
/// assert_eq!(s.bytes, 1 << 20);
/// ```
pub fn measure_raw(path: RawPath, input: &Input, verify: bool) -> io::Result<Sample> {
    let rx = Receiver::spawn(verify)?;
    let mut sock = rx.connect()?;
    let cpu0 = sys::thread_cpu()?;
    let t0 = Instant::now();
    let counts = send_raw(path, input.file(), input.len(), &mut sock)?;
    sock.shutdown(Shutdown::Write)?;
    let cpu = sys::thread_cpu()?.saturating_sub(cpu0);
    drop(sock);
    let got = rx.join()?;
    let secs = t0.elapsed().as_secs_f64();
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
        syscalls: counts.syscalls,
        copied: counts.user_bytes,
        encrypted: 0,
    })
}

/// A row of the copy table: a raw loop or one of Weft's paths.
#[derive(Debug, Clone, Copy)]
enum AnyPath {
    Raw(RawPath),
    Weft(WeftPath),
}

impl AnyPath {
    fn name(self) -> &'static str {
        match self {
            AnyPath::Raw(p) => p.name(),
            AnyPath::Weft(p) => p.name(),
        }
    }

    fn article(self) -> Option<(u32, u32)> {
        match self {
            AnyPath::Raw(p) => Some(p.article()),
            AnyPath::Weft(p) => p.article(),
        }
    }
}

/// Runs the copy table: every path, `cfg.runs` times, interleaved so a
/// drift of the machine hits every path alike.
///
/// # Errors
///
/// The first error of any run.
///
/// # Examples
///
/// ```no_run
/// let mut cfg = weft_benches::Config::quick();
/// cfg.size = 1 << 20;
/// let rows = weft_benches::run_copy_table(&cfg).unwrap();
/// assert_eq!(rows.len(), weft_benches::RawPath::ALL.len() + weft_benches::WeftPath::ALL.len());
/// ```
pub fn run_copy_table(cfg: &Config) -> io::Result<Vec<Row>> {
    let mut progress = Progress {
        enabled: cfg.progress,
        total: 1 + cfg.runs * (RawPath::ALL.len() + WeftPath::ALL.len()),
        done: 0,
    };
    progress.step(&format!(
        "writing and reading a {} MiB file",
        cfg.size >> 20
    ));
    let input = Input::create(cfg.size)?;
    let paths: Vec<AnyPath> = RawPath::ALL
        .into_iter()
        .map(AnyPath::Raw)
        .chain(WeftPath::ALL.into_iter().map(AnyPath::Weft))
        .collect();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); paths.len()];
    for run in 0..cfg.runs {
        for (i, path) in paths.iter().enumerate() {
            progress.step(&format!("{}, run {}/{}", path.name(), run + 1, cfg.runs));
            let sample = match path {
                AnyPath::Raw(p) => measure_raw(*p, &input, cfg.verify),
                AnyPath::Weft(p) => measure_weft(*p, &input, cfg.verify),
            }
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.name())))?;
            samples[i].push(sample);
        }
    }
    progress.finish();
    Ok(paths
        .iter()
        .zip(&samples)
        .map(|(path, s)| {
            let mut row = Row::from_samples(path.name(), s);
            row.article_cpu_copies = path.article().map(|a| a.0);
            row.article_mode_switches = path.article().map(|a| a.1);
            row
        })
        .collect())
}

/// Runs the frame table: every (pieces, size, method) cell once, each
/// bounded by `cfg.frame_budget` and `cfg.frame_max_bytes`.
///
/// # Errors
///
/// The first I/O error of any cell.
///
/// # Examples
///
/// ```no_run
/// let mut cfg = weft_benches::Config::quick();
/// cfg.frame_max_bytes = 1 << 20;
/// let rows = weft_benches::run_frame_table(&cfg).unwrap();
/// assert_eq!(rows.len(), 27);
/// ```
pub fn run_frame_table(cfg: &Config) -> io::Result<Vec<Row>> {
    let cells = FRAME_PIECES.len() * PIECE_SIZES.len() * FrameMethod::ALL.len();
    let mut progress = Progress {
        enabled: cfg.progress,
        total: cells,
        done: 0,
    };
    let mut rows = Vec::with_capacity(cells);
    for &n in &FRAME_PIECES {
        for &size in &PIECE_SIZES {
            let pieces = make_pieces(n, size);
            let frame_bytes = (n * size) as u64;
            let max_frames = (cfg.frame_max_bytes / frame_bytes.max(1)).max(1);
            for method in FrameMethod::ALL {
                let name = format!("frames {n}x{} {}", report::size_label(size), method.name());
                progress.step(&name);
                let rx = Receiver::spawn(false)?;
                let mut sock = rx.connect()?;
                let cpu0 = sys::thread_cpu()?;
                let t0 = Instant::now();
                let (frames, counts) =
                    send_frames(method, &pieces, max_frames, cfg.frame_budget, &mut sock)?;
                sock.shutdown(Shutdown::Write)?;
                let cpu = sys::thread_cpu()?.saturating_sub(cpu0);
                drop(sock);
                let got = rx.join()?;
                let secs = t0.elapsed().as_secs_f64();
                check_received(&name, got, frames * frame_bytes, None)?;
                let sample = Sample {
                    bytes: got.bytes,
                    secs,
                    cpu_secs: cpu.as_secs_f64(),
                    syscalls: counts.syscalls,
                    copied: counts.user_bytes,
                    encrypted: 0,
                };
                let mut row = Row::from_samples(&name, &[sample]);
                row.table = "frames".into();
                row.frame = Some(FrameInfo {
                    pieces: n,
                    piece_bytes: size,
                    method: method.name().into(),
                    frames,
                    syscalls_per_frame: if frames > 0 {
                        counts.syscalls as f64 / frames as f64
                    } else {
                        0.0
                    },
                });
                rows.push(row);
            }
        }
    }
    progress.finish();
    Ok(rows)
}

/// Runs both tables and returns every row (copy table first).
///
/// # Errors
///
/// The first error of any measurement.
///
/// # Examples
///
/// ```no_run
/// let rows = weft_benches::run(&weft_benches::Config::quick()).unwrap();
/// assert!(rows.iter().any(|r| r.path == "splice"));
/// ```
pub fn run(cfg: &Config) -> io::Result<Vec<Row>> {
    let mut rows = run_copy_table(cfg)?;
    rows.extend(run_frame_table(cfg)?);
    Ok(rows)
}
