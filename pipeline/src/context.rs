//! [`Context`]: how a handler acts on its pipeline.

use std::any::Any;
use std::fmt;
use std::time::Instant;

use crate::chain::{Chain, Event, EventQueue, Inbound, Origin, Outbound};
use crate::{Handler, Message, PipelineError, WritePromise};

/// A handler's view of its pipeline, given to every [`Handler`] method.
///
/// Everything a handler does here is queued and runs after the method
/// returns, in the order it was asked for (see the crate docs, "Ordering").
/// Events travel from this handler's position:
///
/// - `fire_*` go to the next handler towards the tail;
/// - [`write`](Self::write), [`flush`](Self::flush), [`close`](Self::close)
///   go to the next handler towards the head, *skipping the handlers after
///   this one* (Netty's `ctx.write`);
/// - [`write_from_tail`](Self::write_from_tail) starts at the tail and
///   passes every outbound handler (Netty's `channel.write`).
///
/// Changes to the pipeline ([`add_last`](Self::add_last), ...) are checked
/// and made at once; they route every event not yet delivered, including
/// the ones this handler queued before the change.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::{Context, EmbeddedChannel, Handler, Message, Pipeline};
///
/// /// Echoes each read back and passes it on.
/// struct Echo;
/// impl Handler for Echo {
///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
///         if let Some(b) = msg.to_bytes() {
///             ctx.write_and_flush(b);
///         }
///         ctx.fire_read(msg);
///     }
/// }
///
/// let mut p = Pipeline::new();
/// p.add_last("echo", Echo).unwrap();
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"ping"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"ping"[..]);
/// assert!(ch.read_inbound().is_some());
/// ```
pub struct Context<'a> {
    pub(crate) chain: &'a mut Chain,
    pub(crate) queue: &'a mut EventQueue,
    pub(crate) id: u64,
    pub(crate) now: Instant,
    pub(crate) writable: bool,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("handler", &self.name())
            .field("now", &self.now)
            .field("writable", &self.writable)
            .finish()
    }
}

impl<'a> Context<'a> {
    fn me(&self) -> Origin {
        Origin::Handler(self.id)
    }

    fn inbound(&mut self, ev: Inbound) {
        let me = self.me();
        self.queue.push(Event::In(me, ev));
    }

    fn outbound(&mut self, ev: Outbound) {
        let me = self.me();
        self.queue.push(Event::Out(me, ev));
    }

    /// The name this handler was added under.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct Named;
    /// impl Handler for Named {
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         assert_eq!(ctx.name(), "n");
    ///     }
    /// }
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.add_last("n", Named).unwrap();
    /// p.fire_read(bytes::Bytes::new().into());
    /// ```
    pub fn name(&self) -> &str {
        self.chain
            .index_of_id(self.id)
            .and_then(|i| self.chain.entries.get(i))
            .map_or("", |e| e.name.as_str())
    }

    /// The pipeline's current time (set by the transport or the embedded
    /// channel's virtual clock), never read from the system clock here.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct Clock(Option<std::time::Instant>);
    /// impl Handler for Clock {
    ///     fn handler_added(&mut self, ctx: &mut Context<'_>) { self.0 = Some(ctx.now()); }
    /// }
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.add_last("clock", Clock(None)).unwrap();
    /// ```
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The last writability the transport reported.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct W;
    /// impl Handler for W {
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         if ctx.is_writable() { ctx.write(msg) } else { ctx.set_auto_read(false) }
    ///     }
    /// }
    /// # let mut p = weft_pipeline::Pipeline::new(); p.add_last("w", W).unwrap();
    /// ```
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The names of the live handlers, head first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct Look;
    /// impl Handler for Look {
    ///     fn read(&mut self, ctx: &mut Context<'_>, _m: Message) {
    ///         assert_eq!(ctx.handler_names(), ["look"]);
    ///     }
    /// }
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.add_last("look", Look).unwrap();
    /// p.fire_read(bytes::Bytes::new().into());
    /// ```
    pub fn handler_names(&self) -> Vec<&str> {
        self.chain.names()
    }

    /// Passes "channel active" to the next handler.
    ///
    /// # Examples
    ///
    /// See [`Handler::channel_active`] (its default calls this).
    pub fn fire_channel_active(&mut self) {
        self.inbound(Inbound::Active);
    }

    /// Passes a message to the next handler towards the tail.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn fire_read(&mut self, msg: impl Into<Message>) {
        self.inbound(Inbound::Read(msg.into()));
    }

    /// Passes "read complete" on.
    ///
    /// # Examples
    ///
    /// See [`Handler::read_complete`] (its default calls this).
    pub fn fire_read_complete(&mut self) {
        self.inbound(Inbound::ReadComplete);
    }

    /// Passes a user event on.
    ///
    /// # Examples
    ///
    /// See [`Handler::user_event`] (its default calls this).
    pub fn fire_user_event(&mut self, event: Box<dyn Any + Send>) {
        self.inbound(Inbound::User(event));
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
    ///     fn read(&mut self, ctx: &mut Context<'_>, _m: Message) {
    ///         ctx.fire_exception(PipelineError::decode("unexpected input"));
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// p.add_last("strict", Strict).unwrap();
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(bytes::Bytes::from_static(b"x"));
    /// assert!(ch.is_closed());
    /// ```
    pub fn fire_exception(&mut self, err: PipelineError) {
        self.inbound(Inbound::Exception(err));
    }

    /// Passes a writability change on.
    ///
    /// # Examples
    ///
    /// See [`Handler::writability_changed`] (its default calls this).
    pub fn fire_writability_changed(&mut self, writable: bool) {
        self.inbound(Inbound::Writability(writable));
    }

    /// Passes "channel inactive" on.
    ///
    /// # Examples
    ///
    /// See [`Handler::channel_inactive`] (its default calls this).
    pub fn fire_channel_inactive(&mut self) {
        self.inbound(Inbound::Inactive);
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
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         let (promise, _done) = WritePromise::new();
    ///         ctx.write_with_promise(msg, Some(promise));
    ///     }
    /// }
    /// # let mut p = weft_pipeline::Pipeline::new(); p.add_last("t", Tracked).unwrap();
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
    /// See [`Handler::flush`] (its default calls this).
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
    ///     fn read(&mut self, ctx: &mut Context<'_>, _m: Message) { ctx.close(); }
    /// }
    /// let mut p = Pipeline::new();
    /// p.add_last("bye", Bye).unwrap();
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(bytes::Bytes::from_static(b"quit"));
    /// assert!(ch.is_closed());
    /// ```
    pub fn close(&mut self) {
        self.outbound(Outbound::Close);
    }

    /// Switches reading from the socket on or off (goes straight to the
    /// head, in order with this handler's other operations).
    ///
    /// # Examples
    ///
    /// See [`is_writable`](Self::is_writable).
    pub fn set_auto_read(&mut self, on: bool) {
        self.outbound(Outbound::AutoRead(on));
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
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         ctx.write_from_tail(msg, None);
    ///         ctx.flush_from_tail();
    ///     }
    /// }
    /// # let mut p = weft_pipeline::Pipeline::new(); p.add_last("t", FromTail).unwrap();
    /// ```
    pub fn write_from_tail(&mut self, msg: impl Into<Message>, promise: Option<WritePromise>) {
        self.queue.push(Event::Out(
            Origin::Tail,
            Outbound::Write(msg.into(), promise),
        ));
    }

    /// Flushes from the tail, through every outbound handler.
    ///
    /// # Examples
    ///
    /// See [`write_from_tail`](Self::write_from_tail).
    pub fn flush_from_tail(&mut self) {
        self.queue.push(Event::Out(Origin::Tail, Outbound::Flush));
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
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Message, Pipeline};
    ///
    /// /// Passes a read on, then says "done" after it was handled.
    /// struct Then;
    /// impl Handler for Then {
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         ctx.fire_read(msg);
    ///         ctx.defer();
    ///     }
    ///     fn deferred(&mut self, ctx: &mut Context<'_>) {
    ///         ctx.fire_read(bytes::Bytes::from_static(b"done"));
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// p.add_last("then", Then).unwrap();
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(bytes::Bytes::from_static(b"msg"));
    /// assert_eq!(ch.read_inbound_bytes().unwrap(), &b"msg"[..]);
    /// assert_eq!(ch.read_inbound_bytes().unwrap(), &b"done"[..]);
    /// ```
    pub fn defer(&mut self) {
        self.queue.push(Event::Deferred(self.id));
    }

    fn added(&mut self, id: u64) -> &mut Self {
        self.queue.push(Event::Added(id));
        self
    }

    /// Adds a handler at the head end of the pipeline.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::add_last`](crate::Pipeline::add_last).
    ///
    /// # Examples
    ///
    /// See [`add_after`](Self::add_after).
    pub fn add_first(&mut self, name: &str, h: impl Handler) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_first(name, Box::new(h))?;
        Ok(self.added(id))
    }

    /// Adds a handler at the tail end of the pipeline.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::add_last`](crate::Pipeline::add_last).
    ///
    /// # Examples
    ///
    /// See [`add_after`](Self::add_after).
    pub fn add_last(&mut self, name: &str, h: impl Handler) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_last(name, Box::new(h))?;
        Ok(self.added(id))
    }

    /// Adds a handler just before `base`.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::add_last`](crate::Pipeline::add_last), and
    /// [`PipelineError::UnknownName`] if `base` is not there.
    ///
    /// # Examples
    ///
    /// See [`add_after`](Self::add_after).
    pub fn add_before(
        &mut self,
        base: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_before(base, name, Box::new(h))?;
        Ok(self.added(id))
    }

    /// Adds a handler just after `base`.
    ///
    /// # Errors
    ///
    /// As [`add_before`](Self::add_before).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Context, EmbeddedChannel, Handler, Message, Pipeline};
    ///
    /// struct Upper;
    /// impl Handler for Upper {
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         let b = msg.to_bytes().unwrap_or_default();
    ///         ctx.fire_read(bytes::Bytes::from(b.to_ascii_uppercase()));
    ///     }
    /// }
    /// /// On the first read, installs `Upper` after itself and leaves.
    /// struct Switch;
    /// impl Handler for Switch {
    ///     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
    ///         ctx.add_after("switch", "upper", Upper).unwrap();
    ///         ctx.remove_self().unwrap();
    ///         ctx.fire_read(msg); // reaches `upper`
    ///     }
    /// }
    /// let mut p = Pipeline::new();
    /// p.add_last("switch", Switch).unwrap();
    /// let mut ch = EmbeddedChannel::new(p);
    /// ch.write_inbound(bytes::Bytes::from_static(b"abc"));
    /// assert_eq!(ch.read_inbound_bytes().unwrap(), &b"ABC"[..]);
    /// assert_eq!(ch.pipeline().names(), ["upper"]);
    /// ```
    pub fn add_after(
        &mut self,
        base: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_after(base, name, Box::new(h))?;
        Ok(self.added(id))
    }

    /// Removes the handler `name`; its `handler_removed` runs after this
    /// method's queued events that came before.
    ///
    /// # Errors
    ///
    /// [`PipelineError::UnknownName`]; [`PipelineError::TypeMismatch`] if
    /// its neighbours' types would not meet (nothing is changed then).
    ///
    /// # Examples
    ///
    /// See [`add_after`](Self::add_after).
    pub fn remove(&mut self, name: &str) -> Result<&mut Self, PipelineError> {
        let id = self.chain.remove(name)?;
        self.queue.push(Event::Removed(id));
        Ok(self)
    }

    /// Removes this handler. Events it fires afterwards (in this method or
    /// in `handler_removed`) still start from its old position.
    ///
    /// # Errors
    ///
    /// As [`remove`](Self::remove).
    ///
    /// # Examples
    ///
    /// See [`add_after`](Self::add_after).
    pub fn remove_self(&mut self) -> Result<&mut Self, PipelineError> {
        let id = self.chain.remove_id(self.id)?;
        self.queue.push(Event::Removed(id));
        Ok(self)
    }

    /// Replaces the handler `old` by `h` named `name`, in the same place.
    ///
    /// # Errors
    ///
    /// [`PipelineError::UnknownName`], [`PipelineError::DuplicateName`],
    /// [`PipelineError::TypeMismatch`] (nothing is changed then).
    ///
    /// # Examples
    ///
    /// See [`Pipeline::replace`](crate::Pipeline::replace).
    pub fn replace(
        &mut self,
        old: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let (old_id, new_id) = self.chain.replace(old, name, Box::new(h))?;
        self.queue.push(Event::Removed(old_id));
        Ok(self.added(new_id))
    }
}
