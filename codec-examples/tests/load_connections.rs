//! Load on the real servers: 10,000 concurrent connections held and all
//! served; 1,000 readers that never read while the server writes (RSS must
//! stay bounded by the write watermarks, not by what the peers sent);
//! slowloris closed by the HTTP header timeout; running out of descriptors
//! makes accept back off (no spinning, no exit); and the servers raise
//! their own soft RLIMIT_NOFILE to the hard limit.

mod hardening_support;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use hardening_support::*;
use support::{Server, STEP};

const CONNECTIONS: usize = 10_000;

fn limits_line(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string()
}

#[test]
fn servers_raise_their_soft_nofile_limit_to_the_hard_limit() {
    let bin = env!("CARGO_BIN_EXE_weft");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["echo", "--framing", "line"],
        vec!["http", "--root", d],
        vec!["resp"],
        vec!["log", "--dir", d],
        vec!["proxy", "--upstream", "127.0.0.1:9"],
    ] {
        let mut cmd = Command::new("prlimit");
        cmd.args(["--nofile=256:4096", bin])
            .stderr(std::process::Stdio::null());
        let srv = Server::start_cmd(cmd, &args);
        let line = limits_line(srv.pid);
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((f[3], f[4]), ("4096", "4096"), "{}: {line}", args[0]);
    }
}

#[test]
fn ten_thousand_concurrent_connections_are_all_held_and_served() {
    let limit = raise_nofile(65_536);
    if limit < (CONNECTIONS + 200) as u64 {
        println!(
            "SKIPPED: RLIMIT_NOFILE is {limit}, need {}",
            CONNECTIONS + 200
        );
        return;
    }
    let mut srv = Server::start_quiet(&["echo", "--framing", "line"]);
    let base_fds = srv.settle_fds(srv.fds());
    let base_rss = srv.rss_kib();
    let mut conns: Vec<TcpStream> = Vec::with_capacity(CONNECTIONS);
    let deadline = Instant::now() + Duration::from_secs(120);
    while conns.len() < CONNECTIONS {
        assert!(
            Instant::now() < deadline,
            "only {} connections in time",
            conns.len()
        );
        match TcpStream::connect_timeout(&srv.addr, STEP) {
            Ok(s) => conns.push(s),
            // A full accept queue: let the server catch up.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    // Every connection is held by the server at once.
    let held = loop {
        let n = srv.fds().saturating_sub(base_fds);
        if n >= CONNECTIONS || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("connections held by the server: {held}");
    assert!(held >= CONNECTIONS, "server holds {held} of {CONNECTIONS}");
    // Each one is served: one line out, the same line back.
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(STEP)).unwrap();
        writeln!(c, "{i:05}").unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let mut back = [0u8; 6];
        c.read_exact(&mut back)
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(back, *format!("{i:05}\n").as_bytes());
    }
    let rss = srv.rss_kib();
    println!(
        "10,000 connections: RSS {base_rss} KiB -> {rss} KiB ({} bytes per connection)",
        (rss.saturating_sub(base_rss) * 1024) / CONNECTIONS as u64
    );
    drop(conns);
    let fds = srv.settle_fds(base_fds);
    println!("fds before {base_fds} after {fds}");
    assert_eq!(fds, base_fds, "descriptors left after every client closed");
    assert!(srv.alive());
}

#[test]
fn a_thousand_readers_that_never_read_keep_the_server_rss_bounded() {
    let limit = raise_nofile(65_536);
    assert!(limit > 2_500, "RLIMIT_NOFILE {limit}");
    let srv = Server::start_quiet(&["echo", "--framing", "length"]);
    let base = srv.rss_kib();
    let base_fds = srv.settle_fds(srv.fds());
    // Each reader sends frames of 64 KiB that the server echoes back into a
    // socket nobody reads, as long as the kernel takes them.
    let mut frame = (64u32 << 10).to_be_bytes().to_vec();
    frame.extend(std::iter::repeat_n(b's', 64 << 10));
    let mut conns: Vec<(TcpStream, usize)> = (0..1000)
        .map(|_| {
            let s = connect(srv.addr);
            s.set_nonblocking(true).unwrap();
            (s, 0)
        })
        .collect();
    let per_conn = 4 << 20; // at most 4 MiB offered per reader
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rounds = 0;
    loop {
        let mut progress = 0;
        for (s, sent) in conns.iter_mut() {
            while *sent < per_conn {
                let off = *sent % frame.len();
                match s.write(&frame[off..]) {
                    Ok(n) => {
                        *sent += n;
                        progress += n;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("write: {e}"),
                }
            }
        }
        rounds += 1;
        if progress == 0 && rounds > 3 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent: usize = conns.iter().map(|(_, n)| n).sum();
    std::thread::sleep(Duration::from_millis(300));
    let rss = srv.rss_kib();
    let grew = rss.saturating_sub(base);
    println!(
        "1,000 readers that never read: {} MiB sent to the server, RSS {base} KiB -> {rss} KiB (+{} KiB, {} KiB per connection)",
        sent >> 20,
        grew,
        grew / 1000
    );
    // Unbounded queuing would hold everything sent beyond the kernel's
    // buffers; the watermarks stop reading at 64 KiB queued per connection.
    assert!(
        grew < 1000 * 512,
        "RSS grew {grew} KiB for 1,000 stalled readers"
    );
    assert!(
        (grew as usize) * 1024 < sent / 2,
        "RSS grew {grew} KiB, near the {sent} bytes sent: no backpressure"
    );
    // Another client is still served.
    echo_length_roundtrip(srv.addr, b"not starved");
    drop(conns);
    assert_eq!(srv.settle_fds(base_fds), base_fds);
}

#[test]
fn slowloris_connections_are_closed_by_the_header_timeout() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), b"a\n").unwrap();
    let mut srv = Server::start_quiet(&[
        "http",
        "--root",
        root.path().to_str().unwrap(),
        "--header-timeout",
        "2",
    ]);
    let base_fds = srv.settle_fds(srv.fds());
    let mut lorises: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = connect(srv.addr);
            s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let start = Instant::now();
    let mut closed = vec![false; lorises.len()];
    // One header byte per connection every 250 ms, never the blank line.
    while closed.iter().any(|c| !c) && start.elapsed() < Duration::from_secs(15) {
        for (s, done) in lorises.iter_mut().zip(closed.iter_mut()) {
            if *done {
                continue;
            }
            let _ = s.write(b"X");
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => *done = true,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    assert!(text.starts_with("HTTP/1.1 408"), "slowloris got {text:?}");
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => *done = true,
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let n = closed.iter().filter(|c| **c).count();
    println!("slowloris: {n} of 50 closed after {:?}", start.elapsed());
    assert_eq!(n, 50, "trickling connections outlived the header timeout");
    assert_eq!(http_get(srv.addr, "/a.txt"), (200, b"a\n".to_vec()));
    drop(lorises);
    assert_eq!(srv.settle_fds(base_fds), base_fds);
    assert!(srv.alive());
}

/// Sets the soft RLIMIT_NOFILE of process `pid`, keeping its hard limit.
fn set_soft_nofile(pid: i32, soft: u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit(2) with a null new limit only reads into `old`.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(rc, 0, "prlimit read: {}", std::io::Error::last_os_error());
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: prlimit(2) with a valid new limit and no old one.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit set: {}", std::io::Error::last_os_error());
}

#[test]
fn running_out_of_descriptors_makes_accept_back_off_without_spinning_or_dying() {
    raise_nofile(65_536);
    let mut srv = Server::start_quiet(&["echo", "--framing", "line"]);
    let base_fds = srv.settle_fds(srv.fds());
    let line = limits_line(srv.pid);
    let hard: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    // Leave the server room for 20 more descriptors only (soft limit).
    let cap = base_fds + 20;
    set_soft_nofile(srv.pid, cap as u64);
    // 100 clients: the kernel completes their handshakes (backlog), the
    // server can accept only ~20 of them.
    let mut clients: Vec<TcpStream> = (0..100).map(|_| connect(srv.addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let t0 = cpu_ticks(srv.pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(srv.pid) - t0;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    println!("EMFILE for 2 s: server used {used} ticks of CPU ({hz} per second)");
    assert!(used < hz / 2, "accept spins on EMFILE: {used} ticks in 2 s");
    assert!(srv.alive(), "the server died of EMFILE");
    let held = srv.fds();
    println!("EMFILE: server holds {held} descriptors under a cap of {cap}");
    assert!(
        held < base_fds + 100,
        "{held} descriptors: the cap did not bite, EMFILE was not exercised"
    );
    // Give the room back; the queued clients get accepted and served.
    set_soft_nofile(srv.pid, hard);
    for (i, c) in clients.iter_mut().enumerate() {
        writeln!(c, "{i:03}").unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back)
            .unwrap_or_else(|e| panic!("client {i} never served after EMFILE: {e}"));
        assert_eq!(back, *format!("{i:03}\n").as_bytes());
    }
    drop(clients);
    assert_eq!(srv.settle_fds(base_fds), base_fds);
}
