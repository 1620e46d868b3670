//! [`Pipeline`]: named handlers and the dispatch loop.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use crate::chain::{Chain, Ev, EventQueue, Inbound, Origin, Outbound};
use crate::context::Core;
use crate::{
    Event, Handlers, Head, Message, PipelineError, Recorder, TaskDone, Value, WritePromise,
};

/// How many unhandled exceptions a pipeline keeps for
/// [`Pipeline::take_unhandled_exceptions`]; older ones are only counted.
pub const KEPT_EXCEPTIONS: usize = 16;

/// Counters of what a pipeline could not deliver.
///
/// # Examples
///
/// ```
/// use weft_pipeline::Pipeline;
/// let mut p = Pipeline::new();
/// p.fire_read(bytes::Bytes::from_static(b"lost").into());
/// assert_eq!(p.stats().unconsumed_reads, 1);
/// assert_eq!(p.stats().unconsumed_bytes, 4);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipelineStats {
    /// Messages that reached the tail without a handler consuming them.
    pub unconsumed_reads: u64,
    /// Bytes (per [`Message::len`]) in those messages.
    pub unconsumed_bytes: u64,
    /// Exceptions that reached the tail unhandled (each closed the channel).
    pub unhandled_exceptions: u64,
    /// User events that reached the tail.
    pub unhandled_user_events: u64,
    /// User messages that reached the head (which can only write bytes);
    /// their promises failed.
    pub unwritable_at_head: u64,
}

/// An ordered list of named [`Handler`](crate::Handler)s that events
/// travel through, and the [`Head`] they end at.
///
/// ```text
///                        Pipeline
///  ┌──────────────────────────────────────────────────────┐
///  │  inbound: fire_read(msg) ...     (typed between       │
///  │   head ──▶ [decoder] ──▶ [codec] ──▶ [app] ──▶ tail  │  unconsumed: counted + warn
///  │           Bytes   Frame       Request    neighbours)  │
///  │  outbound: write(msg) / flush / close                │
///  │   head ◀── [encoder] ◀── [codec] ◀── [app] ◀── tail  │  Pipeline::write starts here
///  │    │                                                 │
///  └────┼─────────────────────────────────────────────────┘
///       ▼ Head::{write(Wire), flush, close}; set_auto_read, is_writable, spawn
///   transport (socket) / EmbeddedChannel (Recorder)
/// ```
///
/// The pipeline has no socket and no clock: a transport (or
/// [`EmbeddedChannel`](crate::EmbeddedChannel)) installs its [`Head`],
/// feeds events in and passes the time in. Until a head is installed, a
/// [`Recorder`] keeps what reaches the head.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
/// use weft_pipeline::Pipeline;
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(1024)))?;
/// assert_eq!(p.names(), ["lines"]);
/// p.write(Bytes::from_static(b"hi\n").into(), None);
/// p.flush();
/// assert_eq!(p.recorder().unwrap().take_ops().len(), 2);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
pub struct Pipeline {
    pub(crate) chain: Chain,
    pub(crate) queue: EventQueue,
    pub(crate) head: Box<dyn Head>,
    pub(crate) now: Instant,
    pub(crate) stats: PipelineStats,
    pub(crate) capture: bool,
    pub(crate) captured: VecDeque<Message>,
    pub(crate) captured_events: VecDeque<Value>,
    pub(crate) exceptions: Vec<PipelineError>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("handlers", &self.names())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Pipeline {
    /// An empty pipeline with a [`Recorder`] head. Its time starts at
    /// `Instant::now()` until [`set_now`](Self::set_now) is called.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Pipeline::new().names().is_empty());
    /// ```
    pub fn new() -> Pipeline {
        Pipeline {
            chain: Chain::default(),
            queue: EventQueue::default(),
            head: Box::new(Recorder::default()),
            now: Instant::now(),
            stats: PipelineStats::default(),
            capture: false,
            captured: VecDeque::new(),
            captured_events: VecDeque::new(),
            exceptions: Vec::new(),
        }
    }

    /// The names of the handlers, head first.
    ///
    /// # Examples
    ///
    /// See [`Handlers`].
    pub fn names(&self) -> Vec<&str> {
        self.chain.names()
    }

    /// The handlers, to add, remove or replace them; callbacks
    /// (`handler_added`, `handler_removed`) run before each method returns.
    ///
    /// # Examples
    ///
    /// See [`Handlers`].
    pub fn handlers(&mut self) -> Handlers<'_> {
        Handlers::top(self)
    }

    /// Builds the pipeline from the tail on with the neighbours' types
    /// checked by the compiler (see [`TypedHandlers`](crate::TypedHandlers)).
    ///
    /// # Examples
    ///
    /// See [`TypedHandlers`](crate::TypedHandlers).
    pub fn typed(&mut self) -> crate::TypedHandlers<'_, weft_buf::CompositeBuf> {
        crate::TypedHandlers::new(self.handlers())
    }

    /// Installs the channel end of the pipeline and returns the one it
    /// replaces. If that was a [`Recorder`] (the head of a new pipeline),
    /// what it recorded is handed to the new head first, in order: writes,
    /// flushes and closes that handlers made while the pipeline was built
    /// (in `handler_added`), the tasks they started, and auto-read if they
    /// switched it off. Nothing a handler did before the channel existed
    /// is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{HeadOp, Pipeline, Recorder};
    ///
    /// let mut p = Pipeline::new();
    /// p.write(bytes::Bytes::from_static(b"early").into(), None); // no channel yet
    /// let mut old = p.set_head(Box::new(Recorder::default()));
    /// let replayed = p.recorder().unwrap().take_ops();
    /// assert!(matches!(replayed.front(), Some(HeadOp::Write(..))));
    /// let old: &mut dyn std::any::Any = &mut *old;
    /// assert!(old.downcast_mut::<Recorder>().unwrap().ops().is_empty());
    /// ```
    pub fn set_head(&mut self, head: Box<dyn Head>) -> Box<dyn Head> {
        let mut old = std::mem::replace(&mut self.head, head);
        let any: &mut dyn std::any::Any = &mut *old;
        if let Some(recorded) = any.downcast_mut::<Recorder>() {
            recorded.replay_into(&mut *self.head);
        }
        old
    }

    /// The head, if it is a `T`.
    ///
    /// # Examples
    ///
    /// See [`Head`].
    pub fn head_mut<T: Head>(&mut self) -> Option<&mut T> {
        let head: &mut dyn std::any::Any = &mut *self.head;
        head.downcast_mut::<T>()
    }

    /// The head, if it is the [`Recorder`] a new pipeline starts with.
    ///
    /// # Examples
    ///
    /// See [`Recorder`].
    pub fn recorder(&mut self) -> Option<&mut Recorder> {
        self.head_mut::<Recorder>()
    }

    fn fire_in(&mut self, ev: Inbound) {
        self.run_batch([Ev::In(Origin::Head, ev)]);
    }

    fn fire_out(&mut self, ev: Outbound) {
        self.run_batch([Ev::Out(Origin::Tail, ev)]);
    }

    /// A message arrived from the channel: it travels head to tail.
    ///
    /// # Examples
    ///
    /// See [`PipelineStats`].
    pub fn fire_read(&mut self, msg: Message) {
        let start = self.queue.len();
        self.queue.push_read(Origin::Head, start, msg);
        self.queue.close_batch(start);
        self.run_queue();
    }

    /// An event travels head to tail.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Event, Pipeline};
    /// let mut p = Pipeline::new();
    /// p.fire_event(Event::User(weft_pipeline::Value::new("drain")));
    /// assert_eq!(p.stats().unhandled_user_events, 1);
    /// ```
    pub fn fire_event(&mut self, event: Event) {
        self.fire_in(Inbound::Event(event));
    }

    /// "Channel active".
    ///
    /// # Examples
    ///
    /// ```
    /// weft_pipeline::Pipeline::new().fire_channel_active();
    /// ```
    pub fn fire_channel_active(&mut self) {
        self.fire_event(Event::Active);
    }

    /// A batch of reads is over.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_pipeline::Pipeline::new().fire_read_complete();
    /// ```
    pub fn fire_read_complete(&mut self) {
        self.fire_event(Event::ReadComplete);
    }

    /// An error travels head to tail; unhandled, it closes the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Pipeline, PipelineError};
    /// let mut p = Pipeline::new();
    /// p.fire_exception(PipelineError::decode("boom"));
    /// assert!(p.recorder().unwrap().is_closed());
    /// assert_eq!(p.stats().unhandled_exceptions, 1);
    /// ```
    pub fn fire_exception(&mut self, err: PipelineError) {
        self.fire_event(Event::Exception(err));
    }

    /// The channel's writability changed (a watermark was crossed). The
    /// head owns the state; this only tells the handlers.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_pipeline::Pipeline::new().fire_writability_changed(false);
    /// ```
    pub fn fire_writability_changed(&mut self, writable: bool) {
        self.fire_event(Event::Writability(writable));
    }

    /// "Channel inactive".
    ///
    /// # Examples
    ///
    /// ```
    /// weft_pipeline::Pipeline::new().fire_channel_inactive();
    /// ```
    pub fn fire_channel_inactive(&mut self) {
        self.fire_event(Event::Inactive);
    }

    /// Runs the continuation of a finished [`Task`](crate::Task) on its
    /// handler, if that is still in the pipeline, with everything it causes.
    ///
    /// # Examples
    ///
    /// See [`Context::spawn`](crate::Context::spawn).
    pub fn complete(&mut self, done: TaskDone) {
        let TaskDone { handler, then } = done;
        self.call_live(handler, |h, core: Core<'_>| then(h.as_any_mut(), core));
        self.run_queue();
    }

    /// Sets the pipeline's time (what handlers read from `ctx.now()`).
    /// The transport calls this before dispatching; time never goes back.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = weft_pipeline::Pipeline::new();
    /// let t = std::time::Instant::now();
    /// p.set_now(t);
    /// assert_eq!(p.now(), t);
    /// ```
    pub fn set_now(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    /// The pipeline's current time.
    ///
    /// # Examples
    ///
    /// See [`set_now`](Self::set_now).
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Sets the time to `now` and calls [`Handler::timer`](crate::Handler::timer)
    /// on every handler whose deadline has passed, head first.
    ///
    /// # Examples
    ///
    /// See [`IdleStateHandler`](crate::IdleStateHandler).
    pub fn fire_timer(&mut self, now: Instant) {
        self.set_now(now);
        let due: Vec<u64> = self
            .chain
            .entries
            .iter()
            .filter(|e| !e.removed)
            .filter(|e| {
                e.handler
                    .as_ref()
                    .and_then(|h| h.deadline())
                    .is_some_and(|d| d <= self.now)
            })
            .map(|e| e.id)
            .collect();
        self.run_batch(due.into_iter().map(Ev::Timer));
    }

    /// The earliest deadline of any handler: when
    /// [`fire_timer`](Self::fire_timer) should next be called.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_pipeline::Pipeline::new().next_deadline(), None);
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        self.chain
            .entries
            .iter()
            .filter(|e| !e.removed)
            .filter_map(|e| e.handler.as_ref().and_then(|h| h.deadline()))
            .min()
    }

    /// Writes a message from the tail, through every outbound handler
    /// (Netty's `channel.write`).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn write(&mut self, msg: Message, promise: Option<WritePromise>) {
        self.fire_out(Outbound::Write(msg, promise));
    }

    /// Flushes from the tail.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn flush(&mut self) {
        self.fire_out(Outbound::Flush);
    }

    /// Closes from the tail.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.close();
    /// assert!(p.recorder().unwrap().is_closed());
    /// ```
    pub fn close(&mut self) {
        self.fire_out(Outbound::Close);
    }

    /// What the head says of writability.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Pipeline::new().is_writable());
    /// ```
    pub fn is_writable(&self) -> bool {
        self.head.is_writable()
    }

    /// Frees the memory the pipeline keeps between events for speed (its
    /// event queue and the batch vectors it reuses), if no event is
    /// waiting. A transport calls this before it waits on an idle
    /// connection, so the connection holds no queue memory while idle; the
    /// next event allocates it again (a few small allocations per wakeup).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.fire_read(bytes::Bytes::from_static(b"x").into());
    /// p.release_idle_memory();
    /// ```
    pub fn release_idle_memory(&mut self) {
        self.queue.release();
        // The handler list grows by doubling while it is built (4 slots for
        // 2 handlers): at rest it keeps what it holds. No-op once fitted.
        if self.chain.entries.capacity() > self.chain.entries.len() {
            self.chain.entries.shrink_to_fit();
        }
    }

    /// What the pipeline could not deliver so far.
    ///
    /// # Examples
    ///
    /// See [`PipelineStats`].
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Takes the last [`KEPT_EXCEPTIONS`] exceptions that reached the tail
    /// unhandled.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.fire_exception(weft_pipeline::PipelineError::decode("x"));
    /// assert_eq!(p.take_unhandled_exceptions().len(), 1);
    /// ```
    pub fn take_unhandled_exceptions(&mut self) -> Vec<PipelineError> {
        std::mem::take(&mut self.exceptions)
    }

    /// True if the head is a [`Recorder`] that saw a close.
    pub(crate) fn is_closed_recorder(&self) -> bool {
        let head: &dyn std::any::Any = &*self.head;
        head.downcast_ref::<Recorder>()
            .is_some_and(Recorder::is_closed)
    }

    pub(crate) fn set_capture(&mut self, on: bool) {
        self.capture = on;
    }

    pub(crate) fn captured(&mut self) -> &mut VecDeque<Message> {
        &mut self.captured
    }

    pub(crate) fn captured_events(&mut self) -> &mut VecDeque<Value> {
        &mut self.captured_events
    }
}
