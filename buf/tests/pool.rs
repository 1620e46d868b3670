//! BufPool: chunks come back when the last view drops, memory is reused,
//! the bound holds.

use bytes::{BufMut, Bytes};
use weft_buf::{measure_copies, BufError, BufPool, CompositeBuf};

#[test]
fn outstanding_returns_to_zero_after_every_view_drops() {
    let pool = BufPool::new(1024, 8);
    let mut views: Vec<Bytes> = Vec::new();
    for i in 0..5u8 {
        let mut c = pool.get().unwrap();
        c.put_bytes(i, 100);
        let b = c.freeze();
        views.push(b.slice(10..20));
        views.push(b.clone());
    }
    assert_eq!(pool.stats().outstanding, 5);
    let frame: CompositeBuf = views.iter().cloned().collect();
    views.clear();
    assert_eq!(
        pool.stats().outstanding,
        5,
        "the composite still holds them"
    );
    drop(frame);
    let s = pool.stats();
    assert_eq!((s.outstanding, s.free, s.misses), (0, 5, 5));
}

#[test]
fn memory_is_reused_the_same_pointer_comes_back() {
    let pool = BufPool::new(4096, 2);
    let mut c = pool.get().unwrap();
    c.put_slice(b"first use");
    let ptr = c.as_ptr();
    let frozen = c.freeze();
    assert_eq!(frozen.as_ptr(), ptr);
    let slice = frozen.slice(6..);
    drop(frozen);
    // Still out: a slice lives.
    let other = pool.get().unwrap();
    assert_ne!(other.as_ptr(), ptr);
    drop(other);
    drop(slice);
    // Most recently returned first: `ptr` came back last.
    let again = pool.get().unwrap();
    assert_eq!(again.as_ptr(), ptr);
    assert!(again.is_empty(), "a reused chunk starts empty");
    let s = pool.stats();
    assert_eq!((s.hits, s.misses), (1, 2));
}

#[test]
fn the_bound_is_respected_and_exhaustion_is_counted() {
    let pool = BufPool::new(64, 3);
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    for _ in 0..4 {
        match pool.get() {
            Err(BufError::PoolExhausted { max_chunks: 3 }) => {}
            other => panic!("expected PoolExhausted, got {other:?}"),
        }
    }
    let s = pool.stats();
    assert_eq!((s.outstanding, s.exhausted, s.misses), (3, 4, 3));
    let frozen: Vec<Bytes> = held.into_iter().map(|c| c.freeze()).collect();
    assert!(pool.get().is_err(), "frozen views still count");
    drop(frozen);
    assert!(pool.get().is_ok());
}

#[test]
fn freezing_and_sharing_a_chunk_copies_nothing() {
    let pool = BufPool::new(256, 1);
    let (frame, copied) = measure_copies(|| {
        let mut c = pool.get().unwrap();
        c.put_u32(5);
        c.put_slice(b"hello");
        let b = c.freeze();
        let mut f = CompositeBuf::from(b.slice(4..));
        f.push_front(b.slice(..4));
        f
    });
    assert_eq!(copied, 0);
    assert_eq!(frame, &b"\x00\x00\x00\x05hello"[..]);
}

#[test]
fn a_full_chunk_reports_no_room() {
    let pool = BufPool::new(4, 1);
    let mut c = pool.get().unwrap();
    c.put_u32(1);
    assert_eq!(c.remaining_mut(), 0);
    assert!(!c.has_remaining_mut());
    c.clear();
    assert_eq!(c.remaining_mut(), 4);
}

#[test]
fn clones_of_the_handle_share_one_pool_across_threads() {
    let pool = BufPool::new(128, 16);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..50u8 {
                    let mut c = pool.get().unwrap();
                    c.put_u8(t);
                    c.put_u8(i);
                    let b = c.freeze();
                    assert_eq!(&b[..], &[t, i]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = pool.stats();
    assert_eq!(s.outstanding, 0);
    assert_eq!(s.hits + s.misses, 200);
    assert!(
        s.misses <= 4,
        "at most one chunk per thread was ever allocated"
    );
}
