//! Shared by the TLS tests of the `weft` binary (`tls_clients`,
//! `tls_proxy`), next to `support` (which starts the binary): test
//! certificates, `openssl s_client` driven from a test, a rustls client,
//! and the checks for a refused connection.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_transport::tls::{rustls, write_test_certs, TestCerts};
use weft_transport::TlsConnector;

use crate::support::{line_reader, run, wait_bounded, Server, PROCESS_WAIT, STEP};

/// How long a server may take to close a connection it was sent garbage
/// on: well under the default handshake timeout (10 s), so a close seen
/// within it is the server refusing the input, not the timeout.
pub(crate) const REFUSAL: Duration = Duration::from_secs(5);

/// The certificates of one test: `good` is what the servers use, `other`
/// a second CA that signed nothing the servers present.
pub(crate) struct Certs {
    pub(crate) good: TestCerts,
    pub(crate) other: TestCerts,
    _dir: tempfile::TempDir,
}

impl Certs {
    pub(crate) fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let (good_dir, other_dir) = (dir.path().join("good"), dir.path().join("other"));
        std::fs::create_dir(&good_dir).unwrap();
        std::fs::create_dir(&other_dir).unwrap();
        Certs {
            good: write_test_certs(&good_dir, &rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            other: write_test_certs(&other_dir, &rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            _dir: dir,
        }
    }

    /// `--tls-cert CERT --tls-key KEY`.
    pub(crate) fn flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            path_str(&self.good.cert).into(),
            "--tls-key".into(),
            path_str(&self.good.key).into(),
        ]
    }
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// True if `tool` runs; otherwise says the test is skipped and why.
pub(crate) fn have(tool: &str, version_arg: &str, package: &str) -> bool {
    let ok = Command::new(tool)
        .arg(version_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("SKIPPED: {tool} is not installed (apt-get install {package})");
    }
    ok
}

/// Starts `weft <args> <TLS flags>` on a loopback port.
pub(crate) fn start_tls(args: &[&str], certs: &Certs) -> Server {
    let flags = certs.flags();
    let all: Vec<&str> = args
        .iter()
        .copied()
        .chain(flags.iter().map(String::as_str))
        .collect();
    Server::start(&all)
}

/// `openssl s_client -connect ADDR -servername localhost` plus `extra`,
/// with stdin closed: it handshakes, prints the session and exits.
pub(crate) fn s_client_once(addr: SocketAddr, extra: &[&str]) -> Output {
    run(Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(["-servername", "localhost"])
        .args(extra))
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An interactive `openssl s_client`: lines go in on stdin, what the
/// server sends comes out on stdout. Killed by PID when dropped.
pub(crate) struct SClient {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl SClient {
    pub(crate) fn start(addr: SocketAddr, extra: &[&str]) -> SClient {
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect", &addr.to_string()])
            .args(["-servername", "localhost"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl s_client");
        let stdin = child.stdin.take();
        let lines = line_reader(child.stdout.take().expect("stdout"));
        let mut err = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        SClient {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    pub(crate) fn send(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits (at most `limit`) for a stdout line equal to `line`.
    pub(crate) fn wait_for_line(&mut self, line: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l == line;
                    self.seen.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// Sends `line` until it comes back (at most 10 tries, 2 s apart):
    /// s_client reads stdin in chunks and a chunk that starts with a
    /// command letter (`k` right before) is taken whole as the command,
    /// so a line sent right after a command may be swallowed.
    pub(crate) fn send_until_echoed(&mut self, line: &str) -> bool {
        for _ in 0..10 {
            self.send(format!("{line}\n").as_bytes());
            if self.wait_for_line(line, Duration::from_secs(2)) {
                return true;
            }
        }
        false
    }

    /// Closes stdin (s_client then ends the session), waits for the exit
    /// and returns everything it printed, stdout then stderr.
    pub(crate) fn finish(mut self) -> String {
        drop(self.stdin.take());
        wait_bounded(&mut self.child, PROCESS_WAIT).expect("s_client exits after stdin closes");
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(l);
        }
        let mut out = self.seen.join("\n");
        out.push('\n');
        if let Some(t) = self.stderr.take() {
            out.push_str(&String::from_utf8_lossy(&t.join().unwrap_or_default()));
        }
        out
    }
}

impl Drop for SClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `bytes` on a plain TCP connection and reads until the server
/// closes it; returns what the server sent. Fails if it is not closed
/// within [`REFUSAL`].
pub(crate) fn refused(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(REFUSAL)).unwrap();
    s.write_all(bytes).unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Each read returns data, end of stream or an error; a server that
    // sends without end is cut off by the byte bound.
    while got.len() < 1 << 20 {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!(
                "the server kept the connection open for {:?} after {:?}: {e}",
                started.elapsed(),
                String::from_utf8_lossy(bytes)
            ),
        }
    }
    panic!("the server sent more than 1 MiB in answer to a refused input");
}

/// `got` is nothing or TLS alert records (content type 21), never
/// plaintext.
pub(crate) fn only_alerts(got: &[u8]) {
    let mut rest = got;
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "a truncated record: {got:02x?}");
        assert_eq!(rest[0], 21, "not an alert record: {got:02x?}");
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        assert!(rest.len() >= 5 + len, "a truncated alert: {got:02x?}");
        rest = &rest[5 + len..];
    }
}

/// A blocking rustls client on a loopback socket, bounded by a read
/// timeout.
pub(crate) fn rustls_client(
    addr: SocketAddr,
    ca: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let connector = TlsConnector::from_ca_file(ca, "localhost", &[]).unwrap();
    let conn = rustls::ClientConnection::new(
        Arc::clone(connector.config()),
        connector.server_name().clone(),
    )
    .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(STEP)).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// Writes `data` over TLS, then `close_notify` and end of stream, and
/// reads what comes back until the server closes.
pub(crate) fn half_closed_exchange(
    addr: SocketAddr,
    ca: &Path,
    data: &[u8],
) -> std::io::Result<Vec<u8>> {
    let mut c = rustls_client(addr, ca);
    while c.conn.is_handshaking() {
        c.conn.complete_io(&mut c.sock)?;
    }
    c.conn.writer().write_all(data)?;
    c.conn.send_close_notify();
    while c.conn.wants_write() {
        c.conn.write_tls(&mut c.sock)?;
    }
    c.sock.shutdown(std::net::Shutdown::Write)?;
    let mut got = Vec::new();
    c.read_to_end(&mut got)?;
    Ok(got)
}
