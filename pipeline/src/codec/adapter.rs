//! Any `tokio_util::codec` [`Decoder`] or [`Encoder`] as a pipeline handler.
//!
//! tokio-util codecs read from and write into one `BytesMut`, so the
//! adapters copy: every byte a [`DecoderAdapter`] appends to its buffer and
//! every byte an [`EncoderAdapter`]'s encoder produces is counted with
//! `weft_buf::record_copy`. Weft's own decoders
//! ([`ByteToMessageDecoder`](crate::codec::ByteToMessageDecoder)) do not copy.
//!
//! ```
//! use bytes::Bytes;
//! use tokio_util::codec::{LengthDelimitedCodec, LinesCodec};
//! use weft_pipeline::codec::{DecoderAdapter, EncoderAdapter};
//! use weft_pipeline::{EmbeddedChannel, Pipeline};
//!
//! let mut p = Pipeline::new();
//! p.handlers().add_last("lines", DecoderAdapter::new(LinesCodec::new_with_max_length(1024)))?;
//! let mut ch = EmbeddedChannel::new(p);
//! let (_, copied) = weft_buf::measure_copies(|| ch.write_inbound(Bytes::from_static(b"hi\nyo\n")));
//! assert_eq!(ch.read_inbound::<String>().as_deref(), Some("hi"));
//! assert_eq!(ch.read_inbound::<String>().as_deref(), Some("yo"));
//! assert_eq!(copied, 6);
//!
//! let mut p = Pipeline::new();
//! p.handlers().add_last("len", EncoderAdapter::<_, Bytes>::new(LengthDelimitedCodec::new()))?;
//! let mut ch = EmbeddedChannel::new(p);
//! ch.write_outbound(Bytes::from_static(b"abc"));
//! assert_eq!(ch.read_outbound_bytes().unwrap(), &b"\0\0\0\x03abc"[..]);
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::marker::PhantomData;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};
use weft_buf::record_copy;

use weft_buf::CompositeBuf;

use crate::{
    Context, Event, Handler, Message, MessageType, MessageTypes, PipelineError, TypeFlow,
    WritePromise,
};

/// Runs a `tokio_util::codec::Decoder` as an inbound handler.
///
/// Takes `Bytes` / `Composite` messages, copies them into the codec's
/// `BytesMut` (counted), and passes on each decoded item as a message
/// ([`Message::from_value`]: `BytesMut` and `Bytes` items become
/// `Message::Bytes`, other items are boxed). A codec error is a corrupt
/// stream: it is fired as [`PipelineError::Decode`] and later input is
/// ignored, as `FramedRead` stops. At the end of the stream `decode_eof`
/// runs.
///
/// # Examples
///
/// See the [module docs](self).
pub struct DecoderAdapter<C> {
    codec: C,
    buf: BytesMut,
    failed: bool,
    ended: bool,
}

impl<C> fmt::Debug for DecoderAdapter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecoderAdapter")
            .field("codec", &std::any::type_name::<C>())
            .field("buffered", &self.buf.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl<C> DecoderAdapter<C>
where
    C: Decoder + Send + 'static,
    C::Item: MessageType,
    C::Error: StdError + Send + Sync + 'static,
{
    /// Wraps `codec`.
    ///
    /// # Examples
    ///
    /// See the [module docs](self).
    pub fn new(codec: C) -> Self {
        DecoderAdapter {
            codec,
            buf: BytesMut::new(),
            failed: false,
            ended: false,
        }
    }

    fn run(&mut self, ctx: &mut Context<'_, C::Item>, eof: bool) {
        while !self.failed {
            let res = if eof {
                self.codec.decode_eof(&mut self.buf)
            } else {
                self.codec.decode(&mut self.buf)
            };
            match res {
                Ok(Some(item)) => ctx.fire_read(item),
                Ok(None) => return,
                Err(e) => {
                    self.failed = true;
                    self.buf = BytesMut::new();
                    ctx.fire_exception(PipelineError::decode(e));
                }
            }
        }
    }
}

impl<C> Handler for DecoderAdapter<C>
where
    C: Decoder + Send + 'static,
    C::Item: MessageType,
    C::Error: StdError + Send + Sync + 'static,
{
    type In = CompositeBuf;
    type Out = C::Item;

    fn read(&mut self, ctx: &mut Context<'_, C::Item>, msg: CompositeBuf) {
        if self.failed || self.ended {
            return;
        }
        for seg in msg.segments() {
            self.buf.extend_from_slice(seg);
        }
        record_copy(msg.len());
        self.run(ctx, false);
    }

    fn event(&mut self, ctx: &mut Context<'_, C::Item>, event: Event) {
        if matches!(event, Event::Inactive) && !self.ended {
            self.ended = true;
            if !self.buf.is_empty() {
                self.run(ctx, true);
            }
        }
        ctx.fire_event(event);
    }
}

/// Runs a `tokio_util::codec::Encoder<T>` as an outbound handler.
///
/// Takes messages holding a `T` ([`Message::downcast`]), encodes each into
/// a fresh `BytesMut` (every byte produced is counted as copied, since the
/// encoder writes the item's bytes there) and writes the result on as
/// `Message::Bytes`. A message of another type, or an encoder error, fails
/// the write's promise and fires an exception.
///
/// # Examples
///
/// See the [module docs](self).
pub struct EncoderAdapter<E, T> {
    encoder: E,
    _item: PhantomData<fn(T)>,
}

impl<E, T> fmt::Debug for EncoderAdapter<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncoderAdapter")
            .field("encoder", &std::any::type_name::<E>())
            .field("item", &std::any::type_name::<T>())
            .finish()
    }
}

impl<E, T> EncoderAdapter<E, T>
where
    E: Encoder<T> + Send + 'static,
    E::Error: StdError + Send + Sync + 'static,
    T: Any + Send,
{
    /// Wraps `encoder`.
    ///
    /// # Examples
    ///
    /// See the [module docs](self).
    pub fn new(encoder: E) -> Self {
        EncoderAdapter {
            encoder,
            _item: PhantomData,
        }
    }
}

fn fail(ctx: &mut Context<'_>, promise: Option<WritePromise>, err: PipelineError) {
    if let Some(p) = promise {
        p.fail(io::Error::new(io::ErrorKind::InvalidInput, err.to_string()));
    }
    ctx.fire_exception(err);
}

impl<E, T> Handler for EncoderAdapter<E, T>
where
    E: Encoder<T> + Send + 'static,
    E::Error: StdError + Send + Sync + 'static,
    T: Any + Send,
{
    type In = Message;
    type Out = Message;

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.fire_read(msg);
    }

    fn outbound_types(&self) -> TypeFlow {
        TypeFlow::transform(MessageTypes::of::<T>(), MessageTypes::BYTES)
    }

    fn write(&mut self, ctx: &mut Context<'_>, msg: Message, promise: Option<WritePromise>) {
        let item = match msg.downcast::<T>() {
            Ok(item) => item,
            Err(other) => {
                let err = PipelineError::UnexpectedMessage {
                    handler: ctx.name().to_string(),
                    got: other.kind().to_string(),
                };
                return fail(ctx, promise, err);
            }
        };
        let mut dst = BytesMut::new();
        match self.encoder.encode(item, &mut dst) {
            Ok(()) => {
                record_copy(dst.len());
                ctx.write_with_promise(dst.freeze(), promise);
            }
            Err(e) => fail(ctx, promise, PipelineError::encode(e)),
        }
    }
}
