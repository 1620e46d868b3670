//! [`IdleStateHandler`]: user events when a channel has been quiet too long.

use std::time::{Duration, Instant};

use crate::{Context, Event, Handler, Message, WritePromise};

/// Which kind of quiet an [`IdleStateEvent`] reports.
///
/// # Examples
///
/// ```
/// assert_ne!(weft_pipeline::IdleState::ReaderIdle, weft_pipeline::IdleState::AllIdle);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdleState {
    /// Nothing was read for the reader timeout.
    ReaderIdle,
    /// Nothing was written for the writer timeout.
    WriterIdle,
    /// Nothing was read or written for the all-idle timeout.
    AllIdle,
}

/// The user event an [`IdleStateHandler`] fires.
///
/// # Examples
///
/// See [`IdleStateHandler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdleStateEvent {
    /// The kind of quiet.
    pub state: IdleState,
    /// True for the first event since the last activity; later events of
    /// the same kind repeat every timeout while the quiet lasts.
    pub first: bool,
}

#[derive(Debug, Clone, Copy)]
struct Timer {
    timeout: Duration,
    deadline: Option<Instant>,
    first: bool,
}

impl Timer {
    fn new(timeout: Option<Duration>) -> Option<Timer> {
        timeout.filter(|t| !t.is_zero()).map(|timeout| Timer {
            timeout,
            deadline: None,
            first: true,
        })
    }

    fn touch(&mut self, now: Instant) {
        self.deadline = now.checked_add(self.timeout);
        self.first = true;
    }

    /// Fires if due: returns `first` and re-arms for another full timeout.
    fn due(&mut self, now: Instant) -> Option<bool> {
        let d = self.deadline?;
        if d > now {
            return None;
        }
        let first = self.first;
        self.first = false;
        self.deadline = now.checked_add(self.timeout);
        Some(first)
    }
}

/// Fires [`IdleStateEvent`]s when nothing was read, written, or either, for
/// a while (Netty's `IdleStateHandler`).
///
/// It has no clock: it counts from `ctx.now()` when it is added, when the
/// channel becomes active, and at each read or write passing through it,
/// and tells the pipeline its next deadline, so the transport (or
/// [`EmbeddedChannel::advance`](crate::EmbeddedChannel::advance)) calls it
/// back on time. A timeout of zero (or `None`) switches that kind off. After
/// "channel inactive" it stops.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_pipeline::{EmbeddedChannel, IdleState, IdleStateEvent, IdleStateHandler, Pipeline};
///
/// let mut p = Pipeline::new();
/// p.handlers().add_last("idle", IdleStateHandler::new(Some(Duration::from_secs(30)), None, None))?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.advance(Duration::from_secs(29));
/// assert!(ch.read_user_event::<IdleStateEvent>().is_none());
/// ch.advance(Duration::from_secs(1));
/// let ev = ch.read_user_event::<IdleStateEvent>().unwrap();
/// assert_eq!(ev, IdleStateEvent { state: IdleState::ReaderIdle, first: true });
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
#[derive(Debug, Clone)]
pub struct IdleStateHandler {
    reader: Option<Timer>,
    writer: Option<Timer>,
    all: Option<Timer>,
}

impl IdleStateHandler {
    /// A handler with the three timeouts (`None` or zero = off).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn new(
        reader_idle: Option<Duration>,
        writer_idle: Option<Duration>,
        all_idle: Option<Duration>,
    ) -> Self {
        IdleStateHandler {
            reader: Timer::new(reader_idle),
            writer: Timer::new(writer_idle),
            all: Timer::new(all_idle),
        }
    }

    fn start(&mut self, now: Instant) {
        for t in [&mut self.reader, &mut self.writer, &mut self.all]
            .into_iter()
            .flatten()
        {
            t.touch(now);
        }
    }

    fn stop(&mut self) {
        for t in [&mut self.reader, &mut self.writer, &mut self.all]
            .into_iter()
            .flatten()
        {
            t.deadline = None;
        }
    }
}

impl Handler for IdleStateHandler {
    type In = Message;
    type Out = Message;

    fn handler_added(&mut self, ctx: &mut Context<'_>) {
        self.start(ctx.now());
    }

    fn event(&mut self, ctx: &mut Context<'_>, event: Event) {
        match event {
            Event::Active => self.start(ctx.now()),
            Event::Inactive => self.stop(),
            _ => {}
        }
        ctx.fire_event(event);
    }

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        let now = ctx.now();
        for t in [&mut self.reader, &mut self.all].into_iter().flatten() {
            if t.deadline.is_some() {
                t.touch(now);
            }
        }
        ctx.fire_read(msg);
    }

    fn write(&mut self, ctx: &mut Context<'_>, msg: Message, promise: Option<WritePromise>) {
        let now = ctx.now();
        for t in [&mut self.writer, &mut self.all].into_iter().flatten() {
            if t.deadline.is_some() {
                t.touch(now);
            }
        }
        ctx.write_with_promise(msg, promise);
    }

    fn deadline(&self) -> Option<Instant> {
        [&self.reader, &self.writer, &self.all]
            .into_iter()
            .flatten()
            .filter_map(|t| t.deadline)
            .min()
    }

    fn timer(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let kinds = [
            (&mut self.reader, IdleState::ReaderIdle),
            (&mut self.writer, IdleState::WriterIdle),
            (&mut self.all, IdleState::AllIdle),
        ];
        for (t, state) in kinds {
            if let Some(first) = t.as_mut().and_then(|t| t.due(now)) {
                ctx.fire_user_event(IdleStateEvent { state, first });
            }
        }
    }
}
