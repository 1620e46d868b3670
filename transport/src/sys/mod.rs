//! The only place in Weft that makes raw system calls.
//!
//! Every function here is a thin, checked wrapper around one Linux call:
//! it retries on `EINTR`, turns `-1` into [`io::Error::last_os_error`] and
//! never blocks by itself when the descriptor is non-blocking, so it reports
//! [`io::ErrorKind::WouldBlock`] exactly when the kernel said `EAGAIN`.
//! The transport calls them through tokio's readiness (`try_io` /
//! `async_io`), so the runtime is never blocked.
//!
//! They are public so benchmarks can build a raw-syscall baseline with the
//! same calls.
//!
//! # Examples
//!
//! ```
//! use std::io::IoSlice;
//! use std::os::fd::AsFd;
//!
//! let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
//! let n = weft_transport::sys::writev(a.as_fd(), &[IoSlice::new(b"he"), IoSlice::new(b"llo")]).unwrap();
//! assert_eq!(n, 5);
//! let mut buf = [0u8; 8];
//! let n = weft_transport::sys::read(b.as_fd(), &mut buf).unwrap();
//! assert_eq!(&buf[..n], b"hello");
//! ```

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

mod sockopt;

pub use sockopt::*;

/// Calls a `libc` function and turns a `-1` result into the thread's last
/// OS error, as mio's helper does.
///
/// The macro contains no `unsafe` block of its own: each caller wraps it in
/// one and states there why the arguments are valid.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        let res = libc::$fn($($arg),*);
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;

/// Largest number of iovecs one `writev` accepts on Linux (`IOV_MAX`).
pub const IOV_MAX: usize = 1024;

/// Largest number of bytes one `sendfile` (or `write`) moves on Linux.
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// Runs `f` again while it fails with `EINTR`.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Writes the slices in order with one `writev`; at most [`IOV_MAX`] are used.
///
/// # Errors
///
/// The OS error; `WouldBlock` only when the call returned `EAGAIN`.
///
/// # Examples
///
/// ```
/// use std::io::IoSlice;
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let n = weft_transport::sys::writev(a.as_fd(), &[IoSlice::new(b"ab"), IoSlice::new(b"c")]).unwrap();
/// assert_eq!(n, 3);
/// ```
pub fn writev(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let cnt = bufs.len().min(IOV_MAX) as libc::c_int;
    retry(|| {
        // SAFETY: `IoSlice` is ABI-compatible with `struct iovec` on Unix
        // (guaranteed by std); the pointer and count describe `bufs`, which
        // outlives the call; `fd` is a live borrowed descriptor.
        let n = unsafe {
            syscall!(writev(
                fd.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                cnt
            ))
        }?;
        Ok(n as usize)
    })
}

/// Sends the slices on a socket with one `sendmsg`, adding `MSG_MORE` when
/// `more` is set (the kernel holds the bytes to go out with what follows)
/// and always `MSG_NOSIGNAL` (a closed peer is an `EPIPE` error, not a
/// signal).
///
/// # Errors
///
/// The OS error (`ENOTSOCK` on a non-socket); `WouldBlock` on `EAGAIN`.
///
/// # Examples
///
/// ```
/// use std::io::IoSlice;
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let n = weft_transport::sys::sendmsg(a.as_fd(), &[IoSlice::new(b"hdr")], true).unwrap();
/// assert_eq!(n, 3);
/// ```
pub fn sendmsg(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>], more: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    retry(|| {
        // SAFETY: an all-zero `msghdr` is valid (null name and control).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = bufs.as_ptr().cast::<libc::iovec>().cast_mut();
        msg.msg_iovlen = bufs.len().min(IOV_MAX) as _;
        // SAFETY: `msg` points at `bufs` (ABI-compatible with iovec, read
        // only by the kernel) which outlives the call; `fd` is live.
        let n = unsafe { syscall!(sendmsg(fd.as_raw_fd(), &msg, flags)) }?;
        Ok(n as usize)
    })
}

/// Sends up to `count` bytes of `file` from `*offset` to `out` with
/// `sendfile`, advancing `*offset` by the bytes sent; `count` is capped at
/// [`MAX_RW_COUNT`]. A result of 0 means the file ended before `*offset`.
///
/// # Errors
///
/// The OS error: `EINVAL`/`ENOSYS` when the kernel refuses this pair of
/// descriptors, `WouldBlock` on `EAGAIN`.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// let mut f = tempfile::tempfile().unwrap();
/// f.write_all(b"hello").unwrap();
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut off = 1;
/// let n = weft_transport::sys::sendfile(a.as_fd(), f.as_fd(), &mut off, 10).unwrap();
/// assert_eq!((n, off), (4, 5));
/// ```
pub fn sendfile(
    out: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    let mut off = i64::try_from(*offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    let n = retry(|| {
        // SAFETY: both descriptors are live borrows; `off` is a valid
        // `off_t` the kernel updates in place.
        let n = unsafe {
            syscall!(sendfile(
                out.as_raw_fd(),
                file.as_raw_fd(),
                &mut off,
                count.min(MAX_RW_COUNT)
            ))
        }?;
        Ok(n as usize)
    })?;
    *offset = off as u64;
    Ok(n)
}

/// Moves up to `len` bytes from `fd_in` to `fd_out` with `splice`; one side
/// must be a pipe. `off_in` is the file offset to read from (advanced by the
/// kernel) or `None` for pipes and sockets. Always passes
/// `SPLICE_F_MOVE | SPLICE_F_NONBLOCK`.
///
/// # Errors
///
/// The OS error (`EINVAL` when the pair cannot be spliced); `WouldBlock`
/// on `EAGAIN`.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// let mut f = tempfile::tempfile().unwrap();
/// f.write_all(b"hello").unwrap();
/// let (r, w) = weft_transport::sys::pipe().unwrap();
/// let mut off = 0;
/// let n = weft_transport::sys::splice(f.as_fd(), Some(&mut off), w.as_fd(), 5).unwrap();
/// assert_eq!((n, off), (5, 5));
/// let mut buf = [0u8; 5];
/// assert_eq!(weft_transport::sys::read(r.as_fd(), &mut buf).unwrap(), 5);
/// ```
pub fn splice(
    fd_in: BorrowedFd<'_>,
    off_in: Option<&mut u64>,
    fd_out: BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    let mut off = match &off_in {
        Some(o) => Some(
            i64::try_from(**o)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?,
        ),
        None => None,
    };
    let n = retry(|| {
        let off_ptr = match off.as_mut() {
            Some(o) => o as *mut i64,
            None => std::ptr::null_mut(),
        };
        // SAFETY: both descriptors are live borrows; `off_ptr` is null or
        // points at a local `off_t` that outlives the call.
        let n = unsafe {
            syscall!(splice(
                fd_in.as_raw_fd(),
                off_ptr,
                fd_out.as_raw_fd(),
                std::ptr::null_mut(),
                len.min(MAX_RW_COUNT),
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK
            ))
        }?;
        Ok(n as usize)
    })?;
    if let (Some(o), Some(new)) = (off_in, off) {
        *o = new as u64;
    }
    Ok(n)
}

/// Creates a non-blocking, close-on-exec pipe: `(read end, write end)`.
///
/// # Errors
///
/// The OS error (`EMFILE` when out of descriptors).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (r, w) = weft_transport::sys::pipe().unwrap();
/// assert_eq!(weft_transport::sys::write(w.as_fd(), b"x").unwrap(), 1);
/// let mut b = [0u8; 1];
/// assert_eq!(weft_transport::sys::read(r.as_fd(), &mut b).unwrap(), 1);
/// ```
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
    unsafe { syscall!(pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC)) }?;
    // SAFETY: pipe2 succeeded, so both are fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Asks for a pipe buffer of `size` bytes (`F_SETPIPE_SZ`); returns the
/// size the kernel granted.
///
/// # Errors
///
/// The OS error (`EPERM` above `/proc/sys/fs/pipe-max-size`).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (_r, w) = weft_transport::sys::pipe().unwrap();
/// assert!(weft_transport::sys::set_pipe_size(w.as_fd(), 65536).unwrap() >= 65536);
/// ```
pub fn set_pipe_size(fd: BorrowedFd<'_>, size: usize) -> io::Result<usize> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: F_SETPIPE_SZ takes an int argument; `fd` is live.
    let n = unsafe { syscall!(fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size)) }?;
    Ok(n as usize)
}

/// Reads into `buf` with one `read`.
///
/// # Errors
///
/// The OS error; `WouldBlock` on `EAGAIN`.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (r, w) = weft_transport::sys::pipe().unwrap();
/// weft_transport::sys::write(w.as_fd(), b"ok").unwrap();
/// let mut b = [0u8; 4];
/// assert_eq!(weft_transport::sys::read(r.as_fd(), &mut b).unwrap(), 2);
/// ```
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { syscall!(read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())) }?;
        Ok(n as usize)
    })
}

/// Reads into uninitialised memory with one `read`; the first `n` bytes of
/// `buf` are initialised when it returns `Ok(n)`.
///
/// # Errors
///
/// The OS error; `WouldBlock` on `EAGAIN`.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (r, w) = weft_transport::sys::pipe().unwrap();
/// weft_transport::sys::write(w.as_fd(), b"ok").unwrap();
/// let mut v: Vec<u8> = Vec::with_capacity(8);
/// let n = weft_transport::sys::read_uninit(r.as_fd(), v.spare_capacity_mut()).unwrap();
/// assert_eq!(n, 2);
/// ```
pub fn read_uninit(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the kernel
        // only writes to it, never reads uninitialised memory.
        let n = unsafe { syscall!(read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())) }?;
        Ok(n as usize)
    })
}

/// Reads up to `buf.len()` bytes of a file at `offset` with `pread`.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// let mut f = tempfile::tempfile().unwrap();
/// f.write_all(b"hello").unwrap();
/// let mut b = [0u8; 3];
/// assert_eq!(weft_transport::sys::pread(f.as_fd(), &mut b, 2).unwrap(), 3);
/// assert_eq!(&b, b"llo");
/// ```
pub fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let off = i64::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    retry(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `fd` is live.
        let n = unsafe {
            syscall!(pread(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                off
            ))
        }?;
        Ok(n as usize)
    })
}

/// Writes `buf` with one `write` (at most [`MAX_RW_COUNT`] bytes).
///
/// # Errors
///
/// The OS error; `WouldBlock` on `EAGAIN`.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (_r, w) = weft_transport::sys::pipe().unwrap();
/// assert_eq!(weft_transport::sys::write(w.as_fd(), b"abc").unwrap(), 3);
/// ```
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: `buf` is valid for reads of its length; `fd` is live.
        let n = unsafe {
            syscall!(write(
                fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len().min(MAX_RW_COUNT)
            ))
        }?;
        Ok(n as usize)
    })
}

/// Shuts down the writing half of a socket (`shutdown(SHUT_WR)`): the peer
/// reads end-of-stream once what was sent is read.
///
/// # Errors
///
/// The OS error (`ENOTCONN` when not connected).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// weft_transport::sys::shutdown_write(a.as_fd()).unwrap();
/// let mut buf = [0u8; 1];
/// assert_eq!(weft_transport::sys::read(b.as_fd(), &mut buf).unwrap(), 0);
/// ```
pub fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain call on a live descriptor.
    unsafe { syscall!(shutdown(fd.as_raw_fd(), libc::SHUT_WR)) }?;
    Ok(())
}

/// What kind of file a descriptor is, from `fstat`.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use weft_transport::sys::{fd_kind, FdKind};
/// let (r, _w) = weft_transport::sys::pipe().unwrap();
/// assert_eq!(fd_kind(r.as_fd()).unwrap(), FdKind::Pipe);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FdKind {
    /// A socket (TCP, Unix, ...).
    Socket,
    /// A pipe or FIFO.
    Pipe,
    /// A regular file.
    File,
    /// Anything else (character device, ...).
    Other,
}

/// Finds out what kind of file `fd` is.
///
/// # Errors
///
/// The OS error from `fstat`.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let f = tempfile::tempfile().unwrap();
/// assert_eq!(weft_transport::sys::fd_kind(f.as_fd()).unwrap(), weft_transport::sys::FdKind::File);
/// ```
pub fn fd_kind(fd: BorrowedFd<'_>) -> io::Result<FdKind> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for the kernel to fill; `fd` is live.
    unsafe { syscall!(fstat(fd.as_raw_fd(), st.as_mut_ptr())) }?;
    // SAFETY: fstat succeeded, so it initialised `st`.
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    Ok(match mode {
        libc::S_IFSOCK => FdKind::Socket,
        libc::S_IFIFO => FdKind::Pipe,
        libc::S_IFREG => FdKind::File,
        _ => FdKind::Other,
    })
}

/// The current length of an open file, from `fstat`.
///
/// # Errors
///
/// The OS error from `fstat`.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let f = tempfile::tempfile().unwrap();
/// f.set_len(7).unwrap();
/// assert_eq!(weft_transport::sys::file_len(f.as_fd()).unwrap(), 7);
/// ```
pub fn file_len(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for the kernel to fill; `fd` is live.
    unsafe { syscall!(fstat(fd.as_raw_fd(), st.as_mut_ptr())) }?;
    // SAFETY: fstat succeeded, so it initialised `st`.
    Ok(unsafe { st.assume_init() }.st_size as u64)
}

/// Maps `len` bytes of `file` from `offset` read-only (`mmap`); `offset`
/// is rounded down to a page inside, the returned slice starts at `offset`.
///
/// Touching the mapping after another process truncates the file raises
/// `SIGBUS`; callers check the file's length just before, and keep the
/// mapping short-lived, which narrows but does not close that window.
///
/// # Errors
///
/// The OS error from `mmap`.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// let mut f = tempfile::tempfile().unwrap();
/// f.write_all(b"hello world").unwrap();
/// let m = weft_transport::sys::map_file(&f, 6, 5).unwrap();
/// assert_eq!(m.as_slice(), b"world");
/// ```
pub fn map_file(file: &std::fs::File, offset: u64, len: usize) -> io::Result<FileMap> {
    const PAGE: u64 = 4096;
    let base = offset - offset % PAGE;
    let delta = (offset - base) as usize;
    let map_len = delta
        .checked_add(len)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large"))?;
    // SAFETY: the mapping is read-only and private to this process; the
    // caller checked the file covers `offset..offset + len` just before.
    // A truncation racing with the use of the map can still raise SIGBUS
    // (documented above and in zero-copy-notes.md).
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(base)
            .len(map_len)
            .map(file)
    }?;
    Ok(FileMap { map, delta })
}

/// A read-only mapping of part of a file, from [`map_file`].
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// let mut f = tempfile::tempfile().unwrap();
/// f.write_all(b"abc").unwrap();
/// assert_eq!(weft_transport::sys::map_file(&f, 0, 3).unwrap().as_slice(), b"abc");
/// ```
#[derive(Debug)]
pub struct FileMap {
    map: memmap2::Mmap,
    delta: usize,
}

impl FileMap {
    /// The mapped bytes, from the offset asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let mut f = tempfile::tempfile().unwrap();
    /// f.write_all(b"abc").unwrap();
    /// assert_eq!(weft_transport::sys::map_file(&f, 1, 2).unwrap().as_slice(), b"bc");
    /// ```
    pub fn as_slice(&self) -> &[u8] {
        self.map.get(self.delta..).unwrap_or_default()
    }
}
