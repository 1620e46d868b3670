//! [`Head`]: the one trait through which the pipeline reaches its channel,
//! and [`Task`]s: futures a handler starts on the connection's task.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::context::Core;
use crate::{Wire, WritePromise};

/// The channel end of a pipeline: what performs the writes, flushes and
/// closes that reach the head, and owns the channel's state (writability,
/// auto-read). `weft-transport` implements it over a socket,
/// [`EmbeddedChannel`](crate::EmbeddedChannel) over memory
/// ([`Recorder`]).
///
/// The pipeline calls it while a handler's operation reaches the head, in
/// order; a write is handed over as the [`Wire`] it is, with no
/// translation.
///
/// # Examples
///
/// ```
/// use weft_pipeline::{Head, Pipeline, Recorder, Task, Wire, WritePromise};
///
/// /// Counts the bytes written.
/// #[derive(Default)]
/// struct Counter(u64);
/// impl Head for Counter {
///     fn write(&mut self, msg: Wire, promise: Option<WritePromise>) {
///         self.0 += msg.len();
///         if let Some(p) = promise { p.succeed() }
///     }
///     fn flush(&mut self) {}
///     fn close(&mut self) {}
///     fn set_auto_read(&mut self, _on: bool) {}
///     fn is_writable(&self) -> bool { true }
///     fn spawn(&mut self, _task: Task) {}
/// }
///
/// let mut p = Pipeline::new();
/// p.set_head(Box::new(Counter::default()));
/// p.write(bytes::Bytes::from_static(b"hello").into(), None);
/// assert_eq!(p.head_mut::<Counter>().unwrap().0, 5);
/// ```
pub trait Head: Any + Send {
    /// Queues `msg` for the wire; complete `promise` when its bytes reach
    /// the kernel (or fail it).
    fn write(&mut self, msg: Wire, promise: Option<WritePromise>);
    /// Writes out everything queued so far.
    fn flush(&mut self);
    /// Closes the channel (after what was flushed has gone out).
    fn close(&mut self);
    /// Switches reading from the socket on or off (backpressure).
    fn set_auto_read(&mut self, on: bool);
    /// False while the outbound buffer is above its high watermark. The
    /// head is the one owner of this state.
    fn is_writable(&self) -> bool;
    /// Runs `task` on the channel's own task; its completion goes back
    /// through [`Pipeline::complete`](crate::Pipeline::complete).
    fn spawn(&mut self, task: Task);
    /// The channel handle other tasks can use to write to this channel, if
    /// the head has one (the transport's `Channel`).
    fn channel(&self) -> Option<&(dyn Any + Send + Sync)> {
        None
    }
}

/// An operation a [`Recorder`] saw reach the head.
///
/// # Examples
///
/// ```
/// use weft_pipeline::{HeadOp, Pipeline, Wire};
///
/// let mut p = Pipeline::new();
/// p.write(bytes::Bytes::from_static(b"x").into(), None);
/// p.flush();
/// let ops = p.recorder().map(|r| r.take_ops()).unwrap_or_default();
/// assert!(matches!(ops[0], HeadOp::Write(Wire::Bytes(_), None)));
/// assert!(matches!(ops[1], HeadOp::Flush));
/// ```
#[derive(Debug)]
pub enum HeadOp {
    /// A write, with its promise.
    Write(Wire, Option<WritePromise>),
    /// A flush.
    Flush,
    /// A close.
    Close,
}

/// A [`Head`] that records what reaches it: the head of a pipeline with no
/// channel yet, and of [`EmbeddedChannel`](crate::EmbeddedChannel).
///
/// # Examples
///
/// ```
/// use weft_pipeline::{Pipeline, Recorder};
/// let mut p = Pipeline::new();
/// p.close();
/// assert!(p.recorder().unwrap().is_closed());
/// ```
#[derive(Debug)]
pub struct Recorder {
    ops: VecDeque<HeadOp>,
    tasks: VecDeque<Task>,
    writable: bool,
    auto_read: bool,
    closed: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            ops: VecDeque::new(),
            tasks: VecDeque::new(),
            writable: true,
            auto_read: true,
            closed: false,
        }
    }
}

impl Recorder {
    /// Takes the recorded operations, oldest first.
    ///
    /// # Examples
    ///
    /// See [`HeadOp`].
    pub fn take_ops(&mut self) -> VecDeque<HeadOp> {
        std::mem::take(&mut self.ops)
    }

    /// The recorded operations, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Recorder::default().ops().is_empty());
    /// ```
    pub fn ops(&mut self) -> &mut VecDeque<HeadOp> {
        &mut self.ops
    }

    /// Takes the tasks handlers started, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Recorder::default().take_tasks().is_empty());
    /// ```
    pub fn take_tasks(&mut self) -> VecDeque<Task> {
        std::mem::take(&mut self.tasks)
    }

    /// Hands everything recorded to `head`, in order, and forgets it: the
    /// writes (with their promises), flushes and closes, then the tasks,
    /// then auto-read if it was switched off.
    /// [`Pipeline::set_head`](crate::Pipeline::set_head) does this when a
    /// channel takes over a new pipeline.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Head, HeadOp, Recorder, Wire};
    ///
    /// let mut early = Recorder::default();
    /// early.write(Wire::from(bytes::Bytes::from_static(b"hi")), None);
    /// early.flush();
    /// let mut channel = Recorder::default();
    /// early.replay_into(&mut channel);
    /// assert_eq!(channel.ops().len(), 2);
    /// assert!(early.ops().is_empty());
    /// ```
    pub fn replay_into(&mut self, head: &mut dyn Head) {
        for op in self.ops.drain(..) {
            match op {
                HeadOp::Write(w, p) => head.write(w, p),
                HeadOp::Flush => head.flush(),
                HeadOp::Close => head.close(),
            }
        }
        for t in self.tasks.drain(..) {
            head.spawn(t);
        }
        if !self.auto_read {
            head.set_auto_read(false);
        }
    }

    /// Sets what [`Head::is_writable`] answers.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Head, Recorder};
    /// let mut r = Recorder::default();
    /// r.set_writable(false);
    /// assert!(!r.is_writable());
    /// ```
    pub fn set_writable(&mut self, writable: bool) {
        self.writable = writable;
    }

    /// The last auto-read setting (initially on).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Recorder::default().auto_read());
    /// ```
    pub fn auto_read(&self) -> bool {
        self.auto_read
    }

    /// True once a close reached the head.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl Head for Recorder {
    fn write(&mut self, msg: Wire, promise: Option<WritePromise>) {
        self.ops.push_back(HeadOp::Write(msg, promise));
    }
    fn flush(&mut self) {
        self.ops.push_back(HeadOp::Flush);
    }
    fn close(&mut self) {
        self.closed = true;
        self.ops.push_back(HeadOp::Close);
    }
    fn set_auto_read(&mut self, on: bool) {
        self.auto_read = on;
    }
    fn is_writable(&self) -> bool {
        self.writable
    }
    fn spawn(&mut self, task: Task) {
        self.tasks.push_back(task);
    }
}

/// What runs when a [`Task`] is done: the handler's continuation.
pub(crate) type Continuation = Box<dyn for<'a> FnOnce(&mut dyn Any, Core<'a>) + Send>;

/// A future a handler started with [`Context::spawn`](crate::Context::spawn),
/// to run on the channel's task. Poll it to completion and hand its output
/// to [`Pipeline::complete`](crate::Pipeline::complete), which runs the
/// handler's continuation in the pipeline, in order with other events.
///
/// # Examples
///
/// See [`Context::spawn`](crate::Context::spawn).
pub struct Task {
    pub(crate) fut: Pin<Box<dyn Future<Output = TaskDone> + Send>>,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").finish_non_exhaustive()
    }
}

impl Future for Task {
    type Output = TaskDone;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<TaskDone> {
        self.fut.as_mut().poll(cx)
    }
}

/// A finished [`Task`]: give it to [`Pipeline::complete`](crate::Pipeline::complete).
///
/// # Examples
///
/// See [`Context::spawn`](crate::Context::spawn).
pub struct TaskDone {
    pub(crate) handler: u64,
    pub(crate) then: Continuation,
}

impl fmt::Debug for TaskDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskDone")
            .field("handler", &self.handler)
            .finish_non_exhaustive()
    }
}
