//! One connection's TLS session: rustls' buffered connection driven over a
//! non-blocking socket, one system call per step, counted like the
//! plaintext paths.

use std::io::{self, BufRead, IoSlice};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use bytes::Bytes;
use rustls::{ClientConnection, Connection, ServerConnection};
use tokio::time::Instant;

use super::{TlsHandshake, TlsRole, TLS_SEND_BUFFER};
use crate::outbound::{Completion, OutboundBuffer};
use crate::recv::AdaptiveRecvBuf;
use crate::stats::{Counter, Stats};
use crate::sys;

/// What one read step produced.
#[derive(Debug, Default)]
pub(crate) struct TlsRead {
    /// Ciphertext bytes the read took from the socket (0: end of stream).
    pub(crate) read: usize,
    /// Decrypted application data, if a record completed.
    pub(crate) plaintext: Option<Bytes>,
    /// The handshake completed in this step.
    pub(crate) handshake: Option<TlsHandshake>,
    /// The peer sent `close_notify`: no more data will come.
    pub(crate) closed: bool,
}

/// The TLS state of one connection.
pub(crate) struct TlsSession {
    conn: Connection,
    /// Set until the handshake completes (then `None`).
    deadline: Option<Instant>,
    close_sent: bool,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .field("wants_write", &self.conn.wants_write())
            .finish()
    }
}

/// The socket as rustls sees it: one `read` or one `writev` per call,
/// counted in the connection's stats.
struct Socket<'a> {
    fd: BorrowedFd<'a>,
    stats: &'a Stats,
}

impl io::Read for Socket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stats.add(Counter::ReadCalls, 1);
        let n = sys::read(self.fd, buf).inspect_err(|e| note_would_block(e, self.stats))?;
        self.stats.add(Counter::BytesRead, n as u64);
        Ok(n)
    }
}

impl io::Write for Socket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let offered: usize = bufs.iter().map(|b| b.len()).sum();
        self.stats.add(Counter::WritevCalls, 1);
        self.stats.add(Counter::WritevIovecs, bufs.len() as u64);
        let n = sys::writev(self.fd, bufs).inspect_err(|e| note_would_block(e, self.stats))?;
        self.stats.add(Counter::WritevBytes, n as u64);
        if n < offered {
            self.stats.add(Counter::PartialWrites, 1);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn note_would_block(e: &io::Error, stats: &Stats) {
    if e.kind() == io::ErrorKind::WouldBlock {
        stats.add(Counter::WouldBlock, 1);
    }
}

/// A rustls error as the connection's I/O error, saying it came from TLS.
pub(crate) fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

impl TlsSession {
    /// A session for one side of a new connection; the handshake must end
    /// within `timeout`.
    pub(crate) fn new(role: &TlsRole, timeout: Duration) -> io::Result<Self> {
        let mut conn: Connection = match role {
            TlsRole::Server(a) => ServerConnection::new(a.config().clone())
                .map_err(tls_error)?
                .into(),
            TlsRole::Client(c) => ClientConnection::new(c.config.clone(), c.name.clone())
                .map_err(tls_error)?
                .into(),
        };
        conn.set_buffer_limit(Some(TLS_SEND_BUFFER));
        Ok(TlsSession {
            conn,
            deadline: Some(Instant::now() + timeout),
            close_sent: false,
        })
    }

    /// The handshake deadline, while the handshake runs.
    pub(crate) fn handshake_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Encrypted bytes wait to go to the socket (handshake messages,
    /// records, alerts).
    pub(crate) fn has_ciphertext(&self) -> bool {
        self.conn.wants_write()
    }

    /// The handshake has not completed yet (it reads even while auto-read
    /// is off, as Netty's `SslHandler` does).
    pub(crate) fn handshaking(&self) -> bool {
        self.deadline.is_some()
    }

    /// Application data may be encrypted now.
    pub(crate) fn can_seal(&self) -> bool {
        !self.conn.is_handshaking() && !self.close_sent
    }

    /// Reads once from the socket into rustls and processes what arrived;
    /// with `deliver`, takes the decrypted bytes out (else they wait in
    /// rustls for [`take_plaintext`](Self::take_plaintext)).
    ///
    /// # Errors
    ///
    /// The socket's (`WouldBlock` included) or, as `InvalidData`, the TLS
    /// error that ends the connection (rustls has then queued the alert
    /// to send: the caller writes it out with [`write_step`](Self::write_step)).
    pub(crate) fn read_step(
        &mut self,
        fd: BorrowedFd<'_>,
        rb: &mut AdaptiveRecvBuf,
        stats: &Stats,
        deliver: bool,
    ) -> io::Result<TlsRead> {
        let read = self.conn.read_tls(&mut Socket { fd, stats })?;
        let state = self.conn.process_new_packets().map_err(tls_error)?;
        let mut out = TlsRead {
            read,
            closed: state.peer_has_closed(),
            ..TlsRead::default()
        };
        if self.deadline.is_some() && !self.conn.is_handshaking() {
            self.deadline = None;
            stats.add(Counter::TlsHandshakes, 1);
            out.handshake = Some(self.handshake_info());
        }
        if deliver {
            out.plaintext = self.take(state.plaintext_bytes_to_read(), rb, stats)?;
        }
        Ok(out)
    }

    /// Takes the decrypted bytes waiting in rustls out into the receive
    /// chunk (a counted copy).
    ///
    /// # Errors
    ///
    /// rustls' reader's (none expected once bytes are waiting).
    pub(crate) fn take_plaintext(
        &mut self,
        rb: &mut AdaptiveRecvBuf,
        stats: &Stats,
    ) -> io::Result<Option<Bytes>> {
        let avail = self
            .conn
            .process_new_packets()
            .map_err(tls_error)?
            .plaintext_bytes_to_read();
        self.take(avail, rb, stats)
    }

    /// Takes `avail` decrypted bytes out of rustls.
    fn take(
        &mut self,
        avail: usize,
        rb: &mut AdaptiveRecvBuf,
        stats: &Stats,
    ) -> io::Result<Option<Bytes>> {
        let mut plaintext = None;
        if avail > 0 {
            let mut reader = self.conn.reader();
            let plain = rb.take_from(avail, stats, |dst, left| {
                let src = reader.fill_buf()?;
                let n = src.len().min(left);
                dst.extend_from_slice(src.get(..n).unwrap_or_default());
                reader.consume(n);
                Ok(n)
            })?;
            stats.add(Counter::TlsDecryptedBytes, plain.len() as u64);
            weft_buf::copy::record_decrypt(plain.len());
            // rustls keeps decrypted bytes in its own buffer: taking them out
            // into the receive chunk is a copy, and is counted as one.
            stats.record_copy(plain.len());
            plaintext = Some(plain);
        }
        Ok(plaintext)
    }

    /// Writes pending ciphertext with one `writev`.
    ///
    /// # Errors
    ///
    /// The socket's, `WouldBlock` included.
    pub(crate) fn write_step(&mut self, fd: BorrowedFd<'_>, stats: &Stats) -> io::Result<usize> {
        self.conn.write_tls(&mut Socket { fd, stats })
    }

    /// Encrypts the flushed entries at the front of `out` (up to the send
    /// buffer) and returns the plaintext bytes taken; 0 when nothing can be
    /// taken now (ciphertext still waiting, handshake running, nothing
    /// flushed).
    ///
    /// # Errors
    ///
    /// A file region's read error (`UnexpectedEof` for a file shorter than
    /// its region).
    pub(crate) fn seal<P: Completion>(&mut self, out: &mut OutboundBuffer<P>) -> io::Result<usize> {
        if !self.can_seal() || self.conn.wants_write() {
            return Ok(0);
        }
        let stats = out.stats().clone();
        let n = out.seal_step(&mut self.conn.writer(), TLS_SEND_BUFFER)?;
        stats.add(Counter::TlsEncryptedBytes, n as u64);
        weft_buf::copy::record_encrypt(n);
        Ok(n)
    }

    /// Queues `close_notify` (once), after any data already encrypted.
    pub(crate) fn close_notify(&mut self) {
        if !self.close_sent {
            self.close_sent = true;
            self.conn.send_close_notify();
        }
    }

    fn handshake_info(&self) -> TlsHandshake {
        let server_name = match &self.conn {
            Connection::Server(s) => s.server_name().map(str::to_string),
            Connection::Client(_) => None,
        };
        TlsHandshake {
            version: self.conn.protocol_version(),
            suite: self.conn.negotiated_cipher_suite().map(|s| s.suite()),
            alpn: self.conn.alpn_protocol().map(<[u8]>::to_vec),
            server_name,
        }
    }
}
