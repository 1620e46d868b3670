//! [`Context`]: how a handler acts on its pipeline and its channel.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Instant;

use futures::FutureExt;

use crate::chain::{Chain, Ev, EventQueue, Inbound, Origin, Outbound};
use crate::head::{Continuation, Task, TaskDone};
use crate::{
    Event, Handler, Handlers, Head, Message, MessageType, PipelineError, Value, WritePromise,
};

/// The untyped part of a context: where the handler sits and what it may reach.
pub(crate) struct Core<'a> {
    pub(crate) chain: &'a mut Chain,
    pub(crate) queue: &'a mut EventQueue,
    pub(crate) head: &'a mut dyn Head,
    pub(crate) id: u64,
    pub(crate) now: Instant,
    /// The first queue slot of this call's events.
    pub(crate) start: usize,
}

/// A handler's view of its pipeline, given to every [`Handler`] method;
/// `O` is what the handler hands on ([`Handler::Out`]).
///
/// Everything a handler does here is queued and runs after the method
/// returns, in the order it was asked for (see the crate docs, "Ordering").
/// Events travel from this handler's position:
///
/// - [`fire_read`](Self::fire_read) and the other `fire_*` go to the next
///   handler towards the tail; consecutive reads fired in one call travel
///   as one batch ([`Handler::read_batch`]);
/// - [`write`](Self::write), [`flush`](Self::flush), [`close`](Self::close)
///   go to the next handler towards the head, *skipping the handlers after
///   this one* (Netty's `ctx.write`);
/// - [`write_from_tail`](Self::write_from_tail) starts at the tail and
///   passes every outbound handler (Netty's `channel.write`);
/// - [`set_auto_read`](Self::set_auto_read) and
///   [`is_writable`](Self::is_writable) reach the channel at once.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::{Context, EmbeddedChannel, Handler, Pipeline};
///
/// /// Echoes each read back and passes it on.
/// struct Echo;
/// impl Handler for Echo {
///     type In = Bytes;
///     type Out = Bytes;
///     fn read(&mut self, ctx: &mut Context<'_, Bytes>, msg: Bytes) {
///         ctx.write_and_flush(msg.clone());
///         ctx.fire_read(msg);
///     }
/// }
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("echo", Echo)?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"ping"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"ping"[..]);
/// assert_eq!(ch.read_inbound::<Bytes>().unwrap(), &b"ping"[..]);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
pub struct Context<'a, O = Message> {
    pub(crate) core: Core<'a>,
    _out: PhantomData<fn(O)>,
}

impl<O> fmt::Debug for Context<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("handler", &self.core.chain.name_of(self.core.id))
            .field("now", &self.core.now)
            .finish()
    }
}

impl<'a, O: MessageType> Context<'a, O> {
    pub(crate) fn new(core: Core<'a>) -> Self {
        Context {
            core,
            _out: PhantomData,
        }
    }

    fn me(&self) -> Origin {
        Origin::Handler(self.core.id)
    }

    fn outbound(&mut self, ev: Outbound) {
        let me = self.me();
        self.core.queue.push(Ev::Out(me, ev));
    }

    /// The name this handler was added under.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct Named;
    /// impl Handler for Named {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         assert_eq!(ctx.name(), "n");
    ///         ctx.fire_read(msg);
    ///     }
    /// }
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.handlers().add_last("n", Named).unwrap();
    /// p.fire_read(bytes::Bytes::new().into());
    /// ```
    pub fn name(&self) -> &str {
        self.core.chain.name_of(self.core.id)
    }

    /// The pipeline's current time (set by the transport or the embedded
    /// channel's virtual clock), never read from the system clock here.
    ///
    /// # Examples
    ///
    /// See [`IdleStateHandler`](crate::IdleStateHandler).
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// True unless the channel's outbound buffer is above its high
    /// watermark (asked of the channel itself, the one owner of this state).
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct W;
    /// impl Handler for W {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         if ctx.is_writable() { ctx.write(msg) } else { ctx.set_auto_read(false) }
    ///     }
    /// }
    /// # let mut p = weft_pipeline::Pipeline::new(); p.handlers().add_last("w", W).unwrap();
    /// ```
    pub fn is_writable(&self) -> bool {
        self.core.head.is_writable()
    }

    /// Hands a message to the next handler towards the tail. Reads fired
    /// one after another in one call reach it as one batch.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    #[inline]
    pub fn fire_read(&mut self, msg: O) {
        let me = self.me();
        self.core
            .queue
            .push_read(me, self.core.start, msg.into_message());
    }

    /// Passes an event on to the next handler (what [`Handler::event`]'s
    /// default does).
    ///
    /// # Examples
    ///
    /// See [`Handler::event`].
    pub fn fire_event(&mut self, event: Event) {
        let me = self.me();
        self.core.queue.push(Ev::In(me, Inbound::Event(event)));
    }

    /// Passes "read complete" on.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct Batcher;
    /// impl Handler for Batcher {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         ctx.fire_read(msg);
    ///         ctx.fire_read_complete();
    ///     }
    /// }
    /// ```
    pub fn fire_read_complete(&mut self) {
        self.fire_event(Event::ReadComplete);
    }

    /// Sends a user event towards the tail (no allocation for small values).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Message, Pipeline};
    /// struct Tell;
    /// impl Handler for Tell {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, _m: Message) {
    ///         ctx.fire_user_event("seen");
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("tell", Tell).unwrap();
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(bytes::Bytes::from_static(b"x"));
    /// assert_eq!(ch.read_user_event::<&str>(), Some("seen"));
    /// ```
    pub fn fire_user_event<T: Any + Send>(&mut self, event: T) {
        self.fire_event(Event::User(Value::new(event)));
    }

    /// Passes an error on as an exception event. Unhandled at the tail, it
    /// closes the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Message, Pipeline, PipelineError};
    /// struct Strict;
    /// impl Handler for Strict {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, _m: Message) {
    ///         ctx.fire_exception(PipelineError::decode("unexpected input"));
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("strict", Strict).unwrap();
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(bytes::Bytes::from_static(b"x"));
    /// assert!(ch.is_closed());
    /// ```
    pub fn fire_exception(&mut self, err: PipelineError) {
        self.fire_event(Event::Exception(err));
    }

    /// Writes a message towards the head, starting at the handler before
    /// this one. Not flushed until a flush follows.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn write(&mut self, msg: impl Into<Message>) {
        self.outbound(Outbound::Write(msg.into(), None));
    }

    /// Like [`write`](Self::write), with a promise completed when the
    /// bytes reach the kernel (or fail).
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message, WritePromise};
    /// struct Tracked;
    /// impl Handler for Tracked {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         let (promise, _done) = WritePromise::new();
    ///         ctx.write_with_promise(msg, Some(promise));
    ///     }
    /// }
    /// ```
    pub fn write_with_promise(&mut self, msg: impl Into<Message>, promise: Option<WritePromise>) {
        self.outbound(Outbound::Write(msg.into(), promise));
    }

    /// [`write`](Self::write) then [`flush`](Self::flush).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn write_and_flush(&mut self, msg: impl Into<Message>) {
        self.write(msg);
        self.flush();
    }

    /// Flushes towards the head, starting at the handler before this one.
    ///
    /// # Examples
    ///
    /// See [`Handler`].
    pub fn flush(&mut self) {
        self.outbound(Outbound::Flush);
    }

    /// Asks for the channel to close, starting at the handler before this one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, EmbeddedChannel, Handler, Message, Pipeline};
    /// struct Bye;
    /// impl Handler for Bye {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, _m: Message) { ctx.close(); }
    /// }
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("bye", Bye).unwrap();
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(bytes::Bytes::from_static(b"quit"));
    /// assert!(ch.is_closed());
    /// ```
    pub fn close(&mut self) {
        self.outbound(Outbound::Close);
    }

    /// Switches reading from the socket on or off. Goes to the channel at
    /// once: it is channel state, not an outbound event.
    ///
    /// # Examples
    ///
    /// See [`is_writable`](Self::is_writable).
    pub fn set_auto_read(&mut self, on: bool) {
        self.core.head.set_auto_read(on);
    }

    /// Writes a message from the tail, through every outbound handler
    /// (Netty's `channel.write`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct FromTail;
    /// impl Handler for FromTail {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         ctx.write_from_tail(msg, None);
    ///         ctx.flush_from_tail();
    ///     }
    /// }
    /// ```
    pub fn write_from_tail(&mut self, msg: impl Into<Message>, promise: Option<WritePromise>) {
        self.core
            .queue
            .push(Ev::Out(Origin::Tail, Outbound::Write(msg.into(), promise)));
    }

    /// Flushes from the tail, through every outbound handler.
    ///
    /// # Examples
    ///
    /// See [`write_from_tail`](Self::write_from_tail).
    pub fn flush_from_tail(&mut self) {
        self.core.queue.push(Ev::Out(Origin::Tail, Outbound::Flush));
    }

    /// Asks for [`Handler::deferred`] to be called on this handler once the
    /// events it queued before this call have run, with everything they
    /// caused (depth first). Skipped if the handler has left the pipeline
    /// by then. A decoder uses it to hand on one frame, let the rest of the
    /// pipeline react (perhaps by replacing the decoder), and only then cut
    /// the next one.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Pipeline};
    ///
    /// /// Passes a read on, then says "done" after it was handled.
    /// struct Then;
    /// impl Handler for Then {
    ///     type In = Bytes;
    ///     type Out = Bytes;
    ///     fn read(&mut self, ctx: &mut Context<'_, Bytes>, msg: Bytes) {
    ///         ctx.fire_read(msg);
    ///         ctx.defer();
    ///     }
    ///     fn deferred(&mut self, ctx: &mut Context<'_, Bytes>) {
    ///         ctx.fire_read(Bytes::from_static(b"done"));
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("then", Then)?;
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(Bytes::from_static(b"msg"));
    /// assert_eq!(ch.read_inbound::<Bytes>().unwrap(), &b"msg"[..]);
    /// assert_eq!(ch.read_inbound::<Bytes>().unwrap(), &b"done"[..]);
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    pub fn defer(&mut self) {
        self.core.queue.push(Ev::Deferred(self.core.id));
    }

    /// The pipeline's handlers, to add, remove or replace them while the
    /// channel runs (a protocol switch). The same API as
    /// [`Pipeline::handlers`](crate::Pipeline::handlers); here the added and
    /// removed handlers' callbacks run after this method's earlier events.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Pipeline};
    ///
    /// struct Upper;
    /// impl Handler for Upper {
    ///     type In = Bytes;
    ///     type Out = Bytes;
    ///     fn read(&mut self, ctx: &mut Context<'_, Bytes>, b: Bytes) {
    ///         ctx.fire_read(Bytes::from(b.to_ascii_uppercase()));
    ///     }
    /// }
    /// /// On the first read, installs `Upper` after itself and leaves.
    /// struct Switch;
    /// impl Handler for Switch {
    ///     type In = Bytes;
    ///     type Out = Bytes;
    ///     fn read(&mut self, ctx: &mut Context<'_, Bytes>, msg: Bytes) {
    ///         ctx.handlers().add_after("switch", "upper", Upper).unwrap();
    ///         ctx.handlers().remove("switch").unwrap();
    ///         ctx.fire_read(msg); // reaches `upper`
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("switch", Switch)?;
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(Bytes::from_static(b"abc"));
    /// assert_eq!(ch.read_inbound::<Bytes>().unwrap(), &b"ABC"[..]);
    /// assert_eq!(ch.pipeline().names(), ["upper"]);
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    pub fn handlers(&mut self) -> Handlers<'_> {
        Handlers::nested(self.core.chain, self.core.queue)
    }

    /// Starts `fut` on the channel's own task. When it is done, `then`
    /// runs on this handler with its output, as an event in order with
    /// reads (if the handler is still in the pipeline): the way a handler
    /// does asynchronous work (a lookup, a disk read, a call to another
    /// service) and answers from the result, with no lock and no handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Nothing, Pipeline};
    ///
    /// /// Answers each request after an asynchronous lookup.
    /// struct Lookup;
    /// impl Handler for Lookup {
    ///     type In = Bytes;
    ///     type Out = Nothing;
    ///     fn read(&mut self, ctx: &mut Context<'_, Nothing>, key: Bytes) {
    ///         let lookup = async move { Bytes::from([&b"value of "[..], &key[..]].concat()) };
    ///         ctx.spawn(lookup, |_this: &mut Self, ctx, value| ctx.write_and_flush(value));
    ///     }
    /// }
    ///
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("lookup", Lookup)?;
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(Bytes::from_static(b"k"));
    /// assert!(ch.read_outbound_bytes().is_none()); // not yet: the task runs
    /// ch.run_tasks();
    /// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"value of k"[..]);
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    pub fn spawn<H, R, F, T>(&mut self, fut: F, then: T)
    where
        H: Handler<Out = O>,
        R: Send + 'static,
        F: Future<Output = R> + Send + 'static,
        T: for<'c> FnOnce(&mut H, &mut Context<'c, O>, R) + Send + 'static,
    {
        let handler = self.core.id;
        let fut = fut.map(move |r| {
            let then: Continuation =
                Box::new(
                    move |h: &mut dyn Any, core: Core<'_>| match h.downcast_mut::<H>() {
                        Some(h) => then(h, &mut Context::new(core), r),
                        None => tracing::debug!(
                            "a task finished after its handler was replaced; result dropped"
                        ),
                    },
                );
            TaskDone { handler, then }
        });
        self.core.head.spawn(Task { fut: Box::pin(fut) });
    }

    /// The channel's handle, when the head has one: with `weft-transport`,
    /// `weft_transport::Channel::from_context` turns it into a `Channel`
    /// that other tasks can write to.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct Look;
    /// impl Handler for Look {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, _m: Message) {
    ///         assert!(ctx.channel().is_none()); // an embedded channel has none
    ///     }
    /// }
    /// ```
    pub fn channel(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.core.head.channel()
    }
}
