//! The server side of Weft's TLS fed arbitrary bytes.
//!
//! TLS lives in the transport, between the socket and the pipeline's head,
//! so an `EmbeddedChannel` cannot host it: the input goes over a real
//! socket instead. One TLS echo server per process (its own event-loop
//! thread, on a Unix socket: no ports, no `TIME_WAIT`) is started on first
//! use. Each input is written on a new connection followed by end of
//! stream, and then:
//!
//! - the server closes the connection within [`CLOSE_WITHIN`] (bytes a
//!   fuzzer writes cannot complete a handshake, which needs the server's
//!   fresh key share, and the stream has ended, so nothing is left to wait
//!   for; the handshake timeout, [`HANDSHAKE_TIMEOUT`], is longer, so a
//!   close seen in time is the server's answer to the input);
//! - what it sent is whole TLS records (the server's flight, alerts), never a
//!   partial record and never plaintext;
//! - no thread panicked ([`panics`]): the transport catches a
//!   connection's panic and only logs it, so a panic hook counts them
//!   (under libFuzzer, the hook it installed, which aborts, runs after the
//!   count);
//! - every [`CHECK_EVERY`] inputs, a rustls client still completes a
//!   handshake and gets its echo.
//!
//! ```text
//!  input ─▶ connect ─▶ write(input) ─▶ shutdown(Write) ─▶ read to EOF
//!                                                        └─▶ records? panics? alive?
//! ```
//!
//! Shared by `fuzz_targets/tls_server.rs` and
//! `transport/tests/tls_fuzz_inputs.rs` (through `#[path]`).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use weft_pipeline::{Context, Handler, Message, Nothing};
use weft_transport::tls::{rustls, write_test_certs, TestCerts};
use weft_transport::{ChannelConfig, Server, ServerBuilder, TlsAcceptor, TlsConnector};

/// How long the server may take to close a connection after the input and
/// end of stream.
pub const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// The server's handshake timeout: longer than [`CLOSE_WITHIN`], so it
/// cannot be what closes a connection in time.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A good client checks the server every this many inputs.
pub const CHECK_EVERY: u64 = 64;

/// Most bytes read back for one input; a server that sends more is wrong
/// (it has at most a ServerHello flight and an alert to say).
pub const MAX_ANSWER: usize = 64 * 1024;

/// The ALPN protocol the server offers.
pub const ALPN: &[u8] = b"weft-fuzz";

/// Echoes what it reads.
#[derive(Debug)]
struct Echo;

impl Handler for Echo {
    type In = Message;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
        if let Some(b) = msg.to_bytes() {
            ctx.write_and_flush(b);
        }
    }
}

/// The process's TLS server.
#[derive(Debug)]
pub struct Harness {
    path: PathBuf,
    certs: TestCerts,
    connector: TlsConnector,
    inputs: AtomicU64,
    /// Serves for the rest of the process (held here, reachable, so a
    /// leak checker does not count its threads' state as lost).
    _server: Mutex<Server>,
    _dir: tempfile::TempDir,
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Panics seen on any thread since the harness started.
pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// The harness, started on first use.
///
/// # Panics
///
/// If the server cannot be started.
pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        // A write to a connection the server has closed must fail with
        // EPIPE, not kill the process: libFuzzer's `main` does not ignore
        // SIGPIPE as a Rust `main` does.
        // SAFETY: setting a signal's disposition to SIG_IGN installs no
        // handler code and touches no memory of ours.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
        let dir = tempfile::tempdir().expect("a temporary directory");
        let certs = write_test_certs(dir.path(), &rcgen::PKCS_ECDSA_P256_SHA256)
            .expect("test certificates");
        let tls = TlsAcceptor::from_pem_files(&certs.cert, &certs.key, &[ALPN])
            .expect("the test certificates load");
        let mut cfg = ChannelConfig::default();
        cfg.handshake_timeout(HANDSHAKE_TIMEOUT);
        let path = dir.path().join("tls.sock");
        let server = ServerBuilder::new()
            .config(cfg)
            .tls(tls)
            .threads(1)
            .bind_unix(&path, |p| {
                p.handlers().add_last("echo", Echo)?;
                Ok(())
            })
            .expect("the TLS server binds");
        let connector =
            TlsConnector::from_ca_file(&certs.ca, "localhost", &[ALPN]).expect("the test CA");
        Harness {
            path,
            certs,
            connector,
            inputs: AtomicU64::new(0),
            _server: Mutex::new(server),
            _dir: dir,
        }
    })
}

impl Harness {
    /// The certificates the server presents (`ca` is what a client trusts).
    pub fn certs(&self) -> &TestCerts {
        &self.certs
    }

    /// Feeds `data` on a new connection and checks the server's answer
    /// (see the module docs); every [`CHECK_EVERY`] inputs, also that a
    /// good client is served.
    ///
    /// # Panics
    ///
    /// On any failed check.
    pub fn feed(&self, data: &[u8]) {
        let before = panics();
        let answer = self.exchange(data);
        check_records(&answer, data);
        assert_eq!(panics(), before, "a thread panicked on input {data:02x?}");
        if self.inputs.fetch_add(1, Ordering::Relaxed) % CHECK_EVERY == 0 {
            self.check_served();
        }
    }

    /// Writes `data`, ends the stream, and reads until the server closes.
    fn exchange(&self, data: &[u8]) -> Vec<u8> {
        let mut s = UnixStream::connect(&self.path).expect("connect to the TLS server");
        s.set_read_timeout(Some(CLOSE_WITHIN)).expect("timeout");
        s.set_write_timeout(Some(CLOSE_WITHIN)).expect("timeout");
        // The server may close before taking everything (it stops at the
        // first bad record): a failed write is an answer, not an error.
        let _ = s.write_all(data);
        let _ = s.shutdown(Shutdown::Write);
        let started = Instant::now();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return answer,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    assert!(
                        answer.len() <= MAX_ANSWER,
                        "the server sent over {MAX_ANSWER} bytes to input {data:02x?}"
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return answer,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "the server did not close within {:?} ({e}) after input {data:02x?} and end of stream",
                    started.elapsed()
                ),
            }
        }
    }

    /// A rustls client completes a handshake (TLS 1.3, the ALPN offered)
    /// and gets its echo.
    ///
    /// # Panics
    ///
    /// If it does not.
    pub fn check_served(&self) {
        let conn = rustls::ClientConnection::new(
            self.connector.config().clone(),
            self.connector.server_name().clone(),
        )
        .expect("a client connection");
        let sock = UnixStream::connect(&self.path).expect("connect to the TLS server");
        sock.set_read_timeout(Some(CLOSE_WITHIN)).expect("timeout");
        let mut c = rustls::StreamOwned::new(conn, sock);
        c.write_all(b"still serving").expect("a good client writes");
        let mut got = [0u8; 13];
        c.read_exact(&mut got).expect("a good client gets its echo");
        assert_eq!(&got, b"still serving");
        assert_eq!(c.conn.alpn_protocol(), Some(ALPN));
    }
}

/// `answer` is whole TLS records of the types a server may send before a
/// handshake completes (handshake, alert, change_cipher_spec, and the
/// encrypted TLS 1.3 flight as application data), each no longer than a
/// record may be.
fn check_records(answer: &[u8], input: &[u8]) {
    let mut rest = answer;
    while !rest.is_empty() {
        let Some((head, body)) = rest.split_first_chunk::<5>() else {
            panic!("a partial record header in {answer:02x?} (input {input:02x?})");
        };
        assert!(
            matches!(head[0], 20..=23),
            "record type {} in {answer:02x?} (input {input:02x?})",
            head[0]
        );
        assert_eq!(head[1], 3, "record version {:02x?}", &head[1..3]);
        let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
        // RFC 8446 5.2: at most 2^14 + 256 bytes of ciphertext.
        assert!(len <= (1 << 14) + 256, "a record of {len} bytes");
        assert!(
            body.len() >= len,
            "a partial record in {answer:02x?} (input {input:02x?})"
        );
        rest = &body[len..];
    }
}
