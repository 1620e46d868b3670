//! [`Pipeline`]: named handlers and the dispatch loop.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use crate::chain::{Chain, Event, EventQueue, Inbound, Origin, Outbound};
use crate::{Handler, HeadOp, Message, PipelineError, WritePromise};

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

/// An ordered list of named [`Handler`]s that events travel through.
///
/// ```text
///                        Pipeline
///  ┌──────────────────────────────────────────────────────┐
///  │  inbound: fire_read(msg) ...                         │
///  │   head ──▶ [decoder] ──▶ [codec] ──▶ [app] ──▶ tail  │  unconsumed: counted + warn
///  │                                                      │
///  │  outbound: write(msg) / flush / close                │
///  │   head ◀── [encoder] ◀── [codec] ◀── [app] ◀── tail  │  Pipeline::write starts here
///  │    │                                                 │
///  └────┼─────────────────────────────────────────────────┘
///       ▼ take_head_ops(): HeadOp::{Write, Flush, Close, SetAutoRead}
///   transport (socket) / EmbeddedChannel
/// ```
///
/// The pipeline has no socket and no clock: a transport (or
/// [`EmbeddedChannel`](crate::EmbeddedChannel)) feeds it events, passes the
/// time in, and performs the [`HeadOp`]s that reach the head.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
/// use weft_pipeline::{HeadOp, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.add_last("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(1024))).unwrap();
/// assert_eq!(p.names(), ["lines"]);
/// p.write(Bytes::from_static(b"hi\n").into(), None);
/// p.flush();
/// assert_eq!(p.take_head_ops().len(), 2);
/// ```
pub struct Pipeline {
    pub(crate) chain: Chain,
    pub(crate) queue: EventQueue,
    pub(crate) head_ops: VecDeque<HeadOp>,
    pub(crate) now: Instant,
    pub(crate) writable: bool,
    pub(crate) stats: PipelineStats,
    pub(crate) capture: bool,
    pub(crate) captured: VecDeque<Message>,
    pub(crate) captured_events: VecDeque<Box<dyn Any + Send>>,
    pub(crate) exceptions: Vec<PipelineError>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("handlers", &self.names())
            .field("pending_head_ops", &self.head_ops.len())
            .field("writable", &self.writable)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Pipeline {
    /// An empty pipeline. Its time starts at `Instant::now()` until
    /// [`set_now`](Self::set_now) is called.
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
            head_ops: VecDeque::new(),
            now: Instant::now(),
            writable: true,
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
    /// See [`add_before`](Self::add_before).
    pub fn names(&self) -> Vec<&str> {
        self.chain.names()
    }

    /// True if a handler named `name` is in the pipeline.
    ///
    /// # Examples
    ///
    /// ```
    /// struct Nop;
    /// impl weft_pipeline::Handler for Nop {}
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.add_last("nop", Nop).unwrap();
    /// assert!(p.contains("nop"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.chain.live_index(name).is_some()
    }

    fn after_add(&mut self, id: u64) -> &mut Self {
        self.run_batch([Event::Added(id)]);
        self
    }

    /// Adds a handler at the tail end. Its `handler_added` runs at once.
    ///
    /// # Errors
    ///
    /// [`PipelineError::DuplicateName`] if the name is taken;
    /// [`PipelineError::TypeMismatch`] naming both handlers if its types do
    /// not meet its neighbours' (the pipeline is unchanged then).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Handler, MessageTypes, Pipeline, PipelineError, TypeFlow};
    ///
    /// struct Frames; // emits bytes
    /// impl Handler for Frames {
    ///     fn inbound_types(&self) -> TypeFlow {
    ///         TypeFlow::transform(MessageTypes::BUFFERS, MessageTypes::BUFFERS)
    ///     }
    /// }
    /// struct Strings; // takes only Strings
    /// impl Handler for Strings {
    ///     fn inbound_types(&self) -> TypeFlow { TypeFlow::sink(MessageTypes::of::<String>()) }
    /// }
    ///
    /// let mut p = Pipeline::new();
    /// p.add_last("frames", Frames).unwrap();
    /// let err = p.add_last("app", Strings).unwrap_err();
    /// assert!(matches!(err, PipelineError::TypeMismatch { .. }));
    /// let text = err.to_string();
    /// assert!(text.contains("`frames`") && text.contains("`app`"), "{text}");
    /// assert!(matches!(p.add_last("frames", Frames), Err(PipelineError::DuplicateName(_))));
    /// ```
    pub fn add_last(&mut self, name: &str, h: impl Handler) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_last(name, Box::new(h))?;
        Ok(self.after_add(id))
    }

    /// Adds a handler at the head end.
    ///
    /// # Errors
    ///
    /// As [`add_last`](Self::add_last).
    ///
    /// # Examples
    ///
    /// See [`add_before`](Self::add_before).
    pub fn add_first(&mut self, name: &str, h: impl Handler) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_first(name, Box::new(h))?;
        Ok(self.after_add(id))
    }

    /// Adds a handler just before `base`.
    ///
    /// # Errors
    ///
    /// As [`add_last`](Self::add_last), and [`PipelineError::UnknownName`]
    /// if `base` is not there.
    ///
    /// # Examples
    ///
    /// ```
    /// struct Nop;
    /// impl weft_pipeline::Handler for Nop {}
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.add_last("c", Nop)?.add_first("a", Nop)?.add_before("c", "b", Nop)?.add_after("c", "d", Nop)?;
    /// assert_eq!(p.names(), ["a", "b", "c", "d"]);
    /// assert!(p.add_before("zz", "e", Nop).is_err());
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    pub fn add_before(
        &mut self,
        base: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_before(base, name, Box::new(h))?;
        Ok(self.after_add(id))
    }

    /// Adds a handler just after `base`.
    ///
    /// # Errors
    ///
    /// As [`add_before`](Self::add_before).
    ///
    /// # Examples
    ///
    /// See [`add_before`](Self::add_before).
    pub fn add_after(
        &mut self,
        base: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let id = self.chain.add_after(base, name, Box::new(h))?;
        Ok(self.after_add(id))
    }

    /// Removes the handler `name`; its `handler_removed` runs at once.
    ///
    /// # Errors
    ///
    /// [`PipelineError::UnknownName`]; [`PipelineError::TypeMismatch`] if
    /// its neighbours' types would not meet without it.
    ///
    /// # Examples
    ///
    /// ```
    /// struct Nop;
    /// impl weft_pipeline::Handler for Nop {}
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.add_last("a", Nop)?;
    /// p.remove("a")?;
    /// assert!(p.names().is_empty());
    /// assert!(p.remove("a").is_err());
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    pub fn remove(&mut self, name: &str) -> Result<&mut Self, PipelineError> {
        let id = self.chain.remove(name)?;
        self.run_batch([Event::Removed(id)]);
        Ok(self)
    }

    /// Replaces the handler `old` by `h`, named `name`, in the same place.
    ///
    /// # Errors
    ///
    /// [`PipelineError::UnknownName`], [`PipelineError::DuplicateName`],
    /// [`PipelineError::TypeMismatch`] (the pipeline is unchanged then).
    ///
    /// # Examples
    ///
    /// ```
    /// struct Nop;
    /// impl weft_pipeline::Handler for Nop {}
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.add_last("a", Nop)?.add_last("b", Nop)?;
    /// p.replace("a", "z", Nop)?;
    /// assert_eq!(p.names(), ["z", "b"]);
    /// # Ok::<(), weft_pipeline::PipelineError>(())
    /// ```
    pub fn replace(
        &mut self,
        old: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let (old_id, new_id) = self.chain.replace(old, name, Box::new(h))?;
        // handler_removed of the old one runs before handler_added of the new.
        self.run_batch([Event::Removed(old_id), Event::Added(new_id)]);
        Ok(self)
    }

    fn fire_in(&mut self, ev: Inbound) {
        self.run_batch([Event::In(Origin::Head, ev)]);
    }

    fn fire_out(&mut self, ev: Outbound) {
        self.run_batch([Event::Out(Origin::Tail, ev)]);
    }

    /// The channel is connected: "channel active" travels head to tail.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_pipeline::Pipeline::new().fire_channel_active();
    /// ```
    pub fn fire_channel_active(&mut self) {
        self.fire_in(Inbound::Active);
    }

    /// A message arrived: it travels head to tail.
    ///
    /// # Examples
    ///
    /// See [`PipelineStats`].
    pub fn fire_read(&mut self, msg: Message) {
        self.fire_in(Inbound::Read(msg));
    }

    /// A batch of reads is over.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_pipeline::Pipeline::new().fire_read_complete();
    /// ```
    pub fn fire_read_complete(&mut self) {
        self.fire_in(Inbound::ReadComplete);
    }

    /// A user event travels head to tail.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.fire_user_event(Box::new("drain"));
    /// assert_eq!(p.stats().unhandled_user_events, 1);
    /// ```
    pub fn fire_user_event(&mut self, ev: Box<dyn Any + Send>) {
        self.fire_in(Inbound::User(ev));
    }

    /// An error travels head to tail; unhandled, it closes the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{HeadOp, Pipeline, PipelineError};
    /// let mut p = Pipeline::new();
    /// p.fire_exception(PipelineError::decode("boom"));
    /// assert!(matches!(p.take_head_ops().pop_front(), Some(HeadOp::Close)));
    /// assert_eq!(p.stats().unhandled_exceptions, 1);
    /// ```
    pub fn fire_exception(&mut self, err: PipelineError) {
        self.fire_in(Inbound::Exception(err));
    }

    /// The transport's writability changed (a watermark was crossed).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.fire_writability_changed(false);
    /// assert!(!p.is_writable());
    /// ```
    pub fn fire_writability_changed(&mut self, writable: bool) {
        self.writable = writable;
        self.fire_in(Inbound::Writability(writable));
    }

    /// The channel is closed: "channel inactive" travels head to tail.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_pipeline::Pipeline::new().fire_channel_inactive();
    /// ```
    pub fn fire_channel_inactive(&mut self) {
        self.fire_in(Inbound::Inactive);
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

    /// Sets the time to `now` and calls [`Handler::timer`] on every handler
    /// whose [`Handler::deadline`] has passed, head first.
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
        self.run_batch(due.into_iter().map(Event::Timer));
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
    /// See [`HeadOp`].
    pub fn write(&mut self, msg: Message, promise: Option<WritePromise>) {
        self.fire_out(Outbound::Write(msg, promise));
    }

    /// Flushes from the tail.
    ///
    /// # Examples
    ///
    /// See [`HeadOp`].
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
    /// assert!(matches!(p.take_head_ops()[0], weft_pipeline::HeadOp::Close));
    /// ```
    pub fn close(&mut self) {
        self.fire_out(Outbound::Close);
    }

    /// Takes every operation that reached the head, in order.
    ///
    /// # Examples
    ///
    /// See [`HeadOp`].
    pub fn take_head_ops(&mut self) -> VecDeque<HeadOp> {
        std::mem::take(&mut self.head_ops)
    }

    /// True if operations are waiting at the head.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = weft_pipeline::Pipeline::new();
    /// p.flush();
    /// assert!(p.has_head_ops());
    /// ```
    pub fn has_head_ops(&self) -> bool {
        !self.head_ops.is_empty()
    }

    /// The last writability the transport reported (initially true).
    ///
    /// # Examples
    ///
    /// See [`fire_writability_changed`](Self::fire_writability_changed).
    pub fn is_writable(&self) -> bool {
        self.writable
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

    pub(crate) fn set_capture(&mut self, on: bool) {
        self.capture = on;
    }

    pub(crate) fn captured(&mut self) -> &mut VecDeque<Message> {
        &mut self.captured
    }

    pub(crate) fn captured_events(&mut self) -> &mut VecDeque<Box<dyn Any + Send>> {
        &mut self.captured_events
    }
}
