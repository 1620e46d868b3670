//! [`Message`]: what travels through a pipeline, and [`MessageTypes`] /
//! [`TypeFlow`]: what a handler declares it takes and emits.

use std::any::{Any, TypeId};
use std::fmt;

use bytes::{Bytes, BytesMut};
use weft_buf::{CompositeBuf, FileRegion};

use crate::{Value, Wire};

/// A message travelling through a pipeline.
///
/// The common cases (`Bytes`, `CompositeBuf`, `FileRegion`) are variants of
/// their own; any other type travels as a [`Value`] in [`Message::User`],
/// inline (no heap allocation) when it fits
/// [`INLINE_BYTES`](crate::INLINE_BYTES). Typed handlers never see this
/// enum: the pipeline converts to and from their own types
/// ([`MessageType`](crate::MessageType)).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::Message;
///
/// let m = Message::from(Bytes::from_static(b"hello"));
/// assert_eq!(m.len(), 5);
/// let u = Message::user(42u32);
/// assert_eq!(u.len(), 0);
/// assert_eq!(u.downcast::<u32>().ok(), Some(42));
/// ```
pub enum Message {
    /// One contiguous, reference-counted byte buffer.
    Bytes(Bytes),
    /// Several byte segments read as one buffer.
    Composite(CompositeBuf),
    /// A range of a file, sent with `sendfile` by the transport.
    File(FileRegion),
    /// Any other value (a decoded frame, a command, ...).
    User(Value),
}

impl Message {
    /// Wraps any value as a [`Message::User`] (inline when it fits).
    ///
    /// Use [`Message::from_value`] when the value may be one of the byte
    /// types, which then keep their own variant.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = weft_pipeline::Message::user("hi".to_string());
    /// assert!(matches!(m, weft_pipeline::Message::User(_)));
    /// ```
    pub fn user<T: Any + Send>(value: T) -> Message {
        Message::User(Value::new(value))
    }

    /// Turns any value into a message, choosing the unboxed variant for
    /// [`Bytes`], [`BytesMut`] (frozen, no copy), [`CompositeBuf`] and
    /// [`FileRegion`]; a [`Message`] is returned as it is; anything else is
    /// boxed. No allocation for the byte types.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_pipeline::Message;
    ///
    /// assert!(matches!(Message::from_value(Bytes::new()), Message::Bytes(_)));
    /// assert!(matches!(Message::from_value(bytes::BytesMut::new()), Message::Bytes(_)));
    /// assert!(matches!(Message::from_value(7u8), Message::User(_)));
    /// ```
    pub fn from_value<T: Any + Send>(value: T) -> Message {
        let mut slot = Some(value);
        if let Some(m) = take_as::<Message, T>(&mut slot) {
            return m;
        }
        if let Some(b) = take_as::<Bytes, T>(&mut slot) {
            return Message::Bytes(b);
        }
        if let Some(b) = take_as::<BytesMut, T>(&mut slot) {
            return Message::Bytes(b.freeze());
        }
        if let Some(c) = take_as::<CompositeBuf, T>(&mut slot) {
            return Message::Composite(c);
        }
        if let Some(f) = take_as::<FileRegion, T>(&mut slot) {
            return Message::File(f);
        }
        // Each `take_as` above either returned or left the slot full.
        match slot {
            Some(v) => Message::User(Value::new(v)),
            None => unreachable!("take_as empties the slot only when it returns the value"),
        }
    }

    /// Takes the value out of the message if it holds a `T`; otherwise
    /// returns the message unchanged.
    ///
    /// `T` may be [`Bytes`], [`CompositeBuf`], [`FileRegion`], [`Message`]
    /// or any boxed user type. No conversion between variants is made (a
    /// `Composite` is not a `Bytes`), so nothing is ever copied.
    ///
    /// # Errors
    ///
    /// The message itself, when it does not hold a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_pipeline::Message;
    ///
    /// let m = Message::from(Bytes::from_static(b"x"));
    /// let m = m.downcast::<String>().unwrap_err();
    /// assert_eq!(m.downcast::<Bytes>().unwrap(), &b"x"[..]);
    /// ```
    // The message is moved back on failure, as `Box::downcast` does; boxing
    // it would cost the allocation the enum exists to avoid.
    #[allow(clippy::result_large_err)]
    pub fn downcast<T: Any + Send>(self) -> Result<T, Message> {
        if TypeId::of::<T>() == TypeId::of::<Message>() {
            let mut slot = Some(self);
            return take_as::<T, Message>(&mut slot).ok_or_else(|| {
                slot.unwrap_or_else(|| unreachable!("T is Message, so take_as took it"))
            });
        }
        match self {
            Message::Bytes(b) => move_as(b).map_err(Message::Bytes),
            Message::Composite(c) => move_as(c).map_err(Message::Composite),
            Message::File(f) => move_as(f).map_err(Message::File),
            Message::User(v) => v.downcast::<T>().map_err(Message::User),
        }
    }

    /// The number of bytes this message puts on the wire: the buffer or
    /// region length, 0 for a user value. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_buf::CompositeBuf;
    /// use weft_pipeline::Message;
    ///
    /// let c: CompositeBuf = [Bytes::from_static(b"ab"), Bytes::from_static(b"c")].into_iter().collect();
    /// assert_eq!(Message::from(c).len(), 3);
    /// ```
    pub fn len(&self) -> u64 {
        match self {
            Message::Bytes(b) => b.len() as u64,
            Message::Composite(c) => c.len() as u64,
            Message::File(f) => f.len(),
            Message::User(_) => 0,
        }
    }

    /// True if [`len`](Self::len) is 0 (always true for a user value).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Message::from(bytes::Bytes::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type of this message, as [`MessageTypes`](crate::MessageTypes) names it.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Message, MessageTypes};
    /// assert_eq!(Message::from(bytes::Bytes::new()).kind().to_string(), "Bytes");
    /// assert_eq!(Message::user(1u8).kind().to_string(), "User");
    /// ```
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Bytes(_) => MessageKind::Bytes,
            Message::Composite(_) => MessageKind::Composite,
            Message::File(_) => MessageKind::File,
            Message::User(v) => MessageKind::User(v.type_id()),
        }
    }

    /// The bytes of an in-memory message, as one buffer: free for `Bytes`
    /// and single-segment composites, a counted copy for more segments.
    /// `None` for a file region or a user value.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::Message;
    /// let m = Message::from(bytes::Bytes::from_static(b"hi"));
    /// assert_eq!(m.to_bytes().unwrap(), &b"hi"[..]);
    /// assert!(Message::user(1u8).to_bytes().is_none());
    /// ```
    pub fn to_bytes(&self) -> Option<Bytes> {
        match self {
            Message::Bytes(b) => Some(b.clone()),
            Message::Composite(c) => Some(c.to_bytes()),
            _ => None,
        }
    }
}

/// Moves `s` out as a `T` when `S` is `T`, or gives it back.
fn move_as<T: Any, S: Any>(s: S) -> Result<T, S> {
    let mut slot = Some(s);
    match take_as::<T, S>(&mut slot) {
        Some(t) => Ok(t),
        None => Err(slot.unwrap_or_else(|| unreachable!("a failed take_as leaves the slot full"))),
    }
}

/// Takes the value out of `slot` as a `T` when `S` is `T`, without
/// allocating; otherwise leaves the slot alone.
fn take_as<T: Any, S: Any>(slot: &mut Option<S>) -> Option<T> {
    let any: &mut dyn Any = slot;
    any.downcast_mut::<Option<T>>().and_then(Option::take)
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Bytes(b) => f.debug_tuple("Bytes").field(b).finish(),
            Message::Composite(c) => f.debug_tuple("Composite").field(c).finish(),
            Message::File(r) => f.debug_tuple("File").field(r).finish(),
            Message::User(v) => write!(f, "User({})", v.type_name()),
        }
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Bytes(b)
    }
}

impl From<BytesMut> for Message {
    fn from(b: BytesMut) -> Self {
        Message::Bytes(b.freeze())
    }
}

impl From<&'static [u8]> for Message {
    fn from(b: &'static [u8]) -> Self {
        Message::Bytes(Bytes::from_static(b))
    }
}

impl From<CompositeBuf> for Message {
    fn from(c: CompositeBuf) -> Self {
        Message::Composite(c)
    }
}

impl From<Wire> for Message {
    fn from(w: Wire) -> Self {
        match w {
            Wire::Bytes(b) => Message::Bytes(b),
            Wire::Composite(c) => Message::Composite(c),
            Wire::File(f) => Message::File(f),
        }
    }
}

impl From<FileRegion> for Message {
    fn from(f: FileRegion) -> Self {
        Message::File(f)
    }
}

/// The variant of a [`Message`], with the [`TypeId`] of a user value.
///
/// # Examples
///
/// ```
/// use weft_pipeline::{Message, MessageKind};
/// assert_eq!(Message::from(bytes::Bytes::new()).kind(), MessageKind::Bytes);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// [`Message::Bytes`].
    Bytes,
    /// [`Message::Composite`].
    Composite,
    /// [`Message::File`].
    File,
    /// [`Message::User`] holding a value of this type.
    User(TypeId),
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageKind::Bytes => "Bytes",
            MessageKind::Composite => "Composite",
            MessageKind::File => "File",
            MessageKind::User(_) => "User",
        })
    }
}
