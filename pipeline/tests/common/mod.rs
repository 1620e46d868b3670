//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use weft_pipeline::codec::{ByteToMessageDecoder, FrameDecoder};
use weft_pipeline::{Context, EmbeddedChannel, Event, Handler, Message, Pipeline, PipelineError};

/// An exception a [`Catcher`] turned into a message, in stream order.
#[derive(Debug)]
pub struct Caught(pub PipelineError);

/// Handles every exception by passing it on as a `Caught` message, so the
/// channel stays open and tests see where in the stream errors happened.
pub struct Catcher;

impl Handler for Catcher {
    type In = Message;
    type Out = Message;

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.fire_read(msg);
    }

    fn event(&mut self, ctx: &mut Context<'_>, event: Event) {
        match event {
            Event::Exception(err) => ctx.fire_read(Message::user(Caught(err))),
            other => ctx.fire_event(other),
        }
    }
}

/// A channel with `decoder` then a [`Catcher`].
pub fn channel<D: FrameDecoder>(decoder: D) -> EmbeddedChannel {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("decoder", ByteToMessageDecoder::new(decoder))
        .expect("decoder fits an empty pipeline")
        .add_last("catcher", Catcher)
        .expect("catcher passes everything");
    EmbeddedChannel::new(p)
}

/// What came out: frames (as bytes) and exceptions (as strings), in order
/// of frames; exceptions separately.
#[derive(Debug, PartialEq, Eq)]
pub struct Out {
    pub frames: Vec<Vec<u8>>,
    pub too_long: usize,
    pub other_errors: Vec<String>,
}

/// Feeds `reads` one by one, then drains what reached the tail.
pub fn run(ch: &mut EmbeddedChannel, reads: &[&[u8]]) -> Out {
    for r in reads {
        ch.write_inbound(Bytes::copy_from_slice(r));
    }
    drain(ch)
}

pub fn drain(ch: &mut EmbeddedChannel) -> Out {
    let mut frames = Vec::new();
    let mut too_long = 0;
    let mut other_errors = Vec::new();
    let mut errors: Vec<PipelineError> = ch.take_exceptions();
    while let Some(m) = ch.read_inbound::<Message>() {
        match m {
            Message::Bytes(b) => frames.push(b.to_vec()),
            Message::Composite(c) => frames.push(c.to_bytes().to_vec()),
            other => match other.downcast::<Caught>() {
                Ok(Caught(e)) => errors.push(e),
                Err(other) => panic!("unexpected message {other:?}"),
            },
        }
    }
    for e in errors {
        match e {
            PipelineError::TooLongFrame { .. } => too_long += 1,
            e => other_errors.push(e.to_string()),
        }
    }
    Out {
        frames,
        too_long,
        other_errors,
    }
}

/// Runs `input` through a fresh decoder from `make` split in every way
/// this test suite checks (whole; every 2-way split; one byte per read)
/// and asserts each gives `expected`.
pub fn assert_splits<D: FrameDecoder>(make: impl Fn() -> D, input: &[u8], expected: &Out) {
    let whole = run(&mut channel(make()), &[input]);
    assert_eq!(&whole, expected, "input in one read");
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        let got = run(&mut channel(make()), &[a, b]);
        assert_eq!(&got, expected, "input split at {i}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let got = run(&mut channel(make()), &bytes);
    assert_eq!(&got, expected, "one byte per read");
}

pub fn frames(fs: &[&[u8]]) -> Out {
    Out {
        frames: fs.iter().map(|f| f.to_vec()).collect(),
        too_long: 0,
        other_errors: vec![],
    }
}
