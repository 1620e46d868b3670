//! Where the memory of an idle keep-alive connection goes: the live heap
//! of a length-framed echo server (the `echo` example's pipeline, one
//! server thread) with N idle connections, by allocation size.
//!
//! ```text
//! cargo run --release -p weft-transport --example footprint -- 2000
//! ```
//!
//! A counting global allocator tracks every live allocation by its size.
//! The clients (blocking std sockets on the main thread, no heap of their
//! own) each send one frame, read its echo and stay open; the program then
//! prints the live heap per connection and each allocation size that grew
//! by about one (or more) per connection: those are the per-connection
//! pieces. Allocations are grouped by exact size, so a piece is recognised
//! by its size (see `benches/README.md`, "Transport fairness and idle
//! memory").

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use weft_buf::CompositeBuf;
use weft_pipeline::codec::{
    ByteToMessageDecoder, LengthFieldBasedFrameDecoder, LengthFieldPrepender,
};
use weft_pipeline::{Batch, Context, Handler, Nothing, Pipeline, PipelineError};
use weft_transport::ServerBuilder;

/// Sizes tracked one by one; larger ones share the last slot.
const SIZES: usize = 1 << 16;

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);
static BY_SIZE: [AtomicI64; SIZES + 1] = [const { AtomicI64::new(0) }; SIZES + 1];

fn slot(size: usize) -> &'static AtomicI64 {
    &BY_SIZE[size.min(SIZES)]
}

// SAFETY: every call forwards to `System` with the caller's layout and
// pointer unchanged; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        slot(layout.size()).fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        slot(layout.size()).fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        slot(layout.size()).fetch_sub(1, Ordering::Relaxed);
        slot(new_size).fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Echo;

impl Handler for Echo {
    type In = CompositeBuf;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: CompositeBuf) {
        ctx.write_and_flush(frame);
    }

    fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, frames: Batch<'_, CompositeBuf>) {
        for frame in frames {
            ctx.write(frame);
        }
        ctx.flush();
    }
}

fn snapshot() -> Vec<i64> {
    BY_SIZE.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The echo server's pipeline.
fn echo_pipeline(p: &mut Pipeline) -> Result<(), PipelineError> {
    let frames = LengthFieldBasedFrameDecoder::new(1 << 20, 0, 4, 0, 4)?;
    p.handlers()
        .add_last("frames", ByteToMessageDecoder::new(frames))?
        .add_last("length", LengthFieldPrepender::new(4)?)?
        .add_last("echo", Echo)?;
    Ok(())
}

/// Live heap per item and the sizes that grew, while `n` results of `make`
/// are alive.
fn measure<T>(what: &str, n: usize, mut make: impl FnMut() -> T) {
    let (live0, sizes0) = (LIVE.load(Ordering::Relaxed), snapshot());
    let kept: Vec<T> = (0..n).map(|_| make()).collect();
    let (live1, sizes1) = (LIVE.load(Ordering::Relaxed), snapshot());
    let per = |a: i64, b: i64| (b - a) as f64 / n as f64;
    let vec_part = (std::mem::size_of::<T>() * n) as f64 / n as f64;
    print!(
        "{what}: {:.0} B heap each (sizes:",
        per(live0, live1) - vec_part
    );
    for (size, (a, b)) in sizes0.iter().zip(&sizes1).enumerate() {
        let k = per(*a, *b);
        if k >= 0.5 && size != std::mem::size_of::<T>() * n {
            print!(" {size}x{k:.0}");
        }
    }
    println!(")");
    drop(kept);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2000);
    // The pieces on their own first.
    measure("a pipeline with the echo handlers", n, || {
        let mut p = Pipeline::new();
        echo_pipeline(&mut p).map(|()| p).ok()
    });
    measure("the same after one frame went through it", n, || {
        let mut p = Pipeline::new();
        echo_pipeline(&mut p).ok()?;
        p.fire_read(weft_pipeline::Message::Bytes(bytes::Bytes::from_static(
            b"\x00\x00\x00\x04ping",
        )));
        p.fire_read_complete();
        // The recorder head keeps what was written; a socket head would not.
        drop(p.recorder().map(|r| r.take_ops()));
        Some(p)
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        measure("a socket registered with tokio", n, || {
            std::os::unix::net::UnixStream::pair()
                .and_then(|(a, b)| {
                    a.set_nonblocking(true)?;
                    Ok((tokio::net::UnixStream::from_std(a)?, b))
                })
                .ok()
        });
    });
    drop(rt);
    let server = ServerBuilder::new()
        .threads(1)
        .bind_tcp("127.0.0.1:0".parse()?, echo_pipeline)?;
    let addr = server.local_addr().ok_or("no TCP address")?;
    let frame = b"\x00\x00\x00\x04ping";
    let mut conns = Vec::with_capacity(n + 1);
    // One connection first, so per-thread caches are warm in the baseline.
    let round_trip = |conns: &mut Vec<TcpStream>| -> std::io::Result<()> {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(frame)?;
        let mut back = [0u8; 8];
        s.read_exact(&mut back)?;
        conns.push(s);
        Ok(())
    };
    round_trip(&mut conns)?;
    std::thread::sleep(Duration::from_millis(200));
    let (live0, sizes0, rss0) = (LIVE.load(Ordering::Relaxed), snapshot(), rss_kib());
    for _ in 0..n {
        round_trip(&mut conns)?;
    }
    std::thread::sleep(Duration::from_millis(500));
    let (live1, sizes1, rss1) = (LIVE.load(Ordering::Relaxed), snapshot(), rss_kib());
    let nn = n as f64;
    println!("{n} idle connections, one server thread");
    println!(
        "RSS per connection:  {:.0} B (VmRSS {rss0} -> {rss1} KiB, clients included)",
        (rss1 - rss0) as f64 * 1024.0 / nn
    );
    println!(
        "heap per connection: {:.0} B (live bytes asked of malloc; malloc adds ~8-16 B a block)",
        (live1 - live0) as f64 / nn
    );
    println!("allocation sizes that grew by >= 0.5 per connection:");
    println!("{:>8} {:>10} {:>10}", "size B", "per conn", "B per conn");
    let mut explained = 0.0;
    for (size, (a, b)) in sizes0.iter().zip(&sizes1).enumerate() {
        let per = (b - a) as f64 / nn;
        if per >= 0.5 {
            let label = if size == SIZES {
                ">=64K".to_string()
            } else {
                size.to_string()
            };
            println!("{label:>8} {per:>10.2} {:>10.0}", per * size as f64);
            explained += per * size as f64;
        }
    }
    println!("explained: {explained:.0} B per connection");
    drop(conns);
    drop(server);
    Ok(())
}
