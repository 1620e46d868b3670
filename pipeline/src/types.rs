//! [`MessageTypes`] and [`TypeFlow`]: what a handler declares it takes and
//! emits, checked by the pipeline between neighbours.

use std::any::{Any, TypeId};
use std::fmt;

use bytes::{Bytes, BytesMut};
use weft_buf::{CompositeBuf, FileRegion};

use crate::{Message, MessageKind, Value};

/// A user type a handler takes or emits: its [`TypeId`] and its name (for
/// error messages).
///
/// # Examples
///
/// ```
/// let t = weft_pipeline::UserType::of::<String>();
/// assert!(t.name().contains("String"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserType {
    id: TypeId,
    name: &'static str,
}

impl UserType {
    /// The user type `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_pipeline::UserType::of::<u8>(), weft_pipeline::UserType::of::<u8>());
    /// ```
    pub fn of<T: Any>() -> UserType {
        UserType {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
        }
    }

    /// The type's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::any::TypeId;
    /// assert_eq!(weft_pipeline::UserType::of::<u8>().id(), TypeId::of::<u8>());
    /// ```
    pub fn id(&self) -> TypeId {
        self.id
    }

    /// The type's name, as `std::any::type_name` gives it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_pipeline::UserType::of::<u8>().name(), "u8");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }
}

const BYTES: u8 = 1;
const COMPOSITE: u8 = 2;
const FILE: u8 = 4;
const ANY: u8 = 8;

/// A set of message types: what a handler takes or emits in one direction.
///
/// [`MessageTypes::ANY`] is a wildcard: a chain where either side is `ANY`
/// always meets (the check then happens at run time, when a handler sees a
/// message it cannot use). Otherwise everything a handler emits must be in
/// the set its neighbour takes.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_pipeline::MessageTypes;
///
/// let frames = MessageTypes::BUFFERS;
/// assert!(frames.contains_type::<Bytes>());
/// assert!(MessageTypes::BYTES.fits_into(&frames));
/// assert!(!frames.fits_into(&MessageTypes::BYTES));
/// let cmd = MessageTypes::of::<String>();
/// assert_eq!(cmd.to_string(), "User(alloc::string::String)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageTypes {
    bits: u8,
    users: Vec<UserType>,
}

impl MessageTypes {
    /// No message at all (a handler that consumes everything).
    pub const NONE: MessageTypes = MessageTypes {
        bits: 0,
        users: Vec::new(),
    };
    /// Anything: checked at run time only.
    pub const ANY: MessageTypes = MessageTypes {
        bits: ANY,
        users: Vec::new(),
    };
    /// [`Message::Bytes`] only.
    pub const BYTES: MessageTypes = MessageTypes {
        bits: BYTES,
        users: Vec::new(),
    };
    /// [`Message::Composite`] only.
    pub const COMPOSITE: MessageTypes = MessageTypes {
        bits: COMPOSITE,
        users: Vec::new(),
    };
    /// [`Message::File`] only.
    pub const FILE: MessageTypes = MessageTypes {
        bits: FILE,
        users: Vec::new(),
    };
    /// In-memory byte buffers: `Bytes` or `Composite` (what a framing
    /// decoder takes and emits).
    pub const BUFFERS: MessageTypes = MessageTypes {
        bits: BYTES | COMPOSITE,
        users: Vec::new(),
    };
    /// Everything a transport can write: `Bytes`, `Composite` or `File`.
    pub const WIRE: MessageTypes = MessageTypes {
        bits: BYTES | COMPOSITE | FILE,
        users: Vec::new(),
    };

    /// The set holding exactly the type `T`: the matching byte variant for
    /// `Bytes`/`BytesMut`/`CompositeBuf`/`FileRegion`, [`ANY`](Self::ANY)
    /// for [`Message`], a user type otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::MessageTypes;
    /// assert_eq!(MessageTypes::of::<bytes::Bytes>(), MessageTypes::BYTES);
    /// assert_eq!(MessageTypes::of::<weft_pipeline::Message>(), MessageTypes::ANY);
    /// ```
    pub fn of<T: Any>() -> MessageTypes {
        let id = TypeId::of::<T>();
        if id == TypeId::of::<Bytes>() || id == TypeId::of::<BytesMut>() {
            MessageTypes::BYTES
        } else if id == TypeId::of::<CompositeBuf>() {
            MessageTypes::COMPOSITE
        } else if id == TypeId::of::<FileRegion>() {
            MessageTypes::FILE
        } else if id == TypeId::of::<Message>() {
            MessageTypes::ANY
        } else {
            MessageTypes {
                bits: 0,
                users: vec![UserType::of::<T>()],
            }
        }
    }

    /// The union of two sets.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::MessageTypes;
    /// let s = MessageTypes::BYTES.or(MessageTypes::FILE);
    /// assert_eq!(s.to_string(), "Bytes | File");
    /// ```
    #[must_use]
    pub fn or(mut self, other: MessageTypes) -> MessageTypes {
        self.bits |= other.bits;
        for u in other.users {
            if !self.users.contains(&u) {
                self.users.push(u);
            }
        }
        self
    }

    /// True for the wildcard [`ANY`](Self::ANY).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::MessageTypes::ANY.is_any());
    /// ```
    pub fn is_any(&self) -> bool {
        self.bits & ANY != 0
    }

    /// True if a `T` belongs to this set (always true for `ANY`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::MessageTypes::WIRE.contains_type::<weft_buf::FileRegion>());
    /// ```
    pub fn contains_type<T: Any>(&self) -> bool {
        MessageTypes::of::<T>().fits_into(self)
    }

    /// True if `msg` belongs to this set (always true for `ANY`).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{Message, MessageTypes};
    /// assert!(MessageTypes::of::<u8>().contains(&Message::user(1u8)));
    /// assert!(!MessageTypes::BYTES.contains(&Message::user(1u8)));
    /// ```
    pub fn contains(&self, msg: &Message) -> bool {
        if self.is_any() {
            return true;
        }
        match msg.kind() {
            MessageKind::Bytes => self.bits & BYTES != 0,
            MessageKind::Composite => self.bits & COMPOSITE != 0,
            MessageKind::File => self.bits & FILE != 0,
            MessageKind::User(id) => self.users.iter().any(|u| u.id == id),
        }
    }

    /// True if everything in `self` is taken by `accepts`: the rule the
    /// pipeline applies between neighbours. `ANY` on either side fits.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::MessageTypes;
    /// assert!(MessageTypes::NONE.fits_into(&MessageTypes::BYTES));
    /// assert!(MessageTypes::ANY.fits_into(&MessageTypes::BYTES));
    /// assert!(!MessageTypes::FILE.fits_into(&MessageTypes::BUFFERS));
    /// ```
    pub fn fits_into(&self, accepts: &MessageTypes) -> bool {
        if self.is_any() || accepts.is_any() {
            return true;
        }
        self.bits & !accepts.bits == 0 && self.users.iter().all(|u| accepts.users.contains(u))
    }
}

impl fmt::Display for MessageTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_any() {
            return f.write_str("Any");
        }
        let mut parts: Vec<String> = Vec::new();
        for (bit, name) in [(BYTES, "Bytes"), (COMPOSITE, "Composite"), (FILE, "File")] {
            if self.bits & bit != 0 {
                parts.push(name.to_string());
            }
        }
        for u in &self.users {
            parts.push(format!("User({})", u.name));
        }
        if parts.is_empty() {
            return f.write_str("nothing");
        }
        f.write_str(&parts.join(" | "))
    }
}

/// What a handler does to the type of messages in one direction.
///
/// # Examples
///
/// ```
/// use weft_pipeline::{MessageTypes, TypeFlow};
/// let decoder = TypeFlow::transform(MessageTypes::BUFFERS, MessageTypes::of::<String>());
/// assert_ne!(decoder, TypeFlow::PassThrough);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TypeFlow {
    /// Messages pass unchanged (or the handler does not care): the type
    /// check looks through this handler.
    #[default]
    PassThrough,
    /// The handler takes `accepts` and emits `emits`.
    Transform {
        /// What the handler can take.
        accepts: MessageTypes,
        /// What it passes on.
        emits: MessageTypes,
    },
}

impl TypeFlow {
    /// Shorthand for [`TypeFlow::Transform`].
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{MessageTypes, TypeFlow};
    /// let f = TypeFlow::transform(MessageTypes::BYTES, MessageTypes::NONE);
    /// assert!(matches!(f, TypeFlow::Transform { .. }));
    /// ```
    pub fn transform(accepts: MessageTypes, emits: MessageTypes) -> TypeFlow {
        TypeFlow::Transform { accepts, emits }
    }

    /// A handler that takes `accepts` and passes nothing on.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::{MessageTypes, TypeFlow};
    /// assert_eq!(
    ///     TypeFlow::sink(MessageTypes::BYTES),
    ///     TypeFlow::transform(MessageTypes::BYTES, MessageTypes::NONE)
    /// );
    /// ```
    pub fn sink(accepts: MessageTypes) -> TypeFlow {
        TypeFlow::Transform {
            accepts,
            emits: MessageTypes::NONE,
        }
    }
}

/// A type that can travel inbound between named handlers: a handler's
/// [`In`](crate::Handler::In) and [`Out`](crate::Handler::Out).
///
/// The byte types, [`FileRegion`], [`Message`] ("any message") and
/// [`Nothing`] implement it here. A frame type of your own implements it
/// with one line, and then travels as a [`Value`]: inline (no allocation)
/// when it fits [`INLINE_BYTES`](crate::INLINE_BYTES).
///
/// # Examples
///
/// ```
/// use weft_pipeline::{Message, MessageType, MessageTypes};
///
/// #[derive(Debug, PartialEq)]
/// struct Ping(u64);
/// impl MessageType for Ping {}
///
/// let m = Ping(7).into_message();
/// assert_eq!(Ping::from_message(m).unwrap(), Ping(7));
/// assert_eq!(Ping::types(), MessageTypes::of::<Ping>());
/// ```
pub trait MessageType: Sized + Send + 'static {
    /// The set of message variants this type stands for, for the chain's check.
    fn types() -> MessageTypes {
        MessageTypes::of::<Self>()
    }

    /// Takes a `Self` out of a message, or gives the message back.
    ///
    /// # Errors
    ///
    /// The message, unchanged, when it does not hold a `Self`.
    #[allow(clippy::result_large_err)]
    #[inline]
    fn from_message(msg: Message) -> Result<Self, Message> {
        match msg {
            Message::User(v) => v.downcast::<Self>().map_err(Message::User),
            other => Err(other),
        }
    }

    /// Wraps `self` as a message (no allocation when it fits inline).
    #[inline]
    fn into_message(self) -> Message {
        Message::User(Value::new(self))
    }
}

impl MessageType for Message {
    fn types() -> MessageTypes {
        MessageTypes::ANY
    }
    #[inline]
    fn from_message(msg: Message) -> Result<Self, Message> {
        Ok(msg)
    }
    #[inline]
    fn into_message(self) -> Message {
        self
    }
}

impl MessageType for Bytes {
    fn types() -> MessageTypes {
        MessageTypes::BYTES
    }
    /// A `Bytes`, or a composite of at most one segment (free).
    #[inline]
    fn from_message(msg: Message) -> Result<Self, Message> {
        match msg {
            Message::Bytes(b) => Ok(b),
            Message::Composite(c) if c.segments().len() <= 1 => {
                Ok(c.into_segments().next().unwrap_or_default())
            }
            other => Err(other),
        }
    }
    #[inline]
    fn into_message(self) -> Message {
        Message::Bytes(self)
    }
}

/// A `BytesMut` travels as [`Message::Bytes`] (frozen, no copy). Taken
/// back, it is free when the buffer is not shared and a counted copy
/// otherwise. What `tokio_util`'s `LengthDelimitedCodec` emits, so a
/// [`DecoderAdapter`](crate::codec::DecoderAdapter) over it is a handler.
impl MessageType for BytesMut {
    fn types() -> MessageTypes {
        MessageTypes::BYTES
    }
    #[inline]
    fn from_message(msg: Message) -> Result<Self, Message> {
        match msg {
            Message::Bytes(b) => Ok(b.try_into_mut().unwrap_or_else(|shared| {
                weft_buf::record_copy(shared.len());
                BytesMut::from(&shared[..])
            })),
            other => Err(other),
        }
    }
    #[inline]
    fn into_message(self) -> Message {
        Message::Bytes(self.freeze())
    }
}

/// A `String` (what `tokio_util`'s `LinesCodec` emits) travels inline as a
/// user value.
impl MessageType for String {}

/// The one byte type a frame-taking handler needs: a frame that lay in one
/// read and one that spanned reads are both a `CompositeBuf` (one segment
/// is stored inline, so the first costs nothing).
impl MessageType for CompositeBuf {
    fn types() -> MessageTypes {
        MessageTypes::BUFFERS
    }
    #[inline]
    fn from_message(msg: Message) -> Result<Self, Message> {
        match msg {
            Message::Bytes(b) => Ok(CompositeBuf::from(b)),
            Message::Composite(c) => Ok(c),
            other => Err(other),
        }
    }
    #[inline]
    fn into_message(self) -> Message {
        Message::Composite(self)
    }
}

impl MessageType for FileRegion {
    fn types() -> MessageTypes {
        MessageTypes::FILE
    }
    #[inline]
    fn from_message(msg: Message) -> Result<Self, Message> {
        match msg {
            Message::File(f) => Ok(f),
            other => Err(other),
        }
    }
    #[inline]
    fn into_message(self) -> Message {
        Message::File(self)
    }
}

/// The `Out` of a handler that hands nothing on (an application handler
/// at the end of the chain). It has no values, so nothing can be fired.
///
/// # Examples
///
/// ```
/// use weft_pipeline::{MessageType, MessageTypes, Nothing};
/// assert_eq!(Nothing::types(), MessageTypes::NONE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nothing {}

impl MessageType for Nothing {
    fn types() -> MessageTypes {
        MessageTypes::NONE
    }
    #[inline]
    fn from_message(msg: Message) -> Result<Self, Message> {
        Err(msg)
    }
    #[inline]
    fn into_message(self) -> Message {
        match self {}
    }
}
