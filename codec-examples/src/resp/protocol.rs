//! What a RESP2 request may be: the limits checked before anything is
//! waited for or allocated, and the protocol errors that end a connection.

use std::fmt;

/// Largest bulk string accepted, as Redis' `proto-max-bulk-len` (512 MB).
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Most arguments in one multibulk request. Redis allows `INT_MAX`; this
/// server takes 1 Mi, far above any real command, so a hostile count cannot
/// make it grow an argument vector for long.
pub const MAX_MULTIBULK_LEN: usize = 1024 * 1024;
/// Most bytes buffered while looking for the end of an inline request or
/// of a `*`/`$` header line, as Redis' `PROTO_INLINE_MAX_SIZE` (64 KiB).
/// As in Redis, a line whose end has arrived is not refused for its length.
pub const MAX_INLINE_LEN: usize = 64 * 1024;
/// Most bytes one request may hold, as Redis' `client-query-buffer-limit`
/// (1 GiB).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024 * 1024;

/// Why a request could not be parsed. Redis answers each with
/// `-ERR Protocol error: ...` and closes the connection after the reply.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The `*` count is not an integer or is over [`MAX_MULTIBULK_LEN`].
    InvalidMultibulkLength,
    /// A `$` length is not an integer, negative, or over [`MAX_BULK_LEN`].
    InvalidBulkLength,
    /// An array element did not start with `$` (nested arrays land here).
    ExpectedDollar(u8),
    /// No end of line within [`MAX_INLINE_LEN`] bytes of a `*` header.
    TooBigMultibulkCount,
    /// No end of line within [`MAX_INLINE_LEN`] bytes of a `$` header.
    TooBigBulkCount,
    /// An inline request longer than [`MAX_INLINE_LEN`].
    TooBigInline,
    /// An inline request with a quote that is not closed, or closed and
    /// not followed by a space.
    UnbalancedQuotes,
    /// One request would hold more than [`MAX_REQUEST_BYTES`].
    RequestTooLarge,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::ExpectedDollar(b) => write!(f, "expected '$', got '{}'", *b as char),
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::RequestTooLarge => f.write_str("request exceeds the query buffer limit"),
        }
    }
}

impl std::error::Error for ProtocolError {}
