//! [`AsyncSink`]: a descriptor whose raw system calls wait for readiness
//! through tokio.

use std::future::Future;
use std::io;
use std::os::fd::AsFd;

/// A non-blocking descriptor registered with tokio, so a write system call
/// can wait for writability: implemented for tokio's `TcpStream`,
/// `UnixStream` and `AsyncFd`.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::os::fd::AsFd;
/// use weft_transport::AsyncSink;
/// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
/// let n = a.write_io(|| weft_transport::sys::write(a.as_fd(), b"x")).await.unwrap();
/// assert_eq!(n, 1);
/// # });
/// ```
pub trait AsyncSink: AsFd {
    /// Waits until writable and runs `f`, again after each `WouldBlock`.
    fn write_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>>;
    /// Waits until readable and runs `f`, again after each `WouldBlock`.
    fn read_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>>;
}

impl AsyncSink for tokio::net::TcpStream {
    fn write_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>> {
        self.async_io(tokio::io::Interest::WRITABLE, f)
    }
    fn read_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>> {
        self.async_io(tokio::io::Interest::READABLE, f)
    }
}

impl AsyncSink for tokio::net::UnixStream {
    fn write_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>> {
        self.async_io(tokio::io::Interest::WRITABLE, f)
    }
    fn read_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>> {
        self.async_io(tokio::io::Interest::READABLE, f)
    }
}

impl<T: std::os::fd::AsRawFd> AsyncSink for tokio::io::unix::AsyncFd<T> {
    fn write_io<R>(
        &self,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> impl Future<Output = io::Result<R>> {
        self.async_io(tokio::io::Interest::WRITABLE, move |_| f())
    }
    fn read_io<R>(
        &self,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> impl Future<Output = io::Result<R>> {
        self.async_io(tokio::io::Interest::READABLE, move |_| f())
    }
}
