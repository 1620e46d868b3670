//! The error type of `weft-pipeline`.

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// Which way a type check or an event went.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_pipeline::Direction::Inbound.to_string(), "inbound");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the head (socket) towards the tail (application).
    Inbound,
    /// From the tail towards the head.
    Outbound,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        })
    }
}

/// Everything that can go wrong in a pipeline: building it, changing it, or
/// decoding what flows through it.
///
/// Errors raised while events flow travel inbound as exception events
/// ([`Event::Exception`](crate::Event::Exception), seen by
/// [`Handler::event`](crate::Handler::event)); one that reaches the
/// tail unhandled closes the channel.
///
/// # Examples
///
/// ```
/// use weft_pipeline::PipelineError;
///
/// let e = PipelineError::TooLongFrame { length: 70_000, max: 65_536 };
/// assert_eq!(e.to_string(), "frame of 70000 bytes exceeds the maximum of 65536");
/// assert!(e.is_too_long_frame());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PipelineError {
    /// A frame is longer than the decoder's maximum. `length` is the
    /// declared length, or for delimiter codecs the bytes seen so far
    /// without a delimiter (a lower bound).
    TooLongFrame {
        /// Length declared or seen.
        length: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The input is not a valid stream for this decoder (corrupt length,
    /// bytes left at end of stream, an adapter's codec error). The stream
    /// cannot continue.
    Decode(Box<dyn StdError + Send + Sync>),
    /// An encoder could not encode a message.
    Encode(Box<dyn StdError + Send + Sync>),
    /// Two neighbouring handlers' types do not meet: `from` emits what `to`
    /// does not take. `"head"` / `"tail"` name the ends of the pipeline.
    TypeMismatch {
        /// The direction checked.
        direction: Direction,
        /// The handler that emits.
        from: String,
        /// What it emits.
        emits: String,
        /// The handler that would receive.
        to: String,
        /// What that handler takes.
        accepts: String,
    },
    /// A handler received a message of a type it does not take: only
    /// possible behind a neighbour whose `Out` is [`Message`](crate::Message)
    /// ("any"), since the chain's check refuses every other mismatch. The
    /// message is dropped and this error travels on as an exception.
    UnexpectedMessage {
        /// The handler.
        handler: String,
        /// The message's variant.
        got: String,
    },
    /// A handler with this name is already in the pipeline.
    DuplicateName(String),
    /// No handler with this name is in the pipeline.
    UnknownName(String),
    /// A codec was configured with values that cannot work.
    InvalidConfig(String),
    /// An I/O error.
    Io(io::Error),
}

impl PipelineError {
    /// Wraps any error as [`PipelineError::Decode`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = weft_pipeline::PipelineError::decode("bad magic");
    /// assert_eq!(e.to_string(), "decode error: bad magic");
    /// ```
    pub fn decode(err: impl Into<Box<dyn StdError + Send + Sync>>) -> PipelineError {
        PipelineError::Decode(err.into())
    }

    /// Wraps any error as [`PipelineError::Encode`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = weft_pipeline::PipelineError::encode("too big");
    /// assert_eq!(e.to_string(), "encode error: too big");
    /// ```
    pub fn encode(err: impl Into<Box<dyn StdError + Send + Sync>>) -> PipelineError {
        PipelineError::Encode(err.into())
    }

    /// True for [`PipelineError::TooLongFrame`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!weft_pipeline::PipelineError::decode("x").is_too_long_frame());
    /// ```
    pub fn is_too_long_frame(&self) -> bool {
        matches!(self, PipelineError::TooLongFrame { .. })
    }
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::TooLongFrame { length, max } => {
                write!(f, "frame of {length} bytes exceeds the maximum of {max}")
            }
            PipelineError::Decode(e) => write!(f, "decode error: {e}"),
            PipelineError::Encode(e) => write!(f, "encode error: {e}"),
            PipelineError::TypeMismatch {
                direction,
                from,
                emits,
                to,
                accepts,
            } => write!(
                f,
                "{direction} type mismatch: `{from}` emits {emits} but `{to}` takes {accepts}"
            ),
            PipelineError::UnexpectedMessage { handler, got } => {
                write!(f, "handler `{handler}` cannot take a {got} message")
            }
            PipelineError::DuplicateName(n) => write!(f, "a handler named `{n}` already exists"),
            PipelineError::UnknownName(n) => write!(f, "no handler named `{n}`"),
            PipelineError::InvalidConfig(s) => write!(f, "invalid configuration: {s}"),
            PipelineError::Io(_) => f.write_str("i/o error"),
        }
    }
}

impl StdError for PipelineError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            PipelineError::Decode(e) | PipelineError::Encode(e) => Some(&**e),
            PipelineError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for PipelineError {
    fn from(e: io::Error) -> Self {
        PipelineError::Io(e)
    }
}

impl From<weft_buf::BufError> for PipelineError {
    fn from(e: weft_buf::BufError) -> Self {
        PipelineError::Decode(Box::new(e))
    }
}

impl From<PipelineError> for io::Error {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Io(e) => e,
            PipelineError::TooLongFrame { .. } | PipelineError::Decode(_) => {
                io::Error::new(io::ErrorKind::InvalidData, e)
            }
            other => io::Error::other(other),
        }
    }
}
