//! Copy accounting: the zero-copy operations report 0 bytes, the copying
//! ones report exactly what they copied.

use bytes::{Buf, Bytes};
use weft_buf::mapped::{LeasePolicy, MappedFile, Protection};
use weft_buf::{measure_copies, wrap, wrap_boxed, wrap_static, wrap_string, wrap_vec};
use weft_buf::{record_copy, total_copied, CompositeBuf};

/// Three segments of 10, 20 and 30 bytes, each its own allocation.
fn three() -> CompositeBuf {
    [10usize, 20, 30]
        .iter()
        .enumerate()
        .map(|(i, &n)| Bytes::from(vec![i as u8; n]))
        .collect()
}

#[test]
fn slice_copies_nothing_and_shares_memory() {
    let buf = three();
    let (s, copied) = measure_copies(|| buf.slice(5..45));
    assert_eq!(copied, 0);
    assert_eq!(s.len(), 40);
    assert_eq!(s.segments()[0].as_ptr(), buf.segments()[0][5..].as_ptr());
}

#[test]
fn split_to_and_split_off_copy_nothing() {
    let mut buf = three();
    let ((head, tail), copied) = measure_copies(|| {
        let head = buf.split_to(15);
        let tail = buf.split_off(20);
        (head, tail)
    });
    assert_eq!(copied, 0);
    assert_eq!((head.len(), buf.len(), tail.len()), (15, 20, 25));
}

#[test]
fn push_front_of_a_header_copies_nothing() {
    let body = Bytes::from(vec![7u8; 1000]);
    let mut buf = CompositeBuf::from(body.clone());
    let ((), copied) = measure_copies(|| buf.push_front(Bytes::from_static(b"HDR")));
    assert_eq!(copied, 0);
    assert_eq!(buf.segments()[1].as_ptr(), body.as_ptr());
}

#[test]
fn copy_to_bytes_within_one_segment_copies_nothing() {
    let mut buf = three();
    let first = buf.segments()[0].as_ptr();
    let (b, copied) = measure_copies(|| buf.copy_to_bytes(8));
    assert_eq!(copied, 0);
    assert_eq!(b.as_ptr(), first);
}

#[test]
fn copy_to_bytes_across_segments_copies_exactly_its_length() {
    let mut buf = three();
    buf.advance(5);
    let (b, copied) = measure_copies(|| buf.copy_to_bytes(30));
    assert_eq!(copied, 30);
    assert_eq!(b.len(), 30);
    assert_eq!(buf.len(), 25);
}

#[test]
fn wrapping_owned_memory_keeps_the_same_pointer() {
    let v = vec![1u8; 64];
    let pv = v.as_ptr();
    let bx: Box<[u8]> = vec![2u8; 64].into_boxed_slice();
    let pb = bx.as_ptr();
    let s = String::from("wrapped string");
    let ps = s.as_ptr();
    static STATIC: &[u8] = b"static bytes";
    let arr = [3u8; 32];

    let (ptrs, copied) = measure_copies(|| {
        [
            wrap_vec(v).as_ptr(),
            wrap_boxed(bx).as_ptr(),
            wrap_string(s).as_ptr(),
            wrap_static(STATIC).as_ptr(),
        ]
    });
    assert_eq!(copied, 0);
    assert_eq!(ptrs, [pv, pb, ps, STATIC.as_ptr()]);

    struct Page(Box<[u8; 32]>);
    impl AsRef<[u8]> for Page {
        fn as_ref(&self) -> &[u8] {
            &self.0[..]
        }
    }
    let owner = Page(Box::new(arr));
    let po = owner.0.as_ptr();
    let (b, copied) = measure_copies(|| wrap(owner));
    assert_eq!((b.as_ptr(), copied), (po, 0));
}

#[test]
fn mapping_a_file_copies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, vec![9u8; 100_000]).unwrap();
    let (f, copied) = measure_copies(|| MappedFile::open(&path, LeasePolicy::Refuse).unwrap());
    assert_eq!(f.protection(), Protection::Leased);
    assert_eq!(copied, 0);
    let (view, copied) = measure_copies(|| f.bytes().slice(10..99_990));
    assert_eq!((view.len(), copied), (99_980, 0));
}

#[test]
fn to_bytes_copies_every_byte_of_several_segments_and_nothing_of_one() {
    let buf = three();
    let (flat, copied) = measure_copies(|| buf.to_bytes());
    assert_eq!((flat.len(), copied), (60, 60));

    let part = buf.slice(12..40); // two segments: 18 + 10 bytes
    let (flat, copied) = measure_copies(|| part.to_bytes());
    assert_eq!((flat.len(), copied), (28, 28));

    let one = buf.slice(11..29); // inside the second segment
    let (flat, copied) = measure_copies(|| one.to_bytes());
    assert_eq!((flat.len(), copied), (18, 0));
    assert_eq!(flat.as_ptr(), buf.segments()[1][1..].as_ptr());
}

#[test]
fn modify_copies_only_the_shared_segments_it_touches() {
    let mut buf = three();
    let keep = buf.segments()[1].clone(); // the 20-byte segment is shared
                                          // Touches the end of segment 0 (unique) and the start of segment 1 (shared).
    let ((), copied) = measure_copies(|| buf.modify(8..12, |p| p.fill(0xee)));
    assert_eq!(copied, 20);
    assert_eq!(keep, vec![1u8; 20][..], "the other view is untouched");
    assert_eq!(buf.get_u32_at(8), 0xeeee_eeee);

    // Now every segment is unique: no copy at all.
    drop(keep);
    let ((), copied) = measure_copies(|| buf.modify(.., |p| p.fill(1)));
    assert_eq!(copied, 0);
}

#[test]
fn modify_of_an_empty_range_copies_nothing() {
    let shared = Bytes::from(vec![5u8; 50]);
    let mut buf = CompositeBuf::from(shared.clone());
    let ((), copied) = measure_copies(|| buf.modify(10..10, |_| {}));
    assert_eq!(copied, 0);
    assert_eq!(buf.segments()[0].as_ptr(), shared.as_ptr());
}

#[test]
fn consolidate_is_one_counted_copy_and_then_free() {
    let mut buf = three();
    let (_, copied) = measure_copies(|| buf.consolidate());
    assert_eq!(copied, 60);
    let (_, copied) = measure_copies(|| buf.consolidate());
    assert_eq!(copied, 0);
}

#[test]
fn process_total_includes_copies_from_other_threads() {
    let before = total_copied();
    std::thread::spawn(|| record_copy(1234)).join().unwrap();
    assert!(total_copied() >= before + 1234);
    assert_eq!(measure_copies(|| ()).1, 0);
}
