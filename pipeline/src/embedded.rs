//! [`EmbeddedChannel`]: a pipeline driven with no socket, for tests.

use std::any::Any;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{HeadOp, Message, Pipeline, PipelineError, PipelineStats};

/// Drives a [`Pipeline`] with no socket: feeds inbound messages, collects
/// what reaches the head, and advances a virtual clock.
///
/// Messages and user events that reach the tail are kept for
/// [`read_inbound`](Self::read_inbound) /
/// [`read_user_event`](Self::read_user_event) instead of being dropped.
/// When a [`HeadOp::Close`] reaches the head, the channel acts like a
/// transport: it becomes closed and fires "channel inactive" once.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::codec::{ByteToMessageDecoder, LineBasedFrameDecoder};
/// use weft_pipeline::{EmbeddedChannel, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.add_last("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(80)))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"hel"));
/// assert!(ch.read_inbound().is_none());
/// ch.write_inbound(Bytes::from_static(b"lo\nwor"));
/// assert_eq!(ch.read_inbound_bytes().unwrap(), &b"hello"[..]);
/// assert!(!ch.finish()); // "wor" is left over: reported as an exception
/// assert_eq!(ch.take_exceptions().len(), 1);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug)]
pub struct EmbeddedChannel {
    pipeline: Pipeline,
    outbound: VecDeque<HeadOp>,
    now: Instant,
    closed: bool,
    inactive: bool,
    auto_read: bool,
}

impl EmbeddedChannel {
    /// Wraps `pipeline` and fires "channel active". The virtual clock
    /// starts at the pipeline's current time.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert!(!ch.is_closed());
    /// ```
    pub fn new(mut pipeline: Pipeline) -> EmbeddedChannel {
        pipeline.set_capture(true);
        let now = pipeline.now();
        let mut ch = EmbeddedChannel {
            pipeline,
            outbound: VecDeque::new(),
            now,
            closed: false,
            inactive: false,
            auto_read: true,
        };
        ch.pipeline.fire_channel_active();
        ch.collect();
        ch
    }

    /// Moves what reached the head into the outbound queue; reacts to a close.
    fn collect(&mut self) {
        loop {
            let ops = self.pipeline.take_head_ops();
            if ops.is_empty() {
                break;
            }
            for op in ops {
                match op {
                    HeadOp::Close => self.closed = true,
                    HeadOp::SetAutoRead(on) => self.auto_read = on,
                    _ => {}
                }
                self.outbound.push_back(op);
            }
            if self.closed && !self.inactive {
                self.inactive = true;
                self.pipeline.fire_channel_inactive();
            }
        }
    }

    /// The pipeline, to inspect it.
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

    /// The pipeline, to change it between events.
    ///
    /// # Examples
    ///
    /// ```
    /// struct Nop;
    /// impl weft_pipeline::Handler for Nop {}
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.pipeline_mut().add_last("nop", Nop).unwrap();
    /// ```
    pub fn pipeline_mut(&mut self) -> &mut Pipeline {
        &mut self.pipeline
    }

    /// Fires a read of `msg` followed by "read complete", as one socket
    /// read would.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn write_inbound(&mut self, msg: impl Into<Message>) {
        self.pipeline.fire_read(msg.into());
        self.pipeline.fire_read_complete();
        self.collect();
    }

    /// Fires one read per message, then one "read complete".
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_inbound_all([Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
    /// assert_eq!(ch.inbound_len(), 2);
    /// ```
    pub fn write_inbound_all<M: Into<Message>>(&mut self, msgs: impl IntoIterator<Item = M>) {
        for m in msgs {
            self.pipeline.fire_read(m.into());
            self.collect();
        }
        self.pipeline.fire_read_complete();
        self.collect();
    }

    /// Writes `msg` from the tail and flushes, as an application would.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_outbound(Bytes::from_static(b"x"));
    /// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"x"[..]);
    /// ```
    pub fn write_outbound(&mut self, msg: impl Into<Message>) {
        self.pipeline.write(msg.into(), None);
        self.pipeline.flush();
        self.collect();
    }

    /// Fires a user event from the head.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.fire_user_event(Box::new(5u8));
    /// assert_eq!(ch.read_user_event::<u8>(), Some(5));
    /// ```
    pub fn fire_user_event(&mut self, ev: Box<dyn Any + Send>) {
        self.pipeline.fire_user_event(ev);
        self.collect();
    }

    /// Fires an exception from the head.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.fire_exception(weft_pipeline::PipelineError::decode("x"));
    /// assert!(ch.is_closed());
    /// ```
    pub fn fire_exception(&mut self, err: PipelineError) {
        self.pipeline.fire_exception(err);
        self.collect();
    }

    /// Reports a writability change, as the transport would.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.set_writable(false);
    /// assert!(!ch.pipeline().is_writable());
    /// ```
    pub fn set_writable(&mut self, writable: bool) {
        self.pipeline.fire_writability_changed(writable);
        self.collect();
    }

    /// The virtual time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// let t0 = ch.now();
    /// ch.advance(Duration::from_secs(5));
    /// assert_eq!(ch.now() - t0, Duration::from_secs(5));
    /// ```
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves the virtual clock forward by `by` and fires the timers that
    /// are due. No sleeping.
    ///
    /// # Examples
    ///
    /// See [`now`](Self::now) and [`IdleStateHandler`](crate::IdleStateHandler).
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.pipeline.fire_timer(self.now);
        self.collect();
    }

    /// Takes the next message that reached the tail.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn read_inbound(&mut self) -> Option<Message> {
        self.pipeline.captured().pop_front()
    }

    /// Takes the next message that reached the tail as one `Bytes` (a
    /// composite is flattened with a counted copy). `None` if there is
    /// none, or it is not an in-memory buffer.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn read_inbound_bytes(&mut self) -> Option<Bytes> {
        self.read_inbound().and_then(|m| m.to_bytes())
    }

    /// Takes the next message that reached the tail if it is a `T`. A
    /// message of another type stays queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{EmbeddedChannel, Message, Pipeline};
    /// let mut ch = EmbeddedChannel::new(Pipeline::new());
    /// ch.write_inbound(Message::user(String::from("hi")));
    /// assert_eq!(ch.read_inbound_as::<String>().as_deref(), Some("hi"));
    /// ```
    pub fn read_inbound_as<T: Any + Send>(&mut self) -> Option<T> {
        let m = self.pipeline.captured().pop_front()?;
        match m.downcast::<T>() {
            Ok(t) => Some(t),
            Err(m) => {
                self.pipeline.captured().push_front(m);
                None
            }
        }
    }

    /// How many messages wait at the tail.
    ///
    /// # Examples
    ///
    /// See [`write_inbound_all`](Self::write_inbound_all).
    pub fn inbound_len(&mut self) -> usize {
        self.pipeline.captured().len()
    }

    /// Takes the next user event of type `T` that reached the tail (events
    /// of other types before it are dropped).
    ///
    /// # Examples
    ///
    /// See [`fire_user_event`](Self::fire_user_event).
    pub fn read_user_event<T: Any>(&mut self) -> Option<T> {
        while let Some(ev) = self.pipeline.captured_events().pop_front() {
            if let Ok(t) = ev.downcast::<T>() {
                return Some(*t);
            }
        }
        None
    }

    /// Takes the next operation that reached the head: a write, flush,
    /// close or auto-read switch, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{EmbeddedChannel, HeadOp, Pipeline};
    /// let mut ch = EmbeddedChannel::new(Pipeline::new());
    /// ch.write_outbound(bytes::Bytes::from_static(b"x"));
    /// assert!(matches!(ch.read_outbound(), Some(HeadOp::Write(..))));
    /// assert!(matches!(ch.read_outbound(), Some(HeadOp::Flush)));
    /// assert!(ch.read_outbound().is_none());
    /// ```
    pub fn read_outbound(&mut self) -> Option<HeadOp> {
        self.outbound.pop_front()
    }

    /// Takes the next written message, skipping flushes and other
    /// operations before it. A promise with it is completed successfully,
    /// as a transport would once the bytes were sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{EmbeddedChannel, Message, Pipeline};
    /// let mut ch = EmbeddedChannel::new(Pipeline::new());
    /// ch.write_outbound(bytes::Bytes::from_static(b"x"));
    /// assert!(matches!(ch.read_outbound_message(), Some(Message::Bytes(_))));
    /// ```
    pub fn read_outbound_message(&mut self) -> Option<Message> {
        while let Some(op) = self.outbound.pop_front() {
            if let HeadOp::Write(m, p) = op {
                if let Some(p) = p {
                    p.succeed();
                }
                return Some(m);
            }
        }
        None
    }

    /// Like [`read_outbound_message`](Self::read_outbound_message), as one
    /// `Bytes` (a composite is flattened with a counted copy).
    ///
    /// # Examples
    ///
    /// See [`write_outbound`](Self::write_outbound).
    pub fn read_outbound_bytes(&mut self) -> Option<Bytes> {
        self.read_outbound_message().and_then(|m| m.to_bytes())
    }

    /// True once a close reached the head.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.close();
    /// assert!(ch.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The last auto-read switch a handler asked for (initially on).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert!(ch.auto_read());
    /// ```
    pub fn auto_read(&self) -> bool {
        self.auto_read
    }

    /// Closes from the tail (through the outbound handlers), then fires
    /// "channel inactive" if the close reached the head.
    ///
    /// # Examples
    ///
    /// See [`is_closed`](Self::is_closed).
    pub fn close(&mut self) {
        self.pipeline.close();
        self.collect();
    }

    /// The pipeline's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert_eq!(ch.stats().unhandled_exceptions, 0);
    /// ```
    pub fn stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }

    /// Takes the exceptions that reached the tail unhandled.
    ///
    /// # Examples
    ///
    /// See [`fire_exception`](Self::fire_exception).
    pub fn take_exceptions(&mut self) -> Vec<PipelineError> {
        self.pipeline.take_unhandled_exceptions()
    }

    /// Returns the first exception that reached the tail unhandled, if any
    /// (Netty's `checkException`).
    ///
    /// # Errors
    ///
    /// That exception.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// assert!(ch.check_exception().is_ok());
    /// ch.fire_exception(weft_pipeline::PipelineError::decode("x"));
    /// assert!(ch.check_exception().is_err());
    /// ```
    pub fn check_exception(&mut self) -> Result<(), PipelineError> {
        let mut all = self.take_exceptions();
        if all.is_empty() {
            Ok(())
        } else {
            Err(all.remove(0))
        }
    }

    /// Closes the channel (so decoders see the end of the stream) and
    /// returns true if any message waits to be read at either end.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ch = weft_pipeline::EmbeddedChannel::new(weft_pipeline::Pipeline::new());
    /// ch.write_inbound(bytes::Bytes::from_static(b"x"));
    /// assert!(ch.finish());
    /// ```
    pub fn finish(&mut self) -> bool {
        if !self.closed {
            self.close();
        }
        if !self.inactive {
            self.inactive = true;
            self.pipeline.fire_channel_inactive();
            self.collect();
        }
        let writes = self
            .outbound
            .iter()
            .any(|op| matches!(op, HeadOp::Write(..)));
        writes || !self.pipeline.captured().is_empty()
    }
}
