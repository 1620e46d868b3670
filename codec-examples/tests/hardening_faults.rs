//! Faults against the real servers: peers that reset in the middle of a
//! sendfile body or a writev-heavy answer, half-closes through the proxy,
//! a file truncated while it is being sent, a log broker whose disk fills
//! up, and a broker killed with SIGKILL in the middle of produce. After
//! each, the server is alive, answers the next request correctly, and
//! holds as many descriptors as before.

mod hardening_support;
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::path::Path;
use std::time::Duration;

use hardening_support::*;
use support::{Server, STEP};

fn baseline(s: &Server) -> usize {
    let idle = s.fds();
    drop(s.connect());
    s.settle_fds(idle)
}

fn check_fds(s: &mut Server, want: usize, what: &str) {
    assert!(s.alive(), "{what}: the server died");
    let got = s.settle_fds(want);
    println!("{what}: fds before {want} after {got}");
    assert_eq!(got, want, "{what}: descriptors leaked");
}

fn big_file(dir: &Path, name: &str, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join(name), &data).unwrap();
    data
}

#[test]
fn peer_reset_in_the_middle_of_a_sendfile_body_leaves_the_server_serving() {
    let root = tempfile::tempdir().unwrap();
    big_file(root.path(), "big.bin", 32 << 20);
    std::fs::write(root.path().join("small.txt"), b"small\n").unwrap();
    let mut srv = Server::start_quiet(&["http", "--root", root.path().to_str().unwrap()]);
    let fds = baseline(&srv);
    for _ in 0..5 {
        let mut s = srv.connect();
        s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let (code, head) = http_head(&mut s);
        assert_eq!(code, 200);
        assert_eq!(content_length(&head), 32 << 20);
        let mut part = vec![0u8; 256 << 10];
        s.read_exact(&mut part).unwrap();
        reset_on_drop(&s);
        drop(s);
    }
    assert_eq!(http_get(srv.addr, "/small.txt"), (200, b"small\n".to_vec()));
    check_fds(&mut srv, fds, "http reset during sendfile");
}

#[test]
fn peer_reset_during_a_gathered_write_of_big_frames_leaves_echo_and_resp_serving() {
    // echo: an 8 MiB frame goes back as header + body slices (writev).
    let mut echo = Server::start_quiet(&["echo", "--framing", "length"]);
    let fds = baseline(&echo);
    for _ in 0..3 {
        let mut s = echo.connect();
        let mut msg = (8u32 << 20).to_be_bytes().to_vec();
        msg.extend(std::iter::repeat_n(b'e', 8 << 20));
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || write_lenient(&mut w, &msg));
        let mut part = vec![0u8; 128 << 10];
        s.read_exact(&mut part).unwrap();
        reset_on_drop(&s);
        let _ = s.shutdown(Shutdown::Both);
        drop(s);
        let _ = writer.join();
    }
    echo_length_roundtrip(echo.addr, b"after the resets");
    check_fds(&mut echo, fds, "echo reset during writev");

    // resp: MGET of four 2 MiB values is one gathered answer.
    let mut resp = Server::start_quiet(&["resp"]);
    let fds = baseline(&resp);
    let mut s = resp.connect();
    let value = vec![b'v'; 2 << 20];
    for k in [b"k1", b"k2", b"k3", b"k4"] {
        assert_eq!(
            resp_call(&mut s, &resp_cmd(&[b"SET", k, &value])),
            b"+OK\r\n"
        );
    }
    for _ in 0..3 {
        let mut m = resp.connect();
        m.write_all(&resp_cmd(&[b"MGET", b"k1", b"k2", b"k3", b"k4"]))
            .unwrap();
        let mut part = vec![0u8; 64 << 10];
        m.read_exact(&mut part).unwrap();
        reset_on_drop(&m);
        drop(m);
    }
    let got = resp_call(&mut s, &resp_cmd(&[b"GET", b"k3"]));
    assert_eq!(got.len(), (2 << 20) + b"$2097152\r\n\r\n".len());
    drop(s);
    check_fds(&mut resp, fds, "resp reset during MGET");
}

#[test]
fn half_close_travels_through_the_proxy_in_both_directions() {
    // Client -> server half-close: the echo answers, then both ends close.
    let upstream = Server::start_quiet(&["echo", "--framing", "line"]);
    let up = upstream.addr.to_string();
    let mut proxy = Server::start_quiet(&["proxy", "--upstream", &up]);
    let fds = baseline(&proxy);
    let mut c = proxy.connect();
    c.write_all(b"one\ntwo\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let (back, closed) = read_to_close(&mut c, 1 << 16);
    assert!(closed, "EOF must follow the echoed lines");
    assert_eq!(back, b"one\ntwo\n");
    drop(c);

    // Server -> client half-close: an upstream that says hello, closes its
    // write side, then keeps reading what the client still sends.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let up2 = l.local_addr().unwrap().to_string();
    let helper = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(STEP)).unwrap();
        s.write_all(b"hello").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let mut proxy2 = Server::start_quiet(&["proxy", "--upstream", &up2]);
    let fds2 = baseline_no_probe(&proxy2);
    let mut c = proxy2.connect();
    let mut hello = [0u8; 5];
    c.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    let mut rest = [0u8; 1];
    assert_eq!(
        c.read(&mut rest).unwrap(),
        0,
        "upstream's FIN reaches the client"
    );
    c.write_all(b"late data").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        helper.join().unwrap(),
        b"late data",
        "client -> upstream stays open"
    );
    drop(c);
    check_fds(&mut proxy, fds, "proxy client half-close");
    check_fds(&mut proxy2, fds2, "proxy server half-close");
}

/// The proxy in the second half connects upstream once per client, so its
/// baseline is taken without a probe connection.
fn baseline_no_probe(s: &Server) -> usize {
    s.settle_fds(s.fds())
}

#[test]
fn a_file_truncated_while_sent_gives_a_short_body_and_the_next_request_works() {
    let root = tempfile::tempdir().unwrap();
    let data = big_file(root.path(), "shrink.bin", 32 << 20);
    let mut srv = Server::start_quiet(&["http", "--root", root.path().to_str().unwrap()]);
    let fds = baseline(&srv);
    let mut s = srv.connect();
    s.write_all(b"GET /shrink.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (code, head) = http_head(&mut s);
    assert_eq!(code, 200);
    assert_eq!(content_length(&head), 32 << 20);
    let mut first = vec![0u8; 1 << 20];
    s.read_exact(&mut first).unwrap();
    assert_eq!(first, data[..1 << 20]);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(root.path().join("shrink.bin"))
        .unwrap();
    f.set_len(2 << 20).unwrap();
    drop(f);
    let (rest, closed) = read_to_close(&mut s, 64 << 20);
    assert!(closed, "the connection must close when the file ends early");
    let got = (1 << 20) + rest.len();
    println!("truncated file: {got} of {} bytes arrived", 32 << 20);
    assert!(got < 32 << 20, "the body cannot be complete");
    // What did arrive is the file's bytes (no garbage, no zeros past EOF
    // beyond what the kernel had already queued).
    let n = rest.len().min((2 << 20) - (1 << 20));
    assert_eq!(rest[..n], data[1 << 20..(1 << 20) + n]);
    drop(s);
    assert!(srv.alive(), "SIGBUS or a panic took the server down");
    let (code, body) = http_get(srv.addr, "/shrink.bin");
    assert_eq!(code, 200);
    assert_eq!(body, data[..2 << 20]);
    check_fds(&mut srv, fds, "http truncated file");
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                println!(
                    "SKIPPED: mount tmpfs refused: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                None
            }
            Err(e) => {
                println!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fetches every record from offset 0 to the end: (offset, payload).
fn fetch_all(addr: std::net::SocketAddr) -> Vec<(u64, Vec<u8>)> {
    let mut s = connect(addr);
    let mut out = Vec::new();
    let mut next = 0u64;
    for _ in 0..10_000 {
        s.write_all(&weft_examples::log::protocol::encode_fetch(
            next,
            1 << 20,
            0,
        ))
        .unwrap();
        let (st, body) = log_answer(&mut s);
        if st == 1 {
            break; // past the end (an empty log)
        }
        assert_eq!(st, 0, "fetch {next}: {:?}", String::from_utf8_lossy(&body));
        let log_end = u64::from_be_bytes(body[8..16].try_into().unwrap());
        let mut recs = &body[16..];
        while !recs.is_empty() {
            let off = u64::from_be_bytes(recs[..8].try_into().unwrap());
            let len = u32::from_be_bytes(recs[8..12].try_into().unwrap()) as usize;
            let crc = u32::from_be_bytes(recs[12..16].try_into().unwrap());
            let payload = &recs[16..16 + len];
            let mut c = weft_examples::log::crc::Crc32::new();
            c.update(&recs[..12]);
            c.update(payload);
            assert_eq!(c.finish(), crc, "CRC of record {off}");
            assert_eq!(off, next, "offsets are dense");
            out.push((off, payload.to_vec()));
            next += 1;
            recs = &recs[16 + len..];
        }
        if next >= log_end {
            break;
        }
    }
    out
}

fn record(i: u64) -> Vec<u8> {
    format!("record {i:06} ")
        .repeat(1 + (i % 7) as usize)
        .into_bytes()
}

#[test]
fn a_full_disk_refuses_produce_with_an_error_and_corrupts_no_segment() {
    let Some(fs) = Tmpfs::mount("2m") else { return };
    let dir = fs.dir.path().to_str().unwrap().to_string();
    let srv = Server::start_quiet(&["log", "--dir", &dir, "--segment-bytes", "1048576"]);
    let mut s = srv.connect();
    let mut acked: Vec<Vec<u8>> = Vec::new();
    let mut refused = None;
    for batch in 0..400u64 {
        let recs: Vec<Vec<u8>> = (0..8)
            .map(|i| vec![b'a' + (i as u8); 4096 + batch as usize])
            .collect();
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        let (st, body) = log_produce(&mut s, &refs);
        if st == 0 {
            let first = u64::from_be_bytes(body[..8].try_into().unwrap());
            assert_eq!(first, acked.len() as u64);
            acked.extend(recs);
        } else {
            refused = Some((st, String::from_utf8_lossy(&body).into_owned()));
            break;
        }
    }
    let (st, msg) = refused.expect("2 MiB of tmpfs never filled up");
    println!(
        "full disk: {} records acked, then status {st}: {msg}",
        acked.len()
    );
    assert_eq!(st, 3, "a full disk is a storage error");
    // The broker goes on: what was acknowledged reads back intact.
    let got = fetch_all(srv.addr);
    assert_eq!(got.len(), acked.len(), "acknowledged records");
    for ((_, g), a) in got.iter().zip(&acked) {
        assert_eq!(g, a);
    }
    drop(s);
    // And after a restart on the same full directory, nothing is lost.
    srv.kill9();
    let srv = Server::start_quiet(&["log", "--dir", &dir, "--segment-bytes", "1048576"]);
    let got = fetch_all(srv.addr);
    assert_eq!(got.len(), acked.len(), "after restart");
    assert!(got.iter().zip(&acked).all(|((_, g), a)| g == a));
}

#[test]
fn kill_9_during_produce_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let srv = Server::start_quiet(&["log", "--dir", &d, "--segment-bytes", "262144"]);
    let addr = srv.addr;
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    // A producer that keeps producing batches and reports each ack.
    let producer = std::thread::spawn(move || {
        let mut s = connect(addr);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut next = 0u64;
        for _ in 0..100_000 {
            let recs: Vec<Vec<u8>> = (next..next + 5).map(record).collect();
            let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
            let frame = weft_examples::log::protocol::encode_produce(&refs);
            if s.write_all(&frame).is_err() {
                return;
            }
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).is_err() {
                return;
            }
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            if s.read_exact(&mut body).is_err() {
                return;
            }
            assert_eq!(body[0], 0, "produce refused");
            let first = u64::from_be_bytes(body[1..9].try_into().unwrap());
            assert_eq!(first, next);
            next += 5;
            if tx.send(next).is_err() {
                return;
            }
        }
    });
    // Let it run past a few segment rolls, then SIGKILL mid-stream.
    let mut acked = 0;
    while acked < 3000 {
        acked = rx.recv_timeout(STEP).expect("producer stalled");
    }
    srv.kill9();
    let _ = producer.join();
    while let Ok(n) = rx.try_recv() {
        acked = n;
    }
    let srv = Server::start_quiet(&["log", "--dir", &d, "--segment-bytes", "262144"]);
    let got = fetch_all(srv.addr);
    println!(
        "kill -9: {acked} records acknowledged, {} recovered",
        got.len()
    );
    assert!(got.len() as u64 >= acked, "acknowledged records lost");
    for (off, payload) in &got {
        assert_eq!(payload, &record(*off), "record {off}");
    }
}
