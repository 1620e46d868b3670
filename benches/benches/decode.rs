//! Decoding one length-prefixed byte stream, split into random read sizes,
//! three ways:
//!
//! - `weft_composite`: weft's `ByteToMessageDecoder` +
//!   `LengthFieldBasedFrameDecoder` in a `Pipeline`, reads cumulated as the
//!   segments of a `CompositeBuf` (frames are slices of the reads);
//! - `weft_merge`: the same with merge mode on (leftovers under 256 B are
//!   copied together with up to 256 B of the next read);
//! - `framed_read`: `tokio_util::codec::FramedRead` + `LengthDelimitedCodec`
//!   over an `AsyncRead` that yields exactly the same read sizes.
//!
//! Two streams: `small` (frames of 8..512 B, reads of 1..4096 B) and `large`
//! (frames of 1..64 KiB, reads of 1..64 KiB), about 8 MiB each. Each read is
//! first copied into a fresh buffer for every variant (the stand-in for the
//! kernel's copy into the socket buffer), so all three pay the same for it.
//!
//! Before criterion runs, the bench prints for each variant the user-space
//! bytes copied per pass over the stream: `weft_buf::measure_copies` for
//! weft; for `FramedRead`, the bytes its `BytesMut` moves when it makes room
//! for the next read (a leftover partial frame is memmoved or reallocated),
//! found by watching the buffer's address from inside the codec. A fourth
//! column shows the same codec run unchanged through weft's
//! `DecoderAdapter`, which copies (and counts) every byte into its `BytesMut`.
//!
//! `cargo bench -p weft-benches --bench decode`

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::StreamExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::{Decoder, FramedRead, LengthDelimitedCodec};
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{
    ByteToMessageDecoder, DecoderAdapter, LengthFieldBasedFrameDecoder, DEFAULT_MERGE_THRESHOLD,
};
use weft_pipeline::{Batch, Context, Handler, Message, MessageType, Nothing, Pipeline};

const STREAM_BYTES: usize = 8 << 20;
const MAX_FRAME: usize = 1 << 20;

/// A small deterministic PRNG (xorshift64*), so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

/// The stream (4-byte big-endian length + body, repeated), its read sizes,
/// and its frame count.
struct Input {
    name: &'static str,
    stream: Bytes,
    reads: Vec<usize>,
    frames: u64,
}

fn input(name: &'static str, frame: (usize, usize), read: (usize, usize), seed: u64) -> Input {
    let mut rng = Rng(seed);
    let mut stream = Vec::with_capacity(STREAM_BYTES + frame.1 + 4);
    let mut frames = 0;
    while stream.len() < STREAM_BYTES {
        let n = rng.range(frame.0, frame.1);
        stream.extend_from_slice(&(n as u32).to_be_bytes());
        stream.extend((0..n).map(|i| (i % 251) as u8));
        frames += 1;
    }
    let mut reads = Vec::new();
    let mut left = stream.len();
    while left > 0 {
        let n = rng.range(read.0, read.1).min(left);
        reads.push(n);
        left -= n;
    }
    Input {
        name,
        stream: Bytes::from(stream),
        reads,
        frames,
    }
}

/// The stand-in for a socket read as weft's transport does it: the bytes go
/// into the spare capacity of a shared 16 KiB chunk (the kernel's copy),
/// which is split off and frozen, so the pipeline gets them without a copy.
struct Recv {
    chunk: BytesMut,
}

impl Recv {
    const CHUNK: usize = 16 * 1024;

    fn read(&mut self, data: &[u8]) -> Bytes {
        if self.chunk.capacity() - self.chunk.len() < data.len() {
            self.chunk = BytesMut::with_capacity(Self::CHUNK.max(data.len()));
        }
        self.chunk.extend_from_slice(data);
        self.chunk.split().freeze()
    }
}

/// Counts the frames (of type `T`) that reach it.
struct Sink<T>(Arc<AtomicU64>, std::marker::PhantomData<fn(T)>);

impl<T> Sink<T> {
    fn new(count: &Arc<AtomicU64>) -> Self {
        Sink(count.clone(), std::marker::PhantomData)
    }
}

impl<T: MessageType> Handler for Sink<T> {
    type In = T;
    type Out = Nothing;

    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, msg: T) {
        black_box(&msg);
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a batch with one atomic add, as `framed_pass` counts in a
    /// local: the bench measures decoding, not a shared counter.
    fn read_batch(&mut self, _ctx: &mut Context<'_, Nothing>, batch: Batch<'_, T>) {
        let n = batch
            .inspect(|m| {
                black_box(m);
            })
            .count();
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// One pass of the stream through a weft pipeline; returns frames seen.
fn weft_pass(input: &Input, merge: bool) -> u64 {
    let count = Arc::new(AtomicU64::new(0));
    let mut decoder = ByteToMessageDecoder::new(
        LengthFieldBasedFrameDecoder::new(MAX_FRAME as u64, 0, 4, 0, 4)
            .expect("valid length-field configuration"),
    );
    if merge {
        decoder.merge_small_leftovers(DEFAULT_MERGE_THRESHOLD);
    }
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("decoder", decoder)
        .and_then(|h| h.add_last("sink", Sink::<CompositeBuf>::new(&count)))
        .expect("decoder and sink meet");
    let mut recv = Recv {
        chunk: BytesMut::new(),
    };
    let mut at = 0;
    for &n in &input.reads {
        p.fire_read(Message::Bytes(recv.read(&input.stream[at..at + n])));
        p.fire_read_complete();
        at += n;
    }
    count.load(Ordering::Relaxed)
}

/// One pass through weft's adapter running `LengthDelimitedCodec` unchanged
/// (it copies every read into the codec's `BytesMut`, counted); for the
/// copy table only.
fn adapter_pass(input: &Input) -> u64 {
    let count = Arc::new(AtomicU64::new(0));
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME)
        .new_codec();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("codec", DecoderAdapter::new(codec))
        .and_then(|h| h.add_last("sink", Sink::<BytesMut>::new(&count)))
        .expect("adapter and sink meet");
    let mut recv = Recv {
        chunk: BytesMut::new(),
    };
    let mut at = 0;
    for &n in &input.reads {
        p.fire_read(Message::Bytes(recv.read(&input.stream[at..at + n])));
        at += n;
    }
    count.load(Ordering::Relaxed)
}

/// An `AsyncRead` that yields the stream in the given read sizes, always ready.
struct ChunkReader<'a> {
    input: &'a Input,
    read: usize,
    at: usize,
    /// Bytes of the current read not yet handed out (a short `ReadBuf`).
    left_in_read: usize,
}

impl AsyncRead for ChunkReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left_in_read == 0 {
            match self.input.reads.get(self.read) {
                Some(&n) => {
                    self.left_in_read = n;
                    self.read += 1;
                }
                None => return Poll::Ready(Ok(())), // EOF
            }
        }
        let n = self.left_in_read.min(buf.remaining());
        let at = self.at;
        buf.put_slice(&self.input.stream[at..at + n]);
        self.at += n;
        self.left_in_read -= n;
        Poll::Ready(Ok(()))
    }
}

/// `LengthDelimitedCodec`, watching its buffer: whenever the bytes still
/// in it are found at another address than where consuming from the front
/// would leave them, `BytesMut::reserve` moved them (a memmove to the front
/// or a copy into a new allocation). That happens between calls (FramedRead
/// makes room before a read) and inside one (the codec reserves room for
/// the rest of a frame whose header it has read).
struct Watch {
    inner: LengthDelimitedCodec,
    last: Option<(usize, usize)>,
    moved: u64,
}

impl Decoder for Watch {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, io::Error> {
        if let Some((ptr, len)) = self.last {
            if len > 0 && src.as_ptr() as usize != ptr {
                self.moved += len as u64;
            }
        }
        let (ptr, len) = (src.as_ptr() as usize, src.len());
        let r = self.inner.decode(src);
        let frame = r
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .map_or(0, BytesMut::len);
        let consumed = len - src.len();
        if src.as_ptr() as usize != ptr + consumed {
            // moved while the frame was still in the buffer
            self.moved += (src.len() + frame) as u64;
        }
        self.last = Some((src.as_ptr() as usize, src.len()));
        r
    }
}

/// One pass through `FramedRead`; returns (frames, bytes its buffer moved).
fn framed_pass(input: &Input) -> (u64, u64) {
    let reader = ChunkReader {
        input,
        read: 0,
        at: 0,
        left_in_read: 0,
    };
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME)
        .new_codec();
    let watch = Watch {
        inner: codec,
        last: None,
        moved: 0,
    };
    let mut framed = FramedRead::new(reader, watch);
    let mut frames = 0;
    futures::executor::block_on(async {
        while let Some(f) = framed.next().await {
            black_box(f.expect("well-formed stream"));
            frames += 1;
        }
    });
    (frames, framed.decoder().moved)
}

fn bench(c: &mut Criterion) {
    let inputs = [
        input("small", (8, 512), (1, 4096), 0x5eed_0001),
        input("large", (1024, 64 * 1024), (1, 64 * 1024), 0x5eed_0002),
    ];
    println!("decode: user-space bytes copied per pass over the stream");
    println!("| stream | bytes | reads | frames | weft composite | weft merge | FramedRead (buffer moves) | weft DecoderAdapter(LengthDelimitedCodec) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for i in &inputs {
        let (frames_c, copied_c) = weft_buf::measure_copies(|| weft_pass(i, false));
        let (frames_m, copied_m) = weft_buf::measure_copies(|| weft_pass(i, true));
        let (frames_f, moved_f) = framed_pass(i);
        let (frames_a, copied_a) = weft_buf::measure_copies(|| adapter_pass(i));
        assert_eq!(frames_a, i.frames);
        assert_eq!(frames_c, i.frames);
        assert_eq!(frames_m, i.frames);
        assert_eq!(frames_f, i.frames);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            i.name,
            i.stream.len(),
            i.reads.len(),
            i.frames,
            copied_c,
            copied_m,
            moved_f,
            copied_a
        );
    }

    let mut g = c.benchmark_group("decode");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for i in &inputs {
        g.throughput(Throughput::Bytes(i.stream.len() as u64));
        g.bench_with_input(BenchmarkId::new("weft_composite", i.name), i, |b, i| {
            b.iter(|| weft_pass(i, false))
        });
        g.bench_with_input(BenchmarkId::new("weft_merge", i.name), i, |b, i| {
            b.iter(|| weft_pass(i, true))
        });
        g.bench_with_input(BenchmarkId::new("framed_read", i.name), i, |b, i| {
            b.iter(|| framed_pass(i))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
