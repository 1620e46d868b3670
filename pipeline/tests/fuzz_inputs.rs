//! Replays the fuzz targets' checks (`fuzz/src/framing.rs`, shared through
//! `#[path]`) under `cargo test`: every committed seed in
//! `fuzz/corpus/<target>/`, then random inputs from proptest. Each input is
//! decoded once whole and once cut into reads; both runs must agree, copy
//! nothing, and respect the limits. Where cargo-fuzz is installed,
//! `fuzz/run.sh` runs the same checks under libFuzzer.

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/input.rs"]
mod input;

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/framing.rs"]
mod framing;

use std::path::PathBuf;

use proptest::prelude::*;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

fn replay(target: &str, check: fn(&[u8])) {
    for (path, data) in corpus(target) {
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "seed {} failed", path.display());
    }
}

#[test]
fn length_field_seeds_decode_the_same_whole_and_split() {
    replay("length_field", framing::length_field);
}

#[test]
fn line_seeds_decode_the_same_whole_and_split() {
    replay("line", framing::line);
}

#[test]
fn delimiter_seeds_decode_the_same_whole_and_split() {
    replay("delimiter", framing::delimiter);
}

#[test]
fn fixed_seeds_decode_like_chunks_exact() {
    replay("fixed", framing::fixed);
}

/// Config bytes that steer the decoders towards interesting corners
/// (small limits, huge declared lengths), then arbitrary bytes.
fn steered() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(any::<u8>(), 0..24),
        prop::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(0u8), Just(0xff), any::<u8>()],
            0..160,
        ),
    )
        .prop_map(|(mut head, body)| {
            head.extend(body);
            head
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_length_field_inputs_decode_the_same_whole_and_split(data in steered()) {
        framing::length_field(&data);
    }

    #[test]
    fn random_line_inputs_decode_the_same_whole_and_split(data in steered()) {
        framing::line(&data);
    }

    #[test]
    fn random_delimiter_inputs_decode_the_same_whole_and_split(data in steered()) {
        framing::delimiter(&data);
    }

    #[test]
    fn random_fixed_inputs_decode_like_chunks_exact(data in steered()) {
        framing::fixed(&data);
    }
}

/// Found by the `delimiter` fuzz target: when a delimiter occurs inside
/// another before its last byte, a read that ended inside the long one made
/// the decoder take the short one, so the frames depended on the reads
/// (delimiters `["abcd", "c"]`: `"abcd"` gave `""`, `"abc"` + `"d"` gave
/// `"ab"`). The decoder now waits while a delimiter that would win is
/// still incomplete, and cuts at the best complete match at end of stream.
#[test]
fn frames_do_not_depend_on_reads_when_one_delimiter_holds_another() {
    use bytes::Bytes;
    use weft_pipeline::codec::{ByteToMessageDecoder, DelimiterBasedFrameDecoder};
    use weft_pipeline::{EmbeddedChannel, Pipeline};

    let frames = |reads: &[&'static [u8]]| {
        let mut p = Pipeline::new();
        let d = DelimiterBasedFrameDecoder::new(64, [&b"abcd"[..], b"c"]).unwrap();
        p.handlers()
            .add_last("d", ByteToMessageDecoder::new(d))
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        for r in reads {
            ch.write_inbound(Bytes::from_static(r));
        }
        let mut out = Vec::new();
        while let Some(f) = ch.read_inbound_bytes() {
            out.push(f);
        }
        out
    };
    assert_eq!(frames(&[b"abcd"]), vec![Bytes::new()]);
    assert_eq!(frames(&[b"abc", b"d"]), vec![Bytes::new()]);
}

mod hostile_lengths {
    use bytes::Bytes;
    use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder};
    use weft_pipeline::{EmbeddedChannel, Pipeline, PipelineError};

    fn channel(d: LengthFieldBasedFrameDecoder) -> EmbeddedChannel {
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("len", ByteToMessageDecoder::new(d))
            .unwrap();
        EmbeddedChannel::new(p)
    }

    #[test]
    fn a_length_of_u64_max_is_too_long_and_nothing_is_buffered_for_it() {
        let mut ch = channel(LengthFieldBasedFrameDecoder::new(1 << 20, 0, 8, 0, 8).unwrap());
        let (_, copied) = weft_buf::measure_copies(|| {
            ch.write_inbound(Bytes::from_static(&[0xff; 8]));
            for _ in 0..64 {
                ch.write_inbound(Bytes::from(vec![0u8; 64 << 10]));
            }
        });
        assert_eq!(copied, 0);
        let errs = ch.take_exceptions();
        assert!(
            matches!(errs.first(), Some(PipelineError::TooLongFrame { length, .. }) if *length == u64::MAX),
            "{errs:?}"
        );
        assert_eq!(ch.inbound_len(), 0);
    }

    #[test]
    fn a_length_of_u64_max_under_an_unlimited_maximum_waits_without_allocating() {
        // max = u64::MAX: the frame is legal, so the decoder must wait for
        // its bytes; it must not reserve them.
        let mut ch = channel(LengthFieldBasedFrameDecoder::new(u64::MAX, 0, 8, 0, 0).unwrap());
        let ((), copied) = weft_buf::measure_copies(|| {
            ch.write_inbound(Bytes::from_static(&[
                0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ]));
            ch.write_inbound(Bytes::from_static(b"a little"));
        });
        assert_eq!(copied, 0);
        assert_eq!(ch.inbound_len(), 0);
        assert!(!ch.finish());
        assert_eq!(ch.take_exceptions().len(), 1, "bytes left at the end");
    }

    #[test]
    fn adjustments_that_underflow_are_a_corrupt_stream_not_a_panic() {
        for (adjustment, field) in [
            (-10i64, &b"\x00\x05"[..]),
            (i64::MIN, &b"\xff\xff"[..]),
            (-3, &b"\x00\x00"[..]),
        ] {
            let mut ch =
                channel(LengthFieldBasedFrameDecoder::new(1024, 0, 2, adjustment, 0).unwrap());
            ch.write_inbound(Bytes::copy_from_slice(field));
            ch.write_inbound(Bytes::from_static(b"payload"));
            let errs = ch.take_exceptions();
            assert!(
                matches!(errs.first(), Some(PipelineError::Decode(_))),
                "adjustment {adjustment}: {errs:?}"
            );
            assert!(ch.is_closed(), "a corrupt stream closes the channel");
            assert_eq!(ch.inbound_len(), 0);
        }
    }

    #[test]
    fn an_adjustment_of_i64_max_on_a_u64_max_length_is_too_long_not_an_overflow() {
        let mut ch = channel(LengthFieldBasedFrameDecoder::new(4096, 0, 8, i64::MAX, 0).unwrap());
        ch.write_inbound(Bytes::from_static(&[0xff; 8]));
        let errs = ch.take_exceptions();
        assert!(
            matches!(errs.first(), Some(PipelineError::TooLongFrame { .. })),
            "{errs:?}"
        );
    }

    #[test]
    fn a_strip_longer_than_the_frame_is_a_corrupt_stream() {
        let mut ch = channel(LengthFieldBasedFrameDecoder::new(64, 0, 1, 0, 9).unwrap());
        ch.write_inbound(Bytes::from_static(b"\x02ab"));
        let errs = ch.take_exceptions();
        assert!(
            matches!(errs.first(), Some(PipelineError::Decode(_))),
            "{errs:?}"
        );
    }
}
