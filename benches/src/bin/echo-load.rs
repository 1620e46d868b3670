//! `echo-load`: the load generator of `benches/peers.sh` for the echo
//! servers. Each connection (one thread each, blocking sockets) writes a
//! window of length-prefixed frames, each frame a 4-byte big-endian length
//! and N separate segments sent with one `writev`, then reads the echoes
//! back and checks their length; this repeats for the given time.
//!
//! Prints one line: `frames_per_s=F gbps=G frames=N`.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

/// Load generator for length-prefixed echo servers.
#[derive(Debug, Parser)]
#[command(name = "echo-load", about)]
struct Args {
    /// Server address.
    #[arg(long)]
    addr: SocketAddr,
    /// Connections (one thread each).
    #[arg(long, default_value_t = 4)]
    conns: usize,
    /// Segments per frame.
    #[arg(long, default_value_t = 8)]
    segments: usize,
    /// Bytes per segment.
    #[arg(long, default_value_t = 1024)]
    segment_size: usize,
    /// Frames in flight per connection.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
}

/// Writes all of `iov` with `writev`, resuming after partial writes.
fn write_all_vectored(s: &mut TcpStream, segs: &[&[u8]]) -> io::Result<()> {
    let mut idx = 0;
    let mut off = 0;
    while idx < segs.len() {
        let mut iov = Vec::with_capacity(segs.len() - idx);
        iov.push(IoSlice::new(&segs[idx][off..]));
        iov.extend(segs[idx + 1..].iter().map(|s| IoSlice::new(s)));
        let mut n = s.write_vectored(&iov)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 && idx < segs.len() {
            let left = segs[idx].len() - off;
            if n >= left {
                n -= left;
                idx += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
    }
    Ok(())
}

fn one_conn(args: &Args) -> io::Result<u64> {
    let mut s = TcpStream::connect(args.addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let body_len = args.segments * args.segment_size;
    let len = u32::try_from(body_len)
        .map_err(io::Error::other)?
        .to_be_bytes();
    let segments: Vec<Vec<u8>> = (0..args.segments)
        .map(|i| vec![i as u8; args.segment_size])
        .collect();
    let mut frame: Vec<&[u8]> = vec![&len];
    frame.extend(segments.iter().map(Vec::as_slice));
    let mut window: Vec<&[u8]> = Vec::new();
    for _ in 0..args.window {
        window.extend_from_slice(&frame);
    }
    let reply_bytes = (4 + body_len) * args.window;
    let mut reply = vec![0u8; reply_bytes];
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut frames = 0u64;
    while Instant::now() < deadline {
        // One writev per frame window would exceed IOV_MAX for big windows:
        // send it in chunks of whole frames.
        for chunk in window.chunks((1 + args.segments) * 32) {
            write_all_vectored(&mut s, chunk)?;
        }
        s.read_exact(&mut reply)?;
        let first = reply.get(..4).unwrap_or_default();
        if first != len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "echo returned a different frame",
            ));
        }
        frames += args.window as u64;
    }
    Ok(frames)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let start = Instant::now();
    let results: Vec<io::Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.conns)
            .map(|_| scope.spawn(|| one_conn(&args)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("load thread panicked")))
            })
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let mut frames = 0;
    for r in results {
        match r {
            Ok(n) => frames += n,
            Err(e) => {
                eprintln!("echo-load: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let bytes = frames as f64 * (4 + args.segments * args.segment_size) as f64;
    println!(
        "frames_per_s={:.0} gbps={:.3} frames={frames}",
        frames as f64 / secs,
        bytes / secs / 1e9
    );
    ExitCode::SUCCESS
}
