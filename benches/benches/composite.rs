//! Composite vs concatenated: what a `CompositeBuf` saves (and costs)
//! compared with copying the segments into one contiguous buffer.
//!
//! Segment counts N ∈ {2, 8, 32, 128} × segment sizes {64 B, 1 KiB, 16 KiB}:
//!
//! - `composite_build`: a frame from N segments, `CompositeBuf::push` (no
//!   copy) vs `Vec::extend_from_slice` into a `Vec` sized in advance;
//! - `composite_u32_every`: `Buf::get_u32` over the whole frame, starting
//!   at byte 2 so every segment boundary is straddled: consuming the
//!   `CompositeBuf`, through its borrowed `cursor()`, and on a `&[u8]`;
//! - `composite_u32_straddle`: only the u32s that straddle a boundary
//!   (`advance` to 2 bytes before it, `get_u32`), same three readers;
//! - `composite_find`: a 4-byte needle near the end, `CompositeBuf::find`
//!   over N segments vs over one segment (both `memchr::memmem` inside);
//! - `composite_sink`: build the frame and hand it to a Unix socketpair
//!   drained by another thread: `writev` of the segments vs concatenate +
//!   `write`, next to the physical limit measured in the same run
//!   (`write_only`: `write` of an already-contiguous buffer of the same
//!   size, which no way of building the frame can beat);
//! - `composite_index_u32`: `get_u32_at` on values that straddle a boundary
//!   in 16 and 1,024 segments of 64 B (the same index again, every boundary
//!   in order, the boundaries in a scrambled order) vs the same reads at the
//!   same indices in a one-segment buffer;
//! - `composite_get_u32`: `Buf::get_u32` through 16 and 1,024 segments of
//!   64 B vs through one `Bytes`, from byte 0 (no value straddles) and from
//!   byte 2 (one value per segment straddles);
//! - `composite_ops`: `push` + `split_to`, `push_front` + `truncate`,
//!   `split_off` + `append`, and `slice` on a buffer that stays at 16 vs
//!   1,024 segments (its offset table built), to show the cost does not
//!   grow with the segment count.
//!
//! `cargo bench -p weft-benches --bench composite` runs it and then prints a
//! markdown table of ratios read from criterion's `estimates.json` files (also
//! written to `<criterion dir>/composite-summary.md`).

use std::hint::black_box;
use std::io::{IoSlice, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Buf, Bytes};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use weft_buf::CompositeBuf;

const COUNTS: [usize; 4] = [2, 8, 32, 128];
const SIZES: [usize; 3] = [64, 1024, 16 * 1024];
const NEEDLE: [u8; 4] = [0xfe, 0xfd, 0xfc, 0xfb];

/// N segments of `size` bytes, each its own allocation, with bytes that
/// never contain `NEEDLE`; the needle is written 7 bytes before the end.
fn segments(n: usize, size: usize) -> Vec<Bytes> {
    let total = n * size;
    let mut flat: Vec<u8> = (0..total).map(|i| (i * 7 % 200) as u8).collect();
    flat[total - 7..total - 3].copy_from_slice(&NEEDLE);
    flat.chunks(size).map(|c| Bytes::from(c.to_vec())).collect()
}

fn concat(segs: &[Bytes]) -> Vec<u8> {
    let total = segs.iter().map(Bytes::len).sum();
    let mut v = Vec::with_capacity(total);
    for s in segs {
        v.extend_from_slice(s);
    }
    v
}

fn composite(segs: &[Bytes]) -> CompositeBuf {
    let mut c = CompositeBuf::with_capacity(segs.len());
    for s in segs {
        c.push(s.clone());
    }
    c
}

fn label(n: usize, size: usize) -> String {
    format!("{n}x{size}")
}

fn bench_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("composite_build");
    for n in COUNTS {
        for size in SIZES {
            let segs = segments(n, size);
            g.throughput(Throughput::Bytes((n * size) as u64));
            g.bench_with_input(
                BenchmarkId::new("composite", label(n, size)),
                &segs,
                |b, s| b.iter(|| composite(black_box(s))),
            );
            g.bench_with_input(
                BenchmarkId::new("contiguous", label(n, size)),
                &segs,
                |b, s| b.iter(|| concat(black_box(s))),
            );
        }
    }
    g.finish();
}

fn read_every_u32<B: Buf>(mut buf: B) -> u32 {
    buf.advance(2);
    let mut acc = 0u32;
    while buf.remaining() >= 4 {
        acc = acc.wrapping_add(buf.get_u32());
    }
    acc
}

/// Reads only the u32 that straddles each boundary (every `size` bytes).
fn read_straddling_u32<B: Buf>(mut buf: B, size: usize) -> u32 {
    let mut acc = 0u32;
    buf.advance(size - 2);
    loop {
        acc = acc.wrapping_add(buf.get_u32());
        if buf.remaining() < size {
            return acc;
        }
        buf.advance(size - 4);
    }
}

fn bench_u32(c: &mut Criterion) {
    let mut every = c.benchmark_group("composite_u32_every");
    for n in COUNTS {
        for size in SIZES {
            let segs = segments(n, size);
            let frame = composite(&segs);
            let flat = concat(&segs);
            assert_eq!(
                read_every_u32(frame.clone()),
                read_every_u32(&flat[..]),
                "both readers see the same values"
            );
            every.throughput(Throughput::Elements(((n * size - 2) / 4) as u64));
            every.bench_function(BenchmarkId::new("composite", label(n, size)), |b| {
                b.iter_batched(
                    || frame.clone(),
                    |f| read_every_u32(black_box(f)),
                    BatchSize::SmallInput,
                )
            });
            every.bench_function(BenchmarkId::new("cursor", label(n, size)), |b| {
                b.iter(|| read_every_u32(black_box(&frame).cursor()))
            });
            every.bench_function(BenchmarkId::new("contiguous", label(n, size)), |b| {
                b.iter(|| read_every_u32(black_box(&flat[..])))
            });
        }
    }
    every.finish();

    let mut straddle = c.benchmark_group("composite_u32_straddle");
    for n in COUNTS {
        for size in SIZES {
            let segs = segments(n, size);
            let frame = composite(&segs);
            let flat = concat(&segs);
            assert_eq!(
                read_straddling_u32(frame.clone(), size),
                read_straddling_u32(&flat[..], size)
            );
            straddle.throughput(Throughput::Elements((n - 1) as u64));
            straddle.bench_function(BenchmarkId::new("composite", label(n, size)), |b| {
                b.iter_batched(
                    || frame.clone(),
                    |f| read_straddling_u32(black_box(f), size),
                    BatchSize::SmallInput,
                )
            });
            straddle.bench_function(BenchmarkId::new("cursor", label(n, size)), |b| {
                b.iter(|| read_straddling_u32(black_box(&frame).cursor(), size))
            });
            straddle.bench_function(BenchmarkId::new("contiguous", label(n, size)), |b| {
                b.iter(|| read_straddling_u32(black_box(&flat[..]), size))
            });
        }
    }
    straddle.finish();
}

fn bench_find(c: &mut Criterion) {
    let mut g = c.benchmark_group("composite_find");
    for n in COUNTS {
        for size in SIZES {
            let segs = segments(n, size);
            let frame = composite(&segs);
            let flat = CompositeBuf::from(Bytes::from(concat(&segs)));
            let at = n * size - 7;
            assert_eq!(frame.find(&NEEDLE), Some(at));
            assert_eq!(flat.find(&NEEDLE), Some(at));
            g.throughput(Throughput::Bytes((n * size) as u64));
            g.bench_function(BenchmarkId::new("composite", label(n, size)), |b| {
                b.iter(|| black_box(&frame).find(black_box(&NEEDLE)))
            });
            g.bench_function(BenchmarkId::new("contiguous", label(n, size)), |b| {
                b.iter(|| black_box(&flat).find(black_box(&NEEDLE)))
            });
        }
    }
    g.finish();
}

/// A socketpair whose far end is read (and discarded) by a thread.
struct Sink {
    tx: Option<UnixStream>,
    drain: Option<JoinHandle<u64>>,
}

impl Sink {
    fn new() -> Sink {
        let (tx, mut rx) = UnixStream::pair().expect("socketpair");
        let drain = std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                match rx.read(&mut buf) {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n as u64,
                }
            }
        });
        Sink {
            tx: Some(tx),
            drain: Some(drain),
        }
    }

    fn stream(&self) -> &UnixStream {
        self.tx.as_ref().expect("open until drop")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(d) = self.drain.take() {
            let _ = d.join();
        }
    }
}

/// Writes the whole composite with `writev`, one `IoSlice` per segment,
/// looping on short writes.
fn writev_all(mut out: &UnixStream, mut frame: CompositeBuf) {
    while frame.has_remaining() {
        let mut iov = [IoSlice::new(&[]); 128];
        let cnt = frame.chunks_vectored(&mut iov);
        let n = out.write_vectored(&iov[..cnt]).expect("writev");
        frame.advance(n);
    }
}

fn bench_sink(c: &mut Criterion) {
    let mut g = c.benchmark_group("composite_sink");
    let sink = Sink::new();
    for n in COUNTS {
        for size in SIZES {
            let segs = segments(n, size);
            g.throughput(Throughput::Bytes((n * size) as u64));
            g.bench_function(BenchmarkId::new("composite", label(n, size)), |b| {
                b.iter(|| writev_all(sink.stream(), composite(black_box(&segs))))
            });
            g.bench_function(BenchmarkId::new("contiguous", label(n, size)), |b| {
                b.iter(|| {
                    let flat = concat(black_box(&segs));
                    let mut out = sink.stream();
                    out.write_all(&flat).expect("write");
                })
            });
            // The physical limit: the kernel's copy alone, from a buffer
            // that is already contiguous and hot.
            let flat = concat(&segs);
            g.bench_function(BenchmarkId::new("write_only", label(n, size)), |b| {
                b.iter(|| {
                    let mut out = sink.stream();
                    out.write_all(black_box(&flat)).expect("write");
                })
            });
        }
    }
    g.finish();
    drop(sink);
}

/// Segment counts of the lookup and per-operation groups, 64 B each.
const LOOKUP_COUNTS: [usize; 2] = [16, 1024];
const LOOKUP_SEG: usize = 64;

/// The start indices of the u32 values that straddle each boundary.
fn straddle_indices(n: usize) -> Vec<usize> {
    (1..n).map(|k| k * LOOKUP_SEG - 2).collect()
}

/// The same indices in a scrambled order (a fixed multiplicative step), so
/// that neither the hint nor the branch predictor knows the next one.
fn scrambled(idx: &[usize]) -> Vec<usize> {
    let n = idx.len();
    let step = (0..)
        .map(|k| n / 2 + 1 + k)
        .find(|&s| gcd(s, n) == 1)
        .unwrap_or(1);
    (0..n).map(|i| idx[(i * step) % n]).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn sum_at(buf: &CompositeBuf, idx: &[usize]) -> u32 {
    idx.iter().fold(0u32, |acc, &i| {
        acc.wrapping_add(buf.get_u32_at(black_box(i)))
    })
}

fn bench_index(c: &mut Criterion) {
    let mut g = c.benchmark_group("composite_index_u32");
    for n in LOOKUP_COUNTS {
        let segs = segments(n, LOOKUP_SEG);
        let frame = composite(&segs);
        let flat = CompositeBuf::from(Bytes::from(concat(&segs)));
        let sweep = straddle_indices(n);
        let random = scrambled(&sweep);
        let same = vec![sweep[sweep.len() / 2]; sweep.len()];
        assert_eq!(sum_at(&frame, &random), sum_at(&flat, &random));
        let p = label(n, LOOKUP_SEG);
        g.throughput(Throughput::Elements(sweep.len() as u64));
        for (name, idx) in [("same", &same), ("sweep", &sweep), ("random", &random)] {
            g.bench_function(BenchmarkId::new(format!("composite_{name}"), &p), |b| {
                b.iter(|| sum_at(black_box(&frame), idx))
            });
            g.bench_function(BenchmarkId::new(format!("contiguous_{name}"), &p), |b| {
                b.iter(|| sum_at(black_box(&flat), idx))
            });
        }
    }
    g.finish();
}

fn bench_get_u32(c: &mut Criterion) {
    let mut g = c.benchmark_group("composite_get_u32");
    for n in LOOKUP_COUNTS {
        let segs = segments(n, LOOKUP_SEG);
        let frame = composite(&segs);
        let flat = Bytes::from(concat(&segs));
        let p = label(n, LOOKUP_SEG);
        g.throughput(Throughput::Elements((n * LOOKUP_SEG / 4) as u64));
        g.bench_function(BenchmarkId::new("composite_scalar", &p), |b| {
            b.iter_batched(
                || frame.clone(),
                |f| read_scalar(black_box(f)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new("bytes_scalar", &p), |b| {
            b.iter_batched(
                || flat.clone(),
                |f| read_scalar(black_box(f)),
                BatchSize::SmallInput,
            )
        });
        for skip in [0usize, 2] {
            assert_eq!(
                read_from(frame.clone(), skip),
                read_from(flat.clone(), skip)
            );
            g.bench_function(BenchmarkId::new(format!("composite_from{skip}"), &p), |b| {
                b.iter_batched(
                    || frame.clone(),
                    |f| read_from(black_box(f), skip),
                    BatchSize::SmallInput,
                )
            });
            g.bench_function(BenchmarkId::new(format!("cursor_from{skip}"), &p), |b| {
                b.iter(|| read_from(black_box(&frame).cursor(), skip))
            });
            g.bench_function(BenchmarkId::new(format!("bytes_from{skip}"), &p), |b| {
                b.iter_batched(
                    || flat.clone(),
                    |f| read_from(black_box(f), skip),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

/// Every u32 from byte 0 on, each value passed through `black_box`: the
/// compiler cannot turn the reads of one contiguous `Bytes` into a vector
/// loop, so this compares the per-read paths themselves.
fn read_scalar<B: Buf>(mut buf: B) -> u32 {
    let mut acc = 0u32;
    while buf.remaining() >= 4 {
        acc = acc.wrapping_add(black_box(buf.get_u32()));
    }
    acc
}

/// Every u32 from byte `skip` on, through `Buf::get_u32`.
fn read_from<B: Buf>(mut buf: B, skip: usize) -> u32 {
    buf.advance(skip);
    let mut acc = 0u32;
    while buf.remaining() >= 4 {
        acc = acc.wrapping_add(buf.get_u32());
    }
    acc
}

/// Per-operation cost on a buffer that stays at N segments: each
/// iteration adds one segment and removes one, so amortized costs
/// (compaction, making room at the front) are spread the way a long-lived
/// cumulation or outbound queue sees them, and the offset table is built.
fn bench_ops(c: &mut Criterion) {
    let mut g = c.benchmark_group("composite_ops");
    let extra = Bytes::from(vec![7u8; LOOKUP_SEG]);
    for n in LOOKUP_COUNTS {
        let segs = segments(n, LOOKUP_SEG);
        let frame = composite(&segs);
        // Build the offset table, as a decoder's first indexed read would.
        black_box(frame.get_u32_at(n * LOOKUP_SEG / 2 - 2));
        let p = label(n, LOOKUP_SEG);
        let mid = n * LOOKUP_SEG / 2;
        let total = n * LOOKUP_SEG;
        let mut f = frame.clone();
        g.bench_function(BenchmarkId::new("push+split_to", &p), |b| {
            b.iter(|| {
                f.push(black_box(extra.clone()));
                f.split_to(black_box(LOOKUP_SEG))
            })
        });
        let mut f = frame.clone();
        g.bench_function(BenchmarkId::new("push_front+truncate", &p), |b| {
            b.iter(|| {
                f.push_front(black_box(extra.clone()));
                f.truncate(black_box(total));
            })
        });
        let mut f = frame.clone();
        g.bench_function(BenchmarkId::new("split_off+append", &p), |b| {
            b.iter(|| {
                let tail = f.split_off(black_box(total - 100));
                f.append(tail);
            })
        });
        let mut f = frame.clone();
        g.bench_function(BenchmarkId::new("push+split_to+get_u32_at", &p), |b| {
            b.iter(|| {
                f.push(black_box(extra.clone()));
                drop(f.split_to(black_box(LOOKUP_SEG)));
                f.get_u32_at(black_box(total - 66))
            })
        });
        g.bench_function(BenchmarkId::new("slice", &p), |b| {
            b.iter(|| black_box(&frame).slice(black_box(mid - 10..mid + 118)))
        });
    }
    g.finish();
}

/// The sink comparison of 32 × 16 KiB once more, with the three paths
/// interleaved round by round (build + writev, concatenate + write, write
/// of an already-contiguous buffer), so a burst of load from another
/// process hits all three alike; returns the median of each in µs.
/// Criterion measures them one after another, seconds apart, which on a
/// shared machine moved the fraction of the limit between 33% and 101%.
fn sink_interleaved(rounds: usize) -> (f64, f64, f64) {
    let sink = Sink::new();
    let segs = segments(32, 16 * 1024);
    let flat = concat(&segs);
    let mut t = [Vec::new(), Vec::new(), Vec::new()];
    for r in 0..rounds + 50 {
        for k in 0..3 {
            // Rotate the order so no path always runs right after another.
            let which = (k + r) % 3;
            let start = std::time::Instant::now();
            match which {
                0 => writev_all(sink.stream(), composite(black_box(&segs))),
                1 => {
                    let f = concat(black_box(&segs));
                    sink.stream().write_all(&f).expect("write");
                }
                _ => sink.stream().write_all(black_box(&flat)).expect("write"),
            }
            // The first 50 rounds warm up.
            if r >= 50 {
                t[which].push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let [a, b, c] = &mut t;
    (median(a), median(b), median(c))
}

/// Medians (ns) of several measurements taken interleaved, round by round
/// in a rotating order, so that load from other processes hits each alike.
/// Each closure does its own untimed setup and returns the time of its
/// measured part.
fn interleaved(rounds: usize, fs: &mut [&mut dyn FnMut() -> Duration]) -> Vec<f64> {
    let n = fs.len();
    let mut t = vec![Vec::with_capacity(rounds); n];
    for r in 0..rounds + rounds / 10 {
        for k in 0..n {
            let which = (k + r) % n;
            let d = fs[which]();
            if r >= rounds / 10 {
                t[which].push(d.as_secs_f64() * 1e9);
            }
        }
    }
    t.into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        })
        .collect()
}

fn timed<R>(f: impl FnOnce() -> R) -> Duration {
    let start = std::time::Instant::now();
    black_box(f());
    start.elapsed()
}

/// The lookup and `Buf::get_u32` targets, interleaved (see
/// [`interleaved`]): lines for the summary.
fn lookups_interleaved() -> String {
    let mut out = String::new();
    for n in LOOKUP_COUNTS {
        let segs = segments(n, LOOKUP_SEG);
        let frame = composite(&segs);
        let one = CompositeBuf::from(Bytes::from(concat(&segs)));
        let bytes = Bytes::from(concat(&segs));
        let sweep = straddle_indices(n);
        let random = scrambled(&sweep);
        let same = vec![sweep[sweep.len() / 2]; sweep.len()];
        let m = interleaved(
            2000,
            &mut [
                &mut || timed(|| sum_at(&frame, &same)),
                &mut || timed(|| sum_at(&one, &same)),
                &mut || timed(|| sum_at(&frame, &sweep)),
                &mut || timed(|| sum_at(&one, &sweep)),
                &mut || timed(|| sum_at(&frame, &random)),
                &mut || timed(|| sum_at(&one, &random)),
            ],
        );
        let per = sweep.len() as f64;
        out.push_str(&format!(
            "- interleaved, `get_u32_at` straddling, {n} × 64 B vs one segment (ns per read): \
             same index {:.1} vs {:.1} = **{:.2}×**, in order {:.1} vs {:.1} = **{:.2}×**, \
             scrambled {:.1} vs {:.1} = **{:.2}×** (target ≤ 3×)\n",
            m[0] / per,
            m[1] / per,
            m[0] / m[1],
            m[2] / per,
            m[3] / per,
            m[2] / m[3],
            m[4] / per,
            m[5] / per,
            m[4] / m[5],
        ));
        let m = interleaved(
            1000,
            &mut [
                &mut || {
                    let f = frame.clone();
                    timed(|| read_from(f, 0))
                },
                &mut || {
                    let f = bytes.clone();
                    timed(|| read_from(f, 0))
                },
                &mut || {
                    let f = frame.clone();
                    timed(|| read_scalar(f))
                },
                &mut || {
                    let f = bytes.clone();
                    timed(|| read_scalar(f))
                },
            ],
        );
        let per = (n * LOOKUP_SEG / 4) as f64;
        out.push_str(&format!(
            "- interleaved, `Buf::get_u32` through {n} × 64 B vs one `Bytes` (ns per read): \
             {:.2} vs {:.2} = **{:.2}×**; each value through `black_box` {:.2} vs {:.2} = \
             **{:.2}×** (target ≤ 1.5×)\n",
            m[0] / per,
            m[1] / per,
            m[0] / m[1],
            m[2] / per,
            m[3] / per,
            m[2] / m[3],
        ));
    }
    out
}

/// Where criterion writes its results (the same rule criterion follows,
/// without running `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/criterion"))
}

/// Median time in nanoseconds from `<group>/<function>/<param>/new/estimates.json`
/// (the median, not the mean: on a shared machine a few preempted samples
/// would otherwise decide the ratio).
fn median_ns(group: &str, function: &str, param: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join(param)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let mean = &text[text.find("\"median\"")?..];
    let pe = &mean[mean.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = pe.find([',', '}'])?;
    pe[..end].trim().parse().ok()
}

/// composite time / contiguous time for one group and configuration.
fn ratio(group: &str, param: &str) -> Option<f64> {
    ratio_of(group, "composite", param)
}

/// `function` time / contiguous time.
fn ratio_of(group: &str, function: &str, param: &str) -> Option<f64> {
    Some(median_ns(group, function, param)? / median_ns(group, "contiguous", param)?)
}

/// `a` time / `b` time in one group and configuration.
fn ratio_pair(group: &str, a: &str, b: &str, param: &str) -> Option<f64> {
    Some(median_ns(group, a, param)? / median_ns(group, b, param)?)
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}×"))
}

fn fmt_size(size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn summary() -> String {
    let mut out = String::new();
    out.push_str(
        "Median time of the composite path divided by the median time of the contiguous \
         path (below 1× = composite faster).\n\n",
    );
    out.push_str(
        "| segments | build (push vs extend) | u32 every, CompositeBuf | u32 every, cursor | u32 straddling, CompositeBuf | u32 straddling, cursor | find needle | build + writev vs concat + write |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let mut worst_u32: Option<(f64, String)> = None;
    for n in COUNTS {
        for size in SIZES {
            let p = label(n, size);
            let every = ratio("composite_u32_every", &p);
            let straddle = ratio("composite_u32_straddle", &p);
            let every_c = ratio_of("composite_u32_every", "cursor", &p);
            let straddle_c = ratio_of("composite_u32_straddle", "cursor", &p);
            for r in [every_c, straddle_c].into_iter().flatten() {
                if worst_u32.as_ref().map_or(true, |(w, _)| r > *w) {
                    worst_u32 = Some((r, format!("{n} × {}", fmt_size(size))));
                }
            }
            out.push_str(&format!(
                "| {n} × {} | {} | {} | {} | {} | {} | {} | {} |\n",
                fmt_size(size),
                fmt_ratio(ratio("composite_build", &p)),
                fmt_ratio(every),
                fmt_ratio(every_c),
                fmt_ratio(straddle),
                fmt_ratio(straddle_c),
                fmt_ratio(ratio("composite_find", &p)),
                fmt_ratio(ratio("composite_sink", &p)),
            ));
        }
    }
    let target = label(32, 16 * 1024);
    let sink = |f: &str| median_ns("composite_sink", f, &target);
    let (comp, cat, limit) = (sink("composite"), sink("contiguous"), sink("write_only"));
    out.push_str("\nTargets (all ratios from this run):\n\n");
    if let (Some(comp), Some(cat), Some(limit)) = (comp, cat, limit) {
        // No way of building the frame beats writing an already-contiguous
        // buffer: concat + write / write_only is the best possible speedup.
        let best = cat / limit;
        let got = cat / comp;
        out.push_str(&format!(
            "- 32 × 16 KiB: build + writev {:.1} µs, concatenate + write {:.1} µs, write of a \
             contiguous buffer (the physical limit) {:.1} µs. Speedup {got:.2}× of a possible \
             {best:.2}×: **{:.0}% of the physical limit** (target ≥ 90%)\n",
            comp / 1e3,
            cat / 1e3,
            limit / 1e3,
            100.0 * limit / comp,
        ));
    } else {
        out.push_str("- 32 × 16 KiB sink: n/a (group not run)\n");
    }
    for n in LOOKUP_COUNTS {
        let p = label(n, LOOKUP_SEG);
        let ix = |kind: &str| {
            ratio_pair(
                "composite_index_u32",
                &format!("composite_{kind}"),
                &format!("contiguous_{kind}"),
                &p,
            )
        };
        out.push_str(&format!(
            "- `get_u32_at` straddling a boundary, {n} × 64 B vs one segment: same index {}, \
             every boundary in order {}, scrambled order {} (target ≤ 3×)\n",
            fmt_ratio(ix("same")),
            fmt_ratio(ix("sweep")),
            fmt_ratio(ix("random")),
        ));
        let g = |skip: usize| {
            ratio_pair(
                "composite_get_u32",
                &format!("composite_from{skip}"),
                &format!("bytes_from{skip}"),
                &p,
            )
        };
        let gc = |skip: usize| {
            ratio_pair(
                "composite_get_u32",
                &format!("cursor_from{skip}"),
                &format!("bytes_from{skip}"),
                &p,
            )
        };
        out.push_str(&format!(
            "- `Buf::get_u32` through {n} × 64 B vs one `Bytes`: from byte 0 {}, from byte 2 \
             (one straddle per segment) {} (target ≤ 1.5×); through `cursor()` {} / {}\n",
            fmt_ratio(g(0)),
            fmt_ratio(g(2)),
            fmt_ratio(gc(0)),
            fmt_ratio(gc(2)),
        ));
        out.push_str(&format!(
            "  - same from byte 0 with each value through `black_box` (no vector loop for \
             `Bytes`): {}\n",
            fmt_ratio(ratio_pair(
                "composite_get_u32",
                "composite_scalar",
                "bytes_scalar",
                &p
            )),
        ));
    }
    out.push_str(&format!(
        "- worst `cursor()` u32 ratio over the table above: {}\n",
        worst_u32.map_or_else(|| "n/a".to_string(), |(r, at)| format!("{r:.2}× at {at}")),
    ));
    out.push_str("- one operation on 16 vs 1,024 segments of 64 B (ns):");
    for op in [
        "push+split_to",
        "push_front+truncate",
        "split_off+append",
        "push+split_to+get_u32_at",
        "slice",
    ] {
        let t = |n: usize| median_ns("composite_ops", op, &label(n, LOOKUP_SEG));
        let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.0}"));
        out.push_str(&format!(" `{op}` {} vs {};", f(t(16)), f(t(1024))));
    }
    out.push('\n');
    out
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(300))
        .nresamples(5_000)
        .without_plots()
        .configure_from_args();
    bench_build(&mut c);
    bench_u32(&mut c);
    bench_find(&mut c);
    bench_sink(&mut c);
    bench_index(&mut c);
    bench_get_u32(&mut c);
    bench_ops(&mut c);
    c.final_summary();

    let args: Vec<String> = std::env::args().collect();
    let measuring = !args
        .iter()
        .any(|a| a == "--test" || a == "--list" || a == "--profile-time");
    if measuring {
        let mut table = summary();
        table.push_str(&lookups_interleaved());
        let (comp, cat, limit) = sink_interleaved(2000);
        table.push_str(&format!(
            "- 32 × 16 KiB sink, the three paths interleaved over 2,000 rounds (medians): \
             build + writev {comp:.1} µs, concatenate + write {cat:.1} µs, write of a contiguous \
             buffer {limit:.1} µs. Speedup {:.2}× of a possible {:.2}×: **{:.0}% of the physical \
             limit** (target ≥ 90%)\n",
            cat / comp,
            cat / limit,
            100.0 * limit / comp,
        ));
        println!("\n## Composite vs concatenated\n\n{table}");
        let path = criterion_dir().join("composite-summary.md");
        if std::fs::write(&path, &table).is_ok() {
            println!("(written to {})", path.display());
        }
    }
}
