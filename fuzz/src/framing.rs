//! Framing decoders driven through an `EmbeddedChannel`: the input is
//! delivered once whole and once cut at fuzzer-chosen points, and the two
//! runs must give the same frames and the same errors. Neither run may
//! panic, the unmerged run must copy nothing, and every frame must respect
//! the decoder's limit.
//!
//! Shared by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`) and the
//! proptest replay in `pipeline/tests/fuzz_inputs.rs` (through `#[path]`).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{
    ByteOrder, ByteToMessageDecoder, DelimiterBasedFrameDecoder, FixedLengthFrameDecoder,
    FrameDecoder, LengthFieldBasedFrameDecoder, LineBasedFrameDecoder,
};
use weft_pipeline::{Context, EmbeddedChannel, Handler, Nothing, Pipeline, PipelineError};

use crate::input::{chunks, raw_cuts, Input};

/// What reached the end of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A decoded frame's bytes.
    Frame(Vec<u8>),
    /// A too-long frame, with its length when the decoder's report of it
    /// does not depend on how the input was cut.
    TooLong(Option<u64>),
    /// The stream was declared corrupt (or bytes were left at the end).
    Corrupt,
}

/// Records frames and exceptions, and stops exceptions (so a too-long
/// frame does not close the channel and both runs see the whole input).
struct Recorder {
    log: Arc<Mutex<Vec<Event>>>,
    exact_too_long: bool,
}

impl Handler for Recorder {
    type In = CompositeBuf;
    type Out = Nothing;

    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, frame: CompositeBuf) {
        let bytes = frame
            .segments()
            .iter()
            .flat_map(|s| s.iter().copied())
            .collect();
        self.log.lock().unwrap().push(Event::Frame(bytes));
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: weft_pipeline::Event) {
        let err = match event {
            weft_pipeline::Event::Exception(err) => err,
            other => return ctx.fire_event(other),
        };
        let ev = match err {
            PipelineError::TooLongFrame { length, max } => {
                assert!(length > max, "too-long report {length} <= max {max}");
                Event::TooLong(self.exact_too_long.then_some(length))
            }
            PipelineError::Decode(_) => Event::Corrupt,
            other => panic!("unexpected exception from a decoder: {other}"),
        };
        self.log.lock().unwrap().push(ev);
    }
}

/// Feeds `chunks` (one read each) then closes; returns the events and the
/// bytes Weft recorded as copied.
fn run<D: FrameDecoder>(dec: D, merge: usize, parts: &[&[u8]], exact: bool) -> (Vec<Event>, u64) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("dec", ByteToMessageDecoder::new(dec).with_merge(merge))
        .unwrap()
        .add_last(
            "rec",
            Recorder {
                log: log.clone(),
                exact_too_long: exact,
            },
        )
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let ((), copied) = weft_buf::measure_copies(|| {
        for part in parts {
            ch.write_inbound(Bytes::copy_from_slice(part));
        }
        ch.finish();
    });
    assert!(
        ch.take_exceptions().is_empty(),
        "exception passed the recorder"
    );
    assert_eq!(ch.inbound_len(), 0, "message passed the recorder");
    let events = std::mem::take(&mut *log.lock().unwrap());
    (events, copied)
}

/// Runs `make()` one-shot and split; compares; returns the one-shot events.
fn check<D: FrameDecoder>(make: impl Fn() -> D, input: &mut Input<'_>, exact: bool) -> Vec<Event> {
    check_with(make, input, exact, true)
}

/// As [`check`]; `compare` false only runs both (for panics and limits).
fn check_with<D: FrameDecoder>(
    make: impl Fn() -> D,
    input: &mut Input<'_>,
    exact: bool,
    compare: bool,
) -> Vec<Event> {
    let flags = input.u8();
    let merge = if flags & 1 == 1 {
        usize::from(input.u8() % 64) + 1
    } else {
        0
    };
    let cuts = raw_cuts(input);
    let payload = input.rest();
    let parts = chunks(payload, &cuts);

    let (whole, whole_copied) = run(make(), 0, &[payload], exact);
    assert_eq!(whole_copied, 0, "one-shot decode copied payload bytes");
    let (split, split_copied) = run(make(), merge, &parts, exact);
    if compare {
        assert_eq!(
            whole,
            split,
            "split at {:?} of {} bytes",
            cuts,
            payload.len()
        );
    }
    let limit = (2 * merge * parts.len()) as u64;
    assert!(
        split_copied <= limit,
        "merge threshold {merge}: copied {split_copied} > {limit}"
    );
    whole
}

fn frames(events: &[Event]) -> impl Iterator<Item = &Vec<u8>> {
    events.iter().filter_map(|e| match e {
        Event::Frame(f) => Some(f),
        _ => None,
    })
}

/// `LengthFieldBasedFrameDecoder` with fuzzer-chosen parameters.
pub fn length_field(data: &[u8]) {
    let mut input = Input::new(data);
    let cfg = input.u8();
    let max = match cfg & 3 {
        0 => u64::MAX,
        1 => input.u64(),
        _ => u64::from(input.u16()),
    };
    let offset = usize::from(input.u8() % 5);
    let field_len = [1, 2, 3, 4, 8][usize::from(input.u8() % 5)];
    let adj_sel = input.u8();
    let adjustment: i64 = match adj_sel {
        0..=199 => i64::from(adj_sel as i8),
        200..=209 => i64::MIN,
        210..=219 => i64::MAX,
        220..=229 => -((offset + field_len) as i64) - 1,
        _ => input.u64() as i64,
    };
    let strip = usize::from(input.u8() % 16);
    let order = if cfg & 4 == 0 {
        ByteOrder::BigEndian
    } else {
        ByteOrder::LittleEndian
    };
    let fail_fast = cfg & 8 == 0;
    let make = || {
        LengthFieldBasedFrameDecoder::new(max, offset, field_len, adjustment, strip)
            .map(|d| d.byte_order(order).fail_fast(fail_fast))
    };
    match make() {
        Ok(_) => {}
        Err(PipelineError::InvalidConfig(_)) => {
            assert!((offset + field_len) as u64 > max, "config refused wrongly");
            return;
        }
        Err(e) => panic!("new() failed with {e}"),
    }
    let events = check(|| make().unwrap(), &mut input, true);
    for f in frames(&events) {
        assert!(f.len() as u64 <= max, "frame of {} > max {max}", f.len());
    }
}

/// `LineBasedFrameDecoder`.
pub fn line(data: &[u8]) {
    let mut input = Input::new(data);
    let cfg = input.u8();
    let max = usize::from(input.u8());
    let strip = cfg & 1 == 0;
    let fail_fast = cfg & 2 == 0;
    let make = || {
        LineBasedFrameDecoder::new(max)
            .strip_delimiter(strip)
            .fail_fast(fail_fast)
    };
    let events = check(make, &mut input, false);
    for f in frames(&events) {
        let body = if strip {
            assert!(!f.contains(&b'\n'), "stripped line holds a newline");
            f.len()
        } else {
            assert_eq!(f.last(), Some(&b'\n'), "kept line does not end in newline");
            let crlf = f.len() >= 2 && f[f.len() - 2] == b'\r';
            f.len() - 1 - usize::from(crlf)
        };
        assert!(body <= max, "line of {body} > max {max}");
    }
}

/// `DelimiterBasedFrameDecoder` with 1 to 3 fuzzer-chosen delimiters.
pub fn delimiter(data: &[u8]) {
    let mut input = Input::new(data);
    let cfg = input.u8();
    let max = usize::from(input.u8());
    let count = usize::from(cfg >> 4) % 3 + 1;
    let delims: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let n = usize::from(input.u8() % 4) + 1;
            input.bytes(n).to_vec()
        })
        .filter(|d| !d.is_empty())
        .collect();
    if delims.is_empty() {
        assert!(DelimiterBasedFrameDecoder::new(max, delims.iter().map(Vec::as_slice)).is_err());
        return;
    }
    let strip = cfg & 1 == 0;
    let fail_fast = cfg & 2 == 0;
    let make = || {
        DelimiterBasedFrameDecoder::new(max, delims.iter().map(Vec::as_slice))
            .unwrap()
            .strip_delimiter(strip)
            .fail_fast(fail_fast)
    };
    // A delimiter inside another before its last byte ("abcd" and "c") once
    // made the frames depend on the reads; the decoder now waits while a
    // delimiter that would win is incomplete, so every set is compared.
    let events = check_with(make, &mut input, false, true);
    let longest = delims.iter().map(Vec::len).max().unwrap_or(0);
    for f in frames(&events) {
        let limit = if strip { max } else { max + longest };
        assert!(f.len() <= limit, "frame of {} > limit {limit}", f.len());
        if !strip {
            assert!(
                delims.iter().any(|d| f.ends_with(d)),
                "kept frame lacks its delimiter"
            );
        }
    }
}

/// `FixedLengthFrameDecoder`, also checked against `chunks_exact`.
pub fn fixed(data: &[u8]) {
    let mut input = Input::new(data);
    let n = usize::from(input.u8() % 64);
    if n == 0 {
        assert!(FixedLengthFrameDecoder::new(0).is_err());
        return;
    }
    let mut model_input = Input::new(data);
    model_input.u8();
    let events = check(
        || FixedLengthFrameDecoder::new(n).unwrap(),
        &mut input,
        true,
    );
    // Rebuild the payload as `check` saw it, to compare with the model.
    let flags = model_input.u8();
    if flags & 1 == 1 {
        model_input.u8();
    }
    raw_cuts(&mut model_input);
    let payload = model_input.rest();
    let mut want: Vec<Event> = payload
        .chunks_exact(n)
        .map(|c| Event::Frame(c.to_vec()))
        .collect();
    if !payload.chunks_exact(n).remainder().is_empty() {
        want.push(Event::Corrupt);
    }
    assert_eq!(events, want);
}
