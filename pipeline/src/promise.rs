//! [`WritePromise`] / [`WriteFuture`]: completion of a write.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures::channel::oneshot;

/// Completes when the bytes of a write are handed to the kernel (`Ok`) or
/// fail (`Err`). Dropping a promise without completing it completes its
/// future with an error (`BrokenPipe`), so a waiter never hangs.
///
/// # Examples
///
/// ```
/// use weft_pipeline::WritePromise;
///
/// let (promise, fut) = WritePromise::new();
/// promise.succeed();
/// assert!(futures::executor::block_on(fut).is_ok());
/// ```
pub struct WritePromise {
    tx: oneshot::Sender<Result<(), io::Error>>,
}

impl WritePromise {
    /// A new promise and the future it completes.
    ///
    /// # Examples
    ///
    /// ```
    /// let (p, f) = weft_pipeline::WritePromise::new();
    /// p.fail(std::io::Error::other("reset"));
    /// assert!(futures::executor::block_on(f).is_err());
    /// ```
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (WritePromise, WriteFuture) {
        let (tx, rx) = oneshot::channel();
        (WritePromise { tx }, WriteFuture { rx })
    }

    /// Completes the write successfully. A waiter that is gone is ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// let (p, f) = weft_pipeline::WritePromise::new();
    /// drop(f);
    /// p.succeed(); // nobody waits: fine
    /// ```
    pub fn succeed(self) {
        let _ = self.tx.send(Ok(()));
    }

    /// Fails the write with `err`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (p, f) = weft_pipeline::WritePromise::new();
    /// p.fail(std::io::ErrorKind::BrokenPipe.into());
    /// let err = futures::executor::block_on(f).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// ```
    pub fn fail(self, err: io::Error) {
        let _ = self.tx.send(Err(err));
    }
}

impl fmt::Debug for WritePromise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritePromise")
            .field("waiting", &!self.tx.is_canceled())
            .finish()
    }
}

/// The future side of a [`WritePromise`].
///
/// # Examples
///
/// ```
/// let (p, f) = weft_pipeline::WritePromise::new();
/// drop(p);
/// let err = futures::executor::block_on(f).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
/// ```
pub struct WriteFuture {
    rx: oneshot::Receiver<Result<(), io::Error>>,
}

impl Future for WriteFuture {
    type Output = Result<(), io::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(oneshot::Canceled)) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write promise dropped before completion",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for WriteFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteFuture").finish_non_exhaustive()
    }
}
