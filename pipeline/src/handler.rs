//! The [`Handler`] trait: one typed stage of a pipeline, and the
//! [`Event`]s that are not messages.

use std::time::Instant;

use crate::{Batch, Context, Message, MessageType, PipelineError, TypeFlow, Value, WritePromise};

/// An inbound event that is not a message: what [`Handler::event`] sees.
///
/// # Examples
///
/// ```
/// use weft_pipeline::Event;
/// assert!(matches!(Event::Writability(false), Event::Writability(w) if !w));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The channel is connected.
    Active,
    /// The current batch of reads is over (a good moment to flush).
    ReadComplete,
    /// The transport's outbound buffer crossed a watermark: `false` above
    /// the high one, `true` again below the low one.
    Writability(bool),
    /// A user-defined event (such as [`IdleStateEvent`](crate::IdleStateEvent)).
    User(Value),
    /// An error travelling inbound. Unhandled at the tail, it closes the channel.
    Exception(PipelineError),
    /// The channel is closed.
    Inactive,
}

/// A stage of a [`Pipeline`](crate::Pipeline), typed by what it takes
/// ([`In`](Self::In)) and what it hands on ([`Out`](Self::Out)).
///
/// A handler implements [`read`](Self::read) and, when it needs them,
/// [`event`](Self::event) and the outbound methods; everything else has a
/// default that passes the event on. It receives its own message type —
/// no `Box<dyn Any>`, no downcast — and its [`Context`] only lets it hand
/// on an `Out`. The pipeline checks, when a handler is added, removed or
/// replaced, that each handler's `Out` is what the next one takes, and
/// refuses the change naming both handlers (see
/// [`PipelineError::TypeMismatch`]). [`Message`] as `In` and `Out` is the
/// "any message" type of a handler that does not care (a logger, an idle
/// timer).
///
/// A handler never sees another call while one of its methods runs: what
/// it does through its context is queued and runs, in order, after the
/// method returns (see the crate docs).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::CompositeBuf;
/// use weft_pipeline::{Context, EmbeddedChannel, Handler, Nothing, Pipeline};
///
/// /// Answers every frame with "ok".
/// struct Ack;
/// impl Handler for Ack {
///     type In = CompositeBuf;
///     type Out = Nothing;
///     fn read(&mut self, ctx: &mut Context<'_, Nothing>, _frame: CompositeBuf) {
///         ctx.write(Bytes::from_static(b"ok"));
///         ctx.flush();
///     }
/// }
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("ack", Ack)?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"hi"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"ok"[..]);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[allow(unused_variables)]
pub trait Handler: Send + 'static {
    /// What this handler takes inbound.
    type In: MessageType;
    /// What it hands on to the next handler ([`Nothing`](crate::Nothing)
    /// for a handler that consumes everything).
    type Out: MessageType;

    /// A message arrived.
    fn read(&mut self, ctx: &mut Context<'_, Self::Out>, msg: Self::In);

    /// Several messages arrived together: every frame cut from one read
    /// comes in one batch. The default calls [`read`](Self::read) for
    /// each; a handler that answers a batch with one write overrides it.
    fn read_batch(&mut self, ctx: &mut Context<'_, Self::Out>, batch: Batch<'_, Self::In>) {
        for msg in batch {
            self.read(ctx, msg);
        }
    }

    /// An inbound event that is not a message. The default passes it on.
    fn event(&mut self, ctx: &mut Context<'_, Self::Out>, event: Event) {
        ctx.fire_event(event);
    }

    /// A message is being written towards the head. The default passes it on.
    fn write(
        &mut self,
        ctx: &mut Context<'_, Self::Out>,
        msg: Message,
        promise: Option<WritePromise>,
    ) {
        ctx.write_with_promise(msg, promise);
    }

    /// A flush is travelling towards the head. The default passes it on.
    fn flush(&mut self, ctx: &mut Context<'_, Self::Out>) {
        ctx.flush();
    }

    /// A close is travelling towards the head. The default passes it on.
    fn close(&mut self, ctx: &mut Context<'_, Self::Out>) {
        ctx.close();
    }

    /// What this handler takes and emits *outbound*, for the chain's check.
    /// Default: pass-through (it writes bytes, or passes writes on).
    fn outbound_types(&self) -> TypeFlow {
        TypeFlow::PassThrough
    }

    /// Called once the handler is in the pipeline, before any event reaches it.
    fn handler_added(&mut self, ctx: &mut Context<'_, Self::Out>) {}

    /// Called once the handler has left the pipeline. Events it fires here
    /// travel from its old position (a decoder passes on what it buffered).
    fn handler_removed(&mut self, ctx: &mut Context<'_, Self::Out>) {}

    /// When this handler next wants [`timer`](Self::timer) called, if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Called once [`deadline`](Self::deadline) has passed; `ctx.now()` is the time.
    fn timer(&mut self, ctx: &mut Context<'_, Self::Out>) {}

    /// Called after [`Context::defer`]: once everything this handler queued
    /// before the `defer` call has run (with all it caused), if the handler
    /// is still in the pipeline.
    fn deferred(&mut self, ctx: &mut Context<'_, Self::Out>) {}
}
