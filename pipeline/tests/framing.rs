//! Every framing codec, with its input split at every byte boundary.

mod common;

use bytes::Bytes;
use common::{assert_splits, channel, drain, frames, run, Out};
use weft_buf::measure_copies;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{
    ByteOrder, ByteToMessageDecoder, DelimiterBasedFrameDecoder, FixedLengthFrameDecoder,
    LengthFieldBasedFrameDecoder, LengthFieldPrepender, LineBasedFrameDecoder,
};
use weft_pipeline::{EmbeddedChannel, HeadOp, Message, Pipeline, PipelineError, Wire};

fn lf(max: u64, off: usize, len: usize, adj: i64, strip: usize) -> LengthFieldBasedFrameDecoder {
    LengthFieldBasedFrameDecoder::new(max, off, len, adj, strip).unwrap()
}

#[test]
fn length_field_frames_survive_every_split() {
    let input = b"\x00\x03abc\x00\x00\x00\x01z";
    assert_splits(|| lf(64, 0, 2, 0, 2), input, &frames(&[b"abc", b"", b"z"]));
}

#[test]
fn length_field_of_every_width_and_byte_order_decodes() {
    for width in [1usize, 2, 3, 4, 8] {
        for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            let mut field = vec![0u8; width];
            match order {
                ByteOrder::BigEndian => field[width - 1] = 5,
                ByteOrder::LittleEndian => field[0] = 5,
            }
            let mut input = field.clone();
            input.extend_from_slice(b"hello");
            input.extend_from_slice(&field);
            input.extend_from_slice(b"world");
            assert_splits(
                || lf(64, 0, width, 0, width).byte_order(order),
                &input,
                &frames(&[b"hello", b"world"]),
            );
        }
    }
}

#[test]
fn length_field_with_offset_adjustment_and_partial_strip() {
    // HDR1 | LEN(2) | HDR2 | body ; length counts only the body; keep HDR2.
    // Netty example: offset 1, len 2, adjustment 1, strip 3.
    let input = b"\xca\x00\x0c\xfeHELLO, WORLD";
    assert_splits(
        || lf(64, 1, 2, 1, 3),
        input,
        &frames(&[b"\xfeHELLO, WORLD"]),
    );
}

#[test]
fn length_field_with_negative_adjustment_counts_whole_frame() {
    let input = b"\x00\x0eHELLO, WORLD\x00\x02";
    assert_splits(
        || lf(64, 0, 2, -2, 0),
        input,
        &frames(&[b"\x00\x0eHELLO, WORLD", b"\x00\x02"]),
    );
}

#[test]
fn length_field_shorter_than_its_header_is_a_corrupt_stream() {
    // value 1 with adjustment -2: total = 2 + 1 - 2 = 1 < header of 2.
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("decoder", ByteToMessageDecoder::new(lf(64, 0, 2, -2, 0)))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let out = run(&mut ch, &[b"\x00\x01abc"]);
    assert!(out.frames.is_empty());
    assert_eq!(out.other_errors.len(), 1, "{out:?}");
    assert!(
        ch.is_closed(),
        "an unhandled decode error closes the channel"
    );
    // later input is ignored
    let out = run(&mut ch, &[b"\x00\x02ok"]);
    assert!(out.frames.is_empty());
}

#[test]
fn length_field_u64_max_is_too_long_and_allocates_nothing() {
    let mut input = vec![0xffu8; 8];
    input.extend_from_slice(b"tail");
    let mut ch = channel(lf(1 << 20, 0, 8, 0, 8));
    let out = run(&mut ch, &[&input]);
    assert_eq!(out.too_long, 1);
    assert!(out.frames.is_empty());
    // with a positive adjustment the sum exceeds u64 and must not wrap
    let mut ch = channel(lf(1 << 20, 0, 8, i64::MAX, 8));
    let out = run(&mut ch, &[&input]);
    assert_eq!(out.too_long, 1);
}

#[test]
fn length_field_too_long_fail_fast_discards_then_resumes() {
    // max 8: a frame of 2 + 10 is too long; the next frame decodes.
    let input = b"\x00\x0a0123456789\x00\x02ok";
    let expected = Out {
        frames: vec![b"ok".to_vec()],
        too_long: 1,
        other_errors: vec![],
    };
    assert_splits(|| lf(8, 0, 2, 0, 2), input, &expected);
    assert_splits(|| lf(8, 0, 2, 0, 2).fail_fast(false), input, &expected);
}

#[test]
fn length_field_fail_fast_reports_before_the_frame_arrives() {
    let mut ch = channel(lf(8, 0, 2, 0, 2));
    let out = run(&mut ch, &[b"\x00\x0a01"]);
    assert_eq!(out.too_long, 1, "fail fast: reported on the header");
    let mut ch = channel(lf(8, 0, 2, 0, 2).fail_fast(false));
    let out = run(&mut ch, &[b"\x00\x0a01"]);
    assert_eq!(out.too_long, 0, "not fail fast: reported once skipped");
    let out = run(&mut ch, &[b"23456789"]);
    assert_eq!(out.too_long, 1);
}

#[test]
fn strip_longer_than_frame_is_corrupt() {
    let mut ch = channel(lf(64, 0, 1, 0, 4));
    let out = run(&mut ch, &[b"\x01a"]);
    assert_eq!(out.other_errors.len(), 1);
}

#[test]
fn invalid_length_field_configs_are_refused() {
    assert!(LengthFieldBasedFrameDecoder::new(64, 0, 0, 0, 0).is_err());
    assert!(LengthFieldBasedFrameDecoder::new(64, 0, 7, 0, 0).is_err());
    assert!(LengthFieldBasedFrameDecoder::new(2, 1, 2, 0, 0).is_err());
    assert!(LengthFieldBasedFrameDecoder::new(64, usize::MAX, 2, 0, 0).is_err());
}

#[test]
fn frame_inside_one_read_is_one_segment_and_not_copied() {
    let mut ch = channel(lf(64, 0, 2, 0, 2));
    let input = Bytes::from_static(b"\x00\x05hello\x00\x05world");
    let (_, copied) = measure_copies(|| ch.write_inbound(input.clone()));
    assert_eq!(copied, 0);
    for (word, at) in [("hello", 2), ("world", 9)] {
        let frame = ch.read_inbound::<CompositeBuf>().expect("a frame");
        assert_eq!(frame, word.as_bytes());
        assert_eq!(frame.segments().len(), 1, "{word} lay in one read");
        // a slice of the read itself
        assert_eq!(frame.segments()[0].as_ptr(), input[at..].as_ptr());
    }
}

#[test]
fn frame_split_across_three_reads_is_not_copied() {
    let reads: [&'static [u8]; 3] = [b"\x00\x0bhel", b"lo wo", b"rld"];
    let mut ch = channel(lf(64, 0, 2, 0, 2));
    let (_, copied) = measure_copies(|| {
        for r in reads {
            ch.write_inbound(Bytes::from_static(r));
        }
    });
    assert_eq!(copied, 0);
    let c = ch
        .read_inbound::<CompositeBuf>()
        .expect("a frame spanning reads is a CompositeBuf");
    assert_eq!(c, &b"hello world"[..]);
    assert_eq!(c.segments().len(), 3);
    // the segments are the reads' own memory
    assert_eq!(c.segments()[1].as_ptr(), reads[1].as_ptr());
}

#[test]
fn every_codec_copies_nothing_at_any_split() {
    type MakeChannel = Box<dyn Fn() -> EmbeddedChannel>;
    let cases: Vec<(MakeChannel, &[u8])> = vec![
        (
            Box::new(|| channel(lf(64, 0, 2, 0, 2))),
            b"\x00\x05hello\x00\x03abc",
        ),
        (
            Box::new(|| channel(LineBasedFrameDecoder::new(64))),
            b"hello\r\nabc\n",
        ),
        (
            Box::new(|| channel(DelimiterBasedFrameDecoder::new(64, [&b"||"[..]]).unwrap())),
            b"hello||abc||",
        ),
        (
            Box::new(|| channel(FixedLengthFrameDecoder::new(4).unwrap())),
            b"hellabcd",
        ),
    ];
    for (make, input) in cases {
        for i in 0..=input.len() {
            let mut ch = make();
            let (a, b) = input.split_at(i);
            let (_, copied) = measure_copies(|| {
                ch.write_inbound(Bytes::copy_from_slice(a));
                ch.write_inbound(Bytes::copy_from_slice(b));
            });
            assert_eq!(copied, 0, "split at {i} of {input:?}");
            assert_eq!(drain(&mut ch).frames.len(), 2);
        }
    }
}

#[test]
fn merge_mode_copies_small_leftovers_and_counts_them() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "decoder",
            ByteToMessageDecoder::new(lf(1024, 0, 2, 0, 2)).with_merge(16),
        )
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let (_, copied) = measure_copies(|| {
        ch.write_inbound(Bytes::from_static(b"\x00\x05he"));
        ch.write_inbound(Bytes::from_static(b"llo"));
    });
    // leftover of 4 bytes (< 16) merged with the 3-byte read
    assert_eq!(copied, 7);
    let hello = ch.read_inbound::<CompositeBuf>().expect("a frame");
    assert_eq!(hello, &b"hello"[..]);
    assert_eq!(
        hello.segments().len(),
        1,
        "the merged leftover holds it all"
    );

    // a leftover at or over the threshold is chained, not copied
    let big = vec![b'x'; 40];
    let mut first = b"\x00\x50".to_vec();
    first.extend_from_slice(&big);
    let (_, copied) = measure_copies(|| {
        ch.write_inbound(Bytes::from(first));
        ch.write_inbound(Bytes::from(big.clone()));
    });
    assert_eq!(copied, 0);
    let long = ch.read_inbound::<CompositeBuf>().expect("a frame");
    assert_eq!(long.len(), 80);
    assert_eq!(long.segments().len(), 2, "chained, not merged");
}

#[test]
fn line_frames_survive_every_split() {
    let input = b"one\r\ntwo\n\nthree\r\n";
    assert_splits(
        || LineBasedFrameDecoder::new(16),
        input,
        &frames(&[b"one", b"two", b"", b"three"]),
    );
    assert_splits(
        || LineBasedFrameDecoder::new(16).strip_delimiter(false),
        input,
        &frames(&[b"one\r\n", b"two\n", b"\n", b"three\r\n"]),
    );
}

#[test]
fn line_of_exactly_max_length_with_crlf_is_accepted() {
    assert_splits(
        || LineBasedFrameDecoder::new(3),
        b"abc\r\nxyz\n",
        &frames(&[b"abc", b"xyz"]),
    );
}

#[test]
fn too_long_line_is_discarded_up_to_its_newline() {
    let input = b"0123456789\r\nok\n";
    let expected = Out {
        frames: vec![b"ok".to_vec()],
        too_long: 1,
        other_errors: vec![],
    };
    assert_splits(|| LineBasedFrameDecoder::new(4), input, &expected);
    assert_splits(
        || LineBasedFrameDecoder::new(4).fail_fast(false),
        input,
        &expected,
    );
}

#[test]
fn unterminated_line_at_end_of_stream_is_reported() {
    let mut ch = channel(LineBasedFrameDecoder::new(16));
    let out = run(&mut ch, &[b"a\nbc"]);
    assert_eq!(out.frames, vec![b"a".to_vec()]);
    ch.finish();
    let out = drain(&mut ch);
    assert_eq!(out.other_errors.len(), 1);
    assert!(out.other_errors[0].contains("2 bytes left"), "{out:?}");
}

#[test]
fn delimiter_frames_survive_every_split() {
    let input = b"a;;bc\r\n;;\r\nd;;";
    assert_splits(
        || DelimiterBasedFrameDecoder::new(16, [&b";;"[..], b"\r\n"]).unwrap(),
        input,
        &frames(&[b"a", b"bc", b"", b"", b"d"]),
    );
}

#[test]
fn delimiter_picks_the_shortest_frame() {
    let mut ch = channel(DelimiterBasedFrameDecoder::new(16, [&b"bc"[..], b"a"]).unwrap());
    let out = run(&mut ch, &[b"xabcz"]);
    assert_eq!(out.frames, vec![b"x".to_vec(), b"".to_vec()]);
}

#[test]
fn too_long_delimited_frame_is_discarded_then_decoding_resumes() {
    let input = b"0123456789;;ok;;";
    let expected = Out {
        frames: vec![b"ok".to_vec()],
        too_long: 1,
        other_errors: vec![],
    };
    let make = || DelimiterBasedFrameDecoder::new(4, [&b";;"[..]]).unwrap();
    assert_splits(make, input, &expected);
    assert_splits(|| make().fail_fast(false), input, &expected);
}

#[test]
fn fixed_length_frames_survive_every_split() {
    assert_splits(
        || FixedLengthFrameDecoder::new(3).unwrap(),
        b"abcdefghi",
        &frames(&[b"abc", b"def", b"ghi"]),
    );
}

#[test]
fn prepender_adds_a_header_segment_and_leaves_the_body_alone() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("len", LengthFieldPrepender::new(4).unwrap())
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let body = Bytes::from(vec![7u8; 1000]);
    let (_, copied) = measure_copies(|| ch.write_outbound(body.clone()));
    assert_eq!(copied, 0);
    let Some(Wire::Composite(frame)) = ch.read_outbound_wire() else {
        panic!("prepender emits a composite")
    };
    assert_eq!(frame.segments().len(), 2);
    assert_eq!(&frame.segments()[0][..], &[0, 0, 3, 232]);
    assert_eq!(frame.segments()[1].as_ptr(), body.as_ptr());
}

#[test]
fn prepender_round_trips_through_the_decoder() {
    for width in [1usize, 2, 3, 4, 8] {
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("len", LengthFieldPrepender::new(width).unwrap())
            .unwrap();
        let mut enc = EmbeddedChannel::new(p);
        enc.write_outbound(Bytes::from_static(b"abc"));
        enc.write_outbound(Bytes::from_static(b""));
        let mut ch = channel(lf(64, 0, width, 0, width));
        while let Some(w) = enc.read_outbound_wire() {
            ch.write_inbound(Message::from(w));
        }
        assert_eq!(drain(&mut ch).frames, vec![b"abc".to_vec(), vec![]]);
    }
}

#[test]
fn prepender_refuses_a_body_too_long_for_its_field() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("len", LengthFieldPrepender::new(1).unwrap())
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let (promise, fut) = weft_pipeline::WritePromise::new();
    ch.pipeline_mut()
        .write(Bytes::from(vec![0u8; 256]).into(), Some(promise));
    assert!(futures::executor::block_on(fut).is_err());
    assert!(!ch
        .pipeline_mut()
        .recorder()
        .expect("an embedded channel's head is a Recorder")
        .take_ops()
        .iter()
        .any(|op| matches!(op, HeadOp::Write(..))));
    assert_eq!(ch.take_exceptions().len(), 1);
}

#[test]
fn prepender_sends_a_file_region_as_header_then_region() {
    use std::io::Write;
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(b"0123456789").unwrap();
    let region = weft_buf::FileRegion::from_file(f).unwrap();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("len", LengthFieldPrepender::new(2).unwrap())
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_outbound(region);
    assert!(
        matches!(ch.read_outbound(), Some(HeadOp::Write(Wire::Bytes(b), None)) if b == b"\x00\x0a"[..])
    );
    assert!(
        matches!(ch.read_outbound(), Some(HeadOp::Write(Wire::File(r), None)) if r.len() == 10)
    );
    assert!(matches!(ch.read_outbound(), Some(HeadOp::Flush)));
}

#[test]
fn too_long_frame_error_names_the_lengths() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("decoder", ByteToMessageDecoder::new(lf(8, 0, 2, 0, 0)))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"\x00\x10"));
    let errs = ch.take_exceptions();
    assert!(
        matches!(
            errs.as_slice(),
            [PipelineError::TooLongFrame { length: 18, max: 8 }]
        ),
        "{errs:?}"
    );
    assert!(
        ch.is_closed(),
        "unhandled at the tail, it closes the channel"
    );
}

#[test]
fn one_byte_reads_are_consolidated_past_the_segment_bound() {
    use weft_pipeline::codec::MAX_CUMULATION_SEGMENTS;
    let body: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
    let mut input = (body.len() as u16).to_be_bytes().to_vec();
    input.extend_from_slice(&body);
    let mut ch = channel(lf(4096, 0, 2, 0, 2));
    let (_, copied) = measure_copies(|| {
        for b in input.chunks(1) {
            ch.write_inbound(Bytes::copy_from_slice(b));
        }
    });
    // one consolidation when the cumulation passed the bound, none after
    assert_eq!(copied, MAX_CUMULATION_SEGMENTS as u64 + 1);
    assert_eq!(drain(&mut ch).frames, vec![body]);
}
