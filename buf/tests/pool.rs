//! The pool: chunks are reused in place once their last view drops, the
//! per-thread cache is bounded, staging is per thread, and every step is
//! counted. Each test runs on its own thread, so its cache starts empty
//! (the counters are process-wide: tests compare differences that only
//! their own thread can cause, or bounds).

use bytes::{BufMut, Bytes, BytesMut};
use weft_buf::{measure_copies, pool, CompositeBuf};

/// Reads `data` into the chunk as a receive path would: room, write,
/// split off a frozen view.
fn read_into(chunk: &mut BytesMut, cap: &mut usize, data: &[u8]) -> (Bytes, bool) {
    let fresh = pool::make_room(chunk, cap, data.len());
    chunk.put_slice(data);
    (chunk.split().freeze(), fresh)
}

#[test]
fn reads_share_one_chunk_and_copy_nothing() {
    let (mut chunk, mut cap) = (BytesMut::new(), 0);
    let ((views, fresh), copied) = measure_copies(|| {
        let mut views = Vec::new();
        let mut fresh = 0;
        for i in 0..10u8 {
            let (v, f) = read_into(&mut chunk, &mut cap, &[i; 100]);
            views.push(v);
            fresh += usize::from(f);
        }
        (views, fresh)
    });
    assert_eq!((fresh, copied), (1, 0));
    let frame: CompositeBuf = views.iter().cloned().collect();
    assert_eq!(frame.len(), 1000);
    // Consecutive reads are adjacent in one allocation.
    assert_eq!(views[0].as_ptr().wrapping_add(100), views[1].as_ptr());
}

#[test]
fn memory_is_reused_in_place_once_every_view_drops() {
    std::thread::spawn(|| {
        let (mut chunk, mut cap) = (BytesMut::new(), 0);
        let (first, _) = read_into(&mut chunk, &mut cap, &[1; 64]);
        let ptr = first.as_ptr();
        // Fill the chunk so the next read needs room.
        let fill = vec![2; cap - 64];
        let (rest, _) = read_into(&mut chunk, &mut cap, &fill);
        let slice = rest.slice(10..20);
        drop((first, rest));
        // A view still lives: no reclaim, a second chunk.
        let (other, fresh) = read_into(&mut chunk, &mut cap, &[3; 64]);
        assert!(fresh);
        assert_ne!(other.as_ptr(), ptr);
        // The first chunk was parked; once its last view drops, the next
        // reader that needs room on this thread gets it back in place.
        drop(slice);
        let (mut reader2, mut cap2) = (BytesMut::new(), 0);
        let before = pool::stats();
        let (again, fresh) = read_into(&mut reader2, &mut cap2, &[4; 64]);
        assert!(!fresh);
        assert_eq!(again.as_ptr(), ptr);
        assert!(pool::stats().hits > before.hits);
        drop(other);
    })
    .join()
    .unwrap();
}

#[test]
fn the_per_thread_cache_is_bounded() {
    std::thread::spawn(|| {
        let before = pool::stats();
        for _ in 0..pool::CACHED_CHUNKS + 3 {
            pool::park(BytesMut::with_capacity(32), 32);
        }
        assert_eq!(pool::parked_here(), pool::CACHED_CHUNKS);
        let d = pool::stats() - before;
        assert!(d.discarded >= 3);
        assert!(d.parked >= pool::CACHED_CHUNKS as u64);
        // A zero-capacity chunk is not worth parking.
        pool::park(BytesMut::new(), 0);
        assert_eq!(pool::parked_here(), pool::CACHED_CHUNKS);
    })
    .join()
    .unwrap();
}

#[test]
fn a_large_request_gets_a_chunk_of_its_own_size() {
    let (mut chunk, mut cap) = (BytesMut::new(), 0);
    let big = pool::CHUNK_SIZE * 3;
    assert!(pool::make_room(&mut chunk, &mut cap, big));
    assert!(chunk.capacity() >= big);
    assert_eq!(cap, chunk.capacity());
}

#[test]
fn staging_is_per_thread_and_a_second_borrow_is_refused_not_a_panic() {
    let ptrs: Vec<usize> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                pool::STAGING.with(|s| {
                    let mut a = s.try_borrow_mut().expect("free");
                    a.reserve(1024);
                    assert!(s.try_borrow_mut().is_err());
                    a.as_ptr() as usize
                })
            })
            .join()
            .unwrap()
        })
        .collect();
    assert_eq!(ptrs.len(), 2);
    let before = pool::stats();
    pool::STAGING.with(|s| {
        let _a = s.try_borrow_mut();
        let _b = s.try_borrow_mut();
    });
    let d = pool::stats() - before;
    assert!(d.staging_uses >= 1 && d.staging_busy >= 1);
}
