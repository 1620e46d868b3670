//! The outbound buffer against real sockets and pipes, without a pipeline.

mod common;

use std::io::{ErrorKind, Read, Seek};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures::channel::oneshot;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;
use weft_buf::{CompositeBuf, FileRegion};
use weft_pipeline::Wire;
use weft_transport::{sys, FilePath, OutboundBuffer, Stats};

fn buffer() -> (OutboundBuffer, Arc<Stats>) {
    let stats = Arc::new(Stats::new());
    (OutboundBuffer::new(stats.clone()), stats)
}

#[tokio::test]
async fn file_region_of_64_mib_goes_out_by_sendfile_without_a_copy() {
    timeout(TEST_TIMEOUT, async {
        const LEN: usize = 64 << 20;
        let (file, want) = pattern_file(1, LEN);
        let (a, b) = tcp_pair().await;
        let reader = tokio::spawn(hash_to_end(b));
        let (mut out, stats) = buffer();
        let (tx, rx) = oneshot::channel();
        out.push(FileRegion::from_file(file).unwrap(), Some(tx));
        out.flush_to(&a).await.unwrap();
        rx.await.unwrap().unwrap();
        drop(a);
        assert_eq!(reader.await.unwrap().unwrap(), want);
        let s = stats.snapshot();
        println!("64 MiB FileRegion stats: {s:?}");
        assert_eq!(s.sendfile_bytes, LEN as u64);
        assert_eq!(s.copied_bytes, 0);
        assert_eq!(s.writev_calls + s.write_calls + s.splice_calls, 0);
        assert!(s.sendfile_calls >= 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn multi_segment_frames_go_out_through_few_writevs() {
    timeout(TEST_TIMEOUT, async {
        let (a, b) = tcp_pair().await;
        let reader = tokio::spawn(hash_to_end(b));
        let (mut out, stats) = buffer();
        let body = Bytes::from(pattern(2, 4096));
        let mut expect = common::Hasher::default();
        let mut segments = 0;
        for i in 0..200u32 {
            let mut frame = CompositeBuf::new();
            let hdr = Bytes::copy_from_slice(&(i.to_be_bytes()));
            let body = body.slice(..(1024 + i as usize * 10));
            let trailer = Bytes::from_static(b"\r\n");
            for seg in [&hdr, &body, &trailer] {
                expect.update(seg);
            }
            frame.push(hdr);
            frame.push(body);
            frame.push(trailer);
            segments += 3;
            out.push(frame, None);
        }
        out.flush_to(&a).await.unwrap();
        drop(a);
        assert_eq!(reader.await.unwrap().unwrap(), expect.finish());
        let s = stats.snapshot();
        assert!(s.writev_calls > 0);
        assert!(
            s.write_syscalls() * 10 < segments,
            "{} write calls for {segments} segments",
            s.write_syscalls()
        );
        assert_eq!(s.writev_bytes, expect.finish().1);
        // Only the 4-byte headers are staged, and only when the trailer
        // before them is short too: never a body.
        assert!(s.copied_bytes <= 200 * 6, "copied {}", s.copied_bytes);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn small_pieces_are_coalesced_and_counted_as_copies() {
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let (mut out, stats) = buffer();
    for i in 0..100u8 {
        out.push(Bytes::from(vec![i; 10]), None);
    }
    out.push(Bytes::from(vec![7u8; 2048]), None);
    out.flush();
    let ((), copied) = weft_buf::measure_copies(|| {
        while out.has_flushed() {
            out.write_step(a.as_fd()).unwrap();
        }
    });
    let s = stats.snapshot();
    assert_eq!(s.writev_calls, 1);
    assert_eq!(copied, 1000);
    assert_eq!(s.copied_bytes, 1000);
    let mut got = vec![0u8; 3048];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got[..10], &[0u8; 10]);
    assert_eq!(&got[990..1000], &[99u8; 10]);
    assert_eq!(&got[1000..], &[7u8; 2048][..]);
}

#[tokio::test]
async fn partial_writes_resume_where_they_stopped_with_a_slow_reader() {
    timeout(TEST_TIMEOUT, async {
        let (a, mut b) = tcp_pair().await;
        sys::set_send_buffer_size(a.as_fd(), 4096).unwrap();
        let (mut out, stats) = buffer();
        let data = Bytes::from(pattern(3, 512 * 1024));
        let mut promises = Vec::new();
        for chunk in data.chunks(3000) {
            let (tx, rx) = oneshot::channel();
            out.push(data.slice_ref(chunk), Some(tx));
            promises.push(rx);
        }
        let reader = tokio::spawn(async move {
            let mut h = common::Hasher::default();
            let mut buf = vec![0u8; 4096];
            for i in 0u32.. {
                if i % 16 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let n = b.read(&mut buf).await.unwrap();
                if n == 0 {
                    return h.finish();
                }
                h.update(&buf[..n]);
            }
            unreachable!()
        });
        out.flush_to(&a).await.unwrap();
        for p in promises {
            p.await.unwrap().unwrap();
        }
        drop(a);
        assert_eq!(reader.await.unwrap(), hash(&data));
        let s = stats.snapshot();
        assert!(s.partial_writes > 0, "{s:?}");
        assert!(s.would_block > 0, "{s:?}");
        assert_eq!(s.writev_bytes, data.len() as u64);
        assert!(out.gather_cap() >= weft_transport::outbound::MIN_GATHER_CAP);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn watermark_events_fire_in_order_and_count_file_regions() {
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let (mut out, _stats) = buffer();
    let mut events = Vec::new();
    out.push(Bytes::from(vec![1u8; 40 * 1024]), None);
    events.extend(out.take_writability_change());
    let (file, _) = pattern_file(4, 40 * 1024);
    out.push(FileRegion::from_file(file).unwrap(), None);
    events.extend(out.take_writability_change());
    assert_eq!(
        events,
        [false],
        "a file region counts towards the high watermark"
    );
    assert!(!out.is_writable());
    out.flush();
    let mut sink = vec![0u8; 1 << 20];
    let mut received = 0;
    let mut seen_low = None;
    while out.has_flushed() {
        match out.write_step(a.as_fd()) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                received += b.read(&mut sink).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
        if let Some(w) = out.take_writability_change() {
            events.push(w);
            seen_low = Some(out.pending_bytes());
        }
    }
    assert_eq!(events, [false, true]);
    assert!(seen_low.unwrap() < weft_transport::DEFAULT_LOW_WATERMARK);
    assert!(received <= 80 * 1024);
}

#[tokio::test]
async fn peer_reset_mid_transfer_is_an_error_not_a_hang() {
    timeout(TEST_TIMEOUT, async {
        let (a, mut b) = tcp_pair().await;
        let (file, _) = pattern_file(5, 32 << 20);
        let (mut out, _stats) = buffer();
        let (tx, rx) = oneshot::channel();
        out.push(FileRegion::from_file(file).unwrap(), Some(tx));
        let resetter = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0;
            while got < 1 << 20 {
                got += b.read(&mut buf).await.unwrap();
            }
            sys::set_linger(b.as_fd(), Some(Duration::ZERO)).unwrap();
            drop(b);
        });
        let err = out.flush_to(&a).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
            ),
            "{err}"
        );
        assert!(rx.await.unwrap().is_err());
        resetter.await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn file_truncated_during_sendfile_fails_the_write_with_a_clear_error() {
    timeout(TEST_TIMEOUT, async {
        let (a, mut b) = tcp_pair().await;
        let (file, _) = pattern_file(6, 16 << 20);
        let file = Arc::new(file);
        let region = FileRegion::new(file.clone(), 0, 16 << 20).unwrap();
        let (mut out, stats) = buffer();
        let (tx, rx) = oneshot::channel();
        out.push(region, Some(tx));
        let flusher = tokio::spawn(async move {
            let r = out.flush_to(&a).await;
            (r, out)
        });
        // Let the first sendfile fill the socket buffers, then truncate.
        while stats.snapshot().sendfile_bytes == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        file.set_len(1 << 20).unwrap();
        let drain = tokio::spawn(async move {
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0u64;
            loop {
                match b.read(&mut buf).await {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got += n as u64,
                }
            }
        });
        let (r, out) = flusher.await.unwrap();
        let err = r.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("truncated"), "{err}");
        assert!(rx.await.unwrap().is_err());
        assert!(out.is_empty());
        drop(out);
        // The flusher owned the socket: it is closed now, so the reader ends.
        let got = drain.await.unwrap();
        assert!(got <= 16 << 20);
    })
    .await
    .unwrap();
}

async fn send_by(path: FilePath, len: usize) -> (weft_transport::StatsSnapshot, u64) {
    let (mut file, _) = pattern_file(7, len);
    let mut expect = common::Hasher::default();
    expect.update(b"HEADER");
    let mut data = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut data).unwrap();
    expect.update(&data);
    expect.update(b"TRAILER");
    let (a, b) = tcp_pair().await;
    let reader = tokio::spawn(hash_to_end(b));
    let (mut out, stats) = buffer();
    out.push(Bytes::from_static(b"HEADER"), None);
    out.push_with_path(Wire::File(FileRegion::from_file(file).unwrap()), path, None);
    out.push(Bytes::from_static(b"TRAILER"), None);
    let before = weft_buf::thread_copied();
    out.flush_to(&a).await.unwrap();
    let copied = weft_buf::thread_copied() - before;
    drop(a);
    assert_eq!(reader.await.unwrap().unwrap(), expect.finish());
    (stats.snapshot(), copied)
}

#[tokio::test(flavor = "current_thread")]
async fn every_file_path_delivers_the_region_and_counts_its_copies() {
    timeout(TEST_TIMEOUT, async {
        const LEN: usize = 3 << 20;
        let (s, copied) = send_by(FilePath::Sendfile, LEN).await;
        assert_eq!((s.sendfile_bytes, copied), (LEN as u64, 0));
        let (s, copied) = send_by(FilePath::Splice, LEN).await;
        assert_eq!(
            (s.splice_bytes, copied, s.sendfile_calls),
            (LEN as u64, 0, 0)
        );
        let (s, copied) = send_by(FilePath::ReadWrite, LEN).await;
        assert_eq!((s.copy_bytes, copied), (LEN as u64, LEN as u64));
        assert!(s.read_calls >= 48);
        let (s, copied) = send_by(FilePath::MmapWrite, LEN).await;
        assert_eq!((s.copy_bytes, copied), (LEN as u64, LEN as u64));
        assert!(s.mmap_calls >= 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_small_header_and_a_file_leave_in_one_packet() {
    timeout(TEST_TIMEOUT, async {
        let (a, b) = tcp_pair().await;
        let (file, _) = pattern_file(8, 1000);
        let reader = tokio::spawn(hash_to_end(b));
        let (mut out, stats) = buffer();
        let before = sys::tcp_segments_out(a.as_fd()).unwrap();
        out.push(Bytes::from_static(b"0123456789"), None);
        out.push(FileRegion::from_file(file).unwrap(), None);
        out.flush_to(&a).await.unwrap();
        let after = sys::tcp_segments_out(a.as_fd()).unwrap();
        drop(a);
        assert_eq!(reader.await.unwrap().unwrap().1, 1010);
        let s = stats.snapshot();
        assert_eq!(
            (s.sendmsg_calls, s.writev_calls, s.sendfile_calls),
            (1, 0, 1)
        );
        assert_eq!(after - before, 1, "header and file in one segment");
    })
    .await
    .unwrap();
}

#[test]
fn refused_sendfile_falls_back_to_a_counted_copy() {
    // sendfile refuses an O_APPEND target with EINVAL.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sink");
    let sink = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let (file, want) = pattern_file(9, 200_000);
    let (mut out, stats) = buffer();
    out.push(FileRegion::from_file(file).unwrap(), None);
    out.flush();
    let ((), copied) = weft_buf::measure_copies(|| {
        for _ in 0..100 {
            if !out.has_flushed() {
                break;
            }
            out.write_step(sink.as_fd()).unwrap();
        }
    });
    assert!(!out.has_flushed());
    let s = stats.snapshot();
    assert_eq!(s.sendfile_calls, 1);
    assert_eq!(s.sendfile_bytes, 0);
    assert_eq!((s.copy_bytes, copied), (200_000, 200_000));
    assert_eq!(hash(&std::fs::read(&path).unwrap()), want);
}

#[test]
fn writes_to_a_pipe_work_and_empty_writes_complete_at_once() {
    let (r, w) = sys::pipe().unwrap();
    let (mut out, stats) = buffer();
    let (tx0, mut rx0) = oneshot::channel();
    let (tx1, mut rx1) = oneshot::channel();
    out.push(Bytes::new(), Some(tx0));
    out.push(Bytes::from_static(b"pipe"), Some(tx1));
    out.flush();
    assert_eq!(out.write_step(w.as_fd()).unwrap(), 4);
    assert!(rx0.try_recv().unwrap().unwrap().is_ok());
    assert!(rx1.try_recv().unwrap().unwrap().is_ok());
    let mut buf = [0u8; 8];
    assert_eq!(sys::read(r.as_fd(), &mut buf).unwrap(), 4);
    assert_eq!(stats.snapshot().writev_calls, 1);
}
