//! The cost of a pipeline hop: 64-byte length-prefixed frames, 64 to a
//! read, through `ByteToMessageDecoder` and then N pass-through handlers
//! before a sink, for N = 0, 1, 2, 4 and 8. Each pass-through handler takes
//! the frames as `CompositeBuf` (typed, no downcast in its code) and hands
//! each one on; the frames of one read travel between handlers as one
//! batch, so a hop costs one dispatch per read plus a move per frame.
//!
//! A second group does the same with handlers that take and emit
//! `Message` ("any"): the price of the dynamic type.
//!
//! Before criterion runs, the bench prints the ratio of 8 hops to 1 hop
//! (the target: at most 1.5), and the bytes copied per pass (0).
//!
//! `cargo bench -p weft-benches --bench dispatch`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput};
use weft_buf::{measure_copies, CompositeBuf};
use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder};
use weft_pipeline::{Batch, Context, Handler, Message, MessageType, Nothing, Pipeline};

/// Frame size on the wire (4-byte header included) and frames per read.
const FRAME: usize = 64;
const PER_READ: usize = 64;
/// Reads per pass.
const READS: usize = 256;

/// Hands every frame on unchanged.
struct Hop<T>(std::marker::PhantomData<fn(T)>);

impl<T: MessageType> Handler for Hop<T> {
    type In = T;
    type Out = T;

    fn read(&mut self, ctx: &mut Context<'_, T>, msg: T) {
        ctx.fire_read(msg);
    }

    fn read_batch(&mut self, ctx: &mut Context<'_, T>, batch: Batch<'_, T>) {
        for msg in batch {
            ctx.fire_read(msg);
        }
    }
}

/// Counts the frames that reach it.
struct Sink(Arc<AtomicU64>);

impl Handler for Sink {
    type In = CompositeBuf;
    type Out = Nothing;

    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, frame: CompositeBuf) {
        black_box(&frame);
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn read_batch(&mut self, _ctx: &mut Context<'_, Nothing>, batch: Batch<'_, CompositeBuf>) {
        let n = batch
            .inspect(|m| {
                black_box(m);
            })
            .count();
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// The reads of one pass: each holds `PER_READ` whole frames.
fn reads() -> Vec<Bytes> {
    (0..READS)
        .map(|r| {
            let mut b = BytesMut::with_capacity(FRAME * PER_READ);
            for i in 0..PER_READ {
                b.put_u32((FRAME - 4) as u32);
                b.put_bytes((r + i) as u8, FRAME - 4);
            }
            b.freeze()
        })
        .collect()
}

fn pipeline(hops: usize, any: bool, count: &Arc<AtomicU64>) -> Pipeline {
    let mut p = Pipeline::new();
    let decoder = LengthFieldBasedFrameDecoder::new(1 << 16, 0, 4, 0, 0)
        .expect("valid length-field configuration");
    let mut h = p.handlers();
    h.add_last("decoder", ByteToMessageDecoder::new(decoder))
        .expect("decoder");
    for i in 0..hops {
        let name = format!("hop{i}");
        if any {
            h.add_last(&name, Hop::<Message>(std::marker::PhantomData))
        } else {
            h.add_last(&name, Hop::<CompositeBuf>(std::marker::PhantomData))
        }
        .expect("hop");
    }
    h.add_last("sink", Sink(count.clone())).expect("sink");
    p
}

fn pass(p: &mut Pipeline, reads: &[Bytes]) {
    for r in reads {
        p.fire_read(Message::Bytes(r.clone()));
        p.fire_read_complete();
    }
}

/// Median time of one pass, for the summary line.
fn median_pass(hops: usize, any: bool, reads: &[Bytes]) -> Duration {
    let count = Arc::new(AtomicU64::new(0));
    let mut p = pipeline(hops, any, &count);
    let mut times: Vec<Duration> = (0..31)
        .map(|_| {
            let t = Instant::now();
            pass(&mut p, reads);
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn summary(reads: &[Bytes]) {
    let count = Arc::new(AtomicU64::new(0));
    let mut p = pipeline(8, false, &count);
    let ((), copied) = measure_copies(|| pass(&mut p, reads));
    assert_eq!(count.load(Ordering::Relaxed), (READS * PER_READ) as u64);
    for any in [false, true] {
        let one = median_pass(1, any, reads);
        let eight = median_pass(8, any, reads);
        let frames = (READS * PER_READ) as f64;
        println!(
            "dispatch {}: 1 hop {:.1} ns/frame, 8 hops {:.1} ns/frame, ratio {:.2} (target <= 1.5); bytes copied per pass: {copied}",
            if any { "Message" } else { "CompositeBuf" },
            one.as_nanos() as f64 / frames,
            eight.as_nanos() as f64 / frames,
            eight.as_secs_f64() / one.as_secs_f64(),
        );
    }
}

fn bench(c: &mut Criterion) {
    let reads = reads();
    summary(&reads);
    for any in [false, true] {
        let mut g = c.benchmark_group(if any {
            "dispatch_any"
        } else {
            "dispatch_typed"
        });
        g.throughput(Throughput::Elements((READS * PER_READ) as u64));
        for hops in [0usize, 1, 2, 4, 8] {
            let count = Arc::new(AtomicU64::new(0));
            let mut p = pipeline(hops, any, &count);
            g.bench_with_input(BenchmarkId::from_parameter(hops), &reads, |b, reads| {
                b.iter(|| pass(&mut p, reads))
            });
        }
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    bench(&mut c);
    c.final_summary();
}
