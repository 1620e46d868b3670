//! [`EmbeddedChannel`]: a pipeline driven with no socket, for tests.

use std::any::Any;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{
    HeadOp, Message, MessageType, Pipeline, PipelineError, PipelineStats, Recorder, Task, Wire,
};

/// Drives a [`Pipeline`] with no socket, as Netty's `EmbeddedChannel`
/// does: feeds inbound messages, collects what reaches the head (a
/// [`Recorder`]), runs the tasks handlers start, and advances a virtual
/// clock.
///
/// Messages and user events that reach the tail are kept for
/// [`read_inbound`](Self::read_inbound) /
/// [`read_user_event`](Self::read_user_event) instead of being dropped.
/// When a close reaches the head, the channel acts like a transport: it
/// becomes closed and fires "channel inactive" once.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::CompositeBuf;
/// use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(80)))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"hel"));
/// assert!(ch.read_inbound::<CompositeBuf>().is_none());
/// ch.write_inbound(Bytes::from_static(b"lo\nwor"));
/// assert_eq!(ch.read_inbound::<CompositeBuf>().unwrap(), &b"hello"[..]);
/// assert!(!ch.finish()); // "wor" is left over: reported as an exception
/// assert_eq!(ch.take_exceptions().len(), 1);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug)]
pub struct EmbeddedChannel {
    pipeline: Pipeline,
    now: Instant,
    inactive: bool,
}

impl EmbeddedChannel {
    /// Wraps `pipeline` (installing a fresh [`Recorder`] head unless it has
    /// one) and fires "channel active". The virtual clock starts at the
    /// pipeline's current time.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert!(!ch.is_closed());
    /// ```
    pub fn new(mut pipeline: Pipeline) -> EmbeddedChannel {
        if pipeline.recorder().is_none() {
            pipeline.set_head(Box::new(Recorder::default()));
        }
        pipeline.set_capture(true);
        let now = pipeline.now();
        let mut ch = EmbeddedChannel {
            pipeline,
            now,
            inactive: false,
        };
        ch.pipeline.fire_channel_active();
        ch.settle();
        ch
    }

    fn recorder(&mut self) -> &mut Recorder {
        match self.pipeline.recorder() {
            Some(r) => r,
            None => unreachable!(
                "an EmbeddedChannel's head is a Recorder, installed in new and never replaced"
            ),
        }
    }

    /// After each step: a close that reached the head ends the channel.
    fn settle(&mut self) {
        if self.is_closed() && !self.inactive {
            self.inactive = true;
            self.pipeline.fire_channel_inactive();
        }
    }

    /// The pipeline.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert!(ch.pipeline().names().is_empty());
    /// ```
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The pipeline, to change it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_pipeline::{Context, Handler, Message};
    /// struct Nop;
    /// impl Handler for Nop {
    ///     type In = Message;
    ///     type Out = Message;
    ///     fn read(&mut self, ctx: &mut Context<'_>, m: Message) { ctx.fire_read(m) }
    /// }
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.pipeline_mut().handlers().add_last("nop", Nop).unwrap();
    /// ```
    pub fn pipeline_mut(&mut self) -> &mut Pipeline {
        &mut self.pipeline
    }

    /// Feeds one inbound message, then "read complete".
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn write_inbound<T: MessageType>(&mut self, msg: T) {
        self.pipeline.fire_read(msg.into_message());
        self.pipeline.fire_read_complete();
        self.settle();
    }

    /// Feeds several inbound messages, each as its own read, then one "read
    /// complete".
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_inbound_all([Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
    /// assert_eq!(ch.inbound_len(), 2);
    /// ```
    pub fn write_inbound_all<T: MessageType>(&mut self, msgs: impl IntoIterator<Item = T>) {
        for m in msgs {
            self.pipeline.fire_read(m.into_message());
            self.settle();
        }
        self.pipeline.fire_read_complete();
        self.settle();
    }

    /// Writes a message from the tail and flushes it.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_outbound(bytes::Bytes::from_static(b"out"));
    /// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"out"[..]);
    /// ```
    pub fn write_outbound(&mut self, msg: impl Into<Message>) {
        self.pipeline.write(msg.into(), None);
        self.pipeline.flush();
        self.settle();
    }

    /// Fires a user event from the head.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.fire_user_event(7u8);
    /// assert_eq!(ch.read_user_event::<u8>(), Some(7));
    /// ```
    pub fn fire_user_event<T: Any + Send>(&mut self, event: T) {
        self.pipeline
            .fire_event(crate::Event::User(crate::Value::new(event)));
        self.settle();
    }

    /// Fires an exception from the head.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.fire_exception(weft_pipeline::PipelineError::decode("bad"));
    /// assert!(ch.is_closed());
    /// ```
    pub fn fire_exception(&mut self, err: PipelineError) {
        self.pipeline.fire_exception(err);
        self.settle();
    }

    /// Sets the channel's writability, as crossing a watermark would, and
    /// tells the handlers.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.set_writable(false);
    /// assert!(!ch.pipeline().is_writable());
    /// ```
    pub fn set_writable(&mut self, writable: bool) {
        self.recorder().set_writable(writable);
        self.pipeline.fire_writability_changed(writable);
        self.settle();
    }

    /// The virtual clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// let t = ch.now();
    /// ch.advance(std::time::Duration::from_secs(1));
    /// assert_eq!(ch.now() - t, std::time::Duration::from_secs(1));
    /// ```
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves the virtual clock forward and runs the timers that are due.
    ///
    /// # Examples
    ///
    /// See [`now`](Self::now).
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.pipeline.fire_timer(self.now);
        self.settle();
    }

    /// Runs every task handlers started ([`Context::spawn`](crate::Context::spawn))
    /// to completion, in the order started, and their continuations (and
    /// the tasks those start); returns how many ran. Each task runs alone
    /// on this thread (`futures::executor::block_on`): a task that needs a
    /// tokio runtime (timers, `spawn_blocking`) needs the caller to be
    /// inside one.
    ///
    /// # Examples
    ///
    /// See [`Context::spawn`](crate::Context::spawn).
    pub fn run_tasks(&mut self) -> usize {
        let mut n = 0;
        loop {
            let tasks: VecDeque<Task> = self.recorder().take_tasks();
            if tasks.is_empty() {
                return n;
            }
            for t in tasks {
                let done = futures::executor::block_on(t);
                self.pipeline.complete(done);
                self.settle();
                n += 1;
            }
        }
    }

    /// The next message that reached the tail, if it is a `T` (the message
    /// stays first in line otherwise).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn read_inbound<T: MessageType>(&mut self) -> Option<T> {
        let m = self.pipeline.captured().pop_front()?;
        match T::from_message(m) {
            Ok(t) => Some(t),
            Err(m) => {
                self.pipeline.captured().push_front(m);
                None
            }
        }
    }

    /// The next message that reached the tail, as the bytes it holds:
    /// free for `Bytes` and one-segment composites, a counted copy for
    /// more segments. `None` for a file region or a user value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_inbound(bytes::Bytes::from_static(b"x"));
    /// assert_eq!(ch.read_inbound_bytes().unwrap(), &b"x"[..]);
    /// ```
    pub fn read_inbound_bytes(&mut self) -> Option<Bytes> {
        self.pipeline.captured().pop_front()?.to_bytes()
    }

    /// Messages waiting at the tail.
    ///
    /// # Examples
    ///
    /// See [`write_inbound_all`](Self::write_inbound_all).
    pub fn inbound_len(&mut self) -> usize {
        self.pipeline.captured().len()
    }

    /// The oldest user event of type `T` that reached the tail (older
    /// events of other types are dropped).
    ///
    /// # Examples
    ///
    /// See [`fire_user_event`](Self::fire_user_event).
    pub fn read_user_event<T: Any>(&mut self) -> Option<T> {
        while let Some(ev) = self.pipeline.captured_events().pop_front() {
            if let Ok(t) = ev.downcast::<T>() {
                return Some(t);
            }
        }
        None
    }

    /// The next operation that reached the head.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::HeadOp;
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_outbound(bytes::Bytes::from_static(b"x"));
    /// assert!(matches!(ch.read_outbound(), Some(HeadOp::Write(..))));
    /// assert!(matches!(ch.read_outbound(), Some(HeadOp::Flush)));
    /// ```
    pub fn read_outbound(&mut self) -> Option<HeadOp> {
        self.recorder().ops().pop_front()
    }

    /// The next write that reached the head (its promise is completed;
    /// flushes and closes before it are skipped).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::Wire;
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_outbound(bytes::Bytes::from_static(b"x"));
    /// assert!(matches!(ch.read_outbound_wire(), Some(Wire::Bytes(_))));
    /// ```
    pub fn read_outbound_wire(&mut self) -> Option<Wire> {
        while let Some(op) = self.read_outbound() {
            if let HeadOp::Write(w, p) = op {
                if let Some(p) = p {
                    p.succeed();
                }
                return Some(w);
            }
        }
        None
    }

    /// The next write's bytes (a counted copy if it has several segments;
    /// `None` for a file region or when no write is left).
    ///
    /// # Examples
    ///
    /// See [`write_outbound`](Self::write_outbound).
    pub fn read_outbound_bytes(&mut self) -> Option<Bytes> {
        match self.read_outbound_wire()? {
            Wire::Bytes(b) => Some(b),
            Wire::Composite(c) => Some(c.to_bytes()),
            Wire::File(_) => None,
        }
    }

    /// Every byte written so far, in order, as one buffer (a counted copy):
    /// what a peer would read.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_outbound(bytes::Bytes::from_static(b"ab"));
    /// ch.write_outbound(bytes::Bytes::from_static(b"c"));
    /// assert_eq!(ch.read_outbound_all(), &b"abc"[..]);
    /// ```
    pub fn read_outbound_all(&mut self) -> Bytes {
        let mut out = Vec::new();
        while let Some(b) = self.read_outbound_bytes() {
            weft_buf::record_copy(b.len());
            out.extend_from_slice(&b);
        }
        Bytes::from(out)
    }

    /// True once a close reached the head.
    ///
    /// # Examples
    ///
    /// See [`fire_exception`](Self::fire_exception).
    pub fn is_closed(&self) -> bool {
        // Through the pipeline's head: `recorder()` needs `&mut`.
        self.pipeline.is_closed_recorder()
    }

    /// The last auto-read setting a handler made (initially on).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new()).auto_read());
    /// ```
    pub fn auto_read(&mut self) -> bool {
        self.recorder().auto_read()
    }

    /// Closes from the tail.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.close();
    /// assert!(ch.is_closed());
    /// ```
    pub fn close(&mut self) {
        self.pipeline.close();
        self.settle();
    }

    /// What the pipeline could not deliver.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert_eq!(ch.stats().unconsumed_reads, 0);
    /// ```
    pub fn stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }

    /// Takes the exceptions that reached the tail unhandled.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn take_exceptions(&mut self) -> Vec<PipelineError> {
        self.pipeline.take_unhandled_exceptions()
    }

    /// `Err` with the first unhandled exception, if any (the rest are dropped).
    ///
    /// # Errors
    ///
    /// The first exception that reached the tail unhandled.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert!(ch.check_exception().is_ok());
    /// ```
    pub fn check_exception(&mut self) -> Result<(), PipelineError> {
        let mut all = self.take_exceptions();
        if all.is_empty() {
            Ok(())
        } else {
            Err(all.remove(0))
        }
    }

    /// Closes the channel (if open) and fires "channel inactive" (once);
    /// returns true if anything is left to read, inbound or outbound.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn finish(&mut self) -> bool {
        if !self.is_closed() {
            self.close();
        }
        if !self.inactive {
            self.inactive = true;
            self.pipeline.fire_channel_inactive();
        }
        let writes = self
            .recorder()
            .ops()
            .iter()
            .any(|op| matches!(op, HeadOp::Write(..)));
        writes || !self.pipeline.captured().is_empty()
    }
}
