//! [`Message`]: what travels through a pipeline, and [`MessageTypes`] /
//! [`TypeFlow`]: what a handler declares it takes and emits.

use std::any::{Any, TypeId};
use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use weft_buf::{CompositeBuf, FileRegion};

/// A message travelling through a pipeline.
///
/// The common cases (`Bytes`, `CompositeBuf`, `FileRegion`) move without a
/// heap allocation; any other type travels boxed as [`Message::User`].
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
    User(Box<dyn Any + Send>),
}

impl Message {
    /// Boxes any value as a [`Message::User`].
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
        Message::User(Box::new(value))
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
        match slot {
            Some(v) => Message::User(Box::new(v)),
            // Not reachable: only a successful take empties the slot.
            None => Message::User(Box::new(())),
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
        let mut slot = Some(self);
        if let Some(t) = take_as::<T, Message>(&mut slot) {
            return Ok(t);
        }
        // Not reachable: only a successful take empties the slot.
        let Some(msg) = slot else {
            return Err(Message::User(Box::new(())));
        };
        match msg {
            Message::Bytes(b) => {
                let mut s = Some(b);
                take_as::<T, Bytes>(&mut s).ok_or_else(|| Message::Bytes(s.unwrap_or_default()))
            }
            Message::Composite(c) => {
                let mut s = Some(c);
                take_as::<T, CompositeBuf>(&mut s)
                    .ok_or_else(|| Message::Composite(s.unwrap_or_default()))
            }
            Message::File(f) => {
                let mut s = Some(f);
                match take_as::<T, FileRegion>(&mut s) {
                    Some(t) => Ok(t),
                    None => Err(s.map_or_else(|| Message::User(Box::new(())), Message::File)),
                }
            }
            Message::User(b) => b.downcast::<T>().map(|b| *b).map_err(Message::User),
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
            Message::User(b) => MessageKind::User((**b).type_id()),
        }
    }

    /// Turns a frame cut out of a cumulation into the cheapest message: a
    /// [`Message::Bytes`] when it has at most one segment (the frame lay
    /// inside one read), a [`Message::Composite`] otherwise. Never copies.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_buf::CompositeBuf;
    /// use weft_pipeline::Message;
    ///
    /// let one = CompositeBuf::from(Bytes::from_static(b"abc"));
    /// assert!(matches!(Message::frame(one), Message::Bytes(_)));
    /// let two: CompositeBuf = [Bytes::from_static(b"a"), Bytes::from_static(b"b")].into_iter().collect();
    /// assert!(matches!(Message::frame(two), Message::Composite(_)));
    /// ```
    pub fn frame(buf: CompositeBuf) -> Message {
        if buf.segments().len() <= 1 {
            Message::Bytes(buf.into_segments().next().unwrap_or_default())
        } else {
            Message::Composite(buf)
        }
    }

    /// Cuts the first `n` bytes off `buf` as the cheapest message, without
    /// copying: a [`Message::Bytes`] when they lie inside the first segment
    /// (O(1): that segment is split), a [`Message::Composite`] of the
    /// segments they span otherwise. `None` if `buf` holds fewer than `n`
    /// bytes. What decoders use to hand out frames.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_buf::{measure_copies, CompositeBuf};
    /// use weft_pipeline::Message;
    ///
    /// let mut buf: CompositeBuf =
    ///     [Bytes::from_static(b"abc"), Bytes::from_static(b"def")].into_iter().collect();
    /// let (frames, copied) = measure_copies(|| {
    ///     (Message::split_frame(&mut buf, 2), Message::split_frame(&mut buf, 3))
    /// });
    /// assert!(matches!(frames.0, Some(Message::Bytes(b)) if b == "ab"));
    /// assert!(matches!(frames.1, Some(Message::Composite(c)) if c == &b"cde"[..]));
    /// assert_eq!(copied, 0);
    /// assert!(Message::split_frame(&mut buf, 2).is_none());
    /// ```
    pub fn split_frame(buf: &mut CompositeBuf, n: usize) -> Option<Message> {
        if n > buf.len() {
            return None;
        }
        if buf.chunk().len() >= n {
            // Inside the first segment: `CompositeBuf::copy_to_bytes` splits
            // that segment in O(1) and copies nothing on this path.
            return Some(Message::Bytes(buf.copy_to_bytes(n)));
        }
        Some(Message::Composite(buf.split_to(n)))
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
            Message::User(_) => f.write_str("User(..)"),
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
