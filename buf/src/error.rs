//! The error type of `weft-buf`.

use std::fmt;
use std::io;

/// Everything that can go wrong in `weft-buf`.
///
/// # Examples
///
/// ```
/// use weft_buf::{BufError, CompositeBuf};
///
/// let buf = CompositeBuf::from(bytes::Bytes::from_static(b"ab"));
/// let err = buf.try_get_u32_at(0).unwrap_err();
/// assert!(matches!(err, BufError::Underflow { requested: 4, available: 2 }));
/// assert_eq!(err.to_string(), "not enough bytes: requested 4, available 2");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BufError {
    /// A read wanted more bytes than the buffer holds.
    Underflow {
        /// Bytes the read needed.
        requested: usize,
        /// Bytes that were there.
        available: usize,
    },
    /// A range does not lie inside the buffer or file it was applied to.
    OutOfRange {
        /// Start of the range asked for.
        start: u64,
        /// End (exclusive) of the range asked for.
        end: u64,
        /// Length of what the range was applied to.
        len: u64,
    },
    /// A file mapping was refused: the file could not be protected against
    /// truncation (no lease could be taken) and the policy said to refuse.
    Unprotected {
        /// Why the lease was refused.
        source: io::Error,
    },
    /// The pool is at its bound and has no free chunk.
    PoolExhausted {
        /// The pool's bound, in chunks.
        max_chunks: usize,
    },
    /// An I/O error from the operating system.
    Io(io::Error),
}

impl fmt::Display for BufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufError::Underflow {
                requested,
                available,
            } => write!(
                f,
                "not enough bytes: requested {requested}, available {available}"
            ),
            BufError::OutOfRange { start, end, len } => {
                write!(f, "range {start}..{end} is out of bounds for length {len}")
            }
            BufError::Unprotected { .. } => {
                f.write_str("file cannot be mapped safely: read lease refused")
            }
            BufError::PoolExhausted { max_chunks } => {
                write!(
                    f,
                    "buffer pool exhausted: all {max_chunks} chunks are in use"
                )
            }
            BufError::Io(_) => f.write_str("i/o error"),
        }
    }
}

impl std::error::Error for BufError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BufError::Unprotected { source } | BufError::Io(source) => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for BufError {
    fn from(e: io::Error) -> Self {
        BufError::Io(e)
    }
}

impl From<BufError> for io::Error {
    fn from(e: BufError) -> Self {
        match e {
            BufError::Io(e) => e,
            BufError::Underflow { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            BufError::OutOfRange { .. } => io::Error::new(io::ErrorKind::InvalidInput, e),
            other => io::Error::other(other),
        }
    }
}

/// Panics with `err`, for the panicking twin of a `try_` method (as `bytes`
/// pairs `get_u16` with `try_get_u16`).
///
/// This is the one place in `weft-buf` that panics on a bad argument: each
/// caller documents it under `# Panics` and has a fallible twin, which is
/// what code handling peer input uses.
#[cold]
#[track_caller]
pub(crate) fn panic_with(what: &str, err: BufError) -> ! {
    // Reason: a caller passed an out-of-range argument to a method whose
    // docs promise a panic (as `bytes` does); peer input goes through the
    // `try_` twins, which return this same error instead.
    panic!("{what}: {err}")
}
