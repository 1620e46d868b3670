//! `weft echo` driven over plain TCP sockets.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use support::{Server, STEP};

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s.set_write_timeout(Some(STEP)).unwrap();
    s
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes `data` in pieces of the given sizes (cycled) from a thread while
/// reading `expect.len()` bytes back; returns what came back.
fn exchange(s: &TcpStream, data: Vec<u8>, pieces: &'static [usize], expect: usize) -> Vec<u8> {
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut at = 0;
        for &p in pieces.iter().cycle() {
            if at >= data.len() {
                break;
            }
            let end = (at + p).min(data.len());
            w.write_all(&data[at..end]).unwrap();
            at = end;
        }
    });
    let mut got = vec![0u8; expect];
    let mut r = s.try_clone().unwrap();
    r.read_exact(&mut got).unwrap();
    writer.join().unwrap();
    got
}

#[test]
fn length_framed_messages_come_back_byte_for_byte_however_they_are_split() {
    let server = Server::start(&["echo", "--framing", "length"]);
    let s = connect(&server);
    let mut stream = Vec::new();
    for (i, n) in [0usize, 1, 3, 4, 5, 100, 4096, 65_537, 1 << 20, 7]
        .iter()
        .enumerate()
    {
        stream.extend(frame(&pattern(*n, i as u8)));
    }
    let len = stream.len();
    let got = exchange(&s, stream.clone(), &[1, 2, 3, 5, 8, 13, 4096, 70_000], len);
    assert!(got == stream, "the echoed stream differs");
}

#[test]
fn line_framed_messages_come_back_with_lf_or_crlf() {
    let server = Server::start(&["echo", "--framing", "line"]);
    let s = connect(&server);
    let stream = b"hello\nwindows line\r\n\nlast one split across writes\n".to_vec();
    let len = stream.len();
    let got = exchange(&s, stream.clone(), &[1, 4, 2, 9], len);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&stream)
    );
}

#[test]
fn an_oversized_length_frame_closes_the_connection_without_an_echo() {
    let server = Server::start(&["echo", "--framing", "length", "--max-frame", "1024"]);
    let mut s = connect(&server);
    s.write_all(&frame(b"ok")).unwrap();
    let mut ok = [0u8; 6];
    s.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, &frame(b"ok")[..]);
    // Declares 1 MiB: refused before anything is buffered.
    s.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
    let mut rest = Vec::new();
    let r = s.read_to_end(&mut rest);
    assert!(
        r.is_err() || rest.is_empty(),
        "got {} bytes back",
        rest.len()
    );
}

#[test]
fn an_overlong_line_closes_the_connection() {
    let server = Server::start(&["echo", "--framing", "line", "--max-frame", "16"]);
    let mut s = connect(&server);
    let _ = s.write_all(b"this line is much longer than sixteen bytes\n");
    let mut rest = Vec::new();
    let r = s.read_to_end(&mut rest);
    assert!(
        r.is_err() || rest.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn several_clients_are_echoed_independently() {
    let server = Server::start(&["echo", "--framing", "length"]);
    let threads: Vec<_> = (0..4u8)
        .map(|i| {
            let s = connect(&server);
            std::thread::spawn(move || {
                let mut stream = Vec::new();
                for n in 0..50usize {
                    stream.extend(frame(&pattern(n * 37 + i as usize, i)));
                }
                let len = stream.len();
                let got = exchange(&s, stream.clone(), &[999], len);
                s.shutdown(Shutdown::Write).unwrap();
                got == stream
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap());
    }
}

#[test]
fn with_two_event_loop_threads_every_client_is_echoed() {
    // Two threads, each with its own SO_REUSEPORT listener: the kernel
    // spreads the connections, and each must be served wherever it lands.
    let server = Server::start(&["--threads", "2", "echo", "--framing", "length"]);
    let clients: Vec<_> = (0..8u8)
        .map(|i| {
            let s = connect(&server);
            std::thread::spawn(move || {
                let stream = frame(&pattern(1000 + i as usize, i));
                let len = stream.len();
                let got = exchange(&s, stream.clone(), &[333], len);
                got == stream
            })
        })
        .collect();
    for c in clients {
        assert!(c.join().unwrap());
    }
}

#[test]
fn sigterm_shuts_the_echo_server_down_gracefully() {
    let server = Server::start(&["echo", "--framing", "length"]);
    let s = connect(&server);
    let stream = frame(&pattern(1 << 20, 9));
    let len = stream.len();
    assert!(exchange(&s, stream.clone(), &[4096], len) == stream);
    drop(s);
    let (status, out) = server.terminate();
    assert!(status.success(), "{status:?}");
    // The 1 MiB body went back without a copy; at most the 4-byte header
    // and pieces under the transport's coalescing threshold are copied.
    let copied: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("copied in user space "))
        .and_then(|l| l.strip_suffix(" bytes"))
        .expect("a copy count")
        .parse()
        .unwrap();
    assert!(copied < 4096, "{out}");
}

#[test]
fn a_client_that_starts_reading_late_gets_every_frame_back() {
    // 16 MiB sent before a byte is read: the server stops reading while its
    // outbound buffer is full and must resume once the client drains it.
    let server = Server::start(&["echo", "--framing", "length"]);
    let s = connect(&server);
    let mut stream = Vec::new();
    for i in 0..256usize {
        stream.extend(frame(&pattern(65_536 - 4, i as u8)));
    }
    let len = stream.len();
    let mut w = s.try_clone().unwrap();
    let sent = stream.clone();
    let writer = std::thread::spawn(move || w.write_all(&sent).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut got = vec![0u8; len];
    let mut r = s.try_clone().unwrap();
    r.read_exact(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == stream, "the echoed stream differs");
}
