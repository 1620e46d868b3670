//! The read path's memory, counted: receive chunks reused instead of
//! allocated, views never overwritten, idle readers holding nothing.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use bytes::Bytes;
use weft_transport::recv::AdaptiveRecvBuf;
use weft_transport::Stats;

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Reads until `WouldBlock`, returning the views.
fn drain(rb: &mut AdaptiveRecvBuf, s: &UnixStream, stats: &Stats) -> Vec<Bytes> {
    let mut got = Vec::new();
    for _ in 0..10_000 {
        match rb.read_from(s.as_fd(), stats) {
            Ok(b) => {
                assert!(!b.is_empty(), "unexpected end of stream");
                got.push(b);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return got,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no WouldBlock after 10,000 reads")
}

fn minor_faults() -> i64 {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid rusage for the kernel to fill.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
    ru.ru_minflt
}

#[test]
fn receive_chunks_are_reused_once_the_views_drop() {
    // 32 x 1 KiB echo rounds: every round's views drop before the next.
    let (mut a, b) = pair();
    let stats = Stats::new();
    let mut rb = AdaptiveRecvBuf::new();
    let frame = vec![0x5au8; 1024];
    let mut faults = 0;
    for round in 0..200u32 {
        for i in 0..32u8 {
            let mut f = frame.clone();
            f[0] = i;
            f[1..5].copy_from_slice(&round.to_be_bytes());
            a.write_all(&f).unwrap();
        }
        let before = minor_faults();
        let views = drain(&mut rb, &b, &stats);
        if round >= 10 {
            faults += minor_faults() - before;
        }
        let data: Vec<u8> = views.iter().flat_map(|v| v.iter().copied()).collect();
        assert_eq!(data.len(), 32 * 1024);
        for (i, f) in data.chunks(1024).enumerate() {
            assert_eq!(f[0], i as u8);
            assert_eq!(f[1..5], round.to_be_bytes());
        }
    }
    let s = stats.snapshot();
    assert_eq!(s.bytes_read, 200 * 32 * 1024);
    // One chunk per step while the read size grows to 64 KiB, then the
    // same memory every round: never one per read (that was 200 here).
    assert!(s.recv_chunks <= 6, "{s:?}");
    assert!(s.read_calls >= 400);
    // The reused pages are faulted in already.
    assert!(faults < 32, "{faults} minor faults in 190 rounds of reads");
}

#[test]
fn views_kept_alive_are_never_overwritten() {
    let (mut a, b) = pair();
    let stats = Stats::new();
    let mut rb = AdaptiveRecvBuf::new();
    let mut kept = Vec::new();
    for round in 0..50u8 {
        a.write_all(&vec![round; 3000]).unwrap();
        kept.extend(drain(&mut rb, &b, &stats).into_iter().map(|v| (round, v)));
    }
    for (round, v) in &kept {
        assert!(v.iter().all(|x| x == round), "round {round} overwritten");
    }
    // Nothing could be reclaimed, so chunks were allocated as needed.
    assert!(stats.snapshot().recv_chunks >= 50 * 3000 / (64 * 1024));
}

#[test]
fn idle_readers_hold_no_receive_memory_and_share_one_chunk() {
    let stats = Stats::new();
    let pairs: Vec<_> = (0..200).map(|_| pair()).collect();
    let mut bufs: Vec<AdaptiveRecvBuf> = (0..200).map(|_| AdaptiveRecvBuf::new()).collect();
    for ((a, b), rb) in pairs.iter().zip(&mut bufs) {
        (&*a).write_all(b"PING\r\n").unwrap();
        let views = drain(rb, b, &stats);
        assert_eq!(views.concat(), b"PING\r\n");
        // Drained: the connection waits holding nothing.
        assert_eq!(rb.held_capacity(), 0);
    }
    let held: usize = bufs.iter().map(AdaptiveRecvBuf::held_capacity).sum();
    assert_eq!(held, 0);
    // Each reader took the chunk the one before parked.
    assert_eq!(stats.snapshot().recv_chunks, 1);
}

#[test]
fn a_view_kept_by_a_handler_pins_its_chunk_and_is_never_overwritten() {
    let (mut a, b) = pair();
    let stats = Stats::new();
    let mut rb = AdaptiveRecvBuf::new();
    a.write_all(b"stored value").unwrap();
    let stored = drain(&mut rb, &b, &stats);
    for round in 0..100u8 {
        a.write_all(&vec![round; 3000]).unwrap();
        let next = drain(&mut rb, &b, &stats);
        assert!(next.iter().all(|v| v.iter().all(|&x| x == round)));
    }
    assert_eq!(stored.concat(), b"stored value");
    // Later reads use the pinned chunk's tail, then a chunk that is
    // reclaimed each round.
    assert!(stats.snapshot().recv_chunks <= 3, "{:?}", stats.snapshot());
}
