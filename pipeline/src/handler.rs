//! The [`Handler`] trait: one stage of a pipeline.

use std::any::Any;
use std::time::Instant;

use crate::{Context, Message, PipelineError, TypeFlow, WritePromise};

/// A stage of a [`Pipeline`](crate::Pipeline).
///
/// Every method has a default that passes the event on unchanged, so a
/// handler implements only the events it cares about. Inbound methods
/// (`channel_active` .. `channel_inactive`) see events travelling from the
/// head towards the tail; outbound methods (`write`, `flush`, `close`) see
/// operations travelling from the tail towards the head.
///
/// A handler acts through its [`Context`]: the calls it makes there are
/// queued and run, in the order made, after the method returns (see the
/// crate docs for the exact ordering). A handler never sees another call
/// while one of its methods runs.
///
/// Declare the message types the handler takes and emits in
/// [`inbound_types`](Self::inbound_types) /
/// [`outbound_types`](Self::outbound_types); the pipeline checks them when
/// the handler is added (the values are read once, then).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::{Context, EmbeddedChannel, Handler, Message, Pipeline};
///
/// /// Answers every read with "ok".
/// struct Ack;
/// impl Handler for Ack {
///     fn read(&mut self, ctx: &mut Context<'_>, _msg: Message) {
///         ctx.write(Bytes::from_static(b"ok"));
///         ctx.flush();
///     }
/// }
///
/// let mut p = Pipeline::new();
/// p.add_last("ack", Ack).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"hi"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"ok"[..]);
/// ```
#[allow(unused_variables)]
pub trait Handler: Send + 'static {
    /// What the handler takes and emits inbound. Default: pass-through.
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::PassThrough
    }

    /// What the handler takes and emits outbound. Default: pass-through.
    fn outbound_types(&self) -> TypeFlow {
        TypeFlow::PassThrough
    }

    /// Called once the handler is in the pipeline, before any event reaches it.
    fn handler_added(&mut self, ctx: &mut Context<'_>) {}

    /// Called once the handler has left the pipeline. Events it fires here
    /// travel from its old position (a decoder passes on what it buffered).
    fn handler_removed(&mut self, ctx: &mut Context<'_>) {}

    /// The channel is connected.
    fn channel_active(&mut self, ctx: &mut Context<'_>) {
        ctx.fire_channel_active();
    }

    /// A message arrived.
    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.fire_read(msg);
    }

    /// The current batch of reads is over (a good moment to flush).
    fn read_complete(&mut self, ctx: &mut Context<'_>) {
        ctx.fire_read_complete();
    }

    /// A user-defined event (such as [`IdleStateEvent`](crate::IdleStateEvent)).
    fn user_event(&mut self, ctx: &mut Context<'_>, event: Box<dyn Any + Send>) {
        ctx.fire_user_event(event);
    }

    /// An error travelling inbound. Unhandled at the tail, it closes the channel.
    fn exception(&mut self, ctx: &mut Context<'_>, err: PipelineError) {
        ctx.fire_exception(err);
    }

    /// The transport's outbound buffer crossed a watermark.
    fn writability_changed(&mut self, ctx: &mut Context<'_>, writable: bool) {
        ctx.fire_writability_changed(writable);
    }

    /// The channel is closed.
    fn channel_inactive(&mut self, ctx: &mut Context<'_>) {
        ctx.fire_channel_inactive();
    }

    /// When this handler next wants [`timer`](Self::timer) called, if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Called by [`Pipeline::fire_timer`](crate::Pipeline::fire_timer) once
    /// [`deadline`](Self::deadline) has passed; `ctx.now()` is the time.
    fn timer(&mut self, ctx: &mut Context<'_>) {}

    /// Called after [`Context::defer`]: once everything this handler queued
    /// before the `defer` call has run (with all it caused), if the handler
    /// is still in the pipeline.
    fn deferred(&mut self, ctx: &mut Context<'_>) {}

    /// A message is being written towards the head.
    fn write(&mut self, ctx: &mut Context<'_>, msg: Message, promise: Option<WritePromise>) {
        ctx.write_with_promise(msg, promise);
    }

    /// A flush is travelling towards the head.
    fn flush(&mut self, ctx: &mut Context<'_>) {
        ctx.flush();
    }

    /// A close is travelling towards the head.
    fn close(&mut self, ctx: &mut Context<'_>) {
        ctx.close();
    }
}
