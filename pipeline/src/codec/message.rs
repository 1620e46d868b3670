//! Typed message-to-message transforms from closures.
//!
//! ```
//! use bytes::Bytes;
//! use weft_pipeline::codec::{MessageDecoder, MessageEncoder};
//! use weft_pipeline::{EmbeddedChannel, Pipeline, PipelineError};
//!
//! let mut p = Pipeline::new();
//! // inbound: Bytes -> String
//! p.handlers().add_last("utf8", MessageDecoder::new(|b: Bytes| {
//!     String::from_utf8(b.to_vec()).map_err(PipelineError::decode)
//! }))?;
//! // outbound: String -> Bytes
//! p.handlers().add_last("text", MessageEncoder::new(|s: String| Ok(Bytes::from(s))))?;
//! let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"hi"));
//! assert_eq!(ch.read_inbound::<String>().as_deref(), Some("hi"));
//! ch.write_outbound(weft_pipeline::Message::user(String::from("yo")));
//! assert_eq!(ch.read_outbound_bytes().unwrap(), &b"yo"[..]);
//! # Ok::<(), PipelineError>(())
//! ```

use std::any::Any;
use std::fmt;
use std::io;
use std::marker::PhantomData;

use crate::{
    Context, Handler, Message, MessageType, MessageTypes, PipelineError, TypeFlow, WritePromise,
};

/// An inbound handler turning each `In` into an `Out` with a closure.
///
/// `In` and `Out` may be `Bytes`, `CompositeBuf`, `FileRegion` or any user
/// type; the handler declares them, so the pipeline checks its neighbours.
/// An `Err` from the closure is fired as an exception; a message that is
/// not an `In` too ([`PipelineError::UnexpectedMessage`]).
///
/// # Examples
///
/// See the [module docs](self).
pub struct MessageDecoder<In, Out, F> {
    f: F,
    _types: PhantomData<fn(In) -> Out>,
}

impl<In, Out, F> fmt::Debug for MessageDecoder<In, Out, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageDecoder")
            .field("in", &std::any::type_name::<In>())
            .field("out", &std::any::type_name::<Out>())
            .finish()
    }
}

impl<In, Out, F> MessageDecoder<In, Out, F>
where
    In: Any + Send,
    Out: Any + Send,
    F: FnMut(In) -> Result<Out, PipelineError> + Send + 'static,
{
    /// A decoder applying `f` to every inbound `In`.
    ///
    /// # Examples
    ///
    /// See the [module docs](self).
    pub fn new(f: F) -> Self {
        MessageDecoder {
            f,
            _types: PhantomData,
        }
    }
}

impl<In, Out, F> Handler for MessageDecoder<In, Out, F>
where
    In: MessageType,
    Out: MessageType,
    F: FnMut(In) -> Result<Out, PipelineError> + Send + 'static,
{
    type In = In;
    type Out = Out;

    fn read(&mut self, ctx: &mut Context<'_, Out>, msg: In) {
        match (self.f)(msg) {
            Ok(out) => ctx.fire_read(out),
            Err(e) => ctx.fire_exception(e),
        }
    }
}

/// An outbound handler turning each `In` written into an `Out` with a
/// closure. An `Err` fails the write's promise and is fired as an exception.
///
/// # Examples
///
/// See the [module docs](self).
pub struct MessageEncoder<In, Out, F> {
    f: F,
    _types: PhantomData<fn(In) -> Out>,
}

impl<In, Out, F> fmt::Debug for MessageEncoder<In, Out, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageEncoder")
            .field("in", &std::any::type_name::<In>())
            .field("out", &std::any::type_name::<Out>())
            .finish()
    }
}

impl<In, Out, F> MessageEncoder<In, Out, F>
where
    In: Any + Send,
    Out: Any + Send,
    F: FnMut(In) -> Result<Out, PipelineError> + Send + 'static,
{
    /// An encoder applying `f` to every outbound `In`.
    ///
    /// # Examples
    ///
    /// See the [module docs](self).
    pub fn new(f: F) -> Self {
        MessageEncoder {
            f,
            _types: PhantomData,
        }
    }
}

impl<In, Out, F> Handler for MessageEncoder<In, Out, F>
where
    In: Any + Send,
    Out: Any + Send,
    F: FnMut(In) -> Result<Out, PipelineError> + Send + 'static,
{
    type In = Message;
    type Out = Message;

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.fire_read(msg);
    }

    fn outbound_types(&self) -> TypeFlow {
        TypeFlow::transform(MessageTypes::of::<In>(), MessageTypes::of::<Out>())
    }

    fn write(&mut self, ctx: &mut Context<'_>, msg: Message, promise: Option<WritePromise>) {
        let res = match msg.downcast::<In>() {
            Ok(v) => (self.f)(v),
            Err(other) => Err(PipelineError::UnexpectedMessage {
                handler: ctx.name().to_string(),
                got: other.kind().to_string(),
            }),
        };
        match res {
            Ok(out) => ctx.write_with_promise(Message::from_value(out), promise),
            Err(e) => {
                if let Some(p) = promise {
                    p.fail(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()));
                }
                ctx.fire_exception(e);
            }
        }
    }
}
