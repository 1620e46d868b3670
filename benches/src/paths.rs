//! The raw file -> socket paths of the article's table, each a plain,
//! counted syscall loop over a blocking loopback socket.

use std::fs::File;
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use nix::fcntl::SpliceFFlags;

use crate::sys;

/// The largest count one `sendfile` call moves on Linux.
pub const SENDFILE_MAX: usize = 0x7fff_f000;

/// Chunk size of the `mmap + write` loop and the `splice` pipe.
pub const BIG_CHUNK: usize = 1 << 20;

/// One raw way to move a file to a socket.
///
/// # Examples
///
/// ```
/// use weft_benches::RawPath;
/// assert_eq!(RawPath::ALL.len(), 5);
/// assert_eq!(RawPath::Sendfile.name(), "sendfile");
/// assert_eq!(RawPath::Splice.article(), (0, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawPath {
    /// `pread` into a 64 KiB user buffer, then `write` it.
    ReadWrite64K,
    /// `pread` into a 1 MiB user buffer, then `write` it.
    ReadWrite1M,
    /// `mmap` the file, `write` it 1 MiB at a time, `munmap`.
    MmapWrite,
    /// `sendfile` from the file to the socket.
    Sendfile,
    /// `splice` file -> pipe -> socket, 1 MiB of pipe.
    Splice,
}

impl RawPath {
    /// Every raw path, in the article's order.
    pub const ALL: [RawPath; 5] = [
        RawPath::ReadWrite64K,
        RawPath::ReadWrite1M,
        RawPath::MmapWrite,
        RawPath::Sendfile,
        RawPath::Splice,
    ];

    /// The row name used on stdout and in JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_benches::RawPath::ReadWrite64K.name(), "read+write 64KiB");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            RawPath::ReadWrite64K => "read+write 64KiB",
            RawPath::ReadWrite1M => "read+write 1MiB",
            RawPath::MmapWrite => "mmap+write",
            RawPath::Sendfile => "sendfile",
            RawPath::Splice => "splice",
        }
    }

    /// The article's (CPU copies, mode switches) for this path, from the
    /// table in `zero-copy-notes.md`. `sendfile` is the plain variant (1
    /// CPU copy): loopback has no NIC that could gather.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_benches::RawPath::ReadWrite1M.article(), (2, 4));
    /// ```
    pub fn article(self) -> (u32, u32) {
        match self {
            RawPath::ReadWrite64K | RawPath::ReadWrite1M => (2, 4),
            RawPath::MmapWrite => (1, 4),
            RawPath::Sendfile => (1, 2),
            RawPath::Splice => (0, 2),
        }
    }
}

/// Counts kept by a send loop.
///
/// # Examples
///
/// ```
/// let c = weft_benches::Counts::default();
/// assert_eq!((c.syscalls, c.user_bytes, c.sent), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// System calls the loop made (setup calls such as `mmap` or `pipe`
    /// included).
    pub syscalls: u64,
    /// Payload bytes that passed through a user-space buffer (read into
    /// it, or copied into it by the loop itself).
    pub user_bytes: u64,
    /// Payload bytes the socket accepted.
    pub sent: u64,
}

/// Sends the first `len` bytes of `file` to `sock` along `path`, counting
/// every syscall.
///
/// # Errors
///
/// Any I/O error; [`io::ErrorKind::UnexpectedEof`] if the file ends early;
/// [`io::ErrorKind::WriteZero`] if the socket accepts nothing.
///
/// # Examples
///
/// ```no_run
/// use std::io::Write;
/// use weft_benches::{send_raw, RawPath, Receiver};
///
/// let mut f = tempfile::tempfile().unwrap();
/// f.write_all(&[7u8; 5000]).unwrap();
/// let rx = Receiver::spawn(false).unwrap();
/// let mut sock = rx.connect().unwrap();
/// let counts = send_raw(RawPath::Sendfile, &f, 5000, &mut sock).unwrap();
/// drop(sock);
/// assert_eq!(counts.sent, 5000);
/// assert_eq!(rx.join().unwrap().bytes, 5000);
/// ```
pub fn send_raw(path: RawPath, file: &File, len: u64, sock: &mut TcpStream) -> io::Result<Counts> {
    let mut c = Counts::default();
    match path {
        RawPath::ReadWrite64K => read_write(file, len, sock, 64 * 1024, &mut c)?,
        RawPath::ReadWrite1M => read_write(file, len, sock, 1 << 20, &mut c)?,
        RawPath::MmapWrite => mmap_write(file, len, sock, &mut c)?,
        RawPath::Sendfile => sendfile(file, len, sock, &mut c)?,
        RawPath::Splice => splice(file, len, sock, &mut c)?,
    }
    Ok(c)
}

/// `write` all of `buf`, one counted syscall per call.
pub(crate) fn write_all_counted(
    sock: &mut TcpStream,
    mut buf: &[u8],
    c: &mut Counts,
) -> io::Result<()> {
    // Each pass either shortens `buf` or returns: bounded by its length.
    while !buf.is_empty() {
        c.syscalls += 1;
        match sock.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.sent += n as u64;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn read_write(
    file: &File,
    len: u64,
    sock: &mut TcpStream,
    chunk: usize,
    c: &mut Counts,
) -> io::Result<()> {
    let mut buf = vec![0u8; chunk];
    let mut off = 0u64;
    while off < len {
        let want = usize::try_from(len - off).unwrap_or(usize::MAX).min(chunk);
        c.syscalls += 1;
        let n = match file.read_at(&mut buf[..want], off) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        c.user_bytes += n as u64;
        off += n as u64;
        write_all_counted(sock, &buf[..n], c)?;
    }
    Ok(())
}

fn mmap_write(file: &File, len: u64, sock: &mut TcpStream, c: &mut Counts) -> io::Result<()> {
    let map = sys::map_file(file)?;
    c.syscalls += 1;
    let len = usize::try_from(len).map_err(io::Error::other)?;
    let Some(body) = map.get(..len) else {
        return Err(io::ErrorKind::UnexpectedEof.into());
    };
    for chunk in body.chunks(BIG_CHUNK) {
        write_all_counted(sock, chunk, c)?;
    }
    drop(map);
    c.syscalls += 1;
    Ok(())
}

fn sendfile(file: &File, len: u64, sock: &mut TcpStream, c: &mut Counts) -> io::Result<()> {
    let mut off: i64 = 0;
    let end = i64::try_from(len).map_err(io::Error::other)?;
    while off < end {
        let want = usize::try_from(end - off)
            .unwrap_or(usize::MAX)
            .min(SENDFILE_MAX);
        c.syscalls += 1;
        match nix::sys::sendfile::sendfile(sock.as_fd(), file.as_fd(), Some(&mut off), want) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => c.sent += n as u64,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn splice(file: &File, len: u64, sock: &mut TcpStream, c: &mut Counts) -> io::Result<()> {
    let (pr, pw, cap) = sys::pipe_with_size(BIG_CHUNK)?;
    c.syscalls += 2;
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_MORE;
    let mut off: i64 = 0;
    let end = i64::try_from(len).map_err(io::Error::other)?;
    while off < end {
        let want = usize::try_from(end - off).unwrap_or(usize::MAX).min(cap);
        c.syscalls += 1;
        let mut in_pipe =
            match nix::fcntl::splice(file.as_fd(), Some(&mut off), pw.as_fd(), None, want, flags) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
        // Each pass empties part of the pipe or returns.
        while in_pipe > 0 {
            c.syscalls += 1;
            match nix::fcntl::splice(pr.as_fd(), None, sock.as_fd(), None, in_pipe, flags) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    in_pipe -= n;
                    c.sent += n as u64;
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    drop((pr, pw));
    c.syscalls += 2;
    Ok(())
}

/// Reads all of `file` once, so its pages are in the page cache.
pub(crate) fn warm(file: &File) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match file.read_at(&mut buf, total) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
