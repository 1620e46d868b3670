//! The broker's request decoder: cuts [`LogFrame`]s out of a connection's
//! reads with [`decode_request`], for a
//! [`ByteToMessageDecoder`](weft_pipeline::codec::ByteToMessageDecoder).
//!
//! A produce request's records are slices of the reads they came in
//! (segments of the cumulation), so they reach the segment file's
//! `writev` without a copy.

use weft_buf::CompositeBuf;
use weft_pipeline::codec::FrameDecoder;
use weft_pipeline::{Context, MessageType, PipelineError};

use super::protocol::{decode_request, BadRequest, Request};

/// What the decoder hands the handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogFrame {
    /// A well-formed request.
    Request(Request),
    /// A request to answer with an error.
    Bad(BadRequest),
}

impl MessageType for LogFrame {}

// A frame travels inline in the pipeline, with no allocation of its own.
const _: () = assert!(weft_pipeline::Value::fits_inline::<LogFrame>());

/// Cuts request frames out of the cumulation ([`decode_request`]). After a
/// fatal error (a frame length over the limit) it ignores the rest.
///
/// # Examples
///
/// ```
/// use weft_pipeline::codec::ByteToMessageDecoder;
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
/// use weft_examples::log::{protocol::encode_fetch, decoder::{LogDecoder, LogFrame}};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("d", ByteToMessageDecoder::new(LogDecoder::default()))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(encode_fetch(3, 100, 0));
/// assert!(matches!(ch.read_inbound::<LogFrame>(), Some(LogFrame::Request(_))));
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug, Default)]
pub struct LogDecoder {
    failed: bool,
}

impl FrameDecoder for LogDecoder {
    type Frame = LogFrame;

    fn decode(
        &mut self,
        _ctx: &mut Context<'_, LogFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<LogFrame>, PipelineError> {
        if self.failed {
            buf.clear();
            return Ok(None);
        }
        match decode_request(buf) {
            Ok(Some(req)) => Ok(Some(LogFrame::Request(req))),
            Ok(None) => Ok(None),
            Err(bad) => {
                if bad.fatal {
                    self.failed = true;
                    buf.clear();
                }
                Ok(Some(LogFrame::Bad(bad)))
            }
        }
    }

    fn decode_eof(
        &mut self,
        ctx: &mut Context<'_, LogFrame>,
        buf: &mut CompositeBuf,
    ) -> Result<Option<LogFrame>, PipelineError> {
        let out = self.decode(ctx, buf)?;
        if out.is_none() {
            buf.clear(); // a request cut short by the client's close
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use weft_pipeline::codec::ByteToMessageDecoder;
    use weft_pipeline::{EmbeddedChannel, Pipeline};

    use super::*;
    use crate::log::protocol::{encode_fetch, encode_produce};

    fn concat(frames: &[Bytes]) -> Bytes {
        frames.concat().into()
    }

    #[test]
    fn the_decoder_cuts_requests_split_across_reads_without_copying() {
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("d", ByteToMessageDecoder::new(LogDecoder::default()))
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        let stream = concat(&[
            encode_produce(&[&b"alpha"[..], b"beta"]),
            encode_fetch(9, 1, 2),
        ]);
        // Cut inside the first length, a record, and the fetch.
        let cuts = [0, 3, 11, 30, stream.len()];
        let ((), copied) = weft_buf::measure_copies(|| {
            for read in cuts.windows(2) {
                ch.write_inbound(stream.slice(read[0]..read[1]));
            }
        });
        assert_eq!(copied, 0);
        let Some(LogFrame::Request(Request::Produce(records))) = ch.read_inbound::<LogFrame>()
        else {
            panic!("a produce request");
        };
        assert_eq!(records, [&b"alpha"[..], b"beta"]);
        assert!(matches!(
            ch.read_inbound::<LogFrame>(),
            Some(LogFrame::Request(Request::Fetch {
                offset: 9,
                max_bytes: 1,
                max_wait_ms: 2
            }))
        ));
        assert_eq!(ch.inbound_len(), 0);
    }
}
