//! Hostile input against the real servers: declared lengths far past what
//! arrives, lines with no end, header bombs, RESP bulk lengths of 2^31 and
//! arrays 10,000 deep, a log fetch past the end, and garbage on every port.
//! Each test checks that the server answers clearly (an error reply, a
//! refused request or a closed connection), that its memory does not grow
//! with what was declared (VmRSS before/after), that a second connection
//! still gets correct answers, and that its descriptors return to where
//! they were.

mod hardening_support;
mod support;

use std::io::{Read, Write};
use std::time::Duration;

use hardening_support::*;
use support::Server;

/// The most a server's RSS may grow during one hostile exchange. The
/// declared sizes below are 512 MiB to 16 EiB; the bytes actually sent are
/// at most a few MiB.
const RSS_SLACK_KIB: u64 = 24 * 1024;

/// Baseline figures of a server, checked again after the attack.
struct Before {
    rss: u64,
    fds: usize,
}

fn before(s: &Server) -> Before {
    // One connection first, so lazily created per-process state (runtime
    // workers, receive chunks) is part of the baseline; then wait until the
    // server has closed it.
    let idle = s.fds();
    drop(s.connect());
    let fds = s.settle_fds(idle);
    Before {
        rss: s.rss_kib(),
        fds,
    }
}

fn after(s: &mut Server, b: &Before, what: &str) {
    assert!(s.alive(), "{what}: the server died");
    let fds = s.settle_fds(b.fds);
    assert_eq!(
        fds, b.fds,
        "{what}: descriptors before {} after {fds}",
        b.fds
    );
    let rss = s.rss_kib();
    println!(
        "{what}: RSS {} KiB -> {rss} KiB, fds {} -> {fds}",
        b.rss, b.fds
    );
    assert!(
        rss < b.rss + RSS_SLACK_KIB,
        "{what}: RSS grew from {} KiB to {rss} KiB",
        b.rss
    );
}

#[test]
fn echo_refuses_a_frame_declared_at_4_gib_without_buffering_it() {
    let mut srv = Server::start_quiet(&["echo", "--framing", "length"]);
    let b = before(&srv);
    let mut other = srv.connect();
    let mut a = srv.connect();
    let mut msg = u32::MAX.to_be_bytes().to_vec();
    msg.extend(std::iter::repeat_n(0xab, 1 << 20));
    write_lenient(&mut a, &msg);
    let (_, closed) = read_to_close(&mut a, 1 << 20);
    assert!(
        closed,
        "a 4 GiB frame over the 16 MiB limit must close the connection"
    );
    // The connection opened before the attack is unaffected.
    other.write_all(b"\x00\x00\x00\x02ok").unwrap();
    let mut back = [0u8; 6];
    other.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"\x00\x00\x00\x02ok");
    drop((a, other));
    echo_length_roundtrip(srv.addr, b"after");
    after(&mut srv, &b, "echo 4 GiB frame");
}

#[test]
fn echo_closes_a_line_with_no_end_past_the_maximum() {
    let mut srv = Server::start_quiet(&["echo", "--framing", "line", "--max-frame", "4096"]);
    let b = before(&srv);
    let mut a = srv.connect();
    write_lenient(&mut a, &vec![b'x'; 2 << 20]);
    let (echoed, closed) = read_to_close(&mut a, 1 << 20);
    assert!(closed, "a line past --max-frame must close the connection");
    assert!(echoed.is_empty(), "part of an over-long line was echoed");
    drop(a);
    echo_line_roundtrip(srv.addr);
    after(&mut srv, &b, "echo endless line");
}

fn http_server() -> (Server, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello.txt"), b"hello, world\n").unwrap();
    let srv = Server::start_quiet(&["http", "--root", root.path().to_str().unwrap()]);
    (srv, root)
}

#[test]
fn http_header_bombs_are_refused_with_431_or_a_close() {
    let (mut srv, _root) = http_server();
    let b = before(&srv);

    // 1. Header lines without end: 4 MiB of them.
    let mut a = srv.connect();
    let mut bomb = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n".to_vec();
    while bomb.len() < 4 << 20 {
        bomb.extend_from_slice(
            b"X-Bomb: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    write_lenient(&mut a, &bomb);
    let (answer, closed) = read_to_close(&mut a, 1 << 16);
    assert!(closed, "the connection must close after a header bomb");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 431"),
        "header bomb answered {text:?}"
    );

    // 2. Many small headers (more than the parser's table) in a short head.
    let mut a = srv.connect();
    let mut many = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..500 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    a.write_all(&many).unwrap();
    let (code, _) = http_head(&mut a);
    assert_eq!(code, 431, "500 headers");
    let (_, closed) = read_to_close(&mut a, 1 << 16);
    assert!(closed);

    // 3. One header line of 1 MiB.
    let mut a = srv.connect();
    let mut long = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Long: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 1 << 20));
    write_lenient(&mut a, &long);
    let (answer, closed) = read_to_close(&mut a, 1 << 16);
    assert!(closed);
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 431"),
        "{text:?}"
    );

    assert_eq!(
        http_get(srv.addr, "/hello.txt"),
        (200, b"hello, world\n".to_vec())
    );
    after(&mut srv, &b, "http header bombs");
}

#[test]
fn http_body_declared_at_u64_max_is_skipped_not_buffered() {
    let (mut srv, _root) = http_server();
    let b = before(&srv);
    let mut a = srv.connect();
    a.write_all(
        b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551615\r\n\r\n",
    )
    .unwrap();
    let (code, head) = http_head(&mut a);
    assert!(
        (400..500).contains(&code) || code == 200,
        "u64::MAX body: answered {head:?}"
    );
    // Whatever the answer, body bytes must not pile up in the server.
    a.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    write_lenient(&mut a, &vec![b'z'; 8 << 20]);
    drop(a);
    let mut a = srv.connect();
    a.write_all(
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    )
    .unwrap();
    let (code, _) = http_head(&mut a);
    assert_eq!(code, 400, "a Content-Length past u64 is a bad request");
    drop(a);
    assert_eq!(http_get(srv.addr, "/hello.txt").0, 200);
    after(&mut srv, &b, "http u64::MAX body");
}

#[test]
fn resp_refuses_a_bulk_length_of_2_pow_31_and_buffers_nothing_for_a_512_mib_one() {
    let mut srv = Server::start_quiet(&["resp"]);
    let b = before(&srv);
    for (request, error) in [
        (
            &b"*2\r\n$3\r\nGET\r\n$2147483648\r\n"[..],
            &b"invalid bulk length"[..],
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$9223372036854775807\r\n",
            b"invalid bulk length",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$18446744073709551616\r\n",
            b"invalid bulk length",
        ),
        (b"*2\r\n$3\r\nGET\r\n$-5\r\n", b"invalid bulk length"),
        (b"*9223372036854775807\r\n", b"invalid multibulk length"),
        (b"*18446744073709551616\r\n", b"invalid multibulk length"),
    ] {
        let mut a = srv.connect();
        a.write_all(request).unwrap();
        let (answer, closed) = read_to_close(&mut a, 1 << 16);
        assert!(closed, "a protocol error closes the connection");
        let mut want = b"-ERR Protocol error: ".to_vec();
        want.extend_from_slice(error);
        want.extend_from_slice(b"\r\n");
        assert_eq!(
            String::from_utf8_lossy(&answer),
            String::from_utf8_lossy(&want),
            "{}",
            String::from_utf8_lossy(request)
        );
    }

    // The largest legal bulk (512 MiB) declared, 2 MiB of it sent: the
    // server holds what arrived, not what was declared.
    let mut a = srv.connect();
    a.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n")
        .unwrap();
    write_lenient(&mut a, &vec![b'v'; 2 << 20]);
    std::thread::sleep(Duration::from_millis(200));
    let mid = srv.rss_kib();
    assert!(
        mid < b.rss + RSS_SLACK_KIB,
        "512 MiB bulk declared: RSS {} -> {mid} KiB",
        b.rss
    );
    resp_ping(srv.addr);
    drop(a);
    after(&mut srv, &b, "resp 2^31 bulk");
}

#[test]
fn resp_arrays_nested_10000_deep_are_a_protocol_error_not_a_stack_overflow() {
    let mut srv = Server::start_quiet(&["resp"]);
    let b = before(&srv);
    let mut a = srv.connect();
    let nested: Vec<u8> = b"*1\r\n".repeat(10_000);
    write_lenient(&mut a, &nested);
    let (answer, closed) = read_to_close(&mut a, 1 << 16);
    assert!(closed);
    assert_eq!(answer, b"-ERR Protocol error: expected '$', got '*'\r\n");
    let mut s = srv.connect();
    assert_eq!(
        resp_call(&mut s, &resp_cmd(&[b"SET", b"k", b"v"])),
        b"+OK\r\n"
    );
    assert_eq!(
        resp_call(&mut s, &resp_cmd(&[b"GET", b"k"])),
        b"$1\r\nv\r\n"
    );
    drop((a, s));
    after(&mut srv, &b, "resp nested arrays");
}

#[test]
fn log_fetch_beyond_the_end_and_a_4_gib_frame_are_answered_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start_quiet(&["log", "--dir", dir.path().to_str().unwrap()]);
    let b = before(&srv);
    let mut s = srv.connect();
    let (st, body) = log_produce(&mut s, &[b"one", b"two"]);
    assert_eq!(st, 0, "produce: {:?}", String::from_utf8_lossy(&body));
    s.write_all(&weft_examples::log::protocol::encode_fetch(
        u64::MAX,
        1 << 20,
        0,
    ))
    .unwrap();
    let (st, msg) = log_answer(&mut s);
    assert_eq!(
        st,
        1,
        "fetch at u64::MAX: {:?}",
        String::from_utf8_lossy(&msg)
    );
    s.write_all(&weft_examples::log::protocol::encode_fetch(3, 1 << 20, 0))
        .unwrap();
    let (st, _) = log_answer(&mut s);
    assert_eq!(st, 1, "fetch one past the end");
    // The connection goes on after a refused fetch.
    s.write_all(&weft_examples::log::protocol::encode_fetch(1, 1 << 20, 0))
        .unwrap();
    let (st, body) = log_answer(&mut s);
    assert_eq!(st, 0);
    assert!(body.ends_with(b"two"), "fetch from 1: {body:?}");

    // A frame declared at 4 GiB: refused (status 2) and closed.
    let mut a = srv.connect();
    a.write_all(&u32::MAX.to_be_bytes()).unwrap();
    write_lenient(&mut a, &[7u8; 1 << 16]);
    let (st, _) = log_answer(&mut a);
    assert_eq!(st, 2);
    let (_, closed) = read_to_close(&mut a, 1 << 16);
    assert!(closed);
    // A record count of 2^32-1 in a 9-byte frame: refused, not allocated.
    s.write_all(b"\x00\x00\x00\x09\x01\xff\xff\xff\xff\xff\xff\xff\xff")
        .unwrap();
    let (st, _) = log_answer(&mut s);
    assert_eq!(st, 2);
    let (st, _) = log_produce(&mut s, &[b"three"]);
    assert_eq!(st, 0);
    drop((a, s));
    after(&mut srv, &b, "log hostile requests");
}

/// Pseudo-random bytes from a fixed seed.
fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Throws 1 MiB of garbage at `srv` on one connection (reading whatever
/// comes back so an echo cannot stall on us), then checks `probe`.
fn garbage_at(srv: &mut Server, what: &str, probe: impl Fn(std::net::SocketAddr)) {
    let b = before(srv);
    for seed in [1u64, 0xdead_beef] {
        let mut a = srv.connect();
        a.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut reader = a.try_clone().unwrap();
        let drain = std::thread::spawn(move || read_to_close(&mut reader, 64 << 20));
        a.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        write_lenient(&mut a, &garbage(1 << 20, seed));
        let _ = a.shutdown(std::net::Shutdown::Both);
        let _ = drain.join();
        drop(a);
        probe(srv.addr);
    }
    after(srv, &b, what);
}

#[test]
fn garbage_on_every_port_leaves_every_server_answering() {
    let (mut http, _root) = http_server();
    garbage_at(&mut http, "http garbage", |a| {
        assert_eq!(http_get(a, "/hello.txt").0, 200)
    });
    let mut echo_len = Server::start_quiet(&["echo", "--framing", "length"]);
    garbage_at(&mut echo_len, "echo length garbage", |a| {
        echo_length_roundtrip(a, b"ok")
    });
    let mut echo_line = Server::start_quiet(&["echo", "--framing", "line"]);
    garbage_at(&mut echo_line, "echo line garbage", echo_line_roundtrip);
    let mut resp = Server::start_quiet(&["resp"]);
    garbage_at(&mut resp, "resp garbage", resp_ping);
    let dir = tempfile::tempdir().unwrap();
    let mut log = Server::start_quiet(&["log", "--dir", dir.path().to_str().unwrap()]);
    garbage_at(&mut log, "log garbage", |a| {
        let mut s = connect(a);
        assert_eq!(log_produce(&mut s, &[b"ok"]).0, 0);
    });
    let upstream = Server::start_quiet(&["echo", "--framing", "line"]);
    let up = upstream.addr.to_string();
    let mut proxy = Server::start_quiet(&["proxy", "--upstream", &up]);
    garbage_at(&mut proxy, "proxy garbage", echo_line_roundtrip);
}
