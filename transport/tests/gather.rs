//! The gather policy, counted: how many writev calls and iovecs a flush of
//! many short pieces takes, and what is copied.

mod common;

use std::os::fd::AsFd;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use tokio::time::timeout;
use weft_buf::CompositeBuf;
use weft_transport::outbound::STAGING_CAPACITY;
use weft_transport::{OutboundBuffer, Stats};

fn buffer() -> (OutboundBuffer, Arc<Stats>) {
    let stats = Arc::new(Stats::new());
    (OutboundBuffer::new(stats.clone()), stats)
}

/// `frames` frames of `pieces` separately allocated pieces of `size` bytes.
fn frames(frames: usize, pieces: usize, size: usize) -> Vec<CompositeBuf> {
    (0..frames)
        .map(|f| {
            (0..pieces)
                .map(|p| Bytes::from(vec![((f * pieces + p) % 251) as u8; size]))
                .collect()
        })
        .collect()
}

#[test]
fn tiny_pieces_past_the_staging_capacity_stay_coalesced() {
    // The flush bench's 32 x 64 B shape, 64 frames: 128 KiB in 2048 pieces.
    // A file sink takes every writev whole, so the counts are exact.
    const TOTAL: usize = 64 * 32 * 64;
    let sink = tempfile::tempfile().unwrap();
    let (mut out, stats) = buffer();
    for f in frames(64, 32, 64) {
        out.push(f, None);
    }
    out.flush();
    let ((), copied) = weft_buf::measure_copies(|| {
        for _ in 0..1000 {
            if !out.has_flushed() {
                break;
            }
            out.write_step(sink.as_fd()).unwrap();
        }
    });
    assert!(!out.has_flushed());
    let s = stats.snapshot();
    assert_eq!(s.writev_bytes, TOTAL as u64);
    assert_eq!((s.copied_bytes, copied), (TOTAL as u64, TOTAL as u64));
    // Every writev carries one full staging buffer as one iovec: no run of
    // tiny iovecs once the staging buffer is full.
    assert_eq!(s.writev_calls, TOTAL.div_ceil(STAGING_CAPACITY) as u64);
    assert_eq!(s.writev_iovecs, s.writev_calls, "{s:?}");
    let mut expect = Vec::new();
    for f in frames(64, 32, 64) {
        for seg in f.segments() {
            expect.extend_from_slice(seg);
        }
    }
    assert_eq!(
        std::fs::read(format!("/proc/self/fd/{}", fd_num(&sink))).unwrap(),
        expect
    );
}

fn fd_num(f: &std::fs::File) -> i32 {
    std::os::fd::AsRawFd::as_raw_fd(f)
}

#[test]
fn bodies_of_one_kib_between_tiny_pieces_are_never_copied() {
    // 2000 frames of [4 B header][1 KiB body][2 B trailer]: the headers and
    // trailers of neighbouring frames coalesce, the bodies go as iovecs.
    let sink = tempfile::tempfile().unwrap();
    let (mut out, stats) = buffer();
    let body = Bytes::from(vec![9u8; 1024]);
    for i in 0..2000u32 {
        let mut f = CompositeBuf::new();
        f.push(Bytes::copy_from_slice(&i.to_be_bytes()));
        f.push(body.clone());
        f.push(Bytes::from_static(b"\r\n"));
        out.push(f, None);
    }
    out.flush();
    for _ in 0..1000 {
        if !out.has_flushed() {
            break;
        }
        out.write_step(sink.as_fd()).unwrap();
    }
    assert!(!out.has_flushed());
    let s = stats.snapshot();
    assert_eq!(s.writev_bytes, 2000 * 1030);
    // Only the 6 bytes of header and trailer per frame are ever copied.
    assert_eq!(s.copied_bytes, 2000 * 6 - 6);
    // A trailer and the next header share an iovec: two iovecs per frame.
    assert!(s.writev_iovecs <= 2000 * 2 + s.writev_calls, "{s:?}");
}

#[tokio::test]
async fn tiny_pieces_over_tcp_take_few_writevs_of_few_iovecs() {
    timeout(TEST_TIMEOUT, async {
        const TOTAL: u64 = 64 * 32 * 64;
        let (a, b) = tcp_pair().await;
        let reader = tokio::spawn(hash_to_end(b));
        let (mut out, stats) = buffer();
        let mut expect = Hasher::default();
        for f in frames(64, 32, 64) {
            for seg in f.segments() {
                expect.update(seg);
            }
            out.push(f, None);
        }
        out.flush_to(&a).await.unwrap();
        drop(a);
        assert_eq!(reader.await.unwrap().unwrap(), expect.finish());
        let s = stats.snapshot();
        println!("32 x 64 B, 64 frames over TCP: {s:?}");
        assert_eq!(s.writev_bytes, TOTAL);
        // Partial writes may split a staged run, so allow one extra iovec
        // per call; never a run of tiny ones.
        assert!(s.writev_iovecs <= 2 * s.writev_calls, "{s:?}");
        assert!(
            s.writev_calls <= 2 * TOTAL / STAGING_CAPACITY as u64 + 8,
            "{s:?}"
        );
    })
    .await
    .unwrap();
}
