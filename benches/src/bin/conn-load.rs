//! `conn-load`: the load generator of `benches/fairness.sh`.
//!
//! - `conn-load latency`: while `--downloads` threads fetch a big file over
//!   and over (HTTP/1.1 keep-alive, body read and discarded), one more
//!   keep-alive connection sends a small GET every `--gap-ms` and times
//!   each answer (request written to last body byte read). Prints the
//!   distribution: `samples=N p50_ms= p90_ms= p99_ms= max_ms=
//!   downloaded_mib=`.
//! - `conn-load idle`: opens `--conns` connections, sends `--request` on
//!   each and reads `--expect` bytes back (so each is a kept-alive
//!   connection that has served one request), prints `ready N`, then holds
//!   them for `--hold-secs` (or until stdin closes) and closes them.
//!
//! Blocking sockets, every wait bounded by a socket timeout.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

/// Load generator for the transport fairness and memory measurements.
#[derive(Debug, Parser)]
#[command(name = "conn-load", about)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Small-GET latency on one connection while big downloads run.
    Latency {
        /// Server address.
        #[arg(long)]
        addr: SocketAddr,
        /// Path of the big file.
        #[arg(long, default_value = "/big.bin")]
        big: String,
        /// Path of the small file.
        #[arg(long, default_value = "/small.bin")]
        small: String,
        /// Concurrent downloads of the big file.
        #[arg(long, default_value_t = 1)]
        downloads: usize,
        /// Small GETs to time.
        #[arg(long, default_value_t = 500)]
        samples: usize,
        /// Milliseconds between small GETs.
        #[arg(long, default_value_t = 10)]
        gap_ms: u64,
    },
    /// Many idle keep-alive connections.
    Idle {
        /// Server address.
        #[arg(long)]
        addr: SocketAddr,
        /// Connections to open.
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// Request sent on each connection (`\r`, `\n` and `\xHH` escapes
        /// allowed).
        #[arg(long)]
        request: String,
        /// Bytes of answer to read on each connection.
        #[arg(long)]
        expect: usize,
        /// Seconds to hold the connections (stdin closing ends it sooner).
        #[arg(long, default_value_t = 60)]
        hold_secs: u64,
    },
}

const IO_TIMEOUT: Duration = Duration::from_secs(30);

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Sends a GET for `path` and reads the whole answer (head, then
/// Content-Length bytes, discarded); returns the body length.
fn get(s: &mut TcpStream, buf: &mut [u8], path: &str) -> io::Result<u64> {
    write!(s, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n")?;
    let mut have = 0;
    let head_end = loop {
        if have == buf.len() {
            return Err(io::Error::other("response head too long"));
        }
        let n = s.read(&mut buf[have..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed mid-head",
            ));
        }
        have += n;
        if let Some(i) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        return Err(io::Error::other(format!(
            "not a 200: {}",
            head.lines().next().unwrap_or("")
        )));
    }
    let len: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no content-length"))?;
    let mut left = len.saturating_sub((have - head_end) as u64);
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = s.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed mid-body",
            ));
        }
        left -= n as u64;
    }
    Ok(len)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

fn latency(
    addr: SocketAddr,
    big: String,
    small: String,
    downloads: usize,
    samples: usize,
    gap: Duration,
) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let downloaded = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..downloads {
        let (stop, downloaded, big) = (stop.clone(), downloaded.clone(), big.clone());
        threads.push(std::thread::spawn(move || -> io::Result<()> {
            let mut s = connect(addr)?;
            let mut buf = vec![0u8; 256 * 1024];
            while !stop.load(Ordering::Relaxed) {
                let n = get(&mut s, &mut buf, &big)?;
                downloaded.fetch_add(n, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    // Let the downloads get going before timing anything.
    std::thread::sleep(Duration::from_millis(300));
    let mut s = connect(addr)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        get(&mut s, &mut buf, &small)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(gap);
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        // A download ends with its current body; a failed one is reported.
        t.join()
            .map_err(|_| io::Error::other("a download thread panicked"))??;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "samples={} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3} downloaded_mib={}",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0),
        downloaded.load(Ordering::Relaxed) >> 20
    );
    Ok(())
}

fn idle(
    addr: SocketAddr,
    conns: usize,
    request: &str,
    expect: usize,
    hold: Duration,
) -> io::Result<()> {
    let request = unescape(request)?;
    let mut open = Vec::with_capacity(conns);
    let mut buf = vec![0u8; expect.max(1)];
    for i in 0..conns {
        let mut s =
            connect(addr).map_err(|e| io::Error::new(e.kind(), format!("connection {i}: {e}")))?;
        s.write_all(&request)?;
        s.read_exact(&mut buf[..expect])
            .map_err(|e| io::Error::new(e.kind(), format!("connection {i}: answer: {e}")))?;
        open.push(s);
    }
    println!("ready {}", open.len());
    io::stdout().flush()?;
    // Hold until stdin closes or the time is up, whichever comes first.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let stdin = io::stdin();
        let mut lock = stdin.lock();
        while lock.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            line.clear();
        }
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(hold);
    drop(open);
    Ok(())
}

/// `\r`, `\n`, `\\` and `\xHH` escapes to bytes.
fn unescape(s: &str) -> io::Result<Vec<u8>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidInput, format!("bad escape in {s:?}"));
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            _ => return Err(bad()),
        }
        i += 2;
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let r = match args.cmd {
        Cmd::Latency {
            addr,
            big,
            small,
            downloads,
            samples,
            gap_ms,
        } => latency(
            addr,
            big,
            small,
            downloads,
            samples,
            Duration::from_millis(gap_ms),
        ),
        Cmd::Idle {
            addr,
            conns,
            request,
            expect,
            hold_secs,
        } => idle(
            addr,
            conns,
            &request,
            expect,
            Duration::from_secs(hold_secs),
        ),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conn-load: {e}");
            ExitCode::FAILURE
        }
    }
}
