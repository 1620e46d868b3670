//! The example servers' request decoders (HTTP head, RESP, the log
//! protocol), fed once whole and once cut at fuzzer-chosen points: both
//! runs must give the same requests and the same errors, without a panic
//! and without a decode step that neither consumes nor waits.
//!
//! Shared by the libFuzzer targets and
//! `codec-examples/tests/hardening_decoders.rs` (through `#[path]`).

use bytes::Bytes;
use weft_buf::CompositeBuf;
use weft_examples::http::{HttpDecoder, HttpFrame};
use weft_examples::log::protocol::{decode_request, BadRequest, Request as LogRequest};
use weft_examples::resp::parser::RequestParser;
use weft_examples::resp::protocol::ProtocolError;
use weft_pipeline::codec::ByteToMessageDecoder;
use weft_pipeline::{EmbeddedChannel, Pipeline};

use crate::input::{chunks, raw_cuts, Input};

fn http_run(parts: &[&[u8]]) -> Vec<HttpFrame> {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("http", ByteToMessageDecoder::new(HttpDecoder::new()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let mut out = Vec::new();
    for part in parts {
        ch.write_inbound(Bytes::copy_from_slice(part));
        while let Some(frame) = ch.read_inbound::<HttpFrame>() {
            out.push(frame);
        }
        assert_eq!(ch.inbound_len(), 0, "HTTP decoder passed on a non-frame");
    }
    ch.finish();
    while let Some(frame) = ch.read_inbound::<HttpFrame>() {
        out.push(frame);
    }
    assert!(
        ch.take_exceptions().is_empty(),
        "HTTP decoder raised an exception"
    );
    out
}

/// `HttpDecoder` in a `ByteToMessageDecoder`, through an `EmbeddedChannel`.
pub fn http_head(data: &[u8]) {
    let mut input = Input::new(data);
    let cuts = raw_cuts(&mut input);
    let payload = input.rest();
    let whole = http_run(&[payload]);
    let split = http_run(&chunks(payload, &cuts));
    assert_eq!(whole, split, "cut at {cuts:?} of {} bytes", payload.len());
    // An invalid head ends the connection: nothing may follow it.
    if let Some(i) = whole
        .iter()
        .position(|f| !matches!(f, HttpFrame::Request(_)))
    {
        assert_eq!(i + 1, whole.len(), "frames after {:?}", whole[i]);
    }
}

/// RESP outcome of one request: its arguments, or the error that ends the
/// connection.
type RespOutcome = Result<Vec<Vec<u8>>, ProtocolError>;

fn resp_run(parts: &[&[u8]], total: usize) -> Vec<RespOutcome> {
    let mut parser = RequestParser::new();
    let mut buf = CompositeBuf::new();
    let mut out = Vec::new();
    for part in parts {
        buf.push(Bytes::copy_from_slice(part));
        // Every request takes at least one byte (an error ends the stream).
        for step in 0.. {
            assert!(step <= total + 1, "RESP parser does not progress");
            match parser.decode(&mut buf) {
                Ok(Some(req)) => {
                    out.push(Ok(req.args().map(|a| a.to_bytes().to_vec()).collect()));
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

/// `resp::parser::RequestParser`.
pub fn resp(data: &[u8]) {
    let mut input = Input::new(data);
    let cuts = raw_cuts(&mut input);
    let payload = input.rest();
    let whole = resp_run(&[payload], payload.len());
    let split = resp_run(&chunks(payload, &cuts), payload.len());
    assert_eq!(whole, split, "cut at {cuts:?} of {} bytes", payload.len());
    for req in whole.iter().flatten() {
        assert!(!req.is_empty(), "an empty request was passed on");
    }
}

type LogOutcome = Result<LogRequest, BadRequest>;

fn log_run(parts: &[&[u8]], total: usize) -> Vec<LogOutcome> {
    let mut buf = CompositeBuf::new();
    let mut out = Vec::new();
    for part in parts {
        buf.push(Bytes::copy_from_slice(part));
        for step in 0.. {
            assert!(step <= total + 1, "log decoder does not progress");
            let before = buf.len();
            match decode_request(&mut buf) {
                Ok(Some(req)) => {
                    assert!(buf.len() < before, "a request consumed no bytes");
                    out.push(Ok(req));
                }
                Ok(None) => break,
                Err(e) => {
                    let fatal = e.fatal;
                    out.push(Err(e));
                    if fatal {
                        return out;
                    }
                    assert!(
                        buf.len() < before,
                        "a non-fatal bad request consumed no bytes"
                    );
                }
            }
        }
    }
    out
}

/// `log::protocol::decode_request`.
pub fn log_protocol(data: &[u8]) {
    let mut input = Input::new(data);
    let cuts = raw_cuts(&mut input);
    let payload = input.rest();
    let whole = log_run(&[payload], payload.len());
    let split = log_run(&chunks(payload, &cuts), payload.len());
    assert_eq!(whole, split, "cut at {cuts:?} of {} bytes", payload.len());
}
