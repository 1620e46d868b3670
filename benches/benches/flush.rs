//! Flushing the same frames three ways, over loopback TCP to a thread that
//! discards them:
//!
//! - `outbound_writev`: Weft's `OutboundBuffer`, each frame a
//!   `CompositeBuf` of its pieces, flushed with gathering `writev`;
//! - `flatten_write`: the pieces of the whole batch copied into one buffer,
//!   then `write_all`;
//! - `framed_write`: tokio-util `FramedWrite` with an encoder that copies
//!   each piece into its buffer (what `Framed` users write), fed every frame
//!   of the batch, then flushed.
//!
//! One iteration sends one batch of [`BATCH`] frames.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use futures::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_util::codec::{Encoder, FramedWrite};
use weft_buf::CompositeBuf;
use weft_transport::{OutboundBuffer, Stats};

/// Frames per iteration.
const BATCH: usize = 64;

/// (pieces per frame, bytes per piece).
const SHAPES: [(usize, usize); 2] = [(8, 1024), (32, 64)];

/// A loopback connection whose far end is drained by a thread.
struct Conn {
    stream: TcpStream,
    drain: JoinHandle<u64>,
}

impl Conn {
    fn open(rt: &Runtime) -> Conn {
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
        let stream = rt.block_on(TcpStream::connect(addr)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn { stream, drain }
    }

    /// Closes the connection and waits for the drain thread; returns the
    /// bytes it read.
    fn close(self) -> u64 {
        drop(self.stream);
        self.drain.join().unwrap()
    }
}

/// The frames of one batch: `BATCH` frames of separately allocated pieces.
fn frames(pieces: usize, size: usize) -> Vec<Vec<Bytes>> {
    (0..BATCH)
        .map(|f| {
            (0..pieces)
                .map(|p| Bytes::from(vec![((f + p) % 251) as u8; size]))
                .collect()
        })
        .collect()
}

/// A `FramedWrite` encoder for frames made of pieces: copies every piece
/// into the output buffer.
struct PiecesEncoder;

impl Encoder<&Vec<Bytes>> for PiecesEncoder {
    type Error = std::io::Error;

    fn encode(&mut self, frame: &Vec<Bytes>, dst: &mut BytesMut) -> Result<(), Self::Error> {
        dst.reserve(frame.iter().map(Bytes::len).sum());
        for p in frame {
            dst.put_slice(p);
        }
        Ok(())
    }
}

fn flush(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("flush");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (pieces, size) in SHAPES {
        let batch = frames(pieces, size);
        let batch_bytes = (BATCH * pieces * size) as u64;
        let shape = format!("{pieces}x{size}B");
        group.throughput(Throughput::Bytes(batch_bytes));

        group.bench_function(BenchmarkId::new("outbound_writev", &shape), |b| {
            let conn = Conn::open(&rt);
            let mut out: OutboundBuffer = OutboundBuffer::new(Arc::new(Stats::new()));
            let mut sent = 0u64;
            b.iter(|| {
                sent += batch_bytes;
                for f in &batch {
                    out.push(f.iter().cloned().collect::<CompositeBuf>(), None);
                }
                rt.block_on(out.flush_to(&conn.stream)).unwrap();
            });
            assert_eq!(conn.close(), sent, "the drain got every byte sent");
        });

        group.bench_function(BenchmarkId::new("flatten_write", &shape), |b| {
            let mut conn = Conn::open(&rt);
            let mut flat = Vec::with_capacity(batch_bytes as usize);
            let mut sent = 0u64;
            b.iter(|| {
                sent += batch_bytes;
                flat.clear();
                for f in &batch {
                    for p in f {
                        flat.extend_from_slice(p);
                    }
                }
                rt.block_on(conn.stream.write_all(&flat)).unwrap();
            });
            assert_eq!(conn.close(), sent, "the drain got every byte sent");
        });

        group.bench_function(BenchmarkId::new("framed_write", &shape), |b| {
            let mut conn = Conn::open(&rt);
            let mut framed = FramedWrite::new(&mut conn.stream, PiecesEncoder);
            let mut sent = 0u64;
            b.iter(|| {
                sent += batch_bytes;
                rt.block_on(async {
                    for f in &batch {
                        framed.feed(f).await.unwrap();
                    }
                    framed.flush().await.unwrap();
                });
            });
            drop(framed);
            assert_eq!(conn.close(), sent, "the drain got every byte sent");
        });
    }
    group.finish();
}

mod group {
    //! The criterion group (its macro makes an undocumented public fn).
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::flush);
}

use group::benches;

criterion_main!(benches);
