//! Property tests: a decoder yields the same frames however its input is split.

mod common;

use bytes::Bytes;
use common::{channel, drain};
use proptest::prelude::*;
use weft_pipeline::codec::{
    DelimiterBasedFrameDecoder, FixedLengthFrameDecoder, FrameDecoder,
    LengthFieldBasedFrameDecoder, LineBasedFrameDecoder,
};

/// Cuts `input` at the given (sorted, deduplicated) points.
fn cut(input: &[u8], mut points: Vec<usize>) -> Vec<&[u8]> {
    points.iter_mut().for_each(|p| *p %= input.len() + 1);
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(&input[last..p]);
        last = p;
    }
    out.push(&input[last..]);
    out
}

fn check<D: FrameDecoder>(make: impl Fn() -> D, input: &[u8], points: Vec<usize>) {
    let mut whole = channel(make());
    whole.write_inbound(Bytes::copy_from_slice(input));
    let expected = drain(&mut whole);
    let mut split = channel(make());
    let (_, copied) = weft_buf::measure_copies(|| {
        for piece in cut(input, points) {
            split.write_inbound(Bytes::copy_from_slice(piece));
        }
    });
    assert_eq!(copied, 0);
    assert_eq!(drain(&mut split), expected);
}

/// A stream of length-prefixed frames (2-byte big-endian), some too long.
fn length_stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..12).prop_map(|frames| {
        let mut out = Vec::new();
        for f in frames {
            out.extend_from_slice(&(f.len() as u16).to_be_bytes());
            out.extend_from_slice(&f);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn length_field_frames_do_not_depend_on_read_sizes(
        input in length_stream(),
        points in prop::collection::vec(any::<usize>(), 0..16),
        fail_fast in any::<bool>(),
    ) {
        // max 24 + 2: frames over 24 bytes are too long and skipped
        check(|| LengthFieldBasedFrameDecoder::new(26, 0, 2, 0, 2).unwrap().fail_fast(fail_fast), &input, points);
    }

    #[test]
    fn line_frames_do_not_depend_on_read_sizes(
        input in prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'\r', b'\n']), 0..200),
        points in prop::collection::vec(any::<usize>(), 0..16),
        fail_fast in any::<bool>(),
        strip in any::<bool>(),
    ) {
        check(|| LineBasedFrameDecoder::new(8).fail_fast(fail_fast).strip_delimiter(strip), &input, points);
    }

    #[test]
    fn delimited_frames_do_not_depend_on_read_sizes(
        input in prop::collection::vec(prop::sample::select(vec![b'a', b'|', b'#']), 0..200),
        points in prop::collection::vec(any::<usize>(), 0..16),
        fail_fast in any::<bool>(),
    ) {
        check(
            || DelimiterBasedFrameDecoder::new(6, [&b"||"[..], b"#"]).unwrap().fail_fast(fail_fast),
            &input,
            points,
        );
    }

    #[test]
    fn fixed_frames_do_not_depend_on_read_sizes(
        input in prop::collection::vec(any::<u8>(), 0..200),
        points in prop::collection::vec(any::<usize>(), 0..16),
        n in 1usize..9,
    ) {
        check(|| FixedLengthFrameDecoder::new(n).unwrap(), &input, points);
    }
}
