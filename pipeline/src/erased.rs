//! How the named chain calls typed handlers: the one place messages are
//! converted to and from a handler's own types.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::time::Instant;

use crate::context::Core;
use crate::{Context, Event, Handler, Message, MessageType, PipelineError, TypeFlow, WritePromise};

/// The messages of one batch, as the handler's own type `T`: an iterator
/// that converts each [`Message`] as it is taken (no allocation, no copy).
///
/// A message that is not a `T` (possible only behind a neighbour that
/// emits [`Message`], "any") is skipped, and reported after the handler
/// returns as a [`PipelineError::UnexpectedMessage`] exception.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::CompositeBuf;
/// use weft_pipeline::{Batch, Context, EmbeddedChannel, Handler, Nothing, Pipeline};
/// use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
///
/// /// Answers all the lines of one read with one write.
/// struct Count;
/// impl Handler for Count {
///     type In = CompositeBuf;
///     type Out = Nothing;
///     fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _line: CompositeBuf) {}
///     fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, lines: Batch<'_, CompositeBuf>) {
///         ctx.write_and_flush(Bytes::from(format!("{} lines\n", lines.len())));
///     }
/// }
///
/// let mut p = Pipeline::new();
/// p.handlers()
///     .add_last("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(80)))?
///     .add_last("count", Count)?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"a\nb\nc\n"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"3 lines\n"[..]);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
pub struct Batch<'a, T> {
    msgs: std::vec::Drain<'a, Message>,
    rejected: &'a mut Option<(usize, String)>,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Batch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("left", &self.msgs.len())
            .finish()
    }
}

impl<T: MessageType> Iterator for Batch<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        for m in self.msgs.by_ref() {
            match T::from_message(m) {
                Ok(t) => return Some(t),
                Err(m) => {
                    let r = self
                        .rejected
                        .get_or_insert_with(|| (0, m.kind().to_string()));
                    r.0 += 1;
                }
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.msgs.len()))
    }
}

impl<T: MessageType> Batch<'_, T> {
    /// Messages left in the batch (an upper bound on the items left, exact
    /// unless some are not a `T`).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// True if no message is left.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Batch, Context, Handler, Nothing};
    /// struct H;
    /// impl Handler for H {
    ///     type In = bytes::Bytes;
    ///     type Out = Nothing;
    ///     fn read(&mut self, _: &mut Context<'_, Nothing>, _: bytes::Bytes) {}
    ///     fn read_batch(&mut self, _: &mut Context<'_, Nothing>, b: Batch<'_, bytes::Bytes>) {
    ///         assert!(!b.is_empty());
    ///     }
    /// }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.msgs.len() == 0
    }
}

/// A handler as the chain stores it: its typed methods behind one vtable.
pub(crate) trait Erased: Send {
    fn inbound_types(&self) -> TypeFlow;
    fn outbound_types(&self) -> TypeFlow;
    fn deadline(&self) -> Option<Instant>;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn on_reads(&mut self, core: Core<'_>, batch: &mut Vec<Message>);
    fn on_event(&mut self, core: Core<'_>, event: Event);
    fn on_write(&mut self, core: Core<'_>, msg: Message, promise: Option<WritePromise>);
    fn on_flush(&mut self, core: Core<'_>);
    fn on_close(&mut self, core: Core<'_>);
    fn on_added(&mut self, core: Core<'_>);
    fn on_removed(&mut self, core: Core<'_>);
    fn on_timer(&mut self, core: Core<'_>);
    fn on_deferred(&mut self, core: Core<'_>);
}

impl<H: Handler> Erased for H {
    fn inbound_types(&self) -> TypeFlow {
        let (takes, emits) = (H::In::types(), H::Out::types());
        if takes.is_any() && emits.is_any() {
            TypeFlow::PassThrough
        } else {
            TypeFlow::transform(takes, emits)
        }
    }

    fn outbound_types(&self) -> TypeFlow {
        Handler::outbound_types(self)
    }

    fn deadline(&self) -> Option<Instant> {
        Handler::deadline(self)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn on_reads(&mut self, core: Core<'_>, batch: &mut Vec<Message>) {
        let mut ctx = Context::new(core);
        let mut rejected = None;
        let msgs = Batch {
            msgs: batch.drain(..),
            rejected: &mut rejected,
            _t: PhantomData,
        };
        self.read_batch(&mut ctx, msgs);
        if let Some((n, got)) = rejected {
            let handler = ctx.name().to_string();
            tracing::debug!(%handler, %got, n, "messages of a type the handler does not take");
            ctx.fire_exception(PipelineError::UnexpectedMessage { handler, got });
        }
    }

    fn on_event(&mut self, core: Core<'_>, event: Event) {
        self.event(&mut Context::new(core), event);
    }

    fn on_write(&mut self, core: Core<'_>, msg: Message, promise: Option<WritePromise>) {
        self.write(&mut Context::new(core), msg, promise);
    }

    fn on_flush(&mut self, core: Core<'_>) {
        self.flush(&mut Context::new(core));
    }

    fn on_close(&mut self, core: Core<'_>) {
        self.close(&mut Context::new(core));
    }

    fn on_added(&mut self, core: Core<'_>) {
        self.handler_added(&mut Context::new(core));
    }

    fn on_removed(&mut self, core: Core<'_>) {
        self.handler_removed(&mut Context::new(core));
    }

    fn on_timer(&mut self, core: Core<'_>) {
        self.timer(&mut Context::new(core));
    }

    fn on_deferred(&mut self, core: Core<'_>) {
        self.deferred(&mut Context::new(core));
    }
}
