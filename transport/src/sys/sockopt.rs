//! Socket options, each a small wrapper over `setsockopt` / `getsockopt`.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use super::syscall;

fn set_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option value is a live `c_int` and its exact size is passed.
    unsafe {
        syscall!(setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t
        ))
    }?;
    Ok(())
}

fn get_int(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are live locals describing a `c_int` buffer.
    unsafe {
        syscall!(getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len
        ))
    }?;
    Ok(v)
}

fn clamp_size(bytes: usize) -> libc::c_int {
    libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX)
}

/// Switches Nagle's algorithm off (`TCP_NODELAY` = `on`).
///
/// # Errors
///
/// The OS error (`ENOTSUP`/`EOPNOTSUPP` on a non-TCP socket).
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// let s = std::net::TcpStream::connect("127.0.0.1:7").unwrap();
/// weft_transport::sys::set_nodelay(s.as_fd(), true).unwrap();
/// assert!(weft_transport::sys::nodelay(s.as_fd()).unwrap());
/// ```
pub fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on.into())
}

/// Reads `TCP_NODELAY`.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// let s = std::net::TcpStream::connect("127.0.0.1:7").unwrap();
/// let _on = weft_transport::sys::nodelay(s.as_fd()).unwrap();
/// ```
pub fn nodelay(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(get_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY)? != 0)
}

/// Corks or uncorks a TCP socket (`TCP_CORK`): while corked, partial
/// segments are held back; uncorking sends them.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// let s = std::net::TcpStream::connect("127.0.0.1:7").unwrap();
/// weft_transport::sys::set_cork(s.as_fd(), true).unwrap();
/// weft_transport::sys::set_cork(s.as_fd(), false).unwrap();
/// ```
pub fn set_cork(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_TCP, libc::TCP_CORK, on.into())
}

/// Sets `SO_SNDBUF` (the kernel doubles the value for bookkeeping).
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// weft_transport::sys::set_send_buffer_size(a.as_fd(), 8192).unwrap();
/// assert!(weft_transport::sys::send_buffer_size(a.as_fd()).unwrap() >= 8192);
/// ```
pub fn set_send_buffer_size(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, clamp_size(bytes))
}

/// Reads `SO_SNDBUF`.
///
/// # Errors
///
/// The OS error (`ENOTSOCK` on a non-socket).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert!(weft_transport::sys::send_buffer_size(a.as_fd()).unwrap() > 0);
/// ```
pub fn send_buffer_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    Ok(get_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?.max(0) as usize)
}

/// Sets `SO_RCVBUF`.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// weft_transport::sys::set_recv_buffer_size(a.as_fd(), 8192).unwrap();
/// assert!(weft_transport::sys::recv_buffer_size(a.as_fd()).unwrap() >= 8192);
/// ```
pub fn set_recv_buffer_size(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, clamp_size(bytes))
}

/// Reads `SO_RCVBUF`.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert!(weft_transport::sys::recv_buffer_size(a.as_fd()).unwrap() > 0);
/// ```
pub fn recv_buffer_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    Ok(get_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF)?.max(0) as usize)
}

/// Switches TCP keepalive on with the given idle time before the first
/// probe, or off with `None`.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// let s = std::net::TcpStream::connect("127.0.0.1:7").unwrap();
/// weft_transport::sys::set_keepalive(s.as_fd(), Some(Duration::from_secs(60))).unwrap();
/// ```
pub fn set_keepalive(fd: BorrowedFd<'_>, idle: Option<Duration>) -> io::Result<()> {
    match idle {
        None => set_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 0),
        Some(idle) => {
            set_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
            let secs = clamp_size(idle.as_secs().max(1) as usize);
            set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)
        }
    }
}

/// Sets `SO_REUSEADDR`.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// weft_transport::sys::set_reuseaddr(l.as_fd(), true).unwrap();
/// ```
pub fn set_reuseaddr(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, on.into())
}

/// Sets `SO_REUSEPORT`: several sockets may bind the same address and the
/// kernel spreads incoming connections among them.
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// weft_transport::sys::set_reuseport(l.as_fd(), true).unwrap();
/// ```
pub fn set_reuseport(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, on.into())
}

/// Sets `SO_LINGER`: with `Some(Duration::ZERO)`, closing the socket sends
/// a reset and drops unsent data (used to test resets).
///
/// # Errors
///
/// The OS error.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// weft_transport::sys::set_linger(a.as_fd(), Some(Duration::ZERO)).unwrap();
/// ```
pub fn set_linger(fd: BorrowedFd<'_>, linger: Option<Duration>) -> io::Result<()> {
    let v = libc::linger {
        l_onoff: linger.is_some().into(),
        l_linger: clamp_size(linger.map_or(0, |d| d.as_secs() as usize)),
    };
    // SAFETY: `v` is a live `linger` and its exact size is passed.
    unsafe {
        syscall!(setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&v as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t
        ))
    }?;
    Ok(())
}

/// Segments a TCP socket has sent so far (`tcpi_segs_out` of `TCP_INFO`).
/// Tests use it to check that a header and a file left in one packet.
///
/// # Errors
///
/// The OS error (`EOPNOTSUPP` on a non-TCP socket).
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// let s = std::net::TcpStream::connect("127.0.0.1:7").unwrap();
/// let _segs = weft_transport::sys::tcp_segments_out(s.as_fd()).unwrap();
/// ```
pub fn tcp_segments_out(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a zeroed `tcp_info` buffer of `len` bytes.
    unsafe {
        syscall!(getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len
        ))
    }?;
    // SAFETY: zero-initialised, and the kernel filled at most `len` bytes.
    Ok(unsafe { info.assume_init() }.tcpi_segs_out)
}

/// Makes a listening TCP socket on `addr` with `SO_REUSEADDR` (and
/// `SO_REUSEPORT` when asked), non-blocking and close-on-exec.
///
/// # Errors
///
/// The OS error from socket, setsockopt, bind or listen.
///
/// # Examples
///
/// ```
/// let l = weft_transport::sys::tcp_listener("127.0.0.1:0".parse().unwrap(), true, 128).unwrap();
/// assert_ne!(l.local_addr().unwrap().port(), 0);
/// ```
pub fn tcp_listener(
    addr: std::net::SocketAddr,
    reuse_port: bool,
    backlog: u32,
) -> io::Result<std::net::TcpListener> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    if reuse_port {
        sock.set_reuseport(true)?;
    }
    sock.bind(addr)?;
    let fd = sock.into_raw_fd();
    // SAFETY: `into_raw_fd` gave up ownership of this open socket; the
    // listener now owns it and closes it on drop (also on error below).
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: plain call on the live descriptor owned by `listener`.
    unsafe { syscall!(listen(listener.as_raw_fd(), backlog)) }?;
    Ok(listener)
}
