//! tokio-util codecs run unchanged through the adapters; their copies are counted.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{LengthDelimitedCodec, LinesCodec};
use weft_buf::{measure_copies, CompositeBuf};
use weft_pipeline::codec::{DecoderAdapter, EncoderAdapter, MessageDecoder, MessageEncoder};
use weft_pipeline::{EmbeddedChannel, Message, MessageType, MessageTypes, Pipeline, PipelineError};

#[test]
fn length_delimited_codec_decodes_split_input_and_counts_its_copies() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("ld", DecoderAdapter::new(LengthDelimitedCodec::new()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let input = b"\0\0\0\x05hello\0\0\0\x02hi";
    let (_, copied) = measure_copies(|| {
        for piece in input.chunks(3) {
            ch.write_inbound(Bytes::copy_from_slice(piece));
        }
    });
    assert_eq!(
        copied,
        input.len() as u64,
        "every byte goes through its BytesMut"
    );
    assert_eq!(ch.read_inbound_bytes().unwrap(), &b"hello"[..]);
    assert_eq!(ch.read_inbound_bytes().unwrap(), &b"hi"[..]);
}

#[test]
fn lines_codec_takes_composites_and_emits_strings() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("lines", DecoderAdapter::new(LinesCodec::new()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let c: CompositeBuf = [Bytes::from_static(b"ab"), Bytes::from_static(b"c\nd")]
        .into_iter()
        .collect();
    ch.write_inbound(c);
    assert_eq!(ch.read_inbound::<String>().as_deref(), Some("abc"));
    // the last line comes out at the end of the stream (decode_eof)
    ch.finish();
    assert_eq!(ch.read_inbound::<String>().as_deref(), Some("d"));
}

#[test]
fn adapter_emits_its_codecs_item_type() {
    // The chain's check reads it from the handler's `Out`: a String
    // consumer may follow the lines adapter, a Bytes one may not.
    struct Takes<T>(std::marker::PhantomData<T>);
    impl<T: MessageType> weft_pipeline::Handler for Takes<T> {
        type In = T;
        type Out = weft_pipeline::Nothing;
        fn read(&mut self, _: &mut weft_pipeline::Context<'_, weft_pipeline::Nothing>, _: T) {}
    }
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("lines", DecoderAdapter::new(LinesCodec::new()))
        .unwrap();
    let err = p
        .handlers()
        .add_last("bytes", Takes::<Bytes>(std::marker::PhantomData))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`lines` emits User(alloc::string::String)"),
        "{err}"
    );
    p.handlers()
        .add_last("strings", Takes::<String>(std::marker::PhantomData))
        .unwrap();
    // LengthDelimitedCodec's BytesMut items travel as Bytes
    assert_eq!(<BytesMut as MessageType>::types(), MessageTypes::BYTES);
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("ld", DecoderAdapter::new(LengthDelimitedCodec::new()))
        .unwrap()
        .add_last("bytes", Takes::<Bytes>(std::marker::PhantomData))
        .unwrap();
}

#[test]
fn codec_error_is_a_corrupt_stream() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "lines",
            DecoderAdapter::new(LinesCodec::new_with_max_length(4)),
        )
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"toolong\nok\n"));
    assert!(matches!(
        ch.take_exceptions().as_slice(),
        [PipelineError::Decode(_)]
    ));
    assert!(ch.is_closed());
}

#[test]
fn encoder_adapter_counts_the_bytes_it_produces() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "ld",
            EncoderAdapter::<_, Bytes>::new(LengthDelimitedCodec::new()),
        )
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let (_, copied) = measure_copies(|| ch.write_outbound(Bytes::from_static(b"abc")));
    assert_eq!(copied, 7);
    assert_eq!(ch.read_outbound_bytes().unwrap(), &b"\0\0\0\x03abc"[..]);
}

#[test]
fn encoder_adapter_refuses_another_type() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("lines", EncoderAdapter::<_, String>::new(LinesCodec::new()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_outbound(Bytes::from_static(b"not a string"));
    assert!(matches!(
        ch.take_exceptions().as_slice(),
        [PipelineError::UnexpectedMessage { .. }]
    ));
    ch.write_outbound(Message::user(String::from("line")));
    assert_eq!(ch.read_outbound_bytes().unwrap(), &b"line\n"[..]);
}

#[test]
fn message_transforms_chain_with_type_checks() {
    #[derive(Debug, PartialEq)]
    struct Upper(String);
    impl MessageType for Upper {}
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "utf8",
            MessageDecoder::new(|b: Bytes| {
                String::from_utf8(b.to_vec()).map_err(PipelineError::decode)
            }),
        )
        .unwrap()
        .add_last(
            "upper",
            MessageDecoder::new(|s: String| Ok(Upper(s.to_uppercase()))),
        )
        .unwrap();
    // a transform that takes Bytes cannot follow one that emits Upper
    let err = p
        .handlers()
        .add_last("bytes", MessageDecoder::new(|b: BytesMut| Ok(b)))
        .unwrap_err();
    assert!(err.to_string().contains("`upper`"), "{err}");
    p.handlers()
        .add_last("enc", MessageEncoder::new(|u: Upper| Ok(Bytes::from(u.0))))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"abc"));
    let up = ch.read_inbound::<Upper>().unwrap();
    assert_eq!(up, Upper("ABC".into()));
    ch.write_outbound(Message::user(up));
    assert_eq!(ch.read_outbound_bytes().unwrap(), &b"ABC"[..]);
    // invalid UTF-8 becomes an exception
    ch.write_inbound(Bytes::from_static(b"\xff"));
    assert!(matches!(
        ch.take_exceptions().as_slice(),
        [PipelineError::Decode(_)]
    ));
}
