//! The error type of `weft-transport`.

use std::fmt;
use std::io;

use weft_pipeline::PipelineError;

/// Everything that can go wrong when binding, connecting or building a
/// connection's pipeline.
///
/// Errors of a running connection travel through its pipeline as
/// exceptions and fail its write futures with the `io::Error`.
///
/// # Examples
///
/// ```
/// use weft_transport::TransportError;
/// let e = TransportError::from(std::io::Error::from(std::io::ErrorKind::AddrInUse));
/// assert!(e.to_string().starts_with("i/o error"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// An I/O error from the operating system.
    Io(io::Error),
    /// The pipeline initializer refused the connection.
    Pipeline(PipelineError),
    /// The call needs a tokio runtime and none is running on this thread.
    NoRuntime,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Io(e) => write!(f, "i/o error: {e}"),
            TransportError::Pipeline(e) => write!(f, "pipeline initializer failed: {e}"),
            TransportError::NoRuntime => f.write_str("no tokio runtime is running on this thread"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Io(e) => Some(e),
            TransportError::Pipeline(e) => Some(e),
            TransportError::NoRuntime => None,
        }
    }
}

impl From<io::Error> for TransportError {
    fn from(e: io::Error) -> Self {
        TransportError::Io(e)
    }
}

impl From<PipelineError> for TransportError {
    fn from(e: PipelineError) -> Self {
        TransportError::Pipeline(e)
    }
}

impl From<nix::Error> for TransportError {
    fn from(e: nix::Error) -> Self {
        TransportError::Io(e.into())
    }
}

impl From<TransportError> for io::Error {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}
