//! `weft resp` driven by real clients: redis-cli, redis-benchmark, and raw
//! sockets for what those clients never send.
//!
//! redis-tools must be installed (`.ci/run` installs it); a missing client
//! fails the test with a message rather than skipping it.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::Server;

/// Bound on every wait in these tests.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `weft resp` is the shared [`Server`] guard (killed by PID when dropped,
/// also on failure); these are its clients.
impl Server {
    fn start_resp() -> Server {
        Server::start(&["resp"])
    }

    fn port(&self) -> String {
        self.addr.port().to_string()
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s
    }

    /// Runs redis-cli with `args` and returns its stdout, trimmed.
    fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port()]).args(args);
        let out = run_bounded(cmd);
        assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }
}

/// Runs a client to completion, killing it if it outlives [`TIMEOUT`].
fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {cmd:?} ({e}); install redis-tools (apt-get install redis-tools)")
        });
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("{cmd:?} did not finish in {TIMEOUT:?}: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads until the peer closes or `want` bytes have arrived.
fn read_reply(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < want {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read after {} bytes: {e}", out.len()),
        }
    }
    out
}

/// Whether the server closed the connection (EOF, or a reset).
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn redis_cli_string_commands_behave_like_redis() {
    let s = Server::start_resp();
    assert_eq!(s.cli(&["PING"]), "PONG");
    assert_eq!(s.cli(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(s.cli(&["GET", "greeting"]), "hello");
    assert_eq!(s.cli(&["APPEND", "greeting", " world"]), "11");
    assert_eq!(s.cli(&["STRLEN", "greeting"]), "11");
    assert_eq!(s.cli(&["GET", "nope"]), "");
    assert_eq!(s.cli(&["SET", "greeting", "x", "NX"]), "");
    assert_eq!(s.cli(&["SET", "other", "x", "XX"]), "");
    assert_eq!(s.cli(&["INCR", "n"]), "1");
    assert_eq!(s.cli(&["INCRBY", "n", "41"]), "42");
    assert_eq!(s.cli(&["DECR", "n"]), "41");
    assert_eq!(
        s.cli(&["INCR", "greeting"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(s.cli(&["MSET", "a", "1", "b", "2"]), "OK");
    assert_eq!(s.cli(&["MGET", "a", "nope", "b"]), "1\n\n2");
    assert_eq!(s.cli(&["EXISTS", "a", "b", "nope"]), "2");
    assert_eq!(s.cli(&["TTL", "a"]), "-1");
    assert_eq!(s.cli(&["TTL", "nope"]), "-2");
    assert_eq!(s.cli(&["EXPIRE", "a", "100"]), "1");
    // TTL rounds to the nearest second; a slow machine may have spent a
    // half second between the two commands.
    let ttl: i64 = s.cli(&["TTL", "a"]).parse().unwrap();
    assert!((95..=100).contains(&ttl), "{ttl}");
    assert_eq!(s.cli(&["SET", "p", "v", "PX", "50000"]), "OK");
    let pttl: i64 = s.cli(&["PTTL", "p"]).parse().unwrap();
    assert!((1..=50_000).contains(&pttl), "{pttl}");
    assert_eq!(s.cli(&["SET", "gone", "v", "PX", "1"]), "OK");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(s.cli(&["GET", "gone"]), "");
    assert_eq!(s.cli(&["DEL", "a", "b", "nope"]), "2");
    assert_eq!(s.cli(&["ECHO", "hi there"]), "hi there");
    assert_eq!(
        s.cli(&["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        s.cli(&["NOSUCH", "x"]),
        "ERR unknown command 'NOSUCH', with args beginning with: 'x'"
    );
    assert_eq!(s.cli(&["CONFIG", "GET", "appendonly"]), "appendonly\nno");
    assert_eq!(s.cli(&["DBSIZE"]), "3"); // greeting, n, p
    assert_eq!(s.cli(&["FLUSHALL"]), "OK");
    assert_eq!(s.cli(&["DBSIZE"]), "0");
}

#[test]
fn the_background_sweep_removes_expired_keys_nobody_reads() {
    let s = Server::start_resp();
    for i in 0..50 {
        assert_eq!(s.cli(&["SET", &format!("k{i}"), "v", "PX", "1"]), "OK");
    }
    assert_eq!(s.cli(&["SET", "stays", "v"]), "OK");
    let start = Instant::now();
    while s.cli(&["DBSIZE"]) != "1" {
        assert!(start.elapsed() < TIMEOUT, "expired keys were never swept");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn inline_commands_over_raw_tcp_are_answered_in_order() {
    let s = Server::start_resp();
    let mut c = s.connect();
    c.write_all(b"PING\r\nSET k \"two words\"\r\nGET k\r\nincr  n \n\r\nEXISTS k n\r\nQUIT\r\n")
        .unwrap();
    let out = read_reply(&mut c, usize::MAX);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "+PONG\r\n+OK\r\n$9\r\ntwo words\r\n:1\r\n:2\r\n+OK\r\n"
    );
}

#[test]
fn a_thousand_pipelined_requests_in_one_write_come_back_in_order() {
    let s = Server::start_resp();
    let mut c = s.connect();
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 1..=1000 {
        req.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n");
        want.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    c.write_all(&req).unwrap();
    assert_eq!(read_reply(&mut c, want.len()), want);
}

#[test]
fn a_large_value_split_across_many_reads_round_trips() {
    let s = Server::start_resp();
    let mut c = s.connect();
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut req = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", value.len()).into_bytes();
    req.extend_from_slice(&value);
    req.extend_from_slice(b"\r\nGET big\r\n");
    // Written in small pieces so the value arrives in many reads.
    for piece in req.chunks(7919) {
        c.write_all(piece).unwrap();
    }
    let mut want = b"+OK\r\n".to_vec();
    want.extend_from_slice(format!("${}\r\n", value.len()).as_bytes());
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n");
    assert!(
        read_reply(&mut c, want.len()) == want,
        "GET returned other bytes"
    );
}

#[test]
fn protocol_errors_answer_like_redis_and_close_only_that_connection() {
    let s = Server::start_resp();
    let mut bystander = s.connect();
    bystander.write_all(b"SET survivor yes\r\n").unwrap();
    assert_eq!(read_reply(&mut bystander, 5), b"+OK\r\n");

    let cases: [(&[u8], &str); 5] = [
        (
            b"*1\r\n$2147483648\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*-x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"SET k \"open\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, want) in cases {
        let mut c = s.connect();
        c.write_all(input).unwrap();
        let got = read_reply(&mut c, want.len());
        assert_eq!(String::from_utf8_lossy(&got), want, "input {input:?}");
        assert!(
            closed_by_server(&mut c),
            "input {input:?} left the connection open"
        );
    }

    // 10,000 nested arrays: one error, no stack to overflow.
    let mut c = s.connect();
    // The server may close before reading it all; a failed write is fine.
    let _ = c.write_all(&b"*1\r\n".repeat(10_000));
    let want = "-ERR Protocol error: expected '$', got '*'\r\n";
    assert_eq!(
        String::from_utf8_lossy(&read_reply(&mut c, want.len())),
        want
    );
    assert!(closed_by_server(&mut c));

    // Binary garbage without a line end, one byte past the 64 KiB inline
    // limit (so the server has read all of it when it answers).
    let mut c = s.connect();
    let garbage: Vec<u8> = (0..65_537u32).map(|i| (i % 200) as u8 + 14).collect();
    let _ = c.write_all(&garbage);
    let want = "-ERR Protocol error: too big inline request\r\n";
    assert_eq!(
        String::from_utf8_lossy(&read_reply(&mut c, want.len())),
        want
    );

    // Command errors keep the connection.
    let mut c = s.connect();
    c.write_all(b"GET\r\nPING\r\n").unwrap();
    let want = "-ERR wrong number of arguments for 'get' command\r\n+PONG\r\n";
    assert_eq!(
        String::from_utf8_lossy(&read_reply(&mut c, want.len())),
        want
    );

    // The first connection never noticed.
    bystander.write_all(b"GET survivor\r\n").unwrap();
    assert_eq!(read_reply(&mut bystander, 9), b"$3\r\nyes\r\n");
    assert_eq!(s.cli(&["PING"]), "PONG");
}

#[test]
fn redis_benchmark_runs_pipelined_and_its_keys_are_all_there() {
    let s = Server::start_resp();
    let port = s.port();
    let mut cmd = Command::new("redis-benchmark");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "ping,set,get",
        "-n",
        "20000",
        "-P",
        "16",
        "-q",
    ]);
    let out = run_bounded(cmd);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "redis-benchmark failed: {out:?}");
    // Its start-up CONFIG GET save / appendonly were answered.
    let all = text.clone() + &String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains("WARNING") && !all.contains("ERR"), "{all}");
    for test in ["PING_INLINE", "PING_MBULK", "SET", "GET"] {
        let line = text
            .split(['\r', '\n'])
            .filter(|l| l.trim_start().starts_with(&format!("{test}: ")))
            .find(|l| l.contains("requests per second"))
            .unwrap_or_else(|| panic!("no result for {test} in {text:?}"));
        let rps: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no figure in {line:?}"));
        assert!(rps > 0.0, "{line}");
    }
    // Without -r every SET writes the one key `key:__rand_int__`.
    assert_eq!(s.cli(&["DBSIZE"]), "1");

    // 20,000 SETs over 1,000 random keys: missing one has odds of about
    // 1000 * e^-20, so every key is there.
    assert_eq!(s.cli(&["FLUSHALL"]), "OK");
    let mut cmd = Command::new("redis-benchmark");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "set",
        "-n",
        "20000",
        "-r",
        "1000",
        "-P",
        "16",
        "-q",
    ]);
    let out = run_bounded(cmd);
    assert!(out.status.success(), "redis-benchmark failed: {out:?}");
    assert_eq!(s.cli(&["DBSIZE"]), "1000");
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    let s = Server::start_resp();
    assert_eq!(s.cli(&["PING"]), "PONG");
    let (status, _) = s.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn info_counts_the_connections_and_names_the_port() {
    let server = Server::start_resp();
    let _other = server.connect();
    // Wait (bounded) until both connections are counted.
    let deadline = Instant::now() + TIMEOUT;
    let info = loop {
        let info = server.cli(&["INFO", "clients", "server"]);
        if info.contains("connected_clients:2") || Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(info.contains("connected_clients:2"), "{info}");
    assert!(
        info.contains(&format!("tcp_port:{}", server.port())),
        "{info}"
    );
    assert!(
        info.contains(&format!("process_id:{}", server.pid)),
        "{info}"
    );
}

#[test]
fn client_list_shows_every_connection_with_its_name_and_address() {
    let server = Server::start_resp();
    let mut named = server.connect();
    named
        .write_all(b"CLIENT SETNAME worker-7\r\nPING\r\n")
        .expect("write");
    assert_eq!(read_reply(&mut named, 12), b"+OK\r\n+PONG\r\n");
    let list = server.cli(&["CLIENT", "LIST"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    let worker = lines
        .iter()
        .find(|l| l.contains(" name=worker-7 "))
        .unwrap_or_else(|| panic!("no worker-7 line in {list}"));
    let addr = named.local_addr().expect("local addr");
    assert!(worker.contains(&format!(" addr={addr} ")), "{worker}");
    assert!(worker.contains(" cmd=ping "), "{worker}");
    let me = lines
        .iter()
        .find(|l| !l.contains("worker-7"))
        .expect("redis-cli's own line");
    assert!(me.contains(" cmd=client|list "), "{me}");
}
