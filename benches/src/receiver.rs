//! The receiving end of every measurement: a thread that accepts one
//! loopback connection and reads it to the end, discarding the bytes.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Size of the receiver's read buffer.
pub const RECV_BUF: usize = 1 << 20;

/// How long the receiver waits for the sender to connect, and for any one
/// read, before it gives up (so no test or run can hang on it).
pub const RECV_TIMEOUT: Duration = Duration::from_secs(30);

/// What a receiver saw: how many bytes arrived and, when asked for, their
/// FNV-1a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes read until the sender closed its side.
    pub bytes: u64,
    /// FNV-1a 64 of every byte in order, or `None` when not asked for.
    pub checksum: Option<u64>,
}

/// A receiver thread listening on `127.0.0.1` for one connection.
///
/// # Examples
///
/// ```no_run
/// use std::io::Write;
/// use weft_benches::Receiver;
///
/// let rx = Receiver::spawn(true).unwrap();
/// let mut s = std::net::TcpStream::connect(rx.addr()).unwrap();
/// s.write_all(b"abc").unwrap();
/// drop(s);
/// let got = rx.join().unwrap();
/// assert_eq!(got.bytes, 3);
/// assert_eq!(got.checksum, Some(weft_benches::fnv1a(b"abc")));
/// ```
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    handle: JoinHandle<io::Result<Received>>,
}

impl Receiver {
    /// Binds an ephemeral loopback port and starts the thread. With
    /// `checksum`, the thread also hashes what it reads (slower; for tests).
    ///
    /// # Errors
    ///
    /// Any error from binding the listener or starting the thread.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rx = weft_benches::Receiver::spawn(false).unwrap();
    /// assert!(rx.addr().ip().is_loopback());
    /// ```
    pub fn spawn(checksum: bool) -> io::Result<Receiver> {
        Receiver::start(checksum, None)
    }

    /// Like [`spawn`](Self::spawn), but the receiver is a TLS server
    /// (rustls) and counts and hashes the decrypted bytes.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// See [`measure_weft`](crate::measure_weft) with [`WeftPath::Tls`](crate::WeftPath::Tls).
    pub fn spawn_tls(checksum: bool, tls: Arc<rustls::ServerConfig>) -> io::Result<Receiver> {
        Receiver::start(checksum, Some(tls))
    }

    fn start(checksum: bool, tls: Option<Arc<rustls::ServerConfig>>) -> io::Result<Receiver> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let handle = thread::Builder::new()
            .name("weft-bench-rx".into())
            .spawn(move || {
                let (sock, _) = accept_within(&listener, RECV_TIMEOUT)?;
                sock.set_read_timeout(Some(RECV_TIMEOUT))?;
                match tls {
                    None => receive(sock, checksum),
                    Some(cfg) => {
                        let conn = rustls::ServerConnection::new(cfg).map_err(io::Error::other)?;
                        receive(rustls::StreamOwned::new(conn, sock), checksum)
                    }
                }
            })?;
        Ok(Receiver { addr, handle })
    }

    /// The address to connect to.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rx = weft_benches::Receiver::spawn(false).unwrap();
    /// assert_ne!(rx.addr().port(), 0);
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connects a blocking client socket to this receiver, with
    /// `TCP_NODELAY` on.
    ///
    /// # Errors
    ///
    /// Any error from `connect`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rx = weft_benches::Receiver::spawn(false).unwrap();
    /// let s = rx.connect().unwrap();
    /// drop(s);
    /// assert_eq!(rx.join().unwrap().bytes, 0);
    /// ```
    pub fn connect(&self) -> io::Result<TcpStream> {
        let s = TcpStream::connect(self.addr)?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// Waits until the sender has closed its side and every byte was read.
    ///
    /// # Errors
    ///
    /// The receiver's I/O error, or [`io::ErrorKind::Other`] if its thread
    /// panicked.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rx = weft_benches::Receiver::spawn(false).unwrap();
    /// drop(rx.connect().unwrap());
    /// assert_eq!(rx.join().unwrap().checksum, None);
    /// ```
    pub fn join(self) -> io::Result<Received> {
        self.handle
            .join()
            .map_err(|_| io::Error::other("receiver thread panicked"))?
    }
}

fn receive(mut sock: impl Read, checksum: bool) -> io::Result<Received> {
    let mut buf = vec![0u8; RECV_BUF];
    let mut bytes = 0u64;
    let mut hash = FNV_OFFSET;
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A TLS sender that closed without close_notify: the count
            // still says whether every byte arrived.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        };
        bytes += n as u64;
        if checksum {
            hash = fnv1a_update(hash, &buf[..n]);
        }
    }
    Ok(Received {
        bytes,
        checksum: checksum.then_some(hash),
    })
}

fn accept_within(listener: &TcpListener, limit: Duration) -> io::Result<(TcpStream, SocketAddr)> {
    listener.set_nonblocking(true)?;
    let start = std::time::Instant::now();
    loop {
        match listener.accept() {
            Ok((s, a)) => {
                s.set_nonblocking(false)?;
                return Ok((s, a));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if start.elapsed() > limit {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no sender connected to the receiver",
                    ));
                }
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a_update(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// FNV-1a 64 of `bytes`: the checksum [`Receiver`] computes.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_benches::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
/// assert_ne!(weft_benches::fnv1a(b"ab"), weft_benches::fnv1a(b"ba"));
/// ```
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_update(FNV_OFFSET, bytes)
}
