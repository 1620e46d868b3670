//! [`Handlers`]: the one API that adds, removes and replaces handlers, from
//! outside the pipeline or from inside a handler.

use std::fmt;

use crate::chain::{Chain, Ev, EventQueue};
use crate::{Handler, Pipeline, PipelineError};

enum Target<'p> {
    /// From outside: callbacks run before the method returns.
    Pipeline(&'p mut Pipeline),
    /// From a handler: callbacks are queued behind its earlier events.
    Nested {
        chain: &'p mut Chain,
        queue: &'p mut EventQueue,
    },
}

/// The handlers of a pipeline, to change: reached with
/// [`Pipeline::handlers`] when building a pipeline and with
/// [`Context::handlers`](crate::Context::handlers) from inside a handler
/// (a protocol switch). Every change is checked and made at once: a
/// duplicate name, an unknown name or neighbours whose types would not
/// meet ([`PipelineError::TypeMismatch`], naming both handlers) leave the
/// pipeline unchanged.
///
/// # Examples
///
/// ```
/// use weft_pipeline::{Context, Handler, Message, Pipeline};
///
/// struct Nop;
/// impl Handler for Nop {
///     type In = Message;
///     type Out = Message;
///     fn read(&mut self, ctx: &mut Context<'_>, m: Message) { ctx.fire_read(m) }
/// }
/// let mut p = Pipeline::new();
/// p.handlers()
///     .add_last("c", Nop)?
///     .add_first("a", Nop)?
///     .add_before("c", "b", Nop)?
///     .add_after("c", "d", Nop)?;
/// assert_eq!(p.names(), ["a", "b", "c", "d"]);
/// assert!(p.handlers().add_before("zz", "e", Nop).is_err());
/// p.handlers().replace("b", "z", Nop)?.remove("d")?;
/// assert_eq!(p.names(), ["a", "z", "c"]);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
pub struct Handlers<'p> {
    target: Target<'p>,
}

impl fmt::Debug for Handlers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain = match &self.target {
            Target::Pipeline(p) => &p.chain,
            Target::Nested { chain, .. } => &**chain,
        };
        f.debug_struct("Handlers")
            .field("names", &chain.names())
            .finish()
    }
}

/// Where [`Handlers::insert`] puts a handler.
enum At<'n> {
    First,
    Last,
    Before(&'n str),
    After(&'n str),
}

impl<'p> Handlers<'p> {
    pub(crate) fn top(p: &'p mut Pipeline) -> Self {
        Handlers {
            target: Target::Pipeline(p),
        }
    }

    pub(crate) fn nested(chain: &'p mut Chain, queue: &'p mut EventQueue) -> Self {
        Handlers {
            target: Target::Nested { chain, queue },
        }
    }

    fn chain(&mut self) -> &mut Chain {
        match &mut self.target {
            Target::Pipeline(p) => &mut p.chain,
            Target::Nested { chain, .. } => chain,
        }
    }

    /// Queues the callbacks of a change; from outside, runs them now.
    fn changed(&mut self, events: impl IntoIterator<Item = Ev>) -> &mut Self {
        match &mut self.target {
            Target::Pipeline(p) => p.run_batch(events),
            Target::Nested { queue, .. } => {
                for ev in events {
                    queue.push(ev);
                }
            }
        }
        self
    }

    fn insert(
        &mut self,
        at: At<'_>,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let h = Box::new(h);
        let chain = self.chain();
        let id = match at {
            At::First => chain.add_first(name, h),
            At::Last => chain.add_last(name, h),
            At::Before(base) => chain.add_before(base, name, h),
            At::After(base) => chain.add_after(base, name, h),
        }?;
        Ok(self.changed([Ev::Added(id)]))
    }

    /// The names of the live handlers, head first.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Pipeline::new().handlers().names().is_empty());
    /// ```
    pub fn names(&mut self) -> Vec<String> {
        self.chain()
            .names()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// True if a handler named `name` is in the pipeline.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!weft_pipeline::Pipeline::new().handlers().contains("x"));
    /// ```
    pub fn contains(&mut self, name: &str) -> bool {
        self.chain().live_index(name).is_some()
    }

    /// Adds a handler at the tail end; its `handler_added` runs next.
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
    /// use bytes::Bytes;
    /// use weft_pipeline::{Context, Handler, Nothing, Pipeline, PipelineError};
    ///
    /// struct Frames; // emits bytes
    /// impl Handler for Frames {
    ///     type In = Bytes;
    ///     type Out = Bytes;
    ///     fn read(&mut self, ctx: &mut Context<'_, Bytes>, b: Bytes) { ctx.fire_read(b) }
    /// }
    /// struct Strings; // takes only Strings
    /// impl Handler for Strings {
    ///     type In = String;
    ///     type Out = Nothing;
    ///     fn read(&mut self, _: &mut Context<'_, Nothing>, _: String) {}
    /// }
    ///
    /// let mut p = Pipeline::new();
    /// p.handlers().add_last("frames", Frames)?;
    /// let err = p.handlers().add_last("app", Strings).unwrap_err();
    /// assert!(matches!(err, PipelineError::TypeMismatch { .. }));
    /// let text = err.to_string();
    /// assert!(text.contains("`frames`") && text.contains("`app`"), "{text}");
    /// assert!(matches!(p.handlers().add_last("frames", Frames), Err(PipelineError::DuplicateName(_))));
    /// # Ok::<(), PipelineError>(())
    /// ```
    pub fn add_last(&mut self, name: &str, h: impl Handler) -> Result<&mut Self, PipelineError> {
        self.insert(At::Last, name, h)
    }

    /// Adds a handler at the head end.
    ///
    /// # Errors
    ///
    /// As [`add_last`](Self::add_last).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn add_first(&mut self, name: &str, h: impl Handler) -> Result<&mut Self, PipelineError> {
        self.insert(At::First, name, h)
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
    /// See the type-level example.
    pub fn add_before(
        &mut self,
        base: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        self.insert(At::Before(base), name, h)
    }

    /// Adds a handler just after `base`.
    ///
    /// # Errors
    ///
    /// As [`add_before`](Self::add_before).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn add_after(
        &mut self,
        base: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        self.insert(At::After(base), name, h)
    }

    /// Removes the handler `name`; its `handler_removed` runs next.
    /// Events it fires from there still start from its old position.
    ///
    /// # Errors
    ///
    /// [`PipelineError::UnknownName`]; [`PipelineError::TypeMismatch`] if
    /// its neighbours' types would not meet without it (nothing changes).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn remove(&mut self, name: &str) -> Result<&mut Self, PipelineError> {
        let id = self.chain().remove(name)?;
        Ok(self.changed([Ev::Removed(id)]))
    }

    /// Replaces the handler `old` by `h`, named `name`, in the same place:
    /// the old one's `handler_removed` runs before the new one's
    /// `handler_added`.
    ///
    /// # Errors
    ///
    /// [`PipelineError::UnknownName`], [`PipelineError::DuplicateName`],
    /// [`PipelineError::TypeMismatch`] (nothing changes then).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn replace(
        &mut self,
        old: &str,
        name: &str,
        h: impl Handler,
    ) -> Result<&mut Self, PipelineError> {
        let (old_id, new_id) = self.chain().replace(old, name, Box::new(h))?;
        Ok(self.changed([Ev::Removed(old_id), Ev::Added(new_id)]))
    }
}

/// A pipeline built handler by handler with the neighbours' types checked
/// by the compiler: [`then`](Self::then) takes only a handler whose
/// [`In`](Handler::In) is `T`, the [`Out`](Handler::Out) of the handler
/// before it. The result is the same named chain that
/// [`Handlers`] edits (and checks again at run time when it changes).
///
/// The head hands reads on as `CompositeBuf` (one read is one segment), so
/// a chain starts at `CompositeBuf`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::CompositeBuf;
/// use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldPrepender, LineBasedFrameDecoder};
/// use weft_pipeline::{Context, EmbeddedChannel, Handler, Nothing, Pipeline};
///
/// struct Shout;
/// impl Handler for Shout {
///     type In = CompositeBuf;
///     type Out = Nothing;
///     fn read(&mut self, ctx: &mut Context<'_, Nothing>, line: CompositeBuf) {
///         ctx.write_and_flush(Bytes::from(line.to_bytes().to_ascii_uppercase()));
///     }
/// }
///
/// let mut p = Pipeline::new();
/// p.typed()
///     .pass("length", LengthFieldPrepender::new(1)?)?
///     .then("lines", ByteToMessageDecoder::new(LineBasedFrameDecoder::new(80)))?
///     .then("shout", Shout)?;
/// let mut ch = EmbeddedChannel::new(p);
/// ch.write_inbound(Bytes::from_static(b"hi\n"));
/// assert_eq!(ch.read_outbound_bytes().unwrap(), &b"\x02HI"[..]);
/// # Ok::<(), weft_pipeline::PipelineError>(())
/// ```
///
/// A handler that does not take what the one before it hands on does not
/// compile:
///
/// ```compile_fail
/// use weft_pipeline::{Context, Handler, Nothing, Pipeline};
///
/// struct Numbers;
/// impl Handler for Numbers {
///     type In = u64;
///     type Out = Nothing;
///     fn read(&mut self, _: &mut Context<'_, Nothing>, _: u64) {}
/// }
/// # impl weft_pipeline::MessageType for u64 {}
///
/// let mut p = Pipeline::new();
/// p.typed().then("numbers", Numbers); // error: expected `CompositeBuf`, found `u64`
/// ```
pub struct TypedHandlers<'p, T> {
    handlers: Handlers<'p>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for TypedHandlers<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedHandlers")
            .field("emits", &std::any::type_name::<T>())
            .field("handlers", &self.handlers)
            .finish()
    }
}

impl<'p> TypedHandlers<'p, weft_buf::CompositeBuf> {
    pub(crate) fn new(handlers: Handlers<'p>) -> Self {
        TypedHandlers {
            handlers,
            _t: std::marker::PhantomData,
        }
    }
}

impl<'p, T: crate::MessageType> TypedHandlers<'p, T> {
    /// Adds `h` at the tail; it must take the `T` the chain hands on so
    /// far, and the chain then hands on its `Out`.
    ///
    /// # Errors
    ///
    /// [`PipelineError::DuplicateName`], or a run-time
    /// [`PipelineError::TypeMismatch`] with a handler already in the
    /// pipeline before this chain was started.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn then<H: Handler<In = T>>(
        mut self,
        name: &str,
        h: H,
    ) -> Result<TypedHandlers<'p, H::Out>, PipelineError> {
        self.handlers.add_last(name, h)?;
        Ok(TypedHandlers {
            handlers: self.handlers,
            _t: std::marker::PhantomData,
        })
    }

    /// Adds a handler that takes and hands on anything ([`Message`](crate::Message)),
    /// such as an encoder or an idle timer; the chain still hands on `T`.
    ///
    /// # Errors
    ///
    /// As [`then`](Self::then).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn pass<H>(mut self, name: &str, h: H) -> Result<Self, PipelineError>
    where
        H: Handler<In = crate::Message, Out = crate::Message>,
    {
        self.handlers.add_last(name, h)?;
        Ok(self)
    }
}
