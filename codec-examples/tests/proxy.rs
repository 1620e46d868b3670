//! `weft proxy` between a plain TCP client and a TCP echo upstream.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;

use support::{Server, STEP};

const EIGHT_MIB: usize = 8 << 20;

/// An upstream that echoes every byte and half-closes when its peer does.
fn echo_upstream() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(STEP)).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = s.shutdown(Shutdown::Write);
    });
    (addr, t)
}

fn pattern(n: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

fn relays_eight_mib_each_way_and_half_close(mode: &str) {
    let (up, up_thread) = echo_upstream();
    let up = up.to_string();
    let server = Server::start(&["proxy", "--upstream", &up, "--mode", mode]);
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    let data = pattern(EIGHT_MIB);
    let mut w = s.try_clone().unwrap();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        for chunk in sent.chunks(100_003) {
            w.write_all(chunk).unwrap();
        }
        // Half-close: the upstream must see EOF and still answer.
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::with_capacity(EIGHT_MIB);
    let mut r = s.try_clone().unwrap();
    r.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    up_thread.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the relayed bytes differ");
    drop(s);
    let (status, out) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        out.contains(&format!("client->upstream {EIGHT_MIB} bytes")),
        "{out}"
    );
    assert!(
        out.contains(&format!("upstream->client {EIGHT_MIB} bytes")),
        "{out}"
    );
}

#[test]
fn splice_mode_relays_eight_mib_each_way_and_half_close() {
    relays_eight_mib_each_way_and_half_close("splice");
}

#[test]
fn copy_mode_relays_eight_mib_each_way_and_half_close() {
    relays_eight_mib_each_way_and_half_close("copy");
}

#[test]
fn an_upstream_that_half_closes_first_still_receives_the_client_bytes() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = l.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    let up_thread = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(STEP)).unwrap();
        s.write_all(b"greeting").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        tx.send(got).unwrap();
    });
    let server = Server::start(&["proxy", "--upstream", &up]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    let mut greeting = Vec::new();
    s.read_to_end(&mut greeting).unwrap();
    assert_eq!(greeting, b"greeting");
    // Our read side is at EOF; the write side still works.
    s.write_all(b"after the upstream's FIN").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let got = rx.recv_timeout(STEP).unwrap();
    assert_eq!(got, b"after the upstream's FIN");
    up_thread.join().unwrap();
}

/// A client that has relayed some bytes and keeps its connection open,
/// idle, when the proxy is told to stop.
fn a_relay_open_at_shutdown_is_counted(mode: &str) {
    let (up, up_thread) = echo_upstream();
    let up = up.to_string();
    let server = Server::start(&["proxy", "--upstream", &up, "--mode", mode]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    let data = pattern(100_000);
    s.write_all(&data).unwrap();
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, data);

    // Still open and idle: the proxy waits out its grace period, then
    // ends the relay and counts its bytes.
    let (status, out) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(out.contains("client->upstream 100000 bytes\n"), "{out}");
    assert!(out.contains("upstream->client 100000 bytes\n"), "{out}");
    // The client was half-closed, not reset: it reads the end of the stream.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    drop(s);
    up_thread.join().unwrap();
}

#[test]
fn a_splice_relay_still_open_at_shutdown_is_in_the_totals() {
    a_relay_open_at_shutdown_is_counted("splice");
}

#[test]
fn a_copy_relay_still_open_at_shutdown_is_in_the_totals() {
    a_relay_open_at_shutdown_is_counted("copy");
}

#[test]
fn an_unreachable_upstream_closes_the_client() {
    // Bind then drop: nothing listens on this port any more.
    let up = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let up = up.to_string();
    let server = Server::start(&["proxy", "--upstream", &up]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    let mut got = Vec::new();
    let r = s.read_to_end(&mut got);
    assert!(r.is_err() || got.is_empty());
}

#[test]
fn redis_cli_works_through_the_proxy_to_weft_resp() {
    if std::process::Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_err()
    {
        println!(
            "SKIPPED redis_cli_works_through_the_proxy_to_weft_resp: redis-cli is not installed"
        );
        return;
    }
    let resp = Server::start(&["resp"]);
    let up = resp.addr.to_string();
    let proxy = Server::start(&["proxy", "--upstream", &up]);
    let port = proxy.addr.port().to_string();
    let cli = |args: &[&str]| {
        let out = support::run(
            std::process::Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port])
                .args(args),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(cli(&["set", "greeting", "through the proxy"]), "OK");
    assert_eq!(cli(&["get", "greeting"]), "through the proxy");
    assert_eq!(cli(&["incrby", "n", "41"]), "41");
    let (status, out) = proxy.terminate();
    assert!(status.success(), "{status:?}");
    assert!(out.contains("copied in user space 0 bytes"), "{out}");
}
