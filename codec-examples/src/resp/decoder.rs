//! [`RespDecoder`]: the RESP request parser as a [`FrameDecoder`], run by
//! a [`ByteToMessageDecoder`](weft_pipeline::codec::ByteToMessageDecoder)
//! that holds the reads; it hands on one [`RespFrame`] per request.

use weft_buf::CompositeBuf;
use weft_pipeline::codec::FrameDecoder;
use weft_pipeline::{Context, MessageType, PipelineError};

use super::parser::RequestParser;
use super::protocol::ProtocolError;
use super::request::Request;

/// What the decoder hands on: a request, or the protocol error that ends
/// the stream. It travels inline in the message (no allocation).
#[derive(Debug)]
#[non_exhaustive]
pub enum RespFrame {
    /// One request (command name and arguments).
    Request(Request),
    /// The stream is corrupt: answer this and close.
    ProtocolError(ProtocolError),
}

impl MessageType for RespFrame {}

// Checked here as well as in a test: a frame that no longer fits would
// cost an allocation per request.
const _: () = assert!(weft_pipeline::Value::fits_inline::<RespFrame>());

/// Cuts RESP requests out of the cumulation with a [`RequestParser`].
///
/// Lengths are checked against the limits of
/// [`protocol`](super::protocol) before anything waits for or allocates
/// what a header announces. After a protocol error it hands on that error
/// once and ignores the rest of the stream (the handler answers and
/// closes, as Redis does). A request cut short by the peer's close is
/// dropped without an error, as Redis does.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::codec::ByteToMessageDecoder;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
/// use weft_examples::resp::decoder::{RespDecoder, RespFrame};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("decoder", ByteToMessageDecoder::new(RespDecoder::new()))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"PING\r\n*1\r\n$2147483648\r\n"));
/// let Some(RespFrame::Request(req)) = ch.read_inbound::<RespFrame>() else { panic!() };
/// assert_eq!(req.arg(0).unwrap(), &b"PING"[..]);
/// let Some(RespFrame::ProtocolError(e)) = ch.read_inbound::<RespFrame>() else { panic!() };
/// assert_eq!(e.to_string(), "Protocol error: invalid bulk length");
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug, Default)]
pub struct RespDecoder {
    parser: RequestParser,
    failed: bool,
}

impl RespDecoder {
    /// A decoder waiting for the first request.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn new() -> RespDecoder {
        RespDecoder::default()
    }
}

impl FrameDecoder for RespDecoder {
    type Frame = RespFrame;

    fn decode(
        &mut self,
        _ctx: &mut Context<'_, RespFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<RespFrame>, PipelineError> {
        if self.failed {
            buf.clear();
            return Ok(None);
        }
        match self.parser.decode(buf) {
            Ok(Some(req)) => Ok(Some(RespFrame::Request(req))),
            Ok(None) => Ok(None),
            Err(e) => {
                // Everything after a protocol error is ignored, as Redis
                // does while it closes the connection.
                self.failed = true;
                buf.clear();
                Ok(Some(RespFrame::ProtocolError(e)))
            }
        }
    }

    fn decode_eof(
        &mut self,
        ctx: &mut Context<'_, RespFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<RespFrame>, PipelineError> {
        let out = self.decode(ctx, buf)?;
        if out.is_none() {
            // A request cut short by the peer's close is dropped, as Redis does.
            buf.clear();
        }
        Ok(out)
    }
}
