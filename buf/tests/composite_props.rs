//! Property tests: every `CompositeBuf` operation, on a random cutting of
//! random bytes into segments, gives the same result as on a plain `Vec<u8>`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::IoSlice;

use bytes::{Buf, Bytes};
use proptest::prelude::*;
use weft_buf::{BufError, CompositeBuf};

/// Cuts `data` at `cuts` (clamped, sorted); empty pieces are kept so that
/// `push` has to drop them.
fn cut(data: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for p in points.into_iter().chain([data.len()]) {
        out.push(Bytes::copy_from_slice(&data[prev..p]));
        prev = p;
    }
    out
}

fn build(data: &[u8], cuts: &[usize]) -> CompositeBuf {
    cut(data, cuts).into_iter().collect()
}

fn well_formed(b: &CompositeBuf) -> bool {
    b.segments().iter().all(|s| !s.is_empty())
        && b.segments().iter().map(Bytes::len).sum::<usize>() == b.len()
}

fn flat(b: &CompositeBuf) -> Vec<u8> {
    b.segments()
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect()
}

fn hash_of(b: &CompositeBuf) -> u64 {
    let mut h = DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// Random bytes from a small alphabet (so searches hit) and cut points.
fn data_and_cuts() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        prop::collection::vec(0u8..4, 0..96),
        prop::collection::vec(0usize..100, 0..12),
    )
}

#[derive(Debug, Clone)]
enum ReadOp {
    U8,
    U16,
    U16Le,
    U32,
    U32Le,
    U64,
    U64Le,
    I32,
    Advance(usize),
    CopyToBytes(usize),
}

fn read_op() -> impl Strategy<Value = ReadOp> {
    prop_oneof![
        Just(ReadOp::U8),
        Just(ReadOp::U16),
        Just(ReadOp::U16Le),
        Just(ReadOp::U32),
        Just(ReadOp::U32Le),
        Just(ReadOp::U64),
        Just(ReadOp::U64Le),
        Just(ReadOp::I32),
        (0usize..20).prop_map(ReadOp::Advance),
        (0usize..20).prop_map(ReadOp::CopyToBytes),
    ]
}

/// Applies `op` to any `Buf`; returns the value read (as bytes) or `None`
/// if it would not fit.
fn apply<B: Buf>(b: &mut B, op: &ReadOp) -> Option<Vec<u8>> {
    let need = match op {
        ReadOp::U8 => 1,
        ReadOp::U16 | ReadOp::U16Le => 2,
        ReadOp::U32 | ReadOp::U32Le | ReadOp::I32 => 4,
        ReadOp::U64 | ReadOp::U64Le => 8,
        ReadOp::Advance(n) | ReadOp::CopyToBytes(n) => *n,
    };
    if need > b.remaining() {
        return None;
    }
    Some(match op {
        ReadOp::U8 => vec![b.get_u8()],
        ReadOp::U16 => b.get_u16().to_be_bytes().to_vec(),
        ReadOp::U16Le => b.get_u16_le().to_be_bytes().to_vec(),
        ReadOp::U32 => b.get_u32().to_be_bytes().to_vec(),
        ReadOp::U32Le => b.get_u32_le().to_be_bytes().to_vec(),
        ReadOp::U64 => b.get_u64().to_be_bytes().to_vec(),
        ReadOp::U64Le => b.get_u64_le().to_be_bytes().to_vec(),
        ReadOp::I32 => b.get_i32().to_be_bytes().to_vec(),
        ReadOp::Advance(n) => {
            b.advance(*n);
            Vec::new()
        }
        ReadOp::CopyToBytes(n) => b.copy_to_bytes(*n).to_vec(),
    })
}

#[derive(Debug, Clone)]
enum Step {
    Read(ReadOp),
    Push(Vec<u8>),
    PushFront(Vec<u8>),
    SplitTo(usize),
    SplitOff(usize),
    Truncate(usize),
    Modify(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    let bytes = prop::collection::vec(any::<u8>(), 0..12);
    prop_oneof![
        3 => read_op().prop_map(Step::Read),
        2 => bytes.clone().prop_map(Step::Push),
        2 => bytes.prop_map(Step::PushFront),
        1 => (0usize..40).prop_map(Step::SplitTo),
        1 => (0usize..40).prop_map(Step::SplitOff),
        1 => (0usize..60).prop_map(Step::Truncate),
        1 => (0usize..40, 0usize..40).prop_map(|(a, b)| Step::Modify(a, b)),
    ]
}

fn naive_find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    if needle.is_empty() {
        return Some(from);
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn building_drops_empty_segments_and_keeps_content((data, cuts) in data_and_cuts()) {
        let b = build(&data, &cuts);
        prop_assert!(well_formed(&b));
        prop_assert_eq!(b.len(), data.len());
        prop_assert_eq!(b.is_empty(), data.is_empty());
        prop_assert_eq!(flat(&b), data.clone());
        prop_assert_eq!(b.to_bytes(), Bytes::from(data));
    }

    #[test]
    fn slice_matches_vec((data, cuts) in data_and_cuts(), a in 0usize..100, b in 0usize..100) {
        let buf = build(&data, &cuts);
        let (lo, hi) = (a.min(b), a.max(b));
        if hi <= data.len() {
            let s = buf.slice(lo..hi);
            prop_assert!(well_formed(&s));
            prop_assert_eq!(flat(&s), data[lo..hi].to_vec());
            prop_assert_eq!(buf.slice(lo..), &data[lo..]);
            prop_assert_eq!(buf.slice(..=hi.saturating_sub(1).min(data.len().saturating_sub(1))).len(),
                if data.is_empty() { 0 } else { hi.saturating_sub(1).min(data.len() - 1) + 1 });
        } else {
            match buf.try_slice(lo..hi) {
                Err(BufError::OutOfRange { start, end, len }) => {
                    prop_assert_eq!((start, end, len), (lo as u64, hi as u64, data.len() as u64));
                }
                other => prop_assert!(false, "expected OutOfRange, got {:?}", other),
            }
        }
        prop_assert_eq!(flat(&buf), data, "slice must not change the source");
    }

    #[test]
    fn split_to_split_off_and_truncate_match_vec((data, cuts) in data_and_cuts(), at in 0usize..100) {
        let at = at.min(data.len());
        let mut buf = build(&data, &cuts);
        let head = buf.split_to(at);
        prop_assert!(well_formed(&head) && well_formed(&buf));
        prop_assert_eq!(flat(&head), data[..at].to_vec());
        prop_assert_eq!(flat(&buf), data[at..].to_vec());

        let mut buf = build(&data, &cuts);
        let tail = buf.split_off(at);
        prop_assert!(well_formed(&tail) && well_formed(&buf));
        prop_assert_eq!(flat(&buf), data[..at].to_vec());
        prop_assert_eq!(flat(&tail), data[at..].to_vec());

        let mut buf = build(&data, &cuts);
        buf.truncate(at);
        prop_assert!(well_formed(&buf));
        prop_assert_eq!(flat(&buf), data[..at].to_vec());
        buf.truncate(usize::MAX);
        prop_assert_eq!(buf.len(), at);
        buf.clear();
        prop_assert!(buf.is_empty() && buf.segments().is_empty());
    }

    #[test]
    fn push_push_front_extend_and_append_match_vec(
        (a, ca) in data_and_cuts(),
        (b, cb) in data_and_cuts(),
        (c, cc) in data_and_cuts(),
    ) {
        let mut buf = build(&a, &ca);
        for seg in cut(&b, &cb) {
            buf.push(seg);
        }
        for seg in cut(&c, &cc).into_iter().rev() {
            buf.push_front(seg);
        }
        let mut expect = c.clone();
        expect.extend_from_slice(&a);
        expect.extend_from_slice(&b);
        prop_assert!(well_formed(&buf));
        prop_assert_eq!(flat(&buf), expect.clone());

        let mut other = build(&a, &ca);
        other.extend(cut(&b, &cb));
        let mut joined = build(&c, &cc);
        joined.append(other);
        prop_assert!(well_formed(&joined));
        prop_assert_eq!(joined, buf);
    }

    #[test]
    fn buf_reads_match_a_contiguous_slice(
        (data, cuts) in data_and_cuts(),
        ops in prop::collection::vec(read_op(), 0..24),
    ) {
        let mut buf = build(&data, &cuts);
        let mut plain: &[u8] = &data;
        for op in &ops {
            let got = apply(&mut buf, op);
            let want = apply(&mut plain, op);
            prop_assert_eq!(got, want, "op {:?}", op);
            prop_assert_eq!(buf.remaining(), plain.remaining());
            prop_assert_eq!(buf.chunk().is_empty(), buf.remaining() == 0);
            prop_assert!(well_formed(&buf));
        }
        prop_assert_eq!(flat(&buf), plain.to_vec());
    }

    #[test]
    fn a_cursor_reads_like_a_contiguous_slice_and_leaves_the_buffer_alone(
        (data, cuts) in data_and_cuts(),
        ops in prop::collection::vec(read_op(), 0..24),
    ) {
        let buf = build(&data, &cuts);
        let mut r = buf.cursor();
        let mut plain: &[u8] = &data;
        for op in &ops {
            let got = apply(&mut r, op);
            let want = apply(&mut plain, op);
            prop_assert_eq!(got, want, "op {:?}", op);
            prop_assert_eq!(r.remaining(), plain.remaining());
            prop_assert_eq!(r.position(), data.len() - plain.len());
            prop_assert_eq!(r.chunk().is_empty(), r.remaining() == 0);
        }
        let mut iov = vec![IoSlice::new(&[]); 16];
        let n = r.chunks_vectored(&mut iov);
        let rest: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
        prop_assert_eq!(rest, plain.to_vec());
        prop_assert_eq!(flat(&buf), data);
    }

    #[test]
    fn chunks_vectored_concatenates_to_the_content((data, cuts) in data_and_cuts(), room in 0usize..16) {
        let buf = build(&data, &cuts);
        let mut iov = vec![IoSlice::new(&[]); room];
        let n = buf.chunks_vectored(&mut iov);
        prop_assert_eq!(n, room.min(buf.segments().len()));
        let got: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
        let covered: usize = buf.segments()[..n].iter().map(Bytes::len).sum();
        prop_assert_eq!(got, data[..covered].to_vec());
    }

    #[test]
    fn indexed_reads_match_vec_and_errors_name_the_shortfall(
        (data, cuts) in data_and_cuts(),
        index in 0usize..100,
        nbytes in 1usize..=8,
    ) {
        let buf = build(&data, &cuts);
        let avail = data.len().saturating_sub(index);
        let at = |n: usize| -> Option<&[u8]> { data.get(index..index.checked_add(n)?) };

        fn check<T: PartialEq + std::fmt::Debug>(
            got: Result<T, BufError>,
            want: Option<T>,
            n: usize,
            avail: usize,
        ) -> Result<(), TestCaseError> {
            match (got, want) {
                (Ok(g), Some(w)) => prop_assert_eq!(g, w),
                (Err(BufError::Underflow { requested, available }), None) => {
                    prop_assert_eq!((requested, available), (n, avail));
                }
                (g, w) => prop_assert!(false, "got {:?}, want {:?}", g, w),
            }
            Ok(())
        }
        let arr = |n: usize| at(n).map(|s| s.to_vec());
        check(buf.try_get_u8_at(index), arr(1).map(|v| v[0]), 1, avail)?;
        check(buf.try_get_u16_at(index), arr(2).map(|v| u16::from_be_bytes([v[0], v[1]])), 2, avail)?;
        check(buf.try_get_u16_le_at(index), arr(2).map(|v| u16::from_le_bytes([v[0], v[1]])), 2, avail)?;
        let u32s = arr(4).map(|v| [v[0], v[1], v[2], v[3]]);
        check(buf.try_get_u32_at(index), u32s.map(u32::from_be_bytes), 4, avail)?;
        check(buf.try_get_u32_le_at(index), u32s.map(u32::from_le_bytes), 4, avail)?;
        check(buf.try_get_i32_at(index), u32s.map(i32::from_be_bytes), 4, avail)?;
        let u64s = arr(8).map(|v| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&v);
            a
        });
        check(buf.try_get_u64_at(index), u64s.map(u64::from_be_bytes), 8, avail)?;
        check(buf.try_get_u64_le_at(index), u64s.map(u64::from_le_bytes), 8, avail)?;
        check(buf.try_get_i64_at(index), u64s.map(i64::from_be_bytes), 8, avail)?;
        check(buf.try_get_i16_at(index), arr(2).map(|v| i16::from_be_bytes([v[0], v[1]])), 2, avail)?;
        let be = arr(nbytes).map(|v| v.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)));
        let le = arr(nbytes).map(|v| v.iter().rev().fold(0u64, |a, &b| (a << 8) | u64::from(b)));
        check(buf.try_get_uint_at(index, nbytes), be, nbytes, avail)?;
        check(buf.try_get_uint_le_at(index, nbytes), le, nbytes, avail)?;
        if let Some(v) = arr(4) {
            prop_assert_eq!(buf.get_u32_at(index), u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        }
    }

    #[test]
    fn searches_match_vec(
        (data, cuts) in data_and_cuts(),
        needle in prop::collection::vec(0u8..4, 0..6),
        from in 0usize..100,
        byte in 0u8..5,
    ) {
        let buf = build(&data, &cuts);
        prop_assert_eq!(buf.find(&needle), naive_find(&data, &needle, 0));
        prop_assert_eq!(buf.find_from(&needle, from), naive_find(&data, &needle, from));
        prop_assert_eq!(buf.find_byte(byte), data.iter().position(|&b| b == byte));
        prop_assert_eq!(buf.find_byte_from(byte, from), naive_find(&data, &[byte], from));
        prop_assert_eq!(buf.starts_with(&needle), data.starts_with(&needle));
        // A needle taken from the data is always found, at or before its place.
        if data.len() >= 4 {
            let at = from % (data.len() - 3);
            let inner = &data[at..at + 4];
            let found = buf.find(inner);
            prop_assert!(found.is_some_and(|p| p <= at));
            prop_assert!(buf.starts_with(&data[..at]));
        }
    }

    #[test]
    fn searches_in_long_segments_match_vec(
        data in prop::collection::vec(0u8..6, 0..1200),
        cuts in prop::collection::vec(0usize..1200, 0..5),
        needle in prop::collection::vec(0u8..6, 1..7),
        from in 0usize..1200,
    ) {
        // Pieces both shorter and longer than the 256-byte switch between
        // first-byte scanning and memmem.
        let buf = build(&data, &cuts);
        prop_assert_eq!(buf.find(&needle), naive_find(&data, &needle, 0));
        prop_assert_eq!(buf.find_from(&needle, from), naive_find(&data, &needle, from));
        if data.len() > 10 {
            let at = from % (data.len() - 6);
            let inner = &data[at..at + 6];
            prop_assert!(buf.find(inner).is_some_and(|p| p <= at));
        }
    }

    #[test]
    fn modify_matches_vec_and_never_changes_other_views(
        (data, cuts) in data_and_cuts(),
        a in 0usize..100,
        b in 0usize..100,
        share in any::<bool>(),
    ) {
        let (lo, hi) = (a.min(b).min(data.len()), a.max(b).min(data.len()));
        let mut buf = build(&data, &cuts);
        let other = if share { Some(buf.clone()) } else { None };
        let mut pos = lo;
        buf.modify(lo..hi, |piece| {
            for x in piece.iter_mut() {
                *x ^= 0x5a;
            }
            pos += piece.len();
        });
        prop_assert_eq!(pos, hi, "the pieces cover the range exactly once");
        let mut want = data.clone();
        for x in &mut want[lo..hi] {
            *x ^= 0x5a;
        }
        prop_assert!(well_formed(&buf));
        prop_assert_eq!(flat(&buf), want);
        if let Some(o) = other {
            prop_assert_eq!(flat(&o), data);
        }
    }

    #[test]
    fn equality_and_hash_ignore_segmentation(
        (data, cuts) in data_and_cuts(),
        other_cuts in prop::collection::vec(0usize..100, 0..12),
        (diff, dcuts) in data_and_cuts(),
    ) {
        let a = build(&data, &cuts);
        let b = build(&data, &other_cuts);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(hash_of(&a), hash_of(&b));
        prop_assert!(a == data[..]);
        let contiguous = Bytes::from(data.clone());
        prop_assert!(a == contiguous);
        prop_assert!(contiguous == a);
        let c = build(&diff, &dcuts);
        prop_assert_eq!(a == c, data == diff);
        prop_assert_eq!(a.to_bytes(), Bytes::from(data));
    }

    #[test]
    fn mixed_operation_sequences_match_vec(
        (data, cuts) in data_and_cuts(),
        steps in prop::collection::vec(step(), 0..32),
    ) {
        let mut buf = build(&data, &cuts);
        let mut model = data.clone();
        for st in &steps {
            match st {
                Step::Read(op) => {
                    let mut plain: &[u8] = &model;
                    let want = apply(&mut plain, op);
                    let rest = plain.to_vec();
                    prop_assert_eq!(apply(&mut buf, op), want);
                    model = rest;
                }
                Step::Push(v) => {
                    buf.push(Bytes::copy_from_slice(v));
                    model.extend_from_slice(v);
                }
                Step::PushFront(v) => {
                    buf.push_front(Bytes::copy_from_slice(v));
                    model.splice(0..0, v.iter().copied());
                }
                Step::SplitTo(n) => {
                    let n = (*n).min(model.len());
                    let head = buf.split_to(n);
                    prop_assert_eq!(flat(&head), model[..n].to_vec());
                    model.drain(..n);
                }
                Step::SplitOff(n) => {
                    let n = (*n).min(model.len());
                    let tail = buf.split_off(n);
                    prop_assert_eq!(flat(&tail), model[n..].to_vec());
                    model.truncate(n);
                }
                Step::Truncate(n) => {
                    buf.truncate(*n);
                    model.truncate(*n);
                }
                Step::Modify(a, b) => {
                    let (lo, hi) = ((*a).min(*b).min(model.len()), (*a).max(*b).min(model.len()));
                    buf.modify(lo..hi, |p| p.iter_mut().for_each(|x| *x = x.wrapping_add(1)));
                    model[lo..hi].iter_mut().for_each(|x| *x = x.wrapping_add(1));
                }
            }
            prop_assert!(well_formed(&buf), "after {:?}", st);
            prop_assert_eq!(flat(&buf), model.clone(), "after {:?}", st);
            prop_assert_eq!(buf.len(), model.len());
            prop_assert_eq!(buf.chunk().is_empty(), model.is_empty());
        }
        prop_assert_eq!(buf.find(&[1, 2]), naive_find(&model, &[1, 2], 0));
        prop_assert_eq!(buf.to_bytes(), Bytes::from(model));
    }
}

/// Operations for the long-buffer test: every mutation the offset table
/// must follow, and the reads that use it.
#[derive(Debug, Clone)]
enum LongStep {
    Read(ReadOp),
    Push(Vec<u8>),
    PushFront(Vec<u8>),
    Append(Vec<Vec<u8>>),
    SplitTo(usize),
    SplitOff(usize),
    Truncate(usize),
    /// Replace the buffer by a slice of itself.
    Slice(usize, usize),
    /// Indexed reads of every width at an index (mod len + 2).
    GetAt(usize),
    /// `find` of a short needle taken from the model (so it hits) and of
    /// one that may miss, from a start offset.
    Find(usize, usize, Vec<u8>),
    Clone,
}

fn long_step() -> impl Strategy<Value = LongStep> {
    let seg = prop::collection::vec(0u8..4, 0..6);
    prop_oneof![
        3 => read_op().prop_map(LongStep::Read),
        3 => seg.clone().prop_map(LongStep::Push),
        2 => seg.clone().prop_map(LongStep::PushFront),
        1 => prop::collection::vec(seg.clone(), 0..12).prop_map(LongStep::Append),
        1 => (0usize..80).prop_map(LongStep::SplitTo),
        1 => (0usize..400).prop_map(LongStep::SplitOff),
        1 => (0usize..400).prop_map(LongStep::Truncate),
        1 => (0usize..400, 0usize..400).prop_map(|(a, b)| LongStep::Slice(a, b)),
        6 => (0usize..400).prop_map(LongStep::GetAt),
        2 => (0usize..400, 0usize..400, seg).prop_map(|(a, b, n)| LongStep::Find(a, b, n)),
        1 => Just(LongStep::Clone),
    ]
}

fn check_get_at(buf: &CompositeBuf, model: &[u8], i: usize) -> Result<(), TestCaseError> {
    fn at<const N: usize>(model: &[u8], i: usize) -> Option<[u8; N]> {
        model.get(i..i.checked_add(N)?)?.try_into().ok()
    }
    prop_assert_eq!(buf.try_get_u8_at(i).ok(), model.get(i).copied());
    prop_assert_eq!(
        buf.try_get_u16_at(i).ok(),
        at(model, i).map(u16::from_be_bytes)
    );
    prop_assert_eq!(
        buf.try_get_u16_le_at(i).ok(),
        at(model, i).map(u16::from_le_bytes)
    );
    prop_assert_eq!(
        buf.try_get_u32_at(i).ok(),
        at(model, i).map(u32::from_be_bytes)
    );
    prop_assert_eq!(
        buf.try_get_u32_le_at(i).ok(),
        at(model, i).map(u32::from_le_bytes)
    );
    prop_assert_eq!(
        buf.try_get_i32_at(i).ok(),
        at(model, i).map(i32::from_be_bytes)
    );
    prop_assert_eq!(
        buf.try_get_u64_at(i).ok(),
        at(model, i).map(u64::from_be_bytes)
    );
    prop_assert_eq!(
        buf.try_get_u64_le_at(i).ok(),
        at(model, i).map(u64::from_le_bytes)
    );
    let mut three = [0u8; 3];
    let ok = buf.try_copy_out(i, &mut three).is_ok();
    prop_assert_eq!(ok.then_some(three), at::<3>(model, i));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Buffers of tens to hundreds of 1–5 byte segments, so the offset
    /// table is built and then has to follow pushes at both ends,
    /// appends, splits, slices, truncation and `Buf` reads between
    /// indexed reads, searches and chunk walks.
    #[test]
    fn long_buffers_keep_the_offset_table_in_step_with_a_vec(
        pieces in prop::collection::vec(prop::collection::vec(0u8..4, 1..6), 0..120),
        steps in prop::collection::vec(long_step(), 0..48),
    ) {
        let mut buf: CompositeBuf = pieces.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        let mut model: Vec<u8> = pieces.concat();
        // Build the table up front, as a decoder's first indexed read would.
        if let Some(i) = model.len().checked_sub(5) {
            check_get_at(&buf, &model, i)?;
        }
        for st in &steps {
            let len = model.len();
            match st {
                LongStep::Read(op) => {
                    let mut plain: &[u8] = &model;
                    let want = apply(&mut plain, op);
                    let rest = plain.to_vec();
                    prop_assert_eq!(apply(&mut buf, op), want);
                    model = rest;
                }
                LongStep::Push(v) => {
                    buf.push(Bytes::copy_from_slice(v));
                    model.extend_from_slice(v);
                }
                LongStep::PushFront(v) => {
                    buf.push_front(Bytes::copy_from_slice(v));
                    model.splice(0..0, v.iter().copied());
                }
                LongStep::Append(vs) => {
                    let other: CompositeBuf = vs.iter().map(|v| Bytes::copy_from_slice(v)).collect();
                    // Index the other buffer too, so appending an indexed
                    // buffer is covered.
                    let _ = other.try_get_u8_at(other.len().saturating_sub(1));
                    buf.append(other);
                    model.extend(vs.iter().flatten());
                }
                LongStep::SplitTo(n) => {
                    let n = (*n).min(len);
                    let head = buf.split_to(n);
                    prop_assert_eq!(flat(&head), model[..n].to_vec());
                    model.drain(..n);
                }
                LongStep::SplitOff(n) => {
                    let n = (*n).min(len);
                    let tail = buf.split_off(n);
                    prop_assert_eq!(flat(&tail), model[n..].to_vec());
                    if let Some(i) = tail.len().checked_sub(3) {
                        check_get_at(&tail, &model[n..], i)?;
                    }
                    model.truncate(n);
                }
                LongStep::Truncate(n) => {
                    buf.truncate(*n);
                    model.truncate(*n);
                }
                LongStep::Slice(a, b) => {
                    let (lo, hi) = ((*a).min(*b).min(len), (*a).max(*b).min(len));
                    buf = buf.slice(lo..hi);
                    model = model[lo..hi].to_vec();
                }
                LongStep::GetAt(i) => {
                    let i = i % (len + 2);
                    check_get_at(&buf, &model, i)?;
                    // Neighbours, which the hint serves.
                    check_get_at(&buf, &model, i + 1)?;
                    check_get_at(&buf, &model, i.saturating_sub(3))?;
                }
                LongStep::Find(a, b, miss) => {
                    let from = a % (len + 2);
                    let at = b % (len + 1);
                    let hit = model[at..(at + 3).min(len)].to_vec();
                    prop_assert_eq!(buf.find_from(&hit, from), naive_find(&model, &hit, from));
                    prop_assert_eq!(buf.find_from(miss, from), naive_find(&model, miss, from));
                    let byte = miss.first().copied().unwrap_or(3);
                    prop_assert_eq!(buf.find_byte_from(byte, from), naive_find(&model, &[byte], from));
                }
                LongStep::Clone => {
                    let c = buf.clone();
                    prop_assert_eq!(flat(&c), model.clone());
                    if let Some(i) = len.checked_sub(2) {
                        check_get_at(&c, &model, i)?;
                    }
                    buf = c;
                }
            }
            prop_assert!(well_formed(&buf), "after {:?}", st);
            prop_assert_eq!(flat(&buf), model.clone(), "after {:?}", st);
            prop_assert_eq!(buf.len(), model.len());
            prop_assert_eq!(buf.chunk().is_empty(), model.is_empty());
            let mut iov = [IoSlice::new(&[]); 4];
            let n = buf.chunks_vectored(&mut iov);
            let got: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
            prop_assert!(model.starts_with(&got));
        }
        // A full sweep of indexed reads at the end, in order and backwards.
        for i in (0..model.len() + 2).chain((0..model.len()).rev()) {
            check_get_at(&buf, &model, i)?;
        }
    }
}

#[test]
fn composite_buf_stays_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompositeBuf>();
}
