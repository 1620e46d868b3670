//! Sets [`DEFAULT_COALESCE_THRESHOLD`](weft_transport::DEFAULT_COALESCE_THRESHOLD):
//! for each piece size, the sender's CPU time to flush frames of pieces
//! over loopback TCP with the pieces coalesced (copied into the staging
//! buffer) against passed as iovecs of their own.
//!
//! CPU time of the sending thread (user + system, from
//! `CLOCK_THREAD_CPUTIME_ID`) rather than wall time, so a loaded machine
//! disturbs the figure less; each cell is the median of several rounds,
//! the two policies interleaved.
//!
//! Run: `cargo bench -p weft-transport --bench coalesce`.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use weft_buf::CompositeBuf;
use weft_transport::{OutboundBuffer, Stats};

/// Frames per flush.
const BATCH: usize = 64;
/// Pieces per frame.
const PIECES: usize = 32;
/// Flushes per round.
const FLUSHES: usize = 200;
/// Rounds per cell (median taken).
const ROUNDS: usize = 7;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the kernel to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn open() -> (TcpStream, JoinHandle<u64>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let drain = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    (s, drain)
}

/// Sender CPU nanoseconds per flush of `BATCH` frames of `PIECES` pieces of
/// `size` bytes, with the given coalesce threshold.
fn round(size: usize, threshold: usize) -> f64 {
    let batch: Vec<Vec<Bytes>> = (0..BATCH)
        .map(|f| {
            (0..PIECES)
                .map(|p| Bytes::from(vec![((f + p) % 251) as u8; size]))
                .collect()
        })
        .collect();
    let (stream, drain) = open();
    let mut out: OutboundBuffer = OutboundBuffer::new(Arc::new(Stats::new()));
    out.set_coalesce_threshold(threshold);
    let t0 = thread_cpu_ns();
    for _ in 0..FLUSHES {
        for f in &batch {
            out.push(f.iter().cloned().collect::<CompositeBuf>(), None);
        }
        out.flush();
        while out.has_flushed() {
            // A blocking socket: writev waits for room rather than EAGAIN.
            out.write_step(stream.as_fd()).unwrap();
        }
    }
    let ns = thread_cpu_ns() - t0;
    drop(stream);
    let got = drain.join().unwrap();
    assert_eq!(got, (FLUSHES * BATCH * PIECES * size) as u64);
    ns as f64 / FLUSHES as f64
}

/// Sender CPU nanoseconds per flush of the same frames flattened into one
/// buffer and written with `write_all` (the baseline of the flush bench).
fn flatten_round(size: usize) -> f64 {
    use std::io::Write;
    let batch: Vec<Vec<Bytes>> = (0..BATCH)
        .map(|f| {
            (0..PIECES)
                .map(|p| Bytes::from(vec![((f + p) % 251) as u8; size]))
                .collect()
        })
        .collect();
    let (mut stream, drain) = open();
    let mut flat = Vec::with_capacity(BATCH * PIECES * size);
    let t0 = thread_cpu_ns();
    for _ in 0..FLUSHES {
        flat.clear();
        for f in &batch {
            for p in f {
                flat.extend_from_slice(p);
            }
        }
        stream.write_all(&flat).unwrap();
    }
    let ns = thread_cpu_ns() - t0;
    drop(stream);
    assert_eq!(
        drain.join().unwrap(),
        (FLUSHES * BATCH * PIECES * size) as u64
    );
    ns as f64 / FLUSHES as f64
}

/// Sender CPU nanoseconds per batch to build the frames (clone every piece
/// into a `CompositeBuf`) and drop them, with no I/O: the part of the
/// `coalesced` column that is the frames' reference counting, not the
/// flush.
fn frames_only_round(size: usize) -> f64 {
    let batch: Vec<Vec<Bytes>> = (0..BATCH)
        .map(|f| {
            (0..PIECES)
                .map(|p| Bytes::from(vec![((f + p) % 251) as u8; size]))
                .collect()
        })
        .collect();
    let mut held = Vec::with_capacity(BATCH);
    let t0 = thread_cpu_ns();
    for _ in 0..FLUSHES {
        for f in &batch {
            held.push(std::hint::black_box(
                f.iter().cloned().collect::<CompositeBuf>(),
            ));
        }
        held.clear();
    }
    (thread_cpu_ns() - t0) as f64 / FLUSHES as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "{BATCH} frames x {PIECES} pieces per flush; sender CPU us per flush (median of {ROUNDS})"
    );
    println!(
        "piece   coalesced   iovecs  flatten   coalesced/iovecs  default/flatten  (frames alone)"
    );
    for size in [64, 128, 256, 384, 512, 768, 1000] {
        let (mut copy, mut iov, mut flat, mut dflt) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut frames = Vec::new();
        for _ in 0..ROUNDS {
            copy.push(round(size, 1024));
            iov.push(round(size, 0));
            flat.push(flatten_round(size));
            dflt.push(round(size, weft_transport::DEFAULT_COALESCE_THRESHOLD));
            frames.push(frames_only_round(size));
        }
        let (c, i, f, d) = (median(copy), median(iov), median(flat), median(dflt));
        println!(
            "{size:>4} B  {:>9.1}  {:>7.1}  {:>7.1}   {:>6.2}            {:>6.2}           {:>6.1}",
            c / 1000.0,
            i / 1000.0,
            f / 1000.0,
            c / i,
            d / f,
            median(frames) / 1000.0
        );
    }
}
