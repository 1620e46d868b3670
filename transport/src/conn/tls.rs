//! The TLS half of a connection's loop: reads through rustls, encrypting
//! writes, the failure path, and the lingering close (see
//! [`crate::tls`] for where TLS sits and why).

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use tokio::io::Interest;
use tokio::time::Instant;
use weft_pipeline::{Event, Message, Value};

use super::{head_of, Conn};
use crate::stats::Counter;

/// The longest a closing TLS connection waits for its peer's end of stream
/// after sending `close_notify` (see `Conn::linger`). A peer that answers
/// `close_notify` with its own (rustls, OpenSSL, curl) does so in well under
/// a millisecond on loopback; session tickets it sent are already there.
const LINGER: Duration = Duration::from_millis(500);

impl Conn {
    /// [`write_ready`](Self::write_ready) on a TLS connection: writes
    /// pending ciphertext, encrypts the flushed entries when it has none,
    /// and once closing with nothing flushed left, sends `close_notify`.
    pub(super) fn write_ready_tls(&mut self) {
        loop {
            if self.over_budget() {
                return;
            }
            let Conn {
                stream,
                pipeline,
                tls: Some(tls),
                stats,
                closing,
                ..
            } = self
            else {
                return;
            };
            let out = &mut head_of(pipeline).out;
            let step = if tls.has_ciphertext() {
                let fd = stream.as_fd();
                self.turn_writes += 1;
                stream
                    .try_io(Interest::WRITABLE, || tls.write_step(fd, stats))
                    .inspect(|&n| self.turn_bytes = self.turn_bytes.saturating_add(n))
            } else if closing.is_some() && !out.has_flushed() {
                tls.close_notify();
                Ok(usize::from(tls.has_ciphertext()))
            } else {
                tls.seal(out)
            };
            match step {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    /// [`read_ready`](Self::read_ready) on a TLS connection.
    pub(super) fn read_ready_tls(&mut self) {
        for _ in 0..self.max_reads {
            let auto_read = self.head().auto_read;
            let handshaking = self.tls.as_ref().is_some_and(|t| t.handshaking());
            if !(auto_read || handshaking) || self.failed || self.closing.is_some() {
                break;
            }
            let Conn {
                stream,
                rb,
                stats,
                tls: Some(tls),
                ..
            } = self
            else {
                return;
            };
            let fd = stream.as_fd();
            let read = stream.try_io(Interest::READABLE, || {
                tls.read_step(fd, rb, stats, auto_read)
            });
            self.plaintext_waiting |= !auto_read;
            match read {
                Ok(r) => {
                    if let Some(hs) = r.handshake {
                        self.dispatch(|p| p.fire_event(Event::User(Value::new(hs))));
                    }
                    if let Some(b) = r.plaintext {
                        self.dispatch(|p| p.fire_read(Message::Bytes(b)));
                    }
                    if r.read == 0 || r.closed {
                        self.read_eof = true;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.rb.release();
                    break;
                }
                Err(e) => {
                    self.tls_failed(e);
                    return;
                }
            }
        }
        self.dispatch(|p| p.fire_read_complete());
        if self.read_eof {
            self.input_ended();
        }
    }

    /// Hands on what was decrypted while auto-read was off, now that it is
    /// on again.
    pub(super) fn deliver_waiting_plaintext(&mut self) {
        self.plaintext_waiting = false;
        let Conn {
            tls: Some(tls),
            rb,
            stats,
            ..
        } = self
        else {
            return;
        };
        match tls.take_plaintext(rb, stats) {
            Ok(Some(b)) => {
                self.dispatch(|p| p.fire_read(Message::Bytes(b)));
                self.dispatch(|p| p.fire_read_complete());
            }
            Ok(None) => {}
            Err(e) => self.tls_failed(e),
        }
    }

    /// Ends a TLS connection on a TLS error (or a socket error while
    /// reading): logs why, sends the alert rustls queued if the socket
    /// takes it at once, and fails the connection.
    pub(super) fn tls_failed(&mut self, err: io::Error) {
        if let Some(tls) = self.tls.as_deref_mut() {
            if tls.has_ciphertext() {
                let fd = self.stream.as_fd();
                let _ = tls.write_step(fd, &self.stats);
            }
        }
        if err.kind() != io::ErrorKind::ConnectionReset {
            tracing::info!(peer = ?self.shared.peer, error = %err, "closing a TLS connection");
        }
        self.fail(err);
    }

    /// A TLS connection's lingering close, after its `close_notify` went
    /// out: shuts down the writing half and reads (and drops) what the
    /// peer still sends until it closes too, or the close deadline passes.
    ///
    /// Closing a socket with unread bytes sends RST instead of FIN, and
    /// the reset can destroy data the peer has not read yet. Over TLS that
    /// happens all the time: a TLS 1.3 server sends session tickets after
    /// the handshake, which a client that writes and closes never reads.
    pub(super) async fn linger(&mut self) {
        // Bounded by the close deadline and by LINGER: a peer that neither
        // sends nor closes (an idle keep-alive client at server shutdown)
        // holds the connection that long at most.
        let cap = Instant::now() + LINGER;
        let deadline = self.closing.map_or(cap, |c| c.min(cap));
        if crate::sys::shutdown_write(self.stream.as_fd()).is_err() {
            return;
        }
        let mut scrap = vec![0u8; 4096];
        loop {
            let ready = tokio::time::timeout_at(deadline, self.stream.ready(Interest::READABLE));
            if !matches!(ready.await, Ok(Ok(r)) if r.is_readable()) {
                return;
            }
            let fd = self.stream.as_fd();
            match self
                .stream
                .try_io(Interest::READABLE, || crate::sys::read(fd, &mut scrap))
            {
                Ok(0) => return,
                Ok(n) => self.stats.add(Counter::BytesRead, n as u64),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}
