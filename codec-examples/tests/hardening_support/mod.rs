//! Shared by the hardening and load tests, next to `support` (which starts
//! the real `weft` binary and reads its RSS and descriptors): small
//! blocking protocol clients with timeouts, and process limits.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use crate::support::{Server, STEP};

impl Server {
    /// A connection with read and write timeouts.
    pub(crate) fn connect(&self) -> TcpStream {
        connect(self.addr)
    }
}

/// A blocking connection with bounded reads and writes.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, STEP).expect("connect");
    s.set_read_timeout(Some(STEP)).unwrap();
    s.set_write_timeout(Some(STEP)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until the peer closes (or resets) or `limit` bytes; true if the
/// connection ended (EOF or reset) rather than timing out.
pub(crate) fn read_to_close(s: &mut TcpStream, limit: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() >= limit {
                    return (out, false);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Writes as much of `data` as the peer takes; stops quietly at a reset or
/// a closed pipe (a server that refuses input may close mid-write).
pub(crate) fn write_lenient(s: &mut TcpStream, data: &[u8]) -> usize {
    let mut done = 0;
    while done < data.len() {
        match s.write(&data[done..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    done
}

/// Sets SO_LINGER to 0 so dropping the socket sends a RST.
pub(crate) fn reset_on_drop(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on an open socket with a correctly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
}

/// Raises this process's RLIMIT_NOFILE: the hard limit to `want` when
/// allowed (root), the soft one to the hard one. Children inherit it.
/// Returns the soft limit now in force.
pub(crate) fn raise_nofile(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        if r.rlim_max < want {
            let up = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &up);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur
    }
}

/// CPU time (user + system) the process `pid` has used, in clock ticks.
pub(crate) fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

// ---- protocol probes: "the server still answers correctly" ----

/// echo --framing length: one frame round trip.
pub(crate) fn echo_length_roundtrip(addr: SocketAddr, body: &[u8]) {
    let mut s = connect(addr);
    let mut msg = (body.len() as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(body);
    s.write_all(&msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).expect("echo answer");
    assert_eq!(back, msg);
}

/// echo --framing line: one line round trip.
pub(crate) fn echo_line_roundtrip(addr: SocketAddr) {
    let mut s = connect(addr);
    s.write_all(b"still here\n").unwrap();
    let mut back = [0u8; 11];
    s.read_exact(&mut back).expect("echo line answer");
    assert_eq!(&back, b"still here\n");
}

/// Reads one HTTP response head and returns (status code, head text).
pub(crate) fn http_head(s: &mut TcpStream) -> (u16, String) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut b).expect("response head");
        assert!(
            n == 1,
            "closed inside a response head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(b[0]);
        assert!(head.len() < 16384, "response head too long");
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let code = text[9..12].parse().expect("status code");
    (code, text)
}

/// The Content-Length of a response head.
pub(crate) fn content_length(head: &str) -> u64 {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .expect("content-length")
}

/// GET `path` on a fresh connection; returns (status, body).
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let mut s = connect(addr);
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let (code, head) = http_head(&mut s);
    let mut body = vec![0u8; content_length(&head) as usize];
    s.read_exact(&mut body).expect("body");
    (code, body)
}

/// RESP: sends `cmd` (already encoded) and reads one reply line (+ a bulk
/// body if `$n`).
pub(crate) fn resp_call(s: &mut TcpStream, cmd: &[u8]) -> Vec<u8> {
    s.write_all(cmd).unwrap();
    resp_reply(s)
}

/// Reads one simple or bulk RESP reply.
pub(crate) fn resp_reply(s: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        let n = s.read(&mut b).expect("resp reply");
        assert_eq!(
            n,
            1,
            "closed inside a reply: {:?}",
            String::from_utf8_lossy(&line)
        );
        line.push(b[0]);
    }
    if line[0] == b'$' {
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        if n >= 0 {
            let mut body = vec![0u8; n as usize + 2];
            s.read_exact(&mut body).unwrap();
            line.extend_from_slice(&body);
        }
    }
    line
}

/// Encodes a RESP multibulk command.
pub(crate) fn resp_cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// PING on a fresh connection answers +PONG.
pub(crate) fn resp_ping(addr: SocketAddr) {
    let mut s = connect(addr);
    assert_eq!(resp_call(&mut s, b"PING\r\n"), b"+PONG\r\n");
}

/// Reads one log-protocol answer frame: (status, body).
pub(crate) fn log_answer(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("log answer length");
    let len = u32::from_be_bytes(len) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("log answer body");
    (body[0], body[1..].to_vec())
}

/// Produce `records` on `s`; returns (status, body).
pub(crate) fn log_produce(s: &mut TcpStream, records: &[&[u8]]) -> (u8, Vec<u8>) {
    s.write_all(&weft_examples::log::protocol::encode_produce(records))
        .unwrap();
    log_answer(s)
}

/// A temporary directory under `base` (or the default tmp).
pub(crate) fn tempdir_in(base: Option<&Path>) -> tempfile::TempDir {
    match base {
        Some(b) => tempfile::tempdir_in(b).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}
