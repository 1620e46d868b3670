//! A slow open does not stop the event loop: `weft http` on one thread,
//! a request whose open is held in the blocking pool, and another
//! connection served meanwhile.
//!
//! The stand-in for a slow file system is [`FileRoot`]'s test hook, which
//! runs inside the open itself (where `openat2` runs) and waits for the
//! test to release it. A FIFO is no stand-in: files are opened with
//! `O_NONBLOCK`, so opening one returns at once, and it is refused (404)
//! as not a regular file; the test asks for one too. Counts and order
//! only; every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weft_pipeline::codec::ByteToMessageDecoder;
use weft_transport::ServerBuilder;

use super::resolve::OpenHook;
use super::{FileRoot, HttpDecoder, HttpHandler};

/// Upper bound of every wait in this test (a failure, not a timing).
const BOUND: Duration = Duration::from_secs(20);

/// One client connection and the bytes it has read but not yet parsed
/// (pipelined answers can arrive in one segment).
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn get(addr: SocketAddr, path: &str) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut c = Client { s, buf: Vec::new() };
        c.send(path);
        c
    }

    fn send(&mut self, path: &str) {
        write!(self.s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.s.read(&mut chunk).expect("an answer within the bound");
        assert!(n > 0, "closed before the answer");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Reads one response: (status, body).
    fn response(&mut self) -> (u16, Vec<u8>) {
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            self.fill();
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status = head[9..12].parse().unwrap();
        let len: usize = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        while self.buf.len() < head_end + len {
            self.fill();
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        self.buf.drain(..head_end + len);
        (status, body)
    }

    /// Nothing has arrived (and nothing is buffered) yet.
    fn nothing_to_read(&mut self) -> bool {
        self.s.set_nonblocking(true).unwrap();
        let r = self.s.read(&mut [0u8; 1]);
        self.s.set_nonblocking(false).unwrap();
        self.buf.is_empty() && matches!(r, Err(e) if e.kind() == ErrorKind::WouldBlock)
    }
}

fn a_slow_open_holds_only_its_own_connection(cache_entries: usize) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("small.txt"), b"small").unwrap();
    std::fs::write(dir.path().join("slow.txt"), b"slow").unwrap();
    let fifo = std::ffi::CString::new(dir.path().join("pipe").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path, alive for the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);

    let (entered, in_open) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let (entered, released) = (Mutex::new(entered), Mutex::new(released));
    let mut root = FileRoot::open(dir.path()).unwrap();
    root.open_file_cache(cache_entries, Duration::from_secs(60));
    root.open_hook = Some(OpenHook(Arc::new(move |rel: &Path| {
        if rel == Path::new("slow.txt") {
            entered.lock().unwrap().send(()).unwrap();
            let _ = released.lock().unwrap().recv_timeout(BOUND);
        }
    })));
    let root = Arc::new(root);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(async {
            ServerBuilder::new()
                .threads(1)
                .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
                    p.handlers()
                        .add_last("decoder", ByteToMessageDecoder::new(HttpDecoder::new()))?
                        .add_last("files", HttpHandler::with_root(root.clone()))?;
                    Ok(())
                })
        })
        .unwrap();
    let addr = server.local_addr().unwrap();

    // Connection A asks for the slow file: its open starts and is held.
    let mut a = Client::get(addr, "/slow.txt");
    in_open.recv_timeout(BOUND).expect("the slow open started");

    // Connection B, on the same (only) event-loop thread, is served
    // meanwhile: a file, a FIFO refused without blocking, a file again.
    let mut b = Client::get(addr, "/small.txt");
    assert_eq!(b.response(), (200, b"small".to_vec()));
    b.send("/pipe");
    assert_eq!(b.response().0, 404);
    b.send("/small.txt");
    assert_eq!(b.response(), (200, b"small".to_vec()));

    // A pipelines a second request behind the held one: nothing yet.
    a.send("/small.txt");
    assert!(a.nothing_to_read(), "A is answered only after its open");

    // Released: A's answers come in request order, and the server serves on.
    release.send(()).unwrap();
    assert_eq!(a.response(), (200, b"slow".to_vec()));
    assert_eq!(a.response(), (200, b"small".to_vec()));
    let mut c = Client::get(addr, "/small.txt");
    assert_eq!(c.response(), (200, b"small".to_vec()));

    rt.block_on(server.shutdown(Duration::from_secs(1)))
        .unwrap();
}

#[test]
fn a_slow_open_holds_only_its_own_connection_with_the_open_file_cache() {
    a_slow_open_holds_only_its_own_connection(100);
}

#[test]
fn a_slow_open_holds_only_its_own_connection_without_the_cache() {
    a_slow_open_holds_only_its_own_connection(0);
}
